//! `reprocheck check`: the whole pipeline for one spec.
//!
//! spec → image → plan → runs in containers → collect → compare → report.

use crate::compare;
use crate::diff;
use crate::errors::*;
use crate::report::{self, ImageReport, Report, SpecInfo, Verdict};
use crate::results::ResultsDir;
use crate::session::Session;
use crate::source::{self, PreparedSource};
use crate::spec::{self, Spec};
use std::path::{Path, PathBuf};

/// Options of `reprocheck check`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Overrides `check.runs`.
    pub runs: Option<u32>,
    /// Overrides `check.vary`.
    pub vary: Option<Vec<String>>,
    /// Concurrent runs; default: the number of CPUs.
    pub jobs: Option<usize>,
    /// Results directory; default `reprocheck-out/<name>`.
    pub out: Option<PathBuf>,
    /// Build the pinned image from its recipe when the engine lacks it.
    pub build_missing: bool,
    /// Never create or change a pin or a package lock.
    pub locked: bool,
    /// Also run diffoscope on each differing output, when installed.
    pub diffoscope: bool,
    /// `verify --expect-file PATH=FILE`: reference artifacts by output path.
    pub expect_files: Vec<(String, PathBuf)>,
    /// What the terminal shows while the builds run.
    pub progress: crate::progress::Progress,
    /// Whether the spec may name host files outside its directory.
    pub host_paths: spec::HostPaths,
    /// The engine the builds run on.
    pub engine: crate::engine::Connector,
}

/// Runs the check and writes `OUT/report.json`. Returns the report (with
/// verdict `error` when the pipeline failed) and where it was written.
pub async fn check(spec_file: &Path, options: &CheckOptions) -> Result<(Report, PathBuf)> {
    run(spec_file, options, Mode::Check).await
}

/// One invocation's inputs, as every pipeline (check, explain, verify) takes them.
#[derive(Clone, Copy)]
pub struct Invocation<'a> {
    /// The loaded spec.
    pub spec: &'a Spec,
    /// Its source, prepared and verified.
    pub source: &'a PreparedSource,
    /// The command line's options.
    pub options: &'a CheckOptions,
    /// The claimed results directory.
    pub out: &'a Path,
    /// Which pipeline runs.
    pub mode: Mode,
    /// Runs of an earlier check that `explain` may reuse.
    pub earlier: Option<crate::explain::Earlier<'a>>,
}

/// What an invocation does once the spec is loaded and its results
/// directory claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Build N times and compare.
    Check,
    /// Find which factors cause the differences.
    Explain,
    /// Rebuild and compare with the published digests.
    Verify,
}

impl Mode {
    /// The subcommand that runs this mode.
    pub fn command(self) -> &'static str {
        match self {
            Mode::Check => "check",
            Mode::Explain => "explain",
            Mode::Verify => "verify",
        }
    }
}

/// Loads the spec, claims the results directory, runs `mode`, and writes
/// `OUT/report.json` whatever happens after the spec was read.
pub async fn run(spec_file: &Path, options: &CheckOptions, mode: Mode) -> Result<(Report, PathBuf)> {
    run_after(spec_file, options, mode, None).await
}

/// [`run`], reusing the runs of an earlier check where the mode can
/// (`check --explain`: explain starts from the check's control and
/// all-factor runs).
pub async fn run_after(
    spec_file: &Path,
    options: &CheckOptions,
    mode: Mode,
    earlier: Option<crate::explain::Earlier<'_>>,
) -> Result<(Report, PathBuf)> {
    let spec = spec::load(spec_file, options.host_paths)?;
    let default_name = match mode {
        Mode::Check => spec.name.clone(),
        Mode::Explain => format!("{}-explain", spec.name),
        Mode::Verify => format!("{}-verify", spec.name),
    };
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::results::DEFAULT_RESULTS_ROOT).join(default_name));
    let mut keep_safe = spec.source.origin.local_paths();
    keep_safe.push(spec_file);
    let results = ResultsDir::claim(&out, &keep_safe)?;
    let mut report = Report {
        schema: report::SCHEMA,
        tool: Default::default(),
        run_id: new_run_id(),
        started_at: report::now_rfc3339(),
        finished_at: String::new(),
        verdict: Verdict::Error,
        error: None,
        spec: SpecInfo {
            path: spec_file.display().to_string(),
            name: spec.name.clone(),
            sha256: spec.sha256.clone(),
        },
        image: ImageReport {
            digest: spec.image.digest.as_ref().map(|d| d.to_string()),
            name: spec.image.name.clone(),
            ..Default::default()
        },
        engine: None,
        source: None,
        factors: None,
        runs: Vec::new(),
        comparison: None,
        explanation: None,
        verification: None,
    };
    let outcome = async {
        // Git and tarball sources are unpacked beside the runs, for inspection.
        let source = source::prepare(&spec, &out.join("source"), std::slice::from_ref(&out))?;
        report.source = Some(source.info.clone());
        let invocation = Invocation { spec: &spec, source: &source, options, out: &out, mode, earlier };
        match mode {
            Mode::Check => pipeline(invocation, &mut report).await,
            Mode::Explain => crate::explain::pipeline(invocation, &mut report).await,
            Mode::Verify => crate::verify::pipeline(invocation, &mut report).await,
        }
    }
    .await;
    if let Err(e) = outcome {
        report.verdict = Verdict::Error;
        report.error = Some(format!("{e:#}"));
    }
    report.finished_at = report::now_rfc3339();
    report.write(results.path())?;
    Ok((report, out))
}

