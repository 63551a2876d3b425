//! `containers/<name>/recipe.toml`: how to build a toolchain image offline.

use crate::errors::*;
use crate::image::inputs::{InputFile, RecipeInputs};
use crate::spec::SpecError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A validated recipe, with its base (if any) folded in.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Repository name the image is tagged with (`name:latest`), for `lock`.
    pub name: String,
    /// Debian suite, e.g. `bookworm`.
    pub suite: String,
    /// mmdebstrap variant; `apt` gives Essential packages plus apt.
    pub variant: String,
    /// Extra packages: the base's, then this recipe's, then the build
    /// dependencies of its `build_depends` file.
    pub packages: Vec<String>,
    /// Python distributions installed with pip after the packages, pinned
    /// by hash (`python_requirements`; a base's are taken when it has none).
    pub python: Vec<crate::image::python::Requirement>,
    /// Fixes every timestamp in the rootfs and the image config.
    pub source_date_epoch: u64,
    /// The recipe's own apt sources file, read as it is; default: the
    /// host's archives with `suite` (see [`crate::image::sources`]).
    pub sources: Option<PathBuf>,
    /// A directory of the locked .debs (`reprocheck image vendor`), tried
    /// first when building from the lock.
    pub packages_dir: Option<PathBuf>,
    /// A snapshot archive's base URL (the layout of Debian's snapshot archive:
    /// `BASE/debian/TIME/`); with `snapshot_time`.
    pub snapshot: Option<String>,
    /// The snapshot's time, `YYYYMMDDTHHMMSSZ`.
    pub snapshot_time: Option<String>,
    /// What decides the image, as `packages.lock` records it.
    pub inputs: RecipeInputs,
}

/// `recipe.toml` as written: a recipe with a `base` takes what it leaves out
/// from there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: String,
    base: Option<PathBuf>,
    suite: Option<String>,
    variant: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    build_depends: Option<PathBuf>,
    #[serde(default)]
    build_profiles: Vec<String>,
    python_requirements: Option<PathBuf>,
    source_date_epoch: Option<u64>,
    sources: Option<PathBuf>,
    packages_dir: Option<PathBuf>,
    snapshot: Option<String>,
    snapshot_time: Option<String>,
}

const KEYS: &str =
    "name, base, suite, variant, packages, build_depends, build_profiles, python_requirements, \
                    source_date_epoch, sources, packages_dir, snapshot, snapshot_time";

/// How many bases a recipe may stand on.
const MAX_BASES: usize = 8;

pub use crate::spec::RECIPE_FILE;

impl Recipe {
    /// Reads `DIR/recipe.toml`, and its bases. With `within`, every path the
    /// recipe names (`base`, `build_depends`, `sources`, `packages_dir`) must
    /// resolve under that directory: a spec's recipe reaches no further than
    /// the spec (see `spec::HostPaths`).
    pub fn load(dir: &Path, within: Option<&Path>) -> Result<Recipe> {
        Recipe::load_based(dir, &mut Vec::new(), within)
    }

