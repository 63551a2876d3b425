//! SIGINT and SIGTERM at 20 moments spread over a check's life (create,
//! upload, build, download, collect) leave no container and no mount.
//! Each killed check is told apart from anything else on the machine by its
//! owner label (its PID) and its own TMPDIR, where its mounts live.

use crate::common;

use common::*;
use reprocheck::engine::Engine;
use std::time::{Duration, Instant};

/// Kills per run of this test.
const KILLS: usize = 20;

/// Containers the child created.
fn owned(engine: &reprocheck::engine::docker::DockerEngine, child: &std::process::Child) -> usize {
    block(engine.list_owned(&owner_of(child))).unwrap().len()
}

/// The furthest phase any run reached, from the debug log.
fn phase(stderr: &str) -> &'static str {
    let stages = [
        (" created", "upload"),
        (" uploaded", "start"),
        (" started", "build"),
        (" exited", "download and collect"),
        (" log saved and outputs collected", "remove"),
    ];
    stages.iter().rev().find(|(event, _)| stderr.contains(event)).map_or("setup and create", |(_, p)| p)
}

#[test]
fn signals_at_random_moments_leave_no_container_and_no_mount() {
    let Some(engine) = ready_engine() else { return };
    // A source big enough that upload takes a while, a build that runs for a
    // second, and an output big enough that download and collection do too.
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("blob"), vec![7u8; 30 << 20]).unwrap();
    let build =
        "command = \"umask 022 && sleep 1 && mkdir -p out && cp blob out/blob && echo done > out/done\"\n\
                 outputs = [\"out\"]";
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "bulky", source.path(), build);

    // Time one whole check, to spread the kills over it.
    let started = Instant::now();
    let whole =
        reprocheck(&["check", spec.to_str().unwrap(), "--out", dir.path().join("full").to_str().unwrap()]);
    let duration = started.elapsed();
    assert_eq!(whole.status.code(), Some(0), "{}", show(&whole));

    // A fixed pseudo-random sequence, so a failure can be replayed.
    let mut seed: u64 = 0x5eed_1234;
    let mut interrupted = 0;
    let mut phases = std::collections::BTreeMap::new();
    for i in 0..KILLS {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // One random moment in each twentieth of the check: spread over every phase.
        let unit = (seed >> 11) as f64 / (1u64 << 53) as f64;
        let delay = duration.mul_f64((i as f64 + unit) / KILLS as f64);
        let signal = if i % 2 == 0 { libc::SIGINT } else { libc::SIGTERM };
        let out = dir.path().join(format!("kill-{i}"));
        let tmp = dir.path().join(format!("tmp-{i}"));
        std::fs::create_dir(&tmp).unwrap();
        let mut child = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("RUST_LOG", "reprocheck::run=debug")
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "kill {i}: still running 60 s after the signal");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        // Killed before the handler was installed, the process dies of the signal.
        let died_of_signal = std::os::unix::process::ExitStatusExt::signal(&status) == Some(signal);
        assert!(
            died_of_signal || matches!(status.code(), Some(0) | Some(2)),
            "kill {i} after {delay:?}: {status:?}\n{stderr}"
        );
        let phase = if stderr.contains("interrupted by") {
            interrupted += 1;
            phase(&stderr)
        } else {
            "not running"
        };
        *phases.entry(phase).or_insert(0) += 1;
        let (left, mounts) = (owned(&engine, &child), mounts_under(&tmp));
        eprintln!(
            "kill {i:2}: {} after {:>5} ms, in {phase} -> {status}; containers left {left}, mounts left {}",
            if signal == libc::SIGINT { "SIGINT " } else { "SIGTERM" },
            delay.as_millis(),
            mounts.len()
        );
        assert_eq!(left, 0, "kill {i} after {delay:?} left containers\n{stderr}");
        assert!(mounts.is_empty(), "kill {i} after {delay:?} left mounts: {mounts:?}\n{stderr}");
    }
    eprintln!("{KILLS} kills over a {duration:?} check, {interrupted} caught mid-run, by phase {phases:?}; 0 containers and 0 mounts left");
    assert!(interrupted >= KILLS / 2, "only {interrupted} of {KILLS} kills landed while the check ran");
    assert!(phases.len() >= 3, "the kills should land in several phases: {phases:?}");
}

