//! End-to-end: pinning, image checks, bad input and interruption.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

#[test]
fn bad_spec_exits_2_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("bad.toml");
    std::fs::write(&spec, "[image]\ndigest = \"sha256:ABC\"\n[source]\npath = \".\"\n[build]\ncommand = \"make\"\noutputs = [\"x\"]\n").unwrap();
    let run = reprocheck(&["check", spec.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("{}:2:10: digest `sha256:ABC` has 3 hex digits", spec.display())),
        "{stderr}"
    );
    assert!(stderr.contains("help:"), "{stderr}");
}

#[test]
fn unreachable_engine_fails_fast_with_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "clean", &fixture("clean"), "command = \"true\"\noutputs = [\"out\"]");
    let started = Instant::now();
    let run =
        reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()])
            .env("DOCKER_HOST", format!("unix://{}/no-engine.sock", tmp.path().display()))
            .output()
            .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cannot reach a container engine"), "{stderr}");
    assert!(stderr.contains("DOCKER_HOST"), "{stderr}");

    // --engine-socket wins over DOCKER_HOST (here a working one, if any).
    let socket = tmp.path().join("flag.sock");
    let out = tmp.path().join("o2");
    let run = reprocheck(&[
        "--engine-socket",
        socket.to_str().unwrap(),
        "check",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&format!("unix://{}", socket.display())), "the flag's socket is named: {stderr}");
}

#[test]
fn missing_or_mismatched_image_exits_2_and_never_uses_the_tag() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("clean", SH_BUILD);
    let text = std::fs::read_to_string(&case.spec).unwrap();
    std::fs::write(&case.spec, text.replace(&pinned_digest(), &format!("sha256:{}", "0".repeat(64))))
        .unwrap();
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("which the engine does not have"), "{stderr}");
    // The tag exists locally (the test image), but it is a different image.
    assert!(stderr.contains("it was NOT used"), "{stderr}");
    assert!(stderr.contains("reprocheck lock"), "{stderr}");
    let report = case.report();
    assert_eq!(report["verdict"], "error");
    assert!(report["runs"].as_array().unwrap().is_empty(), "no run may start");
}

#[test]
fn lock_pins_and_locked_refuses_a_change() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("s.toml");
    let unpinned = format!(
        "# my spec\n[image]\nname = \"reprocheck/debian-trixie\"  # toolchain\n[source]\npath = \"{}\"\n[build]\ncommand = \"true\"\noutputs = [\"out\"]\n",
        source_beside(tmp.path(), "clean", &fixture("clean")).display()
    );
    std::fs::write(&spec, &unpinned).unwrap();
    let s = spec.to_str().unwrap();

    let run = reprocheck(&["lock", s, "--locked"]);
    assert_eq!(run.status.code(), Some(2), "--locked must not add a pin: {}", show(&run));
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), unpinned);

    let run = reprocheck(&["lock", s]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let pinned = std::fs::read_to_string(&spec).unwrap();
    assert!(pinned.starts_with("# my spec\n"), "comments survive: {pinned}");
    assert!(pinned.contains(&format!("digest = \"{}\"", pinned_digest())), "{pinned}");
    let nix = std::process::Command::new("nix-hash")
        .args(["--type", "sha256"])
        .arg(fixture("clean"))
        .output()
        .expect("nix-hash (Debian's nix-bin) is needed to cross-check the source pin");
    let nar = format!("nar_hash = \"sha256:{}\"", String::from_utf8_lossy(&nix.stdout).trim());
    assert!(pinned.contains(&nar), "lock pins the source as nix-hash sees it: {pinned}");

    let run = reprocheck(&["lock", s, "--locked"]);
    assert_eq!(run.status.code(), Some(0), "an unchanged pin passes --locked: {}", show(&run));

    let stale = pinned.replace(&pinned_digest(), &format!("sha256:{}", "1".repeat(64)));
    std::fs::write(&spec, &stale).unwrap();
    let run = reprocheck(&["lock", s, "--locked"]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--locked refuses"), "{}", show(&run));
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), stale);
}

