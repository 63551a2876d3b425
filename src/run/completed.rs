//! A finished run as the later stages take it: the plan it ran under and
//! what came of it. report.json's run objects are made from these
//! (`report::RunReport`), never the other way round.

use super::{RunResult, RunStatus};
use crate::plan::RunPlan;
use std::path::Path;

/// One run that finished (succeeded or not): its plan and its result.
#[derive(Debug, Clone)]
pub struct CompletedRun {
    /// The environment the run was given.
    pub plan: RunPlan,
    /// What happened.
    pub result: RunResult,
}

impl CompletedRun {
    /// The run number.
    pub fn index(&self) -> u32 {
        self.result.index
    }

    /// The build directory inside the container.
    pub fn build_dir(&self) -> &str {
        &self.plan.settings.build_dir
    }

    /// Whether it ran in the control environment (no factor varied).
    pub fn is_control(&self) -> bool {
        self.plan.varied.is_empty()
    }
}

/// Why some of `runs` failed: which ones, and the log tail of the first.
/// `None` when every one succeeded.
pub fn failures_among(runs: &[CompletedRun], out_dir: &Path) -> Option<String> {
    let failed: Vec<&CompletedRun> =
        runs.iter().filter(|r| !matches!(r.result.status, RunStatus::Succeeded)).collect();
    let first = &failed.first()?.result;
    let others: Vec<String> = failed[1..].iter().map(|r| r.index().to_string()).collect();
    let also = match others.len() {
        0 => String::new(),
        1 => format!(" (run {} failed too)", others[0]),
        _ => format!(" (runs {} failed too)", others.join(", ")),
    };
    let log = out_dir.join(&first.log);
    let index = first.index;
    Some(match &first.status {
        RunStatus::Failed { exit_code, log_tail } if log_tail.trim().is_empty() => format!(
            "run {index} failed with exit code {exit_code}{also}, and printed nothing (log: {})",
            log.display()
        ),
        RunStatus::Failed { exit_code, log_tail } => {
            let mut s =
                format!("run {index} failed with exit code {exit_code}{also}; the end of {}:", log.display());
            for line in log_tail.lines() {
                s.push_str(&format!("\n  | {line}"));
            }
            s
        }
        RunStatus::TimedOut { after_seconds } => format!(
            "run {index} timed out after {after_seconds}s and was killed{also}; raise build.timeout if it needs longer (log: {})",
            log.display()
        ),
        RunStatus::OverDisk { limit_bytes, written_bytes } => format!(
            "run {index} wrote {} to its filesystem, over limits.disk_size ({}), and was killed{also}; \
             raise limits.disk_size if the build needs that much (log: {})",
            size(*written_bytes),
            size(*limit_bytes),
            log.display()
        ),
        RunStatus::Succeeded => format!("run {index} succeeded"),
    })
}

/// `bytes` for people: `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}
