//! `reprocheck rebuild`: from a package a registry published to a verdict,
//! with no hand-written file. Each target is *inferred* into an ordinary
//! spec directory (spec, recipe, requirements, the fetched sources, the
//! published files as `[expect]`), which `verify` (or `check`) then runs
//! like any other spec; `--write-spec DIR` keeps it for review.
//!
//! Every inference carries its evidence ("flit_core 3.9.0: from WHEEL
//! Generator"); what cannot be inferred is a [`NotInferable`] error saying
//! what is missing, never a guess.

pub mod debian;
pub mod pypi;
pub mod tally;
mod target;
mod written;

pub use target::Target;
pub use written::{toml_string, SpecFiles};

use crate::errors::*;
use std::path::PathBuf;

/// One thing `rebuild` decided, and what it decided it from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inference {
    /// What was decided: "build backend flit_core 3.9.0".
    pub what: String,
    /// Where it came from: "the published wheel's WHEEL Generator".
    pub evidence: String,
}

impl Inference {
    /// An inference from its two halves.
    pub fn new(what: impl Into<String>, evidence: impl Into<String>) -> Inference {
        Inference { what: what.into(), evidence: evidence.into() }
    }
}

/// `inferences` as TOML comments for the head of a spec: what was
/// decided, and from what (control characters from a registry removed).
pub fn as_comments(inferences: &[Inference]) -> String {
    let mut text = String::from("#\n# Inferred:\n");
    for inference in inferences {
        let line = format!("#   {}  (from {})", inference.what, inference.evidence);
        text.push_str(&crate::style::without_controls(&line).replace('\n', " "));
        text.push('\n');
    }
    text
}

/// A target turned into a spec directory.
#[derive(Debug, Clone)]
pub struct Inferred {
    /// The spec file written (`SLUG.toml` in the rebuild directory).
    pub spec: PathBuf,
    /// The image recipe directory the spec builds on, which the rebuild
    /// locks before its first build.
    pub recipe: Option<PathBuf>,
    /// What was inferred, in the order it was.
    pub inferences: Vec<Inference>,
}

/// The package could not be turned into a spec: what is missing. Kept
/// apart from other errors so a batch can count "not inferable" apart from
/// "build failed".
#[derive(Debug)]
pub struct NotInferable(pub String);

impl std::fmt::Display for NotInferable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot infer how to rebuild this: {}", self.0)
    }
}

impl std::error::Error for NotInferable {}

/// Fails with [`NotInferable`].
pub fn not_inferable<T>(why: impl Into<String>) -> Result<T> {
    Err(NotInferable(why.into()).into())
}

/// Whether `error` (or what it wraps) is a [`NotInferable`].
pub fn is_not_inferable(error: &Error) -> bool {
    error.chain().any(|cause| cause.is::<NotInferable>())
}

/// Why `error` stopped an inference, without the context naming the
/// target: the [`NotInferable`] reason when there is one, else the chain.
pub fn reason(error: &Error) -> String {
    match error.chain().find_map(|cause| cause.downcast_ref::<NotInferable>()) {
        Some(not) => not.to_string(),
        None => format!("{error:#}"),
    }
}

/// What the command line may add to the inference.
#[derive(Debug, Clone, Default)]
pub struct RebuildOptions {
    /// The Debian suite to take packages from (default: the host's own).
    pub suite: Option<String>,
    /// A `.buildinfo` whose recorded environment the Debian rebuild reproduces.
    pub buildinfo: Option<PathBuf>,
    /// The Python package index's simple API (default: pip's configuration).
    pub index_url: Option<String>,
    /// A snapshot archive's base for the `.buildinfo`'s versions the suite lacks.
    pub snapshot: Option<String>,
    /// The snapshot's time (default: the `.buildinfo`'s Build-Date).
    pub snapshot_time: Option<String>,
    /// A directory of .debs for the `.buildinfo`'s versions the suite lacks.
    pub packages_dir: Option<std::path::PathBuf>,
}

/// Infers how to rebuild `target` and writes its spec, `SLUG.toml`, with
/// its inputs into `files` (see [`SpecFiles`] for the layout).
pub async fn infer(target: &Target, files: &SpecFiles, options: &RebuildOptions) -> Result<Inferred> {
    match target {
        Target::Pypi { name, version } => pypi::infer(name, version, files, options).await,
        Target::Debian { package, version } => {
            debian::infer(package, version.as_deref(), files, options).await
        }
    }
    .with_context(|| format!("inferring a rebuild of {target}"))
}
