//! A recipe's `suite` decides what is installed: a trixie recipe installs
//! the libc6 the archive has for trixie today (read here from the host's own
//! archive URIs, never a version or a host written down), not the host's
//! release's; a suite the archive lacks fails before mmdebstrap, named.

use crate::common;

use common::*;
use std::path::Path;
use std::process::Command;

/// The suite the host's apt sources name as its own release.
fn host_codename() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .expect("/etc/os-release names no VERSION_CODENAME")
}

/// The version of `package` apt would install from the host's apt sources
/// with every suite of the host's release (`bookworm`, `bookworm-updates`,
/// ...) renamed to `suite`'s: what the archive holds for `suite` now. Done
/// here by plain text substitution, apart from reprocheck's own derivation.
fn archive_candidate(suite: &str, package: &str) -> String {
    let host = host_codename();
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("sources.list.d");
    for dir in ["sources.list.d", "lists/partial", "cache/archives/partial", "conf.d"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
    }
    let rename = |token: &str| match token.strip_prefix(host.as_str()) {
        Some(rest) if rest.is_empty() || rest.starts_with('-') => format!("{suite}{rest}"),
        _ => token.to_string(),
    };
    let mut files: Vec<_> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.push("/etc/apt/sources.list".into());
    for file in files.iter().filter(|f| f.is_file()) {
        let Some(ext) = file.extension().and_then(|e| e.to_str()).filter(|e| ["list", "sources"].contains(e))
        else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let renamed: Vec<String> = text
            .lines()
            .map(|line| match line.strip_prefix("Suites:") {
                Some(suites) => {
                    format!("Suites: {}", suites.split_whitespace().map(rename).collect::<Vec<_>>().join(" "))
                }
                None if line.starts_with("deb") => line.split(' ').map(rename).collect::<Vec<_>>().join(" "),
                None => line.to_string(),
            })
            .collect();
        let name = format!("{}.{ext}", file.file_stem().unwrap().to_string_lossy());
        std::fs::write(parts.join(name), renamed.join("\n") + "\n").unwrap();
    }
    let d = tmp.path().display();
    let apt = |program: &str, args: &[&str]| {
        let mut command = Command::new(program);
        for option in [
            format!("Dir::Etc::SourceList={d}/none.list"),
            format!("Dir::Etc::SourceParts={d}/sources.list.d"),
            format!("Dir::Etc::Parts={d}/conf.d"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::State::status={d}/status"),
            format!("Dir::Cache={d}/cache"),
            "Acquire::IndexTargets::deb::Translations::DefaultEnabled=false".to_string(),
            "Debug::NoLocking=true".to_string(),
            "APT::Sandbox::User=root".to_string(),
        ] {
            command.arg("-o").arg(option);
        }
        command.args(args).output().unwrap()
    };
    std::fs::write(tmp.path().join("status"), "").unwrap();
    let update = apt("apt-get", &["update", "-q"]);
    assert!(update.status.success(), "apt-get update for {suite}: {}", show(&update));
    let policy = apt("apt-cache", &["policy", package]);
    let text = String::from_utf8_lossy(&policy.stdout).to_string();
    let candidate = text.lines().find_map(|l| l.trim().strip_prefix("Candidate:")).map(str::trim);
    match candidate {
        Some(version) if version != "(none)" => version.to_string(),
        _ => panic!("the archive has no {package} for {suite}: {text}"),
    }
}

/// The version of `package` installed in `image`, as dpkg's status file in
/// it says (copied out of a created, never started, container: Podman's
/// compatible API does not attach the docker CLI's `run`).
fn installed_in(image: &str, package: &str) -> String {
    let docker = |args: &[&str]| {
        let out = Command::new("docker").args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let container = docker(&["create", "--network", "none", image, "true"]);
    let tmp = tempfile::tempdir().unwrap();
    let status = tmp.path().join("status");
    let copy = Command::new("docker")
        .args(["cp", &format!("{container}:/var/lib/dpkg/status"), status.to_str().unwrap()])
        .output()
        .unwrap();
    docker(&["rm", &container]);
    assert!(copy.status.success(), "docker cp: {}", show(&copy));
    let text = std::fs::read_to_string(&status).unwrap();
    let paragraph = text
        .split("\n\n")
        .find(|p| p.lines().any(|l| l == format!("Package: {package}")))
        .unwrap_or_else(|| panic!("{image} has no {package} installed"));
    let version = paragraph.lines().find_map(|l| l.strip_prefix("Version: "));
    version.unwrap_or_else(|| panic!("{package} has no Version in {image}: {paragraph}")).to_string()
}

/// A recipe `name` in `dir` for `suite`: the apt variant, nothing more.
fn small_recipe(dir: &Path, name: &str, suite: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("recipe.toml"),
        format!(
            "name = \"{name}\"\nsuite = \"{suite}\"\nvariant = \"apt\"\nsource_date_epoch = 1754697600\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_trixie_recipe_installs_the_libc6_the_archive_has_for_trixie() {
    let Some(_engine) = engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("trixie");
    small_recipe(&recipe, "reprocheck/test-trixie", "trixie");
    let run = reprocheck_cmd(&["image", "build", recipe.to_str().unwrap()])
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let image = String::from_utf8_lossy(&run.stdout).lines().last().unwrap_or_default().to_string();
    let installed = installed_in(&image, "libc6");
    let cleanup = Command::new("docker").args(["rmi", "reprocheck/test-trixie:latest"]).output();
    drop(cleanup);

    let trixie = archive_candidate("trixie", "libc6");
    let bookworm = archive_candidate("bookworm", "libc6");
    eprintln!("libc6: installed {installed}; the archive has {trixie} for trixie, {bookworm} for bookworm");
    assert_ne!(trixie, bookworm, "the archive gives both releases the same libc6");
    assert_eq!(installed, trixie, "the image's libc6 is trixie's: {}", show(&run));
    // The lock records what was installed, and says which suite.
    let lock = std::fs::read_to_string(recipe.join("packages.lock")).unwrap();
    assert!(lock.contains(&format!("{{ name = \"libc6\", version = \"{trixie}\"")), "{lock}");
    assert!(lock.contains("suite = \"trixie\""), "{lock}");
}

#[test]
fn a_suite_the_archive_lacks_fails_naming_it_before_mmdebstrap() {
    let Some(_engine) = engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("nosuch");
    small_recipe(&recipe, "reprocheck/test-nosuchsuite", "nosuchsuite");
    let run = reprocheck_cmd(&["image", "build", recipe.to_str().unwrap()])
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("the recipe's suite `nosuchsuite` cannot be read"), "{stderr}");
    assert!(stderr.contains("  nosuchsuite from "), "the URIs tried are named: {stderr}");
    assert!(stderr.contains("sources = \"FILE\""), "what to do is said: {stderr}");
    assert!(!stderr.contains("mmdebstrap"), "it stops before mmdebstrap: {stderr}");
    assert!(!recipe.join("packages.lock").exists());
}
