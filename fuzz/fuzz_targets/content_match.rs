//! content-match is safe to act on: whenever reprocheck calls two tar
//! archives a content match, GNU tar extracts the same tree from both
//! (names, types, every mode bit, link targets, xattrs, bytes) and fails
//! on neither or both. The input is two archives: a 4-byte little-endian
//! length, the first archive, then the second (seeds: the honest twins of
//! tests/oracle, written by scripts/fuzz-content-match.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprocheck::verify::{compare_archive_contents, Contents};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<4>() else { return };
    let len = u32::from_le_bytes(*len) as usize;
    if len > rest.len() {
        return;
    }
    let (a, b) = rest.split_at(len);
    let tmp = tempfile::tempdir().unwrap();
    let (pa, pb) = (tmp.path().join("a.tar"), tmp.path().join("b.tar"));
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    if compare_archive_contents(&pa, &pb, 64 << 20) != Some(Contents::Same) {
        return;
    }
    let (ta, tb) = (gnu_tar_tree(&pa, &tmp.path().join("xa")), gnu_tar_tree(&pb, &tmp.path().join("xb")));
    assert_eq!(ta, tb, "content-match, but GNU tar extracts different trees");
});

/// What `tar -xpf` (as root, with xattrs) leaves: each path's type, mode,
/// link target or bytes, and xattrs; and whether tar succeeded.
fn gnu_tar_tree(archive: &Path, dir: &Path) -> (bool, BTreeMap<String, String>) {
    std::fs::create_dir(dir).unwrap();
    let status = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf"])
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("running GNU tar");
    let mut tree = BTreeMap::new();
    walk(dir, dir, &mut tree);
    (status.success(), tree)
}

fn walk(root: &Path, dir: &Path, tree: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let mode = meta.permissions().mode() & 0o7777;
        let xattrs: Vec<String> = xattr_names(&path);
        let what = if meta.file_type().is_symlink() {
            format!("symlink {:?}", std::fs::read_link(&path).unwrap_or_default())
        } else if meta.is_dir() {
            walk(root, &path, tree);
            format!("dir {mode:o}")
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            format!("file {mode:o} nlink {} {:x?}", meta.nlink(), bytes)
        } else {
            format!("special {:o} {mode:o}", meta.mode() & 0o170000)
        };
        tree.insert(rel, format!("{what} {xattrs:?}"));
    }
}

/// The names and values of a path's extended attributes, via getfattr.
fn xattr_names(path: &Path) -> Vec<String> {
    let out = Command::new("getfattr").args(["-d", "-m", "-", "-h", "-e", "hex", "--absolute-names"]).arg(path).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().skip(1).map(str::to_string).collect()).unwrap_or_default()
}
