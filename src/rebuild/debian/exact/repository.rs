//! The exact package versions a `.buildinfo` records, as a flat apt
//! repository beside the recipe. Each version comes from the first of
//! these that has it:
//! - the suite's archive (its signed index's sha256; the file from this
//!   machine's download cache when it holds those bytes, else fetched by
//!   apt);
//! - a packages directory the user names (`--packages-dir`: each .deb known
//!   by its own control fields);
//! - a snapshot archive (`--snapshot`: fetched by apt, checked against the
//!   snapshot's index).
//!
//! A version none of them has is refused with every such version named.
//! Whatever the source, `packages.lock` pins each file by sha256 at the
//! image's first build.

use super::packages_dir;
use super::RecordedBuild;
use crate::debian::control::Paragraph;
use crate::digest::Digest;
use crate::errors::*;
use crate::image::fetch::Snapshot;
use crate::rebuild::debian::apt::SuiteApt;
use crate::rebuild::debian::buildinfo::InstalledPackage;
use crate::rebuild::debian::resolve::ArchiveBinary;
use crate::rebuild::debian::version;
use crate::rebuild::{not_inferable, SpecFiles};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Added when the `.buildinfo` lacks them: dpkg-buildpackage needs fakeroot
/// unless the package says `Rules-Requires-Root: no`, and sbuild installs it
/// without it being recorded.
const FAKEROOT: &[&str] = &["fakeroot", "libfakeroot"];

/// Where the versions the suite's archive lacks may come from.
#[derive(Debug, Clone, Default)]
pub struct OlderSources {
    /// A directory of .debs.
    pub packages_dir: Option<PathBuf>,
    /// A snapshot archive.
    pub snapshot: Option<Snapshot>,
}

