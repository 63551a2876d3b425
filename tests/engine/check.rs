//! End-to-end: `reprocheck check` against the real engine.

use crate::common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn reproducible_build_exits_0_and_nar_hash_matches_nix_hash() {
    let Some(engine) = ready_engine() else { return };
    let case = Case::new("clean", SH_BUILD);
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("REPRODUCIBLE"), "{}", show(&run));

    let report = case.report();
    assert_eq!(report["verdict"], "reproducible");
    assert_eq!(report["image"]["id"], pinned_digest());
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let outputs = &runs[0]["outputs"];
    assert_eq!(outputs["out/tool.sh"]["executable"], true);
    assert_eq!(outputs["out/a.txt"]["executable"], false);
    assert_eq!(outputs["out/link"]["target"], "a.txt");
    assert_eq!(outputs["out/abs-link"]["target"], "/etc");
    assert_eq!(outputs["out/empty"]["size"], 0);
    assert!(std::fs::symlink_metadata(case.out.join("run-1/outputs/out/abs-link")).unwrap().is_symlink());
    assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);

    for run in runs {
        let dir = case.out.join(run["outputs_dir"].as_str().unwrap());
        let nix = std::process::Command::new("nix-hash")
            .args(["--type", "sha256"])
            .arg(&dir)
            .output()
            .expect("nix-hash (Debian package nix-bin) must be installed");
        assert!(nix.status.success(), "{}", show(&nix));
        let expected = format!("sha256:{}", String::from_utf8_lossy(&nix.stdout).trim());
        assert_eq!(run["nar_hash"], expected.as_str(), "NAR hash of {}", dir.display());
    }
}

#[test]
fn nondeterministic_build_exits_1_naming_the_output() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("random", "command = \"sh build.sh\"\noutputs = [\"out/*\"]");
    let run = case.check(&["--runs", "3"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("UNREPRODUCIBLE"), "{}", show(&run));
    assert!(stdout.contains("out/random.txt"), "{}", show(&run));
    assert!(!stdout.contains("out/stable.txt"), "{}", show(&run));

    let report = case.report();
    assert_eq!(report["verdict"], "unreproducible");
    let diffs = report["comparison"]["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0]["path"], "out/random.txt");
    assert_eq!(diffs[0]["variants"].as_array().unwrap().len(), 3, "three random runs, three variants");
}

#[test]
fn example_specs_give_their_verdicts() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (spec, code, fragment) in [
        ("specs/hello.toml", 0, "REPRODUCIBLE"),
        ("specs/hello-unreproducible.toml", 1, "dist/hello-1.0.tar.gz"),
    ] {
        let out = tmp.path().join(code.to_string());
        let run = reprocheck(&["check", spec, "--out", out.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(code), "{spec}: {}", show(&run));
        assert!(String::from_utf8_lossy(&run.stdout).contains(fragment), "{spec}: {}", show(&run));
    }
    // The unreproducible example is diagnosed: tar metadata, with the fixes.
    let report = report(&tmp.path().join("1"));
    let tarball = report["comparison"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "dist/hello-1.0.tar.gz")
        .expect("the tarball differs")
        .clone();
    assert_eq!(tarball["diff"]["format"], "tar+gzip");
    let rules: Vec<&str> =
        tarball["diff"]["hints"].as_array().unwrap().iter().map(|h| h["rule"].as_str().unwrap()).collect();
    let varied = report["factors"]["varied"].as_array().unwrap();
    let mut expected = vec!["tar-owner", "mode"];
    // Order is only perturbed where fileordering can be applied.
    if varied.iter().any(|f| f == "fileordering") {
        expected.push("tar-order");
    }
    for rule in expected {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    // The members' times are the build's clock: the diff shows them when
    // the runs wrote different seconds, the clock finding always does.
    let clock = report["comparison"]["clock"].as_array().expect("the tarball holds the build's clock");
    let stamps: Vec<&serde_json::Value> =
        clock.iter().flat_map(|run| run["stamps"].as_array().unwrap()).collect();
    assert!(
        stamps.iter().any(|s| s["output"] == "dist/hello-1.0.tar.gz"
            && s["place"].as_str().unwrap().starts_with("dist/hello-1.0.tar.gz > ")
            && s["fix"].as_str().unwrap().contains("--clamp-mtime")),
        "{stamps:?}"
    );
}

#[test]
fn failing_build_exits_2_with_log_tail_and_no_container_left() {
    let Some(engine) = ready_engine() else { return };
    let case = Case::new("failing", SH_BUILD);
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("failed with exit code 3"), "{}", show(&run));
    assert!(stderr.contains("error: the answer is not 42"), "{}", show(&run));
    let report = case.report();
    assert_eq!(report["verdict"], "error");
    assert_eq!(report["runs"][0]["status"], "failed");
    assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);
    assert!(case.out.join("run-1/build.log").is_file(), "logs are kept for failed runs");
}

