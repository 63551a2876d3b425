//! `rebuild debian:PACKAGE[=VERSION]`: the source package through the
//! machine's apt sources, its build dependencies as the image, every
//! binary package the archive has for that version as `[expect]`. With a
//! `.buildinfo`, the image holds exactly the versions it records, and the
//! build runs in its build path and environment.
//!
//! apt runs with a private state directory and `deb`/`deb-src` entries
//! derived at run time from the machine's own sources (for the asked suite,
//! with its `-updates` and `-security`); no host is written anywhere.

mod apt;
mod buildinfo;
mod changelog;
mod exact;
mod resolve;
mod spec_text;
mod version;

pub use buildinfo::Buildinfo;

use super::{not_inferable, Inference, Inferred, RebuildOptions, SpecFiles, Target};
use crate::debian::dsc::Dsc;
use crate::digest::Digest;
use crate::errors::*;
use apt::SuiteApt;
use resolve::ArchiveBinary;
use spec_text::{RecipeText, SpecText};
use std::path::Path;

/// Largest `.dsc` read.
const MAX_DSC_SIZE: u64 = 1 << 20;

/// Infers the rebuild of `package` (source or binary) into `files`.
pub async fn infer(
    package: &str,
    version: Option<&str>,
    files: &SpecFiles,
    options: &RebuildOptions,
) -> Result<Inferred> {
    let mut inferences = Vec::new();
    let host = apt::host_architecture()?;
    let buildinfo = match &options.buildinfo {
        Some(path) => Some(read_buildinfo(path, version, &host)?),
        None => None,
    };
    let version = version.or(buildinfo.as_ref().map(|b| b.source_version.as_str()));
    let suite = match &options.suite {
        Some(suite) => suite.clone(),
        None => host_suite()?,
    };
    let sources = crate::image::sources::SuiteSources::for_suite(&suite, None)?;
    let apt = SuiteApt::new(&sources).await?;
    let suites = apt.described.clone();

    // 1. The source package and its version.
    let source_records = apt.source_records(package).await?;
    let binary_records = match source_records.iter().any(|r| r.get("Package") == Some(package)) {
        true => Vec::new(),
        false => apt.binary_records(&[package]).await?,
    };
    let choice = resolve::choose_source(package, version, &source_records, &binary_records, &suites)?;
    if let Some(info) = &buildinfo {
        ensure!(
            info.source == choice.source,
            "the .buildinfo records a build of {}, but {package} is {}",
            info.source,
            choice.how
        );
    }

    // 2. The .dsc and its files, newest version first when none was asked for.
    let slug = Target::Debian { package: package.to_string(), version: version.map(str::to_string) }.slug();
    let scratch = tempfile::Builder::new()
        .prefix(".rebuild-fetch-")
        .tempdir_in(files.dir())
        .with_context(|| format!("creating a scratch directory in {}", files.dir().display()))?;
    let (dsc_version, skipped) = fetch_source(&apt, &choice, scratch.path()).await?;
    let what = format!("source {} {dsc_version} ({})", choice.source, choice.how);
    let evidence = match (&skipped[..], version) {
        ([], Some(_)) => format!("apt-cache showsrc in {suites}"),
        ([], None) => format!("apt-cache showsrc in {suites}: the newest version listed"),
        (skipped, _) => format!(
            "apt-cache showsrc in {suites}: the newest whose files the archive serves ({} listed, not fetched)",
            skipped.join(", ")
        ),
    };
    inferences.push(Inference::new(what, evidence));
    let dsc_name = format!("{}_{}.dsc", choice.source, without_epoch(&dsc_version));
    let dsc_text = crate::spec::read_capped(&scratch.path().join(&dsc_name), MAX_DSC_SIZE)
        .with_context(|| format!("apt-get source fetched no {dsc_name}"))?;
    let dsc = Dsc::parse(&dsc_text).with_context(|| format!("reading {dsc_name}"))?;
    for file in &dsc.files {
        if let Err(e) = dsc.part(file) {
            return not_inferable(format!(
                "{e:#}\n(reprocheck unpacks 3.0 (quilt) and 3.0 (native) source packages)"
            ));
        }
    }
    let dsc_paragraph = crate::debian::control::single_paragraph(&dsc_text, "a .dsc")?;
    let (epoch, changelog_file) = changelog::latest_entry_date(&dsc, scratch.path())?;
    let epoch = u64::try_from(epoch).context("the changelog's date is before 1970")?;
    inferences.push(Inference::new(
        format!("image source_date_epoch {epoch}"),
        format!("the latest debian/changelog entry in {changelog_file}"),
    ));
    let dsc_sha256 = Digest::of_file(&scratch.path().join(&dsc_name))?;
    for name in std::iter::once(&dsc_name).chain(dsc.files.iter().map(|f| &f.name)) {
        files.place(&format!("{slug}/{name}"), &scratch.path().join(name))?;
    }
    inferences.push(Inference::new(
        format!("{dsc_name} and {} file(s) it lists, in {slug}/", dsc.files.len()),
        "apt-get source --download-only, checked against the signed Sources index; the spec pins the .dsc by sha256",
    ));

    // 3. The archive's binaries of that version.
    let listed = resolve::listed_binaries(&dsc_paragraph)?;
    let names: Vec<&str> = listed.iter().map(|b| b.name.as_str()).collect();
    let records = apt.binary_records(&names).await?;
    let binaries = resolve::choose_binaries(&listed, &choice.source, &dsc_version, &host, &records)?;
    if binaries.found.is_empty() {
        return not_inferable(format!(
            "the archive ({suites}) has none of the binary packages {} {dsc_version} builds on {host} ({}): nothing to verify against",
            choice.source,
            names.join(", ")
        ));
    }
    fetch_binaries(&apt, &binaries.found, scratch.path(), files, &slug).await?;
    let found: Vec<String> =
        binaries.found.iter().map(|b| format!("{} {}", b.name, b.architecture)).collect();
    inferences.push(Inference::new(
        format!("{} binary package(s): {}", found.len(), found.join(", ")),
        format!(
            "the .dsc's Package-List for {host} and all, and the archive's Packages records of {} {dsc_version}; \
             fetched with apt-get download, checked against the signed index",
            choice.source
        ),
    ));
    if !binaries.absent.is_empty() {
        inferences.push(Inference::new(
            format!(
                "not expected: {} (the archive has no such package at this version)",
                binaries.absent.join(", ")
            ),
            format!("the .dsc's Package-List and the archive's Packages records ({suites})"),
        ));
    }

    // 4. The image and the spec.
    let exact = if buildinfo.is_some() { "-buildinfo" } else { "" };
    let dir = format!("images/debian-{}{exact}", slug_part(&format!("{}-{dsc_version}", choice.source)));
    let image = spec_text::image_name(&choice.source);
    let mut spec = SpecText {
        title: format!("Debian {} {dsc_version} ({suite})", choice.source),
        image_name: image.clone(),
        recipe: dir.clone(),
        dsc: format!("{slug}/{dsc_name}"),
        dsc_sha256: dsc_sha256.to_string(),
        command: "dpkg-buildpackage -us -uc -b".into(),
        expect: binaries
            .found
            .iter()
            .map(|b| {
                (b.built_file_name(), b.sha256.to_string(), Some(format!("{slug}/{}", b.built_file_name())))
            })
            .collect(),
        ..Default::default()
    };
    let recipe = match &buildinfo {
        None => {
            inferences.push(Inference::new(
                "-dbgsym packages the build makes are listed as not expected, not checked",
                "the main archive, which carries none; verify checks only what [expect] names",
            ));
            inferences.push(Inference::new(
                format!("image {suite}, variant apt: build-essential, fakeroot and the .dsc's build dependencies"),
                "what a buildd installs (build-essential), dpkg-buildpackage's fakeroot, and the .dsc's Build-Depends(-Arch/-Indep)",
            ));
            inferences.push(Inference::new(
                "build: dpkg-buildpackage -us -uc -b, outputs ../*.deb, SOURCE_DATE_EPOCH from debian/changelog",
                "the defaults of a dsc source (docs/spec.md)",
            ));
            RecipeText {
                title: format!("The build dependencies of {} {dsc_version} on {suite}", choice.source),
                name: image,
                suite: suite.clone(),
                variant: "apt".into(),
                packages: vec!["build-essential".into(), "fakeroot".into()],
                build_depends: Some(format!("../../{slug}/{dsc_name}")),
                sources: None,
                source_date_epoch: epoch,
            }
        }
        Some(info) => {
            let (older, more) = exact::older_sources(options, info)?;
            inferences.extend(more);
            let recorded = exact::RecordedBuild {
                info,
                dsc: &dsc,
                archive: &binaries.found,
                slug: &slug,
                host: &host,
                older: &older,
            };
            let (recipe, more) = exact::apply(&recorded, &apt, files, &dir, &mut spec, &suite, epoch).await?;
            inferences.extend(more);
            recipe
        }
    };
    files.write(&format!("{dir}/recipe.toml"), recipe.render())?;
    let spec_file = files.write(&format!("{slug}.toml"), spec.render())?;
    inferences.push(Inference::new(
        format!("image recipe {dir}/recipe.toml"),
        "this rebuild; its packages.lock is written when the spec first builds the image",
    ));
    Ok(Inferred { spec: spec_file, recipe: Some(files.path(&dir)?), inferences })
}

