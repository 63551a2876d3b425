//! Remote engine endpoints on loopback, made by the test: a TLS endpoint
//! (a rustls proxy requiring client certificates in front of the engine's
//! socket) and an SSH endpoint (an sshd of the test's own, whose sessions
//! reach the engine with `docker system dial-stdio`). Only 127.0.0.1.

use super::show;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The engine's Unix socket path that the tests run against.
pub fn engine_socket() -> PathBuf {
    let host =
        reprocheck::engine::endpoint::from_environment(&reprocheck::engine::endpoint::ProcessEnv).unwrap();
    let path = host
        .strip_prefix("unix://")
        .unwrap_or_else(|| panic!("the engine under test is not a Unix socket: {host}"));
    PathBuf::from(path)
}

/// Whether `tool` can be run; says why the test is skipped when not.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("REPROCHECK_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "{tool} is needed for the remote endpoint tests (apt-get install socat openssh-server openssh-client openssl)"
        );
        super::skipped(&format!("{tool} is not installed"));
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", show(&out));
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on 127.0.0.1:{port}");
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{what} did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TLS endpoint on 127.0.0.1 that requires a client certificate signed
/// by its own CA and forwards to the engine's socket.
pub struct TlsEndpoint {
    /// Holds ca.pem, cert.pem and key.pem for the client (DOCKER_CERT_PATH).
    pub certs: PathBuf,
    /// `tcp://127.0.0.1:PORT`.
    pub host: String,
    dir: tempfile::TempDir,
    _proxy: tokio::runtime::Runtime,
}

/// Terminates TLS on `listener` (server.pem, server-key.pem; clients must
/// present a certificate signed by ca.pem, all in `dir`) and forwards each
/// connection to the Unix socket `target`, on a runtime of its own that
/// stops when dropped.
fn tls_proxy(listener: TcpListener, dir: &Path, target: PathBuf) -> tokio::runtime::Runtime {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let chain = vec![CertificateDer::from_pem_file(dir.join("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    listener.set_nonblocking(true).unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, target) = (acceptor.clone(), target.clone());
            tokio::spawn(async move {
                // A client that fails the handshake is simply dropped, as a daemon would.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut engine) = tokio::net::UnixStream::connect(&target).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
            });
        }
    });
    runtime
}

