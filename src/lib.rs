//! reprocheck: build a pinned spec several times in OCI containers and
//! compare the outputs.
//!
//! The modules follow the pipeline: [`spec`] → [`plan`] → [`engine`] →
//! [`collect`] → [`compare`] → [`report`], with [`image`] and [`lock`] for
//! the toolchain image pin and [`check`] tying the stages together.

#![warn(missing_docs)]

pub mod attest;
pub mod batch;
pub mod check;
pub mod cleanup;
pub mod clock;
pub mod collect;
pub mod compare;
pub mod console;
pub mod debian;
pub mod decompress;
pub mod diff;
pub mod digest;
pub mod engine;
pub mod errors;
pub mod explain;
pub mod factors;
pub mod http;
pub mod image;
pub mod invocation;
pub mod lock;
pub mod mounts;
pub mod paths;
pub mod percent;
pub mod plan;
pub mod progress;
pub mod rebuild;
pub mod registry;
pub mod report;
pub mod results;
pub mod run;
pub mod sbom;
pub mod session;
pub mod source;
pub mod spec;
pub mod style;
pub mod trace;
pub mod verify;
