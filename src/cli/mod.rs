//! The command line, as clap types. `main.rs` dispatches on them.

use clap::{ArgAction, Args, ColorChoice, CommandFactory, Parser, Subcommand};

mod rebuild;
pub use rebuild::RebuildArgs;
use reprocheck::errors::*;
use std::path::{Path, PathBuf};

/// Build a pinned spec several times in hermetic containers and compare the outputs.
#[derive(Debug, Parser)]
#[command(
    name = "reprocheck",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  reprocheck check specs/hello.toml --build-missing\n  \
reprocheck check specs/hello-unreproducible.toml --explain\n  \
reprocheck verify specs/release.toml --sign-key rebuilder.key\n\n\
Exit codes: 0 reproducible/verified, 1 unreproducible/not verified, 2 error.\n\
The results (report.json, report.html, logs, outputs) go to reprocheck-out/<name> unless --out says otherwise."
)]
pub struct Cli {
    /// The engine's API endpoint: a path (`/run/podman/podman.sock`) or a URL
    /// (`unix://...`, `tcp://host:2376` with TLS from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH,
    /// `ssh://user@host[:port]`). Default: $DOCKER_HOST, else the Docker context
    /// (DOCKER_CONTEXT or `docker context use`), else /var/run/docker.sock.
    #[arg(long, global = true, value_name = "SOCKET")]
    pub engine_socket: Option<String>,
    /// More output: -v streams every build log line (prefixed with its run) and logs at info
    /// level, -vv at debug, -vvv at trace. RUST_LOG, when set, chooses the log levels instead.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only the result: no progress lines, no notes, only errors logged.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// `--engine-socket` as a DOCKER_HOST value.
    pub fn engine_host(&self) -> Option<String> {
        self.engine_socket.as_ref().map(|s| if s.contains("://") { s.clone() } else { format!("unix://{s}") })
    }

    /// The tracing filter: RUST_LOG when set, else from `-q`/`-v`.
    pub fn log_filter(&self) -> String {
        match std::env::var("RUST_LOG") {
            Ok(filter) if !filter.trim().is_empty() => filter,
            _ => match (self.quiet, self.verbose) {
                (true, _) => "error",
                (false, 0) => "warn",
                (false, 1) => "info",
                (false, 2) => "debug",
                _ => "trace",
            }
            .to_string(),
        }
    }

    /// Whether to colour a stream that `is_terminal` or not: `--color`
    /// decides, and under `auto` a set, non-empty NO_COLOR or TERM=dumb turns
    /// colour off (an explicit `--color always` wins over NO_COLOR).
    pub fn colors(&self, is_terminal: bool) -> bool {
        let env_allows = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && env_allows,
        }
    }
}

/// The `--color` value in raw arguments, so that clap's own help and errors
/// (printed before parsing finishes) obey it too.
pub fn color_in_args(args: &[std::ffi::OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut args = args.iter().filter_map(|a| a.to_str()).take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--color") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        match value {
            Some("always") => choice = ColorChoice::Always,
            Some("never") => choice = ColorChoice::Never,
            Some("auto") => choice = ColorChoice::Auto,
            _ => {}
        }
    }
    choice
}

/// Prints the completion script for `shell` to stdout.
pub fn print_completions(shell: clap_complete::Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "reprocheck", &mut script);
    reprocheck::console::write_stdout(&script);
}

/// Writes the man pages (`reprocheck.1` and one per subcommand) into `dir`,
/// or the main page to stdout when `dir` is `None`. Returns the files written.
pub fn write_man_pages(dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let command = Cli::command();
    let Some(dir) = dir else {
        let mut stdout = std::io::stdout().lock();
        return match clap_mangen::Man::new(command).render(&mut stdout) {
            // `reprocheck man | head` is not an error.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(e).context("writing the man page to stdout")
            }
            _ => Ok(Vec::new()),
        };
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("writing man pages into {}", dir.display()))?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "1"))
        .collect();
    written.sort();
    Ok(written)
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
        /// Number of runs (overrides check.runs), 2 to 64.
        #[arg(long, value_parser = clap::value_parser!(u32).range(2..=64))]
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
    /// Rebuild SPEC and compare each output with its published digest; write a SLSA provenance and a
    /// SLSA verification summary, PASSED or FAILED (exit 0 all match, 1 any content-match/mismatch/missing, 2 error).
    #[command(after_help = "Examples:\n  reprocheck verify specs/release.toml\n  \
reprocheck verify specs/release-naive.toml --expect-file hello-1.0.tgz=specs/published/hello-1.0.tgz\n  \
reprocheck verify SPEC --runs 3 --sign-key rebuilder.key --builder-id https://rebuild.example.org/me")]
    Verify {
        /// What every building command takes.
        #[command(flatten)]
        build: BuildArgs,
        /// Builds: 1 (default) rebuilds in the control environment; more also varies factors (at most 64).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
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
        /// The verification summary's resourceUri: where the verified artifacts are published
        /// (default: the reference file, or the sums file or spec that declares the digests).
        #[arg(long, value_name = "URI")]
        resource_uri: Option<String>,
        /// Also run diffoscope on outputs that differ between runs.
        #[arg(long)]
        diffoscope: bool,
    },
    /// Rebuild what a registry published, with no hand-written file: infer a spec for each
    /// TARGET (pypi:NAME==VERSION, debian:PACKAGE[=VERSION], or @LIST, one per line), then
    /// verify the rebuild against the published files (exit 0 all verified, 1 any not, 2 error).
    #[command(after_help = "Examples:\n  reprocheck rebuild pypi:idna==3.10\n  \
