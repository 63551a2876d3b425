//! Which build backend made the published wheel, at which exact version,
//! and what to call `build_wheel` on: from the wheel's `WHEEL`
//! `Generator:` (the version) checked against the sdist's
//! `[build-system]` (the module). Generator formats, as the backends
//! write them (read in their code and in real wheels):
//!
//! | Generator                 | written by                                  | pinned                       |
//! |---------------------------|---------------------------------------------|------------------------------|
//! | `flit 3.9.0`              | flit_core (every 3.x)                        | `flit_core==3.9.0`           |
//! | `hatchling 1.25.0`        | hatchling                                    | `hatchling==1.25.0`          |
//! | `bdist_wheel (0.41.2)`    | the `wheel` project's bdist_wheel (< 0.44 with setuptools < 70.1) | `wheel==0.41.2`, setuptools chosen by upload time (< 70.1) |
//! | `setuptools (75.6.0)`     | setuptools ≥ 70.1's own bdist_wheel          | `setuptools==75.6.0`         |
//! | `poetry-core 1.9.1`       | poetry-core ≥ 1.1 (`poetry 1.0.8` before)    | `poetry-core==1.9.1`         |
//! | `pdm-backend (2.4.3)`     | pdm-backend (`0.0.0+local` when building itself in-tree) | `pdm-backend==2.4.3` |
//!
//! A backend on `backend-path` (in the sdist) is pinned by the sdist itself.

use super::pep440::{Specifier, Version};
use super::pyproject::{BuildSystem, Requirement};
use super::wheel::WheelFields;
use crate::errors::*;
use crate::image::python::normalise;
use crate::rebuild::{not_inferable, Inference};

/// The first setuptools with its own `bdist_wheel` (Generator `setuptools (X)`).
pub const SETUPTOOLS_OWN_BDIST_WHEEL: &str = "70.1";

/// The backends this inference knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// flit_core (`flit_core.buildapi`).
    FlitCore,
    /// hatchling (`hatchling.build`).
    Hatchling,
    /// setuptools (`setuptools.build_meta`), with its or the `wheel` project's bdist_wheel.
    Setuptools,
    /// poetry-core (`poetry.core.masonry.api`).
    PoetryCore,
    /// pdm-backend (`pdm.backend`).
    PdmBackend,
}

impl BackendKind {
    /// The modules a `build-backend` of this kind names.
    fn modules(self) -> &'static [&'static str] {
        match self {
            BackendKind::FlitCore => &["flit_core.buildapi", "flit.buildapi"],
            BackendKind::Hatchling => &["hatchling.build", "hatchling.ouroboros"],
            BackendKind::Setuptools => &["setuptools.build_meta"],
            BackendKind::PoetryCore => &["poetry.core.masonry.api"],
            BackendKind::PdmBackend => &["pdm.backend", "pdm.backend.intree"],
        }
    }
}

/// A distribution at an exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The project name, normalised.
    pub name: String,
    /// The exact version.
    pub version: String,
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=={}", self.name, self.version)
    }
}

/// The build backend, as inferred.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Which backend.
    pub kind: BackendKind,
    /// Its version as the Generator gives it (for version-dependent rules).
    pub version: Version,
    /// Distributions pinned from the Generator: the backend (none when it
    /// is in-tree), plus `wheel` for `bdist_wheel`.
    pub pins: Vec<Pin>,
    /// Distributions to choose from the index as of the wheel's upload
    /// (see [`newest_at`]): setuptools for a `bdist_wheel` wheel.
    pub choose: Vec<(String, Specifier)>,
    /// The sdist's other build requirements, to pin from the index the same way.
    pub other_requires: Vec<Requirement>,
    /// The module `build_wheel` is called on, and the object in it, if any.
    pub module: String,
    /// `module:object`'s object.
    pub object: Option<String>,
    /// `backend-path`: directories of the sdist on `sys.path` (an in-tree backend).
    pub backend_path: Vec<String>,
    /// What was decided, with evidence.
    pub inferences: Vec<Inference>,
}

