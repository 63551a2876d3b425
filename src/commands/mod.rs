//! One function per subcommand, and what they share: the options every
//! building command takes, and how a finished report reaches the terminal.

mod batch;
mod rebuild;

pub use rebuild::rebuild;

use crate::cli::{self, BuildArgs};
use crate::exit_codes;
use reprocheck::check::{self, CheckOptions, Job};
use reprocheck::engine::Connector;
use reprocheck::errors::*;
use reprocheck::lock::{self, PinChange};
use reprocheck::progress::Progress;
use reprocheck::report::Report;
use reprocheck::style;
use reprocheck::{attest, factors, image};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How output reaches the terminal.
pub struct Terminal {
    pub stdout_color: bool,
    pub stderr_color: bool,
    pub progress: Progress,
}

/// The options every building command shares.
pub fn options(build: &BuildArgs, terminal: &Terminal, engine: &Connector) -> Result<CheckOptions> {
    Ok(CheckOptions {
        vary: build.vary.as_deref().map(factors::parse_vary).transpose()?,
        jobs: build.jobs.map(usize::from),
        out: build.out.clone(),
        build_missing: build.build_missing,
        locked: build.locked,
        images_dir: build.images_dir.clone(),
        progress: terminal.progress.clone(),
        host_paths: build.host_paths(),
        engine: engine.clone(),
        keep_source: build.keep_source,
        trace: build.trace,
        failpoints: reprocheck::cleanup::Failpoints::from_env(),
        ..Default::default()
    })
}

/// Prints a finished report (JSON to stdout with `json`, the summary to stdout
/// or stderr) and maps its verdict to the exit code; an error becomes exit 2.
pub fn present(report: &Report, out: &Path, json: bool, terminal: &Terminal) -> Result<ExitCode> {
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
    Ok(exit_codes::of_verdict(report.verdict))
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
    let count = built.lock.contents();
    let mut text = match &built.resolution {
        image::Resolution::FromLock => format!("built from {lock}: exactly its {count}\n"),
        image::Resolution::Reformatted => format!(
            "built from {lock}: exactly its {count}; rewrote it in lock format {} (the same packages, \
             now with the recipe's inputs, so a change to the recipe is named); commit it\n",
            image::lock::LOCK_VERSION
        ),
        image::Resolution::FirstLock => format!("locked {count} in {lock} (new); commit it\n"),
        image::Resolution::Updated(relock) => relock.summary(&lock.to_string(), &count, &built.id),
    };
    if let Some(why) = &built.unreproduced {
        text.push_str(&format!("warning: {why}\n"));
    }
    text
}

/// `check`, then `explain` on the same results when asked and it differs.
pub async fn check(
    build: &BuildArgs,
    runs: Option<u32>,
    explain: bool,
    diffoscope: bool,
    terminal: &Terminal,
    engine: &Connector,
) -> Result<ExitCode> {
    let options = CheckOptions { runs, diffoscope, ..options(build, terminal, engine)? };
    let job = Job::Check { explain };
    let Some(spec) = build.single() else {
        return batch::run(build, terminal, options, job).await;
    };
    let finished = check::perform(spec, &options, &job).await?;
    let code = present(&finished.report, &finished.out, build.json, terminal)?;
    if let Some(explained) = &finished.explained {
        present(&explained.report, &explained.out, build.json, terminal)?;
    }
    Ok(code)
}

/// `explain`.
pub async fn explain(build: &BuildArgs, terminal: &Terminal, engine: &Connector) -> Result<ExitCode> {
    let options = options(build, terminal, engine)?;
    let Some(spec) = build.single() else {
        return batch::run(build, terminal, options, Job::Explain).await;
    };
    let finished = check::perform(spec, &options, &Job::Explain).await?;
    present(&finished.report, &finished.out, build.json, terminal)
}

