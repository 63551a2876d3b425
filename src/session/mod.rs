//! The runner of one invocation's builds, and the stages that set it up:
//! [`connect`] (the engine handle), [`probe`] (what the host and image can
//! do) and [`Session::new`] (scratch files, preloads, concurrency). `check`,
//! `explain` and `verify` all run their builds through [`Session::run_batch`].

mod connect;
mod probe;

pub use connect::{connect, sweep_after_panic, EngineHandle};
pub use probe::probe;

use crate::engine;
use crate::errors::*;
use crate::factors::host;
use crate::factors::HostFacts;
use crate::invocation::CheckOptions;
use crate::mounts::{self, BuildMount};
use crate::plan::{Plan, RunPlan};
use crate::progress::{factor_label, Progress};
use crate::run::{self, CompletedRun};
use crate::source::{self, Packing, PreparedSource};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The scratch directory of run `run_id`'s mount files; the run id in its
/// name tells whose mounts are whose.
pub fn scratch_dir(run_id: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&mounts::scratch_prefix(run_id))
        .tempdir()
        .context("creating a scratch directory for mount files")
}

/// An open session. Dropping it unmounts its mounts, then removes its scratch
/// directory, then lets the engine handle go (fields drop in declaration order).
pub struct Session<'a> {
    source: &'a PreparedSource,
    /// The plan: which factors vary, and the runs of a plain check.
    pub plan: Plan,
    out: PathBuf,
    jobs: usize,
    /// Shared with the other specs of a batch.
    build_slots: Option<crate::batch::BuildSlots>,
    progress: Progress,
    mounts: Vec<BuildMount>,
    /// The host's libfaketime, read once, for runs that shift the clock.
    faketime_lib: Option<Arc<[u8]>>,
    scratch: tempfile::TempDir,
    /// Keeps runs with different clocks apart at their start.
    start_gate: run::StartGate,
    failpoints: crate::cleanup::Failpoints,
    handle: EngineHandle,
}

