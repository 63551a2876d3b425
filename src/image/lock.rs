//! `packages.lock` beside a recipe: the exact Debian packages an image was
//! built from (name, version, architecture, sha256 of the .deb). Building
//! from a lock installs exactly those packages, so the image id follows from
//! the lock, not from the day the archive was read.

use crate::errors::*;
use crate::image::inputs::{legacy_fingerprint, Freshness, RecipeInputs};
use crate::image::python::LockedDistribution;
use crate::image::Recipe;
use crate::spec::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::spec::RECIPE_LOCK_FILE as LOCK_FILE;

/// The format version this build writes. Version 2 records the recipe's
/// inputs ([`RecipeInputs`]); version 1 only their digest, and is still read.
pub const LOCK_VERSION: u32 = 2;

/// The format that records only a digest of the recipe.
const LEGACY_LOCK_VERSION: u32 = 1;

/// One installed package, exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Package name.
    pub name: String,
    /// Debian version, epoch included.
    pub version: String,
    /// `amd64`, `all`, ...
    pub architecture: String,
    /// sha256 of the .deb, `sha256:<hex>`.
    pub sha256: Digest,
}

impl LockedPackage {
    /// `name_version_arch.deb`, as apt names a downloaded package (`:` as `%3a`).
    pub fn deb_file_name(&self) -> String {
        deb_file_name(&self.name, &self.version, &self.architecture)
    }
}

/// `name_version_arch.deb`, as apt names a downloaded package (`:` as `%3a`).
pub fn deb_file_name(name: &str, version: &str, architecture: &str) -> String {
    format!("{name}_{}_{architecture}.deb", version.replace(':', "%3a"))
}

/// A recipe's package lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLock {
    /// Format version.
    pub version: u32,
    /// The fingerprint of the recipe the lock was resolved for: of
    /// [`PackageLock::inputs`] (format 2), or the legacy digest (format 1).
    pub recipe: Digest,
    /// The mmdebstrap version that built [`PackageLock::image`]; another
    /// version may lay out the rootfs differently.
    pub mmdebstrap: String,
    /// sha256 of the rootfs tarball built from these packages.
    pub rootfs: Digest,
    /// The image id built from these packages.
    pub image: Digest,
    /// Every installed package, sorted by name and architecture.
    #[serde(rename = "package")]
    pub packages: Vec<LockedPackage>,
    /// The Python wheels installed after the packages, sorted by name.
    #[serde(default, rename = "python", skip_serializing_if = "Vec::is_empty")]
    pub python: Vec<LockedDistribution>,
    /// What the recipe said when the lock was resolved (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<RecipeInputs>,
}

/// A Debian package name: lowercase letters, digits and `+-.`, at least
/// two characters, starting with a letter or digit (Policy 5.6.1).
fn is_debian_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// A Debian version, `[epoch:]upstream[-revision]` (Policy 5.6.12): the
/// epoch digits, the upstream starting with a digit, then letters, digits
/// and `.+~-` (and `:` only after an epoch).
fn is_debian_version(version: &str) -> bool {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    let epoch_ok =
        epoch.is_none_or(|e| !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_digit()));
    epoch_ok
        && version.len() <= 256
        && rest.starts_with(|c: char| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~-".contains(c) || (c == ':' && epoch.is_some()))
}

