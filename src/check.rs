//! `reprocheck check`: the whole pipeline for one spec.
//!
//! spec → image → plan → runs in containers → collect → compare → report.

use crate::compare;
use crate::engine::docker::DockerEngine;
use crate::engine::{self, run, Engine};
use crate::errors::*;
use crate::factors::host::FaketimeFiles;
use crate::factors::HostFacts;
use crate::image;
use crate::mounts::{self, BuildMount};
use crate::plan;
use crate::report::{self, ImageReport, Report, RunReport, SourceInfo, SpecInfo, Verdict};
use crate::results::ResultsDir;
use crate::source::{self, Packing};
use crate::spec::{self, Source, Spec};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of `reprocheck check`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Overrides `check.runs`.
    pub runs: Option<u32>,
    /// Overrides `check.vary`.
    pub vary: Option<Vec<String>>,
    /// Concurrent runs; default: the number of CPUs.
    pub jobs: Option<usize>,
    /// Results directory; default `reprocheck-out/<name>`.
    pub out: Option<PathBuf>,
    /// Build the pinned image from its recipe when the engine lacks it.
    pub build_missing: bool,
}

/// Runs the check and writes `OUT/report.json`. Returns the report (with
/// verdict `error` when the pipeline failed) and where it was written.
pub async fn check(spec_file: &Path, options: &CheckOptions) -> Result<(Report, PathBuf)> {
    let spec = spec::load(spec_file)?;
    let out = options.out.clone().unwrap_or_else(|| PathBuf::from("reprocheck-out").join(&spec.name));
    let Source::Path(source_path) = &spec.source;
    let results = ResultsDir::claim(&out, &[source_path, spec_file])?;
    let mut report = Report {
        schema: report::SCHEMA,
        tool: Default::default(),
        run_id: new_run_id(),
        started_at: report::now_rfc3339(),
        finished_at: String::new(),
        verdict: Verdict::Error,
        error: None,
        spec: SpecInfo {
            path: spec_file.display().to_string(),
            name: spec.name.clone(),
            sha256: spec.sha256.clone(),
        },
        image: ImageReport {
            digest: spec.image.digest.as_ref().map(|d| d.to_string()),
            name: spec.image.name.clone(),
            id: None,
        },
        engine: None,
        source: SourceInfo { kind: "path", path: source_path.display().to_string() },
        factors: None,
        runs: Vec::new(),
        comparison: None,
    };
    if let Err(e) = pipeline(&spec, options, &out, &mut report).await {
        report.verdict = Verdict::Error;
        report.error = Some(format!("{e:#}"));
    }
    report.finished_at = report::now_rfc3339();
    report.write(results.path())?;
    Ok((report, out))
}

