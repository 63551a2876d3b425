//! Drives one build through the [`Engine`] trait: create, upload, attach, start,
//! wait, collect, and always remove.

use crate::collect::{self, Collector, OutputEntry};
use crate::engine::placed::PlacedFile;
use crate::engine::{self, ContainerConfig, Engine, LABEL};
use crate::errors::*;
use crate::plan::{Plan, RunPlan};
use crate::progress::{Phase, RunProgress};
use crate::source::Packing;
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

mod completed;
mod start_gate;
pub use completed::{failures_among, size, CompletedRun};
pub use start_gate::StartGate;

/// Lines of build log shown when a build fails.
const LOG_TAIL_LINES: usize = 25;
/// How long the live log may stall after the container's exit before it is
/// cut off (the saved log is fetched whole afterwards either way).
const LOG_FOLLOW_GRACE: Duration = Duration::from_secs(2);

/// How long the source packer may take to stop after its upload ended.
const PACKER_GRACE: Duration = Duration::from_secs(30);

/// How a run ended (report.json's `status`, see `report::runs`).
#[derive(Debug, Clone)]
pub enum RunStatus {
    /// Exit code 0 and the outputs were collected.
    Succeeded,
    /// The build command exited non-zero.
    Failed {
        /// The exit code.
        exit_code: i64,
        /// The last lines of the log.
        log_tail: String,
    },
    /// The build exceeded `build.timeout` and was killed.
    TimedOut {
        /// The limit, in seconds.
        after_seconds: u64,
    },
    /// The build wrote more than `limits.disk_size` and was killed.
    OverDisk {
        /// The limit, in bytes.
        limit_bytes: u64,
        /// What it had written when it was measured.
        written_bytes: u64,
    },
}

/// How often a running build's disk use is measured.
const DISK_POLL: Duration = Duration::from_secs(5);

/// How waiting for a build ended.
enum Waited {
    /// It exited by itself (or the wait failed).
    Exited(Result<i64>),
    /// `build.timeout` passed.
    TimedOut,
    /// It wrote more than `limits.disk_size` and was killed.
    OverDisk(u64),
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// 1-based run number.
    pub index: u32,
    /// How it ended.
    pub status: RunStatus,
    /// Wall time from create to remove.
    pub duration_ms: u128,
    /// The build log, relative to the results directory.
    pub log: PathBuf,
    /// The outputs directory, relative to the results directory.
    pub outputs_dir: PathBuf,
    /// NAR hash of the outputs directory (as `nix-hash --type sha256`).
    pub nar_hash: Option<crate::digest::Digest>,
    /// Every output by path.
    pub outputs: BTreeMap<String, OutputEntry>,
    /// When the build started and exited, by the engine's clock, when it says.
    pub window: Option<crate::clock::RunWindow>,
    /// The build trace, when the run was traced and left one.
    pub trace: Option<crate::trace::TraceSummary>,
}

impl RunResult {
    /// How the build failed, in a few words (`FAILED (exit code 2)`), or
    /// `None` when it succeeded.
    pub fn failure(&self) -> Option<String> {
        match &self.status {
            RunStatus::Succeeded => None,
            RunStatus::Failed { exit_code, .. } => Some(format!("FAILED (exit code {exit_code})")),
            RunStatus::TimedOut { after_seconds } => Some(format!("TIMED OUT after {after_seconds}s")),
            RunStatus::OverDisk { .. } => Some("KILLED: over limits.disk_size".to_string()),
        }
    }
}

/// What a run reports to and waits on, beside its plan.
#[derive(Clone, Copy)]
pub struct RunHooks<'a> {
    /// Each phase and log line goes here.
    pub progress: &'a RunProgress,
    /// Keeps runs with different clocks apart at their start.
    pub gate: &'a StartGate,
    /// Where to panic or abort on purpose (tests).
    pub failpoints: &'a crate::cleanup::Failpoints,
}

