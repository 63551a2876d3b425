//! One prelude for error handling: every module `use crate::errors::*;`.
//!
//! Fallible calls carry `.with_context(...)` so a failure reads as a chain from
//! what the user asked for down to the syscall that failed.

pub use anyhow::{anyhow, bail, ensure, Context, Error, Result};
