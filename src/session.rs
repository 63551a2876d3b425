//! One invocation's connection to the engine and everything it set up: the
//! verified image, the factor facts, the plan, scratch files and mounts.
//! `check` and `explain` both run their builds through [`Session::run_batch`].

use crate::cleanup::Shutdown;
use crate::engine::{self, Engine};
use crate::errors::*;
use crate::factors::host;
use crate::factors::HostFacts;
use crate::image;
use crate::invocation::{CheckOptions, Invocation};
use crate::mounts::{self, BuildMount};
use crate::plan::{self, Plan, RunPlan};
use crate::progress::{factor_label, Progress};
use crate::report::{Report, RunReport};
use crate::run;
use crate::source::{self, Packing, PreparedSource};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Held while a session finds (or builds) its image.
static IMAGE_RESOLUTION: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An open session. Dropping it unmounts its mounts, then removes its scratch
/// directory (fields drop in declaration order).
pub struct Session<'a> {
    source: &'a PreparedSource,
    engine: Arc<dyn Engine>,
    /// The plan: which factors vary, and the runs of a plain check.
    pub plan: Plan,
    out: PathBuf,
    jobs: usize,
    /// Shared with the other specs of a batch.
    build_slots: Option<crate::batch::BuildSlots>,
    progress: Progress,
    shutdown: Shutdown,
    mounts: Vec<BuildMount>,
    /// The host's libfaketime, read once, for runs that shift the clock.
    faketime_lib: Option<Arc<[u8]>>,
    scratch: tempfile::TempDir,
    /// Keeps runs with different clocks apart at their start.
    start_gate: run::StartGate,
    /// Known to the panic hook until the session is gone.
    _open: crate::cleanup::OpenRun,
}

