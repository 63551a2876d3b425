//! report.json's run objects: the published form of a finished run,
//! converted from [`CompletedRun`] so that renaming an internal field never
//! changes the document (docs/report.md, "A run").

use crate::collect::OutputEntry;
use crate::run::{CompletedRun, RunStatus};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One run: its environment and its result.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The value of each factor in this run, by factor name.
    pub factors: BTreeMap<String, String>,
    /// The environment the run was given.
    pub environment: Environment,
    /// What happened.
    #[serde(flatten)]
    pub result: RunOutcome,
}

/// What the container was given.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// 1-based run number.
    pub index: u32,
    /// The factors at their experiment value in this run (none: a control).
    pub varied: Vec<String>,
    /// Directory the source is placed in and the build runs in.
    pub build_dir: String,
    /// Numeric user id (the group id is the same).
    pub uid: u32,
    /// umask set before the command.
    pub umask: String,
    /// UTS hostname.
    pub hostname: String,
    /// UTS domain name.
    pub domainname: String,
    /// The complete environment of the build.
    pub env: BTreeMap<String, String>,
    /// CPUs the build may use; `None` for all.
    pub cpuset: Option<String>,
    /// setarch --uname-2.6.
    pub uname26: bool,
    /// setarch -R.
    pub no_randomize: bool,
    /// The libfaketime offset, when the clock is shifted.
    pub faketime: Option<String>,
    /// Started apart from the runs with the control's clock.
    pub shifted_clock: bool,
    /// The build directory is a host directory bind-mounted in.
    pub host_build_dir: bool,
    /// ... seen through disorderfs.
    pub disorderfs: bool,
    /// The readdir reverser is preloaded.
    pub reverse_readdir: bool,
    /// Process limit.
    pub pids_limit: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// Host paths mounted into the container.
    pub binds: Vec<BindReport>,
    /// Files uploaded into the container before it starts.
    pub files: Vec<FileReport>,
}

/// A host path mounted into the container.
#[derive(Debug, Clone, Serialize)]
pub struct BindReport {
    /// Path on the engine's host.
    pub host: PathBuf,
    /// Path in the container.
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A file uploaded into the container.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Absolute path in the container.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// `sha256:` of the contents.
    pub sha256: String,
}

/// How a run ended and what it left.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// 1-based run number.
    pub index: u32,
    /// How it ended.
    #[serde(flatten)]
    pub status: Status,
    /// Wall time from create to remove.
    pub duration_ms: u128,
    /// The build log, relative to the results directory.
    pub log: PathBuf,
    /// The outputs directory, relative to the results directory.
    pub outputs_dir: PathBuf,
    /// NAR hash of the outputs directory (as `nix-hash --type sha256`).
    pub nar_hash: Option<String>,
    /// Every output by path.
    pub outputs: BTreeMap<String, OutputEntry>,
    /// The build trace (`--trace`): where it is saved, what it holds, and
    /// which process wrote each output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::trace::TraceSummary>,
}

/// How a run ended, as report.json says it (`status` and its fields).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Exit code 0 and the outputs were collected.
    Succeeded,
    /// The build command exited non-zero.
    Failed {
        /// The exit code.
        exit_code: i64,
        /// The last lines of the log.
        log_tail: String,
    },
    /// Killed at `build.timeout`.
    TimedOut {
        /// The limit, in seconds.
        after_seconds: u64,
    },
    /// Killed over `limits.disk_size`.
    OverDisk {
        /// The limit, in bytes.
        limit_bytes: u64,
        /// What it had written when it was measured.
        written_bytes: u64,
    },
}

impl From<&CompletedRun> for RunReport {
    fn from(run: &CompletedRun) -> RunReport {
        let (plan, result) = (&run.plan, &run.result);
        let settings = &plan.settings;
        RunReport {
            factors: plan
                .factor_values()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
            environment: Environment {
                index: plan.index,
                varied: plan.varied.iter().map(|f| f.to_string()).collect(),
                build_dir: settings.build_dir.clone(),
                uid: settings.uid,
                umask: settings.umask.clone(),
                hostname: settings.hostname.clone(),
                domainname: settings.domainname.clone(),
                env: settings.env.clone(),
                cpuset: settings.cpuset.clone(),
                uname26: settings.uname26,
                no_randomize: settings.no_randomize,
                faketime: settings.faketime.clone(),
                shifted_clock: settings.shifted_clock,
                host_build_dir: settings.host_build_dir,
                disorderfs: settings.disorderfs,
                reverse_readdir: settings.reverse_readdir,
                pids_limit: plan.pids_limit,
                memory_bytes: plan.memory_bytes,
                binds: plan
                    .binds
                    .iter()
                    .map(|b| BindReport {
                        host: b.host.clone(),
                        container: b.container.clone(),
                        read_only: b.read_only,
                    })
                    .collect(),
                files: plan
                    .files
                    .iter()
                    .map(|f| FileReport { path: f.path.clone(), mode: f.mode, sha256: f.sha256.to_string() })
                    .collect(),
            },
            result: RunOutcome {
                index: result.index,
                status: match &result.status {
                    RunStatus::Succeeded => Status::Succeeded,
                    RunStatus::Failed { exit_code, log_tail } => {
                        Status::Failed { exit_code: *exit_code, log_tail: log_tail.clone() }
                    }
                    RunStatus::TimedOut { after_seconds } => {
                        Status::TimedOut { after_seconds: *after_seconds }
                    }
                    RunStatus::OverDisk { limit_bytes, written_bytes } => {
                        Status::OverDisk { limit_bytes: *limit_bytes, written_bytes: *written_bytes }
                    }
                },
                duration_ms: result.duration_ms,
                log: result.log.clone(),
                outputs_dir: result.outputs_dir.clone(),
                nar_hash: result.nar_hash.as_ref().map(|d| d.to_string()),
                outputs: result.outputs.clone(),
                trace: result.trace.clone(),
            },
        }
    }
}
