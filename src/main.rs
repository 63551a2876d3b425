//! The `reprocheck` binary: parse the command line (`cli.rs`), run one
//! subcommand (`commands/`), map the outcome to an exit code
//! (`exit_codes.rs`). Everything else is the library.

mod cli;
mod commands;
mod exit_codes;

use clap::{CommandFactory, FromArgMatches};
use cli::{AttestCommand, Cli, Command, ImageCommand};
use commands::{Terminal, VerifyArgs};
use reprocheck::engine::Connector;
use reprocheck::errors::*;
use reprocheck::progress::Progress;
use reprocheck::style;
use std::io::IsTerminal;
use std::process::ExitCode;

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
    reprocheck::cleanup::install_panic_hook(reprocheck::session::sweep_after_panic);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            reprocheck::errln!("error: cannot start the async runtime: {e}");
            return exit_codes::error();
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
            exit_codes::error()
        }
    }
}

async fn dispatch(cli: Cli, terminal: &Terminal) -> Result<ExitCode> {
    // Where the engine is: read here, at the edge, and passed in.
    let engine = Connector::docker(cli.engine_host());
    match cli.command {
        Command::Check { build, runs, explain, diffoscope } => {
            commands::check(&build, runs, explain, diffoscope, terminal, &engine).await
        }
        Command::Explain { build } => commands::explain(&build, terminal, &engine).await,
        Command::Verify { build, runs, expect_files, sign_key, builder_id, resource_uri, diffoscope } => {
            let args = VerifyArgs { runs, expect_files, sign_key, builder_id, resource_uri, diffoscope };
            commands::verify(&build, args, terminal, &engine).await
        }
        Command::Rebuild(args) => commands::rebuild(args, terminal, &engine).await,
        Command::Keygen { prefix } => commands::keygen(&prefix),
        Command::Attest(AttestCommand::Verify { attestation, key, artifacts }) => {
            commands::attest_verify(&attestation, &key, &artifacts)
        }
        Command::Lock { spec, locked, allow_host_paths } => {
            commands::lock(&spec, locked, allow_host_paths, &engine).await
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
        Command::Factors => commands::factors(),
        Command::Diff { a, b, json } => commands::diff(&a, &b, json),
        Command::Image(ImageCommand::Build { dir, packages, update, locked }) => {
            commands::image_build(&dir, packages, update, locked, &engine).await
        }
        Command::Image(ImageCommand::Vendor { dir, debs, packages }) => {
            commands::image_vendor(&dir, &debs, packages).await
        }
        Command::Image(ImageCommand::Save { spec, dir, allow_host_paths }) => {
            commands::image_save(&spec, &dir, allow_host_paths, &engine).await
        }
    }
}
