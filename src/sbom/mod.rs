//! The toolchain's SBOM: which packages (and versions) the image a build
//! ran on holds, as an SPDX 2.3 JSON document written beside report.json
//! (`toolchain.spdx.json`), and as the provenance's resolved dependencies.
//!
//! The packages come from the lock the image was built from (exact: each
//! .deb's and wheel's sha256), or, for an image no lock describes, from the
//! image's own dpkg database ([`dpkg`]), marked as such.

pub mod dpkg;
pub mod purl;
pub mod spdx;

use crate::digest::Digest;
use crate::engine::Engine;
use crate::errors::*;
use crate::image::obtain::RegistryRecord;
use crate::image::pin::PinRecord;
use crate::image::PackageLock;
use std::path::{Path, PathBuf};

/// The SBOM's file in the results directory.
pub const SBOM_FILE: &str = "toolchain.spdx.json";

/// Who the toolchain image is, for the SBOM and the provenance: the one
/// place both take the image's identity from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdentity {
    /// The image id containers were created from (`sha256:` + config digest).
    pub id: Digest,
    /// The spec's `image.name`.
    pub name: Option<String>,
    /// The pin the id was resolved from, when it is another digest.
    pub pinned: Option<Digest>,
    /// A registry image: where it comes from and the digests it resolved to.
    pub registry: Option<RegistryRecord>,
}

impl ImageIdentity {
    /// The identity of the image `pin` resolved to; `None` before it resolved.
    pub fn of(pin: &PinRecord) -> Option<ImageIdentity> {
        let id = Digest::parse(pin.id.as_deref()?).ok()?;
        let pinned = pin.digest.clone().filter(|d| *d != id);
        Some(ImageIdentity { id, name: pin.name.clone(), pinned, registry: pin.registry.clone() })
    }

    /// The registry image's purl (`pkg:oci/…`), by the digest it was pinned by.
    pub fn purl(&self) -> Option<String> {
        let record = self.registry.as_ref()?;
        let reference = crate::registry::Reference::parse(&record.reference).ok()?;
        let digest = reference.digest.as_ref()?;
        let arch = record.platform.as_deref().and_then(|p| p.split('/').nth(1));
        Some(purl::oci(&reference.name(), digest.as_str(), reference.tag.as_deref(), arch))
    }

    /// The name the SBOM gives the image: the spec's name, else its id.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.to_string())
    }
}

/// Where an inventory's packages were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The recipe's `packages.lock`, which names the image.
    Lock(PathBuf),
    /// This machine's record of the lock it built the image from.
    BuildRecord(PathBuf),
    /// The image's own dpkg database: what it says is installed, with no
    /// .deb checksums; `malformed` entries were left out.
    ImageDatabase {
        /// Entries left out: a field missing or not as Debian spells it.
        malformed: usize,
    },
    /// Nowhere: only the image itself is described, for this reason.
    Unknown(String),
}

impl Origin {
    /// As report.json says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Lock(_) => "lock",
            Origin::BuildRecord(_) => "build-record",
            Origin::ImageDatabase { .. } => "image-dpkg-database",
            Origin::Unknown(_) => "none",
        }
    }

    /// The lock file read, when one was.
    pub fn lock(&self) -> Option<&Path> {
        match self {
            Origin::Lock(path) | Origin::BuildRecord(path) => Some(path),
            _ => None,
        }
    }

    /// A sentence on where the packages came from, for the SBOM and the report.
    pub fn describe(&self) -> String {
        match self {
            Origin::Lock(path) => format!(
                "The packages are those of the lock the image was built from ({}), with the sha256 of each .deb and wheel.",
                path.display()
            ),
            Origin::BuildRecord(path) => format!(
                "The packages are those of the lock this machine built the image from ({}), with the sha256 of each .deb and wheel.",
                path.display()
            ),
            Origin::ImageDatabase { malformed } => {
                let left_out = match malformed {
                    0 => String::new(),
                    n => format!(" {n} malformed entries were left out."),
                };
                format!(
                    "No lock describes the image: the packages are those its own dpkg database ({}) says are installed, \
                     unverified, with no .deb checksums.{left_out}",
                    dpkg::STATUS_FILE
                )
            }
            Origin::Unknown(why) => format!("The image's packages are not known: {why}."),
        }
    }
}

