//! The connections of an ssh endpoint. Each is a socket of the master's
//! forward of the engine socket ([`super::forward`]) while that works, else
//! one `ssh ... docker system dial-stdio` process whose stdin and stdout
//! carry HTTP/1.1; hyper's pool keeps it alive for the requests that
//! follow, and never takes back one that an attach upgraded (it is the
//! attach's until dropped, which kills the process).
//!
//! A connection is handed to hyper only once the engine has answered on it
//! (`HEAD /_ping`, [`handshake`]): until then hyper may still give the
//! request a pooled connection that frees up meanwhile, instead of waiting
//! for a remote login (about 0.15–0.4 s measured on loopback, most of it
//! the remote login shell's startup files). A connection whose handshake
//! has not ended is closed, not killed, when dropped: a login killed
//! halfway through its shell's startup files can leave them half done (on
//! the test machine, pyenv's rehash lock from root's `~/.bashrc`, which
//! then held every later login for 60 s). With its stdin closed, the
//! remote `dial-stdio` and the ssh process end as soon as they are up.
//!
//! Connections started ahead of need were tried and dropped: on loopback
//! (where the remote logins share the builds' two cores) they made no
//! measurable difference (docs/benchmarks.md).

use super::forward::Forward;
use super::handshake::handshake;
use super::words::Words;
use super::SshTarget;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io::{Error as IoError, ErrorKind};
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Opens connections for hyper: through the master's forward of the
/// engine socket while that works, else each its own `dial-stdio`.
#[derive(Clone)]
pub(super) struct SshConnector {
    target: Arc<SshTarget>,
    control: Option<Arc<Path>>,
    forward: Option<Arc<Forward>>,
    words: Arc<Words>,
}

/// A started `ssh ... docker system dial-stdio`, not yet answered on.
struct Started {
    stdout: ChildStdout,
    stdin: ChildStdin,
    child: Child,
}

impl SshConnector {
    /// Connections to `target`, through `forward` or the shared ssh
    /// connection in `control` when there is one; ssh's stderr goes to
    /// `words`.
    pub(super) fn new(
        target: SshTarget,
        control: Option<&Path>,
        forward: Option<Arc<Forward>>,
        words: Arc<Words>,
    ) -> SshConnector {
        SshConnector { target: Arc::new(target), control: control.map(Arc::from), forward, words }
    }

    /// Starts `ssh ... docker system dial-stdio`. It is killed when the
    /// connection made of it is dropped ([`SshIo`]), not before (see the
    /// module's comment).
    fn spawn(&self) -> std::io::Result<Started> {
        let mut cmd = self.target.command(self.control.as_deref());
        cmd.args(["docker", "system", "dial-stdio"]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            ErrorKind::NotFound => {
                IoError::new(e.kind(), "ssh is not installed (apt-get install openssh-client)")
            }
            _ => IoError::new(e.kind(), format!("running ssh: {e}")),
        })?;
        let (Some(stdout), Some(stdin), Some(stderr)) =
            (child.stdout.take(), child.stdin.take(), child.stderr.take())
        else {
            return Err(IoError::other("ssh started without pipes"));
        };
        tokio::spawn(self.words.clone().listen(stderr));
        Ok(Started { stdout, stdin, child })
    }
}

/// A `dial-stdio` connection once the engine answered on it.
async fn dial_stdio(started: Started) -> std::io::Result<SshIo> {
    let Started { stdout, stdin, child } = started;
    let mut stream = tokio::io::join(stdout, stdin);
    handshake(&mut stream).await?;
    Ok(SshIo { io: TokioIo::new(Box::pin(stream)), child: Some(child) })
}

/// A connection through the master's forward once the engine answered on it.
async fn forwarded(forward: &Forward) -> std::io::Result<SshIo> {
    let mut stream = forward.connect().await?;
    handshake(&mut stream).await?;
    Ok(SshIo { io: TokioIo::new(Box::pin(stream)), child: None })
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshIo;
    type Error = IoError;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<SshIo>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move {
            if let Some(forward) = connector.forward.as_deref().filter(|f| f.usable()) {
                match forwarded(forward).await {
                    Ok(io) => return Ok(io),
                    Err(e) => forward.give_up(&e),
                }
            }
            dial_stdio(connector.spawn()?).await
        })
    }
}

/// Both directions of a connection.
trait Duplex: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Duplex for T {}

/// One connection: a `dial-stdio` ssh process's stdout and stdin, or a
/// socket of the master's forward. The process is killed when the
/// connection is dropped.
pub(super) struct SshIo {
    io: TokioIo<Pin<Box<dyn Duplex>>>,
    child: Option<Child>,
}

impl Drop for SshIo {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // Already gone, or the kill failed: nothing more to do here.
            let _ = child.start_kill();
        }
    }
}

impl Connection for SshIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for SshIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
