//! Compiles the libraries reprocheck preloads into experiment containers:
//! the fileordering factor's readdir reverser (src/factors/readdir_reverse.c)
//! and the time factor's "set to now" fix (src/factors/utime_now.c). The
//! binary carries them and uploads them into containers.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    // Each preloaded helper: its source and the shared object the binary carries.
    for (source, library) in [
        ("src/factors/readdir_reverse.c", "libreaddir-reverse.so"),
        ("src/factors/utime_now.c", "libutime-now.so"),
    ] {
        compile(source, library);
    }
}

/// Compiles `source` into `$OUT_DIR/library` with the target's C compiler.
fn compile(source: &str, library: &str) {
    println!("cargo:rerun-if-changed={source}");
    let target = std::env::var("TARGET").unwrap_or_default();
    let target_cc = format!("CC_{}", target.replace('-', "_"));
    println!("cargo:rerun-if-env-changed={target_cc}");
    println!("cargo:rerun-if-env-changed=CC");
    // As the cc crate does: CC_<target>, then CC; either may carry arguments ("ccache gcc").
    let compiler =
        std::env::var(&target_cc).or_else(|_| std::env::var("CC")).unwrap_or_else(|_| "cc".to_string());
    let mut words = compiler.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(library);
    let status = Command::new(program)
        .args(words)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o"])
        .arg(&out)
        .arg(source)
        // dlsym lives in libdl.so.2 before glibc 2.34 (a stub after).
        .args(["-Wl,--no-as-needed", "-l:libdl.so.2"])
        .status()
        .unwrap_or_else(|e| {
            panic!("running the C compiler `{compiler}` for {source}: {e} (apt-get install gcc, or set CC)")
        });
    assert!(status.success(), "`{compiler}` could not compile {source} ({status})");
}
