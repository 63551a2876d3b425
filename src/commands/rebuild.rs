//! `rebuild`: infer a spec for each target, then verify it like any spec.

use super::{Terminal, VerifyArgs};
use crate::cli::{BuildArgs, RebuildArgs};
use reprocheck::engine::Connector;
use reprocheck::errors::*;
use reprocheck::rebuild::{self, RebuildOptions, SpecFiles, Target};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where inferred specs go without `--write-spec`.
const DEFAULT_SPEC_DIR: &str = "reprocheck-out/rebuild-specs";

/// `rebuild TARGET...`.
pub async fn rebuild(args: RebuildArgs, terminal: &Terminal, engine: &Connector) -> Result<ExitCode> {
    let targets = expand_targets(&args.targets)?;
    ensure!(
        args.buildinfo.is_none() || matches!(&targets[..], [Target::Debian { .. }]),
        "--buildinfo describes one Debian build, but {} target(s) are given\n\
         help: rebuild that one debian: target alone with --buildinfo",
        targets.len()
    );
    let dir = args.write_spec.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC_DIR));
    let files = SpecFiles::new(&dir)?;
    let options = RebuildOptions {
        suite: args.suite.clone(),
        buildinfo: args.buildinfo.clone(),
        index_url: args.index_url.clone(),
    };
    let mut specs = Vec::new();
    let mut recipes = Vec::new();
    for target in &targets {
        if !terminal.progress.is_quiet() {
            reprocheck::errln!("{target}: inferring the build ...");
        }
        let inferred = rebuild::infer(target, &files, &options).await?;
        for inference in &inferred.inferences {
            reprocheck::errln!("  {}  (from {})", inference.what, inference.evidence);
        }
        reprocheck::errln!("  spec: {}", inferred.spec.display());
        specs.push(inferred.spec);
        recipes.extend(inferred.recipe);
    }
    if args.infer_only {
        return Ok(ExitCode::SUCCESS);
    }
    lock_images(&recipes, &files, engine).await?;
    let build = build_args(&args, specs);
    let verify = VerifyArgs {
        runs: args.check.then_some(2),
        expect_files: Vec::new(),
        sign_key: args.sign_key.clone(),
        builder_id: args.builder_id.clone(),
        resource_uri: None,
        diffoscope: false,
    };
    super::verify(&build, verify, terminal, engine).await
}

/// Builds and locks each inferred image that has no `packages.lock` yet
/// (verify rebuilds only on pinned images); one with a lock is built from
/// it by verify when the engine lacks it.
async fn lock_images(recipes: &[PathBuf], files: &SpecFiles, engine: &Connector) -> Result<()> {
    let mut unlocked: Vec<&PathBuf> =
        recipes.iter().filter(|r| !r.join(reprocheck::image::lock::LOCK_FILE).exists()).collect();
    unlocked.sort();
    unlocked.dedup();
    if unlocked.is_empty() {
        return Ok(());
    }
    let engine = engine.connect().await?;
    for recipe in unlocked {
        reprocheck::errln!("{}: building and locking the image ...", recipe.display());
        let options =
            reprocheck::image::BuildOptions { within: Some(files.dir().to_path_buf()), ..Default::default() };
        let built = reprocheck::image::build(engine.as_ref(), recipe, &options)
            .await
            .with_context(|| format!("building the image {}", recipe.display()))?;
        reprocheck::errln!("  {} ({})", built.id, built.lock_path.display());
    }
    Ok(())
}

/// The targets the command line names, `@LIST` expanded (one per line,
/// blank lines and `#` comments skipped), each once.
fn expand_targets(args: &[String]) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for arg in args {
        match arg.strip_prefix('@') {
            Some(list) => {
                let text = std::fs::read_to_string(list)
                    .with_context(|| format!("reading the target list {list}"))?;
                for (number, line) in text.lines().enumerate() {
                    let entry = line.split('#').next().unwrap_or_default().trim();
                    if entry.is_empty() {
                        continue;
                    }
                    targets.push(Target::parse(entry).with_context(|| format!("{list}:{}", number + 1))?);
                }
            }
            None => targets.push(Target::parse(arg)?),
        }
    }
    let mut seen = std::collections::HashSet::new();
    targets.retain(|t| seen.insert(t.to_string()));
    ensure!(
        !targets.is_empty(),
        "no target to rebuild\nhelp: name pypi:NAME==VERSION or debian:PACKAGE, or a list with one per line"
    );
    Ok(targets)
}

/// The build options `verify` takes, for the inferred specs.
fn build_args(args: &RebuildArgs, specs: Vec<PathBuf>) -> BuildArgs {
    BuildArgs {
        specs,
        vary: None,
        jobs: args.jobs,
        out: args.out.clone(),
        json: args.json,
        // The inferred recipes have no lock yet the first time.
        build_missing: true,
        locked: false,
        images_dir: None,
        allow_host_paths: false,
        keep_source: false,
    }
}
