//! What the connections' ssh processes write to stderr, kept so that a
//! connection that fails is reported in ssh's (and the remote docker's)
//! words.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

/// At most this much of one connection's stderr is kept.
const WORDS_MAX: usize = 4096;

/// What the connections' ssh processes wrote to stderr: the last that
/// wrote anything, when it ended.
#[derive(Default)]
pub(super) struct Words {
    last: Mutex<Option<String>>,
    said: Notify,
}

impl Words {
    /// Reads one process's stderr to its end, keeping [`WORDS_MAX`] bytes.
    pub(super) async fn listen(self: Arc<Self>, mut stderr: tokio::process::ChildStderr) {
        let mut kept = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stderr.read(&mut buf).await {
            let room = WORDS_MAX.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let text = String::from_utf8_lossy(&kept).trim().to_string();
        if text.is_empty() {
            return;
        }
        tracing::debug!("ssh ... docker system dial-stdio said: {text}");
        *self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(text);
        self.said.notify_waiters();
    }

    fn current(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The last words, waiting up to `patience` for some when there are none
    /// yet (a connection's process may end a moment after its stdout).
    pub(super) async fn last(&self, patience: Duration) -> Option<String> {
        let said = self.said.notified();
        tokio::pin!(said);
        said.as_mut().enable();
        if let Some(words) = self.current() {
            return Some(words);
        }
        let _ = tokio::time::timeout(patience, said).await;
        self.current()
    }
}
