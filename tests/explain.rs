//! End-to-end: `reprocheck explain` isolates the factors behind a difference.

mod common;

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

#[test]
fn a_clean_build_is_not_blamed_on_anything() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("clean");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["explanation"]["blamed"], serde_json::json!([]));
    assert_eq!(report["explanation"]["nondeterministic"], serde_json::json!([]));
}

#[test]
fn check_with_explain_explains_after_a_difference() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("leak-user", SH_BUILD);
    let run = case.check(&["--explain"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("out/files.tar: user"), "{}", show(&run));
    let explained = report(&case.out.join("explain"));
    assert_eq!(explained["explanation"]["blamed"][0]["culprits"], serde_json::json!([["user"]]));
}

/// A tarball of files the build just wrote records the real time. Varying
/// time (398 days) makes it differ every time, so `time` is blamed, unless
/// the two controls happened to straddle a second, or builds of a later
/// round did (which shows as several causes, so explain builds two controls
/// 1.1 s apart): then the output is, correctly, nondeterministic even
/// without variation, and no factor is blamed. Either way the diff names the tar entry's mtime and the fix.
#[test]
fn tar_mtime_leak_is_blamed_on_time_with_the_entry_field_and_fix() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = explain("leak-time-mtime");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let explanation = &report["explanation"];
    let diff = if explanation["nondeterministic"] == serde_json::json!(["out/gen.tar"]) {
        assert_eq!(explanation["blamed"], serde_json::json!([]), "no factor blamed for nondeterminism");
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
