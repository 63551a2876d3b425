//! `report.json`, `report.html` ([`html`]) and the terminal summary.
//!
//! The JSON schema is documented in docs/report.md; bump [`SCHEMA`] on any
//! incompatible change.

pub mod comparison;
pub mod explanation;
pub mod html;
mod html_propagation;
mod inputs;
mod runs;
#[cfg(test)]
mod schema_tests;
pub mod verification;

use crate::errors::*;
pub use comparison::Comparison;
pub use explanation::{Blame, Explanation};
pub use inputs::{EngineReport, FactorsReport, ImageReport, SbomReport, SourceReport};
pub use runs::{BindReport, Environment, FileReport, RunOutcome, RunReport, Status};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
pub use verification::{OutputCheck, OutputVerdict, RunCheck, Verification};

/// Identifies the report format.
pub const SCHEMA: &str = "reprocheck-report/v1";

/// Everything one invocation found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Tool name and version.
    pub tool: Tool,
    /// The invocation id; also the value of every container's `reprocheck` label.
    pub run_id: String,
    /// RFC 3339 start and finish times.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// `reproducible`, `unreproducible`, `verified`, `not-verified` or `error`.
    pub verdict: Verdict,
    /// Set when the verdict is `error`.
    pub error: Option<String>,
    /// The spec file.
    pub spec: SpecInfo,
    /// The pinned image.
    pub image: ImageReport,
    /// The toolchain's SBOM beside report.json; absent when the image did not resolve.
    pub sbom: Option<SbomReport>,
    /// The engine the runs used; absent when it could not be reached.
    pub engine: Option<EngineReport>,
    /// Where the source came from.
    pub source: Option<SourceReport>,
    /// Which factors were requested and applied.
    pub factors: Option<FactorsReport>,
    /// Each run's environment and result.
    pub runs: Vec<RunReport>,
    /// The comparison, once every run succeeded.
    pub comparison: Option<Comparison>,
    /// Which factors cause which differences (`explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// Each expected output's verdict (`verify` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// Tool identity.
#[derive(Debug, Serialize)]
pub struct Tool {
    /// `reprocheck`.
    pub name: &'static str,
    /// Cargo package version.
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool { name: env!("CARGO_PKG_NAME"), version: env!("CARGO_PKG_VERSION") }
    }
}

/// The overall answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every run produced identical outputs.
    Reproducible,
    /// At least one output differs between runs.
    Unreproducible,
    /// `verify`: every expected output matched, in every run.
    Verified,
    /// `verify`: some expected output did not match.
    #[serde(rename = "not-verified")]
    NotVerified,
    /// Something failed before a verdict could be reached.
    Error,
}

/// The spec, identified by content.
#[derive(Debug, Serialize)]
pub struct SpecInfo {
    /// As given on the command line.
    pub path: String,
    /// The build name.
    pub name: String,
    /// `sha256:<hex>` of the file.
    pub sha256: String,
}

impl Report {
    /// Writes `DIR/report.json` and `DIR/report.html`; returns the hex
    /// sha256 of report.json's bytes (the attestation's byproduct).
    pub fn write(&self, dir: &Path) -> Result<String> {
        for diff in self.file_diffs().filter(|d| d.details_file.is_some()) {
            // report.json matters more than the long list: never lose it for that.
            if let Err(e) = write_all_details(dir, diff) {
                tracing::warn!("{e:#}");
            }
        }
        let path = dir.join("report.json");
        let mut json = serde_json::to_vec_pretty(self).context("serialising the report")?;
        json.push(b'\n');
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&json));
        crate::paths::write_atomically(&path, json)?;
        html::write(self, dir)?;
        Ok(sha256)
    }

    /// Every structured diff in the report.
    fn file_diffs(&self) -> impl Iterator<Item = &crate::diff::FileDiff> {
        let compared =
            self.comparison.iter().flat_map(|c| c.differences.iter().filter_map(|d| d.diff.as_ref()));
        let verified =
            self.verification.iter().flat_map(|v| v.outputs.iter().filter_map(|o| o.diff.as_ref()));
        let explained = self.explanation.iter().flat_map(|e| {
            e.nondeterministic_diffs.iter().chain(e.blamed.iter().filter_map(|b| b.diff.as_ref()))
        });
        compared.chain(verified).chain(explained)
    }

    /// Prints the report to stdout as JSON.
    pub fn print_json(&self) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, self).context("printing the report")?;
        writeln!(stdout).context("printing the report")
    }
}

impl Report {
    /// Who wrote output `path`, from the first run whose trace (`--trace`)
    /// names a writer: the process and up to three ancestors, nearest first.
    fn written_by(&self, path: &str) -> Option<String> {
        let chain = self.runs.iter().find_map(|r| r.result.trace.as_ref()?.writers.get(path))?;
        let shown: Vec<String> = chain.iter().take(4).map(|c| crate::style::clip(c, 60)).collect();
        Some(shown.join(" <- "))
    }

