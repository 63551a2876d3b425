//! Python distributions in a recipe image (`python_requirements`): a
//! requirements file in pip's hash-checking mode (`name==version` with one
//! or more `--hash=sha256:…`) names them; the host's pip downloads the
//! wheels from the package index it is configured for (nothing here names
//! one), every file is checked against its pinned hash, and pip in the
//! image installs them with no index at all. The lock records the exact
//! wheel each requirement resolved to, so a locked rebuild installs the same
//! bytes; the wheels are kept in this machine's cache like the .debs.

use crate::digest::Digest;
use crate::errors::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The directory, inside the image while it is built, holding the wheels.
pub const IN_IMAGE_DIR: &str = "/tmp/reprocheck-python";

/// The requirements file written beside the wheels for pip in the image.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";

/// Largest requirements file read.
const MAX_REQUIREMENTS_SIZE: u64 = 1 << 20;

/// One pinned requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The distribution name, normalised (PEP 503: lowercase, runs of `-_.` as `-`).
    pub name: String,
    /// The exact version after `==`.
    pub version: String,
    /// The hashes any acceptable file must have.
    pub hashes: Vec<Digest>,
}

/// One installed distribution, exactly: what the lock records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedDistribution {
    /// Normalised name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The wheel's file name.
    pub file: String,
    /// The wheel's sha256.
    pub sha256: Digest,
}

/// A project name as PEP 503 compares it: lowercase, each run of `-`, `_`
/// and `.` one `-` (`Foo_Bar.baz` → `foo-bar-baz`). The one place this is
/// written: requirements files, the package index and `pyproject.toml`
/// all name projects this way.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Reads a requirements file in hash-checking mode. Only `name==version`
/// and `--hash=sha256:HEX` are accepted: an index option, a URL or an
/// unpinned requirement would let the image depend on more than the file.
pub fn parse_requirements(file: &Path) -> Result<Vec<Requirement>> {
    let text = crate::spec::read_capped(file, MAX_REQUIREMENTS_SIZE)?;
    let mut requirements: Vec<Requirement> = Vec::new();
    let mut logical = String::new();
    let mut first_line = 0;
    for (index, line) in text.lines().enumerate() {
        if logical.is_empty() {
            first_line = index + 1;
        }
        // A comment starts at a `#` that begins the line or follows white space.
        let comment = line
            .char_indices()
            .find(|&(at, c)| c == '#' && (at == 0 || line[..at].ends_with(char::is_whitespace)));
        let line = match comment {
            Some((at, _)) => &line[..at],
            None => line,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(continued) => {
                logical.push_str(continued);
                logical.push(' ');
                continue;
            }
            None => logical.push_str(line),
        }
        let at = || format!("{}:{first_line}", file.display());
        if !logical.trim().is_empty() {
            let requirement = parse_line(&logical).with_context(|| {
                format!(
                    "{}: expected `name==version --hash=sha256:<64 hex>` (pip's hash-checking mode)",
                    at()
                )
            })?;
            ensure!(
                requirements.iter().all(|r| r.name != requirement.name),
                "{}: `{}` is required twice",
                at(),
                requirement.name
            );
            requirements.push(requirement);
        }
        logical.clear();
    }
    ensure!(
        logical.is_empty(),
        "{}:{first_line}: the last line ends with `\\`, continuing into nothing",
        file.display()
    );
    ensure!(!requirements.is_empty(), "{} lists no requirements", file.display());
    Ok(requirements)
}

fn parse_line(line: &str) -> Result<Requirement> {
    let mut words = line.split_whitespace();
    let spec = words.next().context("an empty requirement")?;
    let (name, version) =
        spec.split_once("==").with_context(|| format!("`{spec}` is not pinned with `==`"))?;
    // PEP 508 names and versions begin and end with a letter or digit, so
    // neither can pass for an option of pip's.
    let valid = |s: &str, extra: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    ensure!(valid(name, "-_."), "`{name}` is not a distribution name");
    ensure!(valid(version, ".+!-_"), "`{version}` is not an exact version");
    let mut hashes = Vec::new();
    while let Some(word) = words.next() {
        let value = match word {
            "--hash" => words.next().context("`--hash` without a value")?,
            other => {
                other.strip_prefix("--hash=").with_context(|| format!("`{other}` is not allowed here"))?
            }
        };
        let hex = value.strip_prefix("sha256:").with_context(|| format!("`{value}` is not a sha256 hash"))?;
        hashes.push(Digest::parse(&format!("sha256:{hex}")).map_err(|e| anyhow!("{e}"))?);
    }
    ensure!(!hashes.is_empty(), "`{spec}` has no `--hash=sha256:…`");
    Ok(Requirement { name: normalise(name), version: version.to_string(), hashes })
}

/// The subdirectory of a packages directory (`image vendor`) that holds the wheels.
pub const VENDORED_DIR: &str = "python";

