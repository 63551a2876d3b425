//! Turns a spec into concrete runs: the environment, user, paths, mounts and
//! limits of every container.
//!
//! Run 1 is the control: every factor at its control value. Every other run
//! is an experiment: each varied factor at its experiment value. Factors that
//! cannot be applied here are listed with the reason, never dropped silently.

use crate::engine::Bind;
use crate::factors::{self, HostFacts};
use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The control `PATH`.
pub const CONTROL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The control build user (uid and gid).
pub const CONTROL_UID: u32 = 1111;

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
    /// Caps on what one run may hand back.
    pub output_limits: crate::collect::Limits,
    /// Bytes of build log kept per run (the engine keeps at most twice that).
    pub log_bytes: u64,
    /// Bytes a run may write to its container's filesystem and build mounts.
    pub disk_bytes: u64,
    /// The runs, numbered from 1.
    pub runs: Vec<RunPlan>,
    /// Which factors were asked for and which were applied.
    pub factors: FactorSummary,
    /// Every factor at its control value, before the varied factors' controls.
    baseline: RunPlan,
    /// What the host and image can do.
    facts: HostFacts,
}

impl Plan {
    /// What the host and image can do, as probed.
    pub fn facts(&self) -> &HostFacts {
        &self.facts
    }

    /// A run that takes the experiment value of the factors in `experiment`
    /// (a subset of the varied factors) and the control value of the rest.
    pub fn run(&self, index: u32, experiment: &[String]) -> RunPlan {
        let mut run = RunPlan { index, varied: experiment.to_vec(), ..self.baseline.clone() };
        for name in &self.factors.varied {
            factors::apply_control(name, &mut run, &self.facts);
        }
        for name in experiment {
            factors::apply_experiment(name, &mut run, &self.facts);
        }
        run
    }
}

/// One container's environment.
#[derive(Debug, Clone, Serialize)]
pub struct RunPlan {
    /// 1-based run number.
    pub index: u32,
    /// The factors that take their experiment value in this run (none: the control).
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
    /// Process limit.
    pub pids_limit: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// CPUs the build may use; `None` for all.
    pub cpuset: Option<String>,
    /// Report a 2.6 kernel release (setarch --uname-2.6).
    pub uname26: bool,
    /// Disable ASLR (setarch -R).
    pub no_randomize: bool,
    /// libfaketime offset, e.g. `+398d`, when the clock is shifted.
    pub faketime: Option<String>,
    /// The time factor's experiment: this run starts [`factors::STAGGER`]
    /// apart from runs with the control's clock (whether or not libfaketime
    /// could shift it).
    pub shifted_clock: bool,
    /// Build in a host directory bind-mounted as the build dir (the
    /// fileordering factor's control and experiment both do).
    pub host_build_dir: bool,
    /// Build in a disorderfs view of that host directory.
    pub disorderfs: bool,
    /// Host paths mounted into the container.
    pub binds: Vec<Bind>,
}

