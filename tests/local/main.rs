//! The tests that need no container engine, in one test binary (issue 33,
//! item 7): bad specs refused before any engine is contacted, Debian source
//! packages unpacked as dpkg-source does, and the orchestration driven
//! through the library with an in-process engine (`memory`). They run where
//! no engine is: `cargo test --release --test local`.

// This binary uses only the helpers that run the built binary (root, show,
// skipped, reprocheck_cmd); the rest of common serves tests/engine, which
// uses every helper, so dead code in common is still reported there.
#[path = "../common/mod.rs"]
#[allow(dead_code)]
mod common;
mod memory;

mod bad_specs;
mod dsc;
mod orchestration;
