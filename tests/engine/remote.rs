//! Remote engines, on loopback: the detection matrix through a TLS endpoint
//! (client certificates, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) and through an
//! SSH endpoint (`docker system dial-stdio`), each against the engine under
//! test. Created containers must have no host bind mount, and the factors
//! varied must be those of the local socket, except what needs the engine's
//! host (named, with the reason).

use crate::common;

use common::remote::{have, SshEndpoint, TlsEndpoint};
use common::*;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One fixture per factor, each leaking exactly that factor (factors.rs beside this file).
const MATRIX: &[(&str, &str)] = &[
    ("leak-environment", "environment"),
    ("leak-build_path", "build_path"),
    ("leak-user", "user"),
    ("leak-umask", "umask"),
    ("leak-locales", "locales"),
    ("leak-timezone", "timezone"),
    ("leak-home", "home"),
    ("leak-exec_path", "exec_path"),
    ("leak-domain_host", "domain_host"),
    ("leak-num_cpus", "num_cpus"),
    ("leak-kernel", "kernel"),
    ("leak-aslr", "aslr"),
    ("leak-fileordering", "fileordering"),
    ("leak-time-date", "time"),
];

/// How a test reaches the remote endpoint.
trait Remote {
    fn point(&self, cmd: &mut Command);
}

impl Remote for TlsEndpoint {
    fn point(&self, cmd: &mut Command) {
        cmd.env("DOCKER_HOST", &self.host).env("DOCKER_TLS_VERIFY", "1").env("DOCKER_CERT_PATH", &self.certs);
    }
}

impl Remote for SshEndpoint {
    fn point(&self, cmd: &mut Command) {
        self.apply(cmd);
    }
}

fn check_through(remote: &dyn Remote, case: &Case, args: &[&str]) -> Output {
    let mut cmd = case.check_cmd(args);
    remote.point(&mut cmd);
    cmd.output().expect("running reprocheck")
}

/// Factors that need the engine's host, so cannot vary through a remote
/// endpoint: on Podman aslr (Podman reads a seccomp profile from its own
/// host). fileordering goes through the preloaded readdir reverser.
fn needs_the_engine_host(kind: &str) -> &'static [&'static str] {
    match kind {
        "podman" => &["aslr"],
        _ => &[],
    }
}

fn matrix_through(remote: &dyn Remote, kind: &str) {
    let host_only = needs_the_engine_host(kind);
    for (fixture_name, factor) in MATRIX {
        let case = Case::new(fixture_name, SH_BUILD);
        let run = check_through(remote, &case, &["--vary", factor]);
        let report = case.report();
        assert_ne!(
            report["engine"]["endpoint"].as_str(),
            Some("unix:///var/run/docker.sock"),
            "{}",
            show(&run)
        );
        if let Some(reason) = report["factors"]["not_applied"][factor].as_str() {
            assert!(
                host_only.contains(factor),
                "{factor} must vary through a remote endpoint, but: {reason}"
            );
            assert!(
                String::from_utf8_lossy(&run.stdout).contains(&format!("not varied: {factor}: ")),
                "{}",
                show(&run)
            );
            continue;
        }
        assert_eq!(run.status.code(), Some(1), "varying {factor} must flag {fixture_name}: {}", show(&run));
        if *factor == "aslr" {
            continue; // with ASLR on in every run, the fixture differs whatever else varies
        }
        let case = Case::new(fixture_name, SH_BUILD);
        let run = check_through(remote, &case, &["--vary", &format!("-{factor}")]);
        assert_eq!(
            run.status.code(),
            Some(0),
            "every factor but {factor} must pass {fixture_name}: {}",
            show(&run)
        );
    }
}

