//! Turns a spec into concrete runs: the environment, user, paths and limits of
//! every container.
//!
//! Factor variation is not applied in this version: every run gets the
//! control environment, and [`FactorSummary`] records that honestly so the
//! report never implies a factor was varied when it was not.

use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The control `PATH`.
pub const CONTROL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The control build user (uid and gid).
pub const CONTROL_UID: u32 = 1111;
/// Default process limit for a build container.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;
/// Default memory limit for a build container.
pub const DEFAULT_MEMORY_BYTES: i64 = 8 << 30;

/// All runs of one invocation.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Unique id of this invocation; the value of every container's label.
    pub run_id: String,
    /// The verified image id containers are created from.
    pub image_id: String,
    /// `/bin/sh -c` command.
    pub command: String,
    /// Output globs.
    pub outputs: Vec<String>,
    /// Per-run wall-clock limit.
    pub timeout: Duration,
    /// The runs, numbered from 1.
    pub runs: Vec<RunPlan>,
    /// Which factors were asked for and which were applied.
    pub factors: FactorSummary,
}

/// One container's environment.
#[derive(Debug, Clone, Serialize)]
pub struct RunPlan {
    /// 1-based run number.
    pub index: u32,
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
    /// Process limit.
    pub pids_limit: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
}

impl RunPlan {
    /// The argument vector: set the umask, then hand the command to `sh -c`.
    /// The command travels as `$1`, so it is never re-quoted; stderr joins
    /// stdout so the saved log keeps the order the lines were written in.
    pub fn argv(&self, command: &str) -> Vec<String> {
        vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("umask {} && exec /bin/sh -c \"$1\" 2>&1", self.umask),
            "reprocheck-build".into(),
            command.into(),
        ]
    }

    /// The value this run gives each factor, by reprotest's names: what the
    /// report shows per run, so varied values can be read side by side.
    pub fn factor_values(&self) -> BTreeMap<&'static str, String> {
        let env = |key: &str| self.env.get(key).cloned().unwrap_or_else(|| "(unset)".to_string());
        BTreeMap::from([
            ("build_path", self.build_dir.clone()),
            ("domain_host", format!("{} / {}", self.hostname, self.domainname)),
            ("exec_path", env("PATH")),
            ("home", env("HOME")),
            ("locales", format!("LANG={} LANGUAGE={}", env("LANG"), env("LANGUAGE"))),
            ("timezone", env("TZ")),
            ("umask", self.umask.clone()),
            ("user", format!("{}:{}", self.uid, self.uid)),
        ])
    }
}

/// What the report says about factors.
#[derive(Debug, Clone, Serialize)]
pub struct FactorSummary {
    /// Factor names the spec or the command line asked for.
    pub requested: Vec<String>,
    /// Factors whose value differed between runs.
    pub varied: Vec<String>,
    /// Requested factors that were not applied, with the reason.
    pub not_applied: BTreeMap<String, String>,
}

/// Builds the plan for `runs` runs of `spec` on `image_id`.
pub fn plan(spec: &Spec, image_id: &str, run_id: &str, runs: u32, requested: Vec<String>) -> Plan {
    let mut env = BTreeMap::from([
        ("PATH".to_string(), CONTROL_PATH.to_string()),
        ("HOME".to_string(), "/nonexistent/first-build".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("LANGUAGE".to_string(), "en_US:en".to_string()),
        ("TZ".to_string(), "Etc/GMT+12".to_string()),
    ]);
    if let Some(epoch) = spec.build.source_date_epoch {
        env.insert("SOURCE_DATE_EPOCH".to_string(), epoch.to_string());
    }
    env.extend(spec.build.env.clone());
    let runs = (1..=runs)
        .map(|index| RunPlan {
            index,
            build_dir: format!("/build/{}", spec.name),
            uid: CONTROL_UID,
            umask: "0022".to_string(),
            hostname: "reprocheck".to_string(),
            domainname: "reprocheck.invalid".to_string(),
            env: env.clone(),
            pids_limit: DEFAULT_PIDS_LIMIT,
            memory_bytes: DEFAULT_MEMORY_BYTES,
        })
        .collect();
    let not_applied = requested
        .iter()
        .map(|f| (f.clone(), "factor variation is not implemented in this version".to_string()))
        .collect();
    Plan {
        run_id: run_id.to_string(),
        image_id: image_id.to_string(),
        command: spec.build.command.clone(),
        outputs: spec.build.outputs.clone(),
        timeout: spec.build.timeout,
        runs,
        factors: FactorSummary { requested, varied: Vec::new(), not_applied },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_passes_the_command_unquoted() {
        let run = RunPlan {
            index: 1,
            build_dir: "/build/x".into(),
            uid: 1,
            umask: "0022".into(),
            hostname: "h".into(),
            domainname: "d".into(),
            env: BTreeMap::new(),
            pids_limit: 1,
            memory_bytes: 1,
        };
        let argv = run.argv("echo \"$HOME\" 'x'");
        assert_eq!(run.factor_values()["user"], "1:1");
        assert_eq!(run.factor_values()["home"], "(unset)");
        assert_eq!(argv[2], "umask 0022 && exec /bin/sh -c \"$1\" 2>&1");
        assert_eq!(argv[4], "echo \"$HOME\" 'x'");
    }
}