    fn load_based(dir: &Path, seen: &mut Vec<PathBuf>, within: Option<&Path>) -> Result<Recipe> {
        let file = dir.join(RECIPE_FILE);
        confined(&file, RECIPE_FILE, &file, within)?;
        let text = crate::spec::read_capped(&file, crate::spec::MAX_SPEC_SIZE).with_context(|| {
            format!("cannot read {} (an image recipe directory holds a recipe.toml)", file.display())
        })?;
        let raw: RawRecipe = toml::from_str(&text).map_err(|e| {
            SpecError::at(&file, &text, e.span(), e.message().trim().to_string())
                .hint(format!("keys: {KEYS}"))
        })?;
        let canonical = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
        ensure!(
            !seen.contains(&canonical),
            "{}: its `base` chain comes back to {} (a recipe cannot stand on itself)",
            file.display(),
            dir.display()
        );
        // `seen` holds this recipe and the ones standing on it.
        ensure!(seen.len() <= MAX_BASES, "{}: more than {MAX_BASES} bases in a row", file.display());
        seen.push(canonical);
        let reach = |key: &str, path: &Path| confined(&file, key, &dir.join(path), within);
        let base = match &raw.base {
            Some(base) => Some(
                Recipe::load_based(&reach("base", base)?, seen, within)
                    .with_context(|| format!("{}: reading its base {}", file.display(), base.display()))?,
            ),
            None => None,
        };
        let missing = |key: &str| {
            anyhow!(
                "{}: `{key}` is missing\nhelp: give `{key}`, or a `base` recipe to take it from",
                file.display()
            )
        };
        let inherit = |own: Option<String>, from: Option<&String>| own.or_else(|| from.cloned());
        let suite =
            raw.suite.clone().or(base.as_ref().map(|b| b.suite.clone())).ok_or_else(|| missing("suite"))?;
        let variant =
            raw.variant.clone().or(base.as_ref().map(|b| b.variant.clone())).unwrap_or_else(|| "apt".into());
        let source_date_epoch = raw
            .source_date_epoch
            .or(base.as_ref().map(|b| b.source_date_epoch))
            .ok_or_else(|| missing("source_date_epoch"))?;
        let mut packages = base.as_ref().map(|b| b.packages.clone()).unwrap_or_default();
        packages.extend(raw.packages.iter().cloned());
        let mut build_depends_files =
            base.as_ref().map(|b| b.inputs.build_depends.clone()).unwrap_or_default();
        if let Some(control) = &raw.build_depends {
            let resolved = reach("build_depends", control)?;
            let needed = build_dependencies(&resolved, &raw.build_profiles)
                .with_context(|| format!("{}: build_depends", file.display()))?;
            packages.extend(needed);
            build_depends_files.push(input_file(control, &resolved)?);
        }
        let mut seen_packages = std::collections::HashSet::new();
        let unique: Vec<String> = packages.into_iter().filter(|p| seen_packages.insert(p.clone())).collect();
        let (python, python_requirements) = match &raw.python_requirements {
            Some(requirements) => {
                let file = reach("python_requirements", requirements)?;
                let parsed = crate::image::python::parse_requirements(&file)
                    .with_context(|| format!("{}: python_requirements", file.display()))?;
                (parsed, Some(input_file(requirements, &file)?))
            }
            None => match &base {
                Some(b) => (b.python.clone(), b.inputs.python_requirements.clone()),
                None => (Vec::new(), None),
            },
        };
        ensure!(
            python.is_empty() || unique.iter().any(|p| p == "python3-pip"),
            "{}: python_requirements needs pip in the image\nhelp: add \"python3-pip\" to `packages`",
            file.display()
        );
        let inputs = RecipeInputs {
            suite: suite.clone(),
            variant: variant.clone(),
            source_date_epoch,
            bases: match &base {
                Some(b) => std::iter::once(b.name.clone()).chain(b.inputs.bases.iter().cloned()).collect(),
                None => Vec::new(),
            },
            packages: unique.clone(),
            build_depends: build_depends_files,
            python_requirements,
        };
        let recipe = Recipe {
            inputs,
            name: raw.name.clone(),
            suite,
            variant,
            packages: unique,
            python,
            source_date_epoch,
            sources: match &raw.sources {
                Some(sources) => Some(reach("sources", sources)?),
                None => base.as_ref().and_then(|b| b.sources.clone()),
            },
            packages_dir: match &raw.packages_dir {
                Some(packages) => Some(reach("packages_dir", packages)?),
                None => base.as_ref().and_then(|b| b.packages_dir.clone()),
            },
            snapshot: inherit(raw.snapshot, base.as_ref().and_then(|b| b.snapshot.as_ref())),
            snapshot_time: inherit(raw.snapshot_time, base.as_ref().and_then(|b| b.snapshot_time.as_ref())),
        };
        recipe.check(&file)?;
        Ok(recipe)
    }

    /// Refuses names that could smuggle options or shell syntax into mmdebstrap.
    fn check(&self, file: &Path) -> Result<()> {
        let safe =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:_".contains(c));
        ensure!(safe(&self.suite), "{}: suite `{}` is not a suite name", file.display(), self.suite);
        ensure!(safe(&self.variant), "{}: variant `{}` is not a variant name", file.display(), self.variant);
        for package in &self.packages {
            ensure!(
                safe(package) && !package.starts_with('-'),
                "{}: `{package}` is not a package name",
                file.display()
            );
        }
        ensure!(
            self.snapshot.is_some() == self.snapshot_time.is_some(),
            "{}: `snapshot` and `snapshot_time` go together (the archive's base URL and the time to read it at)",
            file.display()
        );
        if let (Some(base), Some(time)) = (&self.snapshot, &self.snapshot_time) {
            crate::image::fetch::Snapshot::new(base, time).with_context(|| format!("{}", file.display()))?;
        }
        Ok(())
    }