/// Runs `run` of `plan` and stores its log and outputs under `results/run-N/`,
/// reporting each phase and log line to `hooks.progress`. The container is
/// removed whatever happens.
pub async fn execute(
    engine: &dyn Engine,
    plan: &Plan,
    run: &RunPlan,
    source: Packing,
    results: &Path,
    hooks: RunHooks<'_>,
) -> Result<RunResult> {
    let progress = hooks.progress;
    let started = Instant::now();
    let config = container_config(plan, run);
    progress.phase(Phase::Create);
    let id = engine.create(&config).await?;
    tracing::debug!(run = run.index, elapsed = ?started.elapsed(), "created");
    let outcome = build_in(engine, &id, plan, run, source, results, hooks).await;
    tracing::debug!(run = run.index, elapsed = ?started.elapsed(), "built and collected");
    progress.phase(Phase::Removing);
    let removed = engine.remove(&id).await;
    tracing::debug!(run = run.index, elapsed = ?started.elapsed(), "removed");
    progress.finish(&match &outcome {
        Ok(result) => result.failure().unwrap_or_else(|| "done".to_string()),
        Err(e) => format!("ERROR: {}", format!("{e:#}").lines().next().unwrap_or_default()),
    });
    let mut result = outcome?;
    removed?;
    result.duration_ms = started.elapsed().as_millis();
    tracing::info!(
        run = run.index,
        "finished in {:.1} s: {:?}",
        started.elapsed().as_secs_f64(),
        result.status
    );
    Ok(result)
}

/// Packs the placed files and the source while the engine extracts them. A
/// failure to read the source is reported as such, not as the upload it cut
/// short.
async fn upload_source(engine: &dyn Engine, id: &str, packing: Packing, placed: &[PlacedFile]) -> Result<()> {
    let (body, packer) = crate::source::stream(packing, placed.to_vec());
    let uploaded = engine.upload(id, body).await;
    // The body is dropped once the upload returns, which ends the packer;
    // the bound is for an engine client that would keep it.
    let (packed, stalled) = match tokio::time::timeout(PACKER_GRACE, packer).await {
        Ok(joined) => (joined.context("the source packer stopped")?, false),
        Err(_) => {
            let secs = PACKER_GRACE.as_secs();
            (Err(anyhow!("the source packer did not stop {secs} s after the upload ended")), true)
        }
    };
    match (uploaded, packed) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(upload), Err(pack)) if stalled || crate::source::is_broken_pipe(&pack) => Err(upload),
        (_, Err(pack)) => Err(pack.context("packing the source for upload")),
        (Err(upload), Ok(())) => Err(upload),
    }
}

fn container_config(plan: &Plan, run: &RunPlan) -> ContainerConfig {
    ContainerConfig {
        name: format!("reprocheck-{}-{}", plan.run_id, run.index),
        image: plan.image_id.clone(),
        cmd: run.argv(&plan.command),
        env: run.settings.env.clone(),
        working_dir: match &plan.working_subdir {
            Some(subdir) => format!("{}/{subdir}", run.settings.build_dir),
            None => run.settings.build_dir.clone(),
        },
        user: format!("{}:{}", run.settings.uid, run.settings.uid),
        hostname: run.settings.hostname.clone(),
        domainname: run.settings.domainname.clone(),
        labels: BTreeMap::from([
            (LABEL.to_string(), plan.run_id.clone()),
            (format!("{LABEL}.run"), run.index.to_string()),
            (engine::OWNER_LABEL.to_string(), engine::owner()),
        ]),
        pids_limit: run.pids_limit,
        memory_bytes: run.memory_bytes,
        cpuset: run.settings.cpuset.clone(),
        binds: run.binds.clone(),
        log_bytes: plan.log_bytes,
    }
}

