//! The files a PyPI rebuild writes: the image recipe with its hash-pinned
//! requirements (shared by every target with the same requirements), and
//! the spec.

use super::decide::Decision;
use super::index::IndexFile;
use super::resolve::{self, Pinned};
use crate::digest::Digest;
use crate::errors::*;
use crate::rebuild::{toml_string, SpecFiles};
use std::path::PathBuf;

/// The recipe's fixed epoch (2025-05-20T00:00:00Z): the image's files are
/// dated by it, so the image id depends on the packages only.
const IMAGE_EPOCH: u64 = 1747699200;

/// Writes `images/pypi-LABEL-HASH/` (recipe and requirements) and returns
/// its path relative to the rebuild directory.
pub fn image(files: &SpecFiles, decision: &Decision, pinned: &[Pinned]) -> Result<String> {
    let requirements = resolve::requirements_file(
        pinned,
        "The build requirements of a PyPI rebuild, resolved by pip for the\n\
         image's Python and pinned by the sha256 of each wheel (pip's\n\
         hash-checking mode). Written by `reprocheck rebuild`.",
    );
    let packages = "[\"python3-pip\", \"tzdata\"]";
    let hash = Digest::of_bytes(format!("{requirements}\n{packages}").as_bytes());
    let dir = format!("images/pypi-{}-{}", decision.image_label, &hash.hex()[..8]);
    let recipe = format!(
        "# Python {python} (Debian bookworm) with only the build requirements in\n\
         # requirements.txt, installed from hash-pinned wheels with no index.\n\
         # Written by `reprocheck rebuild`; the first build writes packages.lock.\n\
         name = {name}\n\
         suite = \"bookworm\"\n\
         variant = \"apt\"\n\
         packages = {packages}\n\
         python_requirements = \"requirements.txt\"\n\
         source_date_epoch = {IMAGE_EPOCH}\n",
        python = super::PYTHON,
        name = toml_string(&format!("reprocheck/pypi-{}-{}", decision.image_label, &hash.hex()[..8])),
    );
    files.write(&format!("{dir}/requirements.txt"), requirements)?;
    files.write(&format!("{dir}/recipe.toml"), recipe)?;
    Ok(dir)
}

/// Writes the spec `SLUG.toml` (the sdist and the wheel are in `SLUG/`)
/// and returns its path.
pub fn spec(
    files: &SpecFiles,
    slug: &str,
    image_dir: &str,
    sdist_file: &IndexFile,
    wheel_file: &IndexFile,
    decision: &Decision,
    inferences: &[crate::rebuild::Inference],
) -> Result<PathBuf> {
    let image_name = format!("reprocheck/{}", image_dir.trim_start_matches("images/"));
    let mut text = format!(
        "# {wheel} rebuilt from {sdist}, as `reprocheck rebuild` inferred it.\n\
         # Review it, commit it, and rerun it with `reprocheck verify` or `check`.\n\
         {inferred}\
         name = {name}\n\n\
         [image]\n\
         name = {image_name}\n\
         recipe = {recipe}\n\n\
         [source]\n\
         tarball = {tarball}\n\
         sha256 = {sdist_sha}\n\
         strip_components = 1\n\n\
         [build]\n\
         command = {command}\n\
         outputs = [\"dist/*.whl\"]\n\
         timeout = \"30m\"\n",
        wheel = wheel_file.filename,
        inferred = crate::rebuild::as_comments(inferences),
        sdist = sdist_file.filename,
        name = toml_string(slug),
        image_name = toml_string(&image_name),
        recipe = toml_string(image_dir),
        // Where `infer` downloaded it.
        tarball = toml_string(&format!("{slug}/{}", sdist_file.filename)),
        sdist_sha = toml_string(sdist_file.sha256.as_str()),
        command = toml_string(&build_command(decision)?),
    );
    if let Some(epoch) = decision.source_date_epoch {
        text.push_str(&format!("source_date_epoch = {epoch}\n"));
    }
    if let Some(tz) = &decision.tz {
        text.push_str(&format!("env = {{ TZ = {} }}\n", toml_string(tz)));
    }
    text.push_str(&format!(
        "\n[expect]\n{} = {{ sha256 = {}, file = {} }}\n",
        toml_string(&format!("dist/{}", wheel_file.filename)),
        toml_string(wheel_file.sha256.as_str()),
        toml_string(&format!("{slug}/{}", wheel_file.filename)),
    ));
    files.write(&format!("{slug}.toml"), text)
}

/// The build: Python with no site directories (so no Debian package can
/// stand in for a pinned one), only the pinned wheels' directory on its
/// path, a check that each pinned version is the one installed, then the
/// backend's `build_wheel` into `dist/`.
fn build_command(decision: &Decision) -> Result<String> {
    for word in std::iter::once(&decision.backend_module)
        .chain(decision.backend_object.iter())
        .chain(decision.backend_path.iter())
        .chain(decision.pins.iter().flat_map(|(n, v)| [n, v]))
    {
        ensure!(
            !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "._-+!/:".contains(c)),
            "`{word}` is not a plain module, path, name or version: refusing to put it in a build command"
        );
    }
    let quoted = |items: Vec<String>| items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ");
    let pins = quoted(decision.pins.iter().map(|(n, v)| format!("{n}=={v}")).collect());
    let path = quoted(decision.backend_path.clone());
    let object = match &decision.backend_object {
        Some(o) => format!("b = getattr(b, \"{o}\"); "),
        None => String::new(),
    };
    Ok(format!(
        "rm -rf dist && PYTHONPATH=\"$(echo /usr/local/lib/python3*/dist-packages)\" python3 -S -c '\
         import importlib, importlib.metadata as m, os, sys; \
         sys.path[:0] = [os.path.abspath(p) for p in [{path}]]; \
         bad = [p + \" (installed: \" + m.version(p.split(\"==\")[0]) + \")\" for p in [{pins}] if m.version(p.split(\"==\")[0]) != p.split(\"==\")[1]]; \
         sys.exit(\"reprocheck: the image does not have the pinned \" + \", \".join(bad)) if bad else None; \
         b = importlib.import_module(\"{module}\"); {object}\
         os.makedirs(\"dist\", exist_ok=True); \
         print(\"built dist/\" + b.build_wheel(\"dist\"{settings}))'",
        settings = if decision.universal { ", {\"--build-option\": [\"--universal\"]}" } else { "" },
        module = decision.backend_module,
    ))
}
