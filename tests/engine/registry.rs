//! Registry images pinned by digest (issue 34, items 2, 3 and 5), against a
//! real registry on loopback (tests/common/registry.rs) and the real engine:
//! pulled by digest into an engine that lacks them, checked against the pin
//! before any container exists, unmoved by a moved tag, locked from a tag,
//! resolved per platform from an index, and saved to an archive that later
//! loads with no registry at all.

use crate::common::registry::{self, Pushed, ADDRESS};
use crate::common::{self, block, fixture, reprocheck, show, source_beside, SH_BUILD};
use reprocheck::engine::docker::DockerEngine;
use reprocheck::engine::Engine;
use std::path::{Path, PathBuf};

/// The engine with the bundled image, when it can pull from the test
/// registry; `None` skips (never in CI, where .ci/run makes Podman able to).
fn registry_engine() -> Option<DockerEngine> {
    let engine = common::ready_engine()?;
    if !registry::engine_can_pull(&engine) {
        let why = format!(
            "Podman pulls over HTTP only from registries listed as insecure, and {} does not list {ADDRESS}",
            registry::PODMAN_INSECURE_CONF
        );
        assert!(
            std::env::var("REPROCHECK_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "{why} (.ci/run writes it)"
        );
        common::skipped(&why);
        return None;
    }
    registry::start();
    Some(engine)
}

/// A label, repository and results only this test uses.
fn unique(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), reprocheck::digest::Digest::of_bytes(test.as_bytes()).short())
}

/// A spec building the `clean` fixture on the image `[image]` names.
fn spec_with_image(dir: &Path, image_table: &str) -> PathBuf {
    let source = match dir.join("clean.source") {
        copied if copied.exists() => copied,
        _ => source_beside(dir, "clean", &fixture("clean")),
    };
    let spec = dir.join("registry.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"registry\"\n[image]\n{image_table}\n[source]\npath = \"{}\"\n[build]\n{SH_BUILD}\n",
            source.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    spec
}

fn check(spec: &Path, extra: &[&str]) -> std::process::Output {
    let out = spec.parent().unwrap().join("results");
    let mut args = vec!["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--vary", "none"];
    args.extend_from_slice(extra);
    reprocheck(&args)
}

fn report(spec: &Path) -> serde_json::Value {
    common::report(&spec.parent().unwrap().join("results"))
}

fn has_image(engine: &DockerEngine, id: &str) -> bool {
    block(engine.inspect_image(id)).unwrap().is_some_and(|i| i.id == id)
}

/// Removes what a test pulled, also when it fails.
struct Pulled<'a>(&'a DockerEngine, Vec<String>);

impl Drop for Pulled<'_> {
    fn drop(&mut self) {
        for id in &self.1 {
            registry::remove_image(self.0, id);
        }
    }
}

fn push(engine: &DockerEngine, test: &str, tag: &str) -> (String, Pushed) {
    let name = unique(test);
    let repository = format!("reprocheck-test/{name}");
    let pushed = registry::push_variant(engine, &format!("{name}-{tag}"), &repository, tag);
    assert!(!has_image(engine, &pushed.config), "the engine already has the test's own variant");
    (repository, pushed)
}