/// A Debian architecture name (`amd64`, `all`, `kfreebsd-i386`).
fn is_debian_architecture(architecture: &str) -> bool {
    !architecture.is_empty()
        && architecture.len() <= 64
        && architecture.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A wheel's file name (PEP 427): one path component of letters, digits
/// and `_.+!-`, ending in `.whl`, with at least five dash-separated parts.
fn is_wheel_file_name(file: &str) -> bool {
    file.len() <= 255
        && !file.starts_with('.')
        && file.ends_with(".whl")
        && file.trim_end_matches(".whl").split('-').count() >= 5
        && file.chars().all(|c| c.is_ascii_alphanumeric() || "_.+!-".contains(c))
}

/// `DIR/packages.lock`.
pub fn lock_path(recipe_dir: &Path) -> PathBuf {
    recipe_dir.join(LOCK_FILE)
}

impl PackageLock {
    /// What the lock holds, for messages: `120 packages` or `120 packages and 5 Python wheels`.
    pub fn contents(&self) -> String {
        match self.python.len() {
            0 => format!("{} packages", self.packages.len()),
            wheels => format!("{} packages and {wheels} Python wheels", self.packages.len()),
        }
    }

    /// Reads `DIR/packages.lock`; `Ok(None)` when there is none.
    pub fn load(recipe_dir: &Path) -> Result<Option<PackageLock>> {
        let path = lock_path(recipe_dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = crate::spec::read_capped(&path, crate::spec::MAX_LOCK_SIZE)?;
        let lock: PackageLock = toml::from_str(&text).map_err(|e| {
            crate::spec::SpecError::at(&path, &text, e.span(), e.message().trim().to_string()).hint(
                "the lock is written by `reprocheck image build`; rewrite it with `reprocheck image build DIR --update`",
            )
        })?;
        ensure!(
            lock.version == LOCK_VERSION || lock.version == LEGACY_LOCK_VERSION,
            "{}: lock format version {} is not supported (this reprocheck reads versions \
             {LEGACY_LOCK_VERSION} and {LOCK_VERSION})",
            path.display(),
            lock.version
        );
        lock.validate(&path, &text)?;
        lock.validate_inputs(&path)?;
        Ok(Some(lock))
    }

    /// Format 2 records the recipe's inputs, and `recipe` is their
    /// fingerprint; format 1 records neither.
    fn validate_inputs(&self, path: &Path) -> Result<()> {
        let help = "help: the lock is written by `reprocheck image build`; restore it from version \
                    control, or rewrite it with `reprocheck image build DIR --update`";
        match (&self.inputs, self.version) {
            (None, LEGACY_LOCK_VERSION) => Ok(()),
            (Some(_), LEGACY_LOCK_VERSION) => {
                bail!("{}: a version 1 lock has no [inputs] table\n{help}", path.display())
            }
            (None, _) => bail!(
                "{}: a version {} lock records the recipe's inputs in an [inputs] table, and this one has none\n{help}",
                path.display(),
                self.version
            ),
            (Some(inputs), _) => {
                ensure!(
                    inputs.fingerprint() == self.recipe,
                    "{}: its [inputs] do not give its `recipe` fingerprint {} (the lock was edited by hand?)\n{help}",
                    path.display(),
                    self.recipe
                );
                Ok(())
            }
        }
    }

    /// Whether the lock was made for `recipe` as it is now, and if not, what changed.
    pub fn freshness(&self, recipe: &Recipe) -> Freshness {
        match &self.inputs {
            Some(locked) => match recipe.inputs.changes_since(locked) {
                changes if changes.is_empty() => Freshness::Current,
                changes => Freshness::Stale(changes),
            },
            None if self.recipe == legacy_fingerprint(recipe) => Freshness::CurrentLegacy,
            None => {
                let held: std::collections::BTreeSet<&str> =
                    self.packages.iter().map(|p| p.name.as_str()).collect();
                let missing: Vec<&str> =
                    recipe.packages.iter().map(String::as_str).filter(|p| !held.contains(p)).collect();
                let mut why =
                    "suite, variant, packages, Python requirements or source_date_epoch were others \
                               (a format-1 lock records only their digest, so which of them is not known)"
                        .to_string();
                if !missing.is_empty() {
                    why.push_str(&format!(
                        "; the recipe lists {}, which the lock does not hold",
                        missing.join(", ")
                    ));
                }
                Freshness::Stale(vec![why])
            }
        }
    }

    /// Every entry names a package or wheel by the grammar Debian and PyPI
    /// give names, versions and architectures, before any of them becomes
    /// a file name: a lock cannot send a copy outside the work directory.
    fn validate(&self, path: &Path, text: &str) -> Result<()> {
        let at = |value: &str| {
            let quoted = toml::Value::String(value.to_string()).to_string();
            let line = text.lines().position(|l| l.contains(&quoted)).map_or(0, |i| i + 1);
            format!("{}:{line}", path.display())
        };
        let help = "help: the lock is written by `reprocheck image build`; rewrite it with \
                    `reprocheck image build DIR --update`, or restore it from version control";
        for p in &self.packages {
            for (what, value, valid) in [
                ("package name", &p.name, is_debian_name(&p.name)),
                ("version", &p.version, is_debian_version(&p.version)),
                ("architecture", &p.architecture, is_debian_architecture(&p.architecture)),
            ] {
                ensure!(
                    valid,
                    "{}: the {what} {value:?} of package {:?} is not a valid Debian {what}\n{help}",
                    at(value),
                    p.name
                );
            }
        }
        for d in &self.python {
            ensure!(
                is_wheel_file_name(&d.file),
                "{}: {:?} is not a wheel file name (NAME-VERSION[-BUILD]-PY-ABI-PLATFORM.whl)\n{help}",
                at(&d.file),
                d.file
            );
        }
        Ok(())
    }

    /// Writes the lock as TOML, one package per line, so a change of version
    /// is a one-line diff.
    pub fn save(&self, recipe_dir: &Path) -> Result<PathBuf> {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let mut text = String::from(
            "# The exact packages `reprocheck image build` installed for recipe.toml.\n\
             # Commit it. Keep the .debs (`reprocheck image vendor DIR DEBS`) or use a snapshot\n\
             # archive, so the image can be rebuilt after the archive moves on (docs/images.md).\n",
        );
        text.push_str(&format!("version = {}\n", self.version));
        for (key, value) in [
            ("recipe", self.recipe.as_str()),
            ("mmdebstrap", &self.mmdebstrap),
            ("rootfs", self.rootfs.as_str()),
            ("image", self.image.as_str()),
        ] {
            text.push_str(&format!("{key} = {}\n", quote(value)));
        }
        let packages = self.packages.iter().map(|p| {
            [
                ("name", p.name.as_str()),
                ("version", &p.version),
                ("architecture", &p.architecture),
                ("sha256", p.sha256.as_str()),
            ]
        });
        push_array(&mut text, "package", packages);
        if !self.python.is_empty() {
            let wheels = self.python.iter().map(|d| {
                [
                    ("name", d.name.as_str()),
                    ("version", &d.version),
                    ("file", &d.file),
                    ("sha256", d.sha256.as_str()),
                ]
            });
            push_array(&mut text, "python", wheels);
        }
        if let Some(inputs) = &self.inputs {
            #[derive(Serialize)]
            struct Table<'a> {
                inputs: &'a RecipeInputs,
            }
            text.push_str("\n# What recipe.toml (and its bases) said when the packages were resolved.\n");
            text.push_str(&toml::to_string(&Table { inputs }).context("writing the recipe's inputs")?);
        }
        let path = lock_path(recipe_dir);
        crate::paths::write_atomically(&path, &text)?;
        Ok(path)
    }
}

/// Appends `key = [ ... ]` with one inline table of string fields a line.
fn push_array<'a, const N: usize>(
    text: &mut String,
    key: &str,
    rows: impl Iterator<Item = [(&'a str, &'a str); N]>,
) {
    text.push_str(&format!("{key} = [\n"));
    for row in rows {
        let fields: Vec<String> = row
            .iter()
            .map(|(name, value)| format!("{name} = {}", toml::Value::String(value.to_string())))
            .collect();
        text.push_str(&format!("  {{ {} }},\n", fields.join(", ")));
    }
    text.push_str("]\n");
}

