//! `reprocheck image save`: the pinned image as an archive that outlives
//! every registry ([`super::obtain::load_archived`] reads it back).

use super::obtain::archive_in;
use super::pin::{self, PinRecord, PinRequest};
use crate::engine::Engine;
use crate::errors::*;
use crate::spec::{Digest, Spec};
use std::path::{Path, PathBuf};

/// An image written by [`save`].
#[derive(Debug, Clone)]
pub struct Saved {
    /// The image id.
    pub id: Digest,
    /// `DIR/<id hex>.tar`.
    pub path: PathBuf,
    /// The archive's sha256 (for `[image].archive_sha256`).
    pub sha256: Digest,
    /// Its size in bytes.
    pub bytes: u64,
}

/// `reprocheck image save`: writes the image `spec` pins (pulled or loaded
/// first when the engine lacks it, never built, never a first use) to
/// `dir` as a docker-archive named by its id, which `[image].archive` and
/// `--images-dir` load with no registry.
pub async fn save(engine: &dyn Engine, spec: &Spec, dir: &Path) -> Result<Saved> {
    let request = PinRequest {
        build_missing: false,
        locked: true,
        require_pin: true,
        command: "image save",
        images_dir: None,
        quiet: false,
    };
    let mut record = PinRecord::default();
    let id = pin::resolve(engine, spec, request, &mut record).await?;
    let id = Digest::parse(&id).map_err(|e| anyhow!("the engine reports an odd image id: {e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = archive_in(dir, &id);
    // Written beside, then renamed: an interrupted save never leaves a file with the final name.
    let partial = dir.join(format!(".{}.tar.partial", id.hex()));
    // One a crashed save left (or a link someone planted) goes first; the engine writes a new file only.
    let _ = std::fs::remove_file(&partial);
    let written = engine.save_image(id.as_str(), &partial).await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("saving image {id}")));
    }
    std::fs::rename(&partial, &path)
        .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
    let bytes = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?.len();
    Ok(Saved { sha256: Digest::of_file(&path)?, id, path, bytes })
}
