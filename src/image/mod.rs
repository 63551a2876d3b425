//! Toolchain images: build one offline from a recipe, and find the image a
//! spec pins — by digest only, never by tag.

mod archive;
mod recipe;

pub use archive::sha256_file;
pub use recipe::Recipe;

use crate::engine::Engine;
use crate::errors::*;
use crate::spec::{Digest, ImagePin};
use std::path::Path;
use std::process::Stdio;

/// Builds the image described by `dir/recipe.toml`, loads it into the engine
/// and returns its image id.
pub async fn build(engine: &dyn Engine, dir: &Path) -> Result<Digest> {
    let recipe = Recipe::load(dir)?;
    let sources = recipe.sources_file()?;
    let work = tempfile::Builder::new()
        .prefix("reprocheck-image-")
        .tempdir()
        .context("creating a temporary directory for the image build")?;
    let rootfs = work.path().join("rootfs.tar");
    let mut command = tokio::process::Command::new("mmdebstrap");
    command
        .arg(format!("--variant={}", recipe.variant))
        // The image must not name the host's mirror, and builds have no network anyway.
        .arg("--customize-hook=rm -f \"$1\"/etc/apt/sources.list \"$1\"/etc/apt/sources.list.d/*")
        .env("SOURCE_DATE_EPOCH", recipe.source_date_epoch.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !recipe.packages.is_empty() {
        command.arg(format!("--include={}", recipe.packages.join(",")));
    }
    command.arg(&recipe.suite).arg(&rootfs).arg(&sources);
    eprintln!("building {} with mmdebstrap from {} ...", recipe.name, sources.display());
    let status = command.status().await.map_err(|e| {
        anyhow!("cannot run mmdebstrap: {e}\nhelp: install it (`apt-get install mmdebstrap`); it builds the rootfs offline from your apt sources")
    })?;
    ensure!(status.success(), "mmdebstrap failed ({status}); its messages are above");

    let tag = format!("{}:latest", recipe.name);
    let created_by = format!(
        "mmdebstrap --variant={} --include={} {} (reprocheck image build)",
        recipe.variant,
        recipe.packages.join(","),
        recipe.suite
    );
    let archive_path = work.path().join("image.tar");
    let (rootfs2, archive2, tag2) = (rootfs.clone(), archive_path.clone(), tag.clone());
    let epoch = recipe.source_date_epoch;
    let config_digest = tokio::task::spawn_blocking(move || {
        archive::assemble(&rootfs2, &tag2, epoch, &created_by, &archive2)
    })
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

/// Finds the image `pin` names, by digest only, and returns the image id to
/// create containers from; `Ok(None)` when the engine does not have it. A tag
/// is never used in place of the digest.
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

/// The error for a pinned image the engine lacks: what is there instead, and
/// the command that would build or pin it.
pub async fn missing(engine: &dyn Engine, pin: &ImagePin, spec_file: &Path) -> Error {
    let spec = spec_file.display();
    let Some(digest) = &pin.digest else {
        return anyhow!(
            "{spec}: [image] has no digest, so no image is pinned\nhelp: run `reprocheck lock {spec}` to pin the local image"
        );
    };
    let build_hint = match &pin.recipe {
        Some(recipe) => format!(
            "build it with `reprocheck image build {}` (or add --build-missing to check)",
            recipe.display()
        ),
        None => "load or pull that exact image into the engine".to_string(),
    };
    if let Some(name) = &pin.name {
        if let Ok(Some(local)) = engine.inspect_image(&format!("{name}:latest")).await {
            return anyhow!(
                "{spec}: the spec pins image {digest}, which the engine does not have.\n\
                 The local {name}:latest is {}, a different image; it was NOT used.\n\
                 help: {build_hint},\n\
                 \x20     or, if you trust the local image, pin it with `reprocheck lock {spec}`",
                local.id
            );
        }
    }
    anyhow!("{spec}: the spec pins image {digest}, which the engine does not have.\nhelp: {build_hint}")
}