/// SIGKILL cannot be caught: the check's containers and its disorderfs
/// mount stay behind. The next check removes them (their owner's PID is
/// gone) and says so; what it removes is the killed check's, counted by
/// its owner label and its TMPDIR.
#[test]
fn leftovers_of_a_sigkilled_check_are_swept_by_the_next_one() {
    let Some(engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    let build = "command = \"sleep 30; mkdir -p out; echo x > out/x\"\noutputs = [\"out\"]";
    let spec = write_spec(dir.path(), "slow", source.path(), build);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("killed");
    let mut child = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Podman cannot use the disorderfs build directory (docs/engines.md): no mount there.
    let mounts_expected = engine.info().kind != "podman";
    let deadline = Instant::now() + Duration::from_secs(60);
    while owned(&engine, &child) < 2 || (mounts_expected && mounts_under(&tmp).is_empty()) {
        assert!(Instant::now() < deadline, "the check never got both builds running");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Any reprocheck that opens a session now removes them: with other tests
    // running, that may be another test's check rather than ours.
    let left = (owned(&engine, &child), mounts_under(&tmp).len());

    let quick = write_spec(
        dir.path(),
        "quick",
        source.path(),
        "command = \"umask 022; mkdir -p out; echo y > out/y\"\noutputs = [\"out\"]",
    );
    let next =
        reprocheck(&["check", quick.to_str().unwrap(), "--out", dir.path().join("next").to_str().unwrap()]);
    assert_eq!(next.status.code(), Some(0), "{}", show(&next));
    let said = String::from_utf8_lossy(&next.stderr);
    let swept = said.lines().find(|l| l.contains("left by reprocheck processes that are gone"));
    eprintln!(
        "after SIGKILL: {} container(s), {} mount(s) left; the next check said: {swept:?}",
        left.0, left.1
    );
    assert_eq!(owned(&engine, &child), 0, "the killed check's containers are gone");
    assert!(mounts_under(&tmp).is_empty(), "its mount is gone: {:?}", mounts_under(&tmp));
}

/// Waits (up to `limit`) for a line of the child's stderr containing
/// `wanted`; keeps draining stderr afterwards, returning it all on join.
fn wait_for_line(
    child: &mut std::process::Child,
    wanted: &str,
    limit: Duration,
) -> std::thread::JoinHandle<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let (seen, saw) = std::sync::mpsc::channel();
    let looked_for = wanted.to_string();
    let wanted = wanted.to_string();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&wanted) {
                let _ = seen.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if saw.recv_timeout(limit).is_err() {
        let _ = child.kill();
        panic!("no `{looked_for}` within {limit:?}:\n{}", reader.join().unwrap());
    }
    reader
}

/// A signal while the outputs are compared (here 40 differing 1 MB texts,
/// each diff running into its deadline: ~20 s) stops the comparison within
/// moments: exit 2, "interrupted", a report saying so, nothing left.
#[test]
fn a_signal_during_the_comparison_stops_it_and_leaves_nothing() {
    let Some(engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(
        source.join("build.sh"),
        "mkdir -p out; for f in $(seq 40); do \
         awk -v s=\"$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')\" 'BEGIN{srand(s); for(i=0;i<60000;i++) print i, rand()}' > out/f$f.txt; done\n",
    )
    .unwrap();
    let spec = write_spec(dir.path(), "texts", &source, SH_BUILD);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("out");
    let mut child = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wait_for_line(&mut child, "output(s) differ; comparing them", Duration::from_secs(180));
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    let stderr = stderr.join().unwrap();
    eprintln!("SIGINT during the comparison: exit {:?} after {took:?}", status.code());
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(took < Duration::from_secs(5), "the comparison went on for {took:?} after SIGINT:\n{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let report = report(&out);
    assert_eq!(report["verdict"], "error");
    assert!(report["error"].as_str().unwrap_or_default().contains("interrupted by SIGINT"), "{report}");
    assert_eq!(owned(&engine, &child), 0, "containers left");
    assert!(mounts_under(&tmp).is_empty(), "mounts left: {:?}", mounts_under(&tmp));
}

/// A panic (forced by a failpoint once a build has started) still removes
/// the run's containers and its disorderfs mount, and says so.
#[test]
fn a_panic_while_building_removes_the_containers_and_mounts_of_its_runs() {
    let Some(engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    let build = "command = \"sleep 30; mkdir -p out; echo x > out/x\"\noutputs = [\"out\"]";
    let spec = write_spec(dir.path(), "panicky", source.path(), build);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("out");
    let child = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("TMPDIR", &tmp)
        .env("REPROCHECK_FAILPOINT", "panic-while-building")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_owner = owner_of(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(101), "a panic: {stderr}");
    assert!(stderr.contains("after the panic, removed"), "{stderr}");
    assert_eq!(block(engine.list_owned(&pid_owner)).unwrap().len(), 0, "containers left: {stderr}");
    assert!(mounts_under(&tmp).is_empty(), "mounts left: {:?}", mounts_under(&tmp));
}
