//! `sha256:<hex>` digests: file contents, NAR hashes, image ids, spec and
//! lock hashes all use this one type and its hashing helpers.

use std::fmt;
use std::path::Path;

/// A content digest, always `sha256:` followed by 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`, explaining what is wrong otherwise.
    pub fn parse(text: &str) -> std::result::Result<Digest, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!(
                "digest `{text}` has no algorithm prefix; expected `sha256:<64 hex digits>`"
            ));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "digest algorithm `{algorithm}` is not supported; expected `sha256:<64 hex digits>`"
            ));
        }
        if hex.len() != 64 {
            return Err(format!("digest `{text}` has {} hex digits after `sha256:`; expected 64", hex.len()));
        }
        if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("digest `{text}` contains `{bad}`, which is not a hex digit"));
        }
        if hex.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("digest `{text}` uses uppercase hex; digests are written in lowercase"));
        }
        Ok(Digest(text.to_string()))
    }

    /// The sha256 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest::from_sha256(&sha2::Sha256::digest(bytes))
    }

    /// The sha256 of the file at `path`.
    pub fn of_file(path: &Path) -> crate::errors::Result<Digest> {
        use crate::errors::Context;
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Digest::of_reader(file).with_context(|| format!("hashing {}", path.display()))
    }

    /// The sha256 of everything `reader` yields, read in 1 MiB blocks.
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<Digest> {
        use sha2::Digest as _;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(Digest::from_sha256(&hasher.finalize())),
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Builds a digest from raw sha256 bytes.
    pub fn from_sha256(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    /// The full `sha256:<hex>` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Just the hex part.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits, for terminal display.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Digest {
    type Err = String;

    fn from_str(text: &str) -> Result<Digest, String> {
        Digest::parse(text)
    }
}
