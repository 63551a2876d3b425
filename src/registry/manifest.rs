//! From a pinned reference to the image an engine will run: the index (for
//! a multi-platform image), this platform's manifest, and its config
//! digest, which is the image id Docker and Podman give the pulled image.
//! Every manifest is checked against the digest it was asked by.

use super::client::{Fetched, RegistryClient};
use super::reference::Reference;
use crate::digest::Digest;
use crate::errors::*;
use serde_json::Value;

/// An engine's platform, as OCI indexes name them: `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v8`, `v7`, … when the engine names one.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/architecture[/variant]`.
    pub fn parse(text: &str) -> Result<Platform> {
        let mut parts = text.split('/');
        let (Some(os), Some(architecture)) = (parts.next(), parts.next()) else {
            bail!("`{text}` is not a platform; expected os/architecture, e.g. linux/amd64");
        };
        Ok(Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: parts.next().map(str::to_string),
        })
    }

    /// Whether an index entry's `platform` object is this platform.
    fn matches(&self, platform: &Value) -> bool {
        let variant = platform["variant"].as_str();
        platform["os"].as_str() == Some(&self.os)
            && platform["architecture"].as_str() == Some(&self.architecture)
            && match (&self.variant, variant) {
                (Some(ours), Some(theirs)) => ours == theirs,
                // arm64 images rarely say v8; an entry without a variant fits any.
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// What a reference resolves to on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The reference, pinned to the digest it resolved to (index or manifest).
    pub reference: Reference,
    /// The index digest, when the reference names a multi-platform image.
    pub index: Option<Digest>,
    /// This platform's image manifest.
    pub manifest: Digest,
    /// The image config's digest: the image id of the pulled image.
    pub config: Digest,
    /// The platform the manifest was chosen for.
    pub platform: Platform,
    /// The credentials the registry was read with, for the engine's pull
    /// (asked once: a credential helper may prompt).
    pub credentials: Option<super::Credentials>,
}

/// Resolves `reference` (by its digest when it has one, else its tag) to
/// this platform's manifest and config. Content served for a digest must
/// hash to it.
pub async fn resolve(
    client: &RegistryClient,
    reference: &Reference,
    platform: &Platform,
) -> Result<Resolved> {
    let asked = match (&reference.digest, &reference.tag) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.clone(),
        (None, None) => "latest".to_string(),
    };
    let top = client.manifest(reference, &asked).await?;
    if let Some(digest) = &reference.digest {
        check_digest(&top, digest, reference)?;
    }
    let pinned = reference.pinned_to(top.digest.clone());
    let document = parse(&top, reference)?;
    if let Some(entries) = document["manifests"].as_array() {
        let entry = entries.iter().find(|entry| platform.matches(&entry["platform"])).with_context(|| {
            let offered: Vec<String> = entries
                .iter()
                .filter_map(|e| {
                    let p = &e["platform"];
                    Some(format!("{}/{}", p["os"].as_str()?, p["architecture"].as_str()?))
                })
                .collect();
            format!(
                "{pinned} is a multi-platform image without {platform} (it has {})\n\
                     help: pin an image built for {platform}",
                if offered.is_empty() { "no platforms listed".to_string() } else { offered.join(", ") }
            )
        })?;
        let digest = entry["digest"]
            .as_str()
            .map(Digest::parse)
            .transpose()
            .map_err(|e| anyhow!("{pinned}: an index entry has a bad digest: {e}"))?
            .with_context(|| format!("{pinned}: the index entry for {platform} has no digest"))?;
        let manifest = client.manifest(reference, digest.as_str()).await?;
        check_digest(&manifest, &digest, reference)?;
        let config = config_of(&parse(&manifest, reference)?, reference, &digest)?;
        return Ok(Resolved {
            reference: pinned,
            index: Some(top.digest),
            manifest: digest,
            config,
            platform: platform.clone(),
            credentials: None,
        });
    }
    let config = config_of(&document, reference, &top.digest)?;
    Ok(Resolved {
        reference: pinned,
        index: None,
        manifest: top.digest,
        config,
        platform: platform.clone(),
        credentials: None,
    })
}

fn check_digest(fetched: &Fetched, expected: &Digest, reference: &Reference) -> Result<()> {
    ensure!(
        fetched.digest == *expected,
        "the registry {} served {} bytes for {expected} in {} whose sha256 is {}: refusing them, nothing was pulled",
        reference.registry,
        fetched.body.len(),
        reference.repository,
        fetched.digest
    );
    Ok(())
}

fn parse(fetched: &Fetched, reference: &Reference) -> Result<Value> {
    let document: Value = serde_json::from_slice(&fetched.body).with_context(|| {
        format!(
            "the manifest {} of {} is not JSON ({})",
            fetched.digest,
            reference.name(),
            fetched.media_type
        )
    })?;
    match document["schemaVersion"].as_i64() {
        Some(2) => Ok(document),
        Some(1) => bail!(
            "{} is a Docker schema 1 manifest, which has no content-addressed config\n\
             help: push the image again with a current client (schema 2 or OCI)",
            reference.name()
        ),
        // An image config (or any other blob) served for a manifest digest is not a manifest.
        _ => bail!(
            "{} {} is not an image manifest or index (no schemaVersion 2): refusing it",
            reference.name(),
            fetched.digest
        ),
    }
}

fn config_of(manifest: &Value, reference: &Reference, digest: &Digest) -> Result<Digest> {
    let config = manifest["config"]["digest"].as_str().with_context(|| {
        format!(
            "the manifest {digest} of {} has no config digest (is it an image manifest?)",
            reference.name()
        )
    })?;
    Digest::parse(config).map_err(|e| anyhow!("the manifest {digest} of {}: {e}", reference.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(body: &str) -> Fetched {
        Fetched {
            digest: Digest::of_bytes(body.as_bytes()),
            media_type: String::new(),
            body: body.to_string().into(),
        }
    }

    #[test]
    fn only_schema_2_manifests_and_indexes_are_read() {
        let reference = Reference::parse("reg.example/x").unwrap();
        // An image config served under a manifest digest has a config-like body but no schemaVersion.
        let config = r#"{"architecture":"amd64","os":"linux","config":{"digest":"sha256:00"},"rootfs":{}}"#;
        let err = parse(&fetched(config), &reference).unwrap_err().to_string();
        assert!(err.contains("not an image manifest"), "{err}");
        assert!(parse(&fetched(r#"{"schemaVersion":1}"#), &reference)
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
        let manifest = r#"{"schemaVersion":2,"config":{"digest":"sha256:aa"}}"#;
        assert!(parse(&fetched(manifest), &reference).is_ok());
    }

    #[test]
    fn platforms_match_with_and_without_variants() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        let arm64 = Platform::parse("linux/arm64/v8").unwrap();
        let entry = |os: &str, arch: &str, variant: Option<&str>| {
            let mut v = serde_json::json!({"os": os, "architecture": arch});
            if let Some(variant) = variant {
                v["variant"] = variant.into();
            }
            v
        };
        assert!(amd64.matches(&entry("linux", "amd64", None)));
        assert!(!amd64.matches(&entry("linux", "arm64", None)));
        assert!(!amd64.matches(&entry("unknown", "unknown", None)));
        assert!(arm64.matches(&entry("linux", "arm64", None)));
        assert!(arm64.matches(&entry("linux", "arm64", Some("v8"))));
        assert!(!arm64.matches(&entry("linux", "arm64", Some("v9"))));
        assert_eq!(arm64.to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux").is_err());
    }
}
