//! What comparing the runs found: which output paths differ, and which
//! runs agree on each ([`crate::compare`] computes it).

use crate::collect::OutputEntry;
use serde::Serialize;
use std::collections::BTreeMap;

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
