//! The command line, as clap types. `main.rs` dispatches on them.

use clap::{Args, Parser, Subcommand};
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
        /// What every building command takes.
        #[command(flatten)]
        build: BuildArgs,
        /// Number of runs (overrides check.runs).
        #[arg(long)]
        runs: Option<u32>,
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
        /// What every building command takes.
        #[command(flatten)]
        build: BuildArgs,
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

/// The spec and the options of every command that builds it.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The spec file.
    pub spec: PathBuf,
    /// Factors to vary, comma-separated; `-name` removes one from the default
    /// set; `none` runs the control environment only.
    #[arg(long, allow_hyphen_values = true)]
    pub vary: Option<String>,
    /// Runs executed at once (default: number of CPUs; explain: a whole round).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Results directory (default: reprocheck-out/<name>, or <name>-explain).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print report.json to stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Build the pinned image from [image].recipe when the engine lacks it;
    /// the built id must equal the pin.
    #[arg(long)]
    pub build_missing: bool,
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
