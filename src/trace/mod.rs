//! The build trace (`--trace`): which processes a build ran and which files
//! each created, wrote, renamed or removed, recorded inside the container
//! by a static tracer (src/trace/tracer.c) that runs the build command as
//! its child under ptrace, stopped by a seccomp filter only at the exec,
//! open, rename, link and unlink families. No capability is added: a
//! process may trace its own children.
//!
//! The tracer writes `/<top of the build dir>/.reprocheck-trace` (outside
//! the build directory, in a directory the build user owns); the run saves
//! it as `run-N/trace.tsv` ([`parse`] reads it).

pub mod collect;
pub mod divergence;
pub mod parse;
pub mod propagation;

pub use collect::TraceSummary;
pub use parse::{FileEvent, FileEventKind, Process, Trace};
pub use propagation::{CarriedBy, Propagation};

use crate::engine::placed::PlacedFile;
use std::sync::Arc;

/// The tracer, compiled for this machine (statically linked) by build.rs.
static TRACER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/reprocheck-trace"));

/// Where the tracer is placed in a traced run's container.
pub const TRACER_IN_CONTAINER: &str = "/usr/lib/reprocheck/reprocheck-trace";

/// The saved trace, under a run's directory.
pub const TRACE_FILE: &str = "trace.tsv";

/// The most of a trace that is saved; a longer one is cut there (and
/// [`Trace::complete`] says so).
pub const TRACE_MAX_BYTES: u64 = 64 << 20;

/// The tracer, as a file uploaded into the container.
pub fn tracer_file() -> PlacedFile {
    PlacedFile::new(TRACER_IN_CONTAINER, 0o755, Arc::from(TRACER))
}

/// Where the tracer writes in a container whose build directory is
/// `build_dir`: beside the top directory that holds it (owned by the build
/// user, as the upload makes it), so the build's own tree never shows it.
pub fn trace_path_in_container(build_dir: &str) -> String {
    let top = build_dir.trim_start_matches('/').split('/').next().unwrap_or("");
    match top.is_empty() {
        true => "/tmp/.reprocheck-trace".to_string(),
        false => format!("/{top}/.reprocheck-trace"),
    }
}

/// The argument vector that runs `argv` under the tracer, writing to the
/// trace path of `build_dir`.
pub fn traced_argv(argv: Vec<String>, build_dir: &str) -> Vec<String> {
    let mut traced = vec![TRACER_IN_CONTAINER.to_string(), trace_path_in_container(build_dir)];
    traced.extend(argv);
    traced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_goes_beside_the_build_dirs_top() {
        assert_eq!(trace_path_in_container("/build/hello"), "/build/.reprocheck-trace");
        assert_eq!(
            trace_path_in_container("/build/reprocheck-second-build-path/hello"),
            "/build/.reprocheck-trace"
        );
        assert_eq!(trace_path_in_container("/"), "/tmp/.reprocheck-trace");
        assert_eq!(
            traced_argv(vec!["/bin/sh".into()], "/b/x")[..2],
            [TRACER_IN_CONTAINER, "/b/.reprocheck-trace"]
        );
    }

    #[test]
    fn the_tracer_is_a_static_executable() {
        use object::read::elf::{ElfFile64, ProgramHeader as _};
        let elf = ElfFile64::<object::Endianness>::parse(TRACER).unwrap();
        let endian = elf.endian();
        // No PT_INTERP: no dynamic loader to find in the image.
        let interp = elf.elf_program_headers().iter().any(|h| h.p_type(endian) == object::elf::PT_INTERP);
        assert!(!interp, "the tracer asks for a dynamic loader");
    }
}