    /// A human summary: what was varied, the verdict, and which outputs
    /// differ between which runs (and, traced, which process wrote each).
    /// `quiet` leaves out what was varied.
    pub fn summary(&self, out_dir: &Path, quiet: bool) -> String {
        let mut s = String::new();
        let runs = self.runs.len();
        if let Some(factors) = self.factors.as_ref().filter(|_| !quiet) {
            if factors.varied.is_empty() {
                s.push_str("varied: nothing; every run used the control environment\n");
            } else {
                s.push_str(&format!("varied: {} (run 1 is the control)\n", factors.varied.join(", ")));
            }
            for (name, reason) in &factors.not_applied {
                s.push_str(&format!("not varied: {name}: {reason}\n"));
            }
            for (name, caveat) in &factors.caveats {
                s.push_str(&format!("caveat: {name}: {caveat}\n"));
            }
        }
        if let Some(e) = &self.explanation {
            s.push_str(&e.summary());
        }
        if let Some(v) = &self.verification {
            if let Some(c) = self.comparison.as_ref().filter(|c| !c.reproducible) {
                s.push_str(&format!("the {runs} rebuilds disagree on {} output(s):\n", c.differences.len()));
                let paths: Vec<&str> = c.differences.iter().map(|d| d.path.as_str()).collect();
                s.push_str(&more_outputs(&paths, "  "));
            }
            s.push_str(&v.summary(self.verdict));
        }
        match (&self.verdict, &self.comparison) {
            (Verdict::Reproducible, Some(_)) => {
                let outputs = self
                    .runs
                    .first()
                    .map_or(0, |r| r.result.outputs.values().filter(|e| e.is_artifact()).count());
                let files = crate::diff::plural(outputs, "file");
                s.push_str(&format!("REPRODUCIBLE: {runs} runs produced identical outputs ({files}"));
                // One NAR only when every run has it.
                let nars: std::collections::BTreeSet<_> =
                    self.runs.iter().map(|r| &r.result.nar_hash).collect();
                if let (1, Some(Some(nar))) = (nars.len(), nars.first()) {
                    s.push_str(&format!(", NAR {nar}"));
                }
                s.push_str(")\n");
            }
            (Verdict::Unreproducible, Some(c)) => {
                match (c.differences.len(), c.clock.is_empty()) {
                    (0, false) => s.push_str(&format!(
                        "UNREPRODUCIBLE: no output differs between the {runs} runs, but {} the build's own clock (time)\n",
                        comparison::clock_outputs(c)
                    )),
                    (n, _) => {
                        s.push_str(&format!("UNREPRODUCIBLE: {n} of the outputs differ between the {runs} runs\n"))
                    }
                }
                s.push_str(&comparison::clock_summary(c));
                if c.differences.is_empty() && c.clock.is_empty() {
                    // Only the trees' NAR hashes tell the runs apart.
                    for r in &self.runs {
                        let nar = r.result.nar_hash.as_deref().unwrap_or("none");
                        s.push_str(&format!("  run {} outputs NAR {nar}\n", r.result.index));
                    }
                }
                for d in c.differences.iter().take(TERMINAL_DETAILED) {
                    s.push_str(&format!("  {}\n", d.path));
                    if let Some(chain) = self.written_by(&d.path) {
                        s.push_str(&format!("    written by: {chain}\n"));
                    }
                    for v in &d.variants {
                        let label = if v.runs.len() == 1 { "run " } else { "runs" };
                        let list: Vec<String> = v.runs.iter().map(u32::to_string).collect();
                        s.push_str(&format!("    {label} {:<8} {}\n", list.join(","), v.describe()));
                    }
                    if let Some(diff) = &d.diff {
                        s.push_str(&diff.summary(6));
                    }
                    if let Some(ds) = &d.diffoscope {
                        match &ds.text {
                            Some(text) => {
                                s.push_str(&format!("    diffoscope: {}\n", out_dir.join(text).display()))
                            }
                            None => s.push_str(&format!("    diffoscope: {}\n", ds.status)),
                        }
                    }
                }
                let rest: Vec<&str> =
                    c.differences.iter().skip(TERMINAL_DETAILED).map(|d| d.path.as_str()).collect();
                s.push_str(&more_outputs(&rest, "  "));
                let pairs = comparison::differing_pairs(c);
                let pairs: Vec<String> =
                    pairs.iter().map(|((a, b), n)| format!("run {a} vs run {b}: {n} differ")).collect();
                if !pairs.is_empty() {
                    s.push_str(&format!("  ({})\n", pairs.join("; ")));
                }
            }
            _ => {
                if let Some(e) = &self.error {
                    s.push_str(&format!("ERROR: {}\n", e.lines().next().unwrap_or("")));
                }
            }
        }
        s.push_str(&format!("results: {}\n", out_dir.display()));
        s.push_str(&format!("report:  {}\n", out_dir.join("report.html").display()));
        s
    }
}

/// Differing outputs the terminal summary shows in detail; report.html and
/// report.json have them all. A build with thousands of differing files
/// should not bury the verdict.
pub const TERMINAL_DETAILED: usize = 8;
/// Further outputs the terminal summary names, one per line, before it only counts.
const TERMINAL_NAMED: usize = 30;

/// Names the first [`TERMINAL_NAMED`] of `paths`, one per line after
/// `indent`, then counts the rest and points at the report.
pub fn more_outputs(paths: &[&str], indent: &str) -> String {
    let mut s = String::new();
    for path in paths.iter().take(TERMINAL_NAMED) {
        s.push_str(&format!("{indent}{path}\n"));
    }
    if paths.len() > TERMINAL_NAMED {
        s.push_str(&format!(
            "{indent}… and {} more: report.html and report.json list every one\n",
            paths.len() - TERMINAL_NAMED
        ));
    }
    s
}

/// The current time as RFC 3339, seconds precision.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Writes every held detail of `diff` to its `details_file` under `dir`.
fn write_all_details(dir: &Path, diff: &crate::diff::FileDiff) -> Result<()> {
    let Some(name) = &diff.details_file else { return Ok(()) };
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    crate::paths::write_atomically(&path, diff.all_details_json()?)
}
