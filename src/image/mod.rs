//! Toolchain images: build one offline from a recipe and its package lock,
//! and find the image a spec pins — by digest only, never by tag.
//!
//! A recipe's first build resolves its packages from the apt sources (or a
//! snapshot) and writes `packages.lock`; every later build installs exactly
//! the locked .debs from a local repository, so the image id follows from
//! the lock and not from the day the archive was read.

pub(crate) mod apt;
pub mod archive;
mod bootstrap;
pub mod fetch;
pub mod inputs;
pub mod lock;
pub mod obtain;
pub mod pin;
pub mod python;
mod recipe;
mod relock;
pub mod save;
pub mod sources;

pub use archive::sha256_file;
pub use lock::{PackageDrift, PackageLock};
pub use recipe::{Recipe, RECIPE_FILE};
pub use relock::Relock;

use crate::engine::Engine;
use crate::errors::*;
use crate::spec::Digest;
use bootstrap::{AptSources, Bootstrapped, Work};
use fetch::{PackageSources, Snapshot};
use inputs::Freshness;
use lock::LockedPackage;
use std::path::{Path, PathBuf};

/// How `image build` may use and change the lock.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Re-resolve from the sources even when a lock exists, and rewrite it.
    pub update: bool,
    /// Never write the lock: fail where it is missing, stale or would change.
    pub locked: bool,
    /// Overrides the recipe's `packages_dir`.
    pub packages_dir: Option<PathBuf>,
    /// Overrides the recipe's snapshot.
    pub snapshot: Option<Snapshot>,
    /// When the engine already holds the image the lock records, use it
    /// instead of building it again.
    pub reuse_loaded: bool,
    /// Every path the recipe names must resolve under this directory (the
    /// spec's, when a confined spec builds its image); `None`: anywhere.
    pub within: Option<PathBuf>,
    /// Keep mmdebstrap's own messages out of the terminal (a batch, or
    /// `--quiet`); an error still carries their last lines.
    pub quiet: bool,
}

/// How a build used the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Installed exactly the locked packages.
    FromLock,
    /// There was no lock: resolved from the sources and wrote one.
    FirstLock,
    /// Installed exactly the locked packages, and rewrote a format-1 lock in
    /// the current format (the same packages, now with the recipe's inputs).
    Reformatted,
    /// Re-resolved (asked for, or the recipe changed) and rewrote the lock.
    Updated(Box<Relock>),
}

/// A built and loaded image.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image id.
    pub id: Digest,
    /// The lock it was built from (or wrote).
    pub lock: PackageLock,
    /// Where the lock is.
    pub lock_path: PathBuf,
    /// How the lock was used.
    pub resolution: Resolution,
    /// Set when the lock's packages gave another image id than the lock
    /// records: why, in a sentence.
    pub unreproduced: Option<String>,
}

/// Builds the image described by `dir/recipe.toml` (and its lock), loads it
/// into the engine and returns its id.
pub async fn build(engine: &dyn Engine, dir: &Path, options: &BuildOptions) -> Result<Built> {
    let recipe = Recipe::load(dir, options.within.as_deref())?;
    let existing = PackageLock::load(dir)?;
    let lock_path = lock::lock_path(dir);
    let freshness = existing.as_ref().map(|l| l.freshness(&recipe));
    let stale = match &freshness {
        Some(Freshness::Stale(changes)) => changes.clone(),
        _ => Vec::new(),
    };
    let work = bootstrap::Work::new(options.quiet)?;
    let sources = package_sources(&recipe, options)?;
    match existing {
        Some(mut lock) if !options.update && stale.is_empty() => {
            // A format-1 lock gains the recipe's inputs, when the lock may be written.
            let reformat = freshness == Some(Freshness::CurrentLegacy) && !options.locked;
            let resolution = match reformat {
                true => {
                    lock.version = lock::LOCK_VERSION;
                    lock.inputs = Some(recipe.inputs.clone());
                    lock.recipe = recipe.inputs.fingerprint();
                    Resolution::Reformatted
                }
                false => Resolution::FromLock,
            };
            let built = if options.reuse_loaded && find(engine, &lock.image, None).await?.is_some() {
                Built {
                    id: lock.image.clone(),
                    lock: lock.clone(),
                    lock_path: lock_path.clone(),
                    resolution: Resolution::FromLock,
                    unreproduced: None,
                }
            } else {
                // Asked only when something is built: a loaded image needs no mmdebstrap.
                let mmdebstrap = bootstrap::mmdebstrap_version()?;
                from_lock(engine, &recipe, &lock, &lock_path, &sources, &work, &mmdebstrap).await?
            };
            if reformat {
                lock.save(dir)?;
            }
            Ok(Built { lock, lock_path, resolution, ..built })
        }
        existing => {
            if options.locked {
                let why = match &existing {
                    None => format!("{} has no {}", dir.display(), lock::LOCK_FILE),
                    Some(_) if !stale.is_empty() => inputs::describe_changes(&lock_path, &stale),
                    Some(_) => "--update asks to re-resolve".to_string(),
                };
                bail!(
                    "{why}\n--locked refuses to resolve packages anew\n\
                     help: run `reprocheck image build {}` without --locked (or `reprocheck check SPEC --build-missing`) \
                     to re-lock; review what it prints, and commit {}",
                    dir.display(),
                    lock_path.display()
                );
            }
            let mmdebstrap = bootstrap::mmdebstrap_version()?;
            let fingerprint = recipe.inputs.fingerprint();
            let mut built =
                resolve(engine, &recipe, sources.snapshot.as_ref(), &work, &mmdebstrap, fingerprint).await?;
            built.lock.save(dir)?;
            built.resolution = match &existing {
                None => Resolution::FirstLock,
                Some(old) => Resolution::Updated(Box::new(Relock {
                    recipe: stale,
                    packages: PackageDrift::between(&old.packages, &built.lock.packages),
                    wheels: PackageDrift::between(&wheels_as_packages(old), &wheels_as_packages(&built.lock)),
                    old_image: Some(old.image.clone()).filter(|image| *image != built.id),
                })),
            };
            Ok(Built { lock_path, ..built })
        }
    }
}