    /// The apt sources the recipe's packages come from: its own `sources`
    /// file as it is, else the host's archives with the recipe's suite.
    pub fn apt_sources(&self) -> Result<crate::image::sources::SuiteSources> {
        crate::image::sources::SuiteSources::for_suite(&self.suite, self.sources.as_deref())
    }
}

/// A file the recipe names (`written`, found at `resolved`) with its sha256.
fn input_file(written: &Path, resolved: &Path) -> Result<InputFile> {
    let sha256 =
        crate::spec::Digest::of_file(resolved).with_context(|| format!("hashing {}", resolved.display()))?;
    Ok(InputFile { file: written.display().to_string(), sha256 })
}

/// `path`, named by `key` in the recipe `file`, resolved (links followed,
/// or `..` folded where it does not exist yet) and, with `within`, refused
/// when it lies outside that directory.
fn confined(file: &Path, key: &str, path: &Path, within: Option<&Path>) -> Result<PathBuf> {
    let resolved = resolve_through_ancestor(path);
    if let Some(root) = within {
        ensure!(
            resolved.starts_with(root),
            "{}: `{key}` resolves to {}, outside the spec's directory {}\n\
             help: a spec's recipe reaches only files under the spec's directory; move them there, \
             or pass {} if you trust this spec with every file you can read",
            file.display(),
            resolved.display(),
            root.display(),
            crate::spec::ALLOW_FLAG
        );
    }
    Ok(resolved)
}

/// `path` with links followed; where it does not exist (yet), its nearest
/// existing ancestor is resolved and the rest appended, so a link in the
/// part that exists cannot lead out unnoticed.
fn resolve_through_ancestor(path: &Path) -> PathBuf {
    let normal = crate::spec::lexically_normal(path);
    let mut ancestor = normal.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = ancestor.canonicalize() {
            return rest.iter().rev().fold(resolved, |path: PathBuf, name| path.join(name));
        }
        match (ancestor.parent(), ancestor.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                ancestor = parent;
            }
            _ => return normal,
        }
    }
}

/// Largest `.dsc` or `debian/control` read for its build dependencies.
const MAX_CONTROL_SIZE: u64 = 1 << 20;

