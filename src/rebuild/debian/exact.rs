//! A `.buildinfo`'s build, reproduced: an image of exactly the package
//! versions its `Installed-Build-Depends` records, its `Build-Path`, its
//! environment and `SOURCE_DATE_EPOCH`, and the digests it recorded as
//! what the rebuild must give.
//!
//! The exact versions become a flat apt repository beside the recipe (each
//! .deb fetched by apt, checked against the suite's signed index, or taken
//! from this machine's download cache by that index's sha256), and the
//! recipe installs the recorded package names from there alone, on the
//! `essential` variant: every Essential package the build had, and nothing
//! the build did not have. The first build locks them like any recipe.

use super::apt::SuiteApt;
use super::buildinfo::{Buildinfo, InstalledPackage};
use super::resolve::ArchiveBinary;
use super::spec_text::{RecipeText, SpecText};
use super::version;
use crate::debian::control::Paragraph;
use crate::debian::dsc::Dsc;
use crate::digest::Digest;
use crate::errors::*;
use crate::rebuild::{not_inferable, Inference, SpecFiles};

/// Added when the `.buildinfo` lacks them: dpkg-buildpackage needs fakeroot
/// unless the package says `Rules-Requires-Root: no`, and sbuild installs it
/// without it being recorded.
const FAKEROOT: &[&str] = &["fakeroot", "libfakeroot"];

/// What the `.buildinfo` says and what was inferred before it.
pub struct RecordedBuild<'a> {
    /// The parsed `.buildinfo`.
    pub info: &'a Buildinfo,
    /// The source package.
    pub dsc: &'a Dsc,
    /// The archive's binaries of that version, placed in `SLUG/`.
    pub archive: &'a [ArchiveBinary],
    /// The target's directory in the rebuild directory.
    pub slug: &'a str,
    /// This machine's architecture.
    pub host: &'a str,
}

/// Makes the recipe (the exact packages, from a flat repository in
/// `recipe_dir/debs`) and sets the spec's build to the recorded one.
pub async fn apply(
    recorded: &RecordedBuild<'_>,
    apt: &SuiteApt,
    files: &SpecFiles,
    recipe_dir: &str,
    spec: &mut SpecText,
    suite: &str,
    epoch: u64,
) -> Result<(RecipeText, Vec<Inference>)> {
    let info = recorded.info;
    let mut inferences = Vec::new();
    let from = "the .buildinfo";
    // What was built: -b, -B (arch-only) or -A (arch-all), as recorded.
    let (any, all) = (
        info.architectures.iter().any(|a| a != "all" && a != "source"),
        info.architectures.iter().any(|a| a == "all"),
    );
    let command = match (any, all) {
        (true, true) => "dpkg-buildpackage -us -uc -b",
        (true, false) => "dpkg-buildpackage -us -uc -B",
        (false, true) => "dpkg-buildpackage -us -uc -A",
        (false, false) => {
            return not_inferable(format!(
                "the .buildinfo's Architecture ({}) names no binary build",
                info.architectures.join(" ")
            ))
        }
    };
    spec.command = command.to_string();
    inferences.push(Inference::new(
        format!("build: {command}"),
        format!("{from}'s Architecture: {}", info.architectures.join(" ")),
    ));
    expect_recorded(recorded, spec, &mut inferences);
    build_path(recorded, spec, &mut inferences);
    environment(info, spec, &mut inferences)?;

    // The exact packages.
    let (packages, fetched) = exact_packages(recorded, apt, files, recipe_dir, suite).await?;
    inferences.push(Inference::new(
        format!(
            "image: exactly the {} package versions {from} records, variant essential",
            info.installed.len()
        ),
        format!("{from}'s Installed-Build-Depends; {fetched}"),
    ));
    Ok((
        RecipeText {
            title: format!(
                "Exactly the packages the .buildinfo of {} {} records",
                recorded.dsc.source, recorded.dsc.version
            ),
            name: spec.image_name.clone(),
            suite: suite.to_string(),
            variant: "essential".into(),
            packages,
            build_depends: None,
            sources: Some("exact.list".into()),
            source_date_epoch: epoch,
        },
        inferences,
    ))
}

/// `[expect]`: every .deb and .udeb the `.buildinfo` recorded, with the
/// archive's file beside it when the archive serves the same bytes.
fn expect_recorded(recorded: &RecordedBuild<'_>, spec: &mut SpecText, inferences: &mut Vec<Inference>) {
    let mut expect = Vec::new();
    let (mut same, mut other, mut only) = (Vec::new(), Vec::new(), Vec::new());
    for file in recorded.info.files.iter().filter(|f| f.name.ends_with(".deb") || f.name.ends_with(".udeb")) {
        let archived = recorded.archive.iter().find(|b| b.built_file_name() == file.name);
        let reference = match archived {
            Some(b) if b.sha256 == file.sha256 => {
                same.push(file.name.clone());
                Some(format!("{}/{}", recorded.slug, file.name))
            }
            Some(_) => {
                other.push(file.name.clone());
                None
            }
            None => {
                only.push(file.name.clone());
                None
            }
        };
        expect.push((file.name.clone(), file.sha256.to_string(), reference));
    }
    spec.expect = expect;
    inferences.push(Inference::new(
        format!("expect the {} package(s) the .buildinfo recorded", spec.expect.len()),
        "its Checksums-Sha256",
    ));
    if !same.is_empty() {
        inferences.push(Inference::new(
            format!("the archive serves the same bytes for {}", same.join(", ")),
            "the archive's Packages SHA256; those are compared member by member",
        ));
    }
    if !other.is_empty() {
        inferences.push(Inference::new(
            format!(
                "the archive serves OTHER bytes for {}: expected by the .buildinfo's digest",
                other.join(", ")
            ),
            "the archive's Packages SHA256 differs from the .buildinfo's Checksums-Sha256",
        ));
    }
    if !only.is_empty() {
        inferences.push(Inference::new(
            format!("expected by digest alone (not in the archive): {}", only.join(", ")),
            "the .buildinfo's Checksums-Sha256",
        ));
    }
    let left: Vec<String> = recorded
        .archive
        .iter()
        .map(ArchiveBinary::built_file_name)
        .filter(|name| !recorded.info.files.iter().any(|f| &f.name == name))
        .collect();
    if !left.is_empty() {
        inferences.push(Inference::new(
            format!("not expected: {} (another build made them)", left.join(", ")),
            "the .buildinfo does not record them",
        ));
    }
}

