//! The toolchain's SBOM against the real engine: every check and verify
//! writes one beside report.json, spdx-tools (the SPDX project's own
//! library) accepts it, it lists exactly the lock's packages, verify's
//! provenance lists them too, and an image no lock names is described from
//! its own dpkg database.

use crate::common;

use common::*;
use reprocheck::engine::Engine as _;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::process::Command;

/// One locked .deb or wheel: name, version, architecture (wheels: none), hex sha256.
type Locked = (String, String, Option<String>, String);

/// The bundled recipe's locked packages and wheels.
fn locked() -> Vec<Locked> {
    let text = std::fs::read_to_string(root().join(RECIPE).join("packages.lock")).unwrap();
    let lock: toml::Table = text.parse().unwrap();
    let field = |t: &toml::Value, k: &str| t[k].as_str().unwrap().to_string();
    let hex = |t: &toml::Value| field(t, "sha256").trim_start_matches("sha256:").to_string();
    let debs = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (field(p, "name"), field(p, "version"), Some(field(p, "architecture")), hex(p)));
    let empty = Vec::new();
    let wheels = lock.get("python").and_then(|w| w.as_array()).unwrap_or(&empty);
    let wheels = wheels.iter().map(|w| (field(w, "name"), field(w, "version"), None, hex(w)));
    debs.chain(wheels).collect()
}

/// The purl of a locked package: `+` is the one character of Debian and
/// Python names and versions the purl spec percent-encodes.
fn purl_of((name, version, architecture, _): &Locked) -> String {
    let encode = |s: &str| s.replace('+', "%2B");
    match architecture {
        Some(arch) => format!("pkg:deb/debian/{}@{}?arch={arch}", encode(name), encode(version)),
        None => format!("pkg:pypi/{}@{}", encode(name), encode(version)),
    }
}

