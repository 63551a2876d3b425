//! Files a factor puts into a container before it starts, through the
//! engine's archive API rather than a host bind mount, so that a remote
//! engine (or one whose archive API ignores mounts) gets them too.

use super::{ByteStream, Engine};
use crate::errors::*;
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// One file at a fixed path in the container, owned by root.
#[derive(Debug, Clone, Serialize)]
pub struct PlacedFile {
    /// Absolute path in the container.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// `sha256:` of the contents, for the report.
    pub sha256: crate::digest::Digest,
    /// The contents (shared between runs).
    #[serde(skip)]
    pub contents: Arc<[u8]>,
}

impl PlacedFile {
    /// A root-owned file at `path` holding `contents`.
    pub fn new(path: &str, mode: u32, contents: Arc<[u8]>) -> PlacedFile {
        let sha256 = crate::digest::Digest::of_bytes(&contents);
        PlacedFile { path: path.to_string(), mode, sha256, contents }
    }
}

/// A tar of `files`, rooted at `/`. Directories that do not exist yet are
/// created by the engine's extraction (mode 0755, root); existing ones are
/// left as they are, since no entry names them.
pub fn tar(files: &[PlacedFile]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, files)?;
    builder.into_inner().context("finishing the tar of placed files")
}

/// Appends `files` to a tar rooted at `/`, as [`tar`] packs them; the
/// source upload carries them ahead of the tree, so a run makes one upload.
pub fn append<W: std::io::Write>(builder: &mut tar::Builder<W>, files: &[PlacedFile]) -> Result<()> {
    for file in files {
        let name = file.path.trim_start_matches('/');
        ensure!(
            !name.is_empty() && !name.split('/').any(|c| c == ".."),
            "cannot place a file at {}",
            file.path
        );
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(file.contents.len() as u64);
        header.set_mode(file.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder
            .append_data(&mut header, name, &file.contents[..])
            .with_context(|| format!("packing {} for the container", file.path))?;
    }
    Ok(())
}

/// Uploads `files` into the created container `id` (nothing when empty).
pub async fn upload(engine: &dyn Engine, id: &str, files: &[PlacedFile]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let tar = Bytes::from(tar(files)?);
    let body: ByteStream = Box::pin(futures_util::stream::once(async move { Ok(tar) }));
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    engine.upload(id, body).await.with_context(|| format!("placing {} in container {id}", paths.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_files_are_root_owned_at_their_paths() {
        let lib = PlacedFile::new("/usr/lib/x/lib.so", 0o644, Arc::from(&b"ELF"[..]));
        let rc = PlacedFile::new("/etc/rc", 0o644, Arc::from(&b"+1d\n"[..]));
        let bytes = tar(&[lib, rc]).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let entries: Vec<(String, u64, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.mode().unwrap(),
                    h.size().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, [("usr/lib/x/lib.so".into(), 0, 0o644, 3), ("etc/rc".into(), 0, 0o644, 4)]);
        assert!(tar(&[PlacedFile::new("/a/../b", 0o644, Arc::from(&b""[..]))]).is_err());
    }
}