/// How two package sets differ: what a change of image id comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackageDrift {
    /// Packages whose version changed: name, old version, new version.
    pub changed: Vec<(String, String, String)>,
    /// Packages only in the new set: name, version.
    pub added: Vec<(String, String)>,
    /// Packages only in the old set: name, version.
    pub removed: Vec<(String, String)>,
    /// Packages with the same version but other bytes (a rebuilt .deb): name, version.
    pub rebuilt: Vec<(String, String)>,
}

impl PackageDrift {
    /// The difference from `old` to `new`, by package name and architecture.
    pub fn between(old: &[LockedPackage], new: &[LockedPackage]) -> PackageDrift {
        let key = |p: &LockedPackage| (p.name.clone(), p.architecture.clone());
        let old: BTreeMap<_, _> = old.iter().map(|p| (key(p), p)).collect();
        let new: BTreeMap<_, _> = new.iter().map(|p| (key(p), p)).collect();
        let mut drift = PackageDrift::default();
        for (k, o) in &old {
            match new.get(k) {
                None => drift.removed.push((o.name.clone(), o.version.clone())),
                Some(n) if n.version != o.version => {
                    drift.changed.push((o.name.clone(), o.version.clone(), n.version.clone()))
                }
                Some(n) if n.sha256 != o.sha256 => drift.rebuilt.push((o.name.clone(), o.version.clone())),
                Some(_) => {}
            }
        }
        for (k, n) in &new {
            if !old.contains_key(k) {
                drift.added.push((n.name.clone(), n.version.clone()));
            }
        }
        drift
    }

