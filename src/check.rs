//! `reprocheck check`: the whole pipeline for one spec.
//!
//! spec → image → plan → runs in containers → collect → compare → report.

use crate::compare;
use crate::errors::*;
pub use crate::invocation::{CheckOptions, Invocation, Mode};
use crate::report::{self, ImageReport, Report, SpecInfo, Verdict};
use crate::results::ResultsDir;
use crate::session::Session;
use crate::source;
use crate::spec;
use std::path::{Path, PathBuf};

/// Runs the check and writes `OUT/report.json`. Returns the report (with
/// verdict `error` when the pipeline failed) and where it was written.
pub async fn check(spec_file: &Path, options: &CheckOptions) -> Result<(Report, PathBuf)> {
    run(spec_file, options, Mode::Check).await
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
        // Git, tarball and dsc sources are unpacked beside the runs (kept with --keep-source).
        let exclude: Vec<PathBuf> =
            std::iter::once(out.clone()).chain(options.exclude.iter().cloned()).collect();
        let source = source::prepare(&spec, &out.join(UNPACKED_SOURCE), &exclude)?;
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
    if !options.keep_source {
        remove_unpacked_source(&out, &mut report);
    }
    report.finished_at = report::now_rfc3339();
    report.write(results.path())?;
    Ok((report, out))
}

/// Where a git, tarball or dsc source is unpacked in the results directory.
const UNPACKED_SOURCE: &str = "source";

/// Removes `OUT/source`, the unpacked copy of the source: results
/// directories do not duplicate sources unless `--keep-source` asks. A
/// failure to remove it is a warning; the results stand.
fn remove_unpacked_source(out: &Path, report: &mut Report) {
    let tree = out.join(UNPACKED_SOURCE);
    if tree.symlink_metadata().is_err() {
        return;
    }
    match std::fs::remove_dir_all(&tree) {
        Ok(()) => {
            if let Some(source) = &mut report.source {
                source.removed = true;
            }
        }
        Err(e) => tracing::warn!("could not remove the unpacked source {}: {e}", tree.display()),
    }
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
        let control_built = report.runs.first().is_some_and(|r| r.result.failure().is_none());
        if control_built && !session.plan.factors.varied.is_empty() {
            bail!(
                "{failure}\nThe control built, so a varied factor makes the build fail: \
                 `reprocheck explain {}` names it.",
                spec.file.display()
            );
        }
        bail!(failure);
    }
    let comparison = compare::compare_runs(report, out, options, &spec.diff_context()).await?;
    report.verdict = if comparison.reproducible { Verdict::Reproducible } else { Verdict::Unreproducible };
    report.comparison = Some(comparison);
    Ok(())
}

/// A short unique id: time and pid, hashed.
fn new_run_id() -> String {
    use sha2::{Digest as _, Sha256};
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{nanos}-{}", std::process::id());
    hex::encode(&Sha256::digest(seed.as_bytes())[..6])
}
