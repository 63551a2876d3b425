//! The detection matrix: one fixture per factor, each leaking exactly that
//! factor. Varying only the factor must flag the build (exit 1); varying
//! every other factor must not (exit 0), which shows the fixture leaks
//! nothing else.

mod common;

use common::*;
use std::process::Output;

fn check(fixture_name: &str, vary: &str) -> (Output, serde_json::Value) {
    let case = Case::new(fixture_name, SH_BUILD);
    let run = case.check(&["--vary", vary]);
    (run, case.report())
}

/// Returns the reason when this host or image cannot apply `factor`.
fn not_applied(report: &serde_json::Value, factor: &str) -> Option<String> {
    report["factors"]["not_applied"][factor].as_str().map(str::to_string)
}

fn detects(fixture_name: &str, factor: &str) {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check(fixture_name, factor);
    if let Some(reason) = not_applied(&report, factor) {
        // Only what is known to be impossible on this engine may be missing.
        let allowed: &[&str] = &[];
        assert!(allowed.contains(&factor), "{factor} must be applied on this engine, but: {reason}");
        // Not silently skipped: the report and the terminal say why.
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains(&format!("not varied: {factor}: ")), "{}", show(&run));
        eprintln!("NOT APPLICABLE here: {factor}: {reason}");
        return;
    }
    assert_eq!(run.status.code(), Some(1), "varying {factor} must flag {fixture_name}: {}", show(&run));
    assert_eq!(report["factors"]["varied"], serde_json::json!([factor]));
    let runs = report["runs"].as_array().unwrap();
    assert_ne!(runs[0]["factors"][factor], runs[1]["factors"][factor], "the report shows both values");
}

fn leaks_nothing_else(fixture_name: &str, factor: &str) {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check(fixture_name, &format!("-{factor}"));
    assert_eq!(
        run.status.code(),
        Some(0),
        "every factor but {factor} must pass {fixture_name}: {}",
        show(&run)
    );
    assert!(!report["factors"]["varied"].as_array().unwrap().iter().any(|v| v == factor));
}

macro_rules! matrix {
    ($($test:ident: $fixture:literal, $factor:literal;)*) => {
        mod matrix {
            use super::*;
            $(
                #[test]
                fn $test() {
                    detects($fixture, $factor);
                    leaks_nothing_else($fixture, $factor);
                }
            )*
        }
    };
}

matrix! {
    environment: "leak-environment", "environment";
    build_path: "leak-build_path", "build_path";
    user: "leak-user", "user";
    umask: "leak-umask", "umask";
    locales: "leak-locales", "locales";
    timezone: "leak-timezone", "timezone";
    home: "leak-home", "home";
    exec_path: "leak-exec_path", "exec_path";
    domain_host: "leak-domain_host", "domain_host";
    num_cpus: "leak-num_cpus", "num_cpus";
    kernel: "leak-kernel", "kernel";
    fileordering: "leak-fileordering", "fileordering";
    time_date: "leak-time-date", "time";
}

// Engines' default seccomp profiles forbid personality(ADDR_NO_RANDOMIZE);
// reprocheck's own profile allows it, so ASLR is varied on Docker and Podman.
#[test]
fn aslr_is_detected_and_off_in_the_control() {
    let Some(_engine) = ready_engine() else { return };
    detects("leak-aslr", "aslr");
    // With ASLR off the stack sits at the same address in every control run
    // (the fixture's leak is the address; enabled, it is random each time).
    let control_stack = || {
        let case = Case::new("leak-aslr", SH_BUILD);
        let run = case.check(&["--vary", "aslr"]);
        assert_eq!(case.report()["runs"][0]["factors"]["aslr"], "disabled", "{}", show(&run));
        std::fs::read_to_string(case.out.join("run-1/outputs/out/stack")).expect("the control's output")
    };
    assert_eq!(control_stack(), control_stack());
}

/// The tar case reprotest misses when runs share a second: files the build
/// writes get real mtimes, and tar records them. Varying time must catch it
/// every time, also with runs started together.
#[test]
fn tar_mtime_leak_is_caught_ten_times_out_of_ten() {
    let Some(_engine) = ready_engine() else { return };
    for attempt in 1..=10 {
        let (run, _) = check("leak-time-mtime", "time");
        assert_eq!(run.status.code(), Some(1), "attempt {attempt}: {}", show(&run));
    }
}

#[test]
fn clean_fixture_passes_with_every_factor() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("clean", &reprocheck::factors::NAMES.join(","));
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let varied = report["factors"]["varied"].as_array().unwrap().len();
    let not_applied = report["factors"]["not_applied"].as_object().unwrap().len();
    assert_eq!(varied + not_applied, reprocheck::factors::NAMES.len(), "every factor is accounted for");
}

#[test]
fn control_only_rerun_varies_nothing() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("leak-home", "none");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["factors"]["varied"], serde_json::json!([]));
    let (run, _) = check("random", "none");
    assert_eq!(run.status.code(), Some(1), "nondeterminism shows without any variation: {}", show(&run));
}

/// A build that keeps or clamps the mtimes of its *source* files is
/// reproducible: the time factor must shift the clock, never the mtimes the
/// build reads. SOURCE_DATE_EPOCH (2100) is newer than every source file, so
/// --clamp-mtime keeps their real mtimes, as it does for a release tarball
/// of old files.
#[test]
fn preserved_and_clamped_source_mtimes_pass_with_every_factor() {
    let Some(_engine) = ready_engine() else { return };
    let build = format!("{SH_BUILD}\nsource_date_epoch = 4102444800");
    let case = Case::new("time-preserve-source", &build);
    let run = case.check(&["--vary", &reprocheck::factors::NAMES.join(",")]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    assert!(report["factors"]["varied"].as_array().unwrap().iter().any(|f| f == "time"), "{report}");
}
