//! Puts the source tree straight into a host build directory (the
//! fileordering factor's bind-mounted build directories): a copy on the
//! host, instead of an upload through the engine that a FUSE view would
//! slow down for every file.
//!
//! The copy holds what the upload would: the same entries, modes and
//! mtimes, every one owned by the build user.

use super::pack::{source_entries, Packing, SourceEntry};
use crate::errors::*;
use filetime::FileTime;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copies the tree of `p` into `build_dir`, the host directory that will be
/// the container's build directory. Directory mtimes are set last, once
/// nothing more is written into them.
pub fn populate(p: &Packing, build_dir: &Path) -> Result<()> {
    // The build directory, and `source.directory`'s parts below it.
    let mut holders = vec![build_dir.to_path_buf()];
    for part in p.directory.iter().flat_map(|directory| directory.split('/')) {
        holders.push(holders[holders.len() - 1].join(part));
    }
    let mut dated: Vec<(PathBuf, FileTime)> = Vec::new();
    let root_time = FileTime::from_unix_time(p.root_mtime as i64, 0);
    for dir in &holders {
        if !dir.exists() {
            std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        own(dir, p.uid, Some(0o755))?;
        dated.push((dir.clone(), root_time));
    }
    let inside = holders[holders.len() - 1].clone();
    for entry in source_entries(p) {
        let entry = entry?;
        let dest = inside.join(&entry.rel);
        copy_entry(&entry, &dest, p.uid)?;
        // Whole seconds, as the tar upload carries them.
        let mtime = FileTime::from_unix_time(entry.meta.mtime(), 0);
        if entry.meta.is_dir() {
            dated.push((dest, mtime));
        } else {
            filetime::set_symlink_file_times(&dest, mtime, mtime)
                .with_context(|| format!("setting the mtime of {}", dest.display()))?;
        }
    }
    // Deepest first: setting a directory's time after its children were made.
    for (dir, mtime) in dated.iter().rev() {
        filetime::set_symlink_file_times(dir, *mtime, *mtime)
            .with_context(|| format!("setting the mtime of {}", dir.display()))?;
    }
    Ok(())
}

fn copy_entry(entry: &SourceEntry, dest: &Path, uid: u32) -> Result<()> {
    let kind = entry.meta.file_type();
    let mode = entry.meta.permissions().mode() & 0o7777;
    if kind.is_dir() {
        std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
        own(dest, uid, Some(mode))
    } else if kind.is_symlink() {
        let target = std::fs::read_link(&entry.path)
            .with_context(|| format!("reading symlink {}", entry.path.display()))?;
        std::os::unix::fs::symlink(&target, dest)
            .with_context(|| format!("creating symlink {}", dest.display()))?;
        own(dest, uid, None)
    } else {
        std::fs::copy(&entry.path, dest)
            .with_context(|| format!("copying {} to {}", entry.path.display(), dest.display()))?;
        own(dest, uid, Some(mode))
    }
}

/// Owns `path` to `uid:uid` (links not followed), then sets its mode: a
/// change of owner clears set-id bits, so the mode comes second.
fn own(path: &Path, uid: u32, mode: Option<u32>) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid))
        .with_context(|| format!("giving {} to the build user {uid}", path.display()))?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtime(path: &Path) -> i64 {
        path.symlink_metadata().unwrap().mtime()
    }

    #[test]
    fn the_copy_holds_the_upload_entries_owned_by_the_build_user_with_modes_and_mtimes() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: giving files to another user needs root");
            return;
        }
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        std::fs::create_dir(s.join("sub")).unwrap();
        std::fs::write(s.join("sub/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(s.join("sub/tool"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::write(s.join("data"), "d").unwrap();
        std::os::unix::fs::symlink("data", s.join("link")).unwrap();
        std::fs::create_dir(s.join("results")).unwrap();
        std::fs::write(s.join("results/old"), "x").unwrap();
        // A sub-second part, which the tar upload drops.
        let old = FileTime::from_unix_time(1_500_000_000, 123_456_789);
        for path in ["sub/tool", "data", "sub"] {
            filetime::set_symlink_file_times(s.join(path), old, old).unwrap();
        }
        let dest = tempfile::tempdir().unwrap();
        let build = dest.path().join("build");
        let packing = Packing {
            source: s.to_path_buf(),
            build_dir: "/build/x".into(),
            uid: 2222,
            exclude: vec![s.join("results")],
            root_mtime: 1_600_000_000,
            directory: Some("pkg-1.0".into()),
            tree: true,
        };
        populate(&packing, &build).unwrap();
        let inside = build.join("pkg-1.0");
        let mut names: Vec<String> = walkdir::WalkDir::new(&build)
            .min_depth(1)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(&build).unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["pkg-1.0", "pkg-1.0/data", "pkg-1.0/link", "pkg-1.0/sub", "pkg-1.0/sub/tool"]);
        for path in [build.clone(), inside.clone(), inside.join("sub/tool"), inside.join("link")] {
            let meta = path.symlink_metadata().unwrap();
            assert_eq!((meta.uid(), meta.gid()), (2222, 2222), "{}", path.display());
        }
        assert_eq!(inside.join("sub/tool").metadata().unwrap().mode() & 0o7777, 0o4755, "set-id kept");
        assert_eq!(std::fs::read_link(inside.join("link")).unwrap(), Path::new("data"));
        assert_eq!(mtime(&inside.join("sub")), 1_500_000_000, "a directory's own mtime, set last");
        assert_eq!(mtime(&inside.join("data")), 1_500_000_000);
        let nanos = |p: &Path| p.symlink_metadata().unwrap().mtime_nsec();
        assert_eq!(
            (nanos(&inside.join("data")), nanos(&inside.join("sub"))),
            (0, 0),
            "whole seconds, as uploaded"
        );
        assert_eq!(mtime(&inside), 1_600_000_000);
        assert_eq!(mtime(&build), 1_600_000_000);
    }
}