/// A silent failure says so, and a glob that matches nothing names the run once.
#[test]
fn silent_failures_and_empty_globs_read_plainly() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let silent = write_spec(tmp.path(), "silent", &src, "command = \"exit 4\"\noutputs = [\"out\"]");
    let run =
        reprocheck(&["check", silent.to_str().unwrap(), "--out", tmp.path().join("a").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("failed with exit code 4") && stderr.contains("printed nothing"), "{stderr}");
    let empty = write_spec(tmp.path(), "empty", &src, "command = \"true\"\noutputs = [\"nothing/*\"]");
    let run =
        reprocheck(&["check", empty.to_str().unwrap(), "--out", tmp.path().join("b").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no file matched build.outputs"), "{stderr}");
    assert!(!stderr.contains("run 1: run 1:"), "the run is named once: {stderr}");
}

#[test]
fn timeout_kills_the_run_and_exits_2() {
    let Some(engine) = ready_engine() else { return };
    let case = Case::new("sleeper", "command = \"sh build.sh\"\noutputs = [\"out\"]\ntimeout = \"2s\"");
    let started = Instant::now();
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(started.elapsed() < Duration::from_secs(60), "the timeout must stop the run");
    assert!(String::from_utf8_lossy(&run.stderr).contains("timed out after 2s"), "{}", show(&run));
    let report = case.report();
    assert_eq!(report["runs"][0]["status"], "timed_out");
    assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);
}

#[test]
fn hostile_fifo_output_fails_the_run_cleanly() {
    let Some(engine) = ready_engine() else { return };
    let case = Case::new("fifo", "command = \"sh build.sh\"\noutputs = [\"out/**\"]");
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("out/pipe is a FIFO"), "{}", show(&run));
    assert!(!case.out.join("run-1/outputs/out/pipe").exists());
    assert_eq!(leftovers(&engine, case.report()["run_id"].as_str().unwrap()), 0);
}

#[test]
fn builds_are_hermetic() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("probe", "command = \"sh build.sh\"\noutputs = [\"out/*\"]");
    // Control-only runs: this fixture records the very things factors vary.
    let run = case.check_cmd(&["--vary", "none"]).env("REPROCHECK_HOST_MARKER", "leaked").output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let read = |name: &str| std::fs::read_to_string(case.out.join("run-1/outputs/out").join(name)).unwrap();
    let env = read("env.txt");
    assert!(!env.contains("REPROCHECK_HOST_MARKER"), "host environment leaked:\n{env}");
    assert!(env.contains("HOME=/nonexistent/first-build"), "{env}");
    assert_eq!(read("capeff.txt").trim(), "0000000000000000", "capabilities must be dropped");
    assert_eq!(read("nonewprivs.txt").trim(), "1");
    assert_eq!(read("net.txt").trim(), "lo", "only loopback: network mode none");
    assert_eq!(read("uid.txt").trim(), "1111");
    assert_eq!(read("umask.txt").trim(), "0022");
    assert_eq!(read("pwd.txt").trim(), "/build/probe");
    assert_eq!(read("socket.txt").trim(), "no", "the engine socket must not be reachable");
}

