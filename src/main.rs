//! The `reprocheck` binary: parse the command line and dispatch.

use clap::{CommandFactory, FromArgMatches};
use reprocheck::check::{self, CheckOptions, Mode};
use reprocheck::cli::{self, AttestCommand, BuildArgs, Cli, Command, ImageCommand};
use reprocheck::engine::Connector;
use reprocheck::errors::*;
use reprocheck::lock::{self, PinChange};
use reprocheck::progress::Progress;
use reprocheck::report::{Report, Verdict};
use reprocheck::style;
use reprocheck::{attest, factors, image};
use std::io::IsTerminal;
use std::process::ExitCode;

/// How output reaches the terminal.
struct Terminal {
    stdout_color: bool,
    stderr_color: bool,
    progress: Progress,
}

/// The options every building command shares.
fn options(build: &BuildArgs, terminal: &Terminal, engine: &Connector) -> Result<CheckOptions> {
    Ok(CheckOptions {
        vary: build.vary.as_deref().map(factors::parse_vary).transpose()?,
        jobs: build.jobs.map(usize::from),
        out: build.out.clone(),
        build_missing: build.build_missing,
        locked: build.locked,
        progress: terminal.progress.clone(),
        host_paths: build.host_paths(),
        engine: engine.clone(),
        ..Default::default()
    })
}

/// Prints a finished report (JSON to stdout with `json`, the summary to stdout
/// or stderr) and maps its verdict to the exit code; an error becomes exit 2.
fn present(report: &Report, out: &std::path::Path, json: bool, terminal: &Terminal) -> Result<ExitCode> {
    if json {
        report.print_json()?;
    }
    if let Some(error) = &report.error {
        bail!("{error}\n(report: {})", out.join("report.json").display());
    }
    let summary = report.summary(out, terminal.progress.is_quiet());
    if json {
        reprocheck::err!("{}", style::for_terminal(&summary, terminal.stderr_color));
    } else {
        reprocheck::out!("{}", style::for_terminal(&summary, terminal.stdout_color));
    }
    Ok(match report.verdict {
        Verdict::Reproducible | Verdict::Verified => ExitCode::SUCCESS,
        Verdict::Unreproducible | Verdict::NotVerified => ExitCode::from(1),
        Verdict::Error => ExitCode::from(2),
    })
}

/// The command line's package sources, as build options.
fn package_options(packages: cli::PackageArgs) -> Result<image::BuildOptions> {
    let snapshot = match (&packages.snapshot, &packages.snapshot_time) {
        (Some(base), Some(time)) => Some(image::fetch::Snapshot::new(base, time)?),
        _ => None,
    };
    Ok(image::BuildOptions { packages_dir: packages.packages_dir, snapshot, ..Default::default() })
}

