//! Compares the outputs of several runs: which paths differ, and which runs
//! agree with each other on each of them.

use crate::collect::OutputEntry;
use crate::engine::run::RunResult;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The outcome of comparing all runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// True when every run produced identical outputs.
    pub reproducible: bool,
    /// The runs compared.
    pub runs: Vec<u32>,
    /// One entry per output path that is not identical in every run.
    pub differences: Vec<Difference>,
}

/// One output path that differs between runs.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// Path relative to the build directory.
    pub path: String,
    /// Runs grouped by what they produced at this path, largest group first.
    pub variants: Vec<Variant>,
    /// Where the first two variants differ, and the usual fixes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::diff::FileDiff>,
    /// diffoscope's verdict and reports, with `--diffoscope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffoscope: Option<crate::diff::diffoscope::Diffoscope>,
}

/// A set of runs that produced the same thing at one path.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// Run numbers.
    pub runs: Vec<u32>,
    /// What they produced; `None` when the path is missing in these runs.
    pub entry: Option<OutputEntry>,
}

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
    Comparison {
        reproducible: differences.is_empty(),
        runs: runs.iter().map(|r| r.index).collect(),
        differences,
    }
}

impl Variant {
    /// A short description for the terminal: `sha256:abc123…`, `symlink -> x`, `missing`.
    pub fn describe(&self) -> String {
        match &self.entry {
            None => "missing".to_string(),
            Some(OutputEntry::Symlink { target }) => format!("symlink -> {target}"),
            Some(OutputEntry::File { size, sha256, executable }) => {
                let short = &sha256[..sha256.len().min("sha256:".len() + 12)];
                let exec = if *executable { ", executable" } else { "" };
                format!("{short}… ({size} bytes{exec})")
            }
        }
    }
}

/// Counts, per run pair, how many paths differ (for the summary).
pub fn differing_pairs(comparison: &Comparison) -> BTreeMap<(u32, u32), usize> {
    let mut pairs = BTreeMap::new();
    for difference in &comparison.differences {
        for (i, a) in difference.variants.iter().enumerate() {
            for b in &difference.variants[i + 1..] {
                for &x in &a.runs {
                    for &y in &b.runs {
                        *pairs.entry((x.min(y), x.max(y))).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::run::RunStatus;

    fn run(index: u32, files: &[(&str, &str)]) -> RunResult {
        RunResult {
            index,
            status: RunStatus::Succeeded,
            duration_ms: 0,
            log: "l".into(),
            outputs_dir: "o".into(),
            nar_hash: None,
            outputs: files
                .iter()
                .map(|(p, h)| {
                    let entry = OutputEntry::File { size: 1, sha256: h.to_string(), executable: false };
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
}