/// A wheel's `Generator:` split into tool and version: `flit 3.9.0`,
/// `bdist_wheel (0.41.2)`.
pub fn parse_generator(raw: &str) -> Option<(String, Version)> {
    let (tool, version) = raw.trim().split_once(' ')?;
    let version = version.trim().trim_start_matches('(').trim_end_matches(')');
    Some((tool.to_string(), Version::parse(version).ok()?))
}

/// Infers the backend of the wheel `wheel` built from an sdist whose build
/// system is `build`.
pub fn infer(wheel: &WheelFields, build: &BuildSystem) -> Result<Backend> {
    const KNOWN: &str = "flit, hatchling, bdist_wheel, setuptools, poetry-core, pdm-backend";
    let Some(raw) = wheel.generator.as_deref() else {
        return not_inferable(format!(
            "the wheel's WHEEL has no Generator line, so the backend's version is unknown; a hand-written \
             recipe must pin it (the sdist names build-backend {})",
            build.build_backend
        ));
    };
    let Some((tool, version)) = parse_generator(raw) else {
        return not_inferable(format!(
            "the wheel's Generator `{raw}` is not `TOOL VERSION` or `TOOL (VERSION)`"
        ));
    };
    let module = build.module();
    let (kind, distribution) = match tool.as_str() {
        "flit" | "flit_core" if module == "flit.buildapi" => (BackendKind::FlitCore, "flit"),
        "flit" | "flit_core" => (BackendKind::FlitCore, "flit-core"),
        "hatchling" => (BackendKind::Hatchling, "hatchling"),
        "bdist_wheel" => (BackendKind::Setuptools, "wheel"),
        "setuptools" => (BackendKind::Setuptools, "setuptools"),
        "poetry" if module == "poetry.masonry.api" => {
            return not_inferable(format!(
                "the wheel was made by the poetry tool itself (Generator `{raw}`, build-backend poetry.masonry.api), \
                 not poetry-core: rebuilding it needs poetry {version} and its locked dependencies, by hand"
            ))
        }
        "poetry" | "poetry-core" => (BackendKind::PoetryCore, "poetry-core"),
        "pdm-backend" => (BackendKind::PdmBackend, "pdm-backend"),
        _ => return not_inferable(format!("the wheel's Generator `{raw}` is none of the backends known here ({KNOWN})")),
    };
    if !kind.modules().contains(&module) {
        return not_inferable(format!(
            "the wheel was made by `{raw}` but the sdist's build-backend is `{}` (expected {}): the sdist does not \
             build the way the wheel was built; a hand-written recipe must say how",
            build.build_backend,
            kind.modules().join(" or ")
        ));
    }
    let evidence = format!("the published wheel's WHEEL Generator `{raw}`");
    let mut backend = Backend {
        kind,
        version: version.clone(),
        pins: Vec::new(),
        choose: Vec::new(),
        other_requires: Vec::new(),
        module: module.to_string(),
        object: build.object().map(str::to_string),
        backend_path: build.backend_path.clone(),
        inferences: vec![Inference::new(
            format!("build backend {}", build.build_backend),
            build_backend_evidence(build),
        )],
    };
    let own_bdist_wheel = Version::parse(SETUPTOOLS_OWN_BDIST_WHEEL).expect("a version");
    match tool.as_str() {
        "setuptools" if version < own_bdist_wheel => {
            return not_inferable(format!(
                "the wheel's Generator `{raw}` names a setuptools older than {SETUPTOOLS_OWN_BDIST_WHEEL}, which \
                 wrote `bdist_wheel (…)`: the WHEEL file is not what setuptools writes"
            ))
        }
        "bdist_wheel" => {
            let mut setuptools = Specifier::parse(&format!("<{SETUPTOOLS_OWN_BDIST_WHEEL}")).expect("a specifier");
            if let Some(declared) = build.requirement("setuptools") {
                setuptools = Specifier::parse(&format!("{setuptools},{}", declared.specifier)).expect("two valid specifiers");
            }
            backend.inferences.push(Inference::new(
                format!("setuptools {setuptools}, the newest such release at the wheel's upload"),
                format!("{evidence}: the wheel project's bdist_wheel ran under a setuptools older than \
                         {SETUPTOOLS_OWN_BDIST_WHEEL} (newer ones write `setuptools (X)`); which one is not recorded"),
            ));
            backend.choose.push(("setuptools".into(), setuptools));
        }
        _ => {}
    }
    if build.backend_path.is_empty() || tool == "bdist_wheel" {
        let pin = Pin { name: distribution.into(), version: version.text.clone() };
        if let Some(declared) = build.requirement(distribution) {
            if !declared.specifier.contains(&version) {
                return not_inferable(format!(
                    "the wheel was made by {pin} (Generator `{raw}`) but the sdist's [build-system] requires \
                     `{}`: that build cannot install it; the wheel was not built from this sdist's build system",
                    declared.raw
                ));
            }
        }
        backend.inferences.push(Inference::new(format!("{pin}"), evidence.clone()));
        backend.pins.push(pin);
    } else {
        backend.inferences.push(Inference::new(
            format!("{} from the sdist itself (its Generator says {version})", build.build_backend),
            format!("the sdist's [build-system] backend-path {:?}: an in-tree backend", build.backend_path),
        ));
    }
    let pinned: Vec<String> = backend.pins.iter().map(|p| p.name.clone()).collect();
    let chosen: Vec<String> = backend.choose.iter().map(|(n, _)| n.clone()).collect();
    backend.other_requires = build
        .requires
        .iter()
        .filter(|r| {
            !pinned.contains(&r.name) && !chosen.contains(&r.name) && r.name != normalise(distribution)
        })
        .cloned()
        .collect();
    Ok(backend)
}

