//! Getting a pinned image the engine lacks without building it: from an
//! archive (`[image].archive` or `--images-dir`), or from its registry by
//! digest. Whatever arrives is checked against the pin before any
//! container is created from it.

use crate::engine::Engine;
use crate::errors::*;
use crate::image;
use crate::registry::{self, Platform, Reference};
use crate::spec::{Digest, Spec};
use std::path::{Path, PathBuf};

/// Where a registry image came from, for report.json and the provenance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryRecord {
    /// The reference as pinned, tag included: `REGISTRY/REPO:TAG@sha256:…`.
    pub reference: String,
    /// The index digest, when the reference names a multi-platform image
    /// (known when this run asked the registry).
    pub index: Option<Digest>,
    /// This platform's image manifest (known when this run asked the registry).
    pub manifest: Option<Digest>,
    /// The image config digest: the image id.
    pub config: Option<Digest>,
    /// The platform the manifest was chosen for.
    pub platform: Option<String>,
    /// True when this run pulled the image.
    pub pulled: bool,
}

/// An image [`load_archived`] loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The image id.
    pub id: String,
    /// The archive it came from.
    pub from: PathBuf,
}

/// The file `--images-dir DIR` holds for image `id`: `DIR/<hex>.tar`, as
/// `reprocheck image save` names it.
pub fn archive_in(dir: &Path, id: &Digest) -> PathBuf {
    dir.join(format!("{}.tar", id.hex()))
}

/// Loads the image `id` from the spec's `[image].archive` or from
/// `images_dir`, when one of them exists; `Ok(None)` when neither does.
/// An archive that does not give the engine image `id` is an error.
pub async fn load_archived(
    engine: &dyn Engine,
    spec: &Spec,
    id: &Digest,
    images_dir: Option<&Path>,
) -> Result<Option<Loaded>> {
    let spec_file = spec.file.display();
    // The spec's own archive first, then the directory's.
    let archive = if let Some(archive) = &spec.image.archive {
        let actual = Digest::of_file(&archive.path)?;
        ensure!(
            actual == archive.sha256,
            "{spec_file}: image.archive {} has sha256 {actual}, but the spec pins {}; it was not loaded\n\
             help: restore the archive `reprocheck image save` wrote, or save it again and update archive_sha256",
            archive.path.display(),
            archive.sha256
        );
        archive.path.clone()
    } else {
        match images_dir.map(|dir| archive_in(dir, id)).filter(|file| file.is_file()) {
            Some(file) => file,
            None => return Ok(None),
        }
    };
    crate::errln!("loading image {id} from {} ...", archive.display());
    engine.load_image(&archive).await.with_context(|| format!("loading {}", archive.display()))?;
    let Some(found) = image::find(engine, id, None).await? else {
        bail!(
            "{spec_file}: {} loaded, but the engine has no image {id} after it: the archive holds another image\n\
             help: save the pinned image again with `reprocheck image save {spec_file} DIR`",
            archive.display()
        );
    };
    Ok(Some(Loaded { id: found, from: archive }))
}

/// Asks the registry which manifest and config `reference` (which carries
/// its digest) stands for on the engine's platform, and records them.
pub async fn resolve(
    engine: &dyn Engine,
    spec: &Spec,
    reference: &Reference,
    record: &mut RegistryRecord,
) -> Result<registry::Resolved> {
    let platform = Platform::parse(&engine.info().platform)?;
    let resolved = registry::resolve(reference, &platform).await.with_context(|| {
        format!("{}: asking the registry which image the pin stands for", spec.file.display())
    })?;
    record.index = resolved.index.clone();
    record.manifest = Some(resolved.manifest.clone());
    record.config = Some(resolved.config.clone());
    record.platform = Some(platform.to_string());
    Ok(resolved)
}

/// Pulls `reference` (which carries its digest) through the engine, as
/// [`resolve`] found it. `expected_config` (the spec's `image.digest`) must
/// be the resolved config, checked before anything is pulled; the pulled
/// image must have the resolved config as its id.
pub async fn pull(
    engine: &dyn Engine,
    spec: &Spec,
    reference: &Reference,
    resolved: &registry::Resolved,
    expected_config: Option<&Digest>,
    record: &mut RegistryRecord,
) -> Result<String> {
    let spec_file = spec.file.display();
    let pinned = reference.digest.as_ref().context("pulling needs a digest")?;
    let platform = &resolved.platform;
    if let Some(expected) = expected_config {
        ensure!(
            resolved.config == *expected,
            "{spec_file}: {reference} is image {} on {platform}, but image.digest pins {expected}; nothing was pulled or run\n\
             help: if the registry's image is the one you want, run `reprocheck lock {spec_file}` to re-pin it",
            resolved.config
        );
    }
    crate::errln!("pulling {} for {platform} ...", reference.by_digest(pinned));
    let started = std::time::Instant::now();
    let credentials = resolved.credentials.as_ref().map(|c| c.for_engine());
    engine.pull_image(&reference.by_digest(pinned), credentials.as_ref()).await?;
    let Some(found) = image::find(engine, &resolved.config, None).await? else {
        bail!(
            "{spec_file}: the engine pulled {}, but has no image {} after it (the registry's config for {platform}); nothing was run",
            reference.by_digest(pinned),
            resolved.config
        );
    };
    record.pulled = true;
    crate::errln!("pulled image {found} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(found)
}

/// Resolves and pulls `reference`: [`resolve`], then [`pull`].
pub async fn resolve_and_pull(
    engine: &dyn Engine,
    spec: &Spec,
    reference: &Reference,
    expected_config: Option<&Digest>,
    record: &mut RegistryRecord,
) -> Result<String> {
    let resolved = resolve(engine, spec, reference, record).await?;
    pull(engine, spec, reference, &resolved, expected_config, record).await
}

/// The registry reference `name` + `digest` stand for, when `name` names
/// a registry (`HOST/REPO`): the image can be pulled as `name@digest`.
pub fn reference_of_name(name: &str, digest: &Digest) -> Option<Reference> {
    let reference = Reference::parse(name).ok()?;
    // Podman names local builds `localhost/NAME`: no registry is behind that.
    (reference.tag.is_none() && reference.registry != "localhost")
        .then(|| reference.pinned_to(digest.clone()))
}
