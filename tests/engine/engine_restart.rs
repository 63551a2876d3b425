//! The engine restarts in the middle of a build: reprocheck says so, exits
//! 2, and removes its containers once the engine is back.
//!
//! This stops and restarts the engine process (dockerd, or the Podman
//! service behind DOCKER_HOST) with its own command line, so it runs only
//! with REPROCHECK_TEST_ENGINE_RESTART=1, as CI sets it. The other tests of
//! the binary run in parallel with it, so it uses the engine alone
//! (`common::engine_alone`): it starts once the tests using the engine have
//! finished, and they wait until it ends, so none sees the engine go away.

use crate::common;

use common::*;
use reprocheck::engine::Engine;
use std::time::{Duration, Instant};

/// Waits until a new connection to the engine succeeds.
fn wait_for_engine(within: Duration) {
    let deadline = Instant::now() + within;
    while block(reprocheck::engine::docker::DockerEngine::connect(
        &reprocheck::engine::endpoint::from_environment(&reprocheck::engine::endpoint::ProcessEnv).unwrap(),
    ))
    .is_err()
    {
        assert!(Instant::now() < deadline, "the engine did not come back within {within:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn an_engine_restart_mid_build_is_reported_and_cleaned_up() {
    let restart = std::env::var("REPROCHECK_TEST_ENGINE_RESTART").as_deref() == Ok("1");
    if restart {
        engine_alone();
    }
    let Some(engine) = ready_engine() else { return };
    if !restart {
        skipped("restarts the engine; set REPROCHECK_TEST_ENGINE_RESTART=1 to run it (CI does)");
        return;
    }
    let kind = engine.info().kind.clone();
    let case = Case::new("sleeper", SH_BUILD);
    let child = case
        .check_cmd(&["--vary", "none"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for both build containers to run.
    let deadline = Instant::now() + Duration::from_secs(30);
    while block(engine.list_owned(&owner_of(&child))).unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the build containers never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));

    let (pid, argv) = engine_process(&kind);
    // SAFETY: signalling the engine process found above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "the engine did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::File::create(std::env::temp_dir().join("reprocheck-test-engine-restart.log")).unwrap();
    // The engine outlives this test: it is never waited for, on purpose.
    #[allow(clippy::zombie_processes)]
    let _engine = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("restarting the engine");
    wait_for_engine(Duration::from_secs(60));

    let owner = owner_of(&child);
    let run = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("stopped answering"), "the error says what happened: {stderr}");
    let endpoint =
        reprocheck::engine::endpoint::from_environment(&reprocheck::engine::endpoint::ProcessEnv).unwrap();
    let engine = reprocheck::engine::docker::DockerEngine::connect(&endpoint);
    let left = block(async { engine.await.unwrap().list_owned(&owner).await.unwrap() });
    assert!(left.is_empty(), "containers left after the restart: {left:?}\n{stderr}");
}
