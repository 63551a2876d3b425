//! The pipeline of one invocation, and the one place its report is made.
//!
//! spec → source → engine → image → probe → plan → runs → compare / explain
//! / verify. Each stage returns its result; [`run`] keeps them as they come
//! ([`Stages`]) and [`assemble`] turns them into the published
//! [`Report`], so a failed stage still leaves what the earlier ones
//! returned. [`perform`] chains what follows a report: `check --explain`
//! explains on the check's results, `verify` attests its verdict.

use crate::attest;
use crate::compare::{self, Comparison};
use crate::engine::EngineInfo;
use crate::errors::*;
use crate::explain::{self, Explanation};
use crate::factors::FactorId;
use crate::image::pin::{self, PinRecord};
pub use crate::invocation::{CheckOptions, Mode};
use crate::plan::{self, FactorSummary};
use crate::report::{
    self, EngineReport, FactorsReport, ImageReport, Report, SourceReport, SpecInfo, Verdict,
};
use crate::results::ResultsDir;
use crate::run::{failures_among, CompletedRun};
use crate::sbom;
use crate::session::{self, Session};
use crate::source::{self, SourceInfo};
use crate::spec::{self, Spec};
use crate::verify::{self, Verification};
use std::path::{Path, PathBuf};

/// What an invocation does after its report: the subcommand's whole job.
pub enum Job {
    /// `check`; with `explain`, then `explain` on the same results when it differs.
    Check {
        /// `--explain`.
        explain: bool,
    },
    /// `explain`.
    Explain,
    /// `verify`, then the attestations of its verdict.
    Verify(Box<attest::Attestation>),
}

/// What one invocation left: its report (written to `out`), and what came
/// after it.
pub struct Finished {
    /// The report as written to `OUT/report.json`.
    pub report: Report,
    /// The results directory.
    pub out: PathBuf,
    /// `check --explain`: the explanation of the check's differences.
    pub explained: Option<Box<Finished>>,
    /// `verify`: the attestation files written.
    pub attestations: Vec<PathBuf>,
}

/// Runs `job` on the spec at `spec_file`.
pub async fn perform(spec_file: &Path, options: &CheckOptions, job: &Job) -> Result<Finished> {
    match job {
        Job::Check { explain } => {
            // Traced when explained after: its runs are explain's first
            // builds, and explain follows a difference through the traces.
            let traced = CheckOptions { trace: options.trace || *explain, ..options.clone() };
            let ran = run_mode(spec_file, &traced, Mode::Check, None).await?;
            let differs = ran.finished.report.verdict == Verdict::Unreproducible;
            let mut finished = ran.finished;
            if *explain && differs {
                // The check's control and all-factor runs are explain's first builds.
                let options = CheckOptions { out: Some(finished.out.join("explain")), ..options.clone() };
                let earlier =
                    explain::Earlier { runs: &ran.runs, varied: ran.varied.as_deref(), out: &finished.out };
                let explained = run_mode(spec_file, &options, Mode::Explain, Some(earlier)).await?;
                finished.explained = Some(Box::new(explained.finished));
            }
            Ok(finished)
        }
        Job::Explain => Ok(run_mode(spec_file, options, Mode::Explain, None).await?.finished),
        Job::Verify(attestation) => {
            let ran = run_mode(spec_file, options, Mode::Verify, None).await?;
            let mut finished = ran.finished;
            if finished.report.error.is_none() {
                let (report, out) = (&finished.report, &finished.out);
                let built_on =
                    attest::BuiltOn { source: ran.source.as_ref(), toolchain: ran.toolchain.as_ref() };
                finished.attestations =
                    attest::write(&ran.spec, report, built_on, &ran.report_sha256, out, attestation)?;
            }
            Ok(finished)
        }
    }
}

/// Runs `mode` alone on the spec at `spec_file`: the report (also written
/// to `OUT/report.json`) and the results directory.
pub async fn run(spec_file: &Path, options: &CheckOptions, mode: Mode) -> Result<(Report, PathBuf)> {
    let finished = run_mode(spec_file, options, mode, None).await?.finished;
    Ok((finished.report, finished.out))
}

/// What the stages returned so far.
#[derive(Default)]
struct Stages {
    source: Option<SourceInfo>,
    source_removed: bool,
    image: PinRecord,
    toolchain: Option<sbom::Inventory>,
    sbom: Option<sbom::Written>,
    engine: Option<EngineInfo>,
    factors: Option<FactorSummary>,
    runs: Vec<CompletedRun>,
    comparison: Option<Comparison>,
    explanation: Option<Explanation>,
    verification: Option<Verification>,
    verdict: Option<Verdict>,
}

/// One invocation run: what it published, and what chaining needs of it.
struct Ran {
    finished: Finished,
    spec: Spec,
    runs: Vec<CompletedRun>,
    varied: Option<Vec<FactorId>>,
    source: Option<SourceInfo>,
    toolchain: Option<sbom::Inventory>,
    report_sha256: String,
}

