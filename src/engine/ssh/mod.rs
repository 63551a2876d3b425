//! The Docker API over SSH, reached the way the Docker CLI reaches it: each
//! HTTP connection is `ssh [-l USER] [-p PORT] HOST -- docker system
//! dial-stdio`, through the user's own ssh (keys, agent, known hosts,
//! `~/.ssh/config`). ssh never prompts (`BatchMode=yes`) and gives up on an
//! unreachable host after 5 s. Connections share one ssh master
//! (`ControlMaster`) per host, which exits 60 s after its last use; hyper
//! keeps them alive for the next request ([`connector`]). Where the remote
//! engine listens on a unix socket and sshd allows it, the master forwards
//! that socket and connections are channels of the master, not remote
//! logins ([`forward`]).

mod connector;
mod forward;
mod handshake;
mod words;

use crate::errors::*;
use bollard::{BollardRequest, ClientVersion, Docker};
use bytes::Bytes;
use connector::SshConnector;
use forward::Forward;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use words::Words;

/// bollard's request body type (not exported by name).
type Body = Either<
    Full<Bytes>,
    StreamBody<Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send>>>,
>;

/// How long opening the shared connection may take.
const MASTER_TIMEOUT: Duration = Duration::from_secs(5);

/// `ssh://[USER@]HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

impl SshTarget {
    /// Parses an `ssh://` endpoint; a path after the host is refused, as
    /// the Docker CLI does.
    pub fn parse(url: &str) -> Result<SshTarget> {
        let rest = url.strip_prefix("ssh://").with_context(|| format!("{url} is not an ssh:// endpoint"))?;
        ensure!(
            !rest.contains('/') || rest.ends_with('/') && rest.matches('/').count() == 1,
            "{url}: an ssh endpoint names a host, not a path (ssh://[user@]host[:port])"
        );
        let rest = rest.trim_end_matches('/');
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, host)) => (Some(user.to_string()), host),
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port =
                    port.parse::<u16>().with_context(|| format!("{url}: {port:?} is not a port number"))?;
                (host.trim_start_matches('[').trim_end_matches(']'), Some(port))
            }
            _ => (host_port, None),
        };
        ensure!(!host.is_empty() && !host.starts_with('-'), "{url}: no host name (ssh://[user@]host[:port])");
        ensure!(!user.as_deref().is_some_and(|u| u.is_empty() || u.starts_with('-')), "{url}: bad user name");
        Ok(SshTarget { user, host: host.to_string(), port })
    }

    /// `ssh OPTIONS -- HOST`, ready for the remote command. With `control`,
    /// it goes through the shared connection there when one is open (else
    /// it connects by itself).
    fn command(&self, control: Option<&Path>) -> tokio::process::Command {
        self.ssh(control, &["-o", "ControlMaster=no", "-T"])
    }

    /// `ssh` with the common options, `control`'s ControlPath, `options`,
    /// then the destination.
    fn ssh(&self, control: Option<&Path>, options: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]);
        if let Some(dir) = control {
            cmd.arg("-o").arg(format!("ControlPath={}/%C", dir.display()));
        }
        cmd.args(options);
        if let Some(user) = &self.user {
            cmd.arg("-l").arg(user);
        }
        if let Some(port) = self.port {
            cmd.arg("-p").arg(port.to_string());
        }
        cmd.arg("--").arg(&self.host);
        cmd.kill_on_drop(true);
        cmd
    }
}

/// Where shared connections live: `~/.cache/reprocheck/ssh` (mode 0700),
/// unless that path is too long for a socket name; then none are shared.
fn control_dir() -> Option<PathBuf> {
    let dir = crate::paths::cache_dir("ssh")?;
    // A socket path holds at most 107 bytes; %C is 40 hex digits.
    if dir.as_os_str().len() + 42 > 107 {
        return None;
    }
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).ok()?;
    Some(dir)
}

