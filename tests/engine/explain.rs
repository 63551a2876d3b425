//! End-to-end: `reprocheck explain` isolates the factors behind a difference.

use crate::common;

use common::*;

fn explain(fixture_name: &str) -> (std::process::Output, serde_json::Value) {
    let case = Case::new(fixture_name, SH_BUILD);
    let mut args = vec!["explain", case.spec.to_str().unwrap(), "--out", case.out.to_str().unwrap()];
    args.push("--json");
    let run = reprocheck(&args);
    let report = case.report();
    (run, report)
}

fn culprits(report: &serde_json::Value, path: &str) -> serde_json::Value {
    let blamed = report["explanation"]["blamed"].as_array().unwrap();
    let entry =
        blamed.iter().find(|b| b["path"] == path).unwrap_or_else(|| panic!("{path} not blamed: {report}"));
    entry["culprits"].clone()
}

#[test]
fn one_culprit_among_all_factors_in_at_most_six_builds() {
    let Some(_engine) = ready_engine() else { return };
    for (fixture_name, path, factor) in [
        ("leak-umask", "out/gen.tar", "umask"),
        ("leak-home", "out/home", "home"),
        ("leak-kernel", "out/kernel", "kernel"),
    ] {
        let (run, report) = explain(fixture_name);
        assert_eq!(run.status.code(), Some(1), "{}", show(&run));
        assert_eq!(culprits(&report, path), serde_json::json!([[factor]]), "{fixture_name}");
        let builds = report["explanation"]["builds"].as_u64().unwrap();
        assert!(builds <= 6, "{fixture_name}: {builds} builds, controls included");
        assert!(report["factors"]["varied"].as_array().unwrap().len() >= 12, "all factors were candidates");
        if fixture_name == "leak-umask" {
            let hints = &report["explanation"]["blamed"][0]["diff"]["hints"];
            assert_eq!(hints[0]["rule"], "mode", "the blamed output carries its diff and fix: {hints}");
        }
    }
}

#[test]
fn two_independent_culprits_in_one_output_are_both_found() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("leak-two");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    assert_eq!(culprits(&report, "out/both"), serde_json::json!([["home"], ["umask"]]));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("out/both: home; umask, independently"), "{stderr}");
}

#[test]
fn nondeterminism_is_reported_first_and_blames_no_factor() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("random");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    assert_eq!(report["explanation"]["nondeterministic"], serde_json::json!(["out/random.txt"]));
    assert_eq!(report["explanation"]["blamed"], serde_json::json!([]));
}

/// A build that fails under one factor: explain names the factor as a
/// finding (exit 1) instead of giving up on the failed build, and says how
/// to explain the outputs without it.
#[test]
fn the_factor_that_makes_the_build_fail_is_a_finding() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("fails-under-umask");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    assert_eq!(report["verdict"], "unreproducible");
    assert_eq!(report["explanation"]["fails_under"], serde_json::json!([["umask"]]), "{}", show(&run));
    assert_eq!(report["explanation"]["blamed"], serde_json::json!([]));
    let failure = report["explanation"]["failure"].as_str().unwrap();
    assert!(failure.contains("this build refuses umask 0002"), "{failure}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("the build FAILS when umask is varied"), "{stderr}");
    assert!(stderr.contains("--vary=-umask"), "{stderr}");
    // check says the control built and points at explain.
    let case = Case::new("fails-under-umask", SH_BUILD);
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("a varied factor makes the build fail"),
        "{}",
        show(&run)
    );
}

#[test]
fn a_clean_build_is_not_blamed_on_anything() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("clean");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["explanation"]["blamed"], serde_json::json!([]));
    assert_eq!(report["explanation"]["nondeterministic"], serde_json::json!([]));
}

