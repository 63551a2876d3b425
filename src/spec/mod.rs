//! The TOML spec: what to build, in which pinned image, from which source.
//!
//! Parsing happens in two steps: serde reads the file into `raw` types that keep
//! byte spans, then [`validate`] turns them into a [`Spec`], reporting every
//! problem as a [`SpecError`] with file, line and column.

mod diagnostic;
mod expect;
mod limits;
mod raw;
mod reach;
mod validate;

pub use crate::digest::Digest;
pub use diagnostic::SpecError;
pub use limits::Limits;
pub(crate) use reach::lexically_normal;
pub use reach::{HostPaths, ALLOW_FLAG};

use crate::errors::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec file as given on the command line.
    pub file: PathBuf,
    /// The directory relative paths in the spec are resolved against.
    pub dir: PathBuf,
    /// The file's exact text (kept for `lock`, which edits it in place).
    pub text: String,
    /// `sha256:<hex>` of the file's bytes.
    pub sha256: Digest,
    /// Name used for the build directory and the results directory.
    pub name: String,
    /// The pinned toolchain image.
    pub image: ImagePin,
    /// Where the source comes from.
    pub source: Source,
    /// How to build.
    pub build: Build,
    /// How many runs to compare, and what to vary.
    pub check: Check,
    /// `[expect]`: published digests to verify against (empty when absent).
    pub expect: Vec<Expected>,
    /// `[limits]`: resources and output caps of one run.
    pub limits: Limits,
}

impl Spec {
    /// What every structured diff of this spec's outputs knows: its
    /// `limits.diff_size` and build command (build directories per pair).
    pub fn diff_context(&self) -> crate::diff::DiffContext {
        crate::diff::DiffContext {
            build_dirs: Default::default(),
            budget: self.limits.diff_bytes,
            build_command: self.build.command.clone(),
            interrupt: Default::default(),
        }
    }
}

/// `[image]`: the toolchain image, pinned by digest.
#[derive(Debug, Clone)]
pub struct ImagePin {
    /// The pin. Missing only before the first `reprocheck lock`.
    pub digest: Option<Digest>,
    /// A display name, also the tag `lock` resolves.
    pub name: Option<String>,
    /// `REGISTRY/REPO[:TAG]@sha256:…`: the registry image, pulled by its
    /// digest when the engine lacks it (no digest: only `lock` may run).
    pub reference: Option<crate::registry::Reference>,
    /// An archive of the image (`reprocheck image save`), loaded when the
    /// engine lacks the image.
    pub archive: Option<ImageArchive>,
    /// A recipe directory that can build the image offline.
    pub recipe: Option<PathBuf>,
    /// What the recipe may reach: the spec's directory, or `None` with
    /// `--allow-host-paths` (see [`HostPaths`]).
    pub recipe_within: Option<PathBuf>,
}

/// `[image].archive`: a docker-archive of the image, pinned by sha256.
#[derive(Debug, Clone)]
pub struct ImageArchive {
    /// The file, under the spec's directory.
    pub path: PathBuf,
    /// Its sha256, checked before it is loaded.
    pub sha256: Digest,
}

/// `[source]`: where the tree to build comes from, and its optional NAR pin.
#[derive(Debug, Clone)]
pub struct Source {
    /// The form of the source.
    pub origin: Origin,
    /// `source.nar_hash`: the source tree's NAR sha256, checked before building.
    pub nar_hash: Option<Digest>,
    /// `source.directory`: the tree is placed in this directory of the build
    /// directory (`hello-1.0`, as `git archive --prefix=hello-1.0/` would
    /// lay it out), and the command runs in the build directory above it.
    pub directory: Option<String>,
}

/// The ways to name a source.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A directory on the host, uploaded into each container as a tar stream.
    Path(PathBuf),
    /// A git repository, checked out at exactly `rev`.
    Git {
        /// A URL, or a local path resolved against the spec's directory.
        url: String,
        /// The full 40-hex commit.
        rev: String,
        /// A tag that must resolve to `rev`.
        tag: Option<String>,
    },
    /// A Debian source package: the `.dsc`, verified by sha256, and the
    /// files beside it that it lists, verified by the `.dsc`.
    Dsc {
        /// The `.dsc` file.
        path: PathBuf,
        /// Its expected digest.
        sha256: Digest,
    },
    /// A local tarball, verified by sha256 before it is unpacked.
    Tarball {
        /// The file.
        path: PathBuf,
        /// Its expected digest.
        sha256: Digest,
        /// Leading path components dropped from every member.
        strip_components: u32,
    },
}

