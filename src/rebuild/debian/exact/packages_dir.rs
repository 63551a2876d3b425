//! A directory of `.deb` files the user supplies for the versions a
//! `.buildinfo` records and no archive serves any more: each file is known
//! by what its own control file says (`dpkg-deb --field`), not by its name,
//! and pinned by its sha256 from here on (in `packages.lock` at the first
//! build).

use crate::digest::Digest;
use crate::errors::*;
use crate::rebuild::debian::buildinfo::InstalledPackage;
use crate::rebuild::debian::resolve::ArchiveBinary;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Most `.deb` files looked at in one directory.
const MAX_FILES: usize = 100_000;

/// Largest output read from one `dpkg-deb --field`.
const MAX_FIELDS_OUTPUT: usize = 64 << 10;

/// A `.deb` of the packages directory, as its control file names it.
#[derive(Debug, Clone)]
pub struct DirPackage {
    /// The file.
    pub file: PathBuf,
    /// `Package`, `Version`, `Architecture` and the file's sha256.
    pub binary: ArchiveBinary,
}

/// Every `.deb` directly in `dir` whose package name is one of `names`,
/// read in file-name order (so that a choice between duplicates is stable).
pub async fn read(dir: &Path, names: &[&str]) -> Result<Vec<DirPackage>> {
    let listing = std::fs::read_dir(dir).with_context(|| {
        format!(
            "reading the packages directory {}\nhelp: --packages-dir names a directory of .deb files",
            dir.display()
        )
    })?;
    let mut files = Vec::new();
    for entry in listing {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "deb") && entry.file_type()?.is_file() {
            files.push(path);
            ensure!(files.len() <= MAX_FILES, "{} holds more than {MAX_FILES} .deb files", dir.display());
        }
    }
    files.sort();
    let mut packages = Vec::new();
    for file in files {
        // The file name is a cheap first filter; the control file decides.
        let stem = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !names.iter().any(|n| stem.starts_with(&format!("{n}_"))) {
            continue;
        }
        let fields = control_fields(&file).await?;
        let field = |name: &str| -> Result<String> {
            fields
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(|v| v.trim().to_string())
                .with_context(|| format!("{}: its control file has no {name} field", file.display()))
        };
        let binary = ArchiveBinary {
            name: field("Package")?,
            version: field("Version")?,
            architecture: field("Architecture")?,
            sha256: Digest::of_file(&file)?,
        };
        if names.contains(&binary.name.as_str()) {
            packages.push(DirPackage { file, binary });
        }
    }
    Ok(packages)
}

/// The wanted versions the directory has (this architecture or `all`), and
/// those it has not.
pub fn find(
    wanted: &[InstalledPackage],
    host: &str,
    have: &[DirPackage],
) -> (Vec<DirPackage>, Vec<InstalledPackage>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for package in wanted {
        let fits = |p: &&DirPackage| {
            p.binary.name == package.name
                && p.binary.version == package.version
                && (p.binary.architecture == host || p.binary.architecture == "all")
                && package.architecture.as_deref().is_none_or(|a| a == p.binary.architecture)
        };
        match have.iter().find(fits) {
            Some(p) => found.push(p.clone()),
            None => missing.push(package.clone()),
        }
    }
    (found, missing)
}

/// `Package`, `Version` and `Architecture` of the `.deb` `file`.
async fn control_fields(file: &Path) -> Result<String> {
    let out = tokio::process::Command::new("dpkg-deb")
        .arg("--field")
        .arg(file)
        .args(["Package", "Version", "Architecture"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            anyhow!("cannot run dpkg-deb: {e}\nhelp: --packages-dir needs dpkg-deb on this machine")
        })?;
    ensure!(
        out.status.success(),
        "{} is not a .deb dpkg-deb can read ({}): {}\nhelp: remove it from the packages directory",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    ensure!(out.stdout.len() <= MAX_FIELDS_OUTPUT, "{}: its control fields are too long", file.display());
    String::from_utf8(out.stdout)
        .with_context(|| format!("{}: its control fields are not UTF-8", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_package(name: &str, version: &str, architecture: &str) -> DirPackage {
        DirPackage {
            file: PathBuf::from(format!("{name}_{version}_{architecture}.deb")),
            binary: ArchiveBinary {
                name: name.into(),
                version: version.into(),
                architecture: architecture.into(),
                sha256: Digest::of_bytes(name.as_bytes()),
            },
        }
    }

    #[test]
    fn a_version_is_found_by_name_version_and_architecture() {
        let have = [
            dir_package("libc6", "2.36-7", "arm64"),
            dir_package("libc6", "2.36-7", "amd64"),
            dir_package("tzdata", "2023c-5", "all"),
        ];
        let wanted = [
            InstalledPackage { name: "libc6".into(), architecture: None, version: "2.36-7".into() },
            InstalledPackage { name: "tzdata".into(), architecture: None, version: "2023c-5".into() },
            InstalledPackage { name: "tzdata".into(), architecture: None, version: "2024a-0".into() },
            InstalledPackage {
                name: "libc6".into(),
                architecture: Some("arm64".into()),
                version: "2.36-7".into(),
            },
        ];
        let (found, missing) = find(&wanted, "amd64", &have);
        let found: Vec<String> = found.iter().map(|p| p.binary.apt_name()).collect();
        assert_eq!(found, ["libc6:amd64=2.36-7", "tzdata=2023c-5"]);
        let missing: Vec<String> = missing.iter().map(|p| p.to_string()).collect();
        assert_eq!(missing, ["tzdata=2024a-0", "libc6:arm64=2.36-7"]);
    }
}
