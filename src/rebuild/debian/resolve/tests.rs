//! The rules on records `apt-cache` printed for bookworm (trimmed of URLs),
//! in tests/fixtures/debian-rebuild/.

use super::*;
use crate::debian::control::paragraphs;

fn records(name: &str) -> Vec<Paragraph> {
    let path = format!("{}/tests/fixtures/debian-rebuild/{name}", env!("CARGO_MANIFEST_DIR"));
    paragraphs(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

const SUITES: &str = "bookworm, bookworm-updates, bookworm-security";

#[test]
fn a_source_name_gives_its_versions_newest_first() {
    let choice = choose_source("dash", None, &records("dash.showsrc"), &[], SUITES).unwrap();
    assert_eq!(
        choice,
        SourceChoice {
            source: "dash".into(),
            versions: vec!["0.5.12-2".into()],
            how: "source package".into()
        }
    );
    let asked = choose_source("dash", Some("0.5.12-2"), &records("dash.showsrc"), &[], SUITES).unwrap();
    assert_eq!(asked.versions, ["0.5.12-2"]);
    let err = choose_source("dash", Some("0.5.11-1"), &records("dash.showsrc"), &[], SUITES).unwrap_err();
    assert!(crate::rebuild::is_not_inferable(&err), "{err}");
    assert!(err.to_string().contains("no version 0.5.11-1") && err.to_string().contains("0.5.12-2"), "{err}");
}

#[test]
fn a_binary_name_gives_its_source_and_the_source_version() {
    // libc6 of glibc: two versions (the release's and a security update); `Source: glibc` without a version.
    let choice = choose_source("libc6", None, &[], &records("libc6.show"), SUITES).unwrap();
    assert_eq!(choice.source, "glibc");
    assert_eq!(choice.versions, ["2.36-9+deb12u14"], "the newest");
    assert!(choice.how.contains("binary package libc6 2.36-9+deb12u14 of source glibc"), "{}", choice.how);
    let older = choose_source("libc6", Some("2.36-9+deb12u7"), &[], &records("libc6.show"), SUITES).unwrap();
    assert_eq!(older.versions, ["2.36-9+deb12u7"]);
    // ash is built by dash: `Source: dash`.
    let ash = choose_source("ash", None, &[], &records("dash-ash.show"), SUITES).unwrap();
    assert_eq!((ash.source.as_str(), ash.versions.as_slice()), ("dash", &["0.5.12-2".to_string()][..]));
    let err = choose_source("nosuch", None, &[], &[], SUITES).unwrap_err();
    assert!(
        crate::rebuild::is_not_inferable(&err) && err.to_string().contains("no source or binary package")
    );
}

#[test]
fn a_binnmu_is_refused_naming_the_source() {
    // 4pane 8.0-1+b2: `Source: 4pane (8.0-1)`.
    let err = choose_source("4pane", None, &[], &records("4pane.show"), SUITES).unwrap_err();
    assert!(crate::rebuild::is_not_inferable(&err), "{err}");
    assert!(err.to_string().contains("4pane 8.0-1+b2 is a binNMU of 4pane 8.0-1"), "{err}");
    let shown = records("4pane.show");
    assert_eq!(source_of(&shown[0]), Some(("4pane".into(), "8.0-1".into())));
    assert!(
        is_binnmu("8.0-1+b2", "8.0-1")
            && !is_binnmu("8.0-1+deb12u1", "8.0-1")
            && !is_binnmu("8.0-1+b", "8.0-1")
    );
    // Named as a source: the source exists, but its only amd64 binary is a binNMU.
    let listed = listed_binaries(&records("4pane.showsrc")[0]).unwrap();
    let err = choose_binaries(&listed, "4pane", "8.0-1", "amd64", &shown).unwrap_err();
    assert!(crate::rebuild::is_not_inferable(&err), "{err}");
    assert!(err.to_string().contains("4pane 8.0-1+b2 is a binNMU of 4pane 8.0-1"), "{err}");
}

#[test]
fn the_binaries_are_the_package_lists_for_this_architecture_that_the_archive_has() {
    let dsc = &records("dash.showsrc")[0];
    let listed = listed_binaries(dsc).unwrap();
    assert_eq!(listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["ash", "dash"]);
    let choice = choose_binaries(&listed, "dash", "0.5.12-2", "amd64", &records("dash-ash.show")).unwrap();
    let names: Vec<String> = choice.found.iter().map(|b| b.built_file_name()).collect();
    assert_eq!(names, ["ash_0.5.12-2_all.deb", "dash_0.5.12-2_amd64.deb"]);
    assert_eq!(
        choice.found[1].sha256.as_str(),
        "sha256:33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f"
    );
    assert!(choice.absent.is_empty());
    // On another architecture the archive's amd64 record is not the one built: dash is absent.
    let arm = choose_binaries(&listed, "dash", "0.5.12-2", "arm64", &records("dash-ash.show")).unwrap();
    assert_eq!(arm.found.len(), 1);
    assert_eq!(arm.absent, ["dash"]);
    // Another version of the source: nothing of it is in the archive.
    let other = choose_binaries(&listed, "dash", "0.5.11-1", "amd64", &records("dash-ash.show")).unwrap();
    assert!(other.found.is_empty() && other.absent.len() == 2);
}

#[test]
fn architecture_wildcards() {
    let list = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
    assert!(builds_here(&list("any"), "amd64"));
    assert!(builds_here(&list("all"), "amd64"));
    assert!(builds_here(&list("i386,amd64"), "amd64"));
    assert!(builds_here(&list("linux-any"), "amd64"));
    assert!(builds_here(&list("any-amd64"), "amd64"));
    assert!(!builds_here(&list("i386,arm64"), "amd64"));
    assert!(!builds_here(&list("hurd-any"), "amd64"));
    let dsc = paragraphs("Source: x\nBinary: x, x-doc\n").unwrap();
    let listed = listed_binaries(&dsc[0]).unwrap();
    assert_eq!(listed.len(), 2, "a .dsc without Package-List: its Binary names");
    let bad = paragraphs("Source: x\nPackage-List:\n x deb\n").unwrap();
    assert!(listed_binaries(&bad[0]).unwrap_err().to_string().contains("Package-List line"));
    let epoch = ArchiveBinary {
        name: "x".into(),
        version: "1:2.0-1".into(),
        architecture: "all".into(),
        sha256: Digest::of_bytes(b""),
    };
    assert_eq!(epoch.built_file_name(), "x_2.0-1_all.deb");
    assert_eq!(epoch.apt_name(), "x=1:2.0-1");
}
