//! The build requirements, pinned: the host's pip resolves them for the
//! image's Python from the package index (wheels only), and each wheel it
//! chose becomes a `name==version --hash=sha256:…` line, the
//! hash-checking requirements file a recipe's `python_requirements` reads.

use crate::digest::Digest;
use crate::errors::*;
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
/// (`"3.11"`) with the host's pip, wheels only, from `index`; `work` is a
/// scratch directory.
pub fn resolve(requirements: &[String], python: &str, index: &str, work: &Path) -> Result<Vec<Pinned>> {
    std::fs::create_dir_all(work).with_context(|| format!("creating {}", work.display()))?;
    let output = std::process::Command::new("python3")
        // -I: nothing from the caller's directory or user site stands in for pip.
        .args([
            "-I",
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
        ])
        .args(["--python-version", python, "--implementation", "cp", "--index-url", index, "--dest"])
        .arg(work)
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
    for entry in std::fs::read_dir(work).with_context(|| format!("listing {}", work.display()))? {
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
