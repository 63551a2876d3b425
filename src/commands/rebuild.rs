//! `rebuild`: infer a spec for each target, lock the images they need,
//! then verify them like any spec: one target as `verify SPEC` would, many
//! as a batch with the rebuild's own table and rates (`OUT/rebuild.json`).

use super::{Terminal, VerifyArgs};
use crate::cli::{BuildArgs, RebuildArgs};
use crate::exit_codes;
use reprocheck::attest;
use reprocheck::batch::{Outcome, Slot};
use reprocheck::check::{CheckOptions, Job};
use reprocheck::engine::Connector;
use reprocheck::errors::*;
use reprocheck::rebuild::tally::{self, Class, Row};
use reprocheck::rebuild::{self, RebuildOptions, SpecFiles, Target};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where inferred specs go without `--write-spec`.
const DEFAULT_SPEC_DIR: &str = "reprocheck-out/rebuild-specs";

/// A target on its way: inferred into a spec, or why not.
struct Planned {
    target: Target,
    spec: std::result::Result<PathBuf, (Class, String)>,
}

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
        snapshot: args.snapshot.clone(),
        snapshot_time: args.snapshot_time.clone(),
        packages_dir: args.packages_dir.clone(),
    };
    let single = targets.len() == 1;
    let mut planned = Vec::new();
    let mut recipes: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let total = targets.len();
    for (number, target) in targets.into_iter().enumerate() {
        let quiet = terminal.progress.is_quiet();
        if single && !quiet {
            reprocheck::errln!("{target}: inferring the build ...");
        }
        match rebuild::infer(&target, &files, &options).await {
            Ok(inferred) => {
                // One target: every inference on the terminal. A batch: one
                // line each (the inferences head each spec file).
                if single && !quiet {
                    for inference in &inferred.inferences {
                        reprocheck::errln!("  {}  (from {})", inference.what, inference.evidence);
                    }
                    reprocheck::errln!("  spec: {}", inferred.spec.display());
                } else if !quiet {
                    reprocheck::errln!(
                        "[{}/{total}] inferred  {target}: {}",
                        number + 1,
                        inferred.spec.display()
                    );
                }
                if let Some(recipe) = inferred.recipe {
                    recipes.entry(recipe).or_default().push(number);
                }
                planned.push(Planned { target, spec: Ok(inferred.spec) });
            }
            Err(e) if single => return Err(e),
            Err(e) => {
                let class =
                    if rebuild::is_not_inferable(&e) { Class::NotInferable } else { Class::BuildFailed };
                // The row names the target already: the reason is enough.
                let why = rebuild::reason(&e);
                let first = why.lines().next().unwrap_or_default();
                reprocheck::errln!("[{}/{total}] {}  {target}: {first}", number + 1, class.word());
                planned.push(Planned { target, spec: Err((class, why)) });
            }
        }
    }
    if args.infer_only {
        // Nothing was built: 0 when every target got its spec, else 1.
        return Ok(match planned.iter().all(|p| p.spec.is_ok()) {
            true => ExitCode::SUCCESS,
            false => exit_codes::different(),
        });
    }
    lock_images(&recipes, &mut planned, &files, engine, single, terminal.progress.is_quiet()).await?;
    let verify = VerifyArgs {
        runs: args.check.then_some(2),
        expect_files: Vec::new(),
        sign_key: args.sign_key.clone(),
        builder_id: args.builder_id.clone(),
        resource_uri: None,
        diffoscope: false,
    };
    if single {
        let spec = planned.remove(0).spec.map_err(|(_, e)| anyhow!(e))?;
        return super::verify(&build_args(&args, vec![spec]), verify, terminal, engine).await;
    }
    batch(&args, planned, verify, terminal, engine).await
}

