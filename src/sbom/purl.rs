//! Package URLs (purl) of the toolchain's packages, encoded as the purl
//! specification says: every character other than the alphanumerics, the
//! punctuation `.-_~` and `:` is percent-encoded (so a Debian `+` is `%2B`),
//! and a Debian epoch stays in the version (`1:2.38.1-5%2Bdeb12u3`), as the
//! `deb` type's own examples have it.

/// `value` percent-encoded as a purl component: UTF-8 octets outside the
/// alphanumerics, `.-_~` and `:` become `%XX`.
pub fn encode(value: &str) -> String {
    crate::percent::encode(value, b":")
}

/// `pkg:deb/debian/NAME@VERSION?arch=ARCH`. Debian names are lowercase already.
pub fn deb(name: &str, version: &str, architecture: &str) -> String {
    format!(
        "pkg:deb/debian/{}@{}?arch={}",
        encode(&name.to_ascii_lowercase()),
        encode(version),
        encode(architecture)
    )
}

/// `pkg:pypi/NAME@VERSION`, the name lowercased with `_` as `-` (the
/// `pypi` type's normalisation).
pub fn pypi(name: &str, version: &str) -> String {
    let name = name.to_ascii_lowercase().replace('_', "-");
    format!("pkg:pypi/{}@{}", encode(&name), encode(version))
}

/// `pkg:oci/NAME@sha256%3A…?arch=…&repository_url=REGISTRY/REPO&tag=…`: a
/// registry image by the digest it was pinned by (the `oci` type; `NAME` is
/// the repository's last component, qualifiers in sorted order, `/` kept in
/// the repository URL as the type's examples write it).
pub fn oci(repository_url: &str, digest: &str, tag: Option<&str>, arch: Option<&str>) -> String {
    let name = repository_url.rsplit('/').next().unwrap_or(repository_url).to_ascii_lowercase();
    let mut qualifiers = Vec::new();
    if let Some(arch) = arch {
        qualifiers.push(format!("arch={}", encode(arch)));
    }
    let url: Vec<String> = repository_url.split('/').map(encode).collect();
    qualifiers.push(format!("repository_url={}", url.join("/")));
    if let Some(tag) = tag {
        qualifiers.push(format!("tag={}", encode(tag)));
    }
    format!("pkg:oci/{}@{}?{}", encode(&name), digest.replace(':', "%3A"), qualifiers.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `oci` type's example, and a loopback registry's port.
    #[test]
    fn oci_purls_are_as_the_type_definition_shows() {
        assert_eq!(
            oci("docker.io/library/debian", "sha256:244fd47e07d10", Some("latest"), Some("amd64")),
            "pkg:oci/debian@sha256%3A244fd47e07d10?arch=amd64&repository_url=docker.io/library/debian&tag=latest"
        );
        assert_eq!(
            oci("127.0.0.1:5000/team/Toolchain", "sha256:ab", None, None),
            "pkg:oci/toolchain@sha256%3Aab?repository_url=127.0.0.1:5000/team/Toolchain"
        );
    }

    /// The `deb` type's examples, character for character.
    #[test]
    fn deb_purls_are_as_the_type_definition_shows() {
        assert_eq!(deb("dpkg", "1.19.0.4", "amd64"), "pkg:deb/debian/dpkg@1.19.0.4?arch=amd64");
        assert_eq!(deb("attr", "1:2.4.47-2+b1", "amd64"), "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64");
        assert_eq!(
            deb("libc6", "2.41-12+deb13u5", "amd64"),
            "pkg:deb/debian/libc6@2.41-12%2Bdeb13u5?arch=amd64"
        );
    }

    #[test]
    fn names_and_versions_keep_only_the_permitted_characters() {
        assert_eq!(
            deb("libstdc++6", "12.2.0-14~x", "all"),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14~x?arch=all"
        );
        assert_eq!(encode("a b/é?#&=@%"), "a%20b%2F%C3%A9%3F%23%26%3D%40%25");
        assert_eq!(pypi("Typing_Extensions", "4.12.2"), "pkg:pypi/typing-extensions@4.12.2");
        assert_eq!(pypi("torch", "2.3.0+cpu"), "pkg:pypi/torch@2.3.0%2Bcpu");
    }
}
