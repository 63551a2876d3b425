//! The sdist's `pyproject.toml` `[build-system]` (PEP 517/518): what the
//! build needs installed (`requires`, PEP 508 strings), which backend it
//! calls (`build-backend`, PEP 517's `setuptools.build_meta:__legacy__`
//! when absent) and where an in-tree backend lives (`backend-path`).

use super::pep440::Specifier;
use crate::errors::*;
use crate::image::python::normalise;

/// PEP 517's backend when `build-backend` is absent or there is no
/// `pyproject.toml`: setuptools, running `setup.py` as before.
pub const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

/// One PEP 508 requirement: `name[extras] specifier ; marker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The string as written.
    pub raw: String,
    /// The project name, normalised (PEP 503: lowercase, runs of `-_.` as `-`).
    pub name: String,
    /// Extras asked for (`setuptools-scm[toml]` → `toml`).
    pub extras: Vec<String>,
    /// The version clauses (empty: any version).
    pub specifier: Specifier,
    /// The environment marker after `;`, as written (None: always applies).
    pub marker: Option<String>,
}

impl Requirement {
    /// Parses a PEP 508 requirement; a direct reference (`name @ url`) is
    /// an error, since a pinned build takes its inputs from the index.
    pub fn parse(text: &str) -> Result<Requirement> {
        let raw = text.trim().to_string();
        let (main, marker) = match raw.split_once(';') {
            Some((main, marker)) => (main.trim(), Some(marker.trim().to_string())),
            None => (raw.as_str(), None),
        };
        let name_end =
            main.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))).unwrap_or(main.len());
        let name = &main[..name_end];
        ensure!(
            !name.is_empty(),
            "`{raw}` is not a PEP 508 requirement (expected a project name first, e.g. flit_core >=3.2,<4)"
        );
        let mut rest = main[name_end..].trim();
        let mut extras = Vec::new();
        if let Some(after) = rest.strip_prefix('[') {
            let (inside, after) =
                after.split_once(']').with_context(|| format!("`{raw}`: an extras list without its `]`"))?;
            extras = inside.split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
            rest = after.trim();
        }
        if rest.starts_with('@') {
            return super::super::not_inferable(format!(
                "the build requirement `{raw}` is a direct URL reference; only index releases can be pinned"
            ));
        }
        let rest = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).unwrap_or(rest);
        let specifier = Specifier::parse(rest).with_context(|| format!("in the requirement `{raw}`"))?;
        Ok(Requirement { raw: raw.clone(), name: normalise(name), extras, specifier, marker })
    }
}

/// Where the build system's description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// `[build-system]` with `build-backend`.
    Backend,
    /// `[build-system]` without `build-backend`: PEP 517's legacy default.
    RequiresOnly,
    /// A `pyproject.toml` without `[build-system]`, or none at all: a
    /// `setup.py` project built the way pip builds it.
    Nothing,
}

/// The sdist's build system, as PEP 517/518 read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    /// What must be installed before the backend is imported.
    pub requires: Vec<Requirement>,
    /// `module` or `module:object`, e.g. `flit_core.buildapi`.
    pub build_backend: String,
    /// Directories inside the sdist prepended to `sys.path`: an in-tree backend.
    pub backend_path: Vec<String>,
    /// How much the sdist said itself.
    pub declared: Declared,
}

impl BuildSystem {
    /// Parses `pyproject.toml` text.
    pub fn parse(text: &str) -> Result<BuildSystem> {
        let doc: toml::Table = toml::from_str(text).context("parsing the sdist's pyproject.toml")?;
        let Some(table) = doc.get("build-system") else {
            return Ok(BuildSystem { declared: Declared::Nothing, ..BuildSystem::without_pyproject() });
        };
        let table = table.as_table().context("pyproject.toml: `build-system` is not a table")?;
        let requires = table.get("requires").context(
            "pyproject.toml: [build-system] has no `requires` (PEP 518 makes it mandatory); the build's \
             requirements cannot be known",
        )?;
        let requires = strings(requires, "requires")?
            .iter()
            .map(|r| Requirement::parse(r))
            .collect::<Result<Vec<_>>>()
            .context("pyproject.toml: [build-system] requires")?;
        let backend = match table.get("build-backend") {
            Some(b) => Some(b.as_str().context("pyproject.toml: `build-backend` is not a string")?),
            None => None,
        };
        let backend_path = match table.get("backend-path") {
            Some(p) => strings(p, "backend-path")?,
            None => Vec::new(),
        };
        for path in &backend_path {
            ensure!(
                !path.starts_with('/') && !path.split('/').any(|part| part == ".."),
                "pyproject.toml: backend-path `{path}` leaves the source tree (PEP 517 forbids it)"
            );
        }
        if let Some(backend) = backend {
            check_backend_name(backend)?;
        }
        Ok(BuildSystem {
            requires,
            build_backend: backend.unwrap_or(LEGACY_BACKEND).to_string(),
            backend_path,
            declared: if backend.is_some() { Declared::Backend } else { Declared::RequiresOnly },
        })
    }

