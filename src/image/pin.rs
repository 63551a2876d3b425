//! The image a spec runs on: pinned by the spec's `image.digest`, else by
//! its recipe's `packages.lock`; built from the lock when missing; first use
//! (nothing pinned yet) said out loud, drift explained package by package.

use crate::engine::Engine;
use crate::errors::*;
use crate::image::inputs::Freshness;
use crate::image::obtain::{self, RegistryRecord};
use crate::image::{self, BuildOptions, PackageDrift, PackageLock};
use crate::registry::Reference;
use crate::spec::{Digest, Spec};
use std::path::Path;

/// The image pin and what it resolved to, filled in as [`resolve`] goes
/// (report.json's `image`, see `report::inputs`).
#[derive(Debug, Default, Clone)]
pub struct PinRecord {
    /// The pin: the spec's `image.digest`, else the recipe lock's image.
    pub digest: Option<Digest>,
    /// The spec's `image.name`.
    pub name: Option<String>,
    /// The image id containers were created from.
    pub id: Option<String>,
    /// What pins the image.
    pub pinned_by: Option<PinnedBy>,
    /// The recipe's `packages.lock`, when there is one.
    pub lock: Option<std::path::PathBuf>,
    /// True when this run pinned the image for the first time.
    pub first_use: bool,
    /// When the built image differs from the pin: the packages that changed.
    pub drift: Option<PackageDrift>,
    /// When the recipe's lock was made for another recipe: what changed.
    pub stale_lock: Option<Vec<String>>,
    /// True when this run re-resolved a stale lock and rewrote it (`--build-missing`).
    pub relocked: bool,
    /// A registry image: its reference and the digests it resolved to.
    pub registry: Option<RegistryRecord>,
    /// The archive this run loaded the image from, when it did.
    pub loaded_from: Option<std::path::PathBuf>,
}

/// What pins the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinnedBy {
    /// The spec's `image.digest`.
    Spec,
    /// The recipe's `packages.lock`.
    RecipeLock,
    /// Nothing did: this run built it and wrote the lock.
    FirstUse,
}

impl PinnedBy {
    /// As report.json and the messages say it: `spec`, `recipe-lock`, `first-use`.
    pub fn as_str(self) -> &'static str {
        match self {
            PinnedBy::Spec => "spec",
            PinnedBy::RecipeLock => "recipe-lock",
            PinnedBy::FirstUse => "first-use",
        }
    }
}

impl std::fmt::Display for PinnedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the command line asks of the image.
#[derive(Debug, Clone, Copy)]
pub struct PinRequest<'a> {
    /// `--build-missing`: build the image from its recipe when the engine lacks it.
    pub build_missing: bool,
    /// `--locked`: never create or change a pin or a lock.
    pub locked: bool,
    /// Refuse an image nothing pins (verify: a verdict needs a pinned toolchain).
    pub require_pin: bool,
    /// The command being run, for the help lines: `check`, `explain`, `verify`.
    pub command: &'a str,
    /// `--images-dir`: saved images (`DIR/<id hex>.tar`) to load a missing one from.
    pub images_dir: Option<&'a Path>,
    /// Keep an image build's tool messages out of the terminal (a batch, or `--quiet`).
    pub quiet: bool,
}

/// Resolves the spec's image to the id containers are created from, filling
/// `record` (pin, its origin, first use, drift, the id) as it goes, so that a
/// failed resolution still leaves its explanation in report.json.
pub async fn resolve(
    engine: &dyn Engine,
    spec: &Spec,
    request: PinRequest<'_>,
    record: &mut PinRecord,
) -> Result<String> {
    let id = resolve_id(engine, spec, request, record).await?;
    record.id = Some(id.clone());
    Ok(id)
}

