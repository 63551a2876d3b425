//! The command line, as clap types. `main.rs` dispatches on them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Build a pinned spec several times in hermetic containers and compare the outputs.
#[derive(Debug, Parser)]
#[command(name = "reprocheck", version, about, long_about = None)]
pub struct Cli {
    /// The engine's API socket: a path (`/run/podman/podman.sock`) or a URL
    /// (`unix://...`, `tcp://...`). Default: $DOCKER_HOST, else /var/run/docker.sock.
    #[arg(long, global = true, value_name = "SOCKET")]
    pub engine_socket: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `--engine-socket` as a DOCKER_HOST value.
    pub fn engine_host(&self) -> Option<String> {
        self.engine_socket.as_ref().map(|s| if s.contains("://") { s.clone() } else { format!("unix://{s}") })
    }
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
    /// Rebuild SPEC and compare each output with its published digest; write a SLSA provenance attestation
    /// (exit 0 all match, 1 any content-match/mismatch/missing, 2 error).
    #[command(after_help = "Examples:\n  reprocheck verify specs/examples/release.toml\n  \
reprocheck verify specs/examples/release-naive.toml --expect-file hello-1.0.tgz=specs/examples/published/hello-1.0.tgz\n  \
reprocheck verify SPEC --runs 3 --sign-key rebuilder.key --builder-id https://rebuild.example.org/me")]
    Verify {
        /// What every building command takes.
        #[command(flatten)]
        build: BuildArgs,
        /// Builds: 1 (default) rebuilds in the control environment; more also varies factors.
        #[arg(long)]
        runs: Option<u32>,
        /// Compare output PATH with the reference artifact FILE (repeatable); its sha256 is the expected digest.
        #[arg(long = "expect-file", value_name = "PATH=FILE", value_parser = parse_expect_file)]
        expect_files: Vec<(String, PathBuf)>,
        /// Sign the attestation with this Ed25519 private key (PKCS#8 PEM, from `reprocheck keygen`).
        #[arg(long, value_name = "KEY")]
        sign_key: Option<PathBuf>,
        /// The attestation's builder.id: a URI naming you as a rebuilder (default: urn:reprocheck:builder:<hostname>).
        #[arg(long, value_name = "URI")]
        builder_id: Option<String>,
        /// Also run diffoscope on outputs that differ between runs.
        #[arg(long)]
        diffoscope: bool,
    },
    /// Make an Ed25519 key pair for signing attestations: PREFIX.key (0600) and PREFIX.pub.
    #[command(after_help = "Example:\n  reprocheck keygen ~/.config/reprocheck/rebuilder")]
    Keygen {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
    /// Attestations.
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Pin [image].digest and [source].nar_hash in SPEC to what they resolve to now.
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

/// `reprocheck attest ...`
#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Check a signed attestation: the signature, the statement, and that each artifact is a subject
    /// (exit 0 all good, 1 a check failed, 2 unreadable input).
    #[command(
        after_help = "Example:\n  reprocheck attest verify reprocheck-out/release-verify/provenance.dsse.json --key rebuilder.pub --artifact hello-1.0.tgz"
    )]
    Verify {
        /// The DSSE envelope (provenance.dsse.json).
        attestation: PathBuf,
        /// The signer's public key (SPKI PEM).
        #[arg(long)]
        key: PathBuf,
        /// Files whose sha256 must appear among the subjects (repeatable).
        #[arg(long = "artifact", value_name = "FILE")]
        artifacts: Vec<PathBuf>,
    },
}

/// Parses `PATH=FILE`.
fn parse_expect_file(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((path, file)) if !path.is_empty() && !file.is_empty() => {
            Ok((path.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!("`{text}` is not PATH=FILE (the output path, `=`, the reference file)")),
    }
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