#[test]
fn results_directories_inside_a_path_source_are_never_part_of_it() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::copy(fixture("clean").join("build.sh"), project.join("build.sh")).unwrap();
    let nix = std::process::Command::new("nix-hash")
        .args(["--type", "sha256"])
        .arg(&project)
        .output()
        .expect("nix-hash (Debian's nix-bin) is needed to cross-check the source pin");
    let tree = format!("sha256:{}", String::from_utf8_lossy(&nix.stdout).trim());
    let spec = write_spec(
        tmp.path(),
        "inside",
        &project,
        "command = \"test ! -e reprocheck-out && test ! -e results && sh build.sh\"\noutputs = [\"out\"]",
    );
    let s = spec.to_str().unwrap();

    // A check run from inside the project leaves project/reprocheck-out/inside.
    let run = reprocheck_cmd(&["check", s, "--vary", "none"]).current_dir(&project).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(project.join("reprocheck-out/inside/report.json").exists());
    // `lock` from elsewhere pins the tree without it.
    let run = reprocheck(&["lock", s]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let pinned = std::fs::read_to_string(&spec).unwrap();
    assert!(pinned.contains(&format!("nar_hash = \"{tree}\"")), "{tree} expected: {pinned}");
    // A check from a third directory, with its results inside the project too,
    // matches that pin, and the build sees neither results directory.
    let out = project.join("results");
    let run = reprocheck_cmd(&["check", s, "--vary", "none", "--out", out.to_str().unwrap()])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report(&out)["source"]["nar_hash"], tree.as_str());
}

#[test]
fn a_second_check_on_the_same_results_directory_is_refused_untouched() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("clean", "command = \"sleep 4 && sh build.sh\"\noutputs = [\"out\"]");
    let first = case.check_cmd(&["--vary", "none"]).spawn().unwrap();
    // Wait until the first holds the directory.
    let lock = case.out.join(".reprocheck.lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = case.check(&["--vary", "none"]);
    assert_eq!(second.status.code(), Some(2), "{}", show(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another reprocheck is writing"),
        "{}",
        show(&second)
    );
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "the first check is undisturbed: {}", show(&first));
    assert_eq!(case.report()["verdict"], "reproducible");
}

#[test]
fn sigint_during_a_build_leaves_no_container() {
    let Some(engine) = ready_engine() else { return };
    let case = Case::new("sleeper", SH_BUILD);
    let mut child = case.check_cmd(&[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let run_id =
        line.split_whitespace().nth(2).expect("status line names the run").trim_end_matches(':').to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while leftovers(&engine, &run_id) < 2 {
        assert!(Instant::now() < deadline, "containers of {run_id} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(2), "{rest}");
    assert!(rest.contains("interrupted by SIGINT"), "{rest}");
    assert_eq!(leftovers(&engine, &run_id), 0, "containers left behind after SIGINT");
    let mounts = mounts_of_run(&run_id);
    assert!(mounts.is_empty(), "mounts of {run_id} left behind after SIGINT: {mounts:?}");
    assert_eq!(case.report()["verdict"], "error");
}

/// Counts the spec allows are enforced on the command line too.
#[test]
fn out_of_range_runs_and_jobs_are_refused_before_anything_runs() {
    for args in [
        ["check", "specs/hello.toml", "--runs", "65"],
        ["check", "specs/hello.toml", "--runs", "1"],
        ["check", "specs/hello.toml", "--jobs", "0"],
        ["verify", "specs/hello.toml", "--runs", "0"],
    ] {
        let run = reprocheck(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", show(&run));
        assert!(String::from_utf8_lossy(&run.stderr).contains("not in"), "{args:?}: {}", show(&run));
    }
}

/// `-q`: the result only, not what was varied.
#[test]
fn quiet_prints_only_the_result() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::new("clean", SH_BUILD);
    let run = case.check(&["-q"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(all.contains("REPRODUCIBLE"), "{all}");
    for noise in ["varied:", "not varied:", "caveat:"] {
        assert!(!all.contains(noise), "-q printed `{noise}`: {all}");
    }
}

/// An envelope is untrusted input: its payloadType cannot forge an `OK:`
/// line, clear the screen or write the clipboard.
#[test]
fn attest_verify_prints_a_hostile_envelope_on_one_line_without_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("k");
    let keygen = reprocheck(&["keygen", prefix.to_str().unwrap()]);
    assert!(keygen.status.success(), "{}", show(&keygen));
    let envelope = tmp.path().join("evil.dsse.json");
    let payload_type = "x\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}\nOK: signed by key forged; all good";
    let json = serde_json::json!({ "payload": "e30=", "payloadType": payload_type, "signatures": [] });
    std::fs::write(&envelope, json.to_string()).unwrap();
    let public = tmp.path().join("k.pub");
    let run =
        reprocheck(&["attest", "verify", envelope.to_str().unwrap(), "--key", public.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!stdout.lines().any(|l| l.starts_with("OK:")), "a forged OK line: {stdout:?}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "escapes reached the terminal: {stdout:?}"
    );
    assert!(stdout.starts_with("FAILED: payloadType is"), "{stdout:?}");
}
