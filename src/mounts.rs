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
pub const DISORDERFS_ARGS: &[&str] = &[
    "--multi-user=yes",
    "--reverse-dirents=yes",
    "--shuffle-dirents=no",
    "-o",
    "kernel_cache,attr_timeout=3600,entry_timeout=3600",
];

/// A host directory the container builds in.
#[derive(Debug)]
pub struct BuildMount {
    backing: PathBuf,
    mountpoint: Option<PathBuf>,
}

impl BuildMount {
    /// Creates `dir/backing`, has `fill` put the build directory's contents
    /// there, and with `disorderfs` mounts a disorderfs view of it on
    /// `dir/view`.
    pub fn create(
        dir: &Path,
        disorderfs: bool,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<BuildMount> {
        let backing = dir.join("backing");
        std::fs::create_dir_all(&backing).with_context(|| format!("creating {}", backing.display()))?;
        fill(&backing)?;
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

/// The start of every scratch directory's name: `reprocheck-RUN-pPID-`, so
/// that the mounts of a process that is gone can be told apart.
pub fn scratch_prefix(run_id: &str) -> String {
    format!("reprocheck-{run_id}-p{}-", std::process::id())
}

/// Unmounts disorderfs views left by reprocheck processes that are gone
/// (their scratch directory names a PID that no longer exists). Returns the
/// mount points undone.
pub fn sweep_orphaned() -> Vec<PathBuf> {
    sweep_where(orphaned_scratch)
}

/// Unmounts the disorderfs views of `run_id` in this process (after a panic).
pub fn sweep_run(run_id: &str) -> Vec<PathBuf> {
    let prefix = scratch_prefix(run_id);
    sweep_where(|point| point.split('/').any(|part| part.starts_with(&prefix)))
}

/// Unmounts the FUSE mounts whose mount point `unwanted` picks.
fn sweep_where(unwanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut undone = Vec::new();
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_), Some(point), Some(kind)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let point = point.replace("\\040", " ");
        if !kind.starts_with("fuse") || !unwanted(&point) {
            continue;
        }
        let status = Command::new("fusermount").arg("-u").arg("-z").arg(&point).status();
        match status {
            Ok(s) if s.success() => undone.push(PathBuf::from(point)),
            other => tracing::warn!("could not unmount {point}: {other:?}"),
        }
    }
    undone
}

/// Whether `path` lies in the scratch directory of a process that is gone.
fn orphaned_scratch(path: &str) -> bool {
    path.split('/').any(|part| {
        let Some(rest) = part.strip_prefix("reprocheck-") else { return false };
        let Some((_, after)) = rest.split_once("-p") else { return false };
        let pid = after.split('-').next().unwrap_or_default();
        pid.parse::<u32>().is_ok_and(|pid| crate::engine::owner_is_gone(&crate::engine::owner_of_pid(pid)))
    })
}

/// A uid no one on the host is expected to be: the build users' kind.
const PROBE_UID: u32 = 1111;

/// Why disorderfs cannot be used here, or `None` when a test mount works.
pub fn disorderfs_problem(scratch: &Path, engine_is_local: bool) -> Option<String> {
    if !engine_is_local {
        return Some("the engine is not local, so a host FUSE mount cannot be bind-mounted".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing on this host".into());
    }
    let dir = scratch.join("disorderfs-probe");
    // The source is copied in as the build user, which takes root.
    let give_away = |backing: &Path| -> Result<()> {
        let file = backing.join("owned-by-the-build-user");
        std::fs::write(&file, "").with_context(|| format!("creating {}", file.display()))?;
        std::os::unix::fs::lchown(&file, Some(PROBE_UID), Some(PROBE_UID)).with_context(|| {
            format!("giving a file to uid {PROBE_UID}, as the source copy for each build user needs (root)")
        })
    };
    match BuildMount::create(&dir, true, give_away) {
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
