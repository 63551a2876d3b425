//! `[limits]` against the real engine: a memory hog, a fork bomb and an
//! oversized output each fail their run with a clear message, and the tool
//! and host carry on.

mod common;

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