fn sha256_of(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// What spdx-tools says of the SBOM at `path` (tests/interop/check_sbom.py);
/// panics when it does not validate.
fn spdx_tools(python: &Path, path: &Path) -> serde_json::Value {
    let script = root().join("tests/interop/check_sbom.py");
    let out = Command::new(python).arg(&script).arg(path).output().unwrap();
    assert!(out.status.success(), "spdx-tools rejects {}: {}", path.display(), show(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The SBOM report.json in `out` names, checked against the file's bytes,
/// and what spdx-tools says of it.
fn checked_sbom(python: &Path, out: &Path) -> (serde_json::Value, serde_json::Value) {
    let report = report(out);
    let sbom = report["sbom"].clone();
    assert_eq!(sbom["file"], "toolchain.spdx.json", "{report}");
    assert_eq!(sbom["format"], "SPDX-2.3");
    let path = out.join("toolchain.spdx.json");
    assert_eq!(sbom["sha256"], format!("sha256:{}", sha256_of(&path)), "report.json has the file's digest");
    let validated = spdx_tools(python, &path);
    assert_eq!(validated["spdxVersion"], "SPDX-2.3");
    assert_eq!(validated["describes"], serde_json::json!(["SPDXRef-Image"]));
    let packages = validated["packages"].as_array().unwrap();
    assert_eq!(packages[0]["id"], "SPDXRef-Image");
    let contained: Vec<&serde_json::Value> = validated["contains"].as_array().unwrap().iter().collect();
    let listed: Vec<&serde_json::Value> = packages[1..].iter().map(|p| &p["id"]).collect();
    assert_eq!(contained, listed, "the image CONTAINS every package listed");
    assert_eq!(sbom["packages"], packages.len() - 1);
    (sbom, validated)
}

#[test]
fn check_and_verify_write_the_same_sbom_of_every_locked_package_and_the_provenance_lists_them() {
    let Some(_engine) = ready_engine() else { return };
    let Some(python) = interop::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let checked = tmp.path().join("check");
    let run = reprocheck(&["check", "specs/hello.toml", "--out", checked.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let (sbom, validated) = checked_sbom(&python, &checked);
    assert_eq!(sbom["packages_from"], "lock");
    assert_eq!(sbom["lock"], format!("{RECIPE}/packages.lock"));

    let locked = locked();
    let packages = &validated["packages"].as_array().unwrap()[1..];
    assert_eq!(packages.len(), locked.len(), "one SBOM package per locked .deb and wheel");
    for package in &locked {
        let purl = purl_of(package);
        let listed = packages.iter().find(|p| p["purl"] == purl.as_str());
        let listed = listed.unwrap_or_else(|| panic!("{purl} is not in the SBOM"));
        assert_eq!(listed["version"], package.1.as_str());
        assert_eq!(listed["sha256"], package.3.as_str(), "{purl}: the .deb's sha256");
    }

    example_repo();
    let verified = tmp.path().join("verify");
    let run = reprocheck(&["verify", "specs/release.toml", "--out", verified.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    checked_sbom(&python, &verified);
    let (first, second) = (checked.join("toolchain.spdx.json"), verified.join("toolchain.spdx.json"));
    assert_eq!(std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap(), "one toolchain, one SBOM");

    let statement: serde_json::Value =
        serde_json::from_slice(&std::fs::read(verified.join("provenance.intoto.json")).unwrap()).unwrap();
    let predicate = &statement["predicate"];
    let deps = predicate["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
    assert_eq!(deps[1]["name"], "toolchain-image");
    assert_eq!(deps[1]["digest"]["sha256"], pinned_digest().trim_start_matches("sha256:"));
    for package in &locked {
        let purl = purl_of(package);
        let dep = deps.iter().find(|d| d["uri"] == purl.as_str());
        let dep = dep.unwrap_or_else(|| panic!("{purl} is not a resolved dependency"));
        assert_eq!(dep["digest"]["sha256"], package.3.as_str(), "{purl}");
    }
    assert_eq!(deps.len(), 2 + locked.len(), "the source, the image and each package");
    let byproducts = predicate["runDetails"]["byproducts"].as_array().unwrap();
    let sbom =
        byproducts.iter().find(|b| b["name"] == "toolchain.spdx.json").expect("the SBOM is a byproduct");
    assert_eq!(sbom["digest"]["sha256"], sha256_of(&second));
    assert_eq!(sbom["mediaType"], "application/spdx+json");
}

#[test]
fn an_image_no_lock_names_is_described_from_its_own_dpkg_database() {
    let Some(_engine) = ready_engine() else { return };
    let Some(python) = interop::python() else { return };
    // Pinned by digest with no recipe, and no record of building it here:
    // nothing but the image itself says what it holds.
    let case = Case::new("clean", SH_BUILD);
    let cache = tempfile::tempdir().unwrap();
    let run = case.check_cmd(&["--vary", "umask"]).env("XDG_CACHE_HOME", cache.path()).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let (sbom, validated) = checked_sbom(&python, &case.out);
    assert_eq!(sbom["packages_from"], "image-dpkg-database", "{sbom}");
    assert_eq!(sbom["lock"], serde_json::Value::Null);
    assert!(sbom["note"].as_str().unwrap().contains("/var/lib/dpkg/status"), "{sbom}");

    // The image was built from the bundled lock: its database lists exactly those .debs.
    let mut expected: Vec<String> =
        locked().iter().filter(|p| p.2.is_some()).map(|p| format!("{} {}", p.0, p.1)).collect();
    let packages = &validated["packages"].as_array().unwrap()[1..];
    let mut listed: Vec<String> = packages
        .iter()
        .map(|p| format!("{} {}", p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    expected.sort();
    listed.sort();
    assert_eq!(listed, expected);
    assert!(packages.iter().all(|p| p["sha256"].is_null()), "no .deb is known, so no checksum is claimed");
    assert!(packages.iter().all(|p| p["purl"].as_str().unwrap().starts_with("pkg:deb/debian/")));
    let text = std::fs::read_to_string(case.out.join("toolchain.spdx.json")).unwrap();
    assert!(
        text.contains("read from the image's own package database"),
        "each package says where it came from"
    );
    assert_eq!(leftovers_of_run(&case.out), 0, "the container that read the database is gone");
}

/// Containers left by the run whose report is in `out`.
fn leftovers_of_run(out: &Path) -> usize {
    let engine = engine().unwrap();
    leftovers(&engine, report(out)["run_id"].as_str().unwrap())
}

#[test]
fn an_image_with_no_dpkg_database_gets_an_sbom_of_itself_alone() {
    let Some(engine) = engine() else { return };
    let Some(python) = interop::python() else { return };
    // An image of one file: no dpkg database, and no shell, so the check fails
    // after the image resolved; the SBOM is written all the same.
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&rootfs).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_mtime(0);
    tar.append_data(&mut header, "etc/hostname", &b"empty\n"[..]).unwrap();
    tar.into_inner().unwrap();
    let archive = tmp.path().join("image.tar");
    let tag = "reprocheck-test/no-dpkg:latest";
    let id = reprocheck::image::archive::assemble(&rootfs, tag, 0, "test", &archive).unwrap();
    block(engine.load_image(&archive)).unwrap();
    let spec = tmp.path().join("s.toml");
    std::fs::create_dir(tmp.path().join("src")).unwrap();
    let text =
        format!("name = \"s\"\n[image]\ndigest = \"{id}\"\n[source]\npath = \"src\"\n[build]\n{SH_BUILD}\n");
    std::fs::write(&spec, text).unwrap();
    let out = tmp.path().join("out");
    let run = reprocheck(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_ne!(run.status.code(), Some(0), "the image has no shell to build with: {}", show(&run));
    let (sbom, validated) = checked_sbom(&python, &out);
    assert_eq!(sbom["packages_from"], "none", "{sbom}");
    assert_eq!(sbom["packages"], 0);
    assert!(sbom["note"].as_str().unwrap().contains("no /var/lib/dpkg/status"), "{sbom}");
    assert_eq!(validated["packages"][0]["sha256"], id.hex());
    assert_eq!(leftovers_of_run(&out), 0);
}

#[test]
fn an_image_pinned_by_digest_is_described_from_the_lock_this_machine_built_it_from() {
    let Some(_engine) = ready_engine() else { return };
    let Some(python) = interop::python() else { return };
    // Pinned by digest with no recipe; this machine's record of building the
    // image (its lock, kept under the cache by `image build`) names it.
    let case = Case::new("clean", SH_BUILD);
    let cache = tempfile::tempdir().unwrap();
    let record = cache.path().join("reprocheck/images").join(pinned_digest().trim_start_matches("sha256:"));
    std::fs::create_dir_all(&record).unwrap();
    std::fs::copy(root().join(RECIPE).join("packages.lock"), record.join("packages.lock")).unwrap();
    let run = case.check_cmd(&["--vary", "umask"]).env("XDG_CACHE_HOME", cache.path()).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let (sbom, validated) = checked_sbom(&python, &case.out);
    assert_eq!(sbom["packages_from"], "build-record", "{sbom}");
    assert_eq!(sbom["lock"], record.join("packages.lock").to_str().unwrap());
    let locked = locked();
    let packages = &validated["packages"].as_array().unwrap()[1..];
    assert_eq!(packages.len(), locked.len());
    for package in &locked {
        let purl = purl_of(package);
        let listed = packages.iter().find(|p| p["purl"] == purl.as_str()).expect("every locked package");
        assert_eq!(listed["sha256"], package.3.as_str(), "{purl}: the .deb's sha256, as the lock has it");
    }
}