async fn pipeline(spec: &Spec, options: &CheckOptions, out: &Path, report: &mut Report) -> Result<()> {
    let mut shutdown = Shutdown::install()?;
    let engine: Arc<dyn Engine> = Arc::new(DockerEngine::connect().await?);
    tracing::debug!("connected");
    report.engine = Some(engine.info().clone());
    let image_id = resolve_image(engine.as_ref(), spec, options.build_missing).await?;
    report.image.id = Some(image_id.clone());
    tracing::debug!("image resolved");

    let runs = options.runs.unwrap_or(spec.check.runs);
    ensure!(runs >= 2, "--runs must be at least 2 to compare anything");
    let requested = (options.vary.clone().or_else(|| spec.check.vary.clone()))
        .unwrap_or_else(|| crate::factors::NAMES.iter().map(|s| s.to_string()).collect());
    let scratch = tempfile::Builder::new()
        .prefix("reprocheck-")
        .tempdir()
        .context("creating a scratch directory for mount files")?;
    let facts = if requested.is_empty() {
        HostFacts::default()
    } else {
        HostFacts::gather(engine.as_ref(), &image_id, &report.run_id, scratch.path()).await?
    };
    let mut facts = facts;
    if requested.iter().any(|f| f == "fileordering") {
        let local = engine.info().endpoint.starts_with("unix://");
        match mounts::disorderfs_problem(scratch.path(), local) {
            None => {
                facts.disorderfs_works = true;
                facts.tools.insert("disorderfs".into(), mounts::disorderfs_version());
            }
            Some(problem) => facts.disorderfs_problem = problem,
        }
    }
    let mut plan = plan::plan(spec, &image_id, &report.run_id, runs, requested, &facts);
    report.factors = Some(plan.factors.clone());
    if let Some(lib) = &facts.faketime_lib {
        for run in plan.runs.iter_mut() {
            if let Some(offset) = &run.faketime {
                let dir = scratch.path().join(format!("faketime-{}", run.index));
                std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                run.binds.extend(FaketimeFiles::create(&dir, lib, offset)?.binds());
            }
        }
    }

    // Declared after `scratch`, so they are unmounted before it is removed.
    let mut build_mounts = Vec::new();
    for run in plan.runs.iter_mut().filter(|r| r.host_build_dir) {
        let mount = BuildMount::create(&scratch.path().join(format!("build-{}", run.index)), run.disorderfs)?;
        run.binds.push(mount.bind(&run.build_dir));
        build_mounts.push(mount);
    }

    let Source::Path(source_path) = &spec.source;
    let mut tars = Vec::new();
    for run in &plan.runs {
        let packing = Packing {
            source: source_path,
            build_dir: &run.build_dir,
            uid: run.uid,
            exclude: vec![out.to_path_buf()],
            mtime_shift: run.source_mtime_shift,
        };
        tars.push(source::pack(&packing)?);
    }

    let jobs =
        options.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    // The run id names every container's label: print it so leftovers can be found.
    eprintln!(
        "reprocheck: run {}: {runs} builds of {} on image {}, {jobs} at a time",
        plan.run_id,
        spec.name,
        &image_id[..image_id.len().min(19)]
    );
    let all_runs = futures_util::stream::iter(plan.runs.iter().zip(tars))
        .map(|(run, tar)| {
            let (engine, plan) = (engine.clone(), &plan);
            async move { (run, run::execute(engine.as_ref(), plan, run, tar, out).await) }
        })
        .buffer_unordered(jobs)
        .collect::<Vec<_>>();
    let outcomes = tokio::select! {
        outcomes = all_runs => outcomes,
        signal = shutdown.recv() => {
            let removed = engine::sweep(engine.as_ref(), &plan.run_id).await?;
            bail!("interrupted by {signal}; removed {removed} container(s)");
        }
    };
    // Each run removes its own container; after any error, make sure no
    // container of this invocation is left behind.
    if outcomes.iter().any(|(_, outcome)| outcome.is_err()) {
        engine::sweep(engine.as_ref(), &plan.run_id).await?;
    }

    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(run, _)| run.index);
    let mut first_error = None;
    for (run, outcome) in outcomes {
        match outcome {
            Ok(result) => {
                report.runs.push(RunReport { factors: run.factor_values(), environment: run.clone(), result })
            }
            Err(e) => {
                first_error.get_or_insert(e.context(format!("run {}", run.index)));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if let Some(failure) = report.failures(out) {
        bail!(failure);
    }
    let results: Vec<_> = report.runs.iter().map(|r| r.result.clone()).collect();
    let comparison = compare::compare(&results);
    report.verdict = if comparison.reproducible { Verdict::Reproducible } else { Verdict::Unreproducible };
    report.comparison = Some(comparison);
    Ok(())
}

async fn resolve_image(engine: &dyn Engine, spec: &Spec, build_missing: bool) -> Result<String> {
    let Some(digest) = &spec.image.digest else {
        return Err(image::missing(engine, &spec.image, &spec.file).await);
    };
    if let Some(id) = image::find(engine, digest, spec.image.name.as_deref()).await? {
        return Ok(id);
    }
    let recipe = match (&spec.image.recipe, build_missing) {
        (Some(recipe), true) => recipe,
        _ => return Err(image::missing(engine, &spec.image, &spec.file).await),
    };
    let built = image::build(engine, recipe).await?;
    ensure!(
        &built == digest,
        "{}: the recipe {} built image {built}, but the spec pins {digest}.\n\
         The package mirror has probably moved on, or the recipe changed. Nothing was run.\n\
         help: review the difference, then pin the new image with `reprocheck lock {}`",
        spec.file.display(),
        recipe.display(),
        spec.file.display()
    );
    Ok(built.to_string())
}

/// A short unique id: time and pid, hashed.
fn new_run_id() -> String {
    use sha2::{Digest as _, Sha256};
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{nanos}-{}", std::process::id());
    hex::encode(&Sha256::digest(seed.as_bytes())[..6])
}

/// SIGINT and SIGTERM, caught from the moment the pipeline starts, so that a
/// signal arriving while containers or mounts are being set up is held until
/// the runs can be cancelled and cleaned up, instead of killing the process.
pub struct Shutdown {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Installs the handlers.
    pub fn install() -> Result<Shutdown> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Shutdown {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    /// Resolves on the first signal, naming it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
