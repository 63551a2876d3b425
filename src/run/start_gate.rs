//! The time factor's staggered start, for explain's rounds: runs with
//! different clocks start [`STAGGER`] apart. A check does not stagger: its
//! time factor reads the build's clock from each run's own window
//! ([`crate::clock`]).

use crate::factors::STAGGER;
use std::time::{Duration, Instant};

/// Keeps runs with different clocks (the time factor's control and
/// experiment) [`STAGGER`] apart when they start. libfaketime leaves `stat`
/// alone, so files a build writes carry the real time: started apart, the
/// two runs write them in different seconds, and a build that records such
/// an mtime is caught even when the runs were launched together.
///
/// A run counts from when its container has started, not from when it was
/// admitted: on a loaded machine `start` can take seconds, and two runs
/// whose starts overlap would write their files in the same second.
#[derive(Debug, Default)]
pub struct StartGate {
    clocks: std::sync::Mutex<[ClockStarts; 2]>,
    /// How far apart runs of different clocks start; zero: no gate at all.
    stagger: Duration,
}

/// The starts of the runs with one clock.
#[derive(Debug, Default, Clone, Copy)]
struct ClockStarts {
    /// Runs admitted whose container has not started yet.
    starting: usize,
    /// When the latest of them started.
    last_start: Option<Instant>,
}

/// How often a run waiting on another clock's start looks again.
const GATE_POLL: Duration = Duration::from_millis(50);

impl StartGate {
    /// A gate that keeps runs of different clocks [`STAGGER`] apart.
    pub fn staggered() -> StartGate {
        StartGate { stagger: STAGGER, ..StartGate::default() }
    }

    /// Whether runs of different clocks wait for each other.
    pub fn staggers(&self) -> bool {
        !self.stagger.is_zero()
    }

    /// Waits until a run with `shifted_clock` may start, and counts it as
    /// starting until [`StartGate::started`] or [`StartGate::abandoned`].
    pub(super) async fn admit(&self, shifted_clock: bool) {
        if !self.staggers() {
            return;
        }
        let (mine, other) = if shifted_clock { (1, 0) } else { (0, 1) };
        loop {
            let wait = {
                let mut clocks = self.lock();
                let now = Instant::now();
                let theirs = clocks[other];
                let until = theirs.last_start.map(|t| t + self.stagger).filter(|until| *until > now);
                match (theirs.starting, until) {
                    (0, None) => {
                        clocks[mine].starting += 1;
                        return;
                    }
                    (0, Some(until)) => until - now,
                    _ => GATE_POLL,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Records that an admitted run's container has started.
    pub(super) fn started(&self, shifted_clock: bool) {
        if !self.staggers() {
            return;
        }
        let mut clocks = self.lock();
        let mine = &mut clocks[usize::from(shifted_clock)];
        mine.starting = mine.starting.saturating_sub(1);
        mine.last_start = Some(Instant::now());
    }

    /// Records that an admitted run's container failed to start.
    pub(super) fn abandoned(&self, shifted_clock: bool) {
        if !self.staggers() {
            return;
        }
        let mut clocks = self.lock();
        let mine = &mut clocks[usize::from(shifted_clock)];
        mine.starting = mine.starting.saturating_sub(1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [ClockStarts; 2]> {
        self.clocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `admit` is still waiting after `within`.
    async fn still_waiting(admit: impl std::future::Future<Output = ()>, within: Duration) -> bool {
        tokio::time::timeout(within, admit).await.is_err()
    }

    #[tokio::test]
    async fn a_run_of_the_other_clock_waits_for_a_slow_start_then_the_stagger() {
        let gate = StartGate::staggered();
        gate.admit(false).await;
        // The control's container takes longer than the stagger to start.
        tokio::time::sleep(STAGGER + Duration::from_millis(200)).await;
        assert!(
            still_waiting(gate.admit(true), Duration::from_millis(300)).await,
            "admitted while the control was starting"
        );
        gate.started(false);
        let since = Instant::now();
        gate.admit(true).await;
        assert!(
            since.elapsed() >= STAGGER - Duration::from_millis(20),
            "admitted {:?} after the start",
            since.elapsed()
        );
    }

    #[tokio::test]
    async fn runs_of_one_clock_do_not_wait_for_each_other() {
        let gate = StartGate::staggered();
        gate.admit(true).await;
        assert!(!still_waiting(gate.admit(true), Duration::from_millis(100)).await);
    }

    #[tokio::test]
    async fn without_a_stagger_nobody_waits() {
        let gate = StartGate::default();
        gate.admit(false).await;
        assert!(!still_waiting(gate.admit(true), Duration::from_millis(100)).await);
        gate.started(false);
        assert!(!still_waiting(gate.admit(true), Duration::from_millis(100)).await);
    }

    #[tokio::test]
    async fn a_start_that_failed_holds_nobody_back() {
        let gate = StartGate::staggered();
        gate.admit(false).await;
        gate.abandoned(false);
        assert!(!still_waiting(gate.admit(true), Duration::from_millis(100)).await);
    }
}
