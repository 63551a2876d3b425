//! The engine's socket forwarded by the shared ssh connection, so that a
//! new HTTP connection is a channel of the ssh master (a millisecond or
//! two) rather than a remote login running `docker system dial-stdio`
//! (0.15–0.4 s measured on loopback, most of it the login shell's startup
//! files, on the same cores as the builds).
//!
//! Which socket: the one the remote Docker CLI would dial, asked once per
//! transport with `docker context inspect` (it follows the remote
//! `DOCKER_HOST` and contexts, as `dial-stdio` does). Only a `unix://`
//! endpoint is forwarded; anything else, a remote without contexts, or an
//! sshd that refuses socket forwarding (`AllowStreamLocalForwarding no`)
//! leaves the transport on `dial-stdio`, as the Docker CLI works.
//!
//! The forward's local socket lives in the private control directory
//! (mode 0700; ssh binds it 0600), named after the endpoint, and lasts as
//! long as the master does (60 s past its last use): the next check to
//! the same endpoint finds it answering and asks nothing remotely. A
//! socket left by a master that ended refuses connections; it is removed
//! and the forward made again.

use super::SshTarget;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long asking the remote for its socket may take (one remote login).
const ASK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long adding the forward to the master may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the remote's answer that is read.
const ANSWER_MAX: usize = 4096;
/// The remote command that names the engine endpoint `dial-stdio` would use.
const ASK_ENDPOINT: &str = "docker context inspect --format '{{.Endpoints.docker.Host}}'";
/// How long a forward left by an earlier check may take to answer.
const REUSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A forward of the remote engine socket to a local socket, through the
/// ssh master in `control`.
pub(super) struct Forward {
    local: PathBuf,
    /// Set once a connection through it failed: the rest use `dial-stdio`.
    broken: AtomicBool,
}

impl Forward {
    /// The forward an earlier check left on the master in `control`, when
    /// it answers (then the master is open too).
    pub(super) async fn reuse(target: &SshTarget, control: &Path) -> Option<Forward> {
        let local = control.join(socket_name(target));
        let answered = answers(&local).await;
        tracing::debug!("ssh: the forward at {} answers: {answered}", local.display());
        answered.then(|| Forward { local, broken: false.into() })
    }

    /// Asks the remote for its engine socket and forwards it through the
    /// master in `control`, which must be open. `None`, with the reason
    /// logged, wherever that cannot be done.
    pub(super) async fn open(target: &SshTarget, control: &Path) -> Option<Forward> {
        let local = control.join(socket_name(target));
        // Left by a master that ended (ssh does not remove it): in the way of a new one.
        let _ = std::fs::remove_file(&local);
        let remote = match remote_socket(target, control).await {
            Ok(remote) => remote,
            Err(why) => {
                tracing::debug!("ssh: not forwarding the engine socket ({why}); connections use dial-stdio");
                return None;
            }
        };
        let spec = forward_spec(&local, &remote)?;
        let mut add = target.ssh(Some(control), &["-O", "forward", "-L", &spec]);
        add.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let added = tokio::time::timeout(FORWARD_TIMEOUT, add.output()).await;
        let why = match added {
            Ok(Ok(out)) if out.status.success() => {
                tracing::debug!("ssh: engine socket {remote} forwarded to {}", local.display());
                return Some(Forward { local, broken: false.into() });
            }
            Ok(Ok(out)) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Ok(Err(e)) => format!("running ssh -O forward: {e}"),
            Err(_) => "ssh -O forward did not answer".to_string(),
        };
        tracing::debug!("ssh: the master did not forward {remote}: {why}; connections use dial-stdio");
        None
    }

    /// Whether connections should still try the forward.
    pub(super) fn usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed)
    }

    /// A connection to the remote engine through the forward.
    pub(super) async fn connect(&self) -> std::io::Result<tokio::net::UnixStream> {
        tokio::net::UnixStream::connect(&self.local).await
    }

    /// Stops using the forward after a connection through it failed (the
    /// master ended, or the remote sshd refused the channel).
    pub(super) fn give_up(&self, why: &std::io::Error) {
        if !self.broken.swap(true, Ordering::Relaxed) {
            tracing::debug!("ssh: a connection through the forward failed ({why}); the rest use dial-stdio");
        }
    }
}