    /// An sdist with no `pyproject.toml`: pip builds it with setuptools
    /// through PEP 517's legacy backend, requiring `setuptools>=40.8.0`.
    pub fn without_pyproject() -> BuildSystem {
        let requires = vec![Requirement::parse("setuptools>=40.8.0").expect("a valid requirement")];
        BuildSystem {
            requires,
            build_backend: LEGACY_BACKEND.into(),
            backend_path: Vec::new(),
            declared: Declared::Nothing,
        }
    }

    /// The module the frontend imports: `flit_core.buildapi`.
    pub fn module(&self) -> &str {
        self.build_backend.split_once(':').map_or(&self.build_backend, |(m, _)| m)
    }

    /// The object in the module `build_wheel` is called on, if not the module itself.
    pub fn object(&self) -> Option<&str> {
        self.build_backend.split_once(':').map(|(_, o)| o)
    }

    /// The requirement naming `name` (any spelling), if any.
    pub fn requirement(&self, name: &str) -> Option<&Requirement> {
        let name = normalise(name);
        self.requires.iter().find(|r| r.name == name)
    }
}

fn strings(value: &toml::Value, key: &str) -> Result<Vec<String>> {
    let array =
        value.as_array().with_context(|| format!("pyproject.toml: `{key}` is not a list of strings"))?;
    array
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .with_context(|| format!("pyproject.toml: `{key}` holds something other than strings"))
}

fn check_backend_name(backend: &str) -> Result<()> {
    let dotted = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    let (module, object) = backend.split_once(':').map_or((backend, None), |(m, o)| (m, Some(o)));
    ensure!(
        dotted(module) && object.is_none_or(dotted),
        "pyproject.toml: build-backend `{backend}` is not `module` or `module:object` (e.g. flit_core.buildapi)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::pyproject;
    use super::*;

    #[test]
    fn real_pyprojects_name_their_backend_and_requirements() {
        let idna = BuildSystem::parse(&pyproject("idna-3.10")).unwrap();
        assert_eq!(
            (idna.module(), idna.object(), idna.declared),
            ("flit_core.buildapi", None, Declared::Backend)
        );
        let flit = idna.requirement("Flit-Core").unwrap();
        assert_eq!((flit.name.as_str(), flit.specifier.to_string()), ("flit-core", ">=3.2,<4".into()));

        let pluggy = BuildSystem::parse(&pyproject("pluggy-1.5.0")).unwrap();
        let scm = pluggy.requirement("setuptools_scm").unwrap();
        assert_eq!(
            (scm.extras.clone(), scm.specifier.to_string()),
            (vec!["toml".to_string()], ">=6.2.3".into())
        );

        let dateutil = BuildSystem::parse(&pyproject("python-dateutil-2.8.2")).unwrap();
        let markers: Vec<_> = dateutil.requires.iter().map(|r| r.marker.as_deref()).collect();
        assert_eq!(markers, [Some("python_version != '3.3'"), Some("python_version == '3.3'"), None, None]);

        let pdm = BuildSystem::parse(&pyproject("pdm-backend-2.4.3")).unwrap();
        assert_eq!(
            (pdm.module(), pdm.backend_path.clone(), pdm.requires.len()),
            ("pdm.backend.intree", vec!["src".to_string()], 0)
        );
    }

    #[test]
    fn no_build_backend_or_no_pyproject_is_setuptools_legacy() {
        // six 1.17.0's sdist has no pyproject.toml at all.
        assert!(!super::super::fixtures::dir("six-1.17.0").join("pyproject.toml").exists());
        let six = BuildSystem::without_pyproject();
        assert_eq!(
            (six.module(), six.object(), six.declared),
            ("setuptools.build_meta", Some("__legacy__"), Declared::Nothing)
        );
        let requires_only =
            BuildSystem::parse("[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n").unwrap();
        assert_eq!(
            (requires_only.build_backend.as_str(), requires_only.declared),
            (LEGACY_BACKEND, Declared::RequiresOnly)
        );
        let no_table = BuildSystem::parse("[project]\nname = \"x\"\n").unwrap();
        assert_eq!((no_table.build_backend.as_str(), no_table.declared), (LEGACY_BACKEND, Declared::Nothing));
    }

    #[test]
    fn wrong_build_systems_are_clear_errors() {
        let error = |text: &str| format!("{:#}", BuildSystem::parse(text).unwrap_err());
        assert!(error("[build-system]\nbuild-backend = \"x\"\n").contains("no `requires`"));
        assert!(error("[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"a b\"\n")
            .contains("not `module`"));
        assert!(error("[build-system]\nrequires = [\">=3\"]\n").contains("project name first"));
        assert!(error("[build-system]\nrequires = [\"x =>3\"]\n").contains("not a version clause"));
        assert!(error("[build-system]\nrequires = []\nbackend-path = [\"../up\"]\n")
            .contains("leaves the source tree"));
        assert!(error("[build-system\n").contains("parsing the sdist's pyproject.toml"));
        let url = BuildSystem::parse("[build-system]\nrequires = [\"x @ https://example.invalid/x.whl\"]\n")
            .unwrap_err();
        assert!(crate::rebuild::is_not_inferable(&url), "{url:#}");
    }
}
