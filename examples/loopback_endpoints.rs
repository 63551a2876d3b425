//! Serves the engine under test ($DOCKER_HOST, a Unix socket) through a TLS
//! endpoint and an SSH endpoint on 127.0.0.1, as tests/engine/remote.rs does, and
//! prints one line per endpoint: `tls ENV...` and `ssh ENV...` (shell
//! assignments for `env`). Serves until stdin closes. Used by
//! scripts/bench-remote.sh.

use std::process::Output;

/// What tests/common/remote.rs expects beside it.
fn show(out: &Output) -> String {
    format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr))
}

fn skipped(why: &str) {
    eprintln!("skipped: {why}");
}

#[allow(dead_code)]
#[path = "../tests/common/remote.rs"]
mod remote;

use remote::{SshEndpoint, TlsEndpoint};
use std::io::Read;

fn main() {
    let tls = TlsEndpoint::start();
    let ssh = SshEndpoint::start();
    println!("tls DOCKER_HOST={} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH={}", tls.host, tls.certs.display());
    println!("ssh DOCKER_HOST={} PATH={} XDG_CACHE_HOME={}", ssh.host, ssh.path, ssh.cache.display());
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    let _ = tls.dir();
}
