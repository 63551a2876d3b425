//! `reprocheck verify`: rebuild a spec and compare each output with its
//! published digest (from `[expect]`, a sums file, or a reference file given
//! with `--expect-file`).
//!
//! Each expected output gets `match`, `content-match` (an archive whose
//! bytes differ but whose extracted files are the same), `mismatch` or
//! `missing`. Only when every output matches in every run is the verdict
//! `verified`.

mod contents;

pub use contents::{compare_files as compare_archive_contents, Contents, IGNORED_KINDS};

use crate::cleanup::Interrupt;
use crate::collect::OutputEntry;
use crate::compare;
use crate::diff::{self, DiffContext};
use crate::errors::*;
use crate::invocation::CheckOptions;
pub use crate::report::verification::{OutputCheck, OutputVerdict, RunCheck, Verification};
use crate::report::{Comparison, Verdict};
use crate::run::{failures_among, CompletedRun};
use crate::session::Session;
use crate::spec::{Digest, Spec};
use std::path::{Path, PathBuf};

/// An expected digest and, from `--expect-file`, the reference bytes' file.
#[derive(Debug, Clone)]
pub struct Expectation {
    path: String,
    sha256: Digest,
    declared_at: String,
    reference: Option<PathBuf>,
}

/// What verify returns: the runs it made (also when it failed after
/// them), and its outcome.
pub struct Verified {
    /// The runs, in run order.
    pub runs: Vec<CompletedRun>,
    /// The verdict and what it rests on, or why there is none.
    pub outcome: Result<VerifyOutcome>,
}

/// A verify's verdict and what it rests on.
pub struct VerifyOutcome {
    /// `verified` or `not-verified`.
    pub verdict: Verdict,
    /// How the rebuilds compare with each other (with two or more).
    pub comparison: Option<Comparison>,
    /// Each expected output's verdict.
    pub verification: Verification,
}

/// Rebuilds the session's plan (its runs: one control by default) and
/// compares each output with `expectations`.
pub async fn verify(
    session: &mut Session<'_>,
    spec: &Spec,
    options: &CheckOptions,
    expectations: &[Expectation],
) -> Verified {
    let plan = session.plan.runs.clone();
    options.progress.note(&format!(
        "reprocheck: run {}: verifying {} output(s) of {} with {} build(s)",
        session.plan.run_id,
        expectations.len(),
        spec.name,
        plan.len()
    ));
    let runs = match session.run_batch(plan).await {
        Ok(runs) => runs,
        Err(e) => return Verified { runs: Vec::new(), outcome: Err(e) },
    };
    let outcome = judge(&runs, session.out(), spec, options, expectations, session.interrupt()).await;
    Verified { runs, outcome }
}

/// The verdict on `runs`.
async fn judge(
    runs: &[CompletedRun],
    out: &Path,
    spec: &Spec,
    options: &CheckOptions,
    expectations: &[Expectation],
    interrupt: Interrupt,
) -> Result<VerifyOutcome> {
    if let Some(failure) = failures_among(runs, out) {
        bail!(failure);
    }
    let comparison = match runs.len() {
        0 | 1 => None,
        _ => Some(compare::compare_runs(runs, out, options, &spec.diff_context(), interrupt).await?),
    };
    let context = crate::diff::DiffContext { interrupt, ..spec.diff_context() };
    let verification = verify_outputs(expectations, runs, out, &context, interrupt)?;
    let all_match = verification.outputs.iter().all(|o| o.verdict == OutputVerdict::Match);
    let runs_agree = comparison.as_ref().is_none_or(|c| c.reproducible);
    let verdict = if all_match && runs_agree { Verdict::Verified } else { Verdict::NotVerified };
    Ok(VerifyOutcome { verdict, comparison, verification })
}

