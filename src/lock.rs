//! `reprocheck lock`: write the image pin into the spec, keeping its comments
//! and layout.

use crate::engine::Engine;
use crate::errors::*;
use crate::image;
use crate::source;
use crate::spec::{self, Digest};
use std::path::Path;

/// What `lock` did to one pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinChange {
    /// The spec already pinned this digest.
    Unchanged(Digest),
    /// The spec now pins this digest (it pinned `previous` before).
    Updated {
        /// The new pin.
        digest: Digest,
        /// The old pin, if any.
        previous: Option<Digest>,
    },
}

/// What `lock` did to the image and source pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOutcome {
    /// `image.digest`.
    pub image: PinChange,
    /// `image.reference`, for a registry image: what it was and what it is now.
    pub reference: Option<(String, String)>,
    /// `source.nar_hash`.
    pub source: PinChange,
}

/// Resolves the image the spec names (its local `name` tag, else its recipe,
/// built now) and the source tree's NAR hash, and writes them as
/// `image.digest` and `source.nar_hash`. With `locked`, a change is refused
/// instead.
pub async fn lock(
    engine: &dyn Engine,
    spec_file: &Path,
    locked: bool,
    host_paths: spec::HostPaths,
) -> Result<LockOutcome> {
    let spec = spec::load(spec_file, host_paths)?;
    let scratch = tempfile::tempdir().context("creating a scratch directory for the source")?;
    let source = source::materialize(&spec, &scratch.path().join("source"), &[])?;
    let nar_hash = source.info.nar_hash.clone();
    let (image, reference) = match &spec.image.reference {
        Some(reference) => {
            let (config, now) = resolve_reference(engine, reference, spec_file, locked).await?;
            (config, Some((reference.to_string(), now.to_string())))
        }
        None => (resolve_image(engine, &spec, spec_file, locked).await?, None),
    };
    let outcome = LockOutcome {
        image: change(spec.image.digest.clone(), image),
        reference,
        source: change(spec.source.nar_hash.clone(), nar_hash),
    };
    let mut text = spec.text.clone();
    if let Some((was, now)) = outcome.reference.as_ref().filter(|(was, now)| was != now) {
        if locked {
            bail!(
                "{}: image.reference {was} resolves to {now}; --locked refuses to change it\n\
                 help: run `reprocheck lock {}` without --locked to accept the change",
                spec_file.display(),
                spec_file.display()
            );
        }
        text = set_pin(&text, "image", "reference", now)
            .with_context(|| format!("editing {}", spec_file.display()))?;
    }
    for (table, key, pin) in [("image", "digest", &outcome.image), ("source", "nar_hash", &outcome.source)] {
        let PinChange::Updated { digest, previous } = pin else { continue };
        if locked {
            bail!(
                "{}: the spec pins {table}.{key} = {}, but it resolves to {digest}; --locked refuses to change it\n\
                 help: run `reprocheck lock {}` without --locked to accept the change",
                spec_file.display(),
                previous.as_ref().map_or("nothing".to_string(), Digest::to_string),
                spec_file.display()
            );
        }
        text = set_pin(&text, table, key, digest.as_str())
            .with_context(|| format!("editing {}", spec_file.display()))?;
    }
    if text != spec.text {
        crate::paths::write_atomically(spec_file, &text)?;
    }
    Ok(outcome)
}

fn change(current: Option<Digest>, resolved: Digest) -> PinChange {
    if current.as_ref() == Some(&resolved) {
        PinChange::Unchanged(resolved)
    } else {
        PinChange::Updated { digest: resolved, previous: current }
    }
}

