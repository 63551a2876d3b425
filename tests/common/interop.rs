//! Clients nobody here wrote, for checking what reprocheck publishes:
//! securesystemslib's DSSE and the in-toto attestation protobuf bindings
//! (attestations), and spdx-tools (the toolchain's SBOM),
//! in a virtualenv of the tests' own (tests/interop/requirements.txt).

use super::{root, skipped};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Serializes making the virtualenv: the tests that need it run in parallel,
/// and one test's `remove_dir_all` under another's `ensurepip` failed CI
/// ("returned non-zero exit status 1").
static MAKING: Mutex<()> = Mutex::new(());

/// The virtualenv's python with the clients installed, made on first use
/// under the target directory. `None` (skipped) when it cannot be made,
/// unless REPROCHECK_REQUIRE_DOCKER asks for every end-to-end test (CI).
pub fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
    let python = venv.join("bin/python");
    let requirements = root().join("tests/interop/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let current = std::fs::read(&requirements).unwrap();
    let _making = MAKING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if std::fs::read(&stamp).ok().as_deref() == Some(&current[..]) {
        return Some(python);
    }
    let made = (|| -> Result<(), String> {
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            match out.status.success() {
                true => Ok(()),
                false => Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr))),
            }
        };
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(&python).args(["-m", "pip", "install", "-q", "-r"]).arg(&requirements))?;
        std::fs::write(&stamp, &current).map_err(|e| e.to_string())
    })();
    match made {
        Ok(()) => Some(python),
        Err(e) if std::env::var_os("REPROCHECK_REQUIRE_DOCKER").is_some() => {
            panic!("cannot install the interop clients (python3-venv, and the Python package index): {e}")
        }
        Err(e) => {
            skipped(&format!("no interop clients: {e}"));
            None
        }
    }
}
