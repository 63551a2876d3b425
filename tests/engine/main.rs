//! The end-to-end tests, in one test binary (issue 33, item 7): reprocheck
//! against the real engine behind `$DOCKER_HOST`, plus the few refusals of
//! the same commands that come before any engine is contacted. One module
//! per subject; the crate is compiled and linked once for all of them.
//!
//! libtest runs the tests of every module in parallel threads of this one
//! process (one per CPU unless `--test-threads` says otherwise), so no test
//! may rely on being alone:
//! - Each test finds what is its own by run id, owner label (its child's
//!   PID), TMPDIR or temporary directory, never by "everything there is".
//! - No test changes the process's environment or current directory
//!   (`std::env::set_var` would reach every thread): a child reprocheck gets
//!   its own through `Command::env` and `Command::current_dir`.
//! - `engine_restart` stops the engine: every test holds the engine shared
//!   from its first `common::engine()` until it ends, and that test holds it
//!   alone (`common::engine_alone`, a process-wide `RwLock`).
//! - What several modules make in the repository is made once per process:
//!   the pinned image (`common::require_image`) and specs/hello-release.git
//!   (`common::example_repo`).
//!
//! The engine-free tests that need none of this are in tests/local.

#[path = "../common/mod.rs"]
mod common;

mod batch;
mod bombs;
mod check;
mod cli;
mod engine_cost;
mod engine_restart;
mod examples;
mod explain;
mod factors;
mod hostile;
mod html;
mod images;
mod kill;
mod limits;
mod propagation;
mod rebuild_debian;
mod rebuild_pypi;
mod registry;
mod remote;
mod sbom;
mod suites;
mod terminal;
mod trace;
mod verify;
