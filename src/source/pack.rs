//! Packs the source tree into the tar stream uploaded into each container.
//!
//! The stream is extracted at `/`, so it carries the build directory and its
//! parents as entries owned by the build user: without them the directory
//! would be created root-owned and unwritable.

use crate::errors::*;
use bytes::Bytes;
use std::path::{Path, PathBuf};

/// What to pack, and as whom.
pub struct Packing<'a> {
    /// The host directory holding the source.
    pub source: &'a Path,
    /// Absolute path of the build directory in the container, e.g. `/build/hello`.
    pub build_dir: &'a str,
    /// Owner (uid = gid) of every entry.
    pub uid: u32,
    /// Host paths left out (the results directory when it sits inside the source).
    pub exclude: Vec<PathBuf>,
    /// Mtime of the build directory and its parents: the time the tree's
    /// files carry (see [`crate::source::PreparedSource::root_mtime`]).
    pub root_mtime: u64,
    /// A directory of the build directory the tree goes into (`source.directory`).
    pub directory: Option<&'a str>,
}

/// Packs the tree in name order, keeping modes and mtimes, and owning every
/// entry to the build user.
pub fn pack(p: &Packing) -> Result<Bytes> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let top = p.build_dir.trim_start_matches('/');
    let inside = match p.directory {
        Some(directory) => format!("{top}/{directory}"),
        None => top.to_string(),
    };
    let mut parent = String::new();
    for part in inside.split('/') {
        parent = if parent.is_empty() { part.to_string() } else { format!("{parent}/{part}") };
        append_dir(&mut builder, &parent, p.uid, p.root_mtime)?;
    }
    for entry in super::walk_excluding(p.source, &p.exclude) {
        let entry = entry.with_context(|| format!("walking the source tree {}", p.source.display()))?;
        let rel = entry.path().strip_prefix(p.source).context("walkdir left the source tree")?;
        let meta =
            entry.path().symlink_metadata().with_context(|| format!("reading {}", entry.path().display()))?;
        let kind = meta.file_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
            tracing::warn!(
                "skipping {} in the source: not a file, directory or symlink",
                entry.path().display()
            );
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata(&meta);
        header.set_uid(p.uid.into());
        header.set_gid(p.uid.into());
        header.set_username("").ok();
        header.set_groupname("").ok();
        let name = Path::new(&inside).join(rel);
        if kind.is_file() {
            let file = std::fs::File::open(entry.path())
                .with_context(|| format!("reading source file {}", entry.path().display()))?;
            builder
                .append_data(&mut header, &name, file)
                .with_context(|| format!("packing {}", entry.path().display()))?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .with_context(|| format!("reading symlink {}", entry.path().display()))?;
            builder
                .append_link(&mut header, &name, &target)
                .with_context(|| format!("packing symlink {}", entry.path().display()))?;
        } else {
            builder
                .append_data(&mut header, &name, std::io::empty())
                .with_context(|| format!("packing directory {}", entry.path().display()))?;
        }
    }
    Ok(Bytes::from(builder.into_inner().context("finishing the source tar")?))
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, name: &str, uid: u32, mtime: u64) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(uid.into());
    header.set_gid(uid.into());
    header.set_size(0);
    builder
        .append_data(&mut header, format!("{name}/"), std::io::empty())
        .with_context(|| format!("packing {name}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_parents_sorted_entries_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "b").unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/old"), "x").unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("c")).unwrap();
        let tar = pack(&Packing {
            source: dir.path(),
            build_dir: "/build/x",
            uid: 1111,
            exclude: vec![dir.path().join("out")],
            root_mtime: 1_700_000_000,
            directory: None,
        })
        .unwrap();
        let entries = listing(&tar);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["build/", "build/x/", "build/x/a", "build/x/b", "build/x/c"]);
        assert!(entries.iter().all(|(_, uid, _)| *uid == 1111));
    }

    /// `(path, uid, mtime)` of every entry.
    fn listing(tar: &[u8]) -> Vec<(String, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let header = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_source_directory_puts_the_tree_one_level_down_owned_and_dated_like_the_build_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let tar = pack(&Packing {
            source: dir.path(),
            build_dir: "/build/x",
            uid: 2222,
            exclude: Vec::new(),
            root_mtime: 7,
            directory: Some("hello-1.0"),
        })
        .unwrap();
        let entries = listing(&tar);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["build/", "build/x/", "build/x/hello-1.0/", "build/x/hello-1.0/a"]);
        assert_eq!(entries[2], ("build/x/hello-1.0/".to_string(), 2222, 7));
    }
}