async fn resolve_id(
    engine: &dyn Engine,
    spec: &Spec,
    request: PinRequest<'_>,
    report: &mut PinRecord,
) -> Result<String> {
    let spec_file = spec.file.display().to_string();
    if let Some(reference) = &spec.image.reference {
        return registry_image(engine, spec, reference, request, report).await;
    }
    let recipe = spec.image.recipe.as_deref();
    let recipe_lock = recipe.map(PackageLock::load).transpose()?.flatten();
    let pin = match (&spec.image.digest, &recipe_lock) {
        (Some(digest), _) => Some((digest.clone(), PinnedBy::Spec)),
        (None, Some(lock)) => Some((lock.image.clone(), PinnedBy::RecipeLock)),
        (None, None) => None,
    };
    report.pinned_by = pin.as_ref().map(|(_, by)| *by);
    report.lock = recipe.map(image::lock::lock_path).filter(|_| recipe_lock.is_some());
    if let (None, Some(recipe), Some(lock)) = (&spec.image.digest, recipe, &recipe_lock) {
        let now = image::Recipe::load(recipe, spec.image.recipe_within.as_deref())?;
        if let Freshness::Stale(changes) = lock.freshness(&now) {
            report.stale_lock = Some(changes.clone());
            return relock(engine, spec, recipe, &changes, request, report).await;
        }
    }
    if let Some((digest, _)) = &pin {
        report.digest = Some(digest.clone());
        if let Some(id) = image::find(engine, digest, spec.image.name.as_deref()).await? {
            return Ok(id);
        }
        if let Some(loaded) = obtain::load_archived(engine, spec, digest, request.images_dir).await? {
            report.loaded_from = Some(loaded.from);
            return Ok(loaded.id);
        }
        // `name = "HOST/REPO"` with the spec's digest (no recipe) is a registry
        // image too, pinned by its manifest digest.
        let registry_name = match (pin.as_ref().map(|(_, by)| *by), &spec.image.recipe) {
            (Some(PinnedBy::Spec), None) => spec.image.name.as_deref(),
            _ => None,
        };
        if let Some(reference) = registry_name.and_then(|n| obtain::reference_of_name(n, digest)) {
            let mut record = RegistryRecord { reference: reference.to_string(), ..Default::default() };
            let pulled = obtain::resolve_and_pull(engine, spec, &reference, None, &mut record).await;
            report.registry = Some(record);
            return pulled.map_err(|e| {
                e.context(format!(
                    "{spec_file}: image.name {} names a registry, so image.digest {digest} was pulled from it as a manifest digest \
                     (an image id cannot be pulled: pin it with `reference = \"REGISTRY/REPO:TAG@sha256:<manifest>\"`)",
                    reference.name()
                ))
            });
        }
    }
    let rerun = format!("reprocheck {} {spec_file} --build-missing", request.command);
    let Some(recipe) = recipe.filter(|_| request.build_missing) else {
        return Err(missing(engine, spec, pin.as_ref().map(|(d, by)| (d, *by)), request, &rerun).await);
    };
    if pin.is_none() && (request.locked || request.require_pin) {
        return Err(unpinned(spec, recipe, request));
    }
    let options = BuildOptions {
        locked: request.locked || pin.is_some(),
        reuse_loaded: true,
        within: spec.image.recipe_within.clone(),
        quiet: request.quiet,
        ..Default::default()
    };
    let built = image::build(engine, recipe, &options).await.with_context(|| match &pin {
        Some((digest, by)) => format!("{spec_file}: building the pinned image {digest} (pinned by the {by})"),
        None => format!("{spec_file}: building its image from {}", recipe.display()),
    })?;
    if let Some(why) = &built.unreproduced {
        crate::errln!("warning: {why}");
    }
    let Some((pin, by)) = pin else {
        report.pinned_by = Some(PinnedBy::FirstUse);
        report.first_use = true;
        report.digest = Some(built.id.clone());
        report.lock = Some(built.lock_path.clone());
        if !request.locked {
            crate::errln!(
                "first use: nothing pinned the image of {spec_file}; built it from {} and locked its {} in {}.\n\
                 \x20         The image {} is now pinned by that lock; commit it to keep the pin.",
                recipe.display(),
                built.lock.contents(),
                built.lock_path.display(),
                built.id
            );
        }
        return Ok(built.id.to_string());
    };
    if built.id == pin {
        return Ok(built.id.to_string());
    }
    let drift =
        image::manifest_of(&pin).map(|old| PackageDrift::between(&old.packages, &built.lock.packages));
    let why = match (&drift, &built.unreproduced) {
        (Some(drift), _) if !drift.is_empty() => format!(
            "The packages changed from the pinned image's to the lock's ({}):\n{}",
            drift.counts(),
            drift.lines()
        ),
        (_, Some(unreproduced)) => format!("The same packages gave another image: {unreproduced}.\n"),
        _ => format!(
            "This machine has no record of the packages in {pin}; `git log -p {}` shows how the lock changed.\n",
            built.lock_path.display()
        ),
    };
    report.drift = drift;
    bail!(
        "{spec_file}: the {by} pins image {pin}, but {} builds {} from {}.\n{why}Nothing was run.\n\
         help: to run on the lock's packages, pin them with `reprocheck lock {spec_file}`, then `{rerun}`;\n\
         \x20     to get the pinned image back, restore the lock it was built from and its .debs (docs/images.md)",
        recipe.display(),
        built.id,
        built.lock_path.display()
    )
}

