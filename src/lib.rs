//! reprocheck: build a pinned spec several times in OCI containers and
//! compare the outputs.
//!
//! The modules follow the pipeline: [`spec`] → [`plan`] → [`engine`] →
//! [`collect`] → [`compare`] → [`report`], with [`image`] and [`lock`] for
//! the toolchain image pin and [`check`] tying the stages together.

pub mod collect;
pub mod errors;
pub mod factors;
pub mod spec;
pub mod engine;
pub mod plan;
pub mod source;
pub mod image;
pub mod check;
pub mod compare;
pub mod report;
pub mod cli;
pub mod lock;