async fn pipeline(invocation: Invocation<'_>, report: &mut Report) -> Result<()> {
    let Invocation { spec, options, out, .. } = invocation;
    let runs = options.runs.unwrap_or(spec.check.runs);
    ensure!(runs >= 2, "--runs must be at least 2 to compare anything");
    let mut session = Session::open(invocation, runs, report).await?;
    // The run id names every container's label: print it so leftovers can be found.
    options.progress.note(&format!(
        "reprocheck: run {}: {runs} builds of {} on image {}",
        report.run_id,
        spec.name,
        &session.plan.image_id[..session.plan.image_id.len().min(19)]
    ));
    let runs = session.plan.runs.clone();
    report.runs = session.run_batch(runs).await?;
    if let Some(failure) = report.failures(out) {
        bail!(failure);
    }
    let comparison = compare_runs(report, out, options, spec.limits.diff_bytes).await?;
    report.verdict = if comparison.reproducible { Verdict::Reproducible } else { Verdict::Unreproducible };
    report.comparison = Some(comparison);
    Ok(())
}

/// Compares the report's runs, with a structured diff (and diffoscope, when
/// asked) for each differing output; each diff may decompress `diff_budget`
/// bytes (`limits.diff_size`). SIGINT or SIGTERM stops it between outputs
/// (and a diff in progress at its next read).
pub async fn compare_runs(
    report: &Report,
    out: &Path,
    options: &CheckOptions,
    diff_budget: u64,
) -> Result<compare::Comparison> {
    let results: Vec<_> = report.runs.iter().map(|r| r.result.clone()).collect();
    let mut comparison = compare::compare(&results);
    if !comparison.differences.is_empty() {
        options
            .progress
            .note(&format!("reprocheck: {} output(s) differ; comparing them", comparison.differences.len()));
    }
    for difference in comparison.differences.iter_mut() {
        crate::cleanup::check().context("comparing the outputs")?;
        difference.diff = diff_first_two(report, out, difference, diff_budget);
        if let (true, Some(d)) = (options.diffoscope, &difference.diff) {
            let file = |i: u32| out.join(crate::results::outputs_dir(i)).join(&difference.path);
            let (a, b) = (file(d.runs.0), file(d.runs.1));
            difference.diffoscope = Some(diff::diffoscope::run(out, &difference.path, &a, &b).await);
        }
    }
    crate::cleanup::check().context("comparing the outputs")?;
    Ok(comparison)
}

/// The structured diff between the first runs of the first two variants.
fn diff_first_two(
    report: &Report,
    out: &Path,
    difference: &compare::Difference,
    budget: u64,
) -> Option<diff::FileDiff> {
    let [first, second, ..] = difference.variants.as_slice() else { return None };
    let (a, b) = (first.runs[0], second.runs[0]);
    let run = |i: u32| report.runs.iter().find(|r| r.result.index == i);
    let (run_a, run_b) = (run(a)?, run(b)?);
    let context = diff::DiffContext {
        build_dirs: (run_a.environment.build_dir.clone(), run_b.environment.build_dir.clone()),
        budget,
    };
    let file = |r: &crate::report::RunReport| out.join(&r.result.outputs_dir).join(&difference.path);
    match diff::diff_files(&difference.path, (a, b), &file(run_a), &file(run_b), &context) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!("no structured diff for {}: {e:#}", difference.path);
            None
        }
    }
}

/// A short unique id: time and pid, hashed.
fn new_run_id() -> String {
    use sha2::{Digest as _, Sha256};
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{nanos}-{}", std::process::id());
    hex::encode(&Sha256::digest(seed.as_bytes())[..6])
}