/// Reads `--buildinfo` and checks it describes `package` and can be built here.
fn read_buildinfo(path: &Path, version: Option<&str>, host: &str) -> Result<Buildinfo> {
    let text = crate::spec::read_capped(path, buildinfo::MAX_BUILDINFO_SIZE)
        .with_context(|| format!("reading the .buildinfo {}", path.display()))?;
    let info =
        Buildinfo::parse(&text).with_context(|| format!("reading the .buildinfo {}", path.display()))?;
    ensure!(
        version.is_none_or(|v| v == info.source_version || v == info.version),
        "{} records {} {} (binaries {}), not version {}\nhelp: leave the version out, or give the .buildinfo of that version",
        path.display(),
        info.source,
        info.source_version,
        info.version,
        version.unwrap_or("")
    );
    if info.binary_only {
        return not_inferable(format!(
            "{} records a binNMU ({} {} of source {}): its Binary-Only-Changes entry is not in the source package, \
             which this rebuild cannot add yet",
            path.display(),
            info.source,
            info.version,
            info.source_version
        ));
    }
    if info.build_architecture != host {
        return not_inferable(format!(
            "{} was built on {}, and this machine is {host}: the rebuild runs on this machine's architecture",
            path.display(),
            info.build_architecture
        ));
    }
    Ok(info)
}