/// The forward's socket name for `target`: one per endpoint, as the
/// master is (`%C` is ssh's own hash, not known here).
fn socket_name(target: &SshTarget) -> String {
    let endpoint = format!("{:?}@{}:{:?}", target.user, target.host, target.port);
    format!("fwd-{}.sock", &hex::encode(Sha256::digest(endpoint.as_bytes()))[..16])
}

/// Whether a forward at `local` reaches an engine now.
async fn answers(local: &Path) -> bool {
    let probe = async {
        let mut stream = tokio::net::UnixStream::connect(local).await?;
        super::handshake::handshake(&mut stream).await
    };
    matches!(tokio::time::timeout(REUSE_TIMEOUT, probe).await, Ok(Ok(())))
}

/// `LOCAL:REMOTE` for `-L`, unless a colon in either would split it wrongly.
fn forward_spec(local: &Path, remote: &str) -> Option<String> {
    let local = local.to_str()?;
    match local.contains(':') || remote.contains(':') {
        true => {
            tracing::debug!("ssh: {local} or {remote} holds a colon; connections use dial-stdio");
            None
        }
        false => Some(format!("{local}:{remote}")),
    }
}

/// The path of the remote engine's socket, from the remote Docker CLI.
async fn remote_socket(target: &SshTarget, control: &Path) -> Result<String, String> {
    let mut ask = target.command(Some(control));
    ask.arg(ASK_ENDPOINT);
    ask.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    // Not killed on a timeout: a login cut off halfway through its shell's
    // startup files can leave them half done (see connector.rs).
    ask.kill_on_drop(false);
    let mut child = ask.spawn().map_err(|e| format!("running ssh: {e}"))?;
    let stdout = child.stdout.take().ok_or("ssh started without a stdout pipe")?;
    let read = async {
        let mut answer = Vec::new();
        stdout.take(ANSWER_MAX as u64).read_to_end(&mut answer).await.map_err(|e| e.to_string())?;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, answer))
    };
    let (status, answer) = tokio::time::timeout(ASK_TIMEOUT, read)
        .await
        .map_err(|_| format!("`{ASK_ENDPOINT}` did not answer within {} s", ASK_TIMEOUT.as_secs()))??;
    if !status.success() {
        return Err(format!("`{ASK_ENDPOINT}` failed ({status})"));
    }
    unix_socket_path(&String::from_utf8_lossy(&answer))
}

/// The socket path of a `unix://` endpoint as `docker context inspect`
/// prints it.
fn unix_socket_path(answer: &str) -> Result<String, String> {
    let endpoint = answer.lines().next().unwrap_or("").trim();
    match endpoint.strip_prefix("unix://") {
        Some(path) if path.starts_with('/') => Ok(path.to_string()),
        _ => Err(format!("the remote engine endpoint is {endpoint:?}, not a unix socket")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_unix_endpoint_is_forwarded() {
        assert_eq!(unix_socket_path("unix:///var/run/docker.sock\n").unwrap(), "/var/run/docker.sock");
        assert_eq!(unix_socket_path("unix:///run/podman/podman.sock").unwrap(), "/run/podman/podman.sock");
        for other in
            ["tcp://10.0.0.1:2376\n", "ssh://u@h", "", "unix://relative.sock", "npipe:////./pipe/docker"]
        {
            assert!(unix_socket_path(other).is_err(), "{other:?}");
        }
    }

    #[test]
    fn a_colon_in_either_path_keeps_dial_stdio() {
        assert_eq!(
            forward_spec(Path::new("/c/fwd-1-0.sock"), "/var/run/docker.sock").as_deref(),
            Some("/c/fwd-1-0.sock:/var/run/docker.sock")
        );
        assert!(forward_spec(Path::new("/c:d/fwd.sock"), "/r").is_none());
        assert!(forward_spec(Path::new("/c/fwd.sock"), "/r:x").is_none());
    }

    #[test]
    fn one_socket_name_per_endpoint() {
        let name = |url: &str| socket_name(&SshTarget::parse(url).unwrap());
        assert_eq!(name("ssh://u@h:22"), name("ssh://u@h:22/"));
        assert_ne!(name("ssh://u@h:22"), name("ssh://u@h:23"));
        assert_ne!(name("ssh://u@h"), name("ssh://v@h"));
        assert!(name("ssh://h").starts_with("fwd-") && name("ssh://h").len() == 25);
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_does_not_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fwd.sock");
        assert!(!answers(&path).await);
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists() && !answers(&path).await);
    }
}