/// What `verify` takes beyond the shared build options.
pub struct VerifyArgs {
    /// Overrides `check.runs`.
    pub runs: Option<u32>,
    /// `--expect-file PATH=FILE`.
    pub expect_files: Vec<(String, PathBuf)>,
    /// Signs the attestation with this key.
    pub sign_key: Option<PathBuf>,
    /// The attestation's builder id.
    pub builder_id: Option<String>,
    /// The verification summary's `resourceUri`.
    pub resource_uri: Option<String>,
    /// `--diffoscope`.
    pub diffoscope: bool,
}

/// `verify`, then the attestation of its verdict.
pub async fn verify(
    build: &BuildArgs,
    args: VerifyArgs,
    terminal: &Terminal,
    engine: &Connector,
) -> Result<ExitCode> {
    let VerifyArgs { runs, expect_files, sign_key, builder_id, resource_uri, diffoscope } = args;
    // A bad key should fail before any build, not after.
    let key = sign_key.as_deref().map(attest::keys::load_signing).transpose()?;
    let builder_id = builder_id.unwrap_or_else(attest::default_builder_id);
    let single = build.single();
    ensure!(
        single.is_some() || expect_files.is_empty(),
        "--expect-file names the artifact of one spec, but {} are given
         help: put the expected digests in each spec's [expect] table, or verify that spec alone",
        build.specs.len()
    );
    ensure!(
        single.is_some() || resource_uri.is_none(),
        "--resource-uri names where one spec's artifacts are published, but {} specs are given\n\
         help: verify each spec alone with its own --resource-uri",
        build.specs.len()
    );
    let options = CheckOptions { runs, diffoscope, expect_files, ..options(build, terminal, engine)? };
    let job = Job::Verify(Box::new(attest::Attestation { key, builder_id, resource_uri }));
    let Some(spec) = single else {
        return batch::run(build, terminal, options, job).await;
    };
    let finished = check::perform(spec, &options, &job).await?;
    for file in &finished.attestations {
        reprocheck::errln!("attestation: {}", file.display());
    }
    present(&finished.report, &finished.out, build.json, terminal)
}

/// `keygen`.
pub fn keygen(prefix: &Path) -> Result<ExitCode> {
    let (private, public, id) = attest::keys::generate(prefix)?;
    reprocheck::outln!("private key: {} (keep it secret)", private.display());
    reprocheck::outln!("public key:  {}", public.display());
    reprocheck::outln!("key id:      {id}");
    Ok(ExitCode::SUCCESS)
}

/// `attest verify`: exit 1 when the attestation does not hold.
pub fn attest_verify(attestation: &Path, key: &Path, artifacts: &[PathBuf]) -> Result<ExitCode> {
    let key = attest::keys::load_verifying(key)?;
    match attest::verify(attestation, &key, artifacts)? {
        Ok(check) => {
            reprocheck::out!("{}", check.summary());
            // A genuine summary of a failed rebuild: signed, but not a pass.
            Ok(if check.passed() { ExitCode::SUCCESS } else { exit_codes::different() })
        }
        Err(reason) => {
            // The reason quotes the envelope (payloadType, names): one line, no escapes.
            reprocheck::outln!("FAILED: {}", style::without_controls(&reason));
            Ok(exit_codes::different())
        }
    }
}