#[test]
fn builds_cannot_open_tcp_connections_even_to_host_loopback() {
    let Some(_engine) = ready_engine() else { return };
    // A listener on the host's loopback: the build must not reach it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let control = if port == 45678 { 45679 } else { 45678 };
    let build = format!("{SH_BUILD}\nenv = {{ HOST_PORT = \"{port}\", CONTROL_PORT = \"{control}\" }}");
    let case = Case::new("network", &build);
    let run = case.check(&["--vary", "none"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let net = std::fs::read_to_string(case.out.join("run-1/outputs/out/net.txt")).unwrap();
    let expected = format!("127.0.0.1/{control} connected\n127.0.0.1/{port} failed\n1.1.1.1/80 failed\n");
    assert_eq!(net, expected, "the first line is the control: TCP itself works inside");
    assert!(listener.accept().is_err(), "the host listener saw a connection");
}

#[test]
fn builds_cannot_write_into_the_source_tree() {
    let Some(_engine) = ready_engine() else { return };
    let source = fixture("writer");
    let before = std::fs::read_to_string(source.join("build.sh")).unwrap();
    // Every factor: fileordering mounts a scratch copy as the build dir.
    let case = Case::new("writer", SH_BUILD);
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(std::fs::read_to_string(source.join("build.sh")).unwrap(), before);
    assert!(!source.join("written-by-build").exists(), "the build wrote into the user's tree");
}

#[test]
fn diffoscope_runs_when_asked_and_its_absence_is_not_an_error() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("random", SH_BUILD);
    let run = case.check(&["--vary", "none", "--diffoscope"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let ds = &case.report()["comparison"]["differences"][0]["diffoscope"];
    assert_eq!(ds["status"], "differences", "diffoscope (Debian diffoscope-minimal) must be installed: {ds}");
    let text = std::fs::read_to_string(case.out.join(ds["text"].as_str().unwrap())).unwrap();
    assert!(text.contains("random.txt"), "{text}");
    assert!(case.out.join(ds["html"].as_str().unwrap()).is_file());

    let without = Case::new("random", SH_BUILD);
    let run =
        without.check_cmd(&["--vary", "none", "--diffoscope"]).env("PATH", "/nonexistent").output().unwrap();
    assert_eq!(run.status.code(), Some(1), "a missing diffoscope is reported, not an error: {}", show(&run));
    let ds = &without.report()["comparison"]["differences"][0]["diffoscope"];
    assert!(ds["status"].as_str().unwrap().starts_with("not installed"), "{ds}");
}

/// Issue 31: outputs that differ only in a setuid bit, a 0666 against a
/// 0644 mode and an extra empty directory are not reproducible, and the
/// summary prints no NAR hash as if the runs shared one.
#[test]
fn a_setuid_bit_a_mode_and_an_empty_directory_make_outputs_differ() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("modes", SH_BUILD);
    let run = case.check(&["--vary", "umask"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("UNREPRODUCIBLE"), "{}", show(&run));
    assert!(!stdout.contains("NAR sha256"), "no NAR is printed as shared: {}", show(&run));
    let report = case.report();
    let paths: Vec<&str> = report["comparison"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["out/data", "out/extra", "out/tool"], "{}", show(&run));
    let runs = report["runs"].as_array().unwrap();
    assert_ne!(runs[0]["nar_hash"], runs[1]["nar_hash"], "the empty directory is in the NAR");
    assert_eq!(runs[1]["outputs"]["out/tool"]["mode"], "4755");
    assert_eq!(runs[1]["outputs"]["out/data"]["mode"], "0666");
    assert_eq!(runs[1]["outputs"]["out/extra"]["type"], "directory");
}
