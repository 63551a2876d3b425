//! Gathering a lock's exact .debs into one directory, from the first of these
//! that has each: a local packages directory (`reprocheck image vendor`),
//! this machine's download cache, a snapshot archive, the apt sources. Every
//! file is checked against the lock's sha256, which is what is trusted; then
//! the directory is made a flat apt repository holding nothing else.

use crate::errors::*;
use crate::image::apt::PrivateApt;
use crate::image::lock::{LockedPackage, PackageLock};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A snapshot archive in the layout of Debian's snapshot archive: `BASE/debian/TIME/`
/// and `BASE/debian-security/TIME/` are mirrors as they stood at TIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The archive's base, e.g. `https://snapshot.example/archive`.
    pub base: String,
    /// `YYYYMMDDTHHMMSSZ`.
    pub time: String,
}

impl Snapshot {
    /// Checks the timestamp's shape.
    pub fn new(base: &str, time: &str) -> Result<Snapshot> {
        let shape = time.len() == 16
            && time.char_indices().all(|(i, c)| match i {
                8 => c == 'T',
                15 => c == 'Z',
                _ => c.is_ascii_digit(),
            });
        ensure!(shape, "snapshot time `{time}` is not YYYYMMDDTHHMMSSZ (e.g. 20250520T000000Z)");
        ensure!(
            !base.is_empty() && !base.contains(char::is_whitespace),
            "snapshot base `{base}` is not a URL"
        );
        Ok(Snapshot { base: base.trim_end_matches('/').to_string(), time: time.to_string() })
    }

    /// A deb822 sources file for `suite`, its updates and its security suite.
    pub(crate) fn sources_text(&self, suite: &str) -> String {
        // Trusted: a snapshot's Release is signed with keys that may have
        // expired since; the lock's sha256 of every .deb is the check.
        format!(
            "Types: deb\nURIs: {base}/debian/{time}\nSuites: {suite} {suite}-updates\nComponents: main\n\
             Trusted: yes\nCheck-Valid-Until: no\n\n\
             Types: deb\nURIs: {base}/debian-security/{time}\nSuites: {suite}-security\nComponents: main\n\
             Trusted: yes\nCheck-Valid-Until: no\n",
            base = self.base,
            time = self.time
        )
    }
}

/// Where a lock's packages may come from, in the order they are tried.
#[derive(Debug, Clone, Default)]
pub struct PackageSources {
    /// A directory of .debs (`reprocheck image vendor`).
    pub packages_dir: Option<PathBuf>,
    /// This machine's content-addressed download cache.
    pub cache: Option<PathBuf>,
    /// A snapshot archive.
    pub snapshot: Option<Snapshot>,
    /// The recipe's apt sources (its own file, or the host's archives with its suite).
    pub apt_sources: Option<crate::image::sources::SuiteSources>,
}

