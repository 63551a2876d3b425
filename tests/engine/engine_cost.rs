//! What waiting on a build costs the engine itself. Podman 4.3's
//! Docker-compatible wait polls without pause and took a whole core from the
//! builds it waited on (Debian hello: 47 s on Podman, 27 s on Docker).

use crate::common;

use common::*;
use reprocheck::engine::Engine;

/// CPU time (user + system) the process has used so far, in seconds.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn waiting_on_sleeping_builds_costs_the_engine_little_cpu() {
    // Alone, so the engine's CPU time is this test's builds' alone.
    engine_alone();
    let Some(engine) = ready_engine() else { return };
    if !engine.info().endpoint.starts_with("unix://") {
        skipped("the engine's process is on another machine");
        return;
    }
    let (pid, _) = engine_process(&engine.info().kind);
    let asleep = 6;
    let case = Case::script("sleeps", &format!("sleep {asleep}\nmkdir -p out\necho done > out/result\n"));

    let before = cpu_seconds(pid);
    let run = case.check(&["--vary", "none"]);
    let used = cpu_seconds(pid) - before;
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    // Two builds asleep for 6 s each, at the same time: a wait that polls
    // without pause costs the engine more than the 6 s; creating, starting,
    // inspecting and removing two containers costs it well under 2 s.
    eprintln!("{} used {used:.2} s of CPU while two builds slept {asleep} s", engine.info().kind);
    assert!(used < 2.0, "the engine used {used:.2} s of CPU while two builds slept {asleep} s");
}
