//! Turns a spec into concrete runs: the environment, user, paths, mounts and
//! limits of every container.
//!
//! Run 1 is the control: every factor at its control value. Every other run
//! is an experiment: each varied factor at its experiment value, every other
//! factor at its control value (so a factor that is not varied is not noise). Factors that
//! cannot be applied here are listed with the reason, never dropped silently.

use crate::engine::placed::PlacedFile;
use crate::engine::Bind;
use crate::factors::{FactorId, HostFacts, Settings};
use crate::source::PreparedSource;
use crate::spec::Spec;
use std::collections::BTreeMap;
use std::time::Duration;

/// All runs of one invocation.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Unique id of this invocation; the value of every container's label.
    pub run_id: String,
    /// The verified image id containers are created from.
    pub image_id: String,
    /// `/bin/sh -c` command.
    pub command: String,
    /// Where in the build directory the command runs, when not at its top
    /// (a `dsc` source's unpacked tree).
    pub working_subdir: Option<String>,
    /// Output globs, compiled.
    pub outputs: crate::collect::OutputGlobs,
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
    /// Every factor at its control value: run 1, and what experiments start from.
    control: RunPlan,
    /// What the host and image can do.
    facts: HostFacts,
}

impl Plan {
    /// What the host and image can do, as probed.
    pub fn facts(&self) -> &HostFacts {
        &self.facts
    }

    /// Traces every run, planned now or later (`--trace`).
    pub fn trace_every_run(&mut self) {
        self.control.trace = true;
        for run in &mut self.runs {
            run.trace = true;
        }
    }

    /// A run that takes the experiment value of the factors in `experiment`
    /// (a subset of the varied factors) and the control value of the rest.
    pub fn run(&self, index: u32, experiment: &[FactorId]) -> RunPlan {
        let mut run = RunPlan { index, varied: experiment.to_vec(), ..self.control.clone() };
        for factor in experiment {
            (factor.factor().set_experiment)(&mut run.settings, &self.facts);
        }
        if run.settings.cpuset.is_some() {
            run.settings.cpuset = Some(self.facts.control_cpu(index));
        }
        run
    }
}

/// One container's environment (report.json shows it as a run's
/// `environment`, see `report::runs`).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// 1-based run number.
    pub index: u32,
    /// The factors that take their experiment value in this run (none: the control).
    pub varied: Vec<FactorId>,
    /// What the factors set: paths, user, umask, names, environment, CPUs,
    /// personality, clock and build directory mount.
    pub settings: Settings,
    /// Process limit.
    pub pids_limit: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// Host paths mounted into the container.
    pub binds: Vec<Bind>,
    /// Files uploaded into the container before it starts.
    pub files: Vec<PlacedFile>,
    /// Whether the build runs under the tracer (`--trace`, see [`crate::trace`]).
    pub trace: bool,
}

impl RunPlan {
    /// The argument vector: set the umask, set the personality with setarch
    /// when asked, then hand the command to `sh -c`; all of it under the
    /// tracer when the run is traced. The command travels as
    /// `$1`, so it is never re-quoted; stderr joins stdout so the saved log
    /// keeps the order the lines were written in.
    pub fn argv(&self, command: &str) -> Vec<String> {
        let mut setarch = String::new();
        if self.settings.uname26 || self.settings.no_randomize {
            setarch.push_str("setarch \"$(uname -m)\"");
            if self.settings.uname26 {
                setarch.push_str(" --uname-2.6");
            }
            if self.settings.no_randomize {
                setarch.push_str(" -R");
            }
            setarch.push(' ');
        }
        let argv = vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("umask {} && exec {setarch}/bin/sh -c \"$1\" 2>&1", self.settings.umask),
            "reprocheck-build".into(),
            command.into(),
        ];
        match self.trace {
            true => crate::trace::traced_argv(argv, &self.settings.build_dir),
            false => argv,
        }
    }

    /// The value this run gives each factor, by factor name: what the report
    /// shows per run, so the runs can be read side by side.
    pub fn factor_values(&self) -> BTreeMap<&'static str, String> {
        self.settings.factor_values()
    }
}

/// Which factors were asked for and which were applied (report.json's
/// `factors`, see `report::inputs`).
#[derive(Debug, Clone)]
pub struct FactorSummary {
    /// Factors the spec or the command line asked for.
    pub requested: Vec<FactorId>,
    /// Factors whose value differs between the control and the experiments.
    pub varied: Vec<FactorId>,
    /// Requested factors that could not be applied, with the reason.
    pub not_applied: BTreeMap<FactorId, String>,
    /// Applied factors with a limitation worth knowing.
    pub caveats: BTreeMap<FactorId, String>,
    /// Host tools used to apply factors, with versions.
    pub tools: BTreeMap<String, String>,
}

/// Builds the plan for `runs` runs of `spec` on `image_id`, varying the
/// `requested` factors that `facts` says can be applied.
pub fn plan(
    spec: &Spec,
    source: &PreparedSource,
    image_id: &str,
    run_id: &str,
    runs: u32,
    requested: Vec<FactorId>,
    facts: &HostFacts,
) -> Plan {
    let mut settings = Settings::control(&spec.name, facts);
    if let Some(epoch) = source.source_date_epoch {
        settings.set_env("SOURCE_DATE_EPOCH", &epoch.to_string());
    }
    settings.env.extend(spec.build.env.clone());
    let control = RunPlan {
        index: 0,
        varied: Vec::new(),
        settings,
        pids_limit: spec.limits.pids,
        memory_bytes: spec.limits.memory_bytes,
        binds: Vec::new(),
        files: Vec::new(),
        trace: false,
    };
    let mut not_applied = BTreeMap::new();
    let mut varied = Vec::new();
    for &id in &requested {
        match (id.factor().unavailable)(facts) {
            Some(reason) => {
                not_applied.insert(id, reason);
            }
            None => varied.push(id),
        }
    }
    let caveats =
        varied.iter().filter_map(|&id| (id.factor().caveat)(facts).map(|caveat| (id, caveat))).collect();
    let mut plan = Plan {
        run_id: run_id.to_string(),
        image_id: image_id.to_string(),
        command: spec.build.command.clone(),
        working_subdir: source.working_subdir.clone(),
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
        control,
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
