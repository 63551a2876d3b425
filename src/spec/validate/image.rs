//! `[image]`: the toolchain pinned by digest — a local image id, a registry
//! reference with its digest, or a recipe's lock — and an optional archive
//! of it that outlives any registry.

use super::source::existing;
use super::{Checked, Ctx};
use crate::registry::Reference;
use crate::spec::raw::RawImage;
use crate::spec::{Digest, ImageArchive, ImagePin};
use std::path::Path;

pub(super) fn validate_image(ctx: &Ctx, image: &RawImage) -> Checked<ImagePin> {
    let digest = match &image.digest {
        Some(d) => Some(Digest::parse(d.get_ref()).map_err(|m| {
            ctx.err(d, m).hint(
                "pin the image by its id or repo digest, e.g. the last line of `reprocheck image build DIR`, or run `reprocheck lock SPEC`",
            )
        })?),
        None => None,
    };
    if let Some(name) = &image.name {
        if name.get_ref().contains('@') {
            return Err(ctx
                .err(name, "image.name must not carry a digest")
                .hint("put the digest in `image.digest` and keep `name` as a plain repository name, or write the whole reference as `reference = \"REGISTRY/REPO:TAG@sha256:…\"`"));
        }
        if name.get_ref().trim().is_empty() {
            return Err(ctx.err(name, "image.name is empty").hint("remove the key or give a name"));
        }
    }
    let reference = match &image.reference {
        Some(r) => {
            if let Some(name) = &image.name {
                return Err(ctx
                    .err(name, "[image] has both `name` and `reference`")
                    .hint("keep `reference`: it names the registry, the repository and the digest"));
            }
            if let Some(recipe) = &image.recipe {
                return Err(ctx
                    .err(recipe, "[image] has both `recipe` and `reference`")
                    .hint("a registry image is pulled, a recipe image is built: keep one"));
            }
            Some(Reference::parse(r.get_ref()).map_err(|m| {
                ctx.err(r, m).hint("e.g. `reference = \"HOST/team/toolchain:1.2@sha256:<64 hex>\"`; `reprocheck lock SPEC` resolves a tag to its digest")
            })?)
        }
        None => None,
    };
    if digest.is_none() && image.name.is_none() && image.recipe.is_none() && reference.is_none() {
        return Err(ctx
            .err_at_start("[image] needs `digest` (or `name`/`recipe`/`reference` for `reprocheck lock` to resolve)")
            .hint("add `digest = \"sha256:<64 hex>\"`, or `reference = \"REGISTRY/REPO:TAG\"` and run `reprocheck lock SPEC`"));
    }
    let archive = match (&image.archive, &image.archive_sha256) {
        (Some(path), None) => {
            return Err(ctx
                .err(path, "image.archive needs `archive_sha256`, so a changed archive is caught before it is loaded")
                .hint("add `archive_sha256 = \"sha256:<hex>\"`, as `reprocheck image save` prints it (or `sha256sum FILE`)"))
        }
        (Some(path), Some(sha256)) => {
            let text = sha256.get_ref();
            let prefixed = if text.contains(':') { text.clone() } else { format!("sha256:{text}") };
            let sha256 = Digest::parse(&prefixed)
                .map_err(|m| ctx.err(sha256, m).hint("give the sha256 `reprocheck image save` printed"))?;
            Some(ImageArchive { path: existing(ctx, "image.archive", path, false)?, sha256 })
        }
        (None, Some(sha256)) => {
            return Err(ctx
                .err(sha256, "image.archive_sha256 without image.archive")
                .hint("add `archive = \"FILE\"` (written by `reprocheck image save SPEC DIR`), or remove the key"))
        }
        (None, None) => None,
    };
    if let (Some(_), Some(path), None) = (&reference, &image.archive, &digest) {
        return Err(ctx
            .err(path, "image.archive with a `reference` needs `digest`, the image id the archive must give")
            .hint("run `reprocheck lock SPEC`: it writes the image id as `digest`"));
    }
    let recipe = match &image.recipe {
        Some(r) => {
            let dir = ctx
                .reach
                .maybe_missing(r.get_ref())
                .map_err(|refusal| ctx.refused(r, "image.recipe", refusal))?;
            // What the image build reads from the recipe must not link out either.
            for file in [crate::spec::RECIPE_FILE, crate::spec::RECIPE_LOCK_FILE] {
                ctx.reach
                    .member(&dir, file)
                    .map_err(|refusal| ctx.refused(r, &format!("image.recipe's {file}"), refusal))?;
            }
            // Kept as written (relative), for messages: it was checked above.
            Some(ctx.reach.lexical(r.get_ref()))
        }
        None => None,
    };
    Ok(ImagePin {
        digest,
        name: image.name.as_ref().map(|n| n.get_ref().clone()),
        reference,
        archive,
        recipe,
        recipe_within: ctx.reach.root().map(Path::to_path_buf),
    })
}
