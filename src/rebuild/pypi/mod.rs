//! `rebuild pypi:NAME==VERSION`: the sdist and the pure-Python wheel from
//! the package index (each checked against the index's sha256), the build
//! inferred from their metadata (the backend and its version from the
//! wheel's `WHEEL` Generator and the sdist's `[build-system]`, the
//! timestamps from the wheel's entry times), the backend installed in an
//! image from hash-pinned wheels, and the published wheel as `[expect]`.

pub mod backend;
pub mod decide;
pub mod index;
pub mod pep440;
pub mod pyproject;
pub mod resolve;
pub mod sdist;
pub mod timestamps;
pub mod wheel;
mod write;

#[cfg(test)]
mod fixtures;

use super::{Inference, Inferred, RebuildOptions, SpecFiles};
use crate::errors::*;
use crate::image::python::normalise;
use index::{Index, IndexFile};

/// The Python the rebuild image runs: bookworm's, old enough for the
/// backends of the last years to run, and the one `resolve` pins for.
pub const PYTHON: &str = "3.11";

/// Infers the rebuild of `name==version` into `files`.
pub async fn infer(
    name: &str,
    version: &str,
    files: &SpecFiles,
    options: &RebuildOptions,
) -> Result<Inferred> {
    let index = Index::locate(options.index_url.as_deref())?;
    let listed = index.files(name).await?;
    let (sdist_file, wheel_file) = select(&listed, name, version)?;
    let slug = super::Target::Pypi { name: name.to_string(), version: version.to_string() }.slug();
    let mut inferences = vec![
        Inference::new(
            format!("sdist {}", sdist_file.filename),
            format!("the index's files for {name} {version}, {}", sdist_file.sha256),
        ),
        Inference::new(
            format!("published wheel {}", wheel_file.filename),
            format!("the index's files, {}", wheel_file.sha256),
        ),
    ];
    let sdist_path = fetch(&index, &sdist_file, files, &format!("{slug}/{}", sdist_file.filename)).await?;
    let wheel_path = fetch(&index, &wheel_file, files, &format!("{slug}/{}", wheel_file.filename)).await?;
    let sdist = sdist::read(&sdist_path)?;
    let wheel = read_wheel(&wheel_path)?;
    let decision = decide::decide(&index, &wheel, &wheel_file, &sdist).await?;
    inferences.extend(decision.inferences.iter().cloned());
    let pinned = pin_requirements(&index, &decision, &wheel_file, &mut inferences).await?;
    let image_dir = write::image(files, &decision, &pinned)?;
    let spec = write::spec(files, &slug, &image_dir, &sdist_file, &wheel_file, &decision, &inferences)?;
    Ok(Inferred { spec, recipe: Some(files.path(&image_dir)?), inferences })
}

/// The build requirements pinned: pip resolves them, then every
/// distribution the rules did not pin exactly is taken at the version that
/// was current when the published wheel was uploaded, and pip resolves
/// again within those (falling back to its own choice, said so, when they
/// conflict).
async fn pin_requirements(
    index: &Index,
    decision: &decide::Decision,
    wheel_file: &IndexFile,
    inferences: &mut Vec<Inference>,
) -> Result<Vec<resolve::Pinned>> {
    let work = tempfile::tempdir().context("creating a scratch directory")?;
    let scratch = work.path().join("resolve");
    let requirements = &decision.requirements;
    let latest = resolve::resolve(requirements, &[], PYTHON, index.url(), &scratch)?;
    let listed = |pinned: &[resolve::Pinned]| {
        pinned.iter().map(|p| format!("{}=={}", p.name, p.version)).collect::<Vec<_>>().join(", ")
    };
    let Some(cutoff) = wheel_file.upload_time.as_deref() else {
        inferences.push(Inference::new(
            format!("build requirements {}", listed(&latest)),
            format!(
                "pip's resolution of {} for Python {PYTHON} (the index gives no upload time)",
                requirements.join(", ")
            ),
        ));
        return Ok(latest);
    };
    let mut uploads = std::collections::BTreeMap::new();
    for p in &latest {
        let files = index.files(&p.name).await.with_context(|| format!("listing {} on the index", p.name))?;
        let times: Vec<(String, String)> =
            files.into_iter().filter_map(|f| f.upload_time.map(|t| (f.filename, t))).collect();
        uploads.insert(p.name.clone(), times);
    }
    let exact: Vec<String> = decision.pins.iter().map(|(n, _)| n.clone()).collect();
    let constraints =
        resolve::as_of(&latest, &exact, cutoff, |name| uploads.get(name).cloned().unwrap_or_default());
    let day = cutoff.split('T').next().unwrap_or(cutoff);
    match resolve::resolve(requirements, &constraints, PYTHON, index.url(), &scratch) {
        Ok(pinned) => {
            inferences.push(Inference::new(
                format!("build requirements {}", listed(&pinned)),
                format!(
                    "pip's resolution of {} for Python {PYTHON}, each dependency at its latest wheel uploaded before the published wheel ({day})",
                    requirements.join(", ")
                ),
            ));
            Ok(pinned)
        }
        Err(e) => {
            inferences.push(Inference::new(
                format!("build requirements {}", listed(&latest)),
                format!(
                    "pip's resolution of {} for Python {PYTHON} today: the versions of {day} do not resolve together ({})",
                    requirements.join(", "),
                    format!("{e:#}").lines().last().unwrap_or_default()
                ),
            ));
            Ok(latest)
        }
    }
}

