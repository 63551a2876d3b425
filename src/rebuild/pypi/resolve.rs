//! The build requirements, pinned: the host's pip resolves them for the
//! image's Python from the package index (wheels only), and each wheel it
//! chose becomes a `name==version --hash=sha256:…` line, the
//! hash-checking requirements file a recipe's `python_requirements` reads.

use crate::digest::Digest;
use crate::errors::*;
use crate::image::python::normalise;
use std::path::Path;

/// One pinned wheel.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pinned {
    /// The distribution name as the wheel's file name spells it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The wheel's sha256.
    pub sha256: Digest,
}

/// Resolves `requirements` (PEP 508 strings) for CPython `python`
/// (`"3.11"`) with the host's pip, wheels only, from `index`, within
/// `constraints` (`name==version` lines); `work` is a scratch directory.
pub fn resolve(
    requirements: &[String],
    constraints: &[(String, String)],
    python: &str,
    index: &str,
    work: &Path,
) -> Result<Vec<Pinned>> {
    if work.exists() {
        std::fs::remove_dir_all(work).with_context(|| format!("emptying {}", work.display()))?;
    }
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let mut command = std::process::Command::new("python3");
    // -I: nothing from the caller's directory or user site stands in for pip.
    command.args(["-I", "-m", "pip", "download"]);
    if !constraints.is_empty() {
        let file = work.join("constraints.txt");
        let text: String = constraints.iter().map(|(n, v)| format!("{n}=={v}\n")).collect();
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
        command.arg("--constraint").arg(&file);
    }
    let output = command
        .args(["--quiet", "--disable-pip-version-check", "--only-binary=:all:"])
        .args(["--python-version", python, "--implementation", "cp", "--index-url", index, "--dest"])
        .arg(work.join("wheels"))
        .args(requirements)
        .env("PIP_FIND_LINKS", "")
        .env("PIP_NO_INDEX", "")
        .output()
        .map_err(|e| anyhow!("cannot run `python3 -m pip`: {e}\nhelp: install pip on the host"))?;
    if !output.status.success() {
        bail!(
            "pip could not resolve the build requirements {} for Python {python}:\n{}",
            requirements.join(", "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut pinned = Vec::new();
    for entry in
        std::fs::read_dir(work.join("wheels")).with_context(|| format!("listing {}", work.display()))?
    {
        let path = entry.with_context(|| format!("listing {}", work.display()))?.path();
        let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(stem) = file.strip_suffix(".whl") else { continue };
        let mut parts = stem.split('-');
        let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
            bail!("pip downloaded {file}, which is not named like a wheel");
        };
        pinned.push(Pinned {
            name: name.to_string(),
            version: version.to_string(),
            sha256: Digest::of_file(&path)?,
        });
    }
    pinned.sort();
    ensure!(!pinned.is_empty(), "pip resolved {} to no wheel", requirements.join(", "));
    Ok(pinned)
}

/// For each pinned distribution not in `exact`, the version whose wheel
/// was uploaded last before `cutoff` (RFC 3339, as the index gives upload
/// times): the build's world as it was when the published wheel was
/// uploaded. `uploads` gives a distribution's (wheel file name, upload
/// time) pairs. Distributions with no wheel before the cutoff keep pip's choice.
pub fn as_of(
    pinned: &[Pinned],
    exact: &[String],
    cutoff: &str,
    uploads: impl Fn(&str) -> Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut constraints = Vec::new();
    for p in pinned {
        let normal = normalise(&p.name);
        if exact.iter().any(|e| normalise(e) == normal) {
            constraints.push((p.name.clone(), p.version.clone()));
            continue;
        }
        let latest = uploads(&p.name)
            .into_iter()
            .filter(|(file, time)| {
                time.as_str() <= cutoff && (file.ends_with("-none-any.whl") || file.contains("-cp311-"))
            })
            .max_by(|a, b| a.1.cmp(&b.1));
        let version = match latest {
            Some((file, _)) => file.split('-').nth(1).unwrap_or(&p.version).to_string(),
            None => p.version.clone(),
        };
        constraints.push((p.name.clone(), version));
    }
    constraints
}

/// The requirements file for `pinned`, in pip's hash-checking mode.
pub fn requirements_file(pinned: &[Pinned], header: &str) -> String {
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    for p in pinned {
        text.push_str(&format!("{}=={} --hash={}\n", p.name, p.version, p.sha256));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_taken_as_they_were_at_the_cutoff() {
        let sha = Digest::of_bytes(b"x");
        let pin = |n: &str, v: &str| Pinned { name: n.into(), version: v.into(), sha256: sha.clone() };
        let pinned = [pin("hatchling", "1.24.2"), pin("packaging", "26.4"), pin("pluggy", "1.7.0")];
        let uploads = |name: &str| match name {
            "packaging" => vec![
                ("packaging-23.2-py3-none-any.whl".to_string(), "2023-10-01T17:33:02Z".to_string()),
                ("packaging-24.0-py3-none-any.whl".to_string(), "2024-03-10T09:39:25Z".to_string()),
                ("packaging-24.0.tar.gz".to_string(), "2024-03-10T09:39:26Z".to_string()),
                ("packaging-24.1-py3-none-any.whl".to_string(), "2024-06-09T23:19:24Z".to_string()),
                ("packaging-26.4-py3-none-any.whl".to_string(), "2026-09-01T00:00:00Z".to_string()),
            ],
            "hatchling" => {
                vec![("hatchling-9.9-py3-none-any.whl".to_string(), "2024-01-01T00:00:00Z".to_string())]
            }
            _ => Vec::new(),
        };
        let constraints = as_of(&pinned, &["hatchling".to_string()], "2024-05-15T00:00:00Z", uploads);
        assert_eq!(
            constraints,
            [
                ("hatchling".to_string(), "1.24.2".to_string()),
                ("packaging".to_string(), "24.0".to_string()),
                ("pluggy".to_string(), "1.7.0".to_string()),
            ]
        );
    }

    #[test]
    fn requirements_files_pin_each_wheel_by_hash() {
        let sha = Digest::of_bytes(b"x");
        let text = requirements_file(
            &[Pinned { name: "flit_core".into(), version: "3.9.0".into(), sha256: sha.clone() }],
            "made by reprocheck rebuild",
        );
        assert_eq!(text, format!("# made by reprocheck rebuild\nflit_core==3.9.0 --hash={sha}\n"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.txt"), &text).unwrap();
        let parsed = crate::image::python::parse_requirements(&dir.path().join("r.txt")).unwrap();
        assert_eq!(parsed[0].version, "3.9.0");
    }
}