/// A lock's Python wheels in the shape of packages, to compare them the same way.
fn wheels_as_packages(lock: &PackageLock) -> Vec<LockedPackage> {
    lock.python
        .iter()
        .map(|d| LockedPackage {
            name: d.name.clone(),
            version: d.version.clone(),
            architecture: "python".into(),
            sha256: d.sha256.clone(),
        })
        .collect()
}

/// Resolves the recipe's packages from the sources, and builds the image.
async fn resolve(
    engine: &dyn Engine,
    recipe: &Recipe,
    snapshot: Option<&Snapshot>,
    work: &Work,
    mmdebstrap: &str,
    fingerprint: Digest,
) -> Result<Built> {
    let (sources_file, origin) = match snapshot {
        Some(snapshot) => {
            let file = work.join("snapshot.sources");
            std::fs::write(&file, snapshot.sources_text(&recipe.suite))
                .context("writing the snapshot's sources")?;
            let origin = format!("the snapshot {}/debian/{}", snapshot.base, snapshot.time);
            (file, origin)
        }
        None => {
            let sources = recipe.apt_sources()?;
            sources.check_reachable(&recipe.suite).await?;
            let file = match &sources.file {
                Some(own) => own.clone(),
                None => {
                    // The name tells mmdebstrap the format.
                    let file = work.join("suite.sources");
                    std::fs::write(&file, &sources.text).context("writing the suite's apt sources")?;
                    file
                }
            };
            (file, format!("{}, suites {}", sources.origin, sources.describe()))
        }
    };
    crate::errln!("resolving {} from {origin} with mmdebstrap ...", recipe.name);
    let debs = work.join("debs");
    std::fs::create_dir_all(&debs).context("creating the package directory")?;
    let wheels = work.join("python");
    let python = match recipe.python.is_empty() {
        true => Vec::new(),
        false => python::gather(&recipe.python, None, &wheels)?,
    };
    let wheels = (!python.is_empty()).then_some(wheels.as_path());
    let bootstrapped =
        bootstrap::bootstrap(recipe, AptSources::File(&sources_file), work, Some(&debs), wheels).await?;
    let mut packages = Vec::new();
    for (name, version, architecture) in &bootstrapped.installed {
        let file = debs.join(lock::deb_file_name(name, version, architecture));
        ensure!(file.is_file(), "mmdebstrap installed {name} {version} but kept no {}", file.display());
        packages.push(LockedPackage {
            name: name.clone(),
            version: version.clone(),
            architecture: architecture.clone(),
            sha256: sha256_file(&file)?,
        });
    }
    let rootfs = sha256_file(&bootstrapped.rootfs)?;
    let id = assemble_and_load(engine, recipe, &bootstrapped, work).await?;
    let lock = PackageLock {
        version: lock::LOCK_VERSION,
        recipe: fingerprint,
        inputs: Some(recipe.inputs.clone()),
        mmdebstrap: mmdebstrap.to_string(),
        rootfs,
        image: id.clone(),
        packages,
        python,
    };
    keep(&lock, &debs);
    Ok(Built { id, lock, lock_path: PathBuf::new(), resolution: Resolution::FirstLock, unreproduced: None })
}