#[allow(clippy::too_many_arguments)]
async fn build_in(
    engine: &dyn Engine,
    id: &str,
    plan: &Plan,
    run: &RunPlan,
    source: Packing,
    results: &Path,
    hooks: RunHooks<'_>,
) -> Result<RunResult> {
    let RunHooks { progress, gate, .. } = hooks;
    let run_dir = results.join(crate::results::run_dir(run.index));
    tokio::fs::create_dir(&run_dir).await.with_context(|| format!("creating {}", run_dir.display()))?;
    progress.phase(Phase::Upload);
    upload_source(engine, id, source, &run.files).await?;
    tracing::debug!(run = run.index, "uploaded");
    if gate.staggers() && plan.factors.varied.iter().any(|f| f.factor().staggers_start) {
        progress.phase(Phase::Delay);
    }
    gate.admit(run.settings.shifted_clock).await;
    // Attached before the start, so the first byte the build writes is read;
    // and just before it, so that a cancelled run seldom leaves an attached
    // container that never started (Docker then has to start it to end the
    // attach, see engine::docker).
    let mut start_requested = Instant::now();
    let started = async {
        let output = engine.attach_output(id).await?;
        hooks.failpoints.hit("after-attach");
        start_requested = Instant::now();
        engine.start(id).await?;
        Result::<_>::Ok(output)
    };
    let output = match started.await {
        Ok(output) => output,
        Err(error) => {
            gate.abandoned(run.settings.shifted_clock);
            return Err(error);
        }
    };
    gate.started(run.settings.shifted_clock);
    hooks.failpoints.hit("panic-while-building");
    progress.phase(Phase::Building);
    tracing::debug!(run = run.index, "started");
    let log_path = crate::results::log_file(run.index);
    let live_log = results.join(&log_path);
    let (waited, followed) = wait_following_log(engine, id, output, plan, run, &live_log, progress).await;
    // An upper bound of how long the build ran (from before it started).
    let ran_for = start_requested.elapsed();
    tracing::debug!(run = run.index, "exited");
    progress.phase(Phase::Collecting);
    let succeeded = matches!(waited, Waited::Exited(Ok(0)));
    let outputs_dir = results.join(crate::results::outputs_dir(run.index));
    // The log and the outputs are independent requests: fetch them together.
    // Where the followed log is known to be whole, it is the saved log already:
    // asking the engine for it again would decode it twice.
    // A follow that reached limits.log_size holds all that is saved, even
    // where the engine may end it early or rotate the start away.
    let whole_log_followed = (followed.complete && engine.followed_log_is_complete()) || followed.cut;
    let fetch_log = async {
        match whole_log_followed {
            true => {
                tokio::fs::read(&live_log).await.with_context(|| format!("reading {}", live_log.display()))
            }
            false => {
                let copy = engine.logs(id, plan.log_bytes).await?;
                let followed = tokio::fs::read(&live_log).await.unwrap_or_default();
                Ok(engine::reconcile_log(followed, copy))
            }
        }
    };
    let window = async {
        match succeeded {
            // Without it the time factor cannot tell the build's clock in
            // the outputs: said in the report, not a failed run.
            true => engine.run_window(id, ran_for).await.unwrap_or_else(|e| {
                tracing::warn!(run = run.index, "the engine did not say when the build ran: {e:#}");
                None
            }),
            false => None,
        }
    };
    let trace_file = format!("{}/{}", crate::results::run_dir(run.index).display(), crate::trace::TRACE_FILE);
    let fetch_trace = async {
        match run.trace {
            true => {
                crate::trace::collect::save(engine, id, &run.settings.build_dir, &results.join(&trace_file))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(run = run.index, "the build's trace could not be saved: {e:#}");
                        false
                    })
            }
            false => false,
        }
    };
    let (log, outputs, window, traced) = tokio::join!(
        fetch_log,
        async {
            match succeeded {
                true => download_outputs(engine, id, plan, run, &outputs_dir).await.map(Some),
                false => Ok(None),
            }
        },
        window,
        fetch_trace
    );
    let log = log?;
    // Podman can end a followed log early (see docs/engines.md): show the rest now.
    if let Some(rest) = usize::try_from(followed.bytes).ok().and_then(|n| log.get(n..)) {
        progress.log(rest);
    }
    if !whole_log_followed {
        tokio::fs::write(&live_log, &log)
            .await
            .with_context(|| format!("saving the build log of run {}", run.index))?;
    }
    let mut result = RunResult {
        index: run.index,
        status: RunStatus::Succeeded,
        duration_ms: 0,
        log: log_path,
        outputs_dir: crate::results::outputs_dir(run.index),
        nar_hash: None,
        outputs: BTreeMap::new(),
        window,
        trace: None,
    };
    if traced {
        let paths: Vec<String> = outputs
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let (results, build_dir) = (results.to_path_buf(), run.settings.build_dir.clone());
        let summary = tokio::task::spawn_blocking(move || {
            crate::trace::collect::summarize(&results, &trace_file, &build_dir, &paths)
        })
        .await
        .context("the trace reading task died")?;
        // A trace that does not read is the build's doing: said, not fatal.
        result.trace = summary.map_err(|e| tracing::warn!(run = run.index, "{e:#}")).ok();
    }
    match waited {
        Waited::TimedOut => {
            result.status = RunStatus::TimedOut { after_seconds: plan.timeout.as_secs() };
            return Ok(result);
        }
        Waited::OverDisk(written_bytes) => {
            result.status = RunStatus::OverDisk { limit_bytes: plan.disk_bytes, written_bytes };
            return Ok(result);
        }
        Waited::Exited(code) => {
            let exit_code = code?;
            if exit_code != 0 {
                result.status = RunStatus::Failed { exit_code, log_tail: tail(&log, LOG_TAIL_LINES) };
                return Ok(result);
            }
        }
    }
    result.outputs = outputs?.unwrap_or_default();
    tracing::debug!(run = run.index, "log saved and outputs collected");
    if result.outputs.is_empty() {
        bail!(
            "the build succeeded but no file matched build.outputs {:?}; check the globs against the log in {}",
            plan.outputs,
            results.join(&result.log).display()
        );
    }
    let dir = outputs_dir.clone();
    result.nar_hash = Some(
        tokio::task::spawn_blocking(move || collect::nar_sha256(&dir))
            .await
            .context("the NAR hashing task died")??,
    );
    Ok(result)
}

