//! Many specs in one invocation (`reprocheck check A.toml B.toml specs/ @list`):
//! which specs, where each one's results go, a bounded pool across them,
//! and the summary (a table, `summary.json` and an `index.html` linking
//! each spec's `report.html`).
//!
//! The pool bounds specs in progress; the builds of all specs together are
//! bounded by one shared [`BuildSlots`], so `--jobs N` means N containers
//! at once for the whole batch.

mod index;

use crate::errors::*;
use crate::report::{Report, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Builds running at once across every spec of a batch.
#[derive(Debug, Clone)]
pub struct BuildSlots {
    semaphore: Arc<tokio::sync::Semaphore>,
    capacity: u32,
}

impl BuildSlots {
    /// `capacity` builds at once (at least one).
    pub fn new(capacity: usize) -> BuildSlots {
        let capacity = capacity.clamp(1, tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
        BuildSlots { semaphore: Arc::new(tokio::sync::Semaphore::new(capacity as usize)), capacity }
    }

    /// Waits for slots for `builds` builds that must start together (an
    /// explain round), or for every slot when there are fewer: the round
    /// then runs whole, past the bound, rather than in waves.
    pub async fn take(&self, builds: usize) -> tokio::sync::OwnedSemaphorePermit {
        let wanted = (builds.max(1) as u32).min(self.capacity);
        // The semaphore is never closed, so acquiring cannot fail.
        self.semaphore.clone().acquire_many_owned(wanted).await.expect("build slots are never closed")
    }
}

/// The spec files the command line names, in order, each once: a file as
/// given, a directory as the `*.toml` files directly in it (sorted), and
/// `@LIST` as the paths in LIST, one per line (blank lines and `#`
/// comments skipped; relative paths are relative to LIST's directory).
pub fn expand(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut specs = Vec::new();
    for arg in args {
        match arg.to_str().and_then(|a| a.strip_prefix('@')) {
            Some(list) => {
                let list = Path::new(list);
                let text = std::fs::read_to_string(list)
                    .with_context(|| format!("reading the spec list {}", list.display()))?;
                let base = list.parent().unwrap_or(Path::new(""));
                for (number, line) in text.lines().enumerate() {
                    let entry = line.trim();
                    if entry.is_empty() || entry.starts_with('#') {
                        continue;
                    }
                    let path = base.join(entry);
                    expand_one(&path, &mut specs)
                        .with_context(|| format!("{}:{}: {entry}", list.display(), number + 1))?;
                }
            }
            None => expand_one(arg, &mut specs)?,
        }
    }
    let mut seen = std::collections::HashSet::new();
    specs.retain(|spec| seen.insert(spec.canonicalize().unwrap_or_else(|_| spec.clone())));
    Ok(specs)
}

fn expand_one(path: &Path, specs: &mut Vec<PathBuf>) -> Result<()> {
    if !path.is_dir() {
        ensure!(
            path.exists(),
            "no such spec file: {}\nhelp: give spec files, directories of them, or @LIST",
            path.display()
        );
        specs.push(path.to_path_buf());
        return Ok(());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("listing {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    ensure!(
        !found.is_empty(),
        "{} holds no *.toml spec file\nhelp: a directory stands for the specs directly in it",
        path.display()
    );
    found.sort();
    specs.extend(found);
    Ok(())
}

/// One spec's place in the batch: where its results go, or why it cannot run.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The spec file.
    pub spec: PathBuf,
    /// The spec's name (its file stem when the spec cannot be read).
    pub name: String,
    /// `ROOT/<name>`, or the reason the spec cannot run.
    pub out: std::result::Result<PathBuf, String>,
}

/// Gives each spec the results directory `root/<name>`. A spec that cannot
/// be read gets its error (the batch goes on without it); two specs with
/// one name are refused before anything runs, since their results would
/// overwrite each other.
pub fn assign(specs: &[PathBuf], root: &Path, host_paths: crate::spec::HostPaths) -> Result<Vec<Slot>> {
    let mut slots = Vec::new();
    let mut by_name: BTreeMap<String, &Path> = BTreeMap::new();
    for spec in specs {
        let slot = match crate::spec::load(spec, host_paths) {
            Ok(loaded) => {
                if let Some(other) = by_name.insert(loaded.name.clone(), spec) {
                    bail!(
                        "{} and {} are both named `{}`: their results would overwrite each other in {}\n\
                         help: give one of them another `name`",
                        other.display(),
                        spec.display(),
                        loaded.name,
                        root.join(&loaded.name).display()
                    );
                }
                Slot { spec: spec.clone(), out: Ok(root.join(&loaded.name)), name: loaded.name }
            }
            Err(e) => Slot {
                spec: spec.clone(),
                name: spec.file_stem().map_or_else(|| "spec".into(), |s| s.to_string_lossy().into_owned()),
                out: Err(format!("{e:#}")),
            },
        };
        slots.push(slot);
    }
    Ok(slots)
}

/// How one spec of a batch ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The spec file.
    pub spec: PathBuf,
    /// The spec's name.
    pub name: String,
    /// The verdict (`error` when it could not be reached).
    pub verdict: Verdict,
    /// What made outputs differ, when explained; empty otherwise.
    pub culprit: String,
    /// Wall time, seconds.
    pub seconds: f64,
    /// The results directory, when the spec ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<PathBuf>,
    /// The first line of the error, for a spec that ended in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// The outcome of a finished report (and the explanation that followed it, if any).
    pub fn of_report(
        slot: &Slot,
        report: &Report,
        explained: Option<&Report>,
        out: &Path,
        seconds: f64,
    ) -> Outcome {
        Outcome {
            spec: slot.spec.clone(),
            name: slot.name.clone(),
            verdict: report.verdict,
            culprit: culprit(explained.unwrap_or(report)),
            seconds,
            results: Some(out.to_path_buf()),
            error: report.error.as_deref().map(first_line),
        }
    }

    /// The outcome of a spec that failed before it had a report.
    pub fn of_error(slot: &Slot, error: &str, seconds: f64) -> Outcome {
        Outcome {
            spec: slot.spec.clone(),
            name: slot.name.clone(),
            verdict: Verdict::Error,
            culprit: String::new(),
            seconds,
            results: slot.out.as_ref().ok().filter(|out| out.join("report.json").is_file()).cloned(),
            error: Some(first_line(error)),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The explained culprits, `user; time+umask`, or empty.
pub fn culprit(report: &Report) -> String {
    let Some(explanation) = &report.explanation else {
        // A check names the time factor itself when the outputs hold the build's clock.
        let clock = report.comparison.as_ref().is_some_and(|c| !c.clock.is_empty());
        return if clock { "time".to_string() } else { String::new() };
    };
    let mut causes: Vec<String> = Vec::new();
    for blame in &explanation.blamed {
        for cause in &blame.culprits {
            let cause = cause.join("+");
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
    }
    if !explanation.nondeterministic.is_empty() {
        causes.push("nondeterministic".into());
    }
    causes.join("; ")
}

/// Runs `run_one` over `slots`, at most `jobs` at a time, calling `done`
/// as each finishes (with how many have); returns the outcomes in the
/// order of `slots`.
pub async fn run_pool<F, Fut>(
    slots: Vec<Slot>,
    jobs: usize,
    run_one: F,
    done: impl Fn(usize, &Outcome),
) -> Vec<Outcome>
where
    F: Fn(Slot) -> Fut,
    Fut: Future<Output = Outcome>,
{
    use futures_util::StreamExt;
    let mut finished = 0;
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(slots.len());
    let mut pool = futures_util::stream::iter(slots.into_iter().enumerate())
        .map(|(i, slot)| {
            let started = run_one(slot);
            async move { (i, started.await) }
        })
        .buffer_unordered(jobs.max(1));
    while let Some((i, outcome)) = pool.next().await {
        finished += 1;
        done(finished, &outcome);
        outcomes.push((i, outcome));
    }
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

/// The verdict's name as the table shows it.
pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproducible => "reproducible",
        Verdict::Unreproducible => "unreproducible",
        Verdict::Verified => "verified",
        Verdict::NotVerified => "not-verified",
        Verdict::Error => "error",
    }
}

/// The summary table: one row per spec, then the counts.
pub fn table(outcomes: &[Outcome]) -> String {
    let specs: Vec<String> = outcomes.iter().map(|o| o.spec.display().to_string()).collect();
    let width = specs.iter().map(|s| s.chars().count()).max().unwrap_or(4).max(4);
    let mut text = format!("{:<width$}  {:<14}  {:>8}  culprit / error\n", "spec", "verdict", "time");
    for (outcome, spec) in outcomes.iter().zip(&specs) {
        let why = match &outcome.error {
            Some(error) => error.as_str(),
            None => outcome.culprit.as_str(),
        };
        text.push_str(&format!(
            "{spec:<width$}  {:<14}  {:>7.1}s  {}\n",
            verdict_word(outcome.verdict),
            outcome.seconds,
            crate::style::without_controls(why)
        ));
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(verdict_word(outcome.verdict)).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(word, n)| format!("{n} {word}")).collect();
    text.push_str(&format!("{}: {}\n", crate::diff::plural(outcomes.len(), "spec"), counts.join(", ")));
    text
}

/// The worst verdict of the batch: error over a difference over success.
pub fn worst(outcomes: &[Outcome]) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Reproducible | Verdict::Verified => 0,
        Verdict::Unreproducible | Verdict::NotVerified => 1,
        Verdict::Error => 2,
    };
    outcomes.iter().map(|o| o.verdict).max_by_key(|v| rank(*v)).unwrap_or(Verdict::Error)
}

/// What `summary.json` holds.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// `reprocheck.batch/v1`.
    pub schema: &'static str,
    /// The worst verdict, which decides the exit code.
    pub worst: Verdict,
    /// Every spec, in the order given.
    pub specs: &'a [Outcome],
}

/// What [`write_summary`] wrote.
pub struct Written {
    /// `root/index.html`.
    pub index: PathBuf,
    /// The text of `root/summary.json`.
    pub json: String,
}

/// Writes `root/summary.json` and `root/index.html`.
pub fn write_summary(root: &Path, outcomes: &[Outcome]) -> Result<Written> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let summary = Summary { schema: "reprocheck.batch/v1", worst: worst(outcomes), specs: outcomes };
    let path = root.join("summary.json");
    let mut json = serde_json::to_string_pretty(&summary).context("serialising the batch summary")?;
    json.push('\n');
    crate::paths::write_atomically(&path, &json)?;
    let index = root.join("index.html");
    let page = index::render(root, outcomes).into_string();
    crate::paths::write_atomically(&index, page)?;
    Ok(Written { index, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_lists_expand_in_order_each_spec_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("many")).unwrap();
        for name in ["many/b.toml", "many/a.toml", "many/notes.txt", "one.toml"] {
            std::fs::write(d.join(name), "").unwrap();
        }
        std::fs::write(d.join("list"), "# nightly\none.toml\n\n  many/a.toml  \n").unwrap();
        let list = format!("@{}", d.join("list").display());
        let specs = expand(&[d.join("many"), PathBuf::from(list)]).unwrap();
        let names: Vec<String> =
            specs.iter().map(|p| p.strip_prefix(d).unwrap().display().to_string()).collect();
        assert_eq!(names, ["many/a.toml", "many/b.toml", "one.toml"], "a.toml once, notes.txt not a spec");
    }

    #[test]
    fn a_missing_list_entry_is_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list"), "# c\nnope.toml\n").unwrap();
        let list = PathBuf::from(format!("@{}", dir.path().join("list").display()));
        let error = format!("{:#}", expand(&[list]).unwrap_err());
        assert!(error.contains("list:2: nope.toml") && error.contains("no such spec file"), "{error}");
        let empty = tempfile::tempdir().unwrap();
        let error = format!("{:#}", expand(&[empty.path().to_path_buf()]).unwrap_err());
        assert!(error.contains("holds no *.toml spec file"), "{error}");
    }

    fn outcome(spec: &str, verdict: Verdict, error: Option<&str>) -> Outcome {
        Outcome {
            spec: spec.into(),
            name: spec.trim_end_matches(".toml").into(),
            verdict,
            culprit: String::new(),
            seconds: 1.25,
            results: None,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn the_table_counts_every_verdict_and_the_worst_decides() {
        let outcomes = [
            outcome("a.toml", Verdict::Reproducible, None),
            outcome("b.toml", Verdict::Unreproducible, None),
            outcome("c.toml", Verdict::Error, Some("c.toml:3:1: expected a table\x1b[31m")),
        ];
        let table = table(&outcomes);
        assert!(table.contains("c.toml  error"), "{table}");
        assert!(!table.contains('\x1b'), "no control characters reach the terminal: {table}");
        assert!(table.ends_with("3 specs: 1 error, 1 reproducible, 1 unreproducible\n"), "{table}");
        assert_eq!(worst(&outcomes), Verdict::Error);
        assert_eq!(worst(&outcomes[..2]), Verdict::Unreproducible);
        assert_eq!(worst(&outcomes[..1]), Verdict::Reproducible);
    }
}
