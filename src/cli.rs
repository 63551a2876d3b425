//! The command line, as clap types. `main.rs` dispatches on them.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Build a pinned spec several times in hermetic containers and compare the outputs.
#[derive(Debug, Parser)]
#[command(name = "reprocheck", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build SPEC several times and compare the outputs (exit 0 identical, 1 different, 2 error).
    #[command(
        after_help = "Examples:\n  reprocheck check specs/hello.toml\n  reprocheck check specs/hello.toml --runs 3 --out /tmp/results --json"
    )]
    Check {
        /// The spec file.
        spec: PathBuf,
        /// Number of runs (overrides check.runs).
        #[arg(long)]
        runs: Option<u32>,
        /// Factors to vary, comma-separated; `-name` removes one from the default
        /// set; `none` runs the control environment only.
        #[arg(long, allow_hyphen_values = true)]
        vary: Option<String>,
        /// Runs executed at once (default: number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Results directory (default: reprocheck-out/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print report.json to stdout (the summary goes to stderr).
        #[arg(long)]
        json: bool,
        /// Build the pinned image from [image].recipe when the engine lacks it;
        /// the built id must equal the pin.
        #[arg(long)]
        build_missing: bool,
        /// When the outputs differ, run `explain` too (results in OUT/explain).
        #[arg(long)]
        explain: bool,
        /// Also run diffoscope on each differing output (text and HTML in OUT/diffoscope/).
        #[arg(long)]
        diffoscope: bool,
    },
    /// Find which factors make the outputs differ, and which outputs differ even without variation.
    #[command(
        after_help = "Examples:\n  reprocheck explain specs/hello-unreproducible.toml\n  reprocheck explain specs/hello.toml --vary -time --json"
    )]
    Explain {
        /// The spec file.
        spec: PathBuf,
        /// Factors to consider, as for check.
        #[arg(long, allow_hyphen_values = true)]
        vary: Option<String>,
        /// Runs executed at once (default: number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Results directory (default: reprocheck-out/<name>-explain).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print report.json to stdout (the summary goes to stderr).
        #[arg(long)]
        json: bool,
        /// Build the pinned image from [image].recipe when the engine lacks it.
        #[arg(long)]
        build_missing: bool,
    },
    /// Pin [image].digest in SPEC to the image its name or recipe resolves to.
    Lock {
        /// The spec file, edited in place.
        spec: PathBuf,
        /// Fail instead of changing the pin.
        #[arg(long)]
        locked: bool,
    },
    /// Toolchain images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// List the factors with their control and experiment values.
    Factors,
}

/// `reprocheck image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from DIR/recipe.toml with mmdebstrap and load it; the last stdout line is its digest.
    Build {
        /// The recipe directory, e.g. containers/debian-bookworm.
        dir: PathBuf,
    },
}