/// Builds the image from exactly the locked packages.
async fn from_lock(
    engine: &dyn Engine,
    recipe: &Recipe,
    lock: &PackageLock,
    lock_path: &Path,
    sources: &PackageSources,
    work: &Work,
    mmdebstrap: &str,
) -> Result<Built> {
    let pool = work.join("pool");
    if let Err(e) = fetch::gather(lock, &recipe.suite, sources, &pool).await {
        if e.downcast_ref::<fetch::NotAvailable>().is_some() {
            return Err(anyhow!(
                "{}: {e}\n\
                 help: the archive has moved on since the lock was written. To rebuild the locked image:\n\
                 \x20 - from the .debs kept then: `reprocheck image vendor DIR DEBS` on a machine that has them,\n\
                 \x20   then `packages_dir = \"DEBS\"` in recipe.toml (or `reprocheck image build DIR --packages-dir DEBS`);\n\
                 \x20 - or from a snapshot archive: `snapshot` and `snapshot_time` in recipe.toml;\n\
                 \x20 - or accept the new packages: `reprocheck image build {} --update` re-resolves, prints\n\
                 \x20   what changed and rewrites the lock; then re-pin specs with `reprocheck lock SPEC`",
                lock_path.display(),
                lock_path.parent().unwrap_or(Path::new(".")).display()
            ));
        }
        return Err(e.context(format!("gathering the packages {} locks", lock_path.display())));
    }
    fetch::index(&pool, &[]).await?;
    crate::errln!("building {} from the {} in {} ...", recipe.name, lock.contents(), lock_path.display());
    let wheels = work.join("python");
    if !lock.python.is_empty() {
        let vendored = sources.packages_dir.as_ref().map(|dir| dir.join(python::VENDORED_DIR));
        python::gather(
            &python::locked_requirements(&lock.python, &recipe.python)?,
            vendored.as_deref(),
            &wheels,
        )
        .with_context(|| format!("gathering the Python wheels {} locks", lock_path.display()))?;
    }
    let wheels = (!lock.python.is_empty()).then_some(wheels.as_path());
    let bootstrapped =
        bootstrap::bootstrap(recipe, AptSources::LocalRepository(&pool), work, None, wheels).await?;
    let mut locked: Vec<_> =
        lock.packages.iter().map(|p| (p.name.clone(), p.version.clone(), p.architecture.clone())).collect();
    locked.sort();
    ensure!(
        bootstrapped.installed == locked,
        "building from {} installed another package set than the lock holds (the recipe's packages may depend on something new)\n\
         help: run `reprocheck image build {} --update` to re-resolve",
        lock_path.display(),
        lock_path.parent().unwrap_or(Path::new(".")).display()
    );
    let rootfs = sha256_file(&bootstrapped.rootfs)?;
    let id = assemble_and_load(engine, recipe, &bootstrapped, work).await?;
    keep(lock, &pool);
    let unreproduced = (id != lock.image).then(|| {
        let mut why = format!(
            "the locked packages gave image {id}, but {} records {} (rootfs {} then, {rootfs} now)",
            lock_path.display(),
            lock.image,
            lock.rootfs
        );
        if lock.mmdebstrap != mmdebstrap {
            why.push_str(&format!(
                "; the lock was built with mmdebstrap {}, this is {mmdebstrap}",
                lock.mmdebstrap
            ));
        }
        why
    });
    Ok(Built {
        id,
        lock: lock.clone(),
        lock_path: lock_path.to_path_buf(),
        resolution: Resolution::FromLock,
        unreproduced,
    })
}

/// Saves the debs in the download cache and the lock as the manifest of its
/// image, for later rebuilds and drift explanations. Best effort: a full
/// disk must not fail a build that succeeded.
fn keep(lock: &PackageLock, debs: &Path) {
    if let Some(cache) = crate::paths::cache_dir("debs") {
        if let Err(e) = fetch::fill_cache(lock, debs, &cache) {
            tracing::warn!("could not keep the packages in {}: {e:#}", cache.display());
        }
    }
    if let Some(images) = crate::paths::cache_dir("images") {
        let dir = images.join(lock.image.hex());
        if let Err(e) = std::fs::create_dir_all(&dir).map_err(Error::from).and_then(|_| lock.save(&dir)) {
            tracing::warn!("could not keep the image manifest in {}: {e:#}", images.display());
        }
    }
}

