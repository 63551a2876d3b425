//! `[limits]` against the real engine: a memory hog, a fork bomb and an
//! oversized output each fail their run with a clear message, and the tool
//! and host carry on.

use crate::common;

use common::*;

/// Runs the clean fixture with `command` and the `[limits]` body `limits`.
fn run_limited(command: &str, limits: &str) -> (std::process::Output, serde_json::Value) {
    let build = format!("command = '{command}'\noutputs = [\"out\"]\ntimeout = \"120s\"\n[limits]\n{limits}");
    let case = Case::new("clean", &build);
    let run = case.check(&["--vary", "none"]);
    (run, case.report())
}

#[test]
fn a_memory_hog_is_killed_by_the_memory_limit() {
    let Some(_engine) = ready_engine() else { return };
    // 300 MB in a shell variable, under a 64 MiB limit.
    let (run, report) =
        run_limited("x=$(head -c 300000000 /dev/zero | tr \"\\000\" a); mkdir out", "memory = \"64MiB\"");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert_eq!(report["runs"][0]["environment"]["memory_bytes"], 64 << 20);
    assert_eq!(report["runs"][0]["status"], "failed", "{}", report["runs"][0]);
    assert_eq!(report["runs"][0]["exit_code"], 137, "killed by the OOM killer: {}", report["runs"][0]);
}

#[test]
fn a_fork_bomb_is_stopped_by_the_pids_limit() {
    let Some(_engine) = ready_engine() else { return };
    let bomb = "i=0; while [ $i -lt 500 ]; do sleep 60 & i=$((i+1)); done; mkdir out";
    let (run, report) = run_limited(bomb, "pids = 32");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert_eq!(report["runs"][0]["environment"]["pids_limit"], 32);
    assert_eq!(report["runs"][0]["status"], "failed", "{}", report["runs"][0]);
    let tail = report["runs"][0]["log_tail"].as_str().unwrap_or_default();
    assert!(tail.to_lowercase().contains("fork"), "the log says fork failed: {tail}");
}

#[test]
fn an_output_over_the_size_cap_fails_with_the_limit_named() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) =
        run_limited("mkdir out && head -c 3000000 /dev/zero > out/big", "output_size = \"1MiB\"");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("limits.output_size"), "{stderr}");
    assert_eq!(report["verdict"], "error");
}

#[test]
fn a_flood_of_log_is_cut_at_the_log_size_limit_and_the_build_still_counts() {
    let Some(_engine) = ready_engine() else { return };
    // 20 MB of log in 1000-byte lines, against a 1 MiB limit.
    let flood = "head -c 20000000 /dev/zero | tr \"\\000\" x | fold -w 1000; echo; echo the end; mkdir -p out && echo ok > out/ok";
    let build = format!(
        "command = '{flood}'\noutputs = [\"out\"]\ntimeout = \"120s\"\n[limits]\nlog_size = \"1MiB\""
    );
    let case = Case::new("clean", &build);
    let run = case.check(&["--vary", "none", "-v"]);
    assert_eq!(run.status.code(), Some(0), "the outputs are still compared: {}", show(&run));
    for index in [1, 2] {
        let log = std::fs::read(case.out.join(format!("run-{index}/build.log"))).unwrap();
        let text = String::from_utf8_lossy(&log);
        assert!(log.len() < (1 << 20) + 200, "run {index}'s saved log is {} bytes", log.len());
        // What the build printed first is kept, never a tail that looks whole.
        assert!(text.starts_with(&format!("{}\n", "x".repeat(1000))), "run {index}: not the start");
        assert!(!text.contains("the end"), "run {index}: the saved log is the tail");
        // Cut at the limit, or earlier where the engine rotated its copy
        // before the follow read it (Podman's k8s-file truncates itself).
        let cut =
            text.rfind("\n[reprocheck: log cut at ").unwrap_or_else(|| panic!("run {index}: no cut note"));
        let at_limit = format!("\n[reprocheck: log cut at {} bytes (limits.log_size)]\n", 1 << 20);
        let rotated = format!(
            "\n[reprocheck: log cut at {cut} bytes: the engine rotated the rest of its copy away before it was read (limits.log_size)]\n"
        );
        let note = &text[cut..];
        assert!(note == at_limit || note == rotated, "run {index}: {note}");
    }
    // -v streams the whole log, past the cut: the output is attached before
    // the container starts, so no engine-side rotation loses a line.
    let stderr = String::from_utf8_lossy(&run.stderr);
    let end = &stderr[stderr.len().saturating_sub(500)..];
    assert_eq!(stderr.matches("[run 1] xxx").count(), 20_000, "streamed past the 1 MiB cut: {end}");
}

#[test]
fn a_build_writing_past_the_disk_size_is_killed_and_the_limit_named() {
    let Some(_engine) = ready_engine() else { return };
    // 300 MB into the container's /tmp, under a 64 MiB limit; then it would
    // sleep past the timeout if nothing stopped it.
    let started = std::time::Instant::now();
    let (run, report) = run_limited(
        "dd if=/dev/zero of=/tmp/fill bs=1M count=300 2>/dev/null; sleep 100; mkdir out",
        "disk_size = \"64MiB\"",
    );
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("over limits.disk_size") && stderr.contains("was killed"), "{stderr}");
    assert_eq!(report["runs"][0]["status"], "over_disk", "{}", report["runs"][0]);
    assert!(report["runs"][0]["written_bytes"].as_u64().unwrap() > 64 << 20, "{}", report["runs"][0]);
    assert!(started.elapsed().as_secs() < 60, "killed within a few polls, not at the timeout");
}

/// The engine's own copy of the log (json-file on Docker, k8s-file on
/// Podman) rotates at twice limits.log_size: a build printing 20 MB cannot
/// grow it past four times the limit. Measured while the build still runs, on this
/// test's own container (found by the run id the check prints).
#[test]
fn the_engines_own_log_is_bounded_by_the_log_size() {
    use std::io::BufRead;
    let Some(engine) = ready_engine() else { return };
    let flood = "head -c 20000000 /dev/zero | tr \"\\000\" x | fold -w 1000; sleep 8; mkdir -p out && echo ok > out/ok";
    let build = format!(
        "command = '{flood}'\noutputs = [\"out\"]\ntimeout = \"120s\"\n[limits]\nlog_size = \"1MiB\""
    );
    let case = Case::new("clean", &build);
    let mut child = case
        .check_cmd(&["--vary", "none", "--jobs", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let run_id = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no run id printed");
        if let Some(rest) = line.split("reprocheck: run ").nth(1) {
            break rest.split(':').next().unwrap().to_string();
        }
    };
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut largest = 0u64;
    while std::time::Instant::now() < deadline {
        let ids = block(reprocheck::engine::Engine::list_labelled(&engine, Some(&run_id))).unwrap();
        for id in ids {
            let inspect = std::process::Command::new("docker")
                .args(["inspect", "-f", "{{.LogPath}}", &id])
                .output()
                .expect("the docker CLI");
            let path = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
            let Some(dir) = std::path::Path::new(&path).parent().filter(|_| !path.is_empty()) else {
                continue;
            };
            let name = std::path::Path::new(&path).file_name().unwrap().to_string_lossy().into_owned();
            let total: u64 = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum();
            largest = largest.max(total);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let status = child.wait().unwrap();
    drain.join().unwrap().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(largest > 0, "the engine's log file was never seen");
    assert!(largest <= (4 << 20) + (256 << 10), "the engine kept {largest} bytes of log for a 1 MiB limit");
}
