//! How to rebuild a wheel, decided from the published files with the
//! rules of `wheel`, `pyproject`, `backend` and `timestamps`: the backend
//! at its exact version, what else the build requires, and the times and
//! zone to build with.
//!
//! No stabiliser is applied: where the publisher's build clock is in the
//! wheel (setuptools dates `.dist-info` files by their mtime, which the
//! kernel sets from the real clock: libfaketime cannot move it without
//! moving the sdist's file times too), the verdict is the content-match
//! the inferences announce, never a normalised match.

use super::backend::{self, Backend, Release};
use super::index::{Index, IndexFile};
use super::pyproject::BuildSystem;
use super::sdist::Sdist;
use super::timestamps;
use super::wheel::{DosTime, PublishedWheel};
use crate::errors::*;
use crate::rebuild::{not_inferable, Inference};
use std::collections::BTreeMap;

/// What the rebuild runs, and why.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The module whose `build_wheel` is called (`flit_core.buildapi`).
    pub backend_module: String,
    /// An object in that module that carries the hooks (`__legacy__`).
    pub backend_object: Option<String>,
    /// In-tree directories put on `sys.path` first (`backend-path`).
    pub backend_path: Vec<String>,
    /// `bdist_wheel --universal`: the published wheel is tagged for Python 2
    /// and 3 at once, which setuptools makes only when asked.
    pub universal: bool,
    /// The build requirements to resolve (PEP 508), the backend pinned.
    pub requirements: Vec<String>,
    /// Distributions whose exact version the build checks before it runs.
    pub pins: Vec<(String, String)>,
    /// SOURCE_DATE_EPOCH for the build, when the wheel's times call for one.
    pub source_date_epoch: Option<i64>,
    /// TZ for the build, when the wheel's times follow a local time.
    pub tz: Option<String>,
    /// A short name for the image: `flit-core-3.9.0`.
    pub image_label: String,
    /// What was decided, with evidence.
    pub inferences: Vec<Inference>,
}

/// Decides from the published wheel's bytes and the sdist; asks `index`
/// for what only it knows (which setuptools was current at the upload).
pub async fn decide(
    index: &Index,
    wheel_bytes: &[u8],
    wheel_file: &IndexFile,
    sdist: &Sdist,
) -> Result<Decision> {
    let wheel =
        PublishedWheel::read(wheel_bytes).with_context(|| format!("reading {}", wheel_file.filename))?;
    let build = match (&sdist.pyproject, sdist.has_setup_py) {
        (Some(text), _) => BuildSystem::parse(text).context("reading the sdist's pyproject.toml")?,
        (None, true) => BuildSystem::without_pyproject(),
        (None, false) => return not_inferable("the sdist has neither a pyproject.toml nor a setup.py"),
    };
    let backend = backend::infer(&wheel.wheel, &build)?;
    let mut inferences = backend.inferences.clone();
    let mut pins: Vec<(String, String)> =
        backend.pins.iter().map(|p| (p.name.clone(), p.version.clone())).collect();
    if !backend.choose.is_empty() {
        let Some(uploaded) = wheel_file.upload_time.as_deref().and_then(rfc3339_epoch) else {
            return not_inferable(format!(
                "{} must be chosen as of the wheel's upload, and the index gives no upload time for it",
                backend.choose.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ));
        };
        for (name, specifier) in &backend.choose {
            let releases = releases(&index.files(name).await?);
            let (pin, inference) = backend::newest_at(name, &releases, uploaded, specifier)?;
            inferences.push(inference);
            pins.push((pin.name, pin.version));
        }
    }
    let universal = universal(&wheel, &backend, &mut inferences);
    let rule = timestamps::infer(&wheel, backend.kind, &backend.version, &sdist.mtimes)?;
    inferences.extend(rule.inferences.iter().cloned());
    let mut requirements: Vec<String> = pins.iter().map(|(n, v)| format!("{n}=={v}")).collect();
    requirements.extend(backend.other_requires.iter().map(|r| r.raw.clone()));
    let image_label = label(&backend, &pins);
    Ok(Decision {
        backend_module: backend.module.clone(),
        backend_object: backend.object.clone(),
        backend_path: backend.backend_path.clone(),
        universal,
        requirements,
        pins,
        source_date_epoch: rule.source_date_epoch,
        tz: rule.tz.clone(),
        image_label,
        inferences,
    })
}

/// Whether the wheel is a universal one (tags `py2-none-any` and
/// `py3-none-any`) that setuptools made: the publisher asked for it with
/// `bdist_wheel --universal` (or a setup.cfg the sdist may not carry), so
/// the rebuild asks too, through PEP 517's config settings.
fn universal(wheel: &PublishedWheel, backend: &Backend, inferences: &mut Vec<Inference>) -> bool {
    let tags = &wheel.wheel.tags;
    let universal = backend.kind == backend::BackendKind::Setuptools
        && tags.iter().any(|t| t == "py2-none-any")
        && tags.iter().any(|t| t == "py3-none-any");
    if universal {
        inferences.push(Inference::new(
            "bdist_wheel --universal (config settings --build-option)",
            format!("the published wheel's WHEEL tags {}: a universal wheel", tags.join(", ")),
        ));
    }
    universal
}

