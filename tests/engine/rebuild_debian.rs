//! `reprocheck rebuild debian:…` end to end (issue 35, item 2): the current
//! distro-info-data of the host's suite, inferred with no hand-written file,
//! built and verified against the archive's .deb; then again from a
//! `.buildinfo` this test makes from that build's lock (exact versions,
//! build path, environment); and a `.buildinfo` recording a version no
//! source has, refused with every such version listed. The archive must be
//! reachable through the host's apt sources, as the bundled Debian examples
//! need.

use crate::common;

use common::*;
use std::path::Path;

/// A `.buildinfo` for distro-info-data `version`, recording `deb` (the
/// published .deb) and `installed` (`name (= version)` entries).
fn buildinfo(version: &str, deb: &Path, installed: &[String]) -> String {
    let bytes = std::fs::read(deb).unwrap();
    let sha256 = reprocheck::digest::Digest::of_bytes(&bytes);
    let name = deb.file_name().unwrap().to_string_lossy();
    format!(
        "Format: 1.0\nSource: distro-info-data\nBinary: distro-info-data\nArchitecture: all\nVersion: {version}\n\
         Checksums-Sha256:\n {} {} {name}\nBuild-Origin: Debian\nBuild-Architecture: amd64\n\
         Build-Date: Sat, 25 Apr 2026 13:18:53 +0000\n\
         Build-Path: /build/reproducible-path/distro-info-data-{version}\n\
         Installed-Build-Depends:\n {}\nEnvironment:\n DEB_BUILD_OPTIONS=\"parallel=2\"\n LC_ALL=\"C.UTF-8\"\n",
        sha256.hex(),
        bytes.len(),
        installed.join(",\n ")
    )
}