reprocheck rebuild debian:distro-info-data\n  \
reprocheck rebuild @specs/rebuild/pypi.list --jobs 2 --out rebuild-results\n  \
reprocheck rebuild pypi:six==1.17.0 --write-spec six/   # keep the inferred spec to review and rerun")]
    Rebuild(RebuildArgs),
    /// Make an Ed25519 key pair for signing attestations: PREFIX.key (0600) and PREFIX.pub.
    #[command(after_help = "Example:\n  reprocheck keygen ~/.config/reprocheck/rebuilder")]
    Keygen {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
    /// Attestations.
    #[command(
        subcommand,
        after_help = "Example:\n  reprocheck attest verify provenance.dsse.json --key rebuilder.pub --artifact hello-1.0.tgz"
    )]
    Attest(AttestCommand),
    /// Pin [image].digest and [source].nar_hash in SPEC to what they resolve to now.
    #[command(after_help = "Examples:\n  reprocheck lock specs/hello.toml\n  \
reprocheck lock specs/hello.toml --locked    # in CI: fail if a pin would change")]
    Lock {
        /// The spec file, edited in place.
        spec: PathBuf,
        /// Fail instead of changing the pin.
        #[arg(long)]
        locked: bool,
        /// Let the spec name files outside its own directory.
        #[arg(long)]
        allow_host_paths: bool,
    },
    /// Toolchain images.
    #[command(subcommand, after_help = "Example:\n  reprocheck image build specs/containers/debian-trixie")]
    Image(ImageCommand),
    /// List the factors with their control and experiment values.
    #[command(after_help = "Example:\n  reprocheck factors")]
    Factors,
    /// Compare two files with the structured diff (exit 0 identical, 1 different, 2 error).
    #[command(after_help = "Examples:\n  reprocheck diff Python-3.11.2.tgz rebuilt/Python-3.11.2.tgz\n  \
reprocheck diff a.deb b.deb --json > diff.json")]
    Diff {
        /// The first version (e.g. the published artifact).
        a: PathBuf,
        /// The second version (e.g. your rebuild).
        b: PathBuf,
        /// Print the whole diff as JSON (every difference) instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(
        after_help = "Examples:\n  reprocheck completions bash > /etc/bash_completion.d/reprocheck\n  \
reprocheck completions zsh > ~/.zfunc/_reprocheck\n  \
reprocheck completions fish > ~/.config/fish/completions/reprocheck.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages: reprocheck.1 to stdout, or every page into DIR.
    #[command(
        after_help = "Examples:\n  reprocheck man | man -l -\n  reprocheck man --dir /usr/local/share/man/man1"
    )]
    Man {
        /// Write reprocheck.1 and one page per subcommand (reprocheck-check.1, ...) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The spec and the options of every command that builds it.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The spec file. Several, a directory (the *.toml files in it) or @LIST (a file naming one
    /// per line) run as a batch: --jobs builds at once across all of them, one summary table,
    /// OUT/index.html, and the worst exit code.
    #[arg(required = true, num_args = 1.., value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    /// Factors to vary, comma-separated; `-name` removes one from the default
    /// set; `none` runs the control environment only.
    #[arg(long, allow_hyphen_values = true)]
    pub vary: Option<String>,
    /// Builds run at once (default: the number of CPUs; explain: a whole round, whose builds must
    /// start together). In a batch, the bound across all specs.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Results directory (default: reprocheck-out/<name>, or <name>-explain).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print report.json to stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Build the image from [image].recipe when the engine lacks it: from
    /// its packages.lock (the built id must equal the pin), or, on first use,
    /// resolve the packages and write the lock.
    #[arg(long)]
    pub build_missing: bool,
    /// Never create or change a pin or a package lock (for CI): an unpinned
    /// image, a missing or stale lock, or drift is an error.
    #[arg(long)]
    pub locked: bool,
    /// A directory of saved images (`reprocheck image save SPEC DIR` writes
    /// DIR/<image id hex>.tar): a pinned image the engine lacks is loaded
    /// from there, with no registry, and checked against the pin.
    #[arg(long, value_name = "DIR")]
    pub images_dir: Option<PathBuf>,
    /// Let the spec name files outside its own directory (source, tarball, sums, recipe);
    /// by default every path must resolve under it, so a spec from someone else cannot read
    /// your files.
    #[arg(long)]
    pub allow_host_paths: bool,
    /// Keep the unpacked source tree (git, tarball and dsc sources) in OUT/source after the
    /// run; by default it is removed once the builds are done (report.json records its NAR hash).
    #[arg(long)]
    pub keep_source: bool,
    /// Trace every build: the processes it runs (argv, cwd, parent) and the files each
    /// creates, writes, renames or removes, recorded in the container with no added
    /// privilege and saved as OUT/run-N/trace.tsv; the report names the process that
    /// wrote each output (docs/trace.md).
    #[arg(long)]
    pub trace: bool,
}