fn build_backend_evidence(build: &BuildSystem) -> String {
    match build.declared {
        super::pyproject::Declared::Backend => {
            "the sdist's pyproject.toml [build-system] build-backend".into()
        }
        super::pyproject::Declared::RequiresOnly => {
            "PEP 517's default: the sdist's [build-system] names no build-backend".into()
        }
        super::pyproject::Declared::Nothing => {
            "PEP 517's default: the sdist has no [build-system] (a setup.py project)".into()
        }
    }
}

/// One release of a project on the index: its version and when its first
/// file was uploaded (seconds since the epoch; PEP 691 `upload-time`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The version as the index lists it.
    pub version: String,
    /// The earliest upload time of its files.
    pub uploaded: i64,
    /// Whether every file of it is yanked.
    pub yanked: bool,
}

/// The newest final, unyanked release of `name` that matches `specifier`
/// and was on the index before `at` (the published wheel's upload): what
/// a publisher installing the backend then would have got.
pub fn newest_at(
    name: &str,
    releases: &[Release],
    at: i64,
    specifier: &Specifier,
) -> Result<(Pin, Inference)> {
    let newest = releases
        .iter()
        .filter(|r| r.uploaded <= at && !r.yanked)
        .filter_map(|r| Version::parse(&r.version).ok())
        .filter(|v| !v.is_prerelease() && specifier.contains(v))
        .max();
    let Some(newest) = newest else {
        return not_inferable(format!(
            "no release of {name} matching `{specifier}` was on the index before the wheel's upload ({at}): the \
             index lists {} release(s) of it",
            releases.len()
        ));
    };
    let pin = Pin { name: normalise(name), version: newest.text.clone() };
    let constraint = if specifier.is_empty() { String::new() } else { format!(" matching `{specifier}`") };
    let evidence = format!(
        "the newest release{constraint} uploaded before the wheel (at {at}); the publisher's may have been older"
    );
    Ok((pin.clone(), Inference::new(pin.to_string(), evidence)))
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