/// Copies each locked package into `pool`, from the first source that has
/// it with the locked sha256. Names every package no source has.
pub async fn gather(lock: &PackageLock, suite: &str, sources: &PackageSources, pool: &Path) -> Result<()> {
    std::fs::create_dir_all(pool).with_context(|| format!("creating {}", pool.display()))?;
    let mut missing: Vec<&LockedPackage> = lock.packages.iter().collect();
    let mut tried = Vec::new();
    if let Some(dir) = &sources.packages_dir {
        tried.push(format!("the packages directory {}", dir.display()));
        missing = take_from_dir(&missing, pool, |p| dir.join(p.deb_file_name()))?;
    }
    if let Some(cache) = &sources.cache {
        tried.push(format!("the download cache {}", cache.display()));
        missing = take_from_dir(&missing, pool, |p| cache.join(format!("{}.deb", p.sha256.hex())))?;
    }
    // Sources read through apt: a label for messages, and the sources text.
    let mut through_apt = Vec::new();
    if let Some(snapshot) = &sources.snapshot {
        through_apt.push((
            format!("the snapshot {}/debian/{}", snapshot.base, snapshot.time),
            snapshot.sources_text(suite),
        ));
    }
    if let Some(apt) = &sources.apt_sources {
        through_apt.push((format!("{}, suites {}", apt.origin, apt.describe()), apt.text.clone()));
    }
    // Every version any source has of a package still missing, for the error.
    let mut available: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (label, text) in through_apt {
        if missing.is_empty() {
            break;
        }
        let is_deb822 = text.lines().any(|l| l.trim_start().starts_with("Types:"));
        let apt = PrivateApt::new(&text, is_deb822)?;
        let versions = apt.update_and_list(&missing).await?;
        let (fetchable, rest): (Vec<&LockedPackage>, Vec<&LockedPackage>) =
            missing.iter().partition(|p| versions.get(&p.name).is_some_and(|v| v.contains(&p.version)));
        apt.download(&fetchable, pool).await.with_context(|| format!("downloading from {label}"))?;
        for p in &fetchable {
            check_sha256(&pool.join(p.deb_file_name()), p, &label)?;
        }
        for p in &rest {
            let known = available.entry(p.name.clone()).or_default();
            for version in versions.get(&p.name).into_iter().flatten() {
                if !known.contains(version) {
                    known.push(version.clone());
                }
            }
        }
        tried.push(label);
        missing = rest;
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for p in &missing {
        let have = available.get(&p.name).filter(|v| !v.is_empty());
        let have = have.map_or("no version".to_string(), |v| v.join(", "));
        lines
            .push_str(&format!("  {} {} ({}): the sources have {have}\n", p.name, p.version, p.architecture));
    }
    Err(NotAvailable {
        summary: format!(
            "{} of the {} locked packages {} in none of the package sources:\n{lines}sources tried: {}",
            missing.len(),
            lock.packages.len(),
            if missing.len() == 1 { "is" } else { "are" },
            if tried.is_empty() { "none".to_string() } else { tried.join("; ") }
        ),
        missing: missing.iter().map(|p| (p.name.clone(), p.version.clone())).collect(),
    }
    .into())
}

/// The error for locked packages no source has, with their names, so that
/// the caller can add the fix that fits (vendor, snapshot, `--update`).
#[derive(Debug)]
pub struct NotAvailable {
    /// What is missing and where it was looked for.
    pub summary: String,
    /// `(name, locked version)` of each missing package.
    pub missing: Vec<(String, String)>,
}

impl std::fmt::Display for NotAvailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for NotAvailable {}

/// Copies the packages `path_of` finds with the right sha256 into `pool`;
/// returns the rest. A file with other bytes is left alone: it is not the
/// locked package.
fn take_from_dir<'a>(
    wanted: &[&'a LockedPackage],
    pool: &Path,
    path_of: impl Fn(&LockedPackage) -> PathBuf,
) -> Result<Vec<&'a LockedPackage>> {
    let mut rest = Vec::new();
    for p in wanted {
        let from = path_of(p);
        if from.is_file() && crate::image::sha256_file(&from)? == p.sha256 {
            let to = pool.join(p.deb_file_name());
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        } else {
            rest.push(*p);
        }
    }
    Ok(rest)
}

fn check_sha256(file: &Path, p: &LockedPackage, label: &str) -> Result<()> {
    let got = crate::image::sha256_file(file)?;
    ensure!(
        got == p.sha256,
        "{} {} from {label} has sha256 {got}, but the lock says {}: not the locked package (a rebuilt .deb, or a tampered source)",
        p.name,
        p.version,
        p.sha256
    );
    Ok(())
}

/// Writes `Packages` and `Release` for the .debs in `pool` (apt-ftparchive),
/// making it a flat repository. Each `(FIELD, value)` of `release` is set
/// in the Release (`APT::FTPArchive::Release::FIELD`), e.g. its `Suite`.
pub async fn index(pool: &Path, release: &[(&str, &str)]) -> Result<()> {
    for (what, file) in [("packages", "Packages"), ("release", "Release")] {
        let mut command = tokio::process::Command::new("apt-ftparchive");
        if what == "release" {
            for (field, value) in release {
                command.arg("-o").arg(format!("APT::FTPArchive::Release::{field}={value}"));
            }
        }
        let out = command.arg(what).arg(".").current_dir(pool).stdin(Stdio::null()).output().await.map_err(
            |e| anyhow!("cannot run apt-ftparchive: {e}\nhelp: install it (`apt-get install apt-utils`)"),
        )?;
        ensure!(
            out.status.success(),
            "apt-ftparchive {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        std::fs::write(pool.join(file), &out.stdout)
            .with_context(|| format!("writing {file} in {}", pool.display()))?;
    }
    Ok(())
}

/// Saves every package of `lock` found in `pool` into the download cache.
pub fn fill_cache(lock: &PackageLock, pool: &Path, cache: &Path) -> Result<()> {
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    for p in &lock.packages {
        let to = cache.join(format!("{}.deb", p.sha256.hex()));
        if !to.exists() {
            let from = pool.join(p.deb_file_name());
            let tmp = cache.join(format!(".{}.part", p.sha256.hex()));
            std::fs::copy(&from, &tmp)
                .with_context(|| format!("copying {} into the cache", from.display()))?;
            std::fs::rename(&tmp, &to).with_context(|| format!("renaming {}", tmp.display()))?;
        }
    }
    Ok(())
}
