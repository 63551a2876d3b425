//! The packages an image says it has, from its own dpkg database, for an
//! image no lock describes. Nothing in the image is run: a container is
//! created from it (never started), `/var/lib/dpkg/status` is downloaded
//! through the engine's archive API, bounded, and the container removed.

use crate::engine::{ContainerConfig, Engine, LABEL, OWNER_LABEL};
use crate::errors::*;
use futures_util::StreamExt as _;
use std::collections::BTreeMap;
use std::io::Read as _;

/// Where dpkg keeps its database of installed packages.
pub const STATUS_FILE: &str = "/var/lib/dpkg/status";

/// The largest status file read. A full desktop system's is a few MiB; an
/// image's, with its package descriptions, far less.
pub const MAX_STATUS_SIZE: u64 = 32 << 20;

/// Most packages kept from one status file.
const MAX_PACKAGES: usize = 100_000;

/// One package the image's dpkg database says is installed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// Package name.
    pub name: String,
    /// Debian version, epoch included.
    pub version: String,
    /// `amd64`, `all`, ...
    pub architecture: String,
}

/// What the image's dpkg database held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Installed {
    /// The installed packages, sorted.
    pub packages: Vec<InstalledPackage>,
    /// Entries left out because a field was missing or not a Debian name,
    /// version or architecture (an image is untrusted input).
    pub malformed: usize,
}

/// The installed packages of `status`, a dpkg status file: every entry whose
/// `Status` ends in `installed` (not `config-files`, `half-installed`).
/// A file that is not deb822 paragraphs is an error.
pub fn parse_status(status: &str) -> Result<Installed> {
    let paragraphs = crate::debian::control::paragraphs(status)
        .with_context(|| format!("the image's {STATUS_FILE} is not a dpkg status file"))?;
    let mut installed = Installed::default();
    for paragraph in &paragraphs {
        let Some(state) = paragraph.get("status") else { continue };
        if state.split_whitespace().last() != Some("installed") {
            continue;
        }
        let field = |name: &str| paragraph.get(name).filter(|v| is_plain(v)).map(str::to_string);
        match (field("package"), field("version"), field("architecture")) {
            (Some(name), Some(version), Some(architecture)) if installed.packages.len() < MAX_PACKAGES => {
                installed.packages.push(InstalledPackage { name, version, architecture })
            }
            _ => installed.malformed += 1,
        }
    }
    installed.packages.sort();
    installed.packages.dedup();
    Ok(installed)
}

/// A name, version or architecture as Debian spells them: 1 to 256 of
/// letters, digits and `.+~:_-`.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value.chars().all(|c| c.is_ascii_alphanumeric() || ".+~:_-".contains(c))
}

/// The text of the image's dpkg status file, or `Ok(None)` when the image
/// has none (not a Debian-based image). The container made to read it is
/// never started, and always removed.
pub async fn read_status(engine: &dyn Engine, image_id: &str, run_id: &str) -> Result<Option<String>> {
    let config = ContainerConfig {
        name: format!("reprocheck-{run_id}-sbom"),
        image: image_id.to_string(),
        // Never started: the command only satisfies the engine's create.
        cmd: vec!["/reprocheck-never-started".into()],
        env: BTreeMap::new(),
        working_dir: "/".into(),
        user: "65534:65534".into(),
        hostname: "reprocheck-sbom".into(),
        domainname: "reprocheck.invalid".into(),
        labels: BTreeMap::from([
            (LABEL.to_string(), run_id.to_string()),
            (OWNER_LABEL.to_string(), crate::engine::owner()),
        ]),
        pids_limit: 16,
        memory_bytes: 64 << 20,
        cpuset: None,
        binds: Vec::new(),
        log_bytes: 1 << 16,
    };
    let id =
        engine.create(&config).await.context("creating a container to read the image's dpkg database")?;
    let read = download_status(engine, &id).await;
    let removed = engine.remove(&id).await.with_context(|| format!("removing the container {id}"));
    let status = read?;
    removed?;
    Ok(status)
}

async fn download_status(engine: &dyn Engine, id: &str) -> Result<Option<String>> {
    let Some(mut stream) = engine.download(id, STATUS_FILE).await? else { return Ok(None) };
    // The tar around one file: its headers and padding, then the file.
    let cap = MAX_STATUS_SIZE + (64 << 10);
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("downloading {STATUS_FILE}"))?;
        ensure!(
            (archive.len() + chunk.len()) as u64 <= cap,
            "the image's {STATUS_FILE} is larger than {} MiB, the most reprocheck reads for the toolchain's SBOM",
            MAX_STATUS_SIZE >> 20
        );
        archive.extend_from_slice(&chunk);
    }
    let mut entries = tar::Archive::new(&archive[..]);
    let mut entries = entries.entries().with_context(|| format!("reading the archive of {STATUS_FILE}"))?;
    let Some(entry) = entries.next() else { return Ok(None) };
    let mut entry = entry.with_context(|| format!("reading the archive of {STATUS_FILE}"))?;
    if !entry.header().entry_type().is_file() {
        bail!("the image's {STATUS_FILE} is not a regular file (a link?); not following it");
    }
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(MAX_STATUS_SIZE + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {STATUS_FILE}"))?;
    ensure!(bytes.len() as u64 <= MAX_STATUS_SIZE, "the image's {STATUS_FILE} is too large");
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_installed_packages_with_sound_fields_are_kept() {
        let status = "Package: zlib1g\nStatus: install ok installed\nPriority: optional\n\
                      Architecture: amd64\nVersion: 1:1.2.13.dfsg-1\nDescription: compression\n \
                      Package: not-a-field\n\n\
                      Package: libstdc++6\nStatus: install ok installed\nArchitecture: amd64\n\
                      Version: 12.2.0-14+deb12u1\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nArchitecture: all\nVersion: 1\n\n\
                      Package: bad name\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n\n\
                      Package: noversion\nStatus: install ok installed\nArchitecture: all\n";
        let installed = parse_status(status).unwrap();
        let names: Vec<(&str, &str)> =
            installed.packages.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
        assert_eq!(names, [("libstdc++6", "12.2.0-14+deb12u1"), ("zlib1g", "1:1.2.13.dfsg-1")]);
        assert_eq!(installed.malformed, 2);
    }

    #[test]
    fn an_empty_file_has_no_packages_and_a_foreign_one_is_an_error() {
        assert_eq!(parse_status("").unwrap(), Installed::default());
        let err = parse_status("\u{0}\u{1}garbage\n\n\n:::").unwrap_err();
        assert!(format!("{err:#}").contains("is not a dpkg status file"), "{err:#}");
    }
}