/// Waits for the container to exit (up to `timeout`) while its log is
/// written to `live_log` and shown by `progress` as it arrives, so an
/// interrupted build still leaves what it printed, and its disk use is
/// measured every [`DISK_POLL`]. Following is best effort: the caller makes
/// sure the saved log is complete. Returns the wait's outcome and what was
/// followed.
async fn wait_following_log(
    engine: &dyn Engine,
    id: &str,
    mut output: engine::ByteStream,
    plan: &Plan,
    run: &RunPlan,
    live_log: &Path,
    progress: &RunProgress,
) -> (Waited, Followed) {
    let followed_bytes = std::sync::atomic::AtomicU64::new(0);
    let cut = std::sync::atomic::AtomicBool::new(false);
    let follow = async {
        let mut file = tokio::fs::File::create(live_log).await?;
        let (mut kept, mut keeping) = (0u64, true);
        while let Some(chunk) = output.try_next().await? {
            if keeping {
                let (part, whole) = engine::log_room(&chunk, kept, plan.log_bytes);
                file.write_all(part).await?;
                kept += part.len() as u64;
                if !whole {
                    file.write_all(engine::log_cut_note(plan.log_bytes).as_bytes()).await?;
                    file.flush().await?;
                    keeping = false;
                    cut.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            progress.log(&chunk);
            followed_bytes.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        // tokio writes in the background: a complete follow must be on disk
        // before the caller reads the file back as the saved log.
        file.flush().await?;
        std::io::Result::Ok(())
    };
    let mut follow = std::pin::pin!(follow);
    let mut wait = std::pin::pin!(tokio::time::timeout(plan.timeout, engine.wait(id)));
    let mut watch = tokio::time::interval_at(tokio::time::Instant::now() + DISK_POLL, DISK_POLL);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether the follow ended, and without error.
    let mut ended: Option<bool> = None;
    let waited = loop {
        tokio::select! {
            waited = &mut wait => break waited.map_or(Waited::TimedOut, Waited::Exited),
            outcome = &mut follow, if ended.is_none() => {
                if let Err(e) = &outcome {
                    tracing::debug!("following the log of {id} stopped: {e}");
                }
                ended = Some(outcome.is_ok());
            }
            _ = watch.tick() => {
                let written = disk_use(engine, id, run).await;
                if written > plan.disk_bytes {
                    tracing::warn!("run {} wrote {written} bytes, over limits.disk_size; killing it", run.index);
                    if let Err(e) = engine.kill(id).await {
                        tracing::warn!("{e:#}");
                    }
                    break Waited::OverDisk(written);
                }
            }
        }
    };
    let exited = !matches!(waited, Waited::TimedOut);
    if ended.is_none() && exited {
        // Let the rest arrive while it still flows.
        let mut seen = u64::MAX;
        loop {
            let now = followed_bytes.load(std::sync::atomic::Ordering::Relaxed);
            if now == seen {
                break;
            }
            if let Ok(outcome) = tokio::time::timeout(LOG_FOLLOW_GRACE, &mut follow).await {
                ended = Some(outcome.is_ok());
                break;
            }
            seen = now;
        }
    }
    let followed = Followed {
        bytes: followed_bytes.load(std::sync::atomic::Ordering::Relaxed),
        complete: ended == Some(true) && exited,
        cut: cut.load(std::sync::atomic::Ordering::Relaxed),
    };
    (waited, followed)
}

/// What a running build has written: its container's writable layer and its
/// writable host mounts (a disorderfs build directory bypasses the layer).
async fn disk_use(engine: &dyn Engine, id: &str, run: &RunPlan) -> u64 {
    let layer = match engine.written_bytes(id).await {
        Ok(bytes) => bytes.unwrap_or(0),
        Err(e) => {
            tracing::debug!("{e:#}");
            0
        }
    };
    let mounts: Vec<PathBuf> = run.binds.iter().filter(|b| !b.read_only).map(|b| b.host.clone()).collect();
    let mounted = tokio::task::spawn_blocking(move || mounts.iter().map(|dir| tree_bytes(dir)).sum::<u64>())
        .await
        .unwrap_or(0);
    layer + mounted
}

/// Bytes of the regular files under `dir`, links not followed.
fn tree_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// What following a build's log got.
struct Followed {
    /// Bytes received, whether saved or past `limits.log_size`.
    bytes: u64,
    /// The stream ended by itself, without error, and the build exited.
    complete: bool,
    /// The saved part reached `limits.log_size` (and ends with the cut note).
    cut: bool,
}

async fn download_outputs(
    engine: &dyn Engine,
    id: &str,
    plan: &Plan,
    run: &RunPlan,
    outputs_dir: &Path,
) -> Result<BTreeMap<String, OutputEntry>> {
    let globs = plan.outputs.clone();
    let mut streams = Vec::new();
    for root in globs.download_roots() {
        let path = if root.is_empty() {
            run.settings.build_dir.clone()
        } else {
            format!("{}/{root}", run.settings.build_dir)
        };
        if let Some(stream) = engine.download(id, &path).await? {
            streams.push((root.clone(), stream));
        }
    }
    let outputs_dir = outputs_dir.to_path_buf();
    let handle = tokio::runtime::Handle::current();
    let limits = plan.output_limits;
    tokio::task::spawn_blocking(move || {
        let mut collector = Collector::new(&outputs_dir, globs.selector(), limits)?;
        for (root, stream) in streams {
            let reader = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
            let reader = tokio_util::io::SyncIoBridge::new_with_handle(reader, handle.clone());
            collector.add_archive(reader, &root)?;
        }
        collector.finish()
    })
    .await
    .context("the output collection task died")?
}

/// The last `lines` lines of a log, lossily decoded.
fn tail(log: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail(b"a", 5), "a");
        assert_eq!(tail(b"\xffx", 1), "\u{fffd}x");
    }
}