/// Opens a shared connection (an ssh master that lives 60 s past its last
/// use) unless one is open, so that each HTTP connection does not pay for
/// a handshake; returns whether one is open. Its output goes nowhere (a
/// pipe would stay open as long as the master lives); a failure here only
/// costs speed, and the first request's connection reports what is wrong.
async fn open_shared_connection(target: &SshTarget, dir: &Path) -> bool {
    let mut check = target.ssh(Some(dir), &["-O", "check"]);
    check.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if check.status().await.is_ok_and(|s| s.success()) {
        return true;
    }
    let mut master =
        target.ssh(Some(dir), &["-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-f", "-N"]);
    master.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let opened = tokio::time::timeout(MASTER_TIMEOUT, master.status()).await;
    opened.is_ok_and(|status| status.is_ok_and(|s| s.success()))
}

/// The Docker API at one ssh endpoint: its shared ssh connection and its
/// pool of connections, which every client made by [`SshTransport::docker`]
/// uses (the version negotiation makes a second client; it goes on with the
/// first one's connection).
pub struct SshTransport {
    client: Client<SshConnector, Body>,
    words: Arc<Words>,
}

impl SshTransport {
    /// Opens the shared ssh connection to `url` (unless one is open). Fails
    /// only on a malformed endpoint: a login that fails shows in the first
    /// request, and [`SshTransport::why_unreachable`] says why.
    pub async fn open(url: &str) -> Result<SshTransport> {
        let target = SshTarget::parse(url)?;
        let control = control_dir();
        // A forward that answers lives in an open master: nothing to start.
        let forward = match &control {
            Some(dir) => match Forward::reuse(&target, dir).await {
                Some(forward) => Some(forward),
                None if open_shared_connection(&target, dir).await => Forward::open(&target, dir).await,
                None => None,
            },
            None => None,
        };
        let forward = forward.map(Arc::new);
        let words = Arc::new(Words::default());
        let connector = SshConnector::new(target, control.as_deref(), forward, words.clone());
        Ok(SshTransport { client: Client::builder(TokioExecutor::new()).build(connector), words })
    }

    /// A client for `url` speaking API `version` through this transport.
    pub fn docker(&self, url: &str, timeout_secs: u64, version: &ClientVersion) -> Result<Docker> {
        let client = self.client.clone();
        let transport = move |request: BollardRequest| {
            let client = client.clone();
            async move { client.request(request).await.map_err(bollard::errors::Error::from) }
        };
        Docker::connect_with_custom_transport(transport, Some("http://ssh.invalid"), timeout_secs, version)
            .with_context(|| format!("cannot set up a client for {url}"))
    }

    /// Why the first request got no answer, in ssh's and the remote
    /// docker's words (`Permission denied (publickey)`, `Host key
    /// verification failed`, `docker: not found`) when a connection's ssh
    /// said something within [`WORDS_PATIENCE`]; else `cause`.
    pub async fn why_unreachable(&self, cause: String) -> String {
        match self.words.last(WORDS_PATIENCE).await {
            Some(words) => format!("`ssh ... docker system dial-stdio` failed: {words}"),
            None => cause,
        }
    }
}

/// How long a failed first request waits for ssh's last words.
const WORDS_PATIENCE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_the_docker_cli_reads_them() {
        let t = |user: Option<&str>, host: &str, port: Option<u16>| SshTarget {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        };
        assert_eq!(
            SshTarget::parse("ssh://builder@127.0.0.1:2222").unwrap(),
            t(Some("builder"), "127.0.0.1", Some(2222))
        );
        assert_eq!(SshTarget::parse("ssh://rebuilder").unwrap(), t(None, "rebuilder", None));
        assert_eq!(SshTarget::parse("ssh://u@[::1]:22/").unwrap(), t(Some("u"), "::1", Some(22)));
        for bad in [
            "ssh://",
            "ssh://host:port",
            "ssh://host/var/run/docker.sock",
            "ssh://-oProxyCommand=x",
            "ssh://@h",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