/// An image pinned by `[image].reference`: found in the engine by its image
/// id (the spec's `image.digest`, else the one the registry names for the
/// pinned digest on this platform), else loaded from an archive, else
/// pulled by digest. A tag alone never runs.
async fn registry_image(
    engine: &dyn Engine,
    spec: &Spec,
    reference: &Reference,
    request: PinRequest<'_>,
    report: &mut PinRecord,
) -> Result<String> {
    let spec_file = spec.file.display();
    let Some(pinned) = &reference.digest else {
        bail!(
            "{spec_file}: image.reference {reference} has no digest, and a tag is never used alone (it can move)\n\
             help: run `reprocheck lock {spec_file}`: it resolves the tag to its digest and writes it into the spec"
        );
    };
    report.pinned_by = Some(PinnedBy::Spec);
    report.name = Some(reference.name());
    report.digest = Some(spec.image.digest.clone().unwrap_or_else(|| pinned.clone()));
    let mut record = RegistryRecord { reference: reference.to_string(), ..Default::default() };
    let found =
        registry_image_id(engine, spec, reference, request, &mut record, &mut report.loaded_from).await;
    // Recorded also when it failed: report.json says what the registry answered.
    report.registry = Some(record);
    found
}

async fn registry_image_id(
    engine: &dyn Engine,
    spec: &Spec,
    reference: &Reference,
    request: PinRequest<'_>,
    record: &mut RegistryRecord,
    loaded_from: &mut Option<std::path::PathBuf>,
) -> Result<String> {
    // The image id decides, never the engine's repository digests: a name@INDEX
    // entry can stand for another platform's image. Without `image.digest`, the
    // registry says which id the digest stands for here, on every run.
    let (config, resolved) = match &spec.image.digest {
        Some(config) => (config.clone(), None),
        None => {
            let resolved = obtain::resolve(engine, spec, reference, record).await.map_err(|e| {
                e.context(format!(
                    "help: `reprocheck lock {}` pins the image id as image.digest; runs then need no registry",
                    spec.file.display()
                ))
            })?;
            (resolved.config.clone(), Some(resolved))
        }
    };
    record.config = Some(config.clone());
    if let Some(id) = image::find(engine, &config, None).await? {
        return Ok(id);
    }
    if let Some(loaded) = obtain::load_archived(engine, spec, &config, request.images_dir).await? {
        *loaded_from = Some(loaded.from);
        return Ok(loaded.id);
    }
    match resolved {
        Some(resolved) => obtain::pull(engine, spec, reference, &resolved, Some(&config), record).await,
        None => obtain::resolve_and_pull(engine, spec, reference, Some(&config), record).await,
    }
}