/// The suite's current distro-info-data version, inferred (nothing built)
/// into `dir`.
fn current_version(dir: &Path) -> String {
    let run = reprocheck(&[
        "rebuild",
        "debian:distro-info-data",
        "--write-spec",
        dir.to_str().unwrap(),
        "--infer-only",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    String::from_utf8_lossy(&run.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("source distro-info-data "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string()
}

/// `name (= version)` of every package `lock` holds.
fn locked(lock: &Path) -> Vec<String> {
    let lock: toml::Table = toml::from_str(&std::fs::read_to_string(lock).unwrap()).unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} (= {})", p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect()
}

#[test]
fn distro_info_data_is_rebuilt_from_the_archive_and_from_a_buildinfo() {
    let Some(_engine) = engine() else { return };
    if std::env::consts::ARCH != "x86_64" {
        return skipped("the .buildinfo this test writes is for amd64");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rebuild");
    let run = reprocheck_cmd(&["rebuild", "debian:distro-info-data", "--write-spec", dir.to_str().unwrap()])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("rebuild debian:distro-info-data exited {:?}", run.status.code());
    assert!(matches!(run.status.code(), Some(0 | 1)), "{}", show(&run));
    assert!(stdout.contains("VERIFIED"), "a verdict is printed: {}", show(&run));
    assert_eq!(run.status.code(), Some(0), "bit for bit, as earlier hand-made rebuilds were: {}", show(&run));
    assert!(
        stderr.contains("source distro-info-data ") && stderr.contains("(from apt-cache showsrc in "),
        "{stderr}"
    );
    // What it inferred is a spec directory: the spec, the recipe, the .dsc, the archive's .deb.
    let spec = std::fs::read_to_string(dir.join("debian-distro-info-data.toml")).unwrap();
    assert!(spec.contains("[expect]") && spec.contains("_all.deb\" = { sha256 = \"sha256:"), "{spec}");
    let debs: Vec<_> = std::fs::read_dir(dir.join("debian-distro-info-data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    let [deb] = debs.as_slice() else { panic!("one published .deb: {debs:?}") };
    let version = deb.file_name().unwrap().to_string_lossy().split('_').nth(1).unwrap().to_string();
    let images = std::fs::read_dir(dir.join("images")).unwrap().next().unwrap().unwrap().path();
    let lock = images.join("packages.lock");
    assert!(lock.is_file(), "the image was locked on first use");

    // The same build as a .buildinfo records it: exactly those versions.
    let installed = locked(&lock);
    let file = tmp.path().join("distro-info-data.buildinfo");
    std::fs::write(&file, buildinfo(&version, deb, &installed)).unwrap();
    let exact_dir = tmp.path().join("exact");
    let run = reprocheck_cmd(&[
        "rebuild",
        "debian:distro-info-data",
        "--buildinfo",
        file.to_str().unwrap(),
        "--write-spec",
        exact_dir.to_str().unwrap(),
    ])
    .current_dir(tmp.path())
    .output()
    .unwrap();
    eprintln!("rebuild --buildinfo exited {:?}", run.status.code());
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stdout).contains("VERIFIED"), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&format!("image: exactly the {} package versions", installed.len())), "{stderr}");
    assert!(stderr.contains("(the spec's name is reproducible-path)"), "{stderr}");
    let exact_lock = std::fs::read_dir(exact_dir.join("images")).unwrap().next().unwrap().unwrap().path();
    let mut got = locked(&exact_lock.join("packages.lock"));
    let mut want = installed.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the image holds exactly the recorded versions");
}

#[test]
fn a_buildinfo_version_no_source_has_is_refused_listing_each() {
    let Some(_engine) = engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let deb = tmp.path().join("distro-info-data_0.0_all.deb");
    std::fs::write(&deb, b"not a package").unwrap();
    // The host's own dpkg and a libc6 no archive has: each is named with what the sources have.
    let installed = ["dpkg (= 0.0.1-reprocheck1)".to_string(), "libc6 (= 1.0-reprocheck1)".to_string()];
    let file = tmp.path().join("x.buildinfo");
    std::fs::write(&file, buildinfo("", &deb, &installed).replace("Version: \n", "")).unwrap();
    // No Version: the parser says so first.
    let run = reprocheck(&[
        "rebuild",
        "debian:distro-info-data",
        "--buildinfo",
        file.to_str().unwrap(),
        "--infer-only",
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no `Version:` field"), "{}", show(&run));
    // The suite's current version, with two versions no source has.
    let version = current_version(&tmp.path().join("probe"));
    std::fs::write(&file, buildinfo(&version, &deb, &installed)).unwrap();
    let dir = tmp.path().join("out");
    let run = reprocheck(&[
        "rebuild",
        "debian:distro-info-data",
        "--buildinfo",
        file.to_str().unwrap(),
        "--write-spec",
        dir.to_str().unwrap(),
        "--infer-only",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr.contains("2 of the 2 package versions the .buildinfo records are in none"), "{stderr}");
    assert!(stderr.contains("  dpkg=0.0.1-reprocheck1: the sources have "), "{stderr}");
    assert!(stderr.contains("  libc6=1.0-reprocheck1: the sources have "), "{stderr}");
    assert!(stderr.contains("sources tried: the apt sources ("), "{stderr}");
    assert!(
        !dir.join("images").exists()
            || std::fs::read_dir(dir.join("images"))
                .unwrap()
                .all(|e| { !e.unwrap().path().join("recipe.toml").exists() }),
        "no recipe is written for an image that cannot be made"
    );
}

/// A package `name` `version` (Architecture: all, no files) built with
/// dpkg-deb into `dir` as `file_name`.
fn fake_deb(dir: &Path, file_name: &str, name: &str, version: &str) -> std::path::PathBuf {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("DEBIAN")).unwrap();
    std::fs::write(
        root.path().join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: reprocheck tests <tests@invalid>\n\
             Description: a package no archive has\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let deb = dir.join(file_name);
    let run = std::process::Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(root.path())
        .arg(&deb)
        .output()
        .unwrap();
    assert!(run.status.success(), "dpkg-deb: {}", String::from_utf8_lossy(&run.stderr));
    deb
}

/// A snapshot archive in Debian's snapshot layout under `base` at `time`:
/// `suite`, its -updates and -security, the first holding `debs`.
fn snapshot_archive(base: &Path, time: &str, suite: &str, debs: &[&Path]) {
    let suites = [
        ("debian", suite.to_string()),
        ("debian", format!("{suite}-updates")),
        ("debian-security", format!("{suite}-security")),
    ];
    for (number, (archive, dist)) in suites.iter().enumerate() {
        let mirror = base.join(archive).join(time);
        let binary = mirror.join(format!("dists/{dist}/main/binary-amd64"));
        std::fs::create_dir_all(&binary).unwrap();
        std::fs::create_dir_all(mirror.join("pool/main")).unwrap();
        if number == 0 {
            for deb in debs {
                std::fs::copy(deb, mirror.join("pool/main").join(deb.file_name().unwrap())).unwrap();
            }
        }
        let run = std::process::Command::new("apt-ftparchive")
            .args(["packages", "pool"])
            .current_dir(&mirror)
            .output()
            .unwrap();
        assert!(run.status.success(), "apt-ftparchive: {}", String::from_utf8_lossy(&run.stderr));
        std::fs::write(binary.join("Packages"), &run.stdout).unwrap();
        let run = std::process::Command::new("apt-ftparchive")
            .args([
                "-o",
                &format!("APT::FTPArchive::Release::Suite={dist}"),
                "release",
                &format!("dists/{dist}"),
            ])
            .current_dir(&mirror)
            .output()
            .unwrap();
        assert!(run.status.success(), "apt-ftparchive: {}", String::from_utf8_lossy(&run.stderr));
        std::fs::write(mirror.join(format!("dists/{dist}/Release")), &run.stdout).unwrap();
    }
}

#[test]
fn buildinfo_versions_the_archive_lacks_come_from_a_packages_dir_and_a_snapshot() {
    let Some(_engine) = engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let version = current_version(&tmp.path().join("probe"));
    let spec: toml::Table = std::fs::read_to_string(tmp.path().join("probe/debian-distro-info-data.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let image = spec["image"].as_table().unwrap()["recipe"].as_str().unwrap().to_string();
    let recipe: toml::Table =
        std::fs::read_to_string(tmp.path().join("probe").join(image).join("recipe.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let suite = recipe["suite"].as_str().unwrap().to_string();

    // Two versions no archive has: one in a packages directory (beside a
    // file named like the other but whose control file says 1.9-1), one in
    // a snapshot archive dated by the .buildinfo's Build-Date.
    let dir = tmp.path().join("debs");
    fake_deb(&dir, "reprocheck-from-dir_1.0-1_all.deb", "reprocheck-from-dir", "1.0-1");
    fake_deb(&dir, "reprocheck-from-snapshot_2.0-1_all.deb", "reprocheck-from-snapshot", "1.9-1");
    let elsewhere = tmp.path().join("elsewhere");
    let snap =
        fake_deb(&elsewhere, "reprocheck-from-snapshot_2.0-1_all.deb", "reprocheck-from-snapshot", "2.0-1");
    let base = tmp.path().join("snapshots");
    snapshot_archive(&base, "20260425T131853Z", &suite, &[&snap]);

    let published = tmp.path().join("probe/debian-distro-info-data").join(format!(
        "distro-info-data_{}_all.deb",
        version.split_once(':').map_or(version.as_str(), |(_, v)| v)
    ));
    let installed =
        ["reprocheck-from-dir (= 1.0-1)".to_string(), "reprocheck-from-snapshot (= 2.0-1)".to_string()];
    let file = tmp.path().join("distro-info-data.buildinfo");
    std::fs::write(&file, buildinfo(&version, &published, &installed)).unwrap();
    let rebuild = |out: &str, more: &[&str]| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "rebuild",
            "debian:distro-info-data",
            "--buildinfo",
            file.to_str().unwrap(),
            "--write-spec",
            out.to_str().unwrap(),
            "--infer-only",
        ];
        args.extend_from_slice(more);
        reprocheck(&args)
    };

    // The directory alone: the other version is still missing, and what
    // the directory has of it is what its control file says.
    let run = rebuild("dir-only", &["--packages-dir", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr.contains("1 of the 2 package versions the .buildinfo records is in none"), "{stderr}");
    assert!(stderr.contains("  reprocheck-from-snapshot=2.0-1: the sources have 1.9-1\n"), "{stderr}");
    assert!(stderr.contains(&format!("the packages directory {}", dir.display())), "{stderr}");
    assert!(stderr.contains("`--snapshot BASE`"), "{stderr}");

    // Both: every recorded version is in the image's repository.
    let snapshot_base = format!("file://{}", base.display());
    let run = rebuild("both", &["--packages-dir", dir.to_str().unwrap(), "--snapshot", &snapshot_base]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(stderr.contains("snapshot time 20260425T131853Z"), "{stderr}");
    assert!(stderr.contains("1 from the packages directory"), "{stderr}");
    assert!(
        stderr.contains(&format!("1 from the snapshot {snapshot_base}/debian/20260425T131853Z")),
        "{stderr}"
    );
    let images = tmp.path().join("both/images");
    let recipe_dir = std::fs::read_dir(&images).unwrap().next().unwrap().unwrap().path();
    let mut debs: Vec<String> = std::fs::read_dir(recipe_dir.join("debs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("reprocheck-"))
        .collect();
    debs.sort();
    assert_eq!(debs, ["reprocheck-from-dir_1.0-1_all.deb", "reprocheck-from-snapshot_2.0-1_all.deb"]);
    assert_eq!(
        std::fs::read(recipe_dir.join("debs/reprocheck-from-snapshot_2.0-1_all.deb")).unwrap(),
        std::fs::read(&snap).unwrap(),
        "the snapshot's file, not the directory's file of that name"
    );
}