/// The host's own Debian release: os-release's `VERSION_CODENAME`, which
/// the derived apt sources put in place of the host's release.
fn host_suite() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
        .with_context(|| {
            "this machine's /etc/os-release names no VERSION_CODENAME\nhelp: name the suite with --suite"
        })
}

/// Fetches the first of the chosen versions whose files the archive serves
/// whole; returns it and the newer ones that were listed but not served.
async fn fetch_source(
    apt: &SuiteApt,
    choice: &resolve::SourceChoice,
    into: &Path,
) -> Result<(String, Vec<String>)> {
    let mut skipped = Vec::new();
    let mut complaints = Vec::new();
    for version in &choice.versions {
        let attempt = tempfile::Builder::new()
            .prefix("source-")
            .tempdir_in(into)
            .context("creating a scratch directory")?;
        match apt.download_source(&choice.source, version, attempt.path()).await? {
            Ok(()) => {
                for entry in std::fs::read_dir(attempt.path()).context("listing the fetched files")? {
                    let entry = entry.context("listing the fetched files")?;
                    if entry.file_type().is_ok_and(|t| t.is_file()) {
                        std::fs::rename(entry.path(), into.join(entry.file_name()))
                            .context("moving a fetched file")?;
                    }
                }
                return Ok((version.clone(), skipped));
            }
            Err(complaint) => {
                complaints.push(format!("{} {version}: {complaint}", choice.source));
                skipped.push(version.clone());
            }
        }
    }
    // The archive not serving the source is a missing input, not a failed
    // build: a batch counts it as not inferable, with apt's words on one line.
    let said: Vec<String> =
        complaints.iter().map(|c| c.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    not_inferable(format!(
        "the archive does not serve {} whole in any version listed ({}): {}",
        choice.source,
        choice.versions.join(", "),
        said.join("; ")
    ))
}

/// Downloads `binaries` and places each in `SLUG/` under the name
/// dpkg-buildpackage gives it, after checking its sha256 against the index.
async fn fetch_binaries(
    apt: &SuiteApt,
    binaries: &[ArchiveBinary],
    scratch: &Path,
    files: &SpecFiles,
    slug: &str,
) -> Result<()> {
    let into = tempfile::Builder::new()
        .prefix("binaries-")
        .tempdir_in(scratch)
        .context("creating a scratch directory")?;
    let wanted: Vec<String> = binaries.iter().map(ArchiveBinary::apt_name).collect();
    apt.download_binaries(&wanted, into.path()).await?;
    for binary in binaries {
        let fetched = into.path().join(crate::image::lock::deb_file_name(
            &binary.name,
            &binary.version,
            &binary.architecture,
        ));
        let got = Digest::of_file(&fetched)
            .with_context(|| format!("apt-get download left no {}", fetched.display()))?;
        ensure!(
            got == binary.sha256,
            "{} {} has sha256 {got}, but the archive's index says {}",
            binary.name,
            binary.version,
            binary.sha256
        );
        files.place(&format!("{slug}/{}", binary.built_file_name()), &fetched)?;
    }
    Ok(())
}

/// A version without its epoch, as file names carry it.
fn without_epoch(version: &str) -> &str {
    version.split_once(':').map_or(version, |(_, rest)| rest)
}

/// `name-1:2.0+x` as a directory name: `name-1_2.0_x`.
fn slug_part(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}