/// What kind of package a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Debian binary package.
    Deb,
    /// A Python wheel.
    Wheel,
}

/// One package of the toolchain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Component {
    /// Debian package or Python wheel.
    pub kind: Kind,
    /// Package name.
    pub name: String,
    /// Version (a Debian version with its epoch).
    pub version: String,
    /// A Debian package's architecture.
    pub architecture: Option<String>,
    /// The .deb's or wheel's file name, when known.
    pub file: Option<String>,
    /// The .deb's or wheel's sha256, when known.
    pub sha256: Option<Digest>,
}

impl Component {
    /// The package URL.
    pub fn purl(&self) -> String {
        match self.kind {
            Kind::Deb => purl::deb(&self.name, &self.version, self.architecture.as_deref().unwrap_or("")),
            Kind::Wheel => purl::pypi(&self.name, &self.version),
        }
    }
}

/// The toolchain image and its packages.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The image.
    pub image: ImageIdentity,
    /// Where the packages were read.
    pub origin: Origin,
    /// Its packages, sorted.
    pub components: Vec<Component>,
    /// When the toolchain was made (`YYYY-MM-DDThh:mm:ssZ`): the image's
    /// creation time, else its recipe's SOURCE_DATE_EPOCH; `None` when
    /// neither is known.
    pub created: Option<String>,
}

impl Inventory {
    /// The inventory of a lock's packages and wheels.
    pub fn from_lock(image: ImageIdentity, origin: Origin, lock: &PackageLock) -> Inventory {
        let debs = lock.packages.iter().map(|p| Component {
            kind: Kind::Deb,
            name: p.name.clone(),
            version: p.version.clone(),
            architecture: Some(p.architecture.clone()),
            file: Some(p.deb_file_name()),
            sha256: Some(p.sha256.clone()),
        });
        let wheels = lock.python.iter().map(|w| Component {
            kind: Kind::Wheel,
            name: w.name.clone(),
            version: w.version.clone(),
            architecture: None,
            file: Some(w.file.clone()),
            sha256: Some(w.sha256.clone()),
        });
        let mut components: Vec<Component> = debs.chain(wheels).collect();
        components.sort();
        let created = lock.inputs.as_ref().and_then(|i| rfc3339_seconds_of_epoch(i.source_date_epoch));
        Inventory { image, origin, components, created }
    }

    /// The inventory of what the image's dpkg database says is installed.
    pub fn from_database(image: ImageIdentity, installed: dpkg::Installed) -> Inventory {
        let components = installed
            .packages
            .into_iter()
            .map(|p| Component {
                kind: Kind::Deb,
                name: p.name,
                version: p.version,
                architecture: Some(p.architecture),
                file: None,
                sha256: None,
            })
            .collect();
        let origin = Origin::ImageDatabase { malformed: installed.malformed };
        Inventory { image, origin, components, created: None }
    }
}

/// The toolchain of the image `pin` resolved to: from the lock that names
/// it, else this machine's record of the lock it was built from, else the
/// image's dpkg database. `None` before the image resolved. Reading the
/// database can fail (the engine); that is said, and the SBOM describes
/// the image alone.
pub async fn gather(engine: &dyn Engine, pin: &PinRecord, run_id: &str) -> Option<Inventory> {
    let image = ImageIdentity::of(pin)?;
    let mut inventory = match locked(pin, &image) {
        Some((lock, origin)) => Inventory::from_lock(image.clone(), origin, &lock),
        None => match read_database(engine, &image, run_id).await {
            Ok(Some(installed)) => Inventory::from_database(image.clone(), installed),
            Ok(None) => Inventory {
                image: image.clone(),
                origin: Origin::Unknown(format!(
                    "no lock names the image, and it has no {}",
                    dpkg::STATUS_FILE
                )),
                components: Vec::new(),
                created: None,
            },
            Err(e) => {
                crate::errln!("warning: the toolchain's SBOM lists no packages: {e:#}");
                Inventory {
                    image: image.clone(),
                    origin: Origin::Unknown(format!("reading the image's dpkg database failed: {e:#}")),
                    components: Vec::new(),
                    created: None,
                }
            }
        },
    };
    let inspected = engine.inspect_image(image.id.as_str()).await.ok().flatten();
    if let Some(created) = inspected.and_then(|i| i.created).and_then(|c| rfc3339_seconds(&c)) {
        inventory.created = Some(created);
    }
    Some(inventory)
}

