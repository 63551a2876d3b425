//! What `verify` found: each expected output's verdict
//! ([`crate::verify`] computes it).

use super::Verdict;
use crate::diff::FileDiff;
use serde::Serialize;

/// What verify found, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// One entry per expected output.
    pub outputs: Vec<OutputCheck>,
    /// Outputs the build produced that nothing expected (not a failure).
    pub unexpected: Vec<String>,
}

/// The verdict for one output, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputVerdict {
    /// The rebuilt bytes have the expected digest.
    Match,
    /// The bytes differ, but the archive holds the same files.
    ContentMatch,
    /// The digest differs, and there is no reference file to look inside:
    /// whether the contents match is not known.
    DigestMismatch,
    /// The content differs.
    Mismatch,
    /// The build did not produce it.
    Missing,
}

/// One expected output and how the rebuild compares.
#[derive(Debug, Clone, Serialize)]
pub struct OutputCheck {
    /// The expected path, as declared.
    pub path: String,
    /// The output it was matched to (differs from `path` when a sums file
    /// names a bare file name).
    pub output: Option<String>,
    /// The published digest.
    pub expected: String,
    /// Where the expectation was declared.
    pub declared_at: String,
    /// The reference artifact, when one was given.
    pub reference: Option<String>,
    /// The worst verdict over all runs.
    pub verdict: OutputVerdict,
    /// Each run's verdict and digest.
    pub runs: Vec<RunCheck>,
    /// For `content-match`: the kinds of metadata that differ.
    pub metadata_differences: Vec<String>,
    /// For `content-match`: each kind of difference the comparison ignored
    /// and how many there were.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub ignored_differences: std::collections::BTreeMap<String, u64>,
    /// For a `mismatch` against a reference archive: why the extracted
    /// contents differ (files missing, extra or changed; repeated names
    /// whose copies differ; members that cannot be read or trusted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_differences: Vec<String>,
    /// Reference versus the first run that differs, when a reference exists.
    pub diff: Option<FileDiff>,
    /// Why no deeper comparison was possible, when it was not.
    pub note: Option<String>,
}

/// One run's result for one output.
#[derive(Debug, Clone, Serialize)]
pub struct RunCheck {
    /// The run number.
    pub run: u32,
    /// Its verdict.
    pub verdict: OutputVerdict,
    /// What it produced (`None` when missing).
    pub sha256: Option<crate::digest::Digest>,
}

impl OutputVerdict {
    /// The name used in the report and the summary.
    pub fn name(self) -> &'static str {
        match self {
            OutputVerdict::Match => "match",
            OutputVerdict::ContentMatch => "content-match",
            OutputVerdict::DigestMismatch => "digest-mismatch",
            OutputVerdict::Mismatch => "mismatch",
            OutputVerdict::Missing => "missing",
        }
    }
}

impl Verification {
    /// A few lines per output for the terminal.
    pub fn summary(&self, verdict: Verdict) -> String {
        let mut s = String::new();
        for o in &self.outputs {
            match o.output.as_ref().filter(|p| **p != o.path) {
                Some(output) => s.push_str(&format!("  {:<13} {} ({output})\n", o.verdict.name(), o.path)),
                None => s.push_str(&format!("  {:<13} {}\n", o.verdict.name(), o.path)),
            }
            if o.verdict != OutputVerdict::Match {
                s.push_str(&format!("    expected {} ({})\n", o.expected, o.declared_at));
                for r in o.runs.iter().filter(|r| r.verdict != OutputVerdict::Match) {
                    let got = r.sha256.as_ref().map_or("nothing", |d| d.as_str());
                    s.push_str(&format!("    run {} produced {got}\n", r.run));
                }
            }
            if o.verdict == OutputVerdict::ContentMatch {
                s.push_str(&format!(
                    "    same files, types, modes, link targets and xattrs; differs only in: {}\n",
                    o.metadata_differences.join(", ")
                ));
            }
            for reason in &o.content_differences {
                match reason.starts_with("ambiguous archive:") {
                    true => s.push_str(&format!("    {reason}\n")),
                    false => s.push_str(&format!("    contents differ: {reason}\n")),
                }
            }
            if let Some(d) = &o.diff {
                s.push_str(&d.summary(6));
            }
            if let Some(note) = &o.note {
                s.push_str(&format!("    note: {note}\n"));
            }
        }
        if !self.unexpected.is_empty() {
            s.push_str(&format!("  (not expected, not checked: {})\n", self.unexpected.join(", ")));
        }
        let failing = self.outputs.iter().filter(|o| o.verdict != OutputVerdict::Match).count();
        s.push_str(&match verdict {
            Verdict::Verified => format!("VERIFIED: all {} expected output(s) match\n", self.outputs.len()),
            _ if failing == 0 => "NOT VERIFIED: every output matched, but the runs disagree\n".to_string(),
            _ => {
                format!("NOT VERIFIED: {failing} of {} expected output(s) do not match\n", self.outputs.len())
            }
        });
        s
    }
}