/// `flit-core-3.9.0`; `wheel-0.43.0-setuptools-70.0.0` for the `wheel`
/// project's bdist_wheel (the backend's own version is the Generator's).
fn label(backend: &Backend, pins: &[(String, String)]) -> String {
    if pins.iter().any(|(n, _)| n == "wheel") {
        return pins.iter().map(|(n, v)| format!("{n}-{v}")).collect::<Vec<_>>().join("-");
    }
    let name = match backend.kind {
        backend::BackendKind::FlitCore => "flit-core",
        backend::BackendKind::Hatchling => "hatchling",
        backend::BackendKind::Setuptools => "setuptools",
        backend::BackendKind::PoetryCore => "poetry-core",
        backend::BackendKind::PdmBackend => "pdm-backend",
    };
    format!("{name}-{}", backend.version.text)
}

/// A project's releases as the index lists its files: each version once,
/// at its earliest upload, yanked when every file of it is.
pub fn releases(files: &[IndexFile]) -> Vec<Release> {
    let mut by_version: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for file in files {
        let (_, version) = super::file_name_parts(&file.filename);
        let Some(uploaded) = file.upload_time.as_deref().and_then(rfc3339_epoch) else { continue };
        let entry = by_version.entry(version).or_insert((uploaded, true));
        entry.0 = entry.0.min(uploaded);
        entry.1 &= file.yanked;
    }
    by_version
        .into_iter()
        .map(|(version, (uploaded, yanked))| Release { version, uploaded, yanked })
        .collect()
}

/// `2024-09-15T18:07:37.964349Z` in seconds since the epoch (UTC only, as
/// the index writes them).
pub fn rfc3339_epoch(text: &str) -> Option<i64> {
    let digits = |range: std::ops::Range<usize>| text.get(range)?.parse::<u16>().ok();
    let ok = text.len() >= 20 && &text[4..5] == "-" && &text[10..11] == "T" && text.ends_with('Z');
    if !ok {
        return None;
    }
    let time = DosTime {
        year: digits(0..4)?,
        month: digits(5..7)? as u8,
        day: digits(8..10)? as u8,
        hour: digits(11..13)? as u8,
        minute: digits(14..16)? as u8,
        second: digits(17..19)? as u8,
    };
    Some(time.as_utc_epoch())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_universal_setuptools_wheel_asks_for_universal_and_others_do_not() {
        let decide = |wheel_text: &str, pyproject: Option<&str>| {
            let wheel = PublishedWheel::from_parts("x-1.dist-info".into(), wheel_text, Vec::new()).unwrap();
            let build = match pyproject {
                Some(text) => BuildSystem::parse(text).unwrap(),
                None => BuildSystem::without_pyproject(),
            };
            let backend = backend::infer(&wheel.wheel, &build).unwrap();
            let mut inferences = Vec::new();
            (universal(&wheel, &backend, &mut inferences), inferences)
        };
        // pytz 2024.2's WHEEL.
        let pytz = "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.37.1)\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n";
        let (yes, said) = decide(pytz, None);
        assert!(yes);
        assert!(said[0].evidence.contains("py2-none-any, py3-none-any"), "{said:?}");
        let py3 =
            "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.37.1)\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
        assert!(!decide(py3, None).0);
        let flit = "Wheel-Version: 1.0\nGenerator: flit 3.9.0\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n";
        let pyproject =
            "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n";
        assert!(!decide(flit, Some(pyproject)).0, "only setuptools is asked");
    }

    #[test]
    fn upload_times_are_read_as_utc() {
        assert_eq!(rfc3339_epoch("2024-09-15T18:07:37.964349Z"), Some(1726423657));
        assert_eq!(rfc3339_epoch("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_epoch("2024-09-15 18:07:37"), None);
        assert_eq!(rfc3339_epoch("2024-09-15T18:07:37+02:00"), None);
    }

    #[test]
    fn releases_group_files_by_version_at_their_first_upload() {
        let file = |name: &str, time: &str, yanked: bool| IndexFile {
            filename: name.into(),
            url: String::new(),
            sha256: crate::digest::Digest::of_bytes(b""),
            upload_time: Some(time.into()),
            requires_python: None,
            yanked,
        };
        let listed = [
            file("setuptools-69.5.1.tar.gz", "2024-04-13T10:00:05Z", false),
            file("setuptools-69.5.1-py3-none-any.whl", "2024-04-13T10:00:00Z", false),
            file("setuptools-70.0.0-py3-none-any.whl", "2024-05-21T00:00:00Z", true),
        ];
        let releases = releases(&listed);
        assert_eq!(releases.len(), 2);
        assert_eq!(releases[0].version, "69.5.1");
        assert_eq!(releases[0].uploaded, rfc3339_epoch("2024-04-13T10:00:00Z").unwrap());
        assert!(!releases[0].yanked && releases[1].yanked);
    }
}