/// Collects into `dest` (created) one wheel per requirement, each with one
/// of its pinned hashes: from `vendored` (a flat directory of wheels, e.g.
/// `DEBS/python` from `image vendor`), else this machine's cache, else
/// downloaded by the host's pip. Beside them goes the requirements file pip
/// in the image installs from.
pub fn gather(
    requirements: &[Requirement],
    vendored: Option<&Path>,
    dest: &Path,
) -> Result<Vec<LockedDistribution>> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let cache = crate::paths::cache_dir("python");
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let vendored = match vendored.filter(|dir| dir.is_dir()) {
        Some(dir) => wheels_in(dir)?,
        None => Vec::new(),
    };
    for requirement in requirements {
        let local = matching_file(&vendored, requirement);
        match local.or_else(|| cache.as_deref().and_then(|c| from_cache(c, requirement))) {
            Some((file, sha256)) => found.push(place(requirement, &file, sha256, dest)?),
            None => missing.push(requirement.clone()),
        }
    }
    if !missing.is_empty() {
        let downloads = dest.join(".download");
        download(&missing, &downloads)?;
        let downloaded = wheels_in(&downloads)?;
        for requirement in &missing {
            let (file, sha256) = matching_file(&downloaded, requirement).with_context(|| {
                format!(
                    "pip downloaded no wheel of {}=={} with a pinned hash\n\
                     help: the pinned files may be sdists only; pin the hash of a wheel (`pip hash FILE.whl`)",
                    requirement.name, requirement.version
                )
            })?;
            if let Some(cache) = &cache {
                keep(cache, &file, &sha256);
            }
            found.push(place(requirement, &file, sha256, dest)?);
        }
        std::fs::remove_dir_all(&downloads).with_context(|| format!("removing {}", downloads.display()))?;
    }
    let text: String =
        found.iter().map(|d| format!("{}=={} --hash={}\n", d.name, d.version, d.sha256)).collect();
    std::fs::write(dest.join(REQUIREMENTS_FILE), text).context("writing the image's requirements file")?;
    found.sort();
    Ok(found)
}

/// The requirements a lock's distributions pin exactly.
///
/// Each must be one the recipe pins (same name and version, one of its
/// hashes), one for each: a lock is as untrusted as the spec beside it, and
/// its names reach pip's command line.
pub fn locked_requirements(
    locked: &[LockedDistribution],
    recipe: &[Requirement],
) -> Result<Vec<Requirement>> {
    ensure!(
        locked.len() == recipe.len(),
        "the lock records {} Python wheels, but the recipe's python_requirements pins {}",
        locked.len(),
        recipe.len()
    );
    locked
        .iter()
        .map(|d| {
            let pinned = recipe
                .iter()
                .any(|r| r.name == d.name && r.version == d.version && r.hashes.contains(&d.sha256));
            ensure!(
                pinned && !d.file.contains('/') && d.file.ends_with(".whl"),
                "the lock's wheel {:?} {:?} ({:?}, {}) is not one python_requirements pins",
                d.name,
                d.version,
                d.file,
                d.sha256
            );
            Ok(Requirement {
                name: d.name.clone(),
                version: d.version.clone(),
                hashes: vec![d.sha256.clone()],
            })
        })
        .collect()
}

/// `pip download` on the host: wheels only, no dependencies (every one
/// must be listed), every file checked against the pins by pip and again
/// by [`matching_file`].
fn download(requirements: &[Requirement], into: &Path) -> Result<()> {
    std::fs::create_dir_all(into).with_context(|| format!("creating {}", into.display()))?;
    let list = into.join(REQUIREMENTS_FILE);
    let text: String = requirements
        .iter()
        .map(|r| {
            let hashes: Vec<String> = r.hashes.iter().map(|h| format!("--hash={h}")).collect();
            format!("{}=={} {}\n", r.name, r.version, hashes.join(" "))
        })
        .collect();
    std::fs::write(&list, text).context("writing the download's requirements")?;
    crate::errln!("downloading {} Python distribution(s) with the host's pip ...", requirements.len());
    // -I: neither the working directory nor PYTHON* variables can put other
    // code in place of pip; pip's own configuration (the index) still applies.
    let run = std::process::Command::new("python3")
        .current_dir(into)
        .args(["-I", "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:"])
        .arg("--require-hashes")
        .arg("--dest")
        .arg(into)
        .arg("--requirement")
        .arg(&list)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow!("cannot run `python3 -m pip`: {e}\nhelp: install pip on the host (`apt-get install python3-pip`)"))?;
    ensure!(
        run.status.success(),
        "pip could not download the pinned Python distributions:\n{}\n\
         help: check the names, versions and hashes, and that the package index pip is configured for is reachable",
        String::from_utf8_lossy(&run.stderr).trim()
    );
    Ok(())
}

/// The one file in `dir` whose sha256 is pinned by `requirement`.
fn matching_file(wheels: &[(PathBuf, Digest)], requirement: &Requirement) -> Option<(PathBuf, Digest)> {
    wheels.iter().find(|(_, sha256)| requirement.hashes.contains(sha256)).cloned()
}