/// The parts of the report known before any stage runs.
struct Header {
    run_id: String,
    started_at: String,
    spec: SpecInfo,
}

/// Loads the spec, claims the results directory, runs `mode`, and writes
/// `OUT/report.json` whatever happens after the spec was read.
async fn run_mode(
    spec_file: &Path,
    options: &CheckOptions,
    mode: Mode,
    earlier: Option<explain::Earlier<'_>>,
) -> Result<Ran> {
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
    let header = Header {
        run_id: new_run_id(),
        started_at: report::now_rfc3339(),
        spec: SpecInfo {
            path: spec_file.display().to_string(),
            name: spec.name.clone(),
            sha256: spec.sha256.to_string(),
        },
    };
    let mut stages = Stages {
        image: PinRecord {
            digest: spec.image.digest.clone(),
            name: spec.image.name.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcome = stages_of(&spec, options, &out, mode, earlier, &header.run_id, &mut stages).await;
    if !options.keep_source {
        stages.source_removed = remove_unpacked_source(&out);
    }
    if let Some(toolchain) = &stages.toolchain {
        // The SBOM matters less than the report: a failure to write it is a warning.
        match sbom::write(toolchain, results.path(), &header.started_at) {
            Ok(written) => stages.sbom = Some(written),
            Err(e) => crate::errln!("warning: the toolchain's SBOM was not written: {e:#}"),
        }
    }
    let report = assemble(header, &stages, outcome.err().map(|e| format!("{e:#}")));
    let report_sha256 = report.write(results.path())?;
    let varied = stages.factors.take().map(|f| f.varied);
    Ok(Ran {
        finished: Finished { report, out, explained: None, attestations: Vec::new() },
        spec,
        runs: stages.runs,
        varied,
        source: stages.source,
        toolchain: stages.toolchain,
        report_sha256,
    })
}

/// Runs the stages of `mode` in order, keeping each result in `stages`.
async fn stages_of(
    spec: &Spec,
    options: &CheckOptions,
    out: &Path,
    mode: Mode,
    earlier: Option<explain::Earlier<'_>>,
    run_id: &str,
    stages: &mut Stages,
) -> Result<()> {
    // Git, tarball and dsc sources are unpacked beside the runs (kept with --keep-source).
    let exclude: Vec<PathBuf> =
        std::iter::once(out.to_path_buf()).chain(options.exclude.iter().cloned()).collect();
    let source = source::prepare(spec, &out.join(UNPACKED_SOURCE), &exclude)?;
    stages.source = Some(source.info.clone());
    let runs = match mode {
        Mode::Check => options.runs.unwrap_or(spec.check.runs),
        Mode::Explain => 2,
        Mode::Verify => options.runs.unwrap_or(1),
    };
    ensure!(runs >= 1, "--runs must be at least 1");
    ensure!(mode != Mode::Check || runs >= 2, "--runs must be at least 2 to compare anything");
    // What verify compares with is checked before anything is built.
    let expectations = match mode {
        Mode::Verify => verify::expectations(spec, &options.expect_files)?,
        _ => Vec::new(),
    };
    let handle = session::connect(&options.engine, run_id, &options.progress).await?;
    stages.engine = Some(handle.engine.info().clone());
    let request = pin::PinRequest {
        build_missing: options.build_missing,
        locked: options.locked,
        require_pin: mode == Mode::Verify,
        command: mode.command(),
        images_dir: options.images_dir.as_deref(),
        quiet: options.progress.is_quiet(),
    };
    let image_id = {
        // One resolution at a time in this process (a batch shares the lock):
        // specs that share a recipe build its image once and never write its lock together.
        let _resolving = options.image_resolution.lock().await;
        pin::resolve(handle.engine.as_ref(), spec, request, &mut stages.image).await?
    };
    tracing::info!("image: {image_id}");
    stages.toolchain = sbom::gather(handle.engine.as_ref(), &stages.image, run_id).await;
    let requested = requested_factors(spec, options, mode, runs);
    let scratch = session::scratch_dir(run_id)?;
    // Probed even when nothing is varied: every run takes every factor's
    // control value, and some (ASLR off) depend on what the image allows.
    let facts = session::probe(handle.engine.as_ref(), &image_id, run_id, &requested, scratch.path()).await?;
    let mut plan = plan::plan(spec, &source, &image_id, run_id, runs, requested, &facts);
    // Explain always traces: it names the step where each difference
    // entered the build (crate::trace::propagation).
    if options.trace || mode == Mode::Explain {
        plan.trace_every_run();
    }
    stages.factors = Some(plan.factors.clone());
    tracing::info!("varied: {}", crate::factors::names(&plan.factors.varied).join(", "));
    let mut session = Session::new(handle, plan, &facts, &source, out, options, scratch)?;
    if mode != Mode::Check {
        session.stagger_clocks();
    }
    match mode {
        Mode::Check => {
            options.progress.note(&format!(
                "reprocheck: run {run_id}: {runs} builds of {} on image {}",
                spec.name,
                &image_id[..image_id.len().min(19)]
            ));
            let plans = session.plan.runs.clone();
            stages.runs = session.run_batch(plans).await?;
            if let Some(failure) = failures_among(&stages.runs, out) {
                let control_built = stages.runs.first().is_some_and(|r| r.result.failure().is_none());
                if control_built && !session.plan.factors.varied.is_empty() {
                    bail!(
                        "{failure}\nThe control built, so a varied factor makes the build fail: \
                         `reprocheck explain {}` names it.",
                        spec.file.display()
                    );
                }
                bail!(failure);
            }
            let (context, interrupt) = (spec.diff_context(), session.interrupt());
            let mut comparison =
                compare::compare_runs(&stages.runs, out, options, &context, interrupt).await?;
            if session.plan.factors.varied.iter().any(|f| f.name() == "time") {
                comparison.clock = compare::clock_in_outputs(
                    &stages.runs,
                    out,
                    facts.utc_offsets,
                    i64::try_from(source.newest_mtime).unwrap_or(i64::MAX),
                    match context.budget {
                        0 => crate::diff::budget::DEFAULT_BUDGET,
                        bytes => bytes,
                    },
                )
                .await?;
                comparison.reproducible &= comparison.clock.is_empty();
                let unread: Vec<String> = stages
                    .runs
                    .iter()
                    .filter(|r| r.result.window.is_none())
                    .map(|r| r.index().to_string())
                    .collect();
                if !unread.is_empty() {
                    options.progress.note(&format!(
                        "warning: the engine did not say when run(s) {} ran: the time factor could not read the \
                         build's clock from their outputs, only differences between the runs",
                        unread.join(", ")
                    ));
                }
            }
            stages.verdict =
                Some(if comparison.reproducible { Verdict::Reproducible } else { Verdict::Unreproducible });
            stages.comparison = Some(comparison);
        }
        Mode::Explain => {
            let explained = explain::explain(&mut session, spec, options, earlier).await;
            stages.runs = explained.runs;
            let explanation = explained.explanation?;
            stages.verdict =
                Some(if explanation.differs() { Verdict::Unreproducible } else { Verdict::Reproducible });
            stages.explanation = Some(explanation);
        }
        Mode::Verify => {
            let verified = verify::verify(&mut session, spec, options, &expectations).await;
            stages.runs = verified.runs;
            let verified = verified.outcome?;
            stages.verdict = Some(verified.verdict);
            stages.comparison = verified.comparison;
            stages.verification = Some(verified.verification);
        }
    }
    Ok(())
}

/// The factors asked for: `--vary`, else the spec's `check.vary`, else
/// all; none for a single `verify` build (the control alone).
fn requested_factors(spec: &Spec, options: &CheckOptions, mode: Mode, runs: u32) -> Vec<FactorId> {
    if mode == Mode::Verify && runs == 1 {
        return Vec::new();
    }
    options.vary.clone().or_else(|| spec.check.vary.clone()).unwrap_or_else(|| FactorId::all().collect())
}

/// The report, from the header, what the stages returned and the error
/// that stopped them (if any): the one place a [`Report`] is made.
fn assemble(header: Header, stages: &Stages, error: Option<String>) -> Report {
    let verdict = match (&error, stages.verdict) {
        (None, Some(verdict)) => verdict,
        _ => Verdict::Error,
    };
    Report {
        schema: report::SCHEMA,
        tool: Default::default(),
        run_id: header.run_id,
        started_at: header.started_at,
        finished_at: report::now_rfc3339(),
        verdict,
        error,
        spec: header.spec,
        image: ImageReport::from(&stages.image),
        sbom: stages.sbom.as_ref().map(report::SbomReport::from),
        engine: stages.engine.as_ref().map(EngineReport::from),
        source: stages.source.as_ref().map(|s| SourceReport::new(s, stages.source_removed)),
        factors: stages.factors.as_ref().map(FactorsReport::from),
        runs: stages.runs.iter().map(report::RunReport::from).collect(),
        comparison: stages.comparison.clone(),
        explanation: stages.explanation.clone(),
        verification: stages.verification.clone(),
    }
}

/// Where a git, tarball or dsc source is unpacked in the results directory.
const UNPACKED_SOURCE: &str = "source";

/// Removes `OUT/source`, the unpacked copy of the source: results
/// directories do not duplicate sources unless `--keep-source` asks. Whether
/// it was removed; a failure to remove it is a warning, the results stand.
fn remove_unpacked_source(out: &Path) -> bool {
    let tree = out.join(UNPACKED_SOURCE);
    if tree.symlink_metadata().is_err() {
        return false;
    }
    match std::fs::remove_dir_all(&tree) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("could not remove the unpacked source {}: {e}", tree.display());
            false
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