/// The lock an image was built from, if this machine built it.
pub fn manifest_of(image: &Digest) -> Option<PackageLock> {
    let dir = crate::paths::cache_dir("images")?.join(image.hex());
    PackageLock::load(&dir).ok().flatten()
}

async fn assemble_and_load(
    engine: &dyn Engine,
    recipe: &Recipe,
    bootstrapped: &Bootstrapped,
    work: &Path,
) -> Result<Digest> {
    let tag = format!("{}:latest", recipe.name);
    let created_by = format!(
        "mmdebstrap --variant={} --include={} {} (reprocheck image build)",
        recipe.variant,
        recipe.packages.join(","),
        recipe.suite
    );
    let archive_path = work.join("image.tar");
    let (rootfs, archive2, tag2) = (bootstrapped.rootfs.clone(), archive_path.clone(), tag.clone());
    let epoch = recipe.source_date_epoch;
    let config_digest =
        tokio::task::spawn_blocking(move || archive::assemble(&rootfs, &tag2, epoch, &created_by, &archive2))
            .await
            .context("the image assembly task died")??;
    engine.load_image(&archive_path).await.with_context(|| format!("loading {tag} into the engine"))?;
    let loaded = engine
        .inspect_image(&tag)
        .await?
        .with_context(|| format!("the engine accepted the archive but has no image {tag}"))?;
    let id = Digest::parse(&loaded.id).map_err(|e| anyhow!("the engine reports an odd image id: {e}"))?;
    if id != config_digest {
        // Podman derives ids differently; the engine's id is what `check` matches.
        tracing::info!("engine image id {id} differs from the config digest {config_digest}");
    }
    Ok(id)
}

/// Copies every locked .deb of the recipe in `dir` into `into`, and its
/// locked Python wheels into `into/python`, checked against the lock, so the
/// image can be rebuilt with no archive and no package index at all.
/// Returns how many files it wrote.
pub async fn vendor(dir: &Path, into: &Path, options: &BuildOptions) -> Result<usize> {
    let recipe = Recipe::load(dir, options.within.as_deref())?;
    let lock = PackageLock::load(dir)?.with_context(|| {
        format!(
            "{} has no {}, so there is nothing to vendor\nhelp: run `reprocheck image build {}` first; it writes the lock",
            dir.display(),
            lock::LOCK_FILE,
            dir.display()
        )
    })?;
    let sources = package_sources(&recipe, options)?;
    fetch::gather(&lock, &recipe.suite, &sources, into).await?;
    if !lock.python.is_empty() {
        // Beside the .debs, where a build with this packages directory looks for them.
        let wheels = into.join(python::VENDORED_DIR);
        python::gather(&python::locked_requirements(&lock.python, &recipe.python)?, None, &wheels)
            .with_context(|| format!("vendoring the Python wheels of {}", lock::lock_path(dir).display()))?;
    }
    Ok(lock.packages.len() + lock.python.len())
}

/// Where the lock's packages may come from: the command line's choices over
/// the recipe's, then this machine's cache and the apt sources.
fn package_sources(recipe: &Recipe, options: &BuildOptions) -> Result<PackageSources> {
    let snapshot = match (&options.snapshot, &recipe.snapshot, &recipe.snapshot_time) {
        (Some(s), _, _) => Some(s.clone()),
        (None, Some(base), Some(time)) => Some(Snapshot::new(base, time)?),
        _ => None,
    };
    Ok(PackageSources {
        packages_dir: options.packages_dir.clone().or_else(|| recipe.packages_dir.clone()),
        cache: crate::paths::cache_dir("debs"),
        snapshot,
        apt_sources: recipe.apt_sources().ok(),
    })
}

/// Finds the image `digest` names, by digest only, and returns the image id
/// to create containers from; `Ok(None)` when the engine does not have it. A
/// tag is never used in place of the digest.
pub async fn find(engine: &dyn Engine, digest: &Digest, name: Option<&str>) -> Result<Option<String>> {
    if let Some(image) = engine.inspect_image(digest.as_str()).await? {
        if image.id == digest.as_str() {
            return Ok(Some(image.id));
        }
    }
    if let Some(name) = name {
        let by_repo_digest = format!("{name}@{digest}");
        if let Some(image) = engine.inspect_image(&by_repo_digest).await? {
            if image.repo_digests.contains(&by_repo_digest) {
                return Ok(Some(image.id));
            }
        }
    }
    Ok(None)
}