/// The packages a `.dsc` or a `debian/control` file needs to build (its
/// `Build-Depends`, `-Arch` and `-Indep`) on this machine's architecture.
fn build_dependencies(file: &Path, profiles: &[String]) -> Result<Vec<String>> {
    let text = crate::spec::read_capped(file, MAX_CONTROL_SIZE)?;
    let is_dsc = file.extension().is_some_and(|e| e == "dsc");
    let field = if is_dsc {
        crate::debian::dsc::Dsc::parse(&text)?.build_depends
    } else {
        // debian/control: the first paragraph is the source's.
        let paragraphs = crate::debian::control::paragraphs(&text)?;
        let source = paragraphs.first().context("the file holds no paragraph")?;
        ["Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"]
            .iter()
            .filter_map(|name| source.get(name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let profiles: Vec<&str> = profiles.iter().map(String::as_str).collect();
    crate::debian::depends::packages(&field, debian_architecture(), &profiles)
        .with_context(|| format!("reading the build dependencies of {}", file.display()))
}

/// This machine's Debian architecture name: images are built for it.
fn debian_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
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
        let recipe = Recipe::load(dir.path(), None).unwrap();
        assert_eq!(recipe.variant, "apt");
        write("name = \"x\"\nsuite = \"bookworm\"\npackages = [\"gcc; rm -rf /\"]\nsource_date_epoch = 1\n");
        assert!(Recipe::load(dir.path(), None).unwrap_err().to_string().contains("not a package name"));
        write("name = \"x\"\nsuit = \"bookworm\"\n");
        let err = Recipe::load(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("recipe.toml:2:1"), "{err}");
    }

    #[test]
    fn python_requirements_need_pip_and_hash_pinned_lines() {
        let dir = tempfile::tempdir().unwrap();
        let hash = "a".repeat(64);
        std::fs::write(dir.path().join("req.txt"), format!("hatchling==1.24.2 --hash=sha256:{hash}\n"))
            .unwrap();
        let write = |packages: &str| {
            std::fs::write(
                dir.path().join(RECIPE_FILE),
                format!("name = \"p\"\nsuite = \"bookworm\"\npackages = [{packages}]\npython_requirements = \"req.txt\"\nsource_date_epoch = 1\n"),
            )
            .unwrap()
        };
        write("\"python3-pip\"");
        let recipe = Recipe::load(dir.path(), None).unwrap();
        assert_eq!(recipe.python[0].name, "hatchling");
        write("");
        let err = format!("{:#}", Recipe::load(dir.path(), None).unwrap_err());
        assert!(err.contains("python3-pip"), "{err}");
        write("\"python3-pip\"");
        std::fs::write(dir.path().join("req.txt"), "hatchling>=1\n").unwrap();
        let err = format!("{:#}", Recipe::load(dir.path(), None).unwrap_err());
        assert!(err.contains("req.txt:1") && err.contains("not pinned"), "{err}");
    }

    #[test]
    fn a_recipe_on_a_base_adds_packages_and_a_dscs_build_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base");
        let derived = dir.path().join("derived");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&derived).unwrap();
        std::fs::write(
            base.join(RECIPE_FILE),
            "name = \"b\"\nsuite = \"bookworm\"\npackages = [\"build-essential\", \"tzdata\"]\nsource_date_epoch = 5\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("hello_1-1.dsc"),
            "Format: 3.0 (quilt)\nSource: hello\nVersion: 1-1\nBuild-Depends: debhelper-compat (= 13), help2man, tzdata\n\
             Build-Depends-Indep: texinfo <!nodoc>\nChecksums-Sha256:\n 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 1 hello_1.orig.tar.gz\n",
        )
        .unwrap();
        let write = |text: &str| std::fs::write(derived.join(RECIPE_FILE), text).unwrap();
        write("name = \"d\"\nbase = \"../base\"\npackages = [\"fakeroot\"]\nbuild_depends = \"../hello_1-1.dsc\"\n");
        let recipe = Recipe::load(&derived, None).unwrap();
        assert_eq!(
            (recipe.name.as_str(), recipe.suite.as_str(), recipe.source_date_epoch),
            ("d", "bookworm", 5)
        );
        assert_eq!(
            recipe.packages,
            ["build-essential", "tzdata", "fakeroot", "debhelper-compat", "help2man", "texinfo"]
        );
        write("name = \"d\"\nbase = \"../base\"\nbuild_depends = \"../hello_1-1.dsc\"\nbuild_profiles = [\"nodoc\"]\n");
        assert!(!Recipe::load(&derived, None).unwrap().packages.contains(&"texinfo".to_string()));
        // A base that comes back to the recipe, and a recipe with nothing to stand on.
        std::fs::write(base.join(RECIPE_FILE), "name = \"b\"\nbase = \"../derived\"\n").unwrap();
        let err = format!("{:#}", Recipe::load(&derived, None).unwrap_err());
        assert!(err.contains("comes back"), "{err}");
        // Confined to the derived recipe's directory, the base and the .dsc are out of reach.
        write("name = \"d\"\nbase = \"../base\"\n");
        let within = derived.canonicalize().unwrap();
        let err = format!("{:#}", Recipe::load(&derived, Some(&within)).unwrap_err());
        assert!(err.contains("`base` resolves to") && err.contains("--allow-host-paths"), "{err}");
        write("name = \"d\"\nsuite = \"bookworm\"\nsource_date_epoch = 1\nbuild_depends = \"../hello_1-1.dsc\"\n");
        let err = format!("{:#}", Recipe::load(&derived, Some(&within)).unwrap_err());
        assert!(err.contains("`build_depends` resolves to"), "{err}");
        assert!(Recipe::load(&derived, Some(&dir.path().canonicalize().unwrap())).is_ok());
        write("name = \"d\"\npackages = [\"x\"]\n");
        let err = format!("{:#}", Recipe::load(&derived, None).unwrap_err());
        assert!(err.contains("`suite` is missing"), "{err}");
    }
}
