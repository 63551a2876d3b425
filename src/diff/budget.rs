//! How many decompressed bytes one comparison may still produce: every
//! compression layer and archive member of both versions of an output draw
//! from one budget, so a small bomb (a 256 MiB member listed six times, a
//! gzip of a gzip of a gzip …) runs out instead of filling memory.

use crate::cleanup::Interrupt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The default budget for one output (both versions together).
pub const DEFAULT_BUDGET: u64 = 256 << 20;

/// A decompression budget, shared by the threads that read the two versions.
#[derive(Debug)]
pub struct Budget {
    left: AtomicU64,
    total: u64,
    exhausted: AtomicBool,
    interrupt: Interrupt,
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Budget {
        Budget {
            left: AtomicU64::new(bytes),
            total: bytes,
            exhausted: AtomicBool::new(false),
            interrupt: Interrupt::default(),
        }
    }

    /// The same budget, spent at once when `interrupt` is set (by default
    /// the process's SIGINT and SIGTERM handlers set it).
    pub fn interrupted_by(self, interrupt: Interrupt) -> Budget {
        Budget { interrupt, ..self }
    }

    /// What stops it.
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt
    }

    /// Bytes still available.
    pub fn left(&self) -> u64 {
        self.left.load(Ordering::Relaxed)
    }

    /// Takes `bytes`; false (and the budget marked exhausted) when they are
    /// not available, or once SIGINT or SIGTERM arrived: every read of a
    /// comparison passes here, so an interrupted one stops at its next read.
    pub fn charge(&self, bytes: u64) -> bool {
        if self.interrupt.signal().is_some() {
            self.exhausted.store(true, Ordering::Relaxed);
            return false;
        }
        let taken =
            self.left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes));
        if taken.is_err() {
            self.exhausted.store(true, Ordering::Relaxed);
        }
        taken.is_ok()
    }

    /// Whether something was not read because the budget ran out.
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// The budget it started with.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Reads `reader` to the end if what it yields fits the budget.
    pub fn read(&self, reader: impl Read) -> Option<Vec<u8>> {
        self.read_at_most(reader, u64::MAX)
    }

    /// Reads `reader` to the end if what it yields is at most `cap` bytes
    /// and fits the budget; only the budget running out marks it exhausted.
    pub fn read_at_most(&self, reader: impl Read, cap: u64) -> Option<Vec<u8>> {
        let limit = self.left().min(cap);
        let mut out = Vec::new();
        reader.take(limit.saturating_add(1)).read_to_end(&mut out).ok()?;
        if out.len() as u64 > cap {
            return None;
        }
        self.charge(out.len() as u64).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_draw_from_one_budget() {
        let budget = Budget::new(10);
        assert_eq!(budget.read(&b"123456"[..]).as_deref(), Some(&b"123456"[..]));
        assert!(budget.read(&b"123456"[..]).is_none(), "only 4 bytes left");
        assert!(budget.exhausted());
    }

    #[test]
    fn an_interrupt_it_is_given_spends_the_budget_at_the_next_read() {
        let interrupt = Interrupt::standalone();
        let budget = Budget::new(100).interrupted_by(interrupt);
        assert!(budget.charge(1) && !budget.exhausted());
        interrupt.raise();
        assert!(!budget.charge(1), "the read after the interrupt is refused");
        assert!(budget.exhausted());
        assert!(Budget::new(100).charge(1), "another budget's interrupt is its own");
    }
}