impl BuildArgs {
    /// The spec, when exactly one spec file is named (no directory, no list).
    pub fn single(&self) -> Option<&Path> {
        match &self.specs[..] {
            [spec] if !spec.is_dir() && !spec.to_string_lossy().starts_with('@') => Some(spec),
            _ => None,
        }
    }

    /// `--allow-host-paths` as the spec loader takes it.
    pub fn host_paths(&self) -> reprocheck::spec::HostPaths {
        host_paths(self.allow_host_paths)
    }
}

/// The spec loader's [`reprocheck::spec::HostPaths`] for `--allow-host-paths`.
pub fn host_paths(allow: bool) -> reprocheck::spec::HostPaths {
    if allow {
        reprocheck::spec::HostPaths::Allowed
    } else {
        reprocheck::spec::HostPaths::Confined
    }
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
    /// Build an image from DIR/recipe.toml and DIR/packages.lock with mmdebstrap and load it; the last stdout
    /// line is its digest. Without a lock, resolve the packages and write one.
    #[command(after_help = "Examples:\n  reprocheck image build specs/containers/debian-trixie\n  \
reprocheck image build specs/containers/debian-trixie --packages-dir debs   # no archive needed\n  \
reprocheck image build specs/containers/debian-trixie --update              # accept new packages; prints what changed")]
    Build {
        /// The recipe directory, e.g. specs/containers/debian-trixie.
        dir: PathBuf,
        // Documented on PackageArgs: clap would read a doc comment here as help.
        #[allow(missing_docs)]
        #[command(flatten)]
        packages: PackageArgs,
        /// Resolve the packages anew from the sources and rewrite the lock, printing what changed.
        #[arg(long, conflicts_with = "locked")]
        update: bool,
        /// Fail instead of writing a lock (none yet, or the recipe changed).
        #[arg(long)]
        locked: bool,
    },
    /// Save every .deb DIR/packages.lock names into DEBS, and its Python wheels into DEBS/python
    /// (each checked against its sha256), so that `image build --packages-dir DEBS` rebuilds the
    /// same image with no archive and no package index at all.
    #[command(
        after_help = "Example:\n  reprocheck image vendor specs/containers/debian-trixie specs/containers/debian-trixie/debs"
    )]
    Vendor {
        /// The recipe directory.
        dir: PathBuf,
        /// Where to write the .debs.
        debs: PathBuf,
        // Documented on PackageArgs: clap would read a doc comment here as help.
        #[allow(missing_docs)]
        #[command(flatten)]
        packages: PackageArgs,
    },
    /// Save the image SPEC pins (pulled or loaded first if the engine lacks it) as DIR/<image id hex>.tar,
    /// a docker-archive that `[image].archive` or `--images-dir DIR` loads later with no registry.
    #[command(after_help = "Examples:\n  reprocheck image save specs/hello.toml images/\n  \
reprocheck check specs/hello.toml --images-dir images/   # on an engine that lacks the image")]
    Save {
        /// The spec whose pinned image to save.
        spec: PathBuf,
        /// Where to write the archive.
        dir: PathBuf,
        /// Let the spec name files outside its own directory.
        #[arg(long)]
        allow_host_paths: bool,
    },
}

/// Where locked packages may come from, over the recipe's settings.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// A directory of the locked .debs (made by `image vendor`), tried first.
    #[arg(long, value_name = "DIR")]
    pub packages_dir: Option<PathBuf>,
    /// A snapshot archive's base URL (the layout of Debian's snapshot archive: BASE/debian/TIME/).
    #[arg(long, value_name = "URL", requires = "snapshot_time")]
    pub snapshot: Option<String>,
    /// The snapshot's time, YYYYMMDDTHHMMSSZ.
    #[arg(long, value_name = "TIME", requires = "snapshot")]
    pub snapshot_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_examples_in_its_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            let help = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            if !path.ends_with(" help") && !help.contains("Example") {
                missing.push(path.clone());
            }
            for sub in command.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        for sub in Cli::command().get_subcommands() {
            walk(sub, "reprocheck", &mut missing);
        }
        assert!(missing.is_empty(), "no examples in the help of: {missing:?}");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn color_is_found_in_raw_arguments() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(color_in_args(&args(&["reprocheck", "--color", "never", "check"])), ColorChoice::Never);
        assert_eq!(color_in_args(&args(&["reprocheck", "check", "--color=always"])), ColorChoice::Always);
        assert_eq!(color_in_args(&args(&["reprocheck", "check", "--", "--color=always"])), ColorChoice::Auto);
        assert_eq!(color_in_args(&args(&["reprocheck", "--colorful"])), ColorChoice::Auto);
    }
}