/// The spec's name is the build directory's parent, when `Build-Path` is
/// `/build/NAME/SOURCE-UPSTREAM`, as reprocheck builds a dsc source.
fn build_path(recorded: &RecordedBuild<'_>, spec: &mut SpecText, inferences: &mut Vec<Inference>) {
    let Some(path) = &recorded.info.build_path else {
        inferences
            .push(Inference::new("build path: reprocheck's default", "the .buildinfo records no Build-Path"));
        return;
    };
    let tree = recorded.dsc.tree_name();
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let name_fits = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && !n.starts_with('.')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    match parts.as_slice() {
        ["", "build", name, last] if *last == tree && name_fits(name) => {
            spec.name = Some(name.to_string());
            inferences.push(Inference::new(
                format!("build path {path} (the spec's name is {name})"),
                "the .buildinfo's Build-Path; reprocheck builds a dsc source in /build/NAME/SOURCE-UPSTREAM",
            ));
        }
        _ => inferences.push(Inference::new(
            format!("build path NOT reproduced: {path} is not /build/NAME/{tree}"),
            "the .buildinfo's Build-Path; a spec sets only NAME in /build/NAME/SOURCE-UPSTREAM",
        )),
    }
}

/// `[build] env` and `source_date_epoch` from the recorded environment.
fn environment(info: &Buildinfo, spec: &mut SpecText, inferences: &mut Vec<Inference>) -> Result<()> {
    if let Some(epoch) = info.source_date_epoch()? {
        spec.source_date_epoch = Some(epoch);
        inferences.push(Inference::new(format!("SOURCE_DATE_EPOCH {epoch}"), "the .buildinfo's Environment"));
    }
    spec.env = info
        .environment
        .iter()
        .filter(|(key, _)| key != "SOURCE_DATE_EPOCH" && !key.starts_with("REPROCHECK_"))
        .cloned()
        .collect();
    if !spec.env.is_empty() {
        let names: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
        inferences.push(Inference::new(
            format!("[build] env: {}", names.join(", ")),
            "the .buildinfo's Environment",
        ));
    }
    Ok(())
}

/// The recorded versions (plus fakeroot when missing) fetched into
/// `recipe_dir/debs`, indexed, and `recipe_dir/exact.list` naming it.
/// Returns the package names to install and where they came from.
async fn exact_packages(
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

    #[test]
    fn the_build_path_names_the_spec_when_it_has_reprochecks_shape() {
        let info = Buildinfo::parse(
            &std::fs::read_to_string(format!(
                "{}/tests/fixtures/debian-rebuild/hello_2.10-3_amd64.buildinfo",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let dsc = Dsc::parse(&format!(
            "Format: 3.0 (quilt)\nSource: hello\nVersion: 2.10-3\nChecksums-Sha256:\n {} 1 hello_2.10.orig.tar.gz\n",
            "a".repeat(64)
        ))
        .unwrap();
        let archive = [ArchiveBinary {
            name: "hello".into(),
            version: "2.10-3".into(),
            architecture: "amd64".into(),
            sha256: info.files[1].sha256.clone(),
        }];
        let recorded =
            RecordedBuild { info: &info, dsc: &dsc, archive: &archive, slug: "debian-hello", host: "amd64" };
        let mut spec = SpecText::default();
        let mut inferences = Vec::new();
        build_path(&recorded, &mut spec, &mut inferences);
        assert_eq!(spec.name.as_deref(), Some("hello-kZ3q7V"));
        expect_recorded(&recorded, &mut spec, &mut inferences);
        assert_eq!(spec.expect.len(), 2);
        assert_eq!(spec.expect[0].2, None, "the dbgsym is expected by digest alone");
        assert_eq!(spec.expect[1].2.as_deref(), Some("debian-hello/hello_2.10-3_amd64.deb"));
        environment(&info, &mut spec, &mut inferences).unwrap();
        assert_eq!(spec.source_date_epoch, Some(1_672_068_600));
        assert_eq!(
            spec.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["DEB_BUILD_OPTIONS", "LANG", "LC_ALL"]
        );
        let odd = Buildinfo { build_path: Some("/srv/build/hello-2.10".into()), ..info.clone() };
        let recorded = RecordedBuild { info: &odd, ..recorded };
        let mut spec = SpecText::default();
        build_path(&recorded, &mut spec, &mut inferences);
        assert!(spec.name.is_none());
        assert!(inferences.last().unwrap().what.contains("NOT reproduced"), "{:?}", inferences.last());
    }
}