/// `check --explain` starts from the check's control and all-factor run:
/// one culprit among every factor in 6 builds, the check's 2 included.
#[test]
fn check_with_explain_reuses_the_checks_runs_and_needs_six_builds_in_all() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("leak-user", SH_BUILD);
    let run = case.check(&["--explain"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("out/files.tar: user"), "{}", show(&run));
    let explained = report(&case.out.join("explain"));
    let explanation = &explained["explanation"];
    assert_eq!(explanation["blamed"][0]["culprits"], serde_json::json!([["user"]]));
    assert_eq!(explanation["reused"], 2, "the check's two runs are explain's first: {explanation}");
    let builds = explanation["builds"].as_u64().unwrap();
    assert!(builds <= 6, "{builds} builds, the check's included");
    let runs: Vec<u64> =
        explained["runs"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(runs.len() as u64, builds, "every build is in the report once: {runs:?}");
    assert!(
        case.out.join("explain/run-2/outputs/out/files.tar").exists(),
        "the reused run's files are linked"
    );
}

/// Every fix `check` suggested is still suggested by `check --explain`,
/// though the output also differs between two controls (the build records
/// the time to the nanosecond).
#[test]
fn check_with_explain_keeps_every_hint_the_check_found() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = reprocheck(&[
        "check",
        "specs/hello-unreproducible.toml",
        "--explain",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let rules = |hints: &serde_json::Value| -> Vec<String> {
        hints.as_array().into_iter().flatten().map(|h| h["rule"].as_str().unwrap().to_string()).collect()
    };
    let checked = report(&out);
    let mut found_by_check: Vec<String> = checked["comparison"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| rules(&d["diff"]["hints"]))
        .collect();
    found_by_check.sort();
    found_by_check.dedup();
    assert!(found_by_check.len() >= 3, "{found_by_check:?}");
    let explanation = &report(&out.join("explain"))["explanation"];
    let mut found_by_explain: Vec<String> = Vec::new();
    for blame in explanation["blamed"].as_array().unwrap() {
        found_by_explain.extend(rules(&blame["diff"]["hints"]));
        found_by_explain.extend(rules(&blame["more_hints"]));
    }
    for diff in explanation["nondeterministic_diffs"].as_array().unwrap() {
        found_by_explain.extend(rules(&diff["hints"]));
    }
    for rule in &found_by_check {
        assert!(found_by_explain.contains(rule), "{rule} is lost: {found_by_explain:?}\n{explanation}");
    }
    let blamed = explanation["blamed"].as_array().unwrap();
    assert!(
        blamed.iter().any(|b| b["path"] == "dist/hello-1.0.tar.gz" && b["beyond_nondeterminism"] == true),
        "factors are still found inside the nondeterministic tarball: {explanation}"
    );
}

/// One output, two causes: a line that differs in every build and a line
/// that differs only with build_path. Both are named.
#[test]
fn two_causes_inside_one_output_are_both_named() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("leak-two-causes");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let explanation = &report["explanation"];
    assert_eq!(explanation["nondeterministic"], serde_json::json!(["out/info.txt"]), "{explanation}");
    assert_eq!(explanation["nondeterministic_places"]["out/info.txt"], serde_json::json!(["text: line 1"]));
    assert_eq!(culprits(&report, "out/info.txt"), serde_json::json!([["build_path"]]));
    let blame = &explanation["blamed"][0];
    assert_eq!(blame["beyond_nondeterminism"], true);
    assert_eq!(blame["places"], serde_json::json!(["text: line 2"]));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("out/info.txt: build_path, beyond its nondeterministic part"), "{stderr}");
}

/// A tarball of files the build just wrote records the real time. Varying
/// time (398 days) makes it differ every time, so `time` is blamed, unless
/// the two controls happened to straddle a second, or builds of a later
/// round did (which shows as several causes, so explain builds two controls
/// 1.1 s apart): then the output is, correctly, nondeterministic even
/// without variation, and no factor is blamed beyond time for the entries
/// the controls agree on. Either way the diff names the tar entry's mtime and the fix.
#[test]
fn tar_mtime_leak_is_blamed_on_time_with_the_entry_field_and_fix() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("leak-time-mtime");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let explanation = &report["explanation"];
    let diff = if explanation["nondeterministic"] == serde_json::json!(["out/gen.tar"]) {
        // The controls straddled a second for some entries only (a loaded
        // machine, a traced build): time may still be blamed for the
        // others, as beyond the nondeterministic part, and for nothing else.
        for blame in explanation["blamed"].as_array().unwrap() {
            assert_eq!(blame["path"], "out/gen.tar", "{explanation}");
            assert_eq!(blame["beyond_nondeterminism"], true, "{explanation}");
            assert_eq!(blame["culprits"], serde_json::json!([["time"]]), "{explanation}");
        }
        explanation["nondeterministic_diffs"][0].clone()
    } else {
        assert_eq!(culprits(&report, "out/gen.tar"), serde_json::json!([["time"]]));
        explanation["blamed"][0]["diff"].clone()
    };
    let details = diff["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["scope"].as_str().unwrap().starts_with("tar entry gen/") && d["field"] == "mtime"),
        "the diff names the tar entry and its mtime: {details:?}"
    );
    assert_eq!(diff["hints"][0]["rule"], "tar-mtime");
    assert!(diff["hints"][0]["fix"].as_str().unwrap().contains("--clamp-mtime"));
}
