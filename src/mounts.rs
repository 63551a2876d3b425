//! Host-side build directories for the fileordering factor: a plain directory
//! for the control, a disorderfs view of one for experiments, bind-mounted
//! into the container as the build directory. Every mount is undone when its
//! [`BuildMount`] is dropped, also on errors and interruption.

use crate::engine::Bind;
use crate::errors::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The disorderfs options experiments use: reverse order is deterministic,
/// so a build that depends on readdir order is caught every time.
pub const DISORDERFS_ARGS: &[&str] = &["--multi-user=yes", "--reverse-dirents=yes", "--shuffle-dirents=no"];

/// A host directory the container builds in.
#[derive(Debug)]
pub struct BuildMount {
    backing: PathBuf,
    mountpoint: Option<PathBuf>,
}

impl BuildMount {
    /// Creates `dir/backing`, and with `disorderfs` mounts a disorderfs view
    /// of it on `dir/view`.
    pub fn create(dir: &Path, disorderfs: bool) -> Result<BuildMount> {
        let backing = dir.join("backing");
        std::fs::create_dir_all(&backing).with_context(|| format!("creating {}", backing.display()))?;
        let mut mount = BuildMount { backing, mountpoint: None };
        if disorderfs {
            let view = dir.join("view");
            std::fs::create_dir_all(&view).with_context(|| format!("creating {}", view.display()))?;
            let output = Command::new("disorderfs")
                .args(DISORDERFS_ARGS)
                .arg("--quiet")
                .arg(&mount.backing)
                .arg(&view)
                .output()
                .context("running disorderfs (apt-get install disorderfs)")?;
            ensure!(
                output.status.success(),
                "disorderfs could not mount {}: {}",
                view.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
            mount.mountpoint = Some(view);
        }
        Ok(mount)
    }

    /// The read-write bind mount of this directory at `build_dir`.
    pub fn bind(&self, build_dir: &str) -> Bind {
        let host = self.mountpoint.as_ref().unwrap_or(&self.backing);
        Bind { host: host.clone(), container: build_dir.to_string(), read_only: false }
    }

    /// Unmounts the disorderfs view, if any.
    pub fn release(&mut self) -> Result<()> {
        if let Some(view) = self.mountpoint.take() {
            let status = Command::new("fusermount")
                .arg("-u")
                .arg("-z")
                .arg(&view)
                .status()
                .with_context(|| format!("running fusermount -u {}", view.display()))?;
            ensure!(status.success(), "fusermount -u {} failed ({status})", view.display());
        }
        Ok(())
    }
}

impl Drop for BuildMount {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            tracing::warn!("{e:#}");
        }
    }
}

/// Why disorderfs cannot be used here, or `None` when a test mount works.
pub fn disorderfs_problem(scratch: &Path, engine_is_local: bool) -> Option<String> {
    if !engine_is_local {
        return Some("the engine is not local, so a host FUSE mount cannot be bind-mounted".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing on this host".into());
    }
    let dir = scratch.join("disorderfs-probe");
    match BuildMount::create(&dir, true) {
        Ok(mut mount) => mount.release().err().map(|e| format!("{e:#}")),
        Err(e) => Some(format!("{e:#}")),
    }
}

/// `disorderfs --version`, or "unknown".
pub fn disorderfs_version() -> String {
    Command::new("disorderfs")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