/// What `image build` did with the lock, for the terminal.
fn image_build_summary(built: &image::Built) -> String {
    let lock = built.lock_path.display();
    let count = built.lock.packages.len();
    let mut text = match &built.resolution {
        image::Resolution::FromLock => format!("built from {lock}: exactly its {count} packages\n"),
        image::Resolution::FirstLock => format!("locked {count} packages in {lock} (new); commit it\n"),
        image::Resolution::Updated(drift) if drift.is_empty() => {
            format!("re-resolved: the same {count} packages; {lock} is unchanged in content\n")
        }
        image::Resolution::Updated(drift) => {
            format!("re-resolved and rewrote {lock} ({}):\n{}", drift.counts(), drift.lines())
        }
    };
    if let Some(why) = &built.unreproduced {
        text.push_str(&format!("warning: {why}\n"));
    }
    text
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = Cli::command().color(cli::color_in_args(&args)).get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let stderr_color = cli.colors(std::io::stderr().is_terminal());
    let terminal = Terminal {
        stdout_color: cli.colors(std::io::stdout().is_terminal()),
        stderr_color,
        progress: Progress::for_terminal(cli.quiet, cli.verbose > 0, stderr_color),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log_filter()).unwrap_or_else(|e| {
        reprocheck::errln!("warning: ignoring RUST_LOG ({e}); logging warnings");
        "warn".into()
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr_color)
        .with_writer(terminal.progress.log_writer())
        .init();
    reprocheck::cleanup::install_panic_hook();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            reprocheck::errln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli, &terminal)) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote build logs: never let their control characters through.
            reprocheck::errln!(
                "{}: {}",
                style::error_label(terminal.stderr_color),
                style::without_controls_keeping_lines(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}

async fn dispatch(cli: Cli, terminal: &Terminal) -> Result<ExitCode> {
    // Where the engine is: read here, at the edge, and passed in.
    let engine = Connector::docker(cli.engine_host());
    match cli.command {
        Command::Check { build, runs, explain, diffoscope } => {
            let options = CheckOptions { runs, diffoscope, ..options(&build, terminal, &engine)? };
            let (report, out) = check::check(&build.spec, &options).await?;
            let code = present(&report, &out, build.json, terminal)?;
            if explain && report.verdict == Verdict::Unreproducible {
                let options = CheckOptions { out: Some(out.join("explain")), ..options };
                // The check's control and all-factor runs are explain's first builds.
                let earlier = reprocheck::explain::Earlier { report: &report, out: &out };
                let (explained, explain_out) =
                    check::run_after(&build.spec, &options, Mode::Explain, Some(earlier)).await?;
                present(&explained, &explain_out, build.json, terminal)?;
            }
            Ok(code)
        }
        Command::Explain { build } => {
            let (report, out) =
                check::run(&build.spec, &options(&build, terminal, &engine)?, Mode::Explain).await?;
            present(&report, &out, build.json, terminal)
        }
        Command::Verify { build, runs, expect_files, sign_key, builder_id, diffoscope } => {
            // A bad key should fail before any build, not after.
            let key = sign_key.as_deref().map(attest::keys::load_signing).transpose()?;
            let options =
                CheckOptions { runs, diffoscope, expect_files, ..options(&build, terminal, &engine)? };
            let (report, out) = check::run(&build.spec, &options, Mode::Verify).await?;
            if report.error.is_none() {
                let spec = reprocheck::spec::load(&build.spec, build.host_paths())?;
                let builder_id = builder_id.unwrap_or_else(attest::default_builder_id);
                for file in attest::write(&spec, &report, &out, &builder_id, key.as_ref())? {
                    reprocheck::errln!("attestation: {}", file.display());
                }
            }
            present(&report, &out, build.json, terminal)
        }
        Command::Keygen { prefix } => {
            let (private, public, id) = attest::keys::generate(&prefix)?;
            reprocheck::outln!("private key: {} (keep it secret)", private.display());
            reprocheck::outln!("public key:  {}", public.display());
            reprocheck::outln!("key id:      {id}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Attest(AttestCommand::Verify { attestation, key, artifacts }) => {
            let key = attest::keys::load_verifying(&key)?;
            match attest::verify(&attestation, &key, &artifacts)? {
                Ok(check) => {
                    reprocheck::out!("{}", check.summary());
                    Ok(ExitCode::SUCCESS)
                }
                Err(reason) => {
                    // The reason quotes the envelope (payloadType, names): one line, no escapes.
                    reprocheck::outln!("FAILED: {}", style::without_controls(&reason));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Lock { spec, locked, allow_host_paths } => {
            let engine = engine.connect().await?;
            let outcome =
                lock::lock(engine.as_ref(), &spec, locked, cli::host_paths(allow_host_paths)).await?;
            for (key, change) in [("image.digest", outcome.image), ("source.nar_hash", outcome.source)] {
                match change {
                    PinChange::Unchanged(d) => {
                        reprocheck::outln!("{}: {key} already pins {d}", spec.display())
                    }
                    PinChange::Updated { digest, previous } => {
                        let was = previous.map_or("nothing".to_string(), |p| p.to_string());
                        reprocheck::outln!("{}: pinned {key} = {digest} (was {was})", spec.display());
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            cli::print_completions(shell);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            for page in cli::write_man_pages(dir.as_deref())? {
                reprocheck::outln!("{}", page.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Factors => {
            reprocheck::out!("{}", factors::table());
            Ok(ExitCode::SUCCESS)
        }
        Command::Image(ImageCommand::Build { dir, packages, update, locked }) => {
            let engine = engine.connect().await?;
            let options = image::BuildOptions { update, locked, ..package_options(packages)? };
            let built = image::build(engine.as_ref(), &dir, &options).await?;
            reprocheck::err!("{}", image_build_summary(&built));
            reprocheck::outln!("{}", built.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Image(ImageCommand::Vendor { dir, debs, packages }) => {
            let count = image::vendor(&dir, &debs, &package_options(packages)?).await?;
            reprocheck::outln!(
                "{}: {count} locked packages, each checked against its sha256",
                debs.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
