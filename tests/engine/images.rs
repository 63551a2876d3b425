//! Package-locked toolchain images: a lock rebuilds its image from vendored
//! .debs with no mirror, a snapshot archive supplies locked packages, and
//! drift (a locked version the sources no longer have, a pin the lock no
//! longer builds) is explained package by package. None of these depends on
//! the mirror's date: every digest compared is one the test itself produced.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of the bundled recipe and its lock in `dir/recipe`, reading the
/// apt sources `sources` (a sources file's text).
fn copy_recipe(dir: &Path, sources: &str) -> PathBuf {
    let recipe = dir.join("recipe");
    std::fs::create_dir(&recipe).unwrap();
    let text = std::fs::read_to_string(root().join(RECIPE).join("recipe.toml")).unwrap();
    std::fs::write(recipe.join("recipe.toml"), format!("{text}sources = \"apt.list\"\n")).unwrap();
    std::fs::write(recipe.join("apt.list"), sources).unwrap();
    std::fs::copy(root().join(RECIPE).join("packages.lock"), recipe.join("packages.lock")).unwrap();
    recipe
}

/// Sources no package can come from: a refused port on loopback.
const NO_MIRROR: &str = "deb http://127.0.0.1:9/debian trixie main\n";

/// `reprocheck ARGS` with an empty download cache of its own.
fn without_cache(cache: &Path, args: &[&str]) -> std::process::Output {
    reprocheck_cmd(args).env("XDG_CACHE_HOME", cache).output().unwrap()
}

/// Makes `dir` a flat apt repository (Packages and Release) of its .debs.
fn index_repository(dir: &Path, packages_of: &str, dists: &Path) {
    std::fs::create_dir_all(dists).unwrap();
    let packages =
        Command::new("apt-ftparchive").args(["packages", packages_of]).current_dir(dir).output().unwrap();
    assert!(packages.status.success(), "apt-ftparchive: {}", String::from_utf8_lossy(&packages.stderr));
    std::fs::write(dists.join("Packages"), &packages.stdout).unwrap();
}

/// The `suite` of the recipe in `dir`.
fn recipe_suite(dir: &Path) -> String {
    let doc: toml::Table = std::fs::read_to_string(dir.join("recipe.toml")).unwrap().parse().unwrap();
    doc["suite"].as_str().unwrap().to_string()
}

fn locked_image(recipe: &Path) -> String {
    let doc: toml::Table = std::fs::read_to_string(recipe.join("packages.lock")).unwrap().parse().unwrap();
    doc["image"].as_str().unwrap().to_string()
}

