//! On .buildinfo files in the buildds' format (tests/fixtures/debian-rebuild/:
//! a clearsigned bookworm one and a binNMU's), and on broken ones.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/debian-rebuild/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn reads_a_clearsigned_buildinfo() {
    let info = Buildinfo::parse(&fixture("hello_2.10-3_amd64.buildinfo")).unwrap();
    assert_eq!(
        (info.source.as_str(), info.source_version.as_str(), info.version.as_str()),
        ("hello", "2.10-3", "2.10-3")
    );
    assert_eq!(info.architectures, ["amd64"]);
    assert_eq!(info.build_architecture, "amd64");
    assert_eq!(info.build_path.as_deref(), Some("/build/hello-kZ3q7V/hello-2.10"));
    assert_eq!(info.build_date.as_deref(), Some("Mon, 26 Dec 2022 15:52:41 +0000"));
    assert_eq!(info.installed.len(), 39);
    assert_eq!(
        info.installed[1],
        InstalledPackage { name: "automake".into(), architecture: None, version: "1:1.16.5-1.3".into() }
    );
    assert_eq!(info.installed.last().unwrap().to_string(), "zlib1g=1:1.2.13.dfsg-1");
    assert_eq!(info.files.len(), 2);
    assert_eq!(info.files[1].name, "hello_2.10-3_amd64.deb");
    assert_eq!(info.files[1].size, 53016);
    assert_eq!(
        info.environment,
        [
            ("DEB_BUILD_OPTIONS".to_string(), "parallel=4".to_string()),
            ("LANG".into(), "C.UTF-8".into()),
            ("LC_ALL".into(), "C.UTF-8".into()),
            ("SOURCE_DATE_EPOCH".into(), "1672068600".into())
        ]
    );
    assert_eq!(info.source_date_epoch().unwrap(), Some(1_672_068_600));
    assert!(!info.binary_only);
}

#[test]
fn reads_a_binnmus_buildinfo() {
    let info = Buildinfo::parse(&fixture("4pane_8.0-1+b2_amd64.buildinfo")).unwrap();
    assert_eq!(
        (info.source.as_str(), info.source_version.as_str(), info.version.as_str()),
        ("4pane", "8.0-1", "8.0-1+b2")
    );
    assert!(info.binary_only);
    assert_eq!(info.build_path.as_deref(), Some("/build/reproducible-path/4pane-8.0"));
    // Several entries on one line, and an architecture qualifier.
    assert_eq!(info.installed.len(), 4);
    assert_eq!(info.installed[2].to_string(), "dpkg-dev:amd64=1.21.12");
    assert_eq!(info.environment[2], ("ODD".to_string(), "a \"quoted\" \\ value".to_string()));
}

#[test]
fn broken_buildinfos_say_what_is_wrong() {
    let good = fixture("4pane_8.0-1+b2_amd64.buildinfo");
    for (from, to, says) in [
        ("Format: 1.0", "Format: 2.0", "not a .buildinfo format"),
        ("Source: 4pane (8.0-1)", "Source: 4pane (8.0-1", "no closing"),
        ("Build-Architecture: amd64\n", "", "no `Build-Architecture:` field"),
        ("libc6 (= 2.36-6)", "libc6 (>= 2.36-6)", "not `name (= version)`"),
        ("libc6 (= 2.36-6)", "libc6 (= a;b)", "not a Debian version"),
        ("libc6 (= 2.36-6)", "Libc6 (= 2.36-6)", "not a package name"),
        ("LC_ALL=\"C.UTF-8\"", "LC_ALL=C.UTF-8", "not in double quotes"),
        (
            "Build-Path: /build/reproducible-path/4pane-8.0",
            "Build-Path: /build/../etc",
            "without `.` or `..`",
        ),
        ("1579948 4pane_8.0-1+b2_amd64.deb", "1579948 ../4pane.deb", "not a plain file name"),
        ("SOURCE_DATE_EPOCH=\"1670159862\"", "SOURCE_DATE_EPOCH=\"soon\"", "not a number"),
    ] {
        assert!(good.contains(from), "{from}");
        let broken = good.replace(from, to);
        let err = match Buildinfo::parse(&broken) {
            Ok(info) => info.source_date_epoch().map(|_| ()).unwrap_err(),
            Err(e) => e,
        };
        assert!(format!("{err:#}").contains(says), "{to}: {err:#}");
    }
}
