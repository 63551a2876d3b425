//! `REGISTRY/REPOSITORY[:TAG][@sha256:…]`: an image in a registry, with its
//! registry always written out. reprocheck never guesses a default registry
//! and never resolves a short name, so a reference reads the same on every
//! machine.

use crate::digest::Digest;
use std::fmt;

/// An image reference that names its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, as written.
    pub registry: String,
    /// The repository path inside the registry (`library/rust`, `team/toolchain`).
    pub repository: String,
    /// The tag, when one is written; informational once a digest pins the image.
    pub tag: Option<String>,
    /// The manifest (or index) digest that pins the image.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference, explaining what is wrong otherwise.
    pub fn parse(text: &str) -> std::result::Result<Reference, String> {
        if text.trim() != text || text.is_empty() {
            return Err(format!("`{text}` is not an image reference: it is empty or has surrounding spaces"));
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(Digest::parse(digest)?)),
            None => (text, None),
        };
        let (registry, path) = name.split_once('/').ok_or_else(|| no_registry(text))?;
        if !names_a_registry(registry) {
            return Err(no_registry(text));
        }
        // A tag follows the last `:` of the last path component (a port's `:` is in the registry part).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (path, None),
        };
        check_repository(repository).map_err(|why| format!("`{text}`: {why}"))?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(|why| format!("`{text}`: {why}"))?;
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `REGISTRY/REPOSITORY`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `REGISTRY/REPOSITORY@DIGEST`: what is pulled, never a tag.
    pub fn by_digest(&self, digest: &Digest) -> String {
        format!("{}@{digest}", self.name())
    }

    /// The same reference pinned to `digest`, its tag kept.
    pub fn pinned_to(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }

    /// Whether the registry is on this machine's loopback interface, where
    /// reprocheck (like Docker) speaks plain HTTP.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => self.registry.split(':').next().unwrap_or(&self.registry),
        };
        host == "localhost" || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Docker's rule: the first component is a registry when it holds a `.` or
/// a `:`, or is `localhost`.
fn names_a_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn no_registry(text: &str) -> String {
    format!(
        "`{text}` names no registry; write it as REGISTRY/REPOSITORY[:TAG]@sha256:<digest> \
         (the registry is the host your engine pulls from, e.g. `HOST/library/rust:1.83`): \
         reprocheck never guesses a default registry"
    )
}

fn check_repository(repository: &str) -> std::result::Result<(), String> {
    if repository.is_empty() || repository.len() > 255 {
        return Err("the repository path is empty or longer than 255 characters".into());
    }
    for component in repository.split('/') {
        let ok = !component.is_empty()
            && component.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "repository component `{component}` must be lowercase letters, digits and `._-`, \
                 starting and ending with a letter or digit"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let ok = (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "tag `{tag}` must be 1 to 128 of letters, digits and `_.-`, not starting with `.` or `-`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1f5078130412123826f99d956bab34ba151c69c5a0565e86a0cd684b69bea017";

    #[test]
    fn full_references_parse_into_their_parts() {
        let r = Reference::parse(&format!("127.0.0.1:5000/team/toolchain:1.2@{D}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/toolchain");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_ref().unwrap().as_str(), D);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/team/toolchain:1.2@{D}"));
        assert_eq!(r.by_digest(r.digest.as_ref().unwrap()), format!("127.0.0.1:5000/team/toolchain@{D}"));
        let r = Reference::parse("registry.example/x").unwrap();
        assert_eq!((r.tag, r.digest), (None, None));
        let r = Reference::parse("localhost/x/y:latest").unwrap();
        assert_eq!(r.tag.as_deref(), Some("latest"));
    }

    #[test]
    fn short_names_and_bad_parts_are_refused_with_the_reason() {
        assert!(Reference::parse("rust:1.83").unwrap_err().contains("names no registry"));
        assert!(Reference::parse("library/rust").unwrap_err().contains("names no registry"));
        assert!(Reference::parse("reg.example/Team/x").unwrap_err().contains("lowercase"));
        assert!(Reference::parse("reg.example/x:-bad").unwrap_err().contains("tag"));
        assert!(Reference::parse("reg.example/x@sha256:abc").unwrap_err().contains("64"));
        assert!(Reference::parse("reg.example/x@md5:abc").unwrap_err().contains("not supported"));
        assert!(Reference::parse(" reg.example/x").is_err());
        assert!(Reference::parse("reg.example/").is_err());
    }

    #[test]
    fn loopback_registries_are_told_apart() {
        for loopback in ["127.0.0.1:5000/x", "localhost:5000/x", "localhost/x", "[::1]:5000/x", "127.1.2.3/x"]
        {
            assert!(Reference::parse(loopback).unwrap().is_loopback(), "{loopback}");
        }
        for remote in ["registry.example/x", "10.0.0.1:5000/x", "127.0.0.1.example/x"] {
            assert!(!Reference::parse(remote).unwrap().is_loopback(), "{remote}");
        }
    }
}
