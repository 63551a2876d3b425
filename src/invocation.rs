//! What one invocation of `check`, `explain` or `verify` is given: the
//! command line's options, which mode runs, and the runs of an earlier
//! check that explain may reuse.

use crate::spec;
use std::path::{Path, PathBuf};

/// Options of `reprocheck check`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Overrides `check.runs`.
    pub runs: Option<u32>,
    /// Overrides `check.vary`.
    pub vary: Option<Vec<crate::factors::FactorId>>,
    /// Concurrent runs; default: the number of CPUs.
    pub jobs: Option<usize>,
    /// Results directory; default `reprocheck-out/<name>`.
    pub out: Option<PathBuf>,
    /// Build the pinned image from its recipe when the engine lacks it.
    pub build_missing: bool,
    /// Never create or change a pin or a package lock.
    pub locked: bool,
    /// `--images-dir`: saved images to load a missing pinned image from.
    pub images_dir: Option<PathBuf>,
    /// Also run diffoscope on each differing output, when installed.
    pub diffoscope: bool,
    /// `verify --expect-file PATH=FILE`: reference artifacts by output path.
    pub expect_files: Vec<(String, PathBuf)>,
    /// What the terminal shows while the builds run.
    pub progress: crate::progress::Progress,
    /// Whether the spec may name host files outside its directory.
    pub host_paths: spec::HostPaths,
    /// The engine the builds run on.
    pub engine: crate::engine::Connector,
    /// Run every build under the tracer (`--trace`): its processes and the
    /// files they write, saved as `run-N/trace.tsv`.
    pub trace: bool,
    /// Keep an unpacked source tree (git, tarball, dsc) as `OUT/source`
    /// after the run; by default it is removed (the report keeps its NAR hash).
    pub keep_source: bool,
    /// Builds at once across every spec of a batch: each run holds one
    /// slot while it runs. `None`: only `jobs` bounds this spec's builds.
    pub build_slots: Option<crate::batch::BuildSlots>,
    /// More host paths a `path` source leaves out: a batch's results root,
    /// where the other specs' results appear while this one runs.
    pub exclude: Vec<PathBuf>,
    /// Held while a spec finds (or builds) its image: shared by the specs
    /// of a batch, so that specs with one recipe build its image once and
    /// never write its lock together.
    pub image_resolution: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where runs panic or abort on purpose (tests; `REPROCHECK_FAILPOINT`).
    pub failpoints: crate::cleanup::Failpoints,
}

impl CheckOptions {
    /// `--jobs`, or the number of CPUs; at least 1.
    pub fn jobs_or_cpus(&self) -> usize {
        self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1)
    }
}

/// What an invocation does once the spec is loaded and its results
/// directory claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Build N times and compare.
    Check,
    /// Find which factors cause the differences.
    Explain,
    /// Rebuild and compare with the published digests.
    Verify,
}

impl Mode {
    /// The subcommand that runs this mode.
    pub fn command(self) -> &'static str {
        match self {
            Mode::Check => "check",
            Mode::Explain => "explain",
            Mode::Verify => "verify",
        }
    }
}

/// The runs of an earlier `check`, which explain reuses as its control and
/// all-factor build when they were made with the same factors (`check --explain`).
#[derive(Clone, Copy)]
pub struct Earlier<'a> {
    /// The check's runs.
    pub runs: &'a [crate::run::CompletedRun],
    /// The factors it varied (`None`: it did not get as far as a plan).
    pub varied: Option<&'a [crate::factors::FactorId]>,
    /// Its results directory.
    pub out: &'a Path,
}