impl RunPlan {
    /// The argument vector: set the umask, set the personality with setarch
    /// when asked, then hand the command to `sh -c`. The command travels as
    /// `$1`, so it is never re-quoted; stderr joins stdout so the saved log
    /// keeps the order the lines were written in.
    pub fn argv(&self, command: &str) -> Vec<String> {
        let mut setarch = String::new();
        if self.uname26 || self.no_randomize {
            setarch.push_str("setarch \"$(uname -m)\"");
            if self.uname26 {
                setarch.push_str(" --uname-2.6");
            }
            if self.no_randomize {
                setarch.push_str(" -R");
            }
            setarch.push(' ');
        }
        vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("umask {} && exec {setarch}/bin/sh -c \"$1\" 2>&1", self.umask),
            "reprocheck-build".into(),
            command.into(),
        ]
    }

    /// The value this run gives each factor, by factor name: what the report
    /// shows per run, so the runs can be read side by side.
    pub fn factor_values(&self) -> BTreeMap<&'static str, String> {
        let env = |key: &str| self.env.get(key).cloned().unwrap_or_else(|| "(unset)".to_string());
        let apart = factors::STAGGER.as_secs();
        let time = match (&self.faketime, self.shifted_clock) {
            (Some(offset), _) => format!("{offset} (libfaketime), started {apart} s apart"),
            (None, false) => "real".to_string(),
            (None, true) => format!("real (no libfaketime), started {apart} s apart"),
        };
        BTreeMap::from([
            ("aslr", if self.no_randomize { "disabled" } else { "enabled" }.to_string()),
            ("build_path", self.build_dir.clone()),
            ("domain_host", format!("{} / {}", self.hostname, self.domainname)),
            ("environment", env("REPROCHECK_CAPTURE_ENVIRONMENT")),
            ("exec_path", env("PATH")),
            (
                "fileordering",
                match (self.host_build_dir, self.disorderfs) {
                    (_, true) => "disorderfs, reversed dirents (host dir)",
                    (true, false) => "plain (host dir)",
                    (false, false) => "plain",
                }
                .to_string(),
            ),
            ("home", env("HOME")),
            ("kernel", if self.uname26 { "2.6 (setarch --uname-2.6)" } else { "native" }.to_string()),
            (
                "locales",
                format!("LANG={} LC_ALL={} LANGUAGE={}", env("LANG"), env("LC_ALL"), env("LANGUAGE")),
            ),
            ("num_cpus", self.cpuset.as_ref().map_or("all".to_string(), |c| format!("cpuset {c}"))),
            ("time", time),
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
    /// Factors whose value differs between the control and the experiments.
    pub varied: Vec<String>,
    /// Requested factors that could not be applied, with the reason.
    pub not_applied: BTreeMap<String, String>,
    /// Applied factors with a limitation worth knowing.
    pub caveats: BTreeMap<String, String>,
    /// Host tools used to apply factors, with versions.
    pub tools: BTreeMap<String, String>,
}

/// Builds the plan for `runs` runs of `spec` on `image_id`, varying the
/// `requested` factors that `facts` says can be applied.
pub fn plan(
    spec: &Spec,
    source_date_epoch: Option<i64>,
    image_id: &str,
    run_id: &str,
    runs: u32,
    requested: Vec<String>,
    facts: &HostFacts,
) -> Plan {
    let mut env = BTreeMap::from([
        ("PATH".to_string(), CONTROL_PATH.to_string()),
        ("HOME".to_string(), "/nonexistent/first-build".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("LANGUAGE".to_string(), "en_US:en".to_string()),
        ("TZ".to_string(), "Etc/GMT+12".to_string()),
    ]);
    if let Some(epoch) = source_date_epoch {
        env.insert("SOURCE_DATE_EPOCH".to_string(), epoch.to_string());
    }
    env.extend(spec.build.env.clone());
    let baseline = RunPlan {
        index: 0,
        varied: Vec::new(),
        build_dir: format!("/build/{}", spec.name),
        uid: CONTROL_UID,
        umask: "0022".to_string(),
        hostname: "reprocheck".to_string(),
        domainname: "reprocheck.invalid".to_string(),
        env,
        pids_limit: spec.limits.pids,
        memory_bytes: spec.limits.memory_bytes,
        cpuset: None,
        uname26: false,
        no_randomize: false,
        faketime: None,
        shifted_clock: false,
        host_build_dir: false,
        disorderfs: false,
        binds: Vec::new(),
    };
    let mut not_applied = BTreeMap::new();
    let mut varied = Vec::new();
    for name in &requested {
        match factors::unavailable(name, facts) {
            Some(reason) => {
                not_applied.insert(name.clone(), reason);
            }
            None => varied.push(name.clone()),
        }
    }
    let caveats =
        varied.iter().filter_map(|name| factors::caveat(name, facts).map(|c| (name.clone(), c))).collect();
    let mut plan = Plan {
        run_id: run_id.to_string(),
        image_id: image_id.to_string(),
        command: spec.build.command.clone(),
        outputs: spec.build.outputs.clone(),
        timeout: spec.build.timeout,
        log_bytes: spec.limits.log_bytes,
        disk_bytes: spec.limits.disk_bytes,
        output_limits: crate::collect::Limits {
            max_total_bytes: spec.limits.output_bytes,
            max_entries: spec.limits.output_entries,
            collecting: crate::collect::Collecting::Outputs,
        },
        runs: Vec::new(),
        factors: FactorSummary { requested, varied, not_applied, caveats, tools: facts.tools.clone() },
        baseline,
        facts: facts.clone(),
    };
    // Run 1 is the control; every other run varies every applicable factor.
    plan.runs = (1..=runs)
        .map(|index| plan.run(index, if index == 1 { &[] } else { &plan.factors.varied }))
        .collect();
    plan
}

#[cfg(test)]
mod tests;
