//! report.json's inputs: the image, the engine, the source and the
//! factors, in their published form, converted from the stages' own types
//! (docs/report.md, "Top level").

use crate::engine::EngineInfo;
use crate::image::obtain::RegistryRecord;
use crate::image::pin::PinRecord;
use crate::image::PackageDrift;
use crate::plan::FactorSummary;
use crate::sbom::Written;
use crate::source::{SourceInfo, SourceKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// The image pin and what it resolved to.
#[derive(Debug, Default, Serialize)]
pub struct ImageReport {
    /// The pin: the spec's `image.digest`, else the recipe lock's image.
    pub digest: Option<String>,
    /// The spec's `image.name`.
    pub name: Option<String>,
    /// The image id containers were created from.
    pub id: Option<String>,
    /// What pins the image: `spec`, `recipe-lock`, or `first-use`.
    pub pinned_by: Option<&'static str>,
    /// The recipe's `packages.lock`, when there is one.
    pub lock: Option<String>,
    /// True when this run pinned the image for the first time.
    pub first_use: bool,
    /// When the built image differs from the pin: the packages that changed.
    pub drift: Option<PackageDrift>,
    /// When the recipe's lock was made for another recipe: what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_lock: Option<Vec<String>>,
    /// True when this run re-resolved a stale lock and rewrote it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relocked: bool,
    /// A registry image: where it comes from and what it resolved to.
    pub registry: Option<RegistryReport>,
    /// The archive this run loaded the image from (`[image].archive`, `--images-dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_from: Option<String>,
}

/// A registry image's reference and digests.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryReport {
    /// `REGISTRY/REPO[:TAG]@sha256:…`, as pinned.
    pub reference: String,
    /// The index digest of a multi-platform image, when this run asked the registry.
    pub index_digest: Option<String>,
    /// This platform's manifest digest, when this run asked the registry.
    pub manifest_digest: Option<String>,
    /// The config digest, which is the image id.
    pub config_digest: Option<String>,
    /// `os/architecture` the manifest was chosen for.
    pub platform: Option<String>,
    /// True when this run pulled the image.
    pub pulled: bool,
}

impl From<&RegistryRecord> for RegistryReport {
    fn from(r: &RegistryRecord) -> RegistryReport {
        let text = |d: &Option<crate::spec::Digest>| d.as_ref().map(|d| d.to_string());
        RegistryReport {
            reference: r.reference.clone(),
            index_digest: text(&r.index),
            manifest_digest: text(&r.manifest),
            config_digest: text(&r.config),
            platform: r.platform.clone(),
            pulled: r.pulled,
        }
    }
}

impl From<&PinRecord> for ImageReport {
    fn from(pin: &PinRecord) -> ImageReport {
        ImageReport {
            digest: pin.digest.as_ref().map(|d| d.to_string()),
            name: pin.name.clone(),
            id: pin.id.as_ref().map(|d| d.to_string()),
            pinned_by: pin.pinned_by.map(|by| by.as_str()),
            lock: pin.lock.as_ref().map(|l| l.display().to_string()),
            first_use: pin.first_use,
            drift: pin.drift.clone(),
            stale_lock: pin.stale_lock.clone(),
            relocked: pin.relocked,
            registry: pin.registry.as_ref().map(RegistryReport::from),
            loaded_from: pin.loaded_from.as_ref().map(|p| p.display().to_string()),
        }
    }
}

/// The toolchain's SBOM, written beside report.json (docs/report.md).
#[derive(Debug, Clone, Serialize)]
pub struct SbomReport {
    /// The file, relative to the results directory: `toolchain.spdx.json`.
    pub file: String,
    /// `SPDX-2.3`.
    pub format: &'static str,
    /// `sha256:<hex>` of the file.
    pub sha256: String,
    /// Packages and wheels it lists (the image itself not counted).
    pub packages: usize,
    /// Where they came from: `lock`, `build-record`, `image-dpkg-database` or `none`.
    pub packages_from: &'static str,
    /// The lock they came from, when one was read.
    pub lock: Option<String>,
    /// Where the packages came from, in a sentence.
    pub note: String,
}

