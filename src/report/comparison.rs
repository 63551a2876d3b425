//! What comparing the runs found: which output paths differ, and which
//! runs agree on each ([`crate::compare`] computes it).

use crate::collect::OutputEntry;
use serde::Serialize;
use std::collections::BTreeMap;

/// The outcome of comparing all runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// True when every run produced identical outputs and none holds the
    /// build's clock.
    pub reproducible: bool,
    /// The runs compared.
    pub runs: Vec<u32>,
    /// One entry per output path that is not identical in every run.
    pub differences: Vec<Difference>,
    /// The time factor: runs whose outputs hold timestamps from inside the
    /// run's own window (the build's clock), whether or not the runs
    /// differ. Any makes the outputs unreproducible.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clock: Vec<crate::clock::ClockStamps>,
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

impl Variant {
    /// A short description for the terminal: `sha256:abc123…`, `symlink -> x`, `missing`.
    pub fn describe(&self) -> String {
        match &self.entry {
            None => "missing".to_string(),
            Some(OutputEntry::Symlink { target }) => format!("symlink -> {target}"),
            Some(OutputEntry::File { size, sha256, executable, mode, xattrs }) => {
                let short = format!("sha256:{}", sha256.short());
                let mode = match (mode, executable) {
                    (Some(mode), _) => format!(", mode {mode}"),
                    (None, true) => ", executable".into(),
                    (None, false) => String::new(),
                };
                format!("{short}… ({size} bytes{mode}{})", describe_xattrs(xattrs))
            }
            Some(OutputEntry::Directory { mode, xattrs }) => {
                format!("directory (mode {mode}{})", describe_xattrs(xattrs))
            }
        }
    }
}

/// `, xattrs security.capability=0100…` for an entry that has any.
fn describe_xattrs(xattrs: &BTreeMap<String, String>) -> String {
    let shown: Vec<String> = xattrs.iter().map(|(k, v)| format!("{k}={}", &v[..v.len().min(16)])).collect();
    match shown.is_empty() {
        true => String::new(),
        false => format!(", xattrs {}", shown.join(" ")),
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

/// Timestamps of the build's clock shown per run in the terminal.
const CLOCK_SHOWN: usize = 4;

/// `out/a.tar holds` / `3 outputs hold`: which outputs carry the clock.
pub fn clock_outputs(comparison: &Comparison) -> String {
    let outputs: std::collections::BTreeSet<&str> =
        comparison.clock.iter().flat_map(|c| c.stamps.iter().map(|s| s.output.as_str())).collect();
    match outputs.len() {
        1 => format!("{} holds", outputs.first().copied().unwrap_or_default()),
        n => format!("{n} outputs hold"),
    }
}

/// The terminal's lines on the build's clock: per run, its window, the
/// first timestamps and the fixes.
pub fn clock_summary(comparison: &Comparison) -> String {
    let mut s = String::new();
    for run in &comparison.clock {
        s.push_str(&format!(
            "  the build's clock, run {} (ran {} to {}): {} timestamp(s) from inside that window\n",
            run.run, run.started, run.finished, run.total
        ));
        for stamp in run.stamps.iter().take(CLOCK_SHOWN) {
            s.push_str(&format!("    {}: {} {}\n", stamp.place, stamp.field, stamp.time));
        }
        if run.total > CLOCK_SHOWN {
            s.push_str(&format!("    … and {} more (report.json)\n", run.total - CLOCK_SHOWN));
        }
        let mut fixes: Vec<&str> = run.stamps.iter().map(|s| s.fix.as_str()).collect();
        fixes.dedup();
        for fix in fixes.iter().take(2) {
            s.push_str(&format!("    fix: {fix}\n"));
        }
    }
    s
}
