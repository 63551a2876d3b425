//! `reprocheck lock`: write the image pin into the spec, keeping its comments
//! and layout.

use crate::engine::Engine;
use crate::errors::*;
use crate::image;
use crate::spec::{self, Digest};
use std::path::Path;

/// What `lock` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
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

/// Resolves the image the spec names (its local `name` tag, else its recipe,
/// built now) and writes its id as `image.digest`. With `locked`, a change is
/// refused instead.
pub async fn lock(engine: &dyn Engine, spec_file: &Path, locked: bool) -> Result<LockOutcome> {
    let spec = spec::load(spec_file)?;
    let current = spec.image.digest.clone();
    let resolved = match (&spec.image.name, &spec.image.recipe) {
        (Some(name), recipe) => match engine.inspect_image(&tagged(name)).await? {
            Some(local) => {
                Digest::parse(&local.id).map_err(|e| anyhow!("the engine reports an odd image id: {e}"))?
            }
            None => match recipe {
                Some(recipe) => image::build(engine, recipe).await?,
                None => bail!(
                    "{}: the engine has no image {} to pin, and [image] has no recipe to build it\n\
                     help: load the image into the engine, or add `recipe = \"...\"`",
                    spec_file.display(),
                    tagged(name)
                ),
            },
        },
        (None, Some(recipe)) => image::build(engine, recipe).await?,
        (None, None) => bail!(
            "{}: [image] has neither `name` nor `recipe`, so there is nothing to resolve a pin from\n\
             help: add `name = \"repo/name\"` for a local image, or `recipe = \"../containers/...\"`",
            spec_file.display()
        ),
    };
    if current.as_ref() == Some(&resolved) {
        return Ok(LockOutcome::Unchanged(resolved));
    }
    if locked {
        bail!(
            "{}: the spec pins {}, but the image resolves to {resolved}; --locked refuses to change the pin\n\
             help: run `reprocheck lock {}` without --locked to accept the new image",
            spec_file.display(),
            current.as_ref().map_or("nothing".to_string(), Digest::to_string),
            spec_file.display()
        );
    }
    let text =
        set_digest(&spec.text, &resolved).with_context(|| format!("editing {}", spec_file.display()))?;
    write_atomically(spec_file, &text)?;
    Ok(LockOutcome::Updated { digest: resolved, previous: current })
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

/// Sets `[image].digest` in the TOML text, preserving everything else.
fn set_digest(text: &str, digest: &Digest) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("the spec is not valid TOML")?;
    let image =
        doc.get_mut("image").and_then(|i| i.as_table_like_mut()).context("the spec has no [image] table")?;
    match image.get_mut("digest").and_then(|d| d.as_value_mut()) {
        Some(value) => {
            // Keep the comment and spacing around the old value.
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(digest.as_str());
            *value.decor_mut() = decor;
        }
        None => {
            image.insert("digest", toml_edit::value(digest.as_str()));
        }
    }
    Ok(doc.to_string())
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).context("writing the new spec")?;
    tmp.persist(path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_digest_keeps_comments_and_order() {
        let d = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let text = "# top\n[image]\nname = \"x\"  # the name\ndigest = \"sha256:00\"  # pinned\n[build]\n";
        let out = set_digest(text, &d).unwrap();
        assert_eq!(out, text.replace("sha256:00", d.as_str()));
        let out = set_digest("[image]\nname = \"x\"\n", &d).unwrap();
        assert!(out.contains(&format!("digest = \"{d}\"")), "{out}");
    }

    #[test]
    fn tags_default_to_latest() {
        assert_eq!(tagged("reprocheck/debian"), "reprocheck/debian:latest");
        assert_eq!(tagged("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(tagged("x:12"), "x:12");
    }
}