impl From<&Written> for SbomReport {
    fn from(written: &Written) -> SbomReport {
        SbomReport {
            file: written.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            format: "SPDX-2.3",
            sha256: written.sha256.to_string(),
            packages: written.packages,
            packages_from: written.origin.as_str(),
            lock: written.origin.lock().map(|l| l.display().to_string()),
            note: written.origin.describe(),
        }
    }
}

/// The engine the runs used.
#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    /// `docker` or `podman`.
    pub kind: String,
    /// The server's version string.
    pub version: String,
    /// The API version in use after negotiation.
    pub api_version: String,
    /// Where the engine was reached.
    pub endpoint: String,
    /// The digest of the seccomp profile every container ran under, or
    /// `None` when the engine kept its own default.
    pub seccomp_profile: Option<String>,
}

impl From<&EngineInfo> for EngineReport {
    fn from(info: &EngineInfo) -> EngineReport {
        EngineReport {
            kind: info.kind.clone(),
            version: info.version.clone(),
            api_version: info.api_version.clone(),
            endpoint: info.endpoint.clone(),
            seccomp_profile: info.seccomp_profile.clone(),
        }
    }
}

/// Where the source came from, flat as report.json has it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceReport {
    /// `path`, `git`, `tarball` or `dsc`.
    pub kind: &'static str,
    /// The tree that was built, on the host.
    pub path: String,
    /// The git repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// The commit checked out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// The tag that was checked to resolve to `rev`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit's committer time, seconds since 1970.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<i64>,
    /// The tarball file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tarball: Option<String>,
    /// The `.dsc` file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dsc: Option<String>,
    /// The Debian source package and version the `.dsc` names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The tarball's (or the `.dsc`'s) verified sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `sha256:<hex>` of the tree's NAR serialisation.
    pub nar_hash: String,
    /// The unpacked tree at `path` was removed after the run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

impl SourceReport {
    /// The report of `info`; `removed` when its unpacked tree was deleted.
    pub fn new(info: &SourceInfo, removed: bool) -> SourceReport {
        let mut report = SourceReport {
            kind: info.kind.name(),
            path: info.path.display().to_string(),
            nar_hash: info.nar_hash.to_string(),
            removed,
            ..Default::default()
        };
        match &info.kind {
            SourceKind::Path => {}
            SourceKind::Git { url, rev, tag, commit_time } => {
                report.git = Some(url.clone());
                report.rev = Some(rev.clone());
                report.tag = tag.clone();
                report.commit_time = Some(*commit_time);
            }
            SourceKind::Tarball { file, sha256 } => {
                report.tarball = Some(file.display().to_string());
                report.sha256 = Some(sha256.to_string());
            }
            SourceKind::Dsc { file, package, sha256 } => {
                report.dsc = Some(file.display().to_string());
                report.package = Some(package.clone());
                report.sha256 = Some(sha256.to_string());
            }
        }
        report
    }
}

/// Which factors were requested and applied.
#[derive(Debug, Clone, Serialize)]
pub struct FactorsReport {
    /// Factor names the spec or the command line asked for.
    pub requested: Vec<String>,
    /// Factors whose value differs between the control and the experiments.
    pub varied: Vec<String>,
    /// Requested factors that could not be applied, with the reason.
    pub not_applied: BTreeMap<String, String>,
    /// Applied factors with a limitation worth knowing.
    pub caveats: BTreeMap<String, String>,
    /// Host tools used to apply factors, with versions.
    pub tools: BTreeMap<String, String>,
}

impl From<&FactorSummary> for FactorsReport {
    fn from(summary: &FactorSummary) -> FactorsReport {
        let names = |ids: &[crate::factors::FactorId]| ids.iter().map(|f| f.to_string()).collect();
        let by_name = |map: &BTreeMap<crate::factors::FactorId, String>| {
            map.iter().map(|(f, v)| (f.to_string(), v.clone())).collect()
        };
        FactorsReport {
            requested: names(&summary.requested),
            varied: names(&summary.varied),
            not_applied: by_name(&summary.not_applied),
            caveats: by_name(&summary.caveats),
            tools: summary.tools.clone(),
        }
    }
}
