//! Compiles the helpers reprocheck uploads into build containers: the
//! libraries it preloads into experiments (the fileordering factor's readdir
//! reverser, src/factors/readdir_reverse.c, and the time factor's "set to
//! now" fix, src/factors/utime_now.c), and the build tracer
//! (src/trace/tracer.c, statically linked: it runs in any image). The
//! binary carries them.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    // Each preloaded helper: its source and the shared object the binary carries.
    for (source, library) in [
        ("src/factors/readdir_reverse.c", "libreaddir-reverse.so"),
        ("src/factors/utime_now.c", "libutime-now.so"),
    ] {
        // dlsym lives in libdl.so.2 before glibc 2.34 (a stub after).
        compile(&[source], library, &["-shared", "-fPIC", "-Wl,--no-as-needed", "-l:libdl.so.2"]);
    }
    // libc.a comes with libc6-dev (glibc's static library).
    compile(&["src/trace/tracer.c", "src/trace/digests.c"], "reprocheck-trace", &["-static"]);
    println!("cargo:rerun-if-changed=src/trace/digests.h");
}

/// Compiles `sources` into `$OUT_DIR/output` with the target's C compiler
/// and `flags`.
fn compile(sources: &[&str], output: &str, flags: &[&str]) {
    for source in sources {
        println!("cargo:rerun-if-changed={source}");
    }
    let source = sources.join(" ");
    let target = std::env::var("TARGET").unwrap_or_default();
    let target_cc = format!("CC_{}", target.replace('-', "_"));
    println!("cargo:rerun-if-env-changed={target_cc}");
    println!("cargo:rerun-if-env-changed=CC");
    // As the cc crate does: CC_<target>, then CC; either may carry arguments ("ccache gcc").
    let compiler =
        std::env::var(&target_cc).or_else(|_| std::env::var("CC")).unwrap_or_else(|_| "cc".to_string());
    let mut words = compiler.split_whitespace();
    let program = words.next().unwrap_or("cc");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join(output);
    let status = Command::new(program)
        .args(words)
        .args(["-O2", "-Wall", "-Wextra", "-o"])
        .arg(&out)
        .args(sources)
        .args(flags)
        .status()
        .unwrap_or_else(|e| {
            panic!("running the C compiler `{compiler}` for {source}: {e} (apt-get install gcc, or set CC)")
        });
    assert!(status.success(), "`{compiler}` could not compile {source} ({status})");
}
