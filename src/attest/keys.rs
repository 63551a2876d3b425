//! Ed25519 keys as PEM files: PKCS#8 for the private key, SPKI for the
//! public key, the formats `openssl pkey` reads.

use crate::errors::*;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes a new key pair to `PREFIX.key` (mode 0600) and `PREFIX.pub`,
/// refusing to overwrite either. Returns both paths and the key id.
pub fn generate(prefix: &Path) -> Result<(PathBuf, PathBuf, String)> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("the system has no randomness to make a key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 v1 (no embedded public key): what OpenSSL 3 reads.
    let private = KeypairBytes { secret_key: key.to_bytes(), public_key: None }
        .to_pkcs8_pem(Default::default())
        .map_err(|e| anyhow!("encoding the private key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .map_err(|e| anyhow!("encoding the public key: {e}"))?;
    let (key_path, pub_path) = (with_suffix(prefix, "key"), with_suffix(prefix, "pub"));
    for path in [&key_path, &pub_path] {
        ensure!(
            !path.exists(),
            "{} exists; refusing to overwrite a key\nhelp: choose another prefix",
            path.display()
        );
    }
    write_new(&key_path, private.as_bytes(), 0o600)?;
    write_new(&pub_path, public.as_bytes(), 0o644)?;
    Ok((key_path, pub_path, key_id(&key.verifying_key())?))
}

/// Reads a PKCS#8 PEM private key.
pub fn load_signing(path: &Path) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        anyhow!(
            "{} is not an Ed25519 private key in PKCS#8 PEM ({e})\nhelp: make one with `reprocheck keygen`",
            path.display()
        )
    })
}

/// Reads an SPKI PEM public key.
pub fn load_verifying(path: &Path) -> Result<VerifyingKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading the key {}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
        anyhow!(
            "{} is not an Ed25519 public key in SPKI PEM ({e})\nhelp: pass the .pub file `reprocheck keygen` wrote",
            path.display()
        )
    })
}

/// Hex sha256 of the key's SPKI DER encoding.
pub fn key_id(key: &VerifyingKey) -> Result<String> {
    let der = key.to_public_key_der().map_err(|e| anyhow!("encoding the public key: {e}"))?;
    Ok(hex::encode(Sha256::digest(der.as_bytes())))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_are_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("rebuilder");
        let (key, public, id) = generate(&prefix).unwrap();
        let signing = load_signing(&key).unwrap();
        assert_eq!(load_verifying(&public).unwrap(), signing.verifying_key());
        assert_eq!(key_id(&signing.verifying_key()).unwrap(), id);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(generate(&prefix).unwrap_err().to_string().contains("refusing to overwrite"));
        assert!(load_verifying(&key).is_err(), "a private key is not a public key");
    }
}