/// The recorded versions (plus fakeroot when missing) gathered into
/// `recipe_dir/debs`, indexed, and `recipe_dir/exact.list` naming it.
/// Returns the package names to install and where they came from.
pub(super) async fn exact_packages(
    recorded: &RecordedBuild<'_>,
    apt: &SuiteApt,
    files: &SpecFiles,
    recipe_dir: &str,
    suite: &str,
) -> Result<(Vec<String>, String)> {
    let (host, older) = (recorded.host, recorded.older);
    let mut wanted: Vec<InstalledPackage> = recorded.info.installed.clone();
    if let Some(foreign) =
        wanted.iter().find(|p| p.architecture.as_deref().is_some_and(|a| a != host && a != "all"))
    {
        return not_inferable(format!(
            "the .buildinfo records {foreign}, a package of another architecture: cross and multi-arch builds are not rebuilt yet"
        ));
    }
    let names: Vec<&str> = wanted.iter().map(|p| p.name.as_str()).chain(FAKEROOT.iter().copied()).collect();
    let records = apt.binary_records(&names).await?;
    let extra = add_fakeroot(&mut wanted, host, &records);

    // Each source in turn takes what is still missing.
    let mut tried = vec![format!("the apt sources ({})", apt.described)];
    let mut known = versions_of(&records);
    let (from_archive, mut missing) = find_exact(&wanted, host, &records);
    let mut from_dir = Vec::new();
    if let Some(dir) = older.packages_dir.as_ref().filter(|_| !missing.is_empty()) {
        let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
        let have = packages_dir::read(dir, &names).await?;
        for p in &have {
            known.entry(p.binary.name.clone()).or_default().push(p.binary.version.clone());
        }
        (from_dir, missing) = packages_dir::find(&missing, host, &have);
        tried.push(format!("the packages directory {}", dir.display()));
    }
    let mut from_snapshot = None;
    if let Some(snapshot) = older.snapshot.as_ref().filter(|_| !missing.is_empty()) {
        let label = format!("the snapshot {}/debian/{}", snapshot.base, snapshot.time);
        let snapshot_apt = SuiteApt::with_sources_text(&snapshot.sources_text(suite), label.clone())
            .await
            .with_context(|| format!("reading {label}"))?;
        let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
        let records = snapshot_apt.binary_records(&names).await?;
        for (name, versions) in versions_of(&records) {
            known.entry(name).or_default().extend(versions);
        }
        let found;
        (found, missing) = find_exact(&missing, host, &records);
        tried.push(label);
        from_snapshot = Some((snapshot_apt, found));
    }
    if !missing.is_empty() {
        return not_inferable(missing_error(&missing, recorded.info.installed.len(), &known, &tried, older));
    }

    // Into the repository.
    let debs = format!("{recipe_dir}/debs");
    let scratch = tempfile::Builder::new()
        .prefix(".rebuild-debs-")
        .tempdir_in(files.dir())
        .context("creating a scratch directory")?;
    let (downloaded, cached) = fetch_checked(apt, &from_archive, true, files, &debs, scratch.path()).await?;
    for p in &from_dir {
        let name =
            crate::image::lock::deb_file_name(&p.binary.name, &p.binary.version, &p.binary.architecture);
        let copy = scratch.path().join(&name);
        std::fs::copy(&p.file, &copy).with_context(|| format!("copying {}", p.file.display()))?;
        ensure!(
            Digest::of_file(&copy)? == p.binary.sha256,
            "{} changed while it was copied",
            p.file.display()
        );
        files.place(&format!("{debs}/{name}"), &copy)?;
    }
    let mut fetched = format!(
        "{downloaded} from the apt sources ({}), {cached} from the download cache, each checked against the signed index's sha256",
        apt.described
    );
    if let Some(dir) = older.packages_dir.as_ref().filter(|_| !from_dir.is_empty()) {
        fetched.push_str(&format!(
            "; {} from the packages directory {} (known by their control fields: {})",
            from_dir.len(),
            dir.display(),
            from_dir.iter().map(|p| p.binary.apt_name()).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some((snapshot_apt, found)) = from_snapshot.as_ref().filter(|(_, found)| !found.is_empty()) {
        fetch_checked(snapshot_apt, found, false, files, &debs, scratch.path()).await?;
        fetched.push_str(&format!(
            "; {} from {}, checked against its index's sha256 (its signature is not checked: the keys \
             that signed it may have expired since): {}",
            found.len(),
            snapshot_apt.described,
            found.iter().map(ArchiveBinary::apt_name).collect::<Vec<_>>().join(", ")
        ));
    }
    if !extra.is_empty() {
        fetched.push_str(&format!(
            "; added as dpkg-buildpackage needs them and the .buildinfo lacks them: {}",
            extra.join(", ")
        ));
    }
    let pool = files.path(&debs)?;
    index(&pool, &recorded.info.source, suite).await.context("indexing the exact packages")?;
    let absolute = pool.canonicalize().with_context(|| format!("resolving {}", pool.display()))?;
    files.write(
        &format!("{recipe_dir}/exact.list"),
        format!(
            "# The exact packages the .buildinfo records, gathered by `reprocheck rebuild`, each checked\n\
             # against its source's index or read from a packages directory; packages.lock pins each by\n\
             # sha256 on first build.\n\
             deb [trusted=yes] copy://{} ./\n",
            absolute.display()
        ),
    )?;
    let mut packages: Vec<String> = wanted.iter().map(|p| p.name.clone()).collect();
    packages.sort();
    packages.dedup();
    Ok((packages, fetched))
}

/// Adds the newest fakeroot and libfakeroot the archive has when the
/// `.buildinfo` records none; returns what was added.
fn add_fakeroot(wanted: &mut Vec<InstalledPackage>, host: &str, records: &[Paragraph]) -> Vec<String> {
    let mut extra = Vec::new();
    let absent: Vec<&str> =
        FAKEROOT.iter().copied().filter(|n| !wanted.iter().any(|p| p.name == *n)).collect();
    for name in absent {
        let newest = records
            .iter()
            .filter(|r| {
                r.get("Package") == Some(name)
                    && r.get("Architecture").is_some_and(|a| a == host || a == "all")
            })
            .filter_map(|r| r.get("Version"))
            .max_by(|a, b| version::compare(a, b));
        if let Some(v) = newest {
            extra.push(format!("{name} {v}"));
            wanted.push(InstalledPackage {
                name: name.to_string(),
                architecture: None,
                version: v.to_string(),
            });
        }
    }
    extra
}

/// Places each of `binaries` (as `apt`'s index records them) in `debs`:
/// from the download cache when `use_cache` and it holds those bytes, kept
/// when already there, else downloaded by `apt`, its sha256 checked either
/// way. Returns `(downloaded, from the cache)`.
async fn fetch_checked(
    apt: &SuiteApt,
    binaries: &[ArchiveBinary],
    use_cache: bool,
    files: &SpecFiles,
    debs: &str,
    scratch: &Path,
) -> Result<(usize, usize)> {
    let cache = crate::paths::cache_dir("debs").filter(|_| use_cache);
    let mut download = Vec::new();
    let mut cached = 0;
    for binary in binaries {
        let target = format!(
            "{debs}/{}",
            crate::image::lock::deb_file_name(&binary.name, &binary.version, &binary.architecture)
        );
        let from_cache =
            cache.as_ref().map(|c| c.join(format!("{}.deb", binary.sha256.hex()))).filter(|f| f.is_file());
        match from_cache {
            Some(file) if Digest::of_file(&file)? == binary.sha256 => {
                let copy = scratch.join(format!("{}.deb", binary.sha256.hex()));
                std::fs::copy(&file, &copy).with_context(|| format!("copying {}", file.display()))?;
                files.place(&target, &copy)?;
                cached += 1;
            }
            _ if files.path(&target)?.is_file()
                && Digest::of_file(&files.path(&target)?)? == binary.sha256 => {}
            _ => download.push(binary.clone()),
        }
    }
    if !download.is_empty() {
        let wanted: Vec<String> = download.iter().map(ArchiveBinary::apt_name).collect();
        apt.download_binaries(&wanted, scratch).await?;
        for binary in &download {
            let name = crate::image::lock::deb_file_name(&binary.name, &binary.version, &binary.architecture);
            let file = scratch.join(&name);
            let got = Digest::of_file(&file).with_context(|| format!("apt-get download left no {name}"))?;
            ensure!(
                got == binary.sha256,
                "{name} has sha256 {got}, but the index of {} says {}",
                apt.described,
                binary.sha256
            );
            files.place(&format!("{debs}/{name}"), &file)?;
        }
    }
    Ok((download.len(), cached))
}

/// Every version `records` list, by package name.
fn versions_of(records: &[Paragraph]) -> BTreeMap<String, Vec<String>> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in records {
        if let (Some(name), Some(version)) = (record.get("Package"), record.get("Version")) {
            versions.entry(name.to_string()).or_default().push(version.to_string());
        }
    }
    versions
}

/// Writes `Packages` and `Release` for the .debs in `pool`, the Release
/// naming `suite` as its suite and codename: mmdebstrap's `essential`
/// variant takes the Essential packages of the suite it is given, by those
/// fields. Rewritten on every run (the Release is dated).
async fn index(pool: &std::path::Path, source: &str, suite: &str) -> Result<()> {
    let origin = format!("reprocheck rebuild: the .buildinfo of {source}");
    crate::image::fetch::index(pool, &[("Suite", suite), ("Codename", suite), ("Origin", &origin)]).await
}

/// Each wanted version's archive record (this architecture or `all`), and
/// the versions no record has.
fn find_exact(
    wanted: &[InstalledPackage],
    host: &str,
    records: &[Paragraph],
) -> (Vec<ArchiveBinary>, Vec<InstalledPackage>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for package in wanted {
        let record = records.iter().find(|r| {
            r.get("Package") == Some(package.name.as_str())
                && r.get("Version") == Some(package.version.as_str())
                && r.get("Architecture").is_some_and(|a| a == host || a == "all")
        });
        let binary = record.and_then(|r| {
            let sha256 = Digest::parse(&format!("sha256:{}", r.get("SHA256")?)).ok()?;
            Some(ArchiveBinary {
                name: package.name.clone(),
                version: package.version.clone(),
                architecture: r.get("Architecture")?.to_string(),
                sha256,
            })
        });
        match binary {
            Some(binary) => found.push(binary),
            None => missing.push(package.clone()),
        }
    }
    (found, missing)
}

/// The error for recorded versions no source has: every one of them, the
/// versions the sources do have, the sources tried and what to do.
fn missing_error(
    missing: &[InstalledPackage],
    recorded: usize,
    known: &BTreeMap<String, Vec<String>>,
    tried: &[String],
    older: &OlderSources,
) -> String {
    let mut lines = String::new();
    for package in missing {
        let mut have: Vec<&str> =
            known.get(&package.name).into_iter().flatten().map(String::as_str).collect();
        have.sort_by(|a, b| version::compare(b, a));
        have.dedup();
        let have = if have.is_empty() { "no version".to_string() } else { have.join(", ") };
        lines.push_str(&format!("  {package}: the sources have {have}\n"));
    }
    let mut help = Vec::new();
    if older.snapshot.is_none() {
        help.push(
            "a snapshot archive has the versions of the build's day: `--snapshot BASE` (Debian's snapshot layout, \
             BASE/debian/TIME/; TIME is the .buildinfo's Build-Date unless --snapshot-time says otherwise)",
        );
    }
    if older.packages_dir.is_none() {
        help.push("a directory of the .debs: `--packages-dir DIR`");
    }
    help.push("or rebuild the current version without --buildinfo");
    format!(
        "{} of the {} package versions the .buildinfo records {} in none of the package sources:\n{lines}\
         sources tried: {}; the download cache holds only packages these indexes name\n\
         help: the archive has moved on since that build; {}",
        missing.len(),
        recorded,
        if missing.len() == 1 { "is" } else { "are" },
        tried.join("; "),
        help.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::control::paragraphs;

    fn records() -> Vec<Paragraph> {
        let path = format!("{}/tests/fixtures/debian-rebuild/libc6.show", env!("CARGO_MANIFEST_DIR"));
        let mut all = paragraphs(&std::fs::read_to_string(path).unwrap()).unwrap();
        let dash = format!("{}/tests/fixtures/debian-rebuild/dash-ash.show", env!("CARGO_MANIFEST_DIR"));
        all.extend(paragraphs(&std::fs::read_to_string(dash).unwrap()).unwrap());
        all
    }

    fn package(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage { name: name.into(), architecture: None, version: version.into() }
    }

    #[test]
    fn exact_versions_are_found_and_every_missing_one_is_listed() {
        let wanted = [
            package("libc6", "2.36-9+deb12u7"),
            package("ash", "0.5.12-2"),
            package("libc6", "2.36-7"),
            package("dash", "0.5.11+git20210903+057cd650a4ed-9"),
            package("nosuch", "1.0"),
        ];
        let (found, missing) = find_exact(&wanted, "amd64", &records());
        assert_eq!(
            found.iter().map(|b| b.apt_name()).collect::<Vec<_>>(),
            ["libc6:amd64=2.36-9+deb12u7", "ash=0.5.12-2"]
        );
        assert_eq!(missing.len(), 3);
        let tried = ["the apt sources (bookworm, bookworm-updates, bookworm-security)".to_string()];
        let text =
            missing_error(&missing, wanted.len(), &versions_of(&records()), &tried, &OlderSources::default());
        assert!(text.starts_with("3 of the 5 package versions the .buildinfo records are in none"), "{text}");
        assert!(
            text.contains("  libc6=2.36-7: the sources have 2.36-9+deb12u14, 2.36-9+deb12u7\n"),
            "{text}"
        );
        assert!(
            text.contains("  dash=0.5.11+git20210903+057cd650a4ed-9: the sources have 0.5.12-2\n"),
            "{text}"
        );
        assert!(text.contains("  nosuch=1.0: the sources have no version\n"), "{text}");
        assert!(text.contains("`--snapshot BASE`") && text.contains("`--packages-dir DIR`"), "{text}");
        let both = OlderSources {
            packages_dir: Some("debs".into()),
            snapshot: Some(Snapshot::new("file:///snapshots", "20230101T000000Z").unwrap()),
        };
        let text = missing_error(&missing, wanted.len(), &versions_of(&records()), &tried, &both);
        assert!(!text.contains("--snapshot BASE") && !text.contains("--packages-dir DIR"), "{text}");
        assert!(
            text.contains("sources tried: the apt sources (bookworm, bookworm-updates, bookworm-security)"),
            "{text}"
        );
        // Another architecture's record is not the one installed here.
        let (found, missing) = find_exact(&[package("dash", "0.5.12-2")], "arm64", &records());
        assert!(found.is_empty() && missing.len() == 1);
    }
}
