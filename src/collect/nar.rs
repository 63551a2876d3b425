//! The NAR hash of a tree: the same value as `nix-hash --type sha256`.

use crate::digest::Digest;
use crate::errors::*;
use camino::Utf8Path;
use nix_nar::{FileSystem, FileSystemMetadata, NativeFileSystem};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Encoder buffer: must exceed the longest file name (255 bytes) by 200.
const ENCODER_BUFFER: usize = 256 * 1024;

/// `sha256:<hex>` of the NAR serialisation of `path`.
///
/// nix-nar refuses non-UTF-8 names; the collector already rejects those, so
/// hitting that here is an error rather than a silent skip.
pub fn nar_sha256(path: &Path) -> Result<Digest> {
    nar_sha256_excluding(path, &[])
}

/// Like [`nar_sha256`], leaving out the given paths (a results directory
/// inside a source tree must not change the source's hash).
pub fn nar_sha256_excluding(path: &Path, exclude: &[PathBuf]) -> Result<Digest> {
    let exclude = exclude.iter().filter_map(|e| e.canonicalize().ok()).collect();
    let root = path.canonicalize().with_context(|| format!("resolving {}", path.display()))?;
    let encoder = nix_nar::Encoder::builder(&root)
        .internal_buffer_size(ENCODER_BUFFER)
        .filesystem(Excluding { exclude })
        .build();
    let mut encoder =
        encoder.with_context(|| format!("NAR-encoding {} (is every name UTF-8?)", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = encoder.read(&mut buf).with_context(|| format!("NAR-encoding {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Digest::from_sha256(&hasher.finalize()))
}

/// The native file system, with some paths hidden from directory listings.
struct Excluding {
    exclude: Vec<PathBuf>,
}

impl FileSystem for Excluding {
    type File = std::fs::File;

    fn metadata(&self, path: &Utf8Path) -> std::io::Result<FileSystemMetadata> {
        NativeFileSystem {}.metadata(path)
    }

    fn read_dir(&self, path: &Utf8Path) -> std::io::Result<Vec<String>> {
        let names = NativeFileSystem {}.read_dir(path)?;
        Ok(names.into_iter().filter(|n| !self.exclude.iter().any(|x| x == &path.join(n))).collect())
    }

    fn open(&self, path: &Utf8Path) -> std::io::Result<Self::File> {
        NativeFileSystem {}.open(path)
    }
}
