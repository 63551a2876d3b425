//! Compiles the fileordering factor's readdir reverser
//! (src/factors/readdir_reverse.c) into a shared object that the binary
//! carries and uploads into experiment containers.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "src/factors/readdir_reverse.c";
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-env-changed=CC");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("libreaddir-reverse.so");
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&compiler)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(source)
        .arg("-ldl")
        .status()
        .unwrap_or_else(|e| {
            panic!("running the C compiler `{compiler}` for {source}: {e} (apt-get install gcc, or set CC)")
        });
    assert!(status.success(), "`{compiler}` could not compile {source} ({status})");
}
