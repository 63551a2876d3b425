//! `check`, `explain` and `verify` over many specs: one line per finished
//! spec while they run, then the table, `OUT/summary.json` and
//! `OUT/index.html`, and the worst exit code.

use super::Terminal;
use crate::cli::BuildArgs;
use crate::exit_codes;
use reprocheck::batch::{self, Outcome, Slot};
use reprocheck::check::{self, CheckOptions, Job};
use reprocheck::errors::*;
use reprocheck::progress::Progress;
use reprocheck::style;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Runs `job` over every spec `build` names.
pub async fn run(
    build: &BuildArgs,
    terminal: &Terminal,
    options: CheckOptions,
    job: Job,
) -> Result<ExitCode> {
    Ok(run_with(build, terminal, options, job, Vec::new()).await?.0)
}

/// Runs `job` over every spec `build` names; `settled` are outcomes
/// decided before any build (targets `rebuild` could not infer), listed
/// first in the summary. Returns the exit code and every outcome.
pub async fn run_with(
    build: &BuildArgs,
    terminal: &Terminal,
    options: CheckOptions,
    job: Job,
    settled: Vec<Outcome>,
) -> Result<(ExitCode, Vec<Outcome>)> {
    let specs = batch::expand(&build.specs)?;
    let root = build.out.clone().unwrap_or_else(|| PathBuf::from(reprocheck::results::DEFAULT_RESULTS_ROOT));
    refuse_foreign_index(&root)?;
    let slots = batch::assign(&specs, &root, build.host_paths())?;
    let jobs = options.jobs_or_cpus();
    let total = slots.len();
    if !terminal.progress.is_quiet() {
        reprocheck::errln!("reprocheck: {} specs, {jobs} build(s) at once across them", total);
    }
    let options = CheckOptions {
        // One line per spec instead of each spec's own progress.
        progress: Progress::for_terminal(true, false, false),
        build_slots: Some(batch::BuildSlots::new(jobs)),
        // Other specs' results appear there while a path source is read.
        exclude: vec![root.clone()],
        ..options
    };
    let (options, job) = (&options, &job);
    let announce = |finished: usize, outcome: &Outcome| {
        if !terminal.progress.is_quiet() {
            let line = format!(
                "[{finished}/{total}] {:<14} {} ({:.1} s)",
                batch::verdict_word(outcome.verdict),
                outcome.spec.display(),
                outcome.seconds
            );
            reprocheck::errln!("{}", style::without_controls(&line));
        }
    };
    let run_one = |slot: Slot| async move { one(slot, options, job).await };
    let mut outcomes = settled;
    outcomes.extend(batch::run_pool(slots, jobs, run_one, announce).await);
    let written = batch::write_summary(&root, &outcomes)?;
    let worst = batch::worst(&outcomes);
    let table = format!("{}index: {}\n", batch::table(&outcomes), written.index.display());
    if build.json {
        reprocheck::out!("{}", written.json);
        reprocheck::err!("{table}");
    } else {
        reprocheck::out!("{table}");
    }
    Ok((exit_codes::of_verdict(worst), outcomes))
}

/// One spec of the batch; never fails (an error is its outcome).
async fn one(slot: Slot, options: &CheckOptions, job: &Job) -> Outcome {
    let started = Instant::now();
    let out = match &slot.out {
        Ok(out) => out.clone(),
        Err(error) => return Outcome::of_error(&slot, error, 0.0),
    };
    if let Some(signal) = reprocheck::cleanup::signal() {
        return Outcome::of_error(&slot, &format!("not run: interrupted by {signal}"), 0.0);
    }
    let options = CheckOptions { out: Some(out.clone()), ..options.clone() };
    let spec = slot.spec.as_path();
    let finished = check::perform(spec, &options, job).await;
    let seconds = started.elapsed().as_secs_f64();
    match finished {
        Ok(f) => {
            let explained = f.explained.as_ref().map(|e| &e.report);
            Outcome::of_report(&slot, &f.report, explained, &f.out, seconds)
        }
        Err(e) => Outcome::of_error(&slot, &format!("{e:#}"), seconds),
    }
}

/// The batch writes `index.html` and `summary.json` into its root: never
/// over an `index.html` that is not a batch's (no `summary.json` beside it).
fn refuse_foreign_index(root: &Path) -> Result<()> {
    ensure!(
        !root.join("index.html").exists() || root.join("summary.json").exists(),
        "refusing to write the batch summary into {}: it holds an index.html that reprocheck did not write\n\
         help: choose another --out directory",
        root.display()
    );
    Ok(())
}