/// The spec's expectations plus `--expect-file` references. A reference
/// for a path the spec also expects must have the spec's digest.
pub fn expectations(spec: &Spec, files: &[(String, PathBuf)]) -> Result<Vec<Expectation>> {
    let mut list = Vec::new();
    for e in &spec.expect {
        if let Some(reference) = &e.reference {
            // The published file must be the one the digest pins.
            let actual = std::fs::File::open(reference).and_then(Digest::of_reader).with_context(|| {
                format!("reading the published file {} ({})", reference.display(), e.origin)
            })?;
            ensure!(
                actual == e.sha256,
                "the published file {} has {actual}, but {} expects {} for {}\n\
                 help: the file is not the published artifact the digest pins; fetch it again",
                reference.display(),
                e.origin,
                e.sha256,
                e.path
            );
        }
        list.push(Expectation {
            path: e.path.clone(),
            sha256: e.sha256.clone(),
            declared_at: e.origin.clone(),
            reference: e.reference.clone(),
        });
    }
    for (path, file) in files {
        let sha256 = std::fs::File::open(file)
            .and_then(Digest::of_reader)
            .with_context(|| format!("reading the reference artifact {} (--expect-file)", file.display()))?;
        match list.iter_mut().find(|e| e.path == *path) {
            Some(e) if e.sha256 != sha256 => bail!(
                "--expect-file {path}={} has {sha256}, but {} expects {}\n\
                 help: the reference is not the published artifact; drop one of the two",
                file.display(),
                e.declared_at,
                e.sha256
            ),
            Some(e) => e.reference = Some(file.clone()),
            None => list.push(Expectation {
                path: path.clone(),
                sha256,
                declared_at: format!("--expect-file {path}={}", file.display()),
                reference: Some(file.clone()),
            }),
        }
    }
    ensure!(
        !list.is_empty(),
        "{}: nothing to verify against\n\
         help: add an [expect] table (or `expect.sums`) to the spec, or pass --expect-file PATH=FILE",
        spec.file.display()
    );
    Ok(list)
}

fn verify_outputs(
    expectations: &[Expectation],
    runs: &[CompletedRun],
    out: &Path,
    context: &DiffContext,
    interrupt: Interrupt,
) -> Result<Verification> {
    let produced: Vec<&String> = runs.first().map(|r| artifacts(&r.result.outputs)).unwrap_or_default();
    let mut checks = Vec::new();
    let mut claimed = Vec::new();
    for expectation in expectations {
        let output = resolve(&expectation.path, &produced);
        if let Some(o) = &output {
            claimed.push(o.clone());
        }
        interrupt.check().context("comparing with the published artifacts")?;
        checks.push(verify_one(expectation, output, runs, out, context));
    }
    let unexpected = produced.into_iter().filter(|p| !claimed.contains(p)).cloned().collect();
    Ok(Verification { outputs: checks, unexpected })
}

/// The outputs that are files or links (directories are not artifacts).
fn artifacts(outputs: &std::collections::BTreeMap<String, OutputEntry>) -> Vec<&String> {
    outputs.iter().filter(|(_, e)| e.is_artifact()).map(|(p, _)| p).collect()
}

/// The output an expected path refers to: the same path, or for a bare file
/// name (as in a release's SHA256SUMS), the one output with that name.
fn resolve(expected: &str, produced: &[&String]) -> Option<String> {
    if produced.iter().any(|p| *p == expected) {
        return Some(expected.to_string());
    }
    if expected.contains('/') {
        return None;
    }
    let named: Vec<&&String> = produced.iter().filter(|p| p.rsplit('/').next() == Some(expected)).collect();
    match named.as_slice() {
        [only] => Some((**only).clone()),
        _ => None,
    }
}

fn verify_one(
    e: &Expectation,
    output: Option<String>,
    runs: &[CompletedRun],
    out: &Path,
    context: &DiffContext,
) -> OutputCheck {
    let mut check = OutputCheck {
        path: e.path.clone(),
        output: output.clone(),
        expected: e.sha256.to_string(),
        declared_at: e.declared_at.clone(),
        reference: e.reference.as_ref().map(|r| r.display().to_string()),
        verdict: OutputVerdict::Match,
        runs: Vec::new(),
        metadata_differences: Vec::new(),
        ignored_differences: Default::default(),
        content_differences: Vec::new(),
        diff: None,
        note: None,
    };
    for run in runs {
        let entry = output.as_ref().and_then(|o| run.result.outputs.get(o));
        let (verdict, sha256) = match entry {
            None => (OutputVerdict::Missing, None),
            Some(OutputEntry::Symlink { target }) => {
                check.note.get_or_insert_with(|| format!("the rebuild made a symlink to {target}"));
                (OutputVerdict::Mismatch, None)
            }
            Some(OutputEntry::Directory { .. }) => {
                check.note.get_or_insert_with(|| "the rebuild made a directory there".into());
                (OutputVerdict::Mismatch, None)
            }
            Some(OutputEntry::File { sha256, .. }) if *sha256 == e.sha256 => {
                (OutputVerdict::Match, Some(sha256.clone()))
            }
            Some(OutputEntry::File { sha256, .. }) => {
                let rebuilt = out.join(&run.result.outputs_dir).join(output.as_deref().unwrap_or_default());
                (
                    compare_with_reference(&mut check, e, run.result.index, &rebuilt, context),
                    Some(sha256.clone()),
                )
            }
        };
        check.verdict = check.verdict.max(verdict);
        check.runs.push(RunCheck { run: run.result.index, verdict, sha256 });
    }
    check
}

