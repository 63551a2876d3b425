//! The exact package versions a `.buildinfo` records, as a flat apt
//! repository beside the recipe: each .deb taken from this machine's
//! download cache or fetched by apt, and checked against the suite's signed
//! index by sha256 either way; a version no source has is refused with
//! every such version named.

use super::RecordedBuild;
use crate::debian::control::Paragraph;
use crate::digest::Digest;
use crate::errors::*;
use crate::rebuild::debian::apt::SuiteApt;
use crate::rebuild::debian::buildinfo::InstalledPackage;
use crate::rebuild::debian::resolve::ArchiveBinary;
use crate::rebuild::debian::version;
use crate::rebuild::{not_inferable, SpecFiles};

/// Added when the `.buildinfo` lacks them: dpkg-buildpackage needs fakeroot
/// unless the package says `Rules-Requires-Root: no`, and sbuild installs it
/// without it being recorded.
const FAKEROOT: &[&str] = &["fakeroot", "libfakeroot"];

/// The recorded versions (plus fakeroot when missing) fetched into
/// `recipe_dir/debs`, indexed, and `recipe_dir/exact.list` naming it.
/// Returns the package names to install and where they came from.
pub(super) async fn exact_packages(
    recorded: &RecordedBuild<'_>,
    apt: &SuiteApt,
    files: &SpecFiles,
    recipe_dir: &str,
    suite: &str,
) -> Result<(Vec<String>, String)> {
    let host = recorded.host;
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
    let (found, missing) = find_exact(&wanted, host, &records);
    if !missing.is_empty() {
        return not_inferable(missing_error(
            &missing,
            recorded.info.installed.len(),
            &records,
            &apt.described,
        ));
    }
    let debs = format!("{recipe_dir}/debs");
    let scratch = tempfile::Builder::new()
        .prefix(".rebuild-debs-")
        .tempdir_in(files.dir())
        .context("creating a scratch directory")?;
    let cache = crate::paths::cache_dir("debs");
    let mut download = Vec::new();
    let mut cached = 0;
    for binary in &found {
        let target = format!(
            "{debs}/{}",
            crate::image::lock::deb_file_name(&binary.name, &binary.version, &binary.architecture)
        );
        let from_cache =
            cache.as_ref().map(|c| c.join(format!("{}.deb", binary.sha256.hex()))).filter(|f| f.is_file());
        match from_cache {
            Some(file) if Digest::of_file(&file)? == binary.sha256 => {
                let copy = scratch.path().join(format!("{}.deb", binary.sha256.hex()));
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
        apt.download_binaries(&wanted, scratch.path()).await?;
        for binary in &download {
            let name = crate::image::lock::deb_file_name(&binary.name, &binary.version, &binary.architecture);
            let file = scratch.path().join(&name);
            let got = Digest::of_file(&file).with_context(|| format!("apt-get download left no {name}"))?;
            ensure!(
                got == binary.sha256,
                "{name} has sha256 {got}, but the archive's index says {}",
                binary.sha256
            );
            files.place(&format!("{debs}/{name}"), &file)?;
        }
    }
    let pool = files.path(&debs)?;
    index(&pool, &recorded.info.source, suite).await.context("indexing the exact packages")?;
    let absolute = pool.canonicalize().with_context(|| format!("resolving {}", pool.display()))?;
    files.write(
        &format!("{recipe_dir}/exact.list"),
        format!(
            "# The exact packages the .buildinfo records, fetched by `reprocheck rebuild` and checked\n\
             # against the suite's signed indexes; packages.lock pins each by sha256 on first build.\n\
             deb [trusted=yes] copy://{} ./\n",
            absolute.display()
        ),
    )?;
    let mut fetched = format!(
        "{} from the apt sources ({}), {cached} from the download cache, each checked against the signed index's sha256",
        download.len(),
        apt.described
    );
    if !extra.is_empty() {
        fetched.push_str(&format!(
            "; added as dpkg-buildpackage needs them and the .buildinfo lacks them: {}",
            extra.join(", ")
        ));
    }
    let mut packages: Vec<String> = wanted.iter().map(|p| p.name.clone()).collect();
    packages.sort();
    packages.dedup();
    Ok((packages, fetched))
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
    records: &[Paragraph],
    sources: &str,
) -> String {
    let mut lines = String::new();
    for package in missing {
        let mut have: Vec<&str> = records
            .iter()
            .filter(|r| r.get("Package") == Some(package.name.as_str()))
            .filter_map(|r| r.get("Version"))
            .collect();
        have.sort_by(|a, b| version::compare(b, a));
        have.dedup();
        let have = if have.is_empty() { "no version".to_string() } else { have.join(", ") };
        lines.push_str(&format!("  {package}: the sources have {have}\n"));
    }
    format!(
        "{} of the {} package versions the .buildinfo records {} in none of the package sources:\n{lines}\
         sources tried: the apt sources ({sources}); the download cache holds only packages these indexes name\n\
         help: the archive has moved on since that build; a snapshot archive of its Build-Date has them \
         (rebuild does not read one yet: build the image by hand with `snapshot` and `snapshot_time` in the recipe, docs/images.md), \
         or rebuild the current version without --buildinfo",
        missing.len(),
        recorded,
        if missing.len() == 1 { "is" } else { "are" }
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
        let text = missing_error(
            &missing,
            wanted.len(),
            &records(),
            "bookworm, bookworm-updates, bookworm-security",
        );
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
        assert!(
            text.contains("sources tried: the apt sources (bookworm, bookworm-updates, bookworm-security)"),
            "{text}"
        );
        // Another architecture's record is not the one installed here.
        let (found, missing) = find_exact(&[package("dash", "0.5.12-2")], "arm64", &records());
        assert!(found.is_empty() && missing.len() == 1);
    }
}