/// A lock made for another recipe pins nothing: the spec does not run on
/// its image. `--build-missing` re-resolves and re-locks; `--locked`,
/// verify and a plain run stop, naming what changed, before any build.
async fn relock(
    engine: &dyn Engine,
    spec: &Spec,
    recipe: &Path,
    changes: &[String],
    request: PinRequest<'_>,
    report: &mut PinRecord,
) -> Result<String> {
    let spec_file = spec.file.display().to_string();
    let lock_path = image::lock::lock_path(recipe);
    let what = image::inputs::describe_changes(&lock_path, changes);
    let relock_help = format!(
        "run `reprocheck {} {spec_file} --build-missing` (or `reprocheck image build {}`) to re-resolve and re-lock, \
         then review and commit {}",
        request.command,
        recipe.display(),
        lock_path.display()
    );
    let refusal = if request.locked {
        Some("--locked refuses to re-lock")
    } else if request.require_pin {
        Some("verify only rebuilds on a pinned image, and the lock no longer pins this recipe's")
    } else if !request.build_missing {
        Some("the image it pins is not the recipe's")
    } else {
        None
    };
    if let Some(why) = refusal {
        let help = match request.require_pin && !request.locked {
            true => format!(
                "re-lock with `reprocheck image build {}`, review and commit {}, then verify again",
                recipe.display(),
                lock_path.display()
            ),
            false => relock_help,
        };
        bail!("{spec_file}: {what}\n{why}; nothing was built or run.\nhelp: {help}");
    }
    let options = BuildOptions {
        reuse_loaded: true,
        within: spec.image.recipe_within.clone(),
        quiet: request.quiet,
        ..Default::default()
    };
    let built = image::build(engine, recipe, &options)
        .await
        .with_context(|| format!("{spec_file}: re-locking {}", lock_path.display()))?;
    crate::errln!(
        "re-locked: {what}\n         \x20         Resolved the recipe anew: {} ({}) in {}, image {}.\n\
         \x20         Review the lock and commit it to keep the pin.",
        built.lock.contents(),
        match &built.resolution {
            image::Resolution::Updated(relock) => relock.packages.counts(),
            _ => "new".to_string(),
        },
        lock_path.display(),
        built.id
    );
    report.relocked = true;
    report.pinned_by = Some(PinnedBy::RecipeLock);
    report.digest = Some(built.id.clone());
    report.lock = Some(lock_path.to_path_buf());
    Ok(built.id.to_string())
}

/// The error for a spec whose image nothing pins, where a first use is not allowed.
fn unpinned(spec: &Spec, recipe: &Path, request: PinRequest<'_>) -> Error {
    let why = if request.locked {
        "--locked refuses to pin one now"
    } else {
        "verify only rebuilds on a pinned image"
    };
    anyhow!(
        "{}: no image is pinned ([image] has no digest and {} does not exist), and {why}\n\
         help: pin it first: `reprocheck image build {}` writes the lock (or `reprocheck check {} --build-missing`), \
         then review and commit {}",
        spec.file.display(),
        image::lock::lock_path(recipe).display(),
        recipe.display(),
        spec.file.display(),
        image::lock::lock_path(recipe).display()
    )
}

/// The error for a pinned image the engine lacks (or no pin), without
/// `--build-missing`: what is there instead, and the command that works.
async fn missing(
    engine: &dyn Engine,
    spec: &Spec,
    pin: Option<(&Digest, PinnedBy)>,
    request: PinRequest<'_>,
    rerun: &str,
) -> Error {
    let spec_file = spec.file.display();
    let Some((digest, by)) = pin else {
        return match &spec.image.recipe {
            Some(recipe) if request.require_pin => unpinned(spec, recipe, request),
            Some(recipe) => anyhow!(
                "{spec_file}: no image is pinned yet ([image] has no digest and {} does not exist)\n\
                 help: run `{rerun}`: the first build resolves the recipe's packages, locks them and pins the image",
                image::lock::lock_path(recipe).display()
            ),
            None => anyhow!(
                "{spec_file}: [image] has no digest, so no image is pinned\nhelp: run `reprocheck lock {spec_file}` to pin the local image"
            ),
        };
    };
    let build_hint = match &spec.image.recipe {
        Some(recipe) => format!(
            "run `{rerun}` to build it from {} (exactly the locked packages)",
            if by == PinnedBy::RecipeLock {
                image::lock::lock_path(recipe).display().to_string()
            } else {
                recipe.display().to_string()
            }
        ),
        None => "load or pull that exact image into the engine".to_string(),
    };
    if let Some(name) = &spec.image.name {
        if let Ok(Some(local)) = engine.inspect_image(&format!("{name}:latest")).await {
            return anyhow!(
                "{spec_file}: the {by} pins image {digest}, which the engine does not have.\n\
                 The local {name}:latest is {}, a different image; it was NOT used.\n\
                 help: {build_hint},\n\
                 \x20     or, if you trust the local image, pin it with `reprocheck lock {spec_file}`",
                local.id
            );
        }
    }
    anyhow!("{spec_file}: the {by} pins image {digest}, which the engine does not have.\nhelp: {build_hint}")
}