async fn resolve_image(
    engine: &dyn Engine,
    spec: &spec::Spec,
    spec_file: &Path,
    locked: bool,
) -> Result<Digest> {
    if let Some(recipe) = &spec.image.recipe {
        // The recipe's lock decides the image; build it when the engine lacks it.
        if let Some(lock) = image::PackageLock::load(recipe)? {
            // A lock made for another recipe is re-resolved (or, --locked, refused) by the build.
            let now = image::Recipe::load(recipe, spec.image.recipe_within.as_deref())?;
            let stale = matches!(lock.freshness(&now), image::inputs::Freshness::Stale(_));
            if !stale && image::find(engine, &lock.image, None).await?.is_some() {
                return Ok(lock.image);
            }
        }
        let options =
            image::BuildOptions { locked, within: spec.image.recipe_within.clone(), ..Default::default() };
        return Ok(image::build(engine, recipe, &options).await?.id);
    }
    Ok(match &spec.image.name {
        Some(name) => match engine.inspect_image(&tagged(name)).await? {
            Some(local) => {
                Digest::parse(&local.id).map_err(|e| anyhow!("the engine reports an odd image id: {e}"))?
            }
            None => bail!(
                "{}: the engine has no image {} to pin, and [image] has no recipe to build it\n\
                 help: load the image into the engine, or add `recipe = \"...\"`",
                spec_file.display(),
                tagged(name)
            ),
        },
        None => match &spec.image.digest {
            // Nothing to resolve from: keep the pin the spec has.
            Some(digest) => digest.clone(),
            None => bail!(
                "{}: [image] has neither `name` nor `recipe`, so there is nothing to resolve a pin from\n\
                 help: add `name = \"repo/name\"` for a local image, or `recipe = \"containers/...\" (a directory beside the spec)`",
                spec_file.display()
            ),
        },
    })
}

/// `name` with `:latest` unless it carries a tag already.
fn tagged(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// Resolves a registry reference: its tag anew (as repro-env does), or with
/// `locked`, only its digest, never the tag. Returns the image's config
/// digest (its id, for `image.digest`) and the reference pinned to the
/// digest the tag named.
async fn resolve_reference(
    engine: &dyn Engine,
    reference: &crate::registry::Reference,
    spec_file: &Path,
    locked: bool,
) -> Result<(Digest, crate::registry::Reference)> {
    let platform = crate::registry::Platform::parse(&engine.info().platform)?;
    let asked = match (locked, &reference.digest, &reference.tag) {
        (true, None, _) => bail!(
            "{}: image.reference {reference} has no digest, and --locked never resolves a tag\n\
             help: run `reprocheck lock {}` without --locked to pin it",
            spec_file.display(),
            spec_file.display()
        ),
        (false, _, Some(_)) => crate::registry::Reference { digest: None, ..reference.clone() },
        _ => reference.clone(),
    };
    let resolved = crate::registry::resolve(&asked, &platform)
        .await
        .with_context(|| format!("{}: locking image.reference", spec_file.display()))?;
    Ok((resolved.config, resolved.reference))
}

/// Sets `[table].key` to `value` in the TOML text, preserving everything else.
fn set_pin(text: &str, table: &str, key: &str, value: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("the spec is not valid TOML")?;
    let table = doc
        .get_mut(table)
        .and_then(|i| i.as_table_like_mut())
        .with_context(|| format!("the spec has no [{table}] table"))?;
    match table.get_mut(key).and_then(|d| d.as_value_mut()) {
        Some(old) => {
            // Keep the comment and spacing around the old value.
            let decor = old.decor().clone();
            *old = toml_edit::Value::from(value);
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, toml_edit::value(value));
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_digest_keeps_comments_and_order() {
        let d = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let text = "# top\n[image]\nname = \"x\"  # the name\ndigest = \"sha256:00\"  # pinned\n[build]\n";
        let out = set_pin(text, "image", "digest", d.as_str()).unwrap();
        assert_eq!(out, text.replace("sha256:00", d.as_str()));
        let out = set_pin("[image]\nname = \"x\"\n", "image", "digest", d.as_str()).unwrap();
        assert!(out.contains(&format!("digest = \"{d}\"")), "{out}");
        let out =
            set_pin("[source]\npath = \".\" # here\n[build]\n", "source", "nar_hash", d.as_str()).unwrap();
        assert_eq!(out, format!("[source]\npath = \".\" # here\nnar_hash = \"{d}\"\n[build]\n"));
    }

    #[test]
    fn tags_default_to_latest() {
        assert_eq!(tagged("reprocheck/debian"), "reprocheck/debian:latest");
        assert_eq!(tagged("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(tagged("x:12"), "x:12");
    }
}