/// Runs an all-factor check of the sleeper through `remote`, inspects its
/// containers on the engine while they run, and returns the factors varied.
fn containers_have_no_host_mounts(
    remote: &dyn Remote,
    engine: &reprocheck::engine::docker::DockerEngine,
) -> Vec<String> {
    let case = Case::new("sleeper", &format!("{SH_BUILD}\ntimeout = \"20s\""));
    let mut cmd = case.check_cmd(&[]);
    remote.point(&mut cmd);
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Interrupted and waited for however this ends, so that its containers
    // are removed while the endpoint still serves.
    let child = Interrupted(child);
    let owner = owner_of(&child.0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let ids = loop {
        let ids = block(reprocheck::engine::Engine::list_owned(engine, &owner)).unwrap();
        if ids.len() >= 2 {
            break ids;
        }
        assert!(Instant::now() < deadline, "the build containers never appeared");
        std::thread::sleep(Duration::from_millis(200));
    };
    let socket = format!("unix://{}", common::remote::engine_socket().display());
    for id in &ids {
        let inspect = Command::new("docker")
            .args(["-H", &socket, "inspect", "--format", "{{json .HostConfig.Binds}} {{json .Mounts}}", id])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&inspect.stdout).trim().to_string();
        assert!(inspect.status.success(), "{}", show(&inspect));
        // Docker says null where Podman says [].
        assert!(["null []", "[] []"].contains(&text.as_str()), "container {id} has host mounts: {text}");
    }
    drop(child);
    // The sweep after the interrupt goes through the endpoint too.
    let left = block(reprocheck::engine::Engine::list_owned(engine, &owner)).unwrap();
    assert!(left.is_empty(), "the interrupted check left containers: {left:?}");
    case.report()["factors"]["varied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// A child reprocheck that gets SIGINT and is waited for when dropped.
struct Interrupted(std::process::Child);

impl Drop for Interrupted {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = self.0.wait();
    }
}

/// The factors an all-factor check varies on the local socket.
fn varied_locally() -> Vec<String> {
    let case = Case::new("clean", SH_BUILD);
    let run = case.check(&[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    case.report()["factors"]["varied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn same_factors_but_host_only(remote: Vec<String>, local: Vec<String>, kind: &str) {
    let expected: Vec<String> =
        local.into_iter().filter(|f| !needs_the_engine_host(kind).contains(&f.as_str())).collect();
    assert_eq!(remote, expected, "the factors varied through the remote endpoint");
}

#[test]
fn tls_endpoint_runs_the_matrix_with_no_host_mounts() {
    let Some(engine) = ready_engine() else { return };
    if !have("openssl") {
        return;
    }
    let kind = reprocheck::engine::Engine::info(&engine).kind.clone();
    let tls = TlsEndpoint::start();
    let varied = containers_have_no_host_mounts(&tls, &engine);
    same_factors_but_host_only(varied, varied_locally(), &kind);
    matrix_through(&tls, &kind);
}

#[test]
fn ssh_endpoint_runs_the_matrix_with_no_host_mounts() {
    let Some(engine) = ready_engine() else { return };
    if !have("sshd") || !have("ssh") || !have("docker") {
        return;
    }
    let kind = reprocheck::engine::Engine::info(&engine).kind.clone();
    let ssh = SshEndpoint::start();
    let varied = containers_have_no_host_mounts(&ssh, &engine);
    same_factors_but_host_only(varied, varied_locally(), &kind);
    matrix_through(&ssh, &kind);
    let left = ssh.sessions_left_after(Duration::from_secs(10));
    assert!(left.is_empty(), "remote sessions outlived the checks: {left:?}\n{}", ssh.log());
}

/// A check of the clean fixture through `ssh` with bollard's request log;
/// returns how many API requests it made.
fn logged_check_through(ssh: &SshEndpoint) -> usize {
    let case = Case::new("clean", SH_BUILD);
    let mut cmd = case.check_cmd(&[]);
    ssh.apply(&mut cmd);
    // bollard names each request's URL at debug level.
    let run = cmd.env("RUST_LOG", "bollard::docker=debug").output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    String::from_utf8_lossy(&run.stderr).matches("http://ssh.invalid/").count()
}

/// What reprocheck asks the remote Docker CLI, as the logging wrapper writes it.
const ASK_ENDPOINT: &str = "context inspect --format {{.Endpoints.docker.Host}}";

/// A check over ssh logs in on the remote host once, to ask the Docker CLI
/// which socket the engine listens on; every API connection is then a
/// channel of the ssh master that forwards that socket (no remote login,
/// no `dial-stdio`). The next check finds the forward answering and asks
/// nothing; once the master has ended, the next asks again. (Before,
/// every connection was a remote `dial-stdio`.)
#[test]
fn checks_over_ssh_log_in_once_per_master_and_forward_the_engine_socket() {
    let Some(_engine) = ready_engine() else { return };
    if !have("sshd") || !have("ssh") || !have("docker") {
        return;
    }
    let ssh = SshEndpoint::start_logging_docker();
    let requests = logged_check_through(&ssh);
    assert!(requests >= 5, "{requests} requests");
    assert_eq!(ssh.docker_commands(), [ASK_ENDPOINT], "the remote docker commands");
    logged_check_through(&ssh);
    assert_eq!(ssh.docker_commands(), [ASK_ENDPOINT], "after a second check");
    ssh.end_shared_connection();
    logged_check_through(&ssh);
    assert_eq!(ssh.docker_commands(), [ASK_ENDPOINT, ASK_ENDPOINT], "after the master ended");
}

/// Where sshd refuses socket forwarding, a check over ssh runs nothing on
/// the remote host but that question and the Docker CLI's own `docker
/// system dial-stdio` (no `docker version` before the first request), and
/// its connections carry several requests each (kept alive, and shared by
/// the clients before and after the version negotiation).
#[test]
fn without_socket_forwarding_a_check_over_ssh_uses_dial_stdio_and_reuses_its_connections() {
    let Some(_engine) = ready_engine() else { return };
    if !have("sshd") || !have("ssh") || !have("docker") {
        return;
    }
    let ssh = SshEndpoint::start_logging_docker_without_socket_forwarding();
    let requests = logged_check_through(&ssh);
    let commands = ssh.docker_commands();
    assert_eq!(commands.first().map(String::as_str), Some(ASK_ENDPOINT), "{commands:?}");
    let dials = commands[1..].iter().filter(|c| c.as_str() == "system dial-stdio").count();
    assert_eq!(dials, commands.len() - 1, "remote docker commands besides dial-stdio: {commands:?}");
    eprintln!("{dials} connections for {requests} requests");
    assert!(dials > 0 && dials * 2 <= requests, "{dials} connections for {requests} requests");
}

/// The engine under test and an ssh endpoint in front of it, when both can
/// be had. The endpoint refuses socket forwarding, so that each connection
/// is a remote `dial-stdio` session the test can count.
fn engine_and_ssh() -> Option<(reprocheck::engine::docker::DockerEngine, SshEndpoint)> {
    let engine = ready_engine()?;
    (have("sshd") && have("ssh") && have("docker"))
        .then(|| (engine, SshEndpoint::start_without_socket_forwarding()))
}

/// Spawns a check of the clean fixture through `ssh` with `failpoint`
/// set; returns its output and the owner label of its containers.
fn check_with_failpoint(ssh: &SshEndpoint, failpoint: &str) -> (Output, String) {
    let case = Case::new("clean", SH_BUILD);
    let mut cmd = case.check_cmd(&[]);
    ssh.apply(&mut cmd);
    let child = cmd
        .env("REPROCHECK_FAILPOINT", failpoint)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let owner = owner_of(&child);
    (child.wait_with_output().unwrap(), owner)
}

/// A run abandoned after its output was attached and before its container
/// started (a panic there, by failpoint) leaves no remote session: Docker
/// never ends such an attach by itself, and the remote `docker system
/// dial-stdio` used to wait on it for ever, keeping the ssh master alive.
/// (Podman ends the attach at the removal, so there this checks only the
/// sweep through ssh.)
#[test]
fn a_run_abandoned_between_attach_and_start_leaves_no_remote_session() {
    let Some((engine, ssh)) = engine_and_ssh() else { return };
    let (run, owner) = check_with_failpoint(&ssh, "after-attach");
    assert_eq!(run.status.code(), Some(101), "a panic: {}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("after the panic, removed"), "{}", show(&run));
    assert_eq!(block(reprocheck::engine::Engine::list_owned(&engine, &owner)).unwrap().len(), 0);
    let left = ssh.sessions_left_after(Duration::from_secs(10));
    assert!(left.is_empty(), "remote sessions outlived the run: {left:?}");
}

/// A check killed between attach and start (aborted by failpoint: no
/// cleanup at all, as under SIGKILL) leaves its container and, on Docker,
/// a remote session waiting on the attach; the next check's sweep of
/// orphans removes the container and ends the session.
#[test]
fn the_next_check_ends_what_a_check_killed_between_attach_and_start_left() {
    let Some((engine, ssh)) = engine_and_ssh() else { return };
    let (run, owner) = check_with_failpoint(&ssh, "after-attach:abort");
    assert_eq!(run.status.code(), None, "killed by SIGABRT: {}", show(&run));
    assert!(!block(reprocheck::engine::Engine::list_owned(&engine, &owner)).unwrap().is_empty());
    let next = check_through(&ssh, &Case::new("clean", SH_BUILD), &[]);
    assert_eq!(next.status.code(), Some(0), "{}", show(&next));
    assert_eq!(block(reprocheck::engine::Engine::list_owned(&engine, &owner)).unwrap().len(), 0);
    let left = ssh.sessions_left_after(Duration::from_secs(10));
    assert!(left.is_empty(), "remote sessions outlived the killed run: {left:?}");
}

/// `reprocheck check` against `endpoint` with `env`; the error must come
/// within 5 s (plus process start) and contain each of `expected`.
fn fails_fast(env: &[(&str, &str)], expected: &[&str]) {
    let case = Case::new("clean", SH_BUILD);
    let mut cmd = case.check_cmd(&[]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let run = cmd.output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(took < Duration::from_secs(7), "took {took:?}: {stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{text:?} missing: {stderr}");
    }
}

#[test]
fn remote_endpoint_errors_name_the_endpoint_and_the_cause_within_5_s() {
    let Some(_engine) = ready_engine() else { return };
    if !have("openssl") || !have("sshd") {
        return;
    }
    let tls = TlsEndpoint::start();
    let certs = tls.certs.display().to_string();
    let host = tls.host.as_str();
    // Another CA's certificate: the client refuses the server.
    let other = TlsEndpoint::start();
    let other_certs = other.certs.display().to_string();
    let _ = other.dir();
    fails_fast(
        &[("DOCKER_HOST", host), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &other_certs)],
        &[host, "certificate"],
    );
    // Plain HTTP to a TLS endpoint.
    fails_fast(&[("DOCKER_HOST", host)], &[host]);
    // Missing client files.
    let empty = tempfile::tempdir().unwrap();
    fails_fast(
        &[
            ("DOCKER_HOST", host),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", empty.path().to_str().unwrap()),
        ],
        &["ca.pem does not exist", "DOCKER_CERT_PATH"],
    );
    // Nothing listening.
    let closed = format!(
        "tcp://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    fails_fast(
        &[("DOCKER_HOST", &closed), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &certs)],
        &[&closed],
    );
    // SSH with a key the server does not accept.
    let ssh = SshEndpoint::start();
    let cache = ssh.cache.display().to_string();
    fails_fast(
        &[
            ("DOCKER_HOST", &ssh.host.replace("root@", "nobody@")),
            ("PATH", &ssh.path),
            ("XDG_CACHE_HOME", &cache),
        ],
        &["127.0.0.1", "Permission denied"],
    );
}
