//! apt with its own state and configuration in a temporary directory: reads
//! only the sources it is given, and writes nothing of the host's. Used to
//! find and download locked packages, and to check that a recipe's suite
//! can be read before mmdebstrap is asked to.

use crate::errors::*;
use crate::image::lock::LockedPackage;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

/// How many lines of apt's complaints an error repeats.
const MAX_APT_LINES: usize = 12;

/// apt with its own state and configuration in a temporary directory: reads
/// only the sources it is given, and writes nothing of the host's.
pub(crate) struct PrivateApt {
    dir: tempfile::TempDir,
}

impl PrivateApt {
    /// apt reading only `sources` (deb822 when `deb822`, else one-line).
    pub(crate) fn new(sources: &str, deb822: bool) -> Result<PrivateApt> {
        let name = if deb822 { "locked.sources" } else { "locked.list" };
        PrivateApt::with_sources_file(name, sources)
    }

    /// apt reading only `text`, written as `sources/NAME` (apt takes a
    /// `.sources` file as deb822, a `.list` file as one-line entries).
    pub(crate) fn with_sources_file(name: &str, text: &str) -> Result<PrivateApt> {
        let dir = tempfile::Builder::new()
            .prefix("reprocheck-apt-")
            .tempdir()
            .context("creating apt's state dir")?;
        for sub in [
            "sources",
            "state/lists/partial",
            "cache/archives/partial",
            "etc/preferences.d",
            "etc/apt.conf.d",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).context("creating apt's state dir")?;
        }
        std::fs::write(dir.path().join("sources").join(name), text).context("writing apt's sources")?;
        std::fs::write(dir.path().join("state/status"), "").context("writing apt's status")?;
        Ok(PrivateApt { dir })
    }

    /// `program` (apt-get, apt-cache) set to this state and configuration
    /// alone, its stdin empty.
    pub(crate) fn command(&self, program: &str) -> tokio::process::Command {
        let d = self.dir.path().display();
        let mut command = tokio::process::Command::new(program);
        for option in [
            format!("Dir::Etc::SourceList={d}/sources/none.list"),
            format!("Dir::Etc::SourceParts={d}/sources"),
            format!("Dir::Etc::Preferences={d}/etc/preferences"),
            format!("Dir::Etc::PreferencesParts={d}/etc/preferences.d"),
            format!("Dir::Etc::Parts={d}/etc/apt.conf.d"),
            format!("Dir::State={d}/state"),
            format!("Dir::State::status={d}/state/status"),
            format!("Dir::Cache={d}/cache"),
            "Debug::NoLocking=true".to_string(),
            "APT::Sandbox::User=root".to_string(),
        ] {
            command.arg("-o").arg(option);
        }
        command.stdin(Stdio::null());
        command
    }

    /// `apt-get update` of the Release files alone (no package index is
    /// downloaded), every failure an error: `Ok(())` when apt could read and
    /// verify every suite of the sources, else apt's error lines.
    pub(crate) async fn read_releases(&self) -> Result<std::result::Result<(), Vec<String>>> {
        let mut command = self.command("apt-get");
        for target in ["Packages", "Translations", "Contents-deb", "Contents-udeb", "DEP-11", "DEP-11-icons"]
        {
            command.arg("-o").arg(format!("Acquire::IndexTargets::deb::{target}::DefaultEnabled=false"));
        }
        let out = command
            .args(["-o", "APT::Update::Error-Mode=any", "update", "-q"])
            .output()
            .await
            .context("running apt-get update")?;
        if out.status.success() {
            return Ok(Ok(()));
        }
        Ok(Err(complaints(&out, false)))
    }

    /// `apt-get update`, then every version the sources have of each package.
    pub(crate) async fn update_and_list(
        &self,
        packages: &[&LockedPackage],
    ) -> Result<BTreeMap<String, Vec<String>>> {
        let update = self
            .command("apt-get")
            .arg("update")
            .arg("-q")
            .output()
            .await
            .context("running apt-get update")?;
        if !update.status.success() {
            // A suite the archive lacks fails the update but the others are usable.
            tracing::warn!("apt-get update: {}", String::from_utf8_lossy(&update.stderr).trim());
        }
        let mut names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        names.dedup();
        let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for chunk in names.chunks(200) {
            let out = self
                .command("apt-cache")
                .arg("madison")
                .args(chunk)
                .output()
                .await
                .context("running apt-cache madison")?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut fields = line.split('|').map(str::trim);
                if let (Some(name), Some(version)) = (fields.next(), fields.next()) {
                    let list = versions.entry(name.to_string()).or_default();
                    if !list.iter().any(|v| v == version) {
                        list.push(version.to_string());
                    }
                }
            }
        }
        Ok(versions)
    }

    /// `apt-get download` of exactly these versions into `into`.
    pub(crate) async fn download(&self, packages: &[&LockedPackage], into: &Path) -> Result<()> {
        for chunk in packages.chunks(100) {
            let out = self
                .command("apt-get")
                .arg("download")
                .arg("-q")
                .args(chunk.iter().map(|p| match p.architecture.as_str() {
                    "all" => format!("{}={}", p.name, p.version),
                    arch => format!("{}:{arch}={}", p.name, p.version),
                }))
                .current_dir(into)
                .output()
                .await
                .context("running apt-get download")?;
            ensure!(
                out.status.success(),
                "apt-get download failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// apt's error lines (`E:`, `Err:`, with `W:` when `warnings`, and their
/// indented continuations) from both of its streams, at most
/// [`MAX_APT_LINES`]; its last few lines when none has that shape.
pub(crate) fn complaints(out: &std::process::Output, warnings: bool) -> Vec<String> {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| {
            l.starts_with("E:")
                || l.starts_with("Err:")
                || (warnings && l.starts_with("W:"))
                || l.starts_with("  ")
        })
        .map(|l| l.trim_end().to_string())
        .collect();
    if lines.is_empty() {
        // No line in apt's usual shape: its last few, whatever they say.
        let all: Vec<&str> = text.lines().collect();
        lines = all[all.len().saturating_sub(5)..].iter().map(|l| l.to_string()).collect();
    }
    lines.truncate(MAX_APT_LINES);
    lines
}