/// `lock`.
pub async fn lock(spec: &Path, locked: bool, allow_host_paths: bool, engine: &Connector) -> Result<ExitCode> {
    let engine = engine.connect().await?;
    let outcome = lock::lock(engine.as_ref(), spec, locked, cli::host_paths(allow_host_paths)).await?;
    match &outcome.reference {
        Some((was, now)) if was == now => {
            reprocheck::outln!("{}: image.reference already pins {now}", spec.display())
        }
        Some((was, now)) => {
            reprocheck::outln!("{}: pinned image.reference = {now} (was {was})", spec.display())
        }
        None => {}
    }
    for (key, change) in [("image.digest", outcome.image), ("source.nar_hash", outcome.source)] {
        match change {
            PinChange::Unchanged(d) => reprocheck::outln!("{}: {key} already pins {d}", spec.display()),
            PinChange::Updated { digest, previous } => {
                let was = previous.map_or("nothing".to_string(), |p| p.to_string());
                reprocheck::outln!("{}: pinned {key} = {digest} (was {was})", spec.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `factors`.
pub fn factors() -> Result<ExitCode> {
    reprocheck::out!("{}", factors::table());
    Ok(ExitCode::SUCCESS)
}

/// Details `diff` prints; `--json` has every one.
const DIFF_SHOWN: usize = 40;

/// `diff`: the structured diff of two files, as `check` shows it for two runs.
pub fn diff(a: &Path, b: &Path, json: bool) -> Result<ExitCode> {
    // Named on the command line: a symlink stands for the file it points at.
    let canonical = |file: &Path| {
        std::fs::canonicalize(file).with_context(|| format!("{}: cannot read it", file.display()))
    };
    let (a, b) = (&canonical(a)?, &canonical(b)?);
    if reprocheck::digest::Digest::of_file(a)? == reprocheck::digest::Digest::of_file(b)? {
        if json {
            reprocheck::outln!("null");
        } else {
            reprocheck::outln!("identical: {} and {}", a.display(), b.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = b.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut diff = reprocheck::diff::diff_files(&name, (1, 2), a, b, &Default::default())?;
    if json {
        // Every held detail, not report.json's first ones.
        let mut value = serde_json::to_value(&diff).context("serialising the diff")?;
        value["details"] = serde_json::to_value(&diff.details).context("serialising the diff")?;
        if let Some(map) = value.as_object_mut() {
            map.remove("details_file");
        }
        reprocheck::outln!("{}", serde_json::to_string_pretty(&value).context("serialising the diff")?);
    } else {
        diff.details_file = Some("the --json output".into());
        reprocheck::outln!("{} and {} differ:", a.display(), b.display());
        reprocheck::out!("{}", style::without_controls_keeping_lines(&diff.summary(DIFF_SHOWN)));
    }
    Ok(exit_codes::different())
}

/// `image build`.
pub async fn image_build(
    dir: &Path,
    packages: cli::PackageArgs,
    update: bool,
    locked: bool,
    engine: &Connector,
) -> Result<ExitCode> {
    let engine = engine.connect().await?;
    let options = image::BuildOptions { update, locked, ..package_options(packages)? };
    let built = image::build(engine.as_ref(), dir, &options).await?;
    reprocheck::err!("{}", image_build_summary(&built));
    reprocheck::outln!("{}", built.id);
    Ok(ExitCode::SUCCESS)
}

/// `image vendor`.
pub async fn image_vendor(dir: &Path, debs: &Path, packages: cli::PackageArgs) -> Result<ExitCode> {
    let count = image::vendor(dir, debs, &package_options(packages)?).await?;
    reprocheck::outln!(
        "{}: {count} locked files (.debs, and Python wheels in python/), each checked against its sha256",
        debs.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `image save`.
pub async fn image_save(
    spec: &Path,
    dir: &Path,
    allow_host_paths: bool,
    engine: &Connector,
) -> Result<ExitCode> {
    let loaded = reprocheck::spec::load(spec, cli::host_paths(allow_host_paths))?;
    let engine = engine.connect().await?;
    let saved = image::save::save(engine.as_ref(), &loaded, dir).await?;
    reprocheck::errln!(
        "saved image {} to {} ({}, archive {})\n\
         load it with `--images-dir {}`, or pin it in the spec:\n\
         \x20 [image]\n\x20 archive = \"{}\"\n\x20 archive_sha256 = \"{}\"",
        saved.id,
        saved.path.display(),
        bytesize::ByteSize::b(saved.bytes),
        saved.sha256,
        dir.display(),
        saved.path.display(),
        saved.sha256
    );
    reprocheck::outln!("{}", saved.path.display());
    Ok(ExitCode::SUCCESS)
}