impl<'a> Session<'a> {
    /// Connects, verifies the pinned image, probes factor support and plans
    /// `runs` runs. Fills in the report's engine, image and factors.
    pub async fn open(invocation: Invocation<'a>, runs: u32, report: &mut Report) -> Result<Session<'a>> {
        let Invocation { spec, source, options, out, mode, .. } = invocation;
        let shutdown = Shutdown::install()?;
        let engine: Arc<dyn Engine> = options.engine.connect().await?;
        let reconnect = options.engine.reconnect_endpoint(engine.as_ref());
        let open = crate::cleanup::OpenRun::new(&report.run_id, reconnect.as_deref());
        report.engine = Some(engine.info().clone());
        sweep_orphans(engine.as_ref(), &options.progress).await;
        let info = engine.info();
        tracing::info!(
            "engine: {} {} at {} (API {})",
            info.kind,
            info.version,
            info.endpoint,
            info.api_version
        );
        let request = image::pin::PinRequest {
            build_missing: options.build_missing,
            locked: options.locked,
            require_pin: mode == crate::invocation::Mode::Verify,
            command: mode.command(),
        };
        // One resolution at a time in this process: specs of a batch that share
        // a recipe build its image once and never write its lock together.
        let resolving = IMAGE_RESOLUTION.lock().await;
        let image_id = image::pin::resolve(engine.as_ref(), spec, request, &mut report.image).await?;
        drop(resolving);
        tracing::info!("image: {image_id}");
        report.image.id = Some(image_id.clone());

        let requested = (options.vary.clone().or_else(|| spec.check.vary.clone()))
            .unwrap_or_else(|| crate::factors::NAMES.iter().map(|s| s.to_string()).collect());
        let scratch = tempfile::Builder::new()
            // The run id in the name tells whose mounts are whose.
            .prefix(&mounts::scratch_prefix(&report.run_id))
            .tempdir()
            .context("creating a scratch directory for mount files")?;
        // Probed even when nothing is varied: every run takes every factor's
        // control value, and some (ASLR off) depend on what the image allows.
        let mut facts = HostFacts::gather(engine.as_ref(), &image_id, &report.run_id).await?;
        if requested.iter().any(|f| f == "fileordering") {
            let local = engine.info().is_local();
            let problem = if !engine.archive_sees_bind_mounts() {
                Some(format!(
                    "{} copies files into and out of a container without its bind mounts, \
                     so the disorderfs build directory cannot be used",
                    engine.info().kind
                ))
            } else if engine.remaps_user_ids().await? {
                Some(
                    "the engine remaps user ids (userns-remap or rootless), so a host build directory \
                     given to the build user would not be the build user's in the container"
                        .to_string(),
                )
            } else {
                mounts::disorderfs_problem(scratch.path(), local)
            };
            match problem {
                None => {
                    facts.disorderfs_works = true;
                    facts.tools.insert("disorderfs".into(), mounts::disorderfs_version());
                }
                Some(problem) => facts.disorderfs_problem = problem,
            }
        }
        let faketime_lib = match (&facts.faketime_lib, facts.faketime_works) {
            (Some(lib), true) => Some(host::read_libfaketime(lib)?),
            _ => None,
        };
        let plan = plan::plan(spec, source, &image_id, &report.run_id, runs, requested, &facts);
        report.factors = Some(plan.factors.clone());
        tracing::info!("varied: {}", plan.factors.varied.join(", "));
        let jobs = options.jobs_or_cpus();
        Ok(Session {
            source,
            engine,
            plan,
            out: out.to_path_buf(),
            jobs,
            build_slots: options.build_slots.clone(),
            progress: options.progress.clone(),
            shutdown,
            mounts: Vec::new(),
            faketime_lib,
            scratch,
            start_gate: run::StartGate::default(),
            _open: open,
        })
    }

    /// Runs `runs` concurrently (up to `--jobs`), stores each under
    /// `run-N/`, and returns their reports in run order. Fails, leaving no
    /// container behind, when a run fails, times out, or a signal arrives.
    pub async fn run_batch(&mut self, mut runs: Vec<RunPlan>) -> Result<Vec<RunReport>> {
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
                    signal = self.shutdown.recv() => bail!("interrupted by {signal} while copying the source"),
                }
            }
        };
        for (run, mount) in runs.iter_mut().filter(|run| run.settings.host_build_dir).zip(mounts) {
            run.binds.push(mount.bind(&run.settings.build_dir));
            self.mounts.push(mount);
        }
        let (engine, plan, out, progress, gate) =
            (self.engine.clone(), &self.plan, self.out.as_path(), &self.progress, &self.start_gate);
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
                    (run, run::execute(engine.as_ref(), plan, run, tar, out, &line, gate).await)
                }
            })
            .buffer_unordered(self.jobs)
            .collect::<Vec<_>>();
        let mut outcomes = tokio::select! {
            outcomes = all_runs => outcomes,
            signal = self.shutdown.recv() => {
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
            reports.push(RunReport { factors: run.factor_values(), environment: run.clone(), result });
        }
        Ok(reports)
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

/// Removes what reprocheck processes that are gone left behind (killed with
/// SIGKILL, crashed), and says so. Never fails the run: a sweep that cannot
/// finish is a warning.
async fn sweep_orphans(engine: &dyn Engine, progress: &crate::progress::Progress) {
    let containers = match engine::sweep_orphans(engine).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("could not sweep containers of earlier, killed runs: {e:#}");
            0
        }
    };
    let mounts = mounts::sweep_orphaned();
    if containers > 0 || !mounts.is_empty() {
        progress.note(&format!(
            "reprocheck: removed {containers} container(s) and {} mount(s) left by reprocheck processes that are gone",
            mounts.len()
        ));
    }
}

/// The panic hook's sweep ([`crate::cleanup::install_panic_hook`]): the
/// mounts of `run_id`, then its containers at `endpoint` through a fresh
/// connection on a runtime of its own (an in-process engine goes with the
/// process).
pub fn sweep_after_panic(run_id: &str, endpoint: Option<&str>) {
    let unmounted = mounts::sweep_run(run_id);
    let Some(endpoint) = endpoint else { return };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return crate::errln!("reprocheck: cannot clean up after the panic: {e}"),
    };
    let removed = runtime.block_on(async {
        let engine = engine::docker::DockerEngine::connect(endpoint).await?;
        engine::sweep_until_clear(&engine, run_id).await
    });
    match removed {
        Ok(removed) => crate::errln!(
            "reprocheck: after the panic, removed {removed} container(s) and {} mount(s) of run {run_id}",
            unmounted.len()
        ),
        Err(e) => {
            crate::errln!(
                "reprocheck: after the panic, could not remove the containers of run {run_id}: {e:#}"
            )
        }
    }
}
