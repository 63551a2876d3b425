use super::*;

fn spec() -> Spec {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    let text = format!(
        "[image]\ndigest = \"sha256:{}\"\n[source]\npath = \".\"\n[build]\ncommand = \"make\"\noutputs = [\"x\"]\nsource_date_epoch = 7\n",
        "a".repeat(64)
    );
    std::fs::write(&file, text).unwrap();
    crate::spec::load(&file, crate::spec::HostPaths::Confined).unwrap()
}

/// A prepared source whose epoch is 7, built at the top of its directory.
fn source() -> PreparedSource {
    PreparedSource {
        dir: ".".into(),
        working_subdir: None,
        directory: None,
        exclude: Vec::new(),
        source_date_epoch: Some(7),
        root_mtime: 7,
        newest_mtime: 7,
        info: crate::source::SourceInfo {
            kind: crate::source::SourceKind::Path,
            path: ".".into(),
            nar_hash: crate::digest::Digest::of_bytes(b""),
        },
    }
}

fn capable() -> HostFacts {
    HostFacts {
        cpus: 2,
        cpu_ids: vec![0, 1],
        can_set_uname26: true,
        can_disable_aslr: true,
        faketime_works: true,
        utime_now_works: true,
        locales_observed: true,
        timezone_observed: true,
        ..Default::default()
    }
}

fn all() -> Vec<FactorId> {
    FactorId::all().collect()
}

fn ids(names: &[&str]) -> Vec<FactorId> {
    names.iter().map(|n| FactorId::parse(n).unwrap()).collect()
}

fn id(name: &str) -> FactorId {
    FactorId::parse(name).unwrap()
}

#[test]
fn control_and_experiment_differ_in_every_applied_factor() {
    let p = plan(&spec(), &source(), "sha256:x", "id", 3, all(), &capable());
    let (control, experiment) = (p.runs[0].factor_values(), p.runs[1].factor_values());
    for name in &p.factors.varied {
        assert_ne!(control[name.name()], experiment[name.name()], "{name} must differ");
    }
    assert_eq!(p.runs[1].factor_values(), p.runs[2].factor_values(), "experiments are alike");
    assert_eq!(p.factors.not_applied.keys().copied().collect::<Vec<_>>(), ids(&["fileordering"]));
    assert_eq!(control["num_cpus"], "1 CPU");
    assert_eq!(p.runs[0].settings.env["SOURCE_DATE_EPOCH"], "7");
}

#[test]
fn unvaried_factors_keep_the_control_value_everywhere() {
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, ids(&["umask"]), &capable());
    let (a, b) = (p.runs[0].factor_values(), p.runs[1].factor_values());
    for name in FactorId::all().map(FactorId::name) {
        if name != "umask" {
            assert_eq!(a[name], b[name], "{name}");
        }
    }
    assert_eq!((a["umask"].as_str(), b["umask"].as_str()), ("0022", "0002"));
    // Not varied is not "left to the engine": every run takes the control value.
    for run in [&a, &b] {
        assert_eq!(run["num_cpus"], "1 CPU");
        assert_eq!(run["aslr"], "disabled");
        assert_eq!(run["time"], "real");
    }
}

#[test]
fn a_control_only_plan_takes_every_control_value() {
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, Vec::new(), &capable());
    let expected = Settings::control(&spec().name, &capable()).factor_values();
    for run in &p.runs {
        assert_eq!(run.factor_values(), expected);
        assert!(run.settings.no_randomize);
    }
    // One CPU each, but not the same one: two builds on one CPU take twice as long.
    let cpus: Vec<_> = p.runs.iter().map(|r| r.settings.cpuset.as_deref()).collect();
    assert_eq!(cpus, [Some("0"), Some("1")]);
    // An image that forbids setarch -R: the control cannot disable ASLR.
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, Vec::new(), &HostFacts::default());
    assert!(!p.runs[0].settings.no_randomize);
}

#[test]
fn unavailable_factors_are_reported_not_dropped() {
    let facts = HostFacts { cpus: 1, setarch_aslr_error: "EPERM".into(), ..Default::default() };
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, all(), &facts);
    for name in ["num_cpus", "kernel", "aslr", "fileordering"] {
        assert!(p.factors.not_applied.contains_key(&id(name)), "{name}");
        assert!(!p.factors.varied.contains(&id(name)), "{name}");
    }
    assert!(p.factors.caveats[&id("time")].contains("NOT shifted"));
    assert!(p.runs[1].settings.shifted_clock && !p.runs[0].settings.shifted_clock);
    assert_eq!(p.runs[1].settings.faketime, None);
}

#[test]
fn the_time_factor_never_fakes_stat_and_keeps_the_environment_equal() {
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, ids(&["time"]), &capable());
    let (control, experiment) = (&p.runs[0], &p.runs[1]);
    assert_eq!(control.settings.env, experiment.settings.env, "only the clock differs, not the environment");
    assert_eq!(control.settings.env.get("NO_FAKE_STAT").map(String::as_str), Some("1"));
    assert_eq!(experiment.settings.faketime.as_deref(), Some("+398d"));
    assert!(experiment.settings.shifted_clock && !control.settings.shifted_clock);
    let unvaried = plan(&spec(), &source(), "sha256:x", "id", 2, ids(&["umask"]), &capable());
    assert_eq!(unvaried.runs[0].settings.env, unvaried.runs[1].settings.env, "every run's is the same");
}

#[test]
fn argv_wraps_setarch_and_passes_the_command_unquoted() {
    let p = plan(&spec(), &source(), "sha256:x", "id", 2, ids(&["kernel", "aslr"]), &capable());
    let control = p.runs[0].argv("echo \"$HOME\" 'x'");
    assert_eq!(control[2], "umask 0022 && exec setarch \"$(uname -m)\" -R /bin/sh -c \"$1\" 2>&1");
    assert_eq!(control[4], "echo \"$HOME\" 'x'");
    let experiment = p.runs[1].argv("true");
    assert_eq!(
        experiment[2],
        "umask 0022 && exec setarch \"$(uname -m)\" --uname-2.6 /bin/sh -c \"$1\" 2>&1"
    );
}

#[test]
fn runs_at_the_cpu_control_take_the_engines_cpus_in_turn() {
    let facts = HostFacts { cpu_ids: vec![2, 5, 7], ..capable() };
    let p = plan(&spec(), &source(), "sha256:x", "id", 4, Vec::new(), &facts);
    let cpus: Vec<_> = p.runs.iter().map(|r| r.settings.cpuset.clone().unwrap()).collect();
    assert_eq!(cpus, ["2", "5", "7", "2"]);
    // Varied: the control has the first CPU, the experiments all of them.
    let p = plan(&spec(), &source(), "sha256:x", "id", 3, ids(&["num_cpus"]), &facts);
    let cpus: Vec<_> = p.runs.iter().map(|r| r.settings.cpuset.clone()).collect();
    assert_eq!(cpus, [Some("2".to_string()), None, None]);
    // Facts cached before the CPU list was probed: CPU 0, as before.
    assert_eq!(HostFacts::default().control_cpu(3), "0");
}
