//! Debian source packages unpack as `dpkg-source -x` lays them out, checked
//! against dpkg-source itself on a real source package: tzdata, whose
//! upstream tarball has no top directory (issue 32, item 5).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Every entry under `dir`, by relative path: its kind, permission bits, and
/// its content (a file) or target (a link).
fn tree(dir: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut entries = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let (kind, data) = if meta.is_dir() {
            ('d', Vec::new())
        } else if meta.file_type().is_symlink() {
            ('l', std::fs::read_link(entry.path()).unwrap().into_os_string().into_encoded_bytes())
        } else {
            ('f', std::fs::read(entry.path()).unwrap())
        };
        let mode = if kind == 'l' { 0 } else { meta.permissions().mode() & 0o7777 };
        let rel = entry.path().strip_prefix(dir).unwrap().display().to_string();
        entries.insert(rel, (kind, mode, data));
    }
    entries
}

#[test]
fn tzdata_whose_upstream_tarball_has_no_top_directory_unpacks_as_dpkg_source_does() {
    if Command::new("dpkg-source").arg("--version").output().is_err() {
        skipped("dpkg-source is not installed");
        return;
    }
    let fetch = Command::new(root().join("specs/debian/tzdata/fetch.sh")).output().unwrap();
    assert!(fetch.status.success(), "specs/debian/tzdata/fetch.sh failed: {}", show(&fetch));
    let spec_file = root().join("specs/debian/tzdata/tzdata.toml");
    let spec = reprocheck::spec::load(&spec_file, reprocheck::spec::HostPaths::Confined).unwrap();
    let tmp = tempfile::tempdir().unwrap();

    let ours = tmp.path().join("ours");
    let prepared = reprocheck::source::materialize(&spec, &ours, &[]).unwrap();
    assert_eq!(prepared.working_subdir.as_deref(), Some("tzdata-2026b"));

    // Patches are applied by dpkg-buildpackage, not when reprocheck unpacks.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    let dsc = root().join("specs/debian/tzdata/tzdata_2026b-0+deb12u1.dsc");
    let run = Command::new("sh")
        .args(["-c", "umask 022 && exec dpkg-source --skip-patches -x \"$0\" tzdata-2026b"])
        .arg(&dsc)
        .current_dir(&theirs)
        .output()
        .unwrap();
    assert!(run.status.success(), "dpkg-source -x: {}", show(&run));

    let (ours, theirs) = (tree(&ours.join("tzdata-2026b")), tree(&theirs.join("tzdata-2026b")));
    assert!(ours.contains_key("africa") && ours.contains_key("debian/rules"), "{:?}", ours.keys());
    let names = |t: &BTreeMap<String, _>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs), "the same file list");
    for (path, (kind, mode, data)) in &theirs {
        let (our_kind, our_mode, our_data) = &ours[path];
        assert_eq!((our_kind, our_mode), (kind, mode), "{path}: kind and mode");
        assert!(our_data == data, "{path}: other contents");
    }
}