#[test]
fn a_spec_pinned_by_manifest_digest_is_pulled_checked_and_built() {
    let Some(engine) = registry_engine() else { return };
    let (_, pushed) = push(&engine, "pulled", "v1");
    let _cleanup = Pulled(&engine, vec![pushed.config.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}@{}", pushed.tagged, pushed.manifest);
    let spec = spec_with_image(dir.path(), &format!("reference = \"{reference}\""));
    let run = check(&spec, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let image = &report(&spec)["image"];
    assert_eq!(image["id"], pushed.config.as_str(), "{image}");
    assert_eq!(image["registry"]["reference"], reference.as_str());
    assert_eq!(image["registry"]["manifest_digest"], pushed.manifest.as_str());
    assert_eq!(image["registry"]["config_digest"], pushed.config.as_str());
    assert_eq!(image["registry"]["pulled"], true);
    assert!(has_image(&engine, &pushed.config));
    // The toolchain's SBOM names the image by its registry purl, pinned by the manifest digest.
    let sbom = std::fs::read_to_string(dir.path().join("results/toolchain.spdx.json")).unwrap();
    let sbom: serde_json::Value = serde_json::from_str(&sbom).unwrap();
    let purl = sbom["packages"][0]["externalRefs"][0]["referenceLocator"].as_str().unwrap_or_default();
    let expected = format!("@{}?", pushed.manifest.replace(':', "%3A"));
    assert!(purl.starts_with("pkg:oci/") && purl.contains(&expected), "{purl}");
    // Present now: the next run neither pulls nor asks the registry.
    let again = check(&spec, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert_eq!(report(&spec)["image"]["registry"]["pulled"], false);
}

#[test]
fn a_wrong_digest_is_refused_before_any_container_is_created() {
    let Some(engine) = registry_engine() else { return };
    let (_, pushed) = push(&engine, "wrong", "v1");
    let _cleanup = Pulled(&engine, vec![pushed.config.clone()]);
    let dir = tempfile::tempdir().unwrap();
    // A manifest digest the registry does not have.
    let absent = reprocheck::digest::Digest::of_bytes(b"no such manifest");
    let spec = spec_with_image(dir.path(), &format!("reference = \"{}@{absent}\"", pushed.tagged));
    let run = check(&spec, &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr.contains(ADDRESS) && stderr.contains("has no manifest"), "{}", show(&run));
    let report = report(&spec);
    assert_eq!(report["runs"].as_array().map_or(0, Vec::len), 0, "{report}");
    // The right manifest with the wrong image id pinned: refused before the pull.
    let wrong_id = reprocheck::digest::Digest::of_bytes(b"another image");
    std::fs::write(
        &spec,
        std::fs::read_to_string(&spec).unwrap().replace(
            &format!("reference = \"{}@{absent}\"", pushed.tagged),
            &format!("reference = \"{}@{}\"\ndigest = \"{wrong_id}\"", pushed.tagged, pushed.manifest),
        ),
    )
    .unwrap();
    let run = check(&spec, &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr.contains(&pushed.config) && stderr.contains("nothing was pulled"), "{}", show(&run));
    assert!(
        !has_image(&engine, &pushed.config),
        "the image was pulled although its id did not match the pin"
    );
    // A tag alone is never used.
    let tag_only = spec_with_image(dir.path(), &format!("reference = \"{}\"", pushed.tagged));
    let run = check(&tag_only, &[]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("a tag is never used alone"), "{}", show(&run));
}

#[test]
fn lock_resolves_a_tag_and_a_moved_tag_does_not_change_what_runs() {
    let Some(engine) = registry_engine() else { return };
    let (repository, first) = push(&engine, "moved", "v1");
    let mut cleanup = Pulled(&engine, vec![first.config.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_image(dir.path(), &format!("reference = \"{}\"", first.tagged));
    let spec_arg = spec.to_str().unwrap();
    let locked = reprocheck(&["lock", spec_arg, "--locked"]);
    assert_eq!(locked.status.code(), Some(2), "--locked resolved a tag: {}", show(&locked));
    let lock = reprocheck(&["lock", spec_arg]);
    assert!(lock.status.success(), "{}", show(&lock));
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains(&format!("reference = \"{}@{}\"", first.tagged, first.manifest)), "{text}");
    assert!(text.contains(&format!("digest = \"{}\"", first.config)), "{text}");
    // The tag moves to another image.
    let second = registry::push_variant(&engine, &format!("{}-second", unique("moved")), &repository, "v1");
    cleanup.1.push(second.config.clone());
    assert_ne!(first.manifest, second.manifest);
    let run = check(&spec, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report(&spec)["image"]["id"], first.config.as_str());
    assert!(!has_image(&engine, &second.config), "the moved tag's image was pulled");
    // `lock` follows the tag to the new image, and says so.
    let relock = reprocheck(&["lock", spec_arg]);
    assert!(relock.status.success(), "{}", show(&relock));
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains(&second.manifest) && text.contains(&second.config), "{text}");
    assert!(String::from_utf8_lossy(&relock.stdout)
        .contains(&format!("(was {}@{})", first.tagged, first.manifest)));
}

#[test]
fn a_multi_platform_index_resolves_to_this_platforms_image_with_both_digests() {
    let Some(engine) = registry_engine() else { return };
    let (repository, ours) = push(&engine, "index", "ours");
    let other = registry::push_variant(&engine, &format!("{}-other", unique("index")), &repository, "other");
    let _cleanup = Pulled(&engine, vec![ours.config.clone(), other.config.clone()]);
    let platform = engine.info().platform.clone();
    let (os, architecture) = platform.split_once('/').unwrap();
    let foreign = if architecture == "arm64" { "amd64" } else { "arm64" };
    // The foreign platform first: the choice must be by platform, not by position.
    let index =
        registry::push_index(&repository, "multi", &[(os, foreign, &other), (os, architecture, &ours)]);
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{ADDRESS}/{repository}:multi@{index}");
    let spec = spec_with_image(dir.path(), &format!("reference = \"{reference}\""));
    let run = check(&spec, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let image = &report(&spec)["image"];
    assert_eq!(image["id"], ours.config.as_str(), "{image}");
    assert_eq!(image["registry"]["index_digest"], index.as_str());
    assert_eq!(image["registry"]["manifest_digest"], ours.manifest.as_str());
    assert_eq!(image["registry"]["platform"], platform.as_str());
    assert!(!has_image(&engine, &other.config), "the other platform's image was pulled");
}

#[test]
fn a_saved_image_runs_again_with_no_registry() {
    let Some(engine) = registry_engine() else { return };
    let (repository, pushed) = push(&engine, "saved", "v1");
    let _cleanup = Pulled(&engine, vec![pushed.config.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_image(
        dir.path(),
        &format!("reference = \"{}@{}\"\ndigest = \"{}\"", pushed.tagged, pushed.manifest, pushed.config),
    );
    let images = dir.path().join("images");
    let save = reprocheck(&["image", "save", spec.to_str().unwrap(), images.to_str().unwrap()]);
    assert!(save.status.success(), "{}", show(&save));
    let archive = images.join(format!("{}.tar", pushed.config.trim_start_matches("sha256:")));
    assert_eq!(String::from_utf8_lossy(&save.stdout).trim(), archive.to_str().unwrap());
    // A fresh engine: the image gone; no registry: the reference names a port where none listens.
    registry::remove_image(&engine, &pushed.config);
    assert!(!has_image(&engine, &pushed.config));
    let unreachable = format!("127.0.0.1:9/{repository}:v1@{}", pushed.manifest);
    let offline = spec_with_image(
        dir.path(),
        &format!("reference = \"{unreachable}\"\ndigest = \"{}\"", pushed.config),
    );
    let without = check(&offline, &[]);
    assert_eq!(without.status.code(), Some(2), "ran without the image: {}", show(&without));
    let run = check(&offline, &["--images-dir", images.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let image = &report(&offline)["image"];
    assert_eq!(image["id"], pushed.config.as_str());
    assert_eq!(image["loaded_from"], archive.to_str().unwrap());
    // `[image].archive`, pinned by sha256: a changed archive is refused before it is loaded.
    registry::remove_image(&engine, &pushed.config);
    let sha256 = reprocheck::digest::Digest::of_file(&archive).unwrap();
    let relative = format!("images/{}", archive.file_name().unwrap().to_string_lossy());
    let pinned = |sha: &str| {
        spec_with_image(
            dir.path(),
            &format!(
                "reference = \"{unreachable}\"\ndigest = \"{}\"\narchive = \"{relative}\"\narchive_sha256 = \"{sha}\"",
                pushed.config
            ),
        )
    };
    let tampered = check(&pinned(reprocheck::digest::Digest::of_bytes(b"x").as_str()), &[]);
    assert_eq!(tampered.status.code(), Some(2), "{}", show(&tampered));
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("it was not loaded"), "{}", show(&tampered));
    assert!(!has_image(&engine, &pushed.config));
    let spec = pinned(sha256.as_str());
    let run = check(&spec, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report(&spec)["image"]["id"], pushed.config.as_str());
    assert_eq!(report(&spec)["image"]["loaded_from"], dir.path().join(&relative).to_str().unwrap());
}

#[test]
fn credentials_come_from_the_users_auth_file_and_a_refusal_says_whose() {
    let Some(engine) = registry_engine() else { return };
    registry::start_authenticated();
    let name = unique("auth");
    let pushed = registry::push_variant_to(
        &engine,
        registry::AUTH_ADDRESS,
        Some(registry::AUTH_USER),
        &name,
        &format!("reprocheck-test/{name}"),
        "v1",
    );
    let _cleanup = Pulled(&engine, vec![pushed.config.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with_image(dir.path(), &format!("reference = \"{}@{}\"", pushed.tagged, pushed.manifest));
    let auth_file = |user: &str, password: &str| {
        use base64::Engine as _;
        let file = dir.path().join(format!("auth-{password}.json"));
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        std::fs::write(
            &file,
            format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, registry::AUTH_ADDRESS),
        )
        .unwrap();
        file
    };
    let out = dir.path().join("results");
    let run = |auth: Option<&Path>| {
        let mut cmd = common::reprocheck_cmd(&[
            "check",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--vary",
            "none",
        ]);
        // Only the file given here: not the machine's own logins.
        let home = dir.path().join("home");
        cmd.env("HOME", &home).env("DOCKER_CONFIG", home.join(".docker")).env_remove("XDG_RUNTIME_DIR");
        cmd.env_remove("XDG_CONFIG_HOME").env_remove("REGISTRY_AUTH_FILE");
        if let Some(file) = auth {
            cmd.env("REGISTRY_AUTH_FILE", file);
        }
        cmd.output().unwrap()
    };
    let anonymous = run(None);
    assert_eq!(anonymous.status.code(), Some(2), "{}", show(&anonymous));
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("none are configured"),
        "{}",
        show(&anonymous)
    );
    let wrong = auth_file(registry::AUTH_USER.0, "wrong-password");
    let refused = run(Some(&wrong));
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused the credentials of rebuilder")
            && stderr.contains("auth-wrong-password.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-password\""), "the password was printed: {stderr}");
    assert!(!has_image(&engine, &pushed.config));
    let right = auth_file(registry::AUTH_USER.0, registry::AUTH_USER.1);
    let pulled = run(Some(&right));
    assert_eq!(pulled.status.code(), Some(0), "{}", show(&pulled));
    assert_eq!(common::report(&out)["image"]["registry"]["pulled"], true);
    assert!(has_image(&engine, &pushed.config));
}
