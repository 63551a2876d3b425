//! Debian source packages unpack as `dpkg-source -x` lays them out, checked
//! against dpkg-source itself on a real source package: tzdata, whose
//! upstream tarball has no top directory (issue 32, item 5).

use crate::common;

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

/// tzdata's source package as the archive serves it today, in `dir`: its
/// `.dsc` and the package directory dpkg-source makes (`tzdata-UPSTREAM`).
/// The version moves with the archive (bookworm-updates), so nothing here
/// pins one: the oracle is dpkg-source on the same files.
fn fetch_tzdata(dir: &Path) -> (std::path::PathBuf, String) {
    let fetch =
        Command::new(root().join("scripts/apt-source.sh")).arg("tzdata").current_dir(dir).output().unwrap();
    assert!(fetch.status.success(), "scripts/apt-source.sh tzdata failed: {}", show(&fetch));
    let dsc = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "dsc"))
        .unwrap_or_else(|| panic!("apt-get source tzdata fetched no .dsc: {}", show(&fetch)));
    let text = std::fs::read_to_string(&dsc).unwrap();
    let version = text.lines().find_map(|l| l.strip_prefix("Version: ")).expect("a Version field").trim();
    let upstream = version.rsplit_once('-').map_or(version, |(u, _)| u);
    let upstream = upstream.split_once(':').map_or(upstream, |(_, u)| u);
    (dsc, format!("tzdata-{upstream}"))
}

#[test]
fn tzdata_whose_upstream_tarball_has_no_top_directory_unpacks_as_dpkg_source_does() {
    if Command::new("dpkg-source").arg("--version").output().is_err() {
        skipped("dpkg-source is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (dsc, package_dir) = fetch_tzdata(tmp.path());
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&dsc).unwrap()));
    let spec_file = tmp.path().join("tzdata.toml");
    std::fs::write(
        &spec_file,
        format!(
            "name = \"tzdata\"\n[image]\ndigest = \"sha256:{}\"\n[source]\ndsc = \"{}\"\nsha256 = \"{sha256}\"\n",
            "a".repeat(64),
            dsc.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let spec = reprocheck::spec::load(&spec_file, reprocheck::spec::HostPaths::Confined).unwrap();

    let ours = tmp.path().join("ours");
    let prepared = reprocheck::source::materialize(&spec, &ours, &[]).unwrap();
    assert_eq!(prepared.working_subdir.as_deref(), Some(package_dir.as_str()));

    // Patches are applied by dpkg-buildpackage, not when reprocheck unpacks.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    let run = Command::new("sh")
        .args(["-c", "umask 022 && exec dpkg-source --skip-patches -x \"$0\" \"$1\""])
        .arg(&dsc)
        .arg(&package_dir)
        .current_dir(&theirs)
        .output()
        .unwrap();
    assert!(run.status.success(), "dpkg-source -x: {}", show(&run));

    let (ours, theirs) = (tree(&ours.join(&package_dir)), tree(&theirs.join(&package_dir)));
    assert!(ours.contains_key("africa") && ours.contains_key("debian/rules"), "{:?}", ours.keys());
    let names = |t: &BTreeMap<String, _>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs), "the same file list");
    for (path, (kind, mode, data)) in &theirs {
        let (our_kind, our_mode, our_data) = &ours[path];
        assert_eq!((our_kind, our_mode), (kind, mode), "{path}: kind and mode");
        assert!(our_data == data, "{path}: other contents");
    }
}