impl Origin {
    /// `path`, `git`, `tarball` or `dsc`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Path(_) => "path",
            Origin::Git { .. } => "git",
            Origin::Tarball { .. } => "tarball",
            Origin::Dsc { .. } => "dsc",
        }
    }

    /// Host paths a results directory must never contain.
    pub fn local_paths(&self) -> Vec<&Path> {
        match self {
            Origin::Path(p) | Origin::Tarball { path: p, .. } => vec![p.as_path()],
            // The files it lists lie beside it.
            Origin::Dsc { path, .. } => path.parent().into_iter().collect(),
            Origin::Git { url, .. } if Path::new(url).is_absolute() => vec![Path::new(url.as_str())],
            Origin::Git { .. } => Vec::new(),
        }
    }
}

/// `build.source_date_epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceDateEpoch {
    /// The given number of seconds.
    Fixed(i64),
    /// The commit time of the git source's `rev`.
    Commit,
    /// The date of the latest entry in the source's `debian/changelog`, as
    /// dpkg-buildpackage derives it.
    Changelog,
}

/// One expected output digest, from `[expect]` or its `sums` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The output path, relative to the source dir; a bare file name from a
    /// sums file matches a single output of that name in any directory.
    pub path: String,
    /// The published digest.
    pub sha256: Digest,
    /// Where it was declared, `file:line`, for messages.
    pub origin: String,
    /// The published file itself, when the spec names it: compared member
    /// by member with the rebuild, like `verify --expect-file`.
    pub reference: Option<PathBuf>,
}

/// `[build]`: the command and what it produces.
#[derive(Debug, Clone)]
pub struct Build {
    /// Run as `/bin/sh -c COMMAND` in the source directory.
    pub command: String,
    /// Globs, relative to the source directory, selecting the outputs;
    /// compiled once, here, as collection matches them.
    pub outputs: crate::collect::OutputGlobs,
    /// Extra environment variables for the build.
    pub env: BTreeMap<String, String>,
    /// Wall-clock limit for one run.
    pub timeout: Duration,
    /// Exported to the build as `SOURCE_DATE_EPOCH` when set.
    pub source_date_epoch: Option<SourceDateEpoch>,
}

/// `[check]`: how many runs, and which factors to vary.
#[derive(Debug, Clone)]
pub struct Check {
    /// Number of builds to compare (at least 2).
    pub runs: u32,
    /// Factors to vary; `None` means the default set.
    pub vary: Option<Vec<crate::factors::FactorId>>,
}

/// Default wall-clock limit for one run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Validates spec `text` as if read from `file` (relative paths resolve
/// against its directory, and are confined to it unless `host_paths`
/// allows them). For callers that have the text already, and the fuzzer.
pub fn parse(file: &Path, text: String, host_paths: HostPaths) -> std::result::Result<Spec, SpecError> {
    validate::validate(file, text, host_paths)
}

/// Largest spec file read (1 MiB): a spec is a short text.
pub const MAX_SPEC_SIZE: u64 = 1 << 20;

/// Largest package lock read (4 MiB: tens of thousands of packages).
pub const MAX_LOCK_SIZE: u64 = 4 << 20;

/// The recipe file inside an `[image].recipe` directory.
pub const RECIPE_FILE: &str = "recipe.toml";

/// The lock file inside an `[image].recipe` directory.
pub const RECIPE_LOCK_FILE: &str = "packages.lock";

/// Reads a small text file the user gave: a regular file (not a FIFO or a
/// device, which could block or never end) of at most `max` bytes, UTF-8.
pub fn read_capped(file: &Path, max: u64) -> Result<String> {
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    ensure!(meta.is_file(), "{} is not a regular file", file.display());
    ensure!(
        meta.len() <= max,
        "{} is {} bytes; at most {max} are read (is it the right file?)",
        file.display(),
        meta.len()
    );
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
            max + 1,
        ),
        &mut bytes,
    )
    .with_context(|| format!("reading {}", file.display()))?;
    ensure!(bytes.len() as u64 <= max, "{} grew past {max} bytes while it was read", file.display());
    String::from_utf8(bytes).map_err(|_| anyhow!("{} is not valid UTF-8", file.display()))
}

/// Reads and validates the spec at `file`; see [`parse`] for `host_paths`.
pub fn load(file: &Path, host_paths: HostPaths) -> Result<Spec> {
    let text = read_capped(file, MAX_SPEC_SIZE).map_err(|e| {
        anyhow!(
            "cannot read spec file {}: {e:#}\nhelp: check the path; specs are TOML files of at most 1 MiB",
            file.display()
        )
    })?;
    Ok(validate::validate(file, text, host_paths)?)
}