/// Verifies the inferred specs as a batch, the targets that got no spec
/// listed with them, then prints and writes the rebuild's own tally.
async fn batch(
    args: &RebuildArgs,
    planned: Vec<Planned>,
    verify: VerifyArgs,
    terminal: &Terminal,
    engine: &Connector,
) -> Result<ExitCode> {
    let specs: Vec<PathBuf> = planned.iter().filter_map(|p| p.spec.as_ref().ok().cloned()).collect();
    let build = build_args(args, specs);
    let settled: Vec<Outcome> = planned
        .iter()
        .filter_map(|p| p.spec.as_ref().err().map(|(_, why)| (p, why)))
        .map(|(p, why)| {
            let slot = Slot {
                spec: PathBuf::from(p.target.to_string()),
                name: p.target.slug(),
                out: Err(why.clone()),
            };
            Outcome::of_error(&slot, why, 0.0)
        })
        .collect();
    let key = verify.sign_key.as_deref().map(attest::keys::load_signing).transpose()?;
    let builder_id = verify.builder_id.clone().unwrap_or_else(attest::default_builder_id);
    let options = CheckOptions { runs: verify.runs, ..super::options(&build, terminal, engine)? };
    let job = Job::Verify(Box::new(attest::Attestation { key, builder_id, resource_uri: None }));
    let (code, outcomes) = super::batch::run_with(&build, terminal, options, job, settled).await?;
    let by_spec: BTreeMap<PathBuf, &Outcome> = outcomes.iter().map(|o| (o.spec.clone(), o)).collect();
    let rows: Vec<Row> = planned
        .iter()
        .map(|p| match &p.spec {
            Err((class, why)) => Row {
                target: p.target.to_string(),
                class: *class,
                detail: why.lines().next().unwrap_or_default().to_string(),
                seconds: 0.0,
                results: None,
            },
            Ok(spec) => row_of(&p.target, by_spec.get(spec).copied()),
        })
        .collect();
    let root = args.out.clone().unwrap_or_else(|| PathBuf::from(reprocheck::results::DEFAULT_RESULTS_ROOT));
    let written = tally::write(&root, &rows)?;
    reprocheck::out!("\n{}rebuild summary: {}\n", tally::table(&rows), written.display());
    // The batch itself ran: what became of each target is in the table,
    // so anything short of bit for bit is 1, never 2.
    let _ = code;
    Ok(if rows.iter().all(|r| r.class == Class::BitIdentical) {
        ExitCode::SUCCESS
    } else {
        exit_codes::different()
    })
}

/// A verified target's row, from its report.
fn row_of(target: &Target, outcome: Option<&Outcome>) -> Row {
    let Some(outcome) = outcome else {
        return Row {
            target: target.to_string(),
            class: Class::BuildFailed,
            detail: "not run".into(),
            seconds: 0.0,
            results: None,
        };
    };
    let report = outcome
        .results
        .as_ref()
        .and_then(|dir| std::fs::read(dir.join("report.json")).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let (class, detail) = match report {
        Some(report) => tally::classify(&report),
        None => (Class::BuildFailed, outcome.error.clone().unwrap_or_else(|| "no report".into())),
    };
    Row {
        target: target.to_string(),
        class,
        detail,
        seconds: outcome.seconds,
        results: outcome.results.clone(),
    }
}

/// Builds and locks each inferred image that has no `packages.lock` yet
/// (verify rebuilds only on pinned images); one with a lock is built from
/// it by verify when the engine lacks it. In a batch, an image that fails
/// fails the targets that need it, not the batch.
async fn lock_images(
    recipes: &BTreeMap<PathBuf, Vec<usize>>,
    planned: &mut [Planned],
    files: &SpecFiles,
    engine: &Connector,
    single: bool,
    quiet: bool,
) -> Result<()> {
    let unlocked: Vec<(&PathBuf, &Vec<usize>)> =
        recipes.iter().filter(|(r, _)| !r.join(reprocheck::image::lock::LOCK_FILE).exists()).collect();
    if unlocked.is_empty() {
        return Ok(());
    }
    let engine = engine.connect().await?;
    for (recipe, users) in unlocked {
        reprocheck::errln!("{}: building and locking the image ...", recipe.display());
        // One target's image build shows mmdebstrap's progress; a batch's
        // would bury its one line per target.
        let options = reprocheck::image::BuildOptions {
            within: Some(files.dir().to_path_buf()),
            quiet: !single || quiet,
            ..Default::default()
        };
        let built = reprocheck::image::build(engine.as_ref(), recipe, &options)
            .await
            .with_context(|| format!("building the image {}", recipe.display()));
        match built {
            Ok(built) => reprocheck::errln!("  {} ({})", built.id, built.lock_path.display()),
            Err(e) if single => return Err(e),
            Err(e) => {
                reprocheck::errln!("  build-failed: {e:#}");
                for &user in users {
                    planned[user].spec = Err((Class::BuildFailed, format!("{e:#}")));
                }
            }
        }
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
        // Images are locked above; one the engine lacks is built from its lock.
        build_missing: true,
        locked: false,
        images_dir: None,
        allow_host_paths: false,
        keep_source: false,
        trace: false,
    }
}