/// What the image's dpkg database lists; `Ok(None)` when it has none.
async fn read_database(
    engine: &dyn Engine,
    image: &ImageIdentity,
    run_id: &str,
) -> Result<Option<dpkg::Installed>> {
    let status = dpkg::read_status(engine, image.id.as_str(), run_id).await?;
    status.map(|text| dpkg::parse_status(&text)).transpose()
}

/// The lock whose image is `image`: the recipe's, else this machine's record.
fn locked(pin: &PinRecord, image: &ImageIdentity) -> Option<(PackageLock, Origin)> {
    let names_image = |lock: &PackageLock| lock.image == image.id;
    if let Some(path) = &pin.lock {
        let dir = path.parent().unwrap_or(Path::new("."));
        match PackageLock::load(dir) {
            Ok(Some(lock)) if names_image(&lock) => return Some((lock, Origin::Lock(path.clone()))),
            Ok(_) => {}
            Err(e) => tracing::warn!("the toolchain's SBOM does not use {}: {e:#}", path.display()),
        }
    }
    let record = crate::image::manifest_of(&image.id).filter(names_image)?;
    let path = crate::paths::cache_dir("images")?.join(image.id.hex()).join(crate::image::lock::LOCK_FILE);
    Some((record, Origin::BuildRecord(path)))
}

/// `text` (RFC 3339, any precision) as `YYYY-MM-DDThh:mm:ssZ`, the form SPDX takes.
fn rfc3339_seconds(text: &str) -> Option<String> {
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    Some(humantime::format_rfc3339_seconds(time).to_string())
}

/// Seconds since 1970 as `YYYY-MM-DDThh:mm:ssZ`.
fn rfc3339_seconds_of_epoch(epoch: u64) -> Option<String> {
    // Past 9999-12-31 RFC 3339 has no year to write.
    let epoch = Some(epoch).filter(|e| *e <= 253_402_300_799)?;
    let time = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(epoch))?;
    Some(humantime::format_rfc3339_seconds(time).to_string())
}

/// The SBOM as written: where, its digest, and what it lists.
#[derive(Debug, Clone)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// sha256 of its bytes.
    pub sha256: Digest,
    /// Packages and wheels listed (the image itself not counted).
    pub packages: usize,
    /// Where they came from.
    pub origin: Origin,
}

/// Writes `inventory` as SPDX 2.3 JSON to `DIR/toolchain.spdx.json`;
/// `fallback_time` (RFC 3339) stands in for an unknown creation time.
pub fn write(inventory: &Inventory, dir: &Path, fallback_time: &str) -> Result<Written> {
    let document = spdx::document(inventory, fallback_time);
    let mut bytes = serde_json::to_vec_pretty(&document).context("serialising the toolchain's SBOM")?;
    bytes.push(b'\n');
    let path = dir.join(SBOM_FILE);
    crate::paths::write_atomically(&path, &bytes)?;
    Ok(Written {
        path,
        sha256: Digest::of_bytes(&bytes),
        packages: inventory.components.len(),
        origin: inventory.origin.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_become_whole_seconds_in_utc() {
        assert_eq!(
            rfc3339_seconds("2025-05-20T00:00:00.123456789Z").as_deref(),
            Some("2025-05-20T00:00:00Z")
        );
        assert_eq!(rfc3339_seconds("2025-05-20T00:00:00Z").as_deref(), Some("2025-05-20T00:00:00Z"));
        assert_eq!(rfc3339_seconds("yesterday"), None);
        assert_eq!(rfc3339_seconds_of_epoch(1747699200).as_deref(), Some("2025-05-20T00:00:00Z"));
        assert_eq!(rfc3339_seconds_of_epoch(u64::MAX), None);
    }
}