/// Every regular `*.whl` file directly in `dir` (links are not followed),
/// hashed once.
fn wheels_in(dir: &Path) -> Result<Vec<(PathBuf, Digest)>> {
    let mut wheels = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_file()) && path.extension().is_some_and(|e| e == "whl") {
            let sha256 = Digest::of_file(&path)?;
            wheels.push((path, sha256));
        }
    }
    Ok(wheels)
}

/// A cached wheel with one of the requirement's hashes: `CACHE/<hex>/<file>.whl`.
fn from_cache(cache: &Path, requirement: &Requirement) -> Option<(PathBuf, Digest)> {
    requirement.hashes.iter().find_map(|hash| {
        let dir = cache.join(hash.hex());
        let file = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))?;
        // The cache is trusted no more than a download: hashed again.
        (Digest::of_file(&file).ok()? == *hash).then(|| (file, hash.clone()))
    })
}

/// Copies a wheel into the cache; best effort.
fn keep(cache: &Path, file: &Path, sha256: &Digest) {
    let dir = cache.join(sha256.hex());
    let copied = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::copy(file, dir.join(file.file_name().unwrap_or_default())));
    if let Err(e) = copied {
        tracing::warn!("could not keep {} in {}: {e}", file.display(), dir.display());
    }
}

/// Copies `file` into `dest` and records it.
fn place(requirement: &Requirement, file: &Path, sha256: Digest, dest: &Path) -> Result<LockedDistribution> {
    let name = file.file_name().context("a wheel without a file name")?.to_string_lossy().to_string();
    std::fs::copy(file, dest.join(&name))
        .with_context(|| format!("copying {} into {}", file.display(), dest.display()))?;
    Ok(LockedDistribution {
        name: requirement.name.clone(),
        version: requirement.version.clone(),
        file: name,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn parse(text: &str) -> Result<Vec<Requirement>> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("requirements.txt");
        std::fs::write(&file, text).unwrap();
        parse_requirements(&file)
    }

    #[test]
    fn names_are_normalised_as_pep_503_says() {
        assert_eq!(normalise("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(normalise("annotated_types"), "annotated-types");
        assert_eq!(normalise("Flit_Core"), "flit-core");
        assert_eq!(normalise("a--_b"), "a-b");
    }

    #[test]
    fn pinned_requirements_with_continuations_and_comments() {
        let text = format!("# backend\nSetup_Tools==75.6.0 \\\n    --hash=sha256:{A} \\\n    --hash sha256:{A}  # two\n\nwheel==0.45.1 --hash=sha256:{A}\n");
        let requirements = parse(&text).unwrap();
        assert_eq!(requirements.len(), 2);
        assert_eq!(
            (requirements[0].name.as_str(), requirements[0].version.as_str()),
            ("setup-tools", "75.6.0")
        );
        assert_eq!(requirements[0].hashes.len(), 2);
    }

    #[test]
    fn anything_that_is_not_pinned_by_hash_is_refused_with_its_line() {
        for (text, fragment) in [
            ("setuptools>=70 --hash=sha256:".to_string() + A, "not pinned"),
            ("setuptools==75.6.0".to_string(), "has no `--hash"),
            (format!("--index-url https://example.invalid/simple\nx==1 --hash=sha256:{A}"), "not pinned"),
            (format!("x==1 --hash=sha256:{A} --no-binary :all:"), "not allowed"),
            (format!("x==1 --hash=md5:{A}"), "not a sha256"),
            (format!("x==1 --hash=sha256:{A}\nX==2 --hash=sha256:{A}"), "required twice"),
            (format!("-r==1 --hash=sha256:{A}"), "not a distribution name"),
            (format!("x==1 --hash=sha256:{A}\ny==1 \\"), "continuing into nothing"),
        ] {
            let err = format!("{:#}", parse(&text).unwrap_err());
            assert!(err.contains(fragment), "{text}: {err}");
            assert!(err.contains("requirements.txt:"), "{err}");
        }
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_locked_wheel_must_be_one_the_requirements_pin() {
        let pinned = Digest::of_bytes(b"wheel");
        let recipe = vec![Requirement {
            name: "hatchling".into(),
            version: "1.24.2".into(),
            hashes: vec![pinned.clone()],
        }];
        let locked = |name: &str, sha256: &Digest| LockedDistribution {
            name: name.into(),
            version: "1.24.2".into(),
            file: "hatchling-1.24.2-py3-none-any.whl".into(),
            sha256: sha256.clone(),
        };
        assert!(locked_requirements(&[locked("hatchling", &pinned)], &recipe).is_ok());
        let injected = locked("x==1 --hash=sha256:00\n-r /etc/shadow\n#", &pinned);
        assert!(locked_requirements(&[injected], &recipe).is_err());
        assert!(locked_requirements(&[locked("hatchling", &Digest::of_bytes(b"other"))], &recipe).is_err());
        assert!(locked_requirements(&[], &recipe).is_err());
    }
}