    /// True when the two sets are the same packages, byte for byte.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty() && self.rebuilt.is_empty()
    }

    /// One line per package: `  libc6 2.36-9+deb12u10 -> 2.36-9+deb12u13`.
    pub fn lines(&self) -> String {
        let mut out = String::new();
        for (name, old, new) in &self.changed {
            out.push_str(&format!("  {name} {old} -> {new}\n"));
        }
        for (name, version) in &self.added {
            out.push_str(&format!("  {name} {version} (added)\n"));
        }
        for (name, version) in &self.removed {
            out.push_str(&format!("  {name} {version} (removed)\n"));
        }
        for (name, version) in &self.rebuilt {
            out.push_str(&format!("  {name} {version} (same version, other bytes)\n"));
        }
        out
    }

    /// `3 changed, 1 added, 0 removed`.
    pub fn counts(&self) -> String {
        let mut text = format!(
            "{} changed, {} added, {} removed",
            self.changed.len(),
            self.added.len(),
            self.removed.len()
        );
        if !self.rebuilt.is_empty() {
            text.push_str(&format!(", {} rebuilt", self.rebuilt.len()));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, version: &str, byte: char) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            sha256: Digest::parse(&format!("sha256:{}", byte.to_string().repeat(64))).unwrap(),
        }
    }

    /// A lock of `packages` and one wheel, `file`.
    fn sample_lock(packages: Vec<LockedPackage>, file: &str) -> PackageLock {
        let digest = |c: char| Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap();
        let (name, version) = (file.split('-').next().unwrap(), file.split('-').nth(1).unwrap());
        let inputs = RecipeInputs {
            suite: "bookworm".into(),
            variant: "apt".into(),
            source_date_epoch: 1,
            bases: Vec::new(),
            packages: vec!["build-essential".into()],
            build_depends: Vec::new(),
            python_requirements: None,
        };
        PackageLock {
            version: LOCK_VERSION,
            recipe: inputs.fingerprint(),
            inputs: Some(inputs),
            mmdebstrap: "1.3.5".into(),
            rootfs: digest('2'),
            image: digest('3'),
            packages,
            python: vec![LockedDistribution {
                name: name.replace('_', "-"),
                version: version.into(),
                file: file.into(),
                sha256: digest('4'),
            }],
        }
    }

    #[test]
    fn drift_names_changed_added_removed_and_rebuilt_packages() {
        let old =
            [package("libc6", "2.36-9+deb12u10", 'a'), package("gone", "1", 'b'), package("same", "1", 'c')];
        let new =
            [package("libc6", "2.36-9+deb12u13", 'd'), package("same", "1", 'e'), package("new", "2", 'f')];
        let drift = PackageDrift::between(&old, &new);
        assert_eq!(drift.changed, [("libc6".into(), "2.36-9+deb12u10".into(), "2.36-9+deb12u13".into())]);
        assert_eq!(drift.added, [("new".into(), "2".into())]);
        assert_eq!(drift.removed, [("gone".into(), "1".into())]);
        assert_eq!(drift.rebuilt, [("same".into(), "1".into())]);
        assert_eq!(drift.counts(), "1 changed, 1 added, 1 removed, 1 rebuilt");
        assert!(drift.lines().contains("  libc6 2.36-9+deb12u10 -> 2.36-9+deb12u13\n"));
        assert!(PackageDrift::between(&old, &old).is_empty());
    }

    #[test]
    fn a_lock_survives_a_round_trip_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let packages = vec![package("libstdc++6", "1:2.0~rc1-3+deb12u1", 'a'), package("c-d", "3", 'b')];
        let lock = sample_lock(packages, "setuptools-75.6.0-py3-none-any.whl");
        lock.save(dir.path()).unwrap();
        assert_eq!(PackageLock::load(dir.path()).unwrap(), Some(lock));
        assert_eq!(package("x", "1:2.0", 'a').deb_file_name(), "x_1%3a2.0_amd64.deb");
        let text = std::fs::read_to_string(lock_path(dir.path())).unwrap();
        std::fs::write(lock_path(dir.path()), text.replace("version = 2", "version = 2\nextra = 2")).unwrap();
        let err = PackageLock::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("packages.lock:5:1") && err.contains("extra"), "{err}");
        assert_eq!(PackageLock::load(&dir.path().join("none")).unwrap(), None);
    }

    /// Issue 32: a lock whose entries would become paths outside the work
    /// directory is refused when it is read, naming the line.
    #[test]
    fn entries_that_are_not_names_are_refused_before_any_file_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let good =
            sample_lock(vec![package("libc6", "2.36-9+deb12u13", 'a')], "flit_core-3.9.0-py3-none-any.whl");
        good.save(dir.path()).unwrap();
        assert!(PackageLock::load(dir.path()).is_ok());
        let text = std::fs::read_to_string(lock_path(dir.path())).unwrap();
        for (from, to, what) in [
            ("\"libc6\"", "\"../../../tmp/x\"", "package name"),
            ("\"libc6\"", "\"/etc/passwd\"", "package name"),
            ("\"2.36-9+deb12u13\"", "\"1/../../x\"", "version"),
            ("\"amd64\"", "\"amd64/../..\"", "architecture"),
            (
                "\"flit_core-3.9.0-py3-none-any.whl\"",
                "\"../flit_core-3.9.0-py3-none-any.whl\"",
                "wheel file name",
            ),
        ] {
            std::fs::write(lock_path(dir.path()), text.replace(from, to)).unwrap();
            let err = PackageLock::load(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("packages.lock:") && err.contains(what.split(' ').next().unwrap()),
                "{what}: {err}"
            );
        }
        assert!(is_debian_version("1:2.0~rc1+dfsg-3"));
        assert!(!is_debian_version("2:"));
        assert!(!is_debian_name("a") && is_debian_name("g++"));
    }
}