#[test]
fn a_vendored_lock_rebuilds_the_same_image_with_no_mirror() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = copy_recipe(tmp.path(), NO_MIRROR);
    let (r, debs) = (recipe.to_str().unwrap(), tmp.path().join("debs"));
    let run = reprocheck(&["image", "vendor", r, debs.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("each checked against its sha256"),
        "{}",
        show(&run)
    );

    let cache = tmp.path().join("empty-cache");
    let run = without_cache(&cache, &["image", "build", r, "--packages-dir", debs.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let id = String::from_utf8_lossy(&run.stdout).lines().last().unwrap_or_default().to_string();
    // The lock's image was built by another build (first use, or from the
    // lock with the host's sources): the same id twice, and no mirror here.
    assert_eq!(id, locked_image(&recipe), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("exactly its"), "{}", show(&run));
}

#[test]
fn a_snapshot_archive_supplies_the_locked_packages() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = copy_recipe(tmp.path(), NO_MIRROR);
    let r = recipe.to_str().unwrap();
    // A snapshot archive laid out as Debian's snapshot archive: BASE/debian/TIME/{dists,pool}.
    let time = "20250520T000000Z";
    let mirror = tmp.path().join("archive/debian").join(time);
    let pool = mirror.join("pool/main");
    std::fs::create_dir_all(&pool).unwrap();
    let run = reprocheck(&["image", "vendor", r, pool.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    // The suite the recipe names: the snapshot is read for it.
    let suite = recipe_suite(&recipe);
    let dists = format!("dists/{suite}");
    index_repository(&mirror, "pool", &mirror.join(&dists).join("main/binary-amd64"));
    let release = Command::new("apt-ftparchive")
        .args(["-o", &format!("APT::FTPArchive::Release::Suite={suite}"), "release", &dists])
        .current_dir(&mirror)
        .output()
        .unwrap();
    std::fs::write(mirror.join(&dists).join("Release"), &release.stdout).unwrap();

    let out = tmp.path().join("fetched");
    let base = format!("file://{}", tmp.path().join("archive").display());
    let cache = tmp.path().join("empty-cache");
    let run = without_cache(
        &cache,
        &["image", "vendor", r, out.to_str().unwrap(), "--snapshot", &base, "--snapshot-time", time],
    );
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let count = std::fs::read_dir(&out).unwrap().count();
    let locked = std::fs::read_to_string(recipe.join("packages.lock")).unwrap().matches("{ name = ").count();
    assert_eq!(count, locked, "every locked package came from the snapshot: {}", show(&run));
}

#[test]
fn a_locked_version_the_sources_no_longer_have_is_named_with_what_they_have() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The "archive": a local repository holding the locked packages.
    let repo = tmp.path().join("repo");
    let recipe = copy_recipe(tmp.path(), &format!("deb [trusted=yes] file:{} ./\n", repo.display()));
    let r = recipe.to_str().unwrap();
    let run = reprocheck(&["image", "vendor", r, repo.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    index_repository(&repo, ".", &repo);
    // The lock asks for a tzdata the archive never had: drift.
    let lock = recipe.join("packages.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let line = text.lines().find(|l| l.contains("name = \"tzdata\"")).unwrap();
    let real = line.split("version = \"").nth(1).unwrap().split('"').next().unwrap().to_string();
    std::fs::write(&lock, text.replace(line, &line.replace(&real, "9999z-0+fake"))).unwrap();

    let cache = tmp.path().join("empty-cache");
    let run = without_cache(&cache, &["image", "build", r]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1 of the"),
        "only tzdata is missing; the rest came from the repository: {stderr}"
    );
    assert!(stderr.contains(&format!("tzdata 9999z-0+fake (all): the sources have {real}")), "{stderr}");
    assert!(stderr.contains("sources tried:") && stderr.contains("apt.list"), "{stderr}");
    assert!(
        stderr.contains("image vendor") && stderr.contains("--update"),
        "the fixes are offered: {stderr}"
    );
}

#[test]
fn a_pin_the_lock_no_longer_builds_names_the_changed_packages() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = copy_recipe(tmp.path(), NO_MIRROR);
    let old = format!("sha256:{}", "e".repeat(64));
    // This machine built `old` from a lock where libc6 had another version.
    let cache = tmp.path().join("cache");
    let manifest = cache.join("reprocheck/images").join("e".repeat(64));
    std::fs::create_dir_all(&manifest).unwrap();
    let text = std::fs::read_to_string(recipe.join("packages.lock")).unwrap();
    let line = text.lines().find(|l| l.contains("name = \"libc6\"")).unwrap();
    let real = line.split("version = \"").nth(1).unwrap().split('"').next().unwrap().to_string();
    std::fs::write(
        manifest.join("packages.lock"),
        text.replace(line, &line.replace(&real, "2.36-9+deb12u1")),
    )
    .unwrap();

    let spec = tmp.path().join("s.toml");
    std::fs::write(
        &spec,
        format!(
            "[image]\ndigest = \"{old}\"\nrecipe = \"recipe\"\n[source]\npath = \"{}\"\n[build]\n{SH_BUILD}\n",
            source_beside(tmp.path(), "clean", &fixture("clean")).display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run =
        reprocheck_cmd(&["check", spec.to_str().unwrap(), "--build-missing", "--out", out.to_str().unwrap()])
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&format!("libc6 2.36-9+deb12u1 -> {real}")), "{stderr}");
    assert!(stderr.contains(&format!("reprocheck lock {}", spec.display())), "the fix that works: {stderr}");
    assert!(stderr.contains("reprocheck check"), "names the command being run: {stderr}");
    let report = report(&out);
    assert_eq!(report["image"]["drift"]["changed"][0][0], "libc6", "{report:#}");
    assert_eq!(report["image"]["pinned_by"], "spec");
}

#[test]
fn an_unpinned_image_is_refused_by_locked_and_by_verify() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = copy_recipe(tmp.path(), NO_MIRROR);
    std::fs::remove_file(recipe.join("packages.lock")).unwrap();
    let spec = tmp.path().join("s.toml");
    std::fs::write(
        &spec,
        format!(
            "[image]\nrecipe = \"recipe\"\n[source]\npath = \"{}\"\n[build]\n{SH_BUILD}\n[expect]\n\"out/x\" = \"sha256:{}\"\n",
            source_beside(tmp.path(), "clean", &fixture("clean")).display(),
            "0".repeat(64)
        ),
    )
    .unwrap();
    let s = spec.to_str().unwrap();
    for args in [vec!["check", s, "--build-missing", "--locked"], vec!["verify", s, "--build-missing"]] {
        let out = tmp.path().join("out");
        let mut all = args.clone();
        all.extend(["--out", out.to_str().unwrap()]);
        let run = reprocheck(&all);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", show(&run));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains("no image is pinned"), "{args:?}: {stderr}");
        assert!(stderr.contains("reprocheck image build"), "{args:?}: {stderr}");
        assert!(!recipe.join("packages.lock").exists(), "{args:?} wrote a lock");
    }
    // Without --build-missing, the help offers the first use.
    let run = reprocheck(&["check", s, "--out", tmp.path().join("o2").to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(&format!("reprocheck check {s} --build-missing")),
        "{}",
        show(&run)
    );
}

/// Issue 32, item 4: after a recipe's packages are edited, its lock no
/// longer pins anything. `--locked` (check, verify, image build) and a
/// plain check refuse before any build, naming the change;
/// `check --build-missing` re-resolves, re-locks and says so, and the new
/// lock then passes `--locked`. One image is built, for the re-lock.
#[test]
fn a_recipe_edited_after_locking_is_refused_by_locked_and_relocked_by_build_missing() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("recipe");
    std::fs::create_dir(&recipe).unwrap();
    // The bundled recipe under a tag of its own (the re-lock must not move the
    // bundled tag), on the host's sources, with the bundled lock.
    let text = std::fs::read_to_string(root().join(RECIPE).join("recipe.toml")).unwrap();
    let text = text.replace("name = \"reprocheck/debian-trixie\"", "name = \"reprocheck/test-relock\"");
    std::fs::write(recipe.join("recipe.toml"), &text).unwrap();
    std::fs::copy(root().join(RECIPE).join("packages.lock"), recipe.join("packages.lock")).unwrap();
    // The lock in the current format, as `image build` writes it (a bundled
    // lock from an older reprocheck records only the recipe's digest).
    let mut lock = reprocheck::image::PackageLock::load(&recipe).unwrap().unwrap();
    let inputs = reprocheck::image::Recipe::load(&recipe, None).unwrap().inputs;
    if lock.inputs.is_none() {
        (lock.version, lock.recipe) = (reprocheck::image::lock::LOCK_VERSION, inputs.fingerprint());
        lock.inputs = Some(inputs);
        lock.save(&recipe).unwrap();
    }
    let old_image = lock.image.to_string();
    let source = source_beside(tmp.path(), "clean", &fixture("clean"));
    let spec = tmp.path().join("s.toml");
    let body = format!(
        "[image]\nrecipe = \"recipe\"\n[source]\npath = \"{}\"\n[build]\n{SH_BUILD}\n",
        source.display()
    );
    std::fs::write(&spec, &body).unwrap();
    let verified = tmp.path().join("v.toml");
    std::fs::write(&verified, format!("{body}[expect]\n\"out/a.txt\" = \"sha256:{}\"\n", "0".repeat(64)))
        .unwrap();
    let (s, v, r) = (spec.to_str().unwrap(), verified.to_str().unwrap(), recipe.to_str().unwrap());

    std::fs::write(recipe.join("recipe.toml"), text.replace("\"tzdata\"]", "\"tzdata\", \"hello\"]"))
        .unwrap();
    let locked_text = std::fs::read_to_string(recipe.join("packages.lock")).unwrap();
    let named =
        "packages.lock was made for a recipe whose packages were [build-essential, python3, tzdata]; \
                 the recipe now lists [build-essential, python3, tzdata, hello] (added: hello)";
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    for args in [
        vec!["check", s, "--locked", "--build-missing", "--out", o],
        vec!["check", s, "--locked", "--out", o],
        vec!["check", s, "--out", o],
        vec!["verify", v, "--locked", "--build-missing", "--out", o],
        vec!["image", "build", r, "--locked"],
    ] {
        let started = std::time::Instant::now();
        let run = reprocheck(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", show(&run));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains(named), "{args:?} names the change: {stderr}");
        assert!(stderr.contains("--build-missing"), "{args:?} offers the re-lock: {stderr}");
        assert!(!stderr.contains("resolving ") && !stderr.contains("building "), "{args:?} built: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(std::fs::read_to_string(recipe.join("packages.lock")).unwrap(), locked_text, "{args:?}");
    }
    assert!(report(&out)["image"]["stale_lock"][0].as_str().unwrap().contains("(added: hello)"));

    let run = reprocheck(&["check", s, "--build-missing", "--out", o]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("re-locked: ") && stderr.contains("(added: hello)"), "says so: {stderr}");
    let relocked = reprocheck::image::PackageLock::load(&recipe).unwrap().unwrap();
    assert!(relocked.packages.iter().any(|p| p.name == "hello"), "{}", show(&run));
    let new_image = relocked.image.to_string();
    assert_ne!(new_image, old_image);
    let report = report(&out);
    assert_eq!(report["image"]["relocked"], true, "{report:#}");
    assert_eq!(report["image"]["digest"], new_image.as_str(), "{report:#}");

    // The new lock pins the recipe: --locked runs on its image.
    let run = reprocheck(&["check", s, "--locked", "--out", o]);
    let cleanup = Command::new("docker").args(["rmi", "reprocheck/test-relock:latest"]).output();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(common::report(&out)["image"]["digest"], new_image.as_str());
    assert_eq!(common::report(&out)["image"]["pinned_by"], "recipe-lock");
    drop(cleanup);
}
