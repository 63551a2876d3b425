//! The first exchange on a new connection to the engine, whatever carries
//! it (a forwarded socket or a `dial-stdio` process): it is handed out only
//! once the engine has answered on it.

use std::io::{Error as IoError, ErrorKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most the answer to the handshake may hold.
const HANDSHAKE_MAX: usize = 16 << 10;

/// Sends `HEAD /_ping` and reads the answer's head (a HEAD answer has no
/// body), so that the connection is handed over only once the engine
/// answers at its other end, and with nothing of this exchange left to read.
pub(super) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> std::io::Result<()> {
    stream.write_all(b"HEAD /_ping HTTP/1.1\r\nHost: ssh.invalid\r\n\r\n").await?;
    stream.flush().await?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(IoError::new(ErrorKind::UnexpectedEof, "ssh ended before the engine answered"));
        }
        answer.extend_from_slice(&buf[..n]);
        let end = answer.windows(4).position(|w| w == b"\r\n\r\n");
        match end {
            Some(end) if end + 4 == answer.len() => return Ok(()),
            None if answer.len() <= HANDSHAKE_MAX => {}
            _ => return Err(IoError::other("the engine's answer to HEAD /_ping is not an HTTP answer head")),
        }
    }
}