/// `content-match` or `mismatch` for bytes that differ from the digest,
/// recording the first diff against the reference; `digest-mismatch` when
/// there is no reference to look inside (the contents are not known).
fn compare_with_reference(
    check: &mut OutputCheck,
    e: &Expectation,
    run: u32,
    rebuilt: &Path,
    context: &DiffContext,
) -> OutputVerdict {
    let Some(reference) = &e.reference else {
        check.note.get_or_insert_with(|| {
            "no reference artifact, so only the digest was compared; name the published file in [expect] \
             (`{ sha256 = ..., file = ... }`) or pass --expect-file PATH=FILE \
             to see whether the contents match and where the bytes differ"
                .to_string()
        });
        return OutputVerdict::DigestMismatch;
    };
    if let Err(e) = std::fs::File::open(reference).and_then(|_| std::fs::File::open(rebuilt)) {
        check.note.get_or_insert_with(|| format!("the reference or the rebuilt file could not be read: {e}"));
        return OutputVerdict::DigestMismatch;
    }
    // Streamed: neither file is held in memory, whatever its size.
    let mut verdict = match contents::compare_files(reference, rebuilt, context.budget, context.interrupt) {
        Some(contents::Contents::Same) => OutputVerdict::ContentMatch,
        Some(contents::Contents::Differ(reasons)) => {
            if check.content_differences.is_empty() {
                check.content_differences = reasons;
            }
            OutputVerdict::Mismatch
        }
        None => OutputVerdict::Mismatch,
    };
    if check.diff.is_none() {
        match diff::diff_files(&check.path, (0, run), reference, rebuilt, context) {
            Ok(mut d) => {
                if verdict == OutputVerdict::ContentMatch {
                    match contents::ignored_differences(&d) {
                        Ok(ignored) => {
                            check.metadata_differences = ignored.keys().cloned().collect();
                            check.ignored_differences = ignored;
                        }
                        // The diff saw a difference in something an
                        // extractor applies: never a content match.
                        Err(kinds) => {
                            verdict = OutputVerdict::Mismatch;
                            check.content_differences = vec![format!(
                                "the archives differ in {}, which extraction applies",
                                kinds.join(", ")
                            )];
                        }
                    }
                }
                if verdict != OutputVerdict::ContentMatch {
                    // What makes it a mismatch first; metadata after.
                    d.details.sort_by_key(|detail| !contents::is_content(&detail.field));
                }
                check.diff = Some(d);
            }
            Err(err) => tracing::warn!("no structured diff for {}: {err:#}", check.path),
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_only_when_unique() {
        let (a, b, c) = ("dist/x.tgz".to_string(), "dist/y.tgz".to_string(), "other/y.tgz".to_string());
        let produced = vec![&a, &b, &c];
        assert_eq!(resolve("dist/x.tgz", &produced).as_deref(), Some("dist/x.tgz"));
        assert_eq!(resolve("x.tgz", &produced).as_deref(), Some("dist/x.tgz"));
        assert_eq!(resolve("y.tgz", &produced), None, "two outputs are named y.tgz");
        assert_eq!(resolve("dist/z.tgz", &produced), None);
    }

    #[test]
    fn verdicts_order_worst_last() {
        let mut v = OutputVerdict::Match;
        for next in [OutputVerdict::ContentMatch, OutputVerdict::Match, OutputVerdict::Missing] {
            v = v.max(next);
        }
        assert_eq!(v, OutputVerdict::Missing);
        assert!(OutputVerdict::ContentMatch < OutputVerdict::DigestMismatch);
        assert!(OutputVerdict::DigestMismatch < OutputVerdict::Mismatch);
    }
}
