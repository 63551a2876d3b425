//! `containers/<name>/recipe.toml`: how to build a toolchain image offline.

use crate::errors::*;
use crate::spec::SpecError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A validated recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Repository name the image is tagged with (`name:latest`), for `lock`.
    pub name: String,
    /// Debian suite, e.g. `bookworm`.
    pub suite: String,
    /// mmdebstrap variant; `apt` gives Essential packages plus apt.
    #[serde(default = "default_variant")]
    pub variant: String,
    /// Extra packages, e.g. `build-essential`.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Fixes every timestamp in the rootfs and the image config.
    pub source_date_epoch: u64,
    /// An apt sources file; default: the host's own.
    pub sources: Option<PathBuf>,
    /// A directory of the locked .debs (`reprocheck image vendor`), tried
    /// first when building from the lock.
    pub packages_dir: Option<PathBuf>,
    /// A snapshot archive's base URL (the layout of Debian's snapshot archive:
    /// `BASE/debian/TIME/`); with `snapshot_time`.
    pub snapshot: Option<String>,
    /// The snapshot's time, `YYYYMMDDTHHMMSSZ`.
    pub snapshot_time: Option<String>,
}

fn default_variant() -> String {
    "apt".to_string()
}

pub use crate::spec::RECIPE_FILE;

/// Host apt sources files, in the order they are tried.
const HOST_SOURCES: &[&str] = &["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];

impl Recipe {
    /// Reads `DIR/recipe.toml`.
    pub fn load(dir: &Path) -> Result<Recipe> {
        let file = dir.join(RECIPE_FILE);
        let text = crate::spec::read_capped(&file, crate::spec::MAX_SPEC_SIZE).with_context(|| {
            format!("cannot read {} (an image recipe directory holds a recipe.toml)", file.display())
        })?;
        let recipe: Recipe = toml::from_str(&text).map_err(|e| {
            SpecError::at(&file, &text, e.span(), e.message().trim().to_string())
                .hint("keys: name, suite, variant, packages, source_date_epoch, sources, packages_dir, snapshot, snapshot_time")
        })?;
        let safe =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:_".contains(c));
        ensure!(safe(&recipe.suite), "{}: suite `{}` is not a suite name", file.display(), recipe.suite);
        ensure!(
            safe(&recipe.variant),
            "{}: variant `{}` is not a variant name",
            file.display(),
            recipe.variant
        );
        for package in &recipe.packages {
            ensure!(safe(package), "{}: `{package}` is not a package name", file.display());
        }
        ensure!(
            recipe.snapshot.is_some() == recipe.snapshot_time.is_some(),
            "{}: `snapshot` and `snapshot_time` go together (the archive's base URL and the time to read it at)",
            file.display()
        );
        if let (Some(base), Some(time)) = (&recipe.snapshot, &recipe.snapshot_time) {
            crate::image::fetch::Snapshot::new(base, time).with_context(|| format!("{}", file.display()))?;
        }
        Ok(Recipe {
            sources: recipe.sources.map(|s| dir.join(s)),
            packages_dir: recipe.packages_dir.map(|s| dir.join(s)),
            ..recipe
        })
    }

    /// The apt sources file to feed mmdebstrap: the recipe's, else the host's.
    pub fn sources_file(&self) -> Result<PathBuf> {
        if let Some(path) = &self.sources {
            ensure!(path.is_file(), "the recipe's sources file {} does not exist", path.display());
            return Ok(path.clone());
        }
        HOST_SOURCES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
            anyhow!(
                "no host apt sources found (looked for {}); set `sources` in the recipe",
                HOST_SOURCES.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_rejects_shell_metacharacters() {
        let dir = tempfile::tempdir().unwrap();
        let write = |t: &str| std::fs::write(dir.path().join(RECIPE_FILE), t).unwrap();
        write("name = \"x\"\nsuite = \"bookworm\"\npackages = [\"gcc\"]\nsource_date_epoch = 1\n");
        let recipe = Recipe::load(dir.path()).unwrap();
        assert_eq!(recipe.variant, "apt");
        write("name = \"x\"\nsuite = \"bookworm\"\npackages = [\"gcc; rm -rf /\"]\nsource_date_epoch = 1\n");
        assert!(Recipe::load(dir.path()).unwrap_err().to_string().contains("not a package name"));
        write("name = \"x\"\nsuit = \"bookworm\"\n");
        let err = Recipe::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("recipe.toml:2:1"), "{err}");
    }
}