/// Largest published wheel read (into memory, as the zip reader needs):
/// pure-Python wheels are kilobytes to a few megabytes.
const MAX_WHEEL: u64 = 64 << 20;

fn read_wheel(path: &std::path::Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_WHEEL {
        return super::not_inferable(format!(
            "the published wheel is {size} bytes, more than the {MAX_WHEEL} read: not a plausible pure-Python wheel"
        ));
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The version's sdist and its one pure-Python wheel.
fn select(listed: &[IndexFile], name: &str, version: &str) -> Result<(IndexFile, IndexFile)> {
    let wanted = normalise(name);
    let of_version: Vec<&IndexFile> = listed
        .iter()
        .filter(|f| {
            let (project, file_version) = file_name_parts(&f.filename);
            normalise(&project) == wanted && file_version == version
        })
        .collect();
    if of_version.is_empty() {
        return super::not_inferable(format!("the index lists no file of {name} {version}"));
    }
    let sdist = of_version.iter().find(|f| f.filename.ends_with(".tar.gz"));
    let wheels: Vec<&&IndexFile> = of_version.iter().filter(|f| f.filename.ends_with(".whl")).collect();
    let pure: Vec<&&IndexFile> =
        wheels.iter().copied().filter(|f| f.filename.ends_with("-none-any.whl")).collect();
    let Some(sdist) = sdist else {
        return super::not_inferable(format!(
            "{name} {version} has no .tar.gz sdist on the index (files: {})",
            names(&of_version)
        ));
    };
    match pure[..] {
        [wheel] => Ok(((*sdist).clone(), (**wheel).clone())),
        [] if wheels.is_empty() => {
            super::not_inferable(format!("{name} {version} published no wheel to compare with"))
        }
        [] => super::not_inferable(format!(
            "{name} {version} published only platform wheels ({}): only pure-Python wheels are rebuilt",
            names(&wheels.iter().map(|w| **w).collect::<Vec<_>>())
        )),
        _ => super::not_inferable(format!(
            "{name} {version} published several pure-Python wheels ({}): which one to rebuild is not clear",
            names(&pure.iter().map(|w| **w).collect::<Vec<_>>())
        )),
    }
}

fn names(files: &[&IndexFile]) -> String {
    files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ")
}

/// `(project, version)` of an sdist (`name-1.0.tar.gz`) or wheel
/// (`name-1.0-py3-none-any.whl`) file name.
fn file_name_parts(file: &str) -> (String, String) {
    if let Some(stem) = file.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        return (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    }
    let stem = file.strip_suffix(".tar.gz").or_else(|| file.strip_suffix(".zip")).unwrap_or(file);
    match stem.rsplit_once('-') {
        Some((project, version)) => (project.to_string(), version.to_string()),
        None => (stem.to_string(), String::new()),
    }
}

/// Downloads `file` into the rebuild directory at `relative`, unless a
/// file with the index's digest is already there.
async fn fetch(
    index: &Index,
    file: &IndexFile,
    files: &SpecFiles,
    relative: &str,
) -> Result<std::path::PathBuf> {
    let path = files.path(relative)?;
    if path.exists() {
        let have = crate::digest::Digest::of_file(&path)?;
        ensure!(
            have == file.sha256,
            "{} is there with {have}, but the index states {} for it\n\
             help: remove it to download it anew",
            path.display(),
            file.sha256
        );
        return Ok(path);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    index.download(file, &path).await?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("https://index.example/{name}"),
            sha256: crate::digest::Digest::of_bytes(name.as_bytes()),
            upload_time: None,
            requires_python: None,
            yanked: false,
        }
    }

    #[test]
    fn the_versions_sdist_and_pure_wheel_are_chosen() {
        let listed = [
            file("idna-3.9.tar.gz"),
            file("idna-3.10.tar.gz"),
            file("idna-3.10-py3-none-any.whl"),
            file("idna-3.9-py3-none-any.whl"),
        ];
        let (sdist, wheel) = select(&listed, "idna", "3.10").unwrap();
        assert_eq!(
            (sdist.filename.as_str(), wheel.filename.as_str()),
            ("idna-3.10.tar.gz", "idna-3.10-py3-none-any.whl")
        );
        let listed = [file("annotated_types-0.7.0.tar.gz"), file("annotated_types-0.7.0-py3-none-any.whl")];
        assert!(select(&listed, "Annotated-Types", "0.7.0").is_ok());
    }

    #[test]
    fn what_cannot_be_rebuilt_says_why() {
        let err = select(&[file("x-1.0.tar.gz")], "x", "2.0").unwrap_err();
        assert!(
            super::super::is_not_inferable(&err) && err.to_string().contains("no file of x 2.0"),
            "{err}"
        );
        let err =
            select(&[file("x-1.0.tar.gz"), file("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl")], "x", "1.0")
                .unwrap_err();
        assert!(err.to_string().contains("only platform wheels"), "{err}");
        let err = select(&[file("x-1.0-py3-none-any.whl")], "x", "1.0").unwrap_err();
        assert!(err.to_string().contains("no .tar.gz sdist"), "{err}");
    }
}
