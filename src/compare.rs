//! Compares the outputs of several runs: which paths differ, and which runs
//! agree with each other on each of them.

use crate::cleanup::Interrupt;
use crate::diff;
use crate::errors::*;
use crate::invocation::CheckOptions;
pub use crate::report::comparison::{differing_pairs, Comparison, Difference, Variant};
use crate::run::{CompletedRun, RunResult};
use std::collections::BTreeSet;
use std::path::Path;

/// Compares the outputs of `runs` path by path.
pub fn compare(runs: &[RunResult]) -> Comparison {
    let paths: BTreeSet<&String> = runs.iter().flat_map(|r| r.outputs.keys()).collect();
    let mut differences = Vec::new();
    for path in paths {
        let mut groups: Vec<Variant> = Vec::new();
        for run in runs {
            let entry = run.outputs.get(path).cloned();
            match groups.iter_mut().find(|g| g.entry == entry) {
                Some(group) => group.runs.push(run.index),
                None => groups.push(Variant { runs: vec![run.index], entry }),
            }
        }
        if groups.len() > 1 {
            groups.sort_by_key(|g| (std::cmp::Reverse(g.runs.len()), g.runs[0]));
            differences.push(Difference {
                path: path.clone(),
                variants: groups,
                diff: None,
                diffoscope: None,
            });
        }
    }
    // The entries cover everything NAR does (and more); should the NAR
    // hashes differ all the same, the outputs are not the same.
    let nar_hashes: BTreeSet<&Option<crate::digest::Digest>> = runs.iter().map(|r| &r.nar_hash).collect();
    Comparison {
        reproducible: differences.is_empty() && nar_hashes.len() <= 1,
        runs: runs.iter().map(|r| r.index).collect(),
        differences,
        clock: Vec::new(),
    }
}

/// Compares `runs`, with a structured diff (and diffoscope, when asked)
/// for each differing output, in `context` (`limits.diff_size`, the build
/// command). `interrupt` stops it between outputs (SIGINT or SIGTERM also
/// stop a diff in progress at its next read).
pub async fn compare_runs(
    runs: &[CompletedRun],
    out: &Path,
    options: &CheckOptions,
    context: &diff::DiffContext,
    interrupt: Interrupt,
) -> Result<Comparison> {
    let context = &diff::DiffContext { interrupt, ..context.clone() };
    let results: Vec<_> = runs.iter().map(|r| r.result.clone()).collect();
    let mut comparison = compare(&results);
    if !comparison.differences.is_empty() {
        options
            .progress
            .note(&format!("reprocheck: {} output(s) differ; comparing them", comparison.differences.len()));
    }
    for difference in comparison.differences.iter_mut() {
        interrupt.check().context("comparing the outputs")?;
        difference.diff = diff_first_two(runs, out, difference, context);
        if let (true, Some(d)) = (options.diffoscope, &difference.diff) {
            let file = |i: u32| crate::results::output_file(out, i, &difference.path);
            let (a, b) = (file(d.runs.0), file(d.runs.1));
            difference.diffoscope = Some(diff::diffoscope::run(out, &difference.path, &a, &b).await);
        }
    }
    interrupt.check().context("comparing the outputs")?;
    Ok(comparison)
}

/// Scans the outputs of every run in `runs` (stored under `out`) for the
/// build's clock: each run in its own window, a zip time in its own zone
/// (`utc_offsets`: the control's and the timezone factor's experiment's),
/// never a time at or before `newest_source_time`. Each run's scan draws
/// on its own `budget` of decompressed bytes. A run whose window the engine
/// did not give is not scanned.
pub async fn clock_in_outputs(
    runs: &[CompletedRun],
    out: &Path,
    utc_offsets: (Option<i32>, Option<i32>),
    newest_source_time: i64,
    budget: u64,
) -> Result<Vec<crate::clock::ClockStamps>> {
    let timezone = crate::factors::FactorId::parse("timezone");
    let scans = runs.iter().filter_map(|run| {
        let window = run.result.window?;
        let varies_zone = timezone.is_some_and(|tz| run.plan.varied.contains(&tz));
        let clock = crate::clock::RunClock {
            run: run.index(),
            window,
            utc_offset: if varies_zone { utc_offsets.1 } else { utc_offsets.0 },
            newest_source_time,
        };
        let dir = out.join(crate::results::outputs_dir(run.index()));
        Some(tokio::task::spawn_blocking(move || crate::clock::scan_run(&dir, clock, budget)))
    });
    let mut found = Vec::new();
    for scanned in futures_util::future::join_all(scans).await {
        if let Some(stamps) = scanned.context("the clock scan stopped")?? {
            found.push(stamps);
        }
    }
    Ok(found)
}

