//! What must be undone however an invocation ends. SIGINT and SIGTERM are
//! caught once, for the whole process: the builds are cancelled where they
//! run (see `Session::run_batch`), and every later phase (compare, diff,
//! verify, explain's analysis) is given an [`Interrupt`] it asks between
//! steps. A panic sweeps
//! the containers and mounts of every run still open (see
//! [`install_panic_hook`]).

use crate::errors::*;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

/// 0: no signal yet; otherwise an index into [`SIGNAL_NAMES`].
static RECEIVED: AtomicU8 = AtomicU8::new(0);
const SIGNAL_NAMES: [&str; 3] = ["", "SIGINT", "SIGTERM"];

/// Wakes the waiters of [`Shutdown::recv`].
static WATCH: OnceLock<tokio::sync::watch::Sender<u8>> = OnceLock::new();

/// Whether a listener task is running.
static LISTENING: AtomicBool = AtomicBool::new(false);

/// Clears [`LISTENING`] when the listener task is dropped.
struct Listening;

impl Drop for Listening {
    fn drop(&mut self) {
        LISTENING.store(false, Ordering::SeqCst);
    }
}

/// The signal received, if any.
pub fn signal() -> Option<&'static str> {
    Interrupt::process().signal()
}

/// Whether the invocation was interrupted: a value the long stages
/// (compare, diff, verify, explain's analysis) are given and ask between
/// steps, so that a signal stops them as it stops the builds. The
/// process's handlers ([`Shutdown`]) set it; a test can make its own.
#[derive(Debug, Clone, Copy)]
pub struct Interrupt {
    received: &'static AtomicU8,
}

impl Interrupt {
    /// Set by this process's SIGINT and SIGTERM handlers.
    pub fn process() -> Interrupt {
        Interrupt { received: &RECEIVED }
    }

    /// One that only `raise` sets (tests; it lives until the process ends).
    #[cfg(test)]
    pub fn standalone() -> Interrupt {
        Interrupt { received: Box::leak(Box::new(AtomicU8::new(0))) }
    }

    /// Marks it interrupted, as by SIGINT.
    #[cfg(test)]
    pub fn raise(&self) {
        let _ = self.received.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<&'static str> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            n => SIGNAL_NAMES.get(n as usize).copied(),
        }
    }

    /// An error once interrupted.
    pub fn check(&self) -> Result<()> {
        match self.signal() {
            Some(name) => bail!("interrupted by {name}"),
            None => Ok(()),
        }
    }
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt::process()
    }
}

/// The process's signal handling, installed when the first session opens
/// (from then on SIGINT and SIGTERM no longer kill the process: they are
/// held until the runs can be cancelled and cleaned up).
pub struct Shutdown {
    received: tokio::sync::watch::Receiver<u8>,
}

impl Shutdown {
    /// What the long stages ask between steps.
    pub fn interrupt(&self) -> Interrupt {
        Interrupt::process()
    }

    /// Installs the handlers; later calls share them. The listener is a task
    /// of the current runtime: should that runtime be gone (tests run one
    /// per test), the next call starts a new one.
    pub fn install() -> Result<Shutdown> {
        use tokio::signal::unix::{signal, SignalKind};
        let sender = WATCH.get_or_init(|| tokio::sync::watch::channel(0u8).0);
        let received = sender.subscribe();
        if LISTENING.swap(true, Ordering::SeqCst) {
            return Ok(Shutdown { received });
        }
        let streams =
            signal(SignalKind::interrupt()).and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
        let (mut int, mut term) = match streams {
            Ok(streams) => streams,
            Err(e) => {
                LISTENING.store(false, Ordering::SeqCst);
                return Err(e).context("installing the SIGINT and SIGTERM handlers");
            }
        };
        tokio::spawn(async move {
            // Cleared however the task ends, its runtime shutting down included.
            let _listening = Listening;
            loop {
                let which = tokio::select! {
                    _ = int.recv() => 1,
                    _ = term.recv() => 2,
                };
                // The first signal names the interruption.
                let _ = RECEIVED.compare_exchange(0, which, Ordering::SeqCst, Ordering::SeqCst);
                if let Some(sender) = WATCH.get() {
                    sender.send_replace(which);
                }
            }
        });
        Ok(Shutdown { received })
    }

