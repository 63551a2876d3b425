//! A `.buildinfo`'s build, reproduced: an image of exactly the package
//! versions its `Installed-Build-Depends` records, its `Build-Path`, its
//! environment and `SOURCE_DATE_EPOCH`, and the digests it recorded as
//! what the rebuild must give.
//!
//! The exact versions become a flat apt repository beside the recipe
//! ([`repository`]: each .deb fetched by apt, checked against the suite's
//! signed index, or taken from this machine's download cache by that
//! index's sha256), and the recipe installs the recorded package names from
//! there alone, on the `essential` variant: every Essential package the
//! build had, and nothing the build did not have. The first build locks
//! them like any recipe. This module sets the spec from the `.buildinfo`.

mod packages_dir;
mod repository;

pub use repository::OlderSources;

use super::apt::SuiteApt;
use super::buildinfo::Buildinfo;
use super::resolve::ArchiveBinary;
use super::spec_text::{RecipeText, SpecText};
use crate::debian::dsc::Dsc;
use crate::errors::*;
use crate::image::fetch::Snapshot;
use crate::rebuild::{not_inferable, Inference, SpecFiles};

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
    /// Where the recorded versions the suite lacks may come from.
    pub older: &'a OlderSources,
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
    let (packages, fetched) = repository::exact_packages(recorded, apt, files, recipe_dir, suite).await?;
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

/// The sources for the versions the suite's archive lacks: the packages
/// directory and the snapshot archive the command line names, the
/// snapshot's time being the `.buildinfo`'s `Build-Date` unless given.
pub fn older_sources(
    options: &crate::rebuild::RebuildOptions,
    info: &Buildinfo,
) -> Result<(OlderSources, Vec<Inference>)> {
    let mut inferences = Vec::new();
    let snapshot = match (&options.snapshot, &options.snapshot_time) {
        (None, _) => None,
        (Some(base), Some(time)) => Some(Snapshot::new(base, time)?),
        (Some(base), None) => {
            let date = info.build_date.as_deref().context(
                "the .buildinfo has no Build-Date to date the snapshot by\nhelp: give --snapshot-time YYYYMMDDTHHMMSSZ",
            )?;
            let time = snapshot_time(date)?;
            inferences.push(Inference::new(
                format!("snapshot time {time}"),
                format!("the .buildinfo's Build-Date: {date}"),
            ));
            Some(Snapshot::new(base, &time)?)
        }
    };
    Ok((OlderSources { packages_dir: options.packages_dir.clone(), snapshot }, inferences))
}

/// An RFC 2822 date as a snapshot archive's time, `YYYYMMDDTHHMMSSZ` (UTC).
fn snapshot_time(date: &str) -> Result<String> {
    let seconds = crate::debian::changelog::rfc2822(date)
        .with_context(|| format!("the .buildinfo's Build-Date `{date}` is not an RFC 2822 date"))?;
    let seconds = u64::try_from(seconds).ok().filter(|s| *s <= 253_402_300_799);
    let time = seconds
        .and_then(|s| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s)))
        .with_context(|| format!("the .buildinfo's Build-Date `{date}` is out of range"))?;
    Ok(humantime::format_rfc3339_seconds(time).to_string().replace(['-', ':'], ""))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let recorded = RecordedBuild {
            info: &info,
            dsc: &dsc,
            archive: &archive,
            slug: "debian-hello",
            host: "amd64",
            older: &OlderSources::default(),
        };
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

    #[test]
    fn the_snapshot_is_dated_by_the_build_date_in_utc() {
        assert_eq!(snapshot_time("Tue, 27 Dec 2022 15:30:00 +0000").unwrap(), "20221227T153000Z");
        assert_eq!(snapshot_time("Wed, 01 Jan 2025 01:30:00 +0200").unwrap(), "20241231T233000Z");
        let error = snapshot_time("yesterday").unwrap_err();
        assert!(format!("{error:#}").contains("is not an RFC 2822 date"), "{error:#}");
        let info = Buildinfo {
            build_date: None,
            ..Buildinfo::parse(
                &std::fs::read_to_string(format!(
                    "{}/tests/fixtures/debian-rebuild/hello_2.10-3_amd64.buildinfo",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap(),
            )
            .unwrap()
        };
        let options =
            crate::rebuild::RebuildOptions { snapshot: Some("file:///s".into()), ..Default::default() };
        let error = older_sources(&options, &info).unwrap_err();
        assert!(format!("{error:#}").contains("--snapshot-time"), "{error:#}");
    }
}