/// The structured diff between the first runs of the first two variants.
fn diff_first_two(
    runs: &[CompletedRun],
    out: &Path,
    difference: &Difference,
    context: &diff::DiffContext,
) -> Option<diff::FileDiff> {
    let [first, second, ..] = difference.variants.as_slice() else { return None };
    let (a, b) = (first.runs[0], second.runs[0]);
    let run = |i: u32| runs.iter().find(|r| r.index() == i);
    let (run_a, run_b) = (run(a)?, run(b)?);
    let context = diff::DiffContext {
        build_dirs: (run_a.build_dir().to_string(), run_b.build_dir().to_string()),
        ..context.clone()
    };
    let file = |r: &CompletedRun| out.join(&r.result.outputs_dir).join(&difference.path);
    let entries = (first.entry.as_ref(), second.entry.as_ref());
    let files = (file(run_a), file(run_b));
    match diff::diff_outputs(&difference.path, (a, b), entries, (&files.0, &files.1), &context) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!("no structured diff for {}: {e:#}", difference.path);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::OutputEntry;
    use crate::run::RunStatus;

    fn run(index: u32, files: &[(&str, &str)]) -> RunResult {
        RunResult {
            index,
            status: RunStatus::Succeeded,
            duration_ms: 0,
            log: "l".into(),
            outputs_dir: "o".into(),
            nar_hash: None,
            window: None,
            trace: None,
            outputs: files
                .iter()
                .map(|(p, h)| {
                    let entry = OutputEntry::File {
                        size: 1,
                        sha256: crate::digest::Digest::of_bytes(h.as_bytes()),
                        executable: false,
                        mode: None,
                        xattrs: Default::default(),
                    };
                    (p.to_string(), entry)
                })
                .collect(),
        }
    }

    #[test]
    fn identical_runs_are_reproducible() {
        let c = compare(&[run(1, &[("a", "x")]), run(2, &[("a", "x")])]);
        assert!(c.reproducible);
        assert!(c.differences.is_empty());
    }

    #[test]
    fn differences_group_runs_and_note_missing_paths() {
        let c = compare(&[
            run(1, &[("a", "x"), ("b", "y")]),
            run(2, &[("a", "z")]),
            run(3, &[("a", "x"), ("b", "y")]),
        ]);
        assert!(!c.reproducible);
        assert_eq!(c.differences.len(), 2);
        let a = &c.differences[0];
        assert_eq!(a.path, "a");
        assert_eq!(a.variants[0].runs, vec![1, 3]);
        assert_eq!(a.variants[1].runs, vec![2]);
        let b = &c.differences[1];
        assert_eq!(b.variants[1].entry, None);
        assert_eq!(b.variants[1].describe(), "missing");
        let pairs = differing_pairs(&c);
        assert_eq!(pairs.get(&(1, 2)), Some(&2));
        assert_eq!(pairs.get(&(1, 3)), None);
    }

    #[test]
    fn different_nar_hashes_are_never_reproducible() {
        let (mut a, mut b) = (run(1, &[("a", "x")]), run(2, &[("a", "x")]));
        a.nar_hash = Some(crate::digest::Digest::of_bytes(b"1"));
        b.nar_hash = Some(crate::digest::Digest::of_bytes(b"2"));
        assert!(!compare(&[a.clone(), b]).reproducible);
        let mut same = a.clone();
        same.index = 2;
        assert!(compare(&[a, same]).reproducible);
    }
}
