//! The NAR hash of an output tree: the same value as `nix-hash --type sha256`.

use crate::errors::*;
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::Path;

/// Encoder buffer: must exceed the longest file name (255 bytes) by 200.
const ENCODER_BUFFER: usize = 256 * 1024;

/// `sha256:<hex>` of the NAR serialisation of `path`.
///
/// nix-nar refuses non-UTF-8 names; the collector already rejects those, so
/// hitting that here is an error rather than a silent skip.
pub fn nar_sha256(path: &Path) -> Result<String> {
    let mut encoder = nix_nar::Encoder::builder(path)
        .internal_buffer_size(ENCODER_BUFFER)
        .build()
        .with_context(|| format!("NAR-encoding {} (is every name UTF-8?)", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = encoder.read(&mut buf).with_context(|| format!("NAR-encoding {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}