    /// Resolves when a signal has arrived (at once if one already did),
    /// naming it.
    pub async fn recv(&mut self) -> &'static str {
        loop {
            if let Some(name) = signal() {
                return name;
            }
            if self.received.changed().await.is_err() {
                // The listener is gone: never resolve.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Where a run panics or aborts on purpose: how the tests check what a
/// panic, or a process killed with no cleanup at all (as under SIGKILL),
/// leaves at that point. Read from `REPROCHECK_FAILPOINT` by the binary
/// only ([`Failpoints::from_env`]), and handed to the runs as a value.
#[derive(Debug, Clone, Default)]
pub struct Failpoints(Option<String>);

impl Failpoints {
    /// `REPROCHECK_FAILPOINT=POINT` panics at `POINT`; `POINT:abort` aborts there.
    pub fn from_env() -> Failpoints {
        Failpoints(std::env::var("REPROCHECK_FAILPOINT").ok().filter(|v| !v.is_empty()))
    }

    /// Panics or aborts when `point` is the one asked for; nothing otherwise.
    pub fn hit(&self, point: &str) {
        let Some(value) = &self.0 else { return };
        if value == point {
            panic!("REPROCHECK_FAILPOINT={point}");
        }
        if value.strip_suffix(":abort") == Some(point) {
            crate::errln!("reprocheck: REPROCHECK_FAILPOINT={point}:abort");
            std::process::abort();
        }
    }
}

/// The runs open in this process, for the panic hook: run id, and the
/// engine endpoint a fresh connection can sweep (none for an in-process one).
static OPEN_RUNS: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());

/// A run that may have containers and mounts: open from [`OpenRun::new`]
/// until dropped (after its session cleaned up).
#[derive(Debug)]
pub struct OpenRun(String);

impl OpenRun {
    /// Records `run_id`, whose containers live at `endpoint`, for the panic hook.
    pub fn new(run_id: &str, endpoint: Option<&str>) -> OpenRun {
        if let Ok(mut runs) = OPEN_RUNS.lock() {
            runs.push((run_id.to_string(), endpoint.map(str::to_string)));
        }
        OpenRun(run_id.to_string())
    }
}

impl Drop for OpenRun {
    fn drop(&mut self) {
        if let Ok(mut runs) = OPEN_RUNS.lock() {
            runs.retain(|(r, _)| *r != self.0);
        }
    }
}

/// Removes what one open run left: its containers (at the endpoint, when
/// it has one) and its mounts. Given by the binary, so that this module
/// names no engine.
pub type Sweeper = fn(run_id: &str, endpoint: Option<&str>);

/// Makes a panic, wherever it happens, remove the containers and mounts of
/// every open run with `sweep` before the process ends (unwinding alone
/// would leave the containers: removing them needs the engine). The sweep
/// runs on a thread of its own, since a panic may happen inside a runtime.
pub fn install_panic_hook(sweep: Sweeper) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let runs: Vec<(String, Option<String>)> = OPEN_RUNS.lock().map(|r| r.clone()).unwrap_or_default();
        if runs.is_empty() {
            return;
        }
        let swept = std::thread::spawn(move || {
            for (run_id, endpoint) in &runs {
                sweep(run_id, endpoint.as_deref());
            }
        })
        .join();
        if swept.is_err() {
            crate::errln!("reprocheck: the cleanup after the panic failed too");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_runs_are_tracked_until_dropped() {
        let a = OpenRun::new("t-run-a", None);
        let _b = OpenRun::new("t-run-b", Some("unix:///x.sock"));
        drop(a);
        let runs: Vec<String> = OPEN_RUNS.lock().unwrap().iter().map(|(r, _)| r.clone()).collect();
        assert!(runs.contains(&"t-run-b".to_string()) && !runs.contains(&"t-run-a".to_string()));
    }
}