impl<'a> Session<'a> {
    /// The runner of `plan` on `handle`'s engine, storing results in `out`.
    pub fn new(
        handle: EngineHandle,
        plan: Plan,
        facts: &HostFacts,
        source: &'a PreparedSource,
        out: &Path,
        options: &CheckOptions,
        scratch: tempfile::TempDir,
    ) -> Result<Session<'a>> {
        let faketime_lib = match (&facts.faketime_lib, facts.faketime_works) {
            (Some(lib), true) => Some(host::read_libfaketime(lib)?),
            _ => None,
        };
        Ok(Session {
            source,
            plan,
            out: out.to_path_buf(),
            jobs: options.jobs_or_cpus(),
            build_slots: options.build_slots.clone(),
            progress: options.progress.clone(),
            mounts: Vec::new(),
            faketime_lib,
            scratch,
            start_gate: run::StartGate::default(),
            failpoints: options.failpoints.clone(),
            handle,
        })
    }

    /// Runs `runs` concurrently (up to `--jobs`), stores each under
    /// `run-N/`, and returns their reports in run order. Fails, leaving no
    /// container behind, when a run fails, times out, or a signal arrives.
    pub async fn run_batch(&mut self, mut runs: Vec<RunPlan>) -> Result<Vec<CompletedRun>> {
        let mut tars = Vec::new();
        let mut host_dirs = Vec::new();
        for run in runs.iter_mut() {
            let packing = self.packing(run);
            let dir = self.prepare(run)?;
            if run.settings.host_build_dir {
                host_dirs.push((dir.join("build"), packing.clone(), run.settings.disorderfs));
            }
            // A host build directory holds the tree already; the upload brings its parents.
            tars.push(Packing { tree: !run.settings.host_build_dir, ..packing });
        }
        let mounts = match host_dirs.is_empty() {
            true => Vec::new(),
            // Disk-bound copies, off the async workers; a signal stops the wait.
            false => {
                let jobs = self.jobs;
                let copying = tokio::task::spawn_blocking(move || host_build_dirs(host_dirs, jobs));
                tokio::select! {
                    copied = copying => copied.context("copying the source into the build directories")??,
                    signal = self.handle.shutdown.recv() => bail!("interrupted by {signal} while copying the source"),
                }
            }
        };
        for (run, mount) in runs.iter_mut().filter(|run| run.settings.host_build_dir).zip(mounts) {
            run.binds.push(mount.bind(&run.settings.build_dir));
            self.mounts.push(mount);
        }
        let (engine, plan, out, progress, gate) =
            (self.handle.engine.clone(), &self.plan, self.out.as_path(), &self.progress, &self.start_gate);
        let failpoints = &self.failpoints;
        let labels: Vec<_> =
            runs.iter().map(|run| (run.index, factor_label(&run.varied, &plan.factors.varied))).collect();
        let lines = progress.queue_runs(&labels);
        // A round that must start together takes its batch slots as one.
        let round_slots = match (&self.build_slots, self.jobs) {
            (Some(slots), usize::MAX) => Some(slots.take(runs.len()).await),
            _ => None,
        };
        let run_slots = self.build_slots.clone().filter(|_| round_slots.is_none());
        let all_runs = futures_util::stream::iter(runs.iter().zip(tars).zip(lines))
            .map(|((run, tar), line)| {
                let engine = engine.clone();
                let slots = run_slots.clone();
                async move {
                    // Held for the whole run.
                    let _slot = match &slots {
                        Some(slots) => Some(slots.take(1).await),
                        None => None,
                    };
                    line.begin();
                    let hooks = run::RunHooks { progress: &line, gate, failpoints };
                    (run, run::execute(engine.as_ref(), plan, run, tar, out, hooks).await)
                }
            })
            .buffer_unordered(self.jobs)
            .collect::<Vec<_>>();
        let mut outcomes = tokio::select! {
            outcomes = all_runs => outcomes,
            signal = self.handle.shutdown.recv() => {
                let removed = engine::sweep_until_clear(engine.as_ref(), &plan.run_id).await?;
                bail!("interrupted by {signal}; removed {removed} container(s)");
            }
        };
        // Each run removes its own container; after any error, make sure no
        // container of this invocation is left behind.
        outcomes.sort_by_key(|(run, _)| run.index);
        if let Some((run, Err(first))) = outcomes.iter().find(|(_, outcome)| outcome.is_err()) {
            let first = format!("run {}: {first:#}", run.index);
            match engine::sweep(engine.as_ref(), &plan.run_id).await {
                Ok(swept) if swept.engine_went_away => bail!(
                    "the container engine at {} stopped answering during the builds (was it restarted?); \
                     its containers were removed once it came back\n{first}",
                    engine.info().endpoint
                ),
                Ok(_) => {}
                Err(e) => bail!("{first}\n{e:#}"),
            }
        }
        let mut reports = Vec::new();
        for (run, outcome) in outcomes {
            let result = outcome.with_context(|| format!("run {}", run.index))?;
            reports.push(CompletedRun { plan: run.clone(), result });
        }
        Ok(reports)
    }

    /// Starts runs of different clocks [`crate::factors::STAGGER`] apart,
    /// so the files they write carry different real times. explain and
    /// verify compare runs by their bytes alone; a check reads the build's
    /// clock from each run's window instead ([`crate::clock`]).
    pub fn stagger_clocks(&mut self) {
        self.start_gate = run::StartGate::staggered();
    }

    /// Runs every build of a batch at once unless `--jobs` capped it:
    /// `explain` wants a round's builds to start together, so that a build
    /// that records the real time differs between rounds, not within one.
    /// (Rounds run `--jobs 2` at a time on hello-unreproducible's nanosecond
    /// stamp blamed kernel, home and exec_path; whole rounds blamed none.)
    /// In a batch the round waits for its slots as one.
    pub fn all_at_once(&mut self, options: &CheckOptions) {
        if options.jobs.is_none() {
            self.jobs = usize::MAX;
        }
    }

    /// What the long stages ask between steps: whether SIGINT or SIGTERM arrived.
    pub fn interrupt(&self) -> crate::cleanup::Interrupt {
        self.handle.shutdown.interrupt()
    }

    /// The results directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// How `run` receives the source.
    fn packing(&self, run: &RunPlan) -> Packing {
        Packing {
            source: self.source.dir.clone(),
            build_dir: run.settings.build_dir.clone(),
            uid: run.settings.uid,
            exclude: self.source.exclude.clone(),
            root_mtime: self.source.root_mtime,
            directory: self.source.directory.clone(),
            tree: true,
        }
    }

    /// Host-side preparation of one run: its scratch directory (returned)
    /// and the preloaded libraries it gets.
    fn prepare(&mut self, run: &mut RunPlan) -> Result<PathBuf> {
        let dir = self.scratch.path().join(format!("run-{}", run.index));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let faketime = self.faketime_lib.as_ref().zip(run.settings.faketime.as_deref());
        run.files.extend(host::Preloads { faketime, reverse_readdir: run.settings.reverse_readdir }.files());
        if run.trace {
            run.files.push(crate::trace::tracer_file());
        }
        Ok(dir)
    }
}

/// Host build directories, each `(scratch dir, packing, with disorderfs)`,
/// filled with the source `jobs` at a time (the copies are disk-bound and
/// independent), each before any FUSE view of it is mounted, so the copy
/// never goes through FUSE. Returned in the order asked.
fn host_build_dirs(wanted: Vec<(PathBuf, Packing, bool)>, jobs: usize) -> Result<Vec<BuildMount>> {
    let mut mounts = Vec::new();
    for batch in wanted.chunks(jobs.max(1)) {
        let made: Vec<Result<BuildMount>> = std::thread::scope(|scope| {
            let threads: Vec<_> = batch
                .iter()
                .map(|(dir, packing, disorderfs)| {
                    scope.spawn(move || {
                        BuildMount::create(dir, *disorderfs, |build_dir| source::populate(packing, build_dir))
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap_or_else(|_| Err(anyhow!("copying the source panicked"))))
                .collect()
        });
        for mount in made {
            mounts.push(mount?);
        }
    }
    Ok(mounts)
}
