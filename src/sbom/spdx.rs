//! The toolchain's inventory as an SPDX 2.3 JSON document: a package for
//! the image, one per .deb and wheel (purl, sha256 of the file where the
//! lock knows it), the image CONTAINS each, the document DESCRIBES the
//! image. Everything is sorted and the time is the toolchain's, so the same
//! toolchain gives the same bytes.

use super::{Component, Inventory, Kind, Origin};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// The image package's SPDX id.
pub const IMAGE_ID: &str = "SPDXRef-Image";

/// The document for `inventory`; `fallback_time` (RFC 3339) is its
/// creation time when the toolchain's own is unknown.
pub fn document(inventory: &Inventory, fallback_time: &str) -> Value {
    let image = &inventory.image;
    let created = inventory
        .created
        .clone()
        .or_else(|| super::rfc3339_seconds(fallback_time))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let mut packages = vec![image_package(inventory)];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": IMAGE_ID,
    })];
    for (index, component) in inventory.components.iter().enumerate() {
        let id = package_id(index, component);
        relationships.push(json!({
            "spdxElementId": IMAGE_ID,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
        packages.push(package(&id, component, &inventory.origin));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("toolchain {}", image.display_name()),
        "documentNamespace": namespace(inventory),
        "comment": format!(
            "The toolchain image reprocheck built in, {} ({}). {}",
            image.display_name(),
            image.id,
            inventory.origin.describe()
        ),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: {}-{}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

/// `urn:reprocheck:toolchain-sbom:IMAGE:LIST`: the image id and a digest
/// of what the document lists, so one toolchain has one namespace and
/// documents that list other things have others.
fn namespace(inventory: &Inventory) -> String {
    let mut listed = Sha256::new();
    listed.update(inventory.origin.as_str());
    for c in &inventory.components {
        let sha = c.sha256.as_ref().map(|d| d.as_str()).unwrap_or("");
        listed.update(format!("\n{} {sha}", c.purl()));
    }
    let listed = hex::encode(&listed.finalize()[..8]);
    format!("urn:reprocheck:toolchain-sbom:{}:{listed}", inventory.image.id.hex())
}

fn image_package(inventory: &Inventory) -> Value {
    let image = &inventory.image;
    let mut comment = format!("The image id is the sha256 of the image's configuration, {}.", image.id);
    if let Some(pinned) = &image.pinned {
        comment.push_str(&format!(" It was pinned as {pinned}."));
    }
    if let Some(registry) = &image.registry {
        comment.push_str(&format!(" It comes from the registry as {}", registry.reference));
        if let (Some(index), Some(platform)) = (&registry.index, &registry.platform) {
            comment.push_str(&format!(", an index ({index}) whose {platform} image"));
        }
        if let Some(manifest) = &registry.manifest {
            comment.push_str(&format!(" has the manifest {manifest}"));
        }
        comment.push('.');
    }
    let mut package = json!({
        "SPDXID": IMAGE_ID,
        "name": image.display_name(),
        "versionInfo": image.id.as_str(),
        "primaryPackagePurpose": "CONTAINER",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "supplier": "NOASSERTION",
        "checksums": [{ "algorithm": "SHA256", "checksumValue": image.id.hex() }],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "comment": comment,
    });
    if let Some(purl) = image.purl() {
        package["externalRefs"] = json!([{ "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl }]);
    }
    package
}

/// `SPDXRef-deb-12-libstdc--6`: the kind, the index (unique), the name in
/// the characters an SPDX id allows.
fn package_id(index: usize, component: &Component) -> String {
    let kind = match component.kind {
        Kind::Deb => "deb",
        Kind::Wheel => "wheel",
    };
    let name: String =
        component.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect();
    format!("SPDXRef-{kind}-{index}-{name}")
}

fn package(id: &str, component: &Component, origin: &Origin) -> Value {
    let mut package = json!({
        "SPDXID": id,
        "name": component.name,
        "versionInfo": component.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "supplier": "NOASSERTION",
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": component.purl(),
        }],
    });
    if let Some(file) = &component.file {
        package["packageFileName"] = json!(file);
    }
    if let Some(sha256) = &component.sha256 {
        package["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": sha256.hex() }]);
    }
    let source = match origin {
        Origin::Lock(path) | Origin::BuildRecord(path) => format!("locked in {}", path.display()),
        Origin::ImageDatabase { .. } => format!(
            "read from the image's own package database ({}); not verified against any .deb",
            super::dpkg::STATUS_FILE
        ),
        Origin::Unknown(_) => String::new(),
    };
    package["sourceInfo"] = json!(source);
    package
}

#[cfg(test)]
mod tests {
    use super::super::{dpkg, ImageIdentity};
    use super::*;
    use crate::digest::Digest;

    fn image() -> ImageIdentity {
        ImageIdentity {
            id: Digest::of_bytes(b"image"),
            name: Some("r/debian".into()),
            pinned: None,
            registry: None,
        }
    }

    fn lock_inventory() -> Inventory {
        let text = format!(
            "version = 1\nrecipe = \"{d}\"\nmmdebstrap = \"1\"\nrootfs = \"{d}\"\nimage = \"{i}\"\n\
             package = [{{ name = \"libstdc++6\", version = \"1:12.2+b1\", architecture = \"amd64\", sha256 = \"{d}\" }},\n\
             {{ name = \"bash\", version = \"5.2\", architecture = \"amd64\", sha256 = \"{d}\" }}]\n\
             python = [{{ name = \"wheel\", version = \"0.43.0\", file = \"wheel-0.43.0-py3-none-any.whl\", sha256 = \"{d}\" }}]\n",
            d = Digest::of_bytes(b"x"),
            i = image().id
        );
        let lock: crate::image::PackageLock = toml::from_str(&text).unwrap();
        Inventory::from_lock(image(), Origin::Lock("r/packages.lock".into()), &lock)
    }

    #[test]
    fn a_locked_toolchain_lists_every_package_with_its_purl_and_checksum() {
        let doc = document(&lock_inventory(), "2026-01-02T03:04:05.6Z");
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["creationInfo"]["created"], "2026-01-02T03:04:05Z");
        let packages = doc["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 4, "the image, two .debs and a wheel");
        assert_eq!(packages[0]["SPDXID"], IMAGE_ID);
        assert_eq!(packages[0]["checksums"][0]["checksumValue"], image().id.hex());
        let libstdc = packages.iter().find(|p| p["name"] == "libstdc++6").unwrap();
        assert_eq!(
            libstdc["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libstdc%2B%2B6@1:12.2%2Bb1?arch=amd64"
        );
        assert_eq!(libstdc["checksums"][0]["checksumValue"], Digest::of_bytes(b"x").hex());
        assert_eq!(libstdc["packageFileName"], "libstdc++6_1%3a12.2+b1_amd64.deb");
        assert!(libstdc["SPDXID"].as_str().unwrap().starts_with("SPDXRef-deb-"));
        let wheel = packages.iter().find(|p| p["name"] == "wheel").unwrap();
        assert_eq!(wheel["externalRefs"][0]["referenceLocator"], "pkg:pypi/wheel@0.43.0");
        let relationships = doc["relationships"].as_array().unwrap();
        assert_eq!(relationships[0]["relationshipType"], "DESCRIBES");
        let contained: Vec<&Value> = relationships[1..].iter().map(|r| &r["relatedSpdxElement"]).collect();
        let ids: Vec<&Value> = packages[1..].iter().map(|p| &p["SPDXID"]).collect();
        assert_eq!(contained, ids, "the image CONTAINS each package");
    }

    #[test]
    fn the_same_toolchain_gives_the_same_document_and_another_another_namespace() {
        let inventory = lock_inventory();
        assert_eq!(
            document(&inventory, "2026-01-01T00:00:00Z"),
            document(&inventory, "2026-01-01T00:00:00Z")
        );
        let mut timed = inventory.clone();
        timed.created = Some("2025-05-20T00:00:00Z".into());
        assert_eq!(document(&timed, "2026-01-01T00:00:00Z"), document(&timed, "2027-01-01T00:00:00Z"));
        let mut fewer = inventory.clone();
        fewer.components.pop();
        assert_ne!(
            document(&fewer, "x")["documentNamespace"],
            document(&inventory, "x")["documentNamespace"]
        );
    }

    #[test]
    fn packages_from_the_image_database_say_so_and_claim_no_checksum() {
        let installed = dpkg::parse_status(
            "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2\n",
        )
        .unwrap();
        let doc = document(&Inventory::from_database(image(), installed), "2026-01-01T00:00:00Z");
        let bash = &doc["packages"][1];
        assert!(bash.get("checksums").is_none(), "{bash}");
        assert!(bash["sourceInfo"].as_str().unwrap().contains("/var/lib/dpkg/status"), "{bash}");
        assert!(doc["comment"].as_str().unwrap().contains("dpkg database"), "{}", doc["comment"]);
    }
}