impl TlsEndpoint {
    /// Makes a CA, a server certificate for 127.0.0.1 and a client
    /// certificate, and starts the proxy.
    pub fn start() -> TlsEndpoint {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(d));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=reprocheck test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]);
        for (name, subject, ext) in [
            ("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
            ("client", "/CN=reprocheck test client", "extendedKeyUsage=clientAuth\n"),
        ] {
            std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
            openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        let certs = d.join("client");
        std::fs::create_dir(&certs).unwrap();
        for (from, to) in [("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")] {
            std::fs::copy(d.join(from), certs.join(to)).unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = tls_proxy(listener, d, engine_socket());
        TlsEndpoint { certs, host: format!("tcp://127.0.0.1:{port}"), dir, _proxy: proxy }
    }

    /// The directory holding the server's own files (for a wrong-CA test).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// An sshd on 127.0.0.1 accepting one key for root, whose sessions have
/// DOCKER_HOST set to the engine under test; and an `ssh` wrapper, first
/// in the PATH given to reprocheck, that brings the test's client config.
pub struct SshEndpoint {
    /// `ssh://root@127.0.0.1:PORT`.
    pub host: String,
    /// PATH for reprocheck: the wrapper's directory first.
    pub path: String,
    /// XDG_CACHE_HOME for reprocheck: its shared ssh connection (and probe
    /// cache) live under the test's own directory.
    pub cache: PathBuf,
    port: u16,
    /// The ssh wrapper that brings the test's client config.
    ssh: PathBuf,
    /// Where the remote `docker` wrapper writes its arguments, one
    /// invocation a line ([`SshEndpoint::start_logging_docker`]).
    docker_log: Option<PathBuf>,
    dir: tempfile::TempDir,
    sshd: Child,
}

impl SshEndpoint {
    /// Starts the sshd.
    pub fn start() -> SshEndpoint {
        SshEndpoint::start_with(false, true)
    }

    /// Starts the sshd with a `docker` first in its sessions' PATH that
    /// writes its arguments to a log ([`SshEndpoint::docker_commands`]),
    /// then runs the real one.
    pub fn start_logging_docker() -> SshEndpoint {
        SshEndpoint::start_with(true, true)
    }

    /// Starts the sshd refusing socket forwarding (`AllowStreamLocalForwarding
    /// no`): reprocheck's connections are then each a `dial-stdio` session.
    pub fn start_without_socket_forwarding() -> SshEndpoint {
        SshEndpoint::start_with(false, false)
    }

    /// Both: logs the remote `docker` commands, and refuses socket forwarding.
    pub fn start_logging_docker_without_socket_forwarding() -> SshEndpoint {
        SshEndpoint::start_with(true, false)
    }

    fn start_with(log_docker: bool, forwarding: bool) -> SshEndpoint {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let docker_log = log_docker.then(|| {
            let real = Command::new("sh").args(["-c", "command -v docker"]).output().unwrap();
            let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
            let remote_bin = d.join("remote-bin");
            std::fs::create_dir(&remote_bin).unwrap();
            let log = d.join("docker.log");
            write_script(
                &remote_bin.join("docker"),
                &format!("#!/bin/sh\necho \"$*\" >>{}\nexec {real} \"$@\"\n", log.display()),
            );
            (remote_bin, log)
        });
        let remote_path = match &docker_log {
            Some((remote_bin, _)) => format!(" PATH={}:/usr/local/bin:/usr/bin:/bin", remote_bin.display()),
            None => String::new(),
        };
        for key in ["host_key", "client_key"] {
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(d.join(key)));
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        let engine = format!("unix://{}", engine_socket().display());
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 AllowUsers root\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 SetEnv DOCKER_HOST={engine}{remote_path}\nAllowStreamLocalForwarding {forwarding}\n",
                d = d.display(),
                forwarding = if forwarding { "yes" } else { "no" },
            ),
        )
        .unwrap();
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {host_key}")).unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host 127.0.0.1\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  ConnectTimeout 5\n",
                d = d.display()
            ),
        )
        .unwrap();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let wrapper = bin.join("ssh");
        write_script(
            &wrapper,
            &format!("#!/bin/sh\nexec /usr/bin/ssh -F {}/ssh_config \"$@\"\n", d.display()),
        );
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut sshd = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("starting sshd");
        wait_for_port(port, &mut sshd, "sshd");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let cache = d.join("cache");
        SshEndpoint {
            host: format!("ssh://root@127.0.0.1:{port}"),
            path,
            cache,
            port,
            ssh: wrapper,
            docker_log: docker_log.map(|(_, log)| log),
            dir,
            sshd,
        }
    }

    /// The remote `docker` commands run so far, as their arguments (when
    /// started by [`SshEndpoint::start_logging_docker`]).
    pub fn docker_commands(&self) -> Vec<String> {
        let log = self.docker_log.as_ref().expect("started with start_logging_docker");
        std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// Ends reprocheck's shared ssh connection (its master) to this sshd.
    pub fn end_shared_connection(&self) {
        let mut exit = Command::new(&self.ssh);
        exit.args(["-O", "exit", "-o"])
            .arg(format!("ControlPath={}/reprocheck/ssh/%C", self.cache.display()))
            .args(["-p", &self.port.to_string(), "root@127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = exit.status();
    }

    /// The sshd's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Points `cmd` at this endpoint with the test's ssh client config.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("DOCKER_HOST", &self.host).env("PATH", &self.path).env("XDG_CACHE_HOME", &self.cache);
    }

    /// The processes this sshd's sessions run (`docker system dial-stdio`,
    /// one per open API connection), as `pid command line`.
    pub fn session_commands(&self) -> Vec<String> {
        descendants(self.sshd.id())
            .into_iter()
            .filter_map(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                cmdline.contains("dial-stdio").then(|| format!("{pid} {}", cmdline.trim()))
            })
            .collect()
    }

    /// Waits up to `within` for every session command to end; returns those left.
    pub fn sessions_left_after(&self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = self.session_commands();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Every process below `root`, read from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The field after the parenthesised command name is the state, then the parent.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.split_off(1)
}

impl Drop for SshEndpoint {
    /// Ends reprocheck's shared connection and the sshd with its sessions,
    /// so that nothing of the test outlives it.
    fn drop(&mut self) {
        // Sessions first, while they are still below this sshd. Those that
        // are ending get a moment: a session killed while its login shell
        // starts can leave the shell's startup files half done.
        let _ = self.sessions_left_after(Duration::from_secs(5));
        for pid in descendants(self.sshd.id()) {
            // SAFETY: signalling processes this test's sshd started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        self.end_shared_connection();
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}

/// Writes an executable script (mode 755) at `path`.
fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
