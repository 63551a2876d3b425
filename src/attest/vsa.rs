//! The Verification Summary Attestation (SLSA VSA v1) `verify` writes for
//! every verdict, failures included: what the rebuilder concluded about the
//! *published* artifacts. docs/verify.md documents every field.

use super::{hex_of, STATEMENT_TYPE};
use crate::errors::*;
use crate::report::verification::{OutputCheck, OutputVerdict};
use crate::report::{Report, Verdict};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The SLSA Verification Summary v1 predicate type.
pub const VSA_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The unsigned statement, in the results directory.
pub const STATEMENT_FILE: &str = "verification-summary.intoto.json";
/// The signed envelope, in the results directory.
pub const ENVELOPE_FILE: &str = "verification-summary.dsse.json";
/// The level a PASSED summary names: every published artifact was rebuilt
/// bit for bit (custom levels must not start with `SLSA_`).
pub const LEVEL_BIT_IDENTICAL: &str = "REPROCHECK_REBUILD_BIT_IDENTICAL";

/// An attestation this summary was drawn from: its file name in the
/// results directory and the sha256 of its bytes.
pub struct InputAttestation {
    /// File name, e.g. `provenance.dsse.json`.
    pub name: String,
    /// Hex sha256 of the file.
    pub sha256: String,
}

/// The summary statement for a `verify` report that reached a verdict.
/// `resource_uri` is where the artifacts are published, when the user said;
/// otherwise it is derived from the expectations.
pub fn statement(
    report: &Report,
    spec_file: &Path,
    builder_id: &str,
    resource_uri: Option<&str>,
    inputs: &[InputAttestation],
) -> Result<Value> {
    let verification = report.verification.as_ref().context("the report has no verification to summarise")?;
    let passed = report.verdict == Verdict::Verified;
    // Runs that disagree fail the verification even where each output matched.
    let runs_agree = report.comparison.as_ref().map(|c| c.reproducible);
    let subject: Vec<Value> = verification.outputs.iter().map(|check| subject(check, runs_agree)).collect();
    let resource_uri = match resource_uri {
        Some(uri) => uri.to_string(),
        None => default_resource_uri(&verification.outputs, spec_file),
    };
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": VSA_TYPE,
        "predicate": {
            // No `version`: the in-toto protobuf binding has only `id`, and
            // the input provenance names the tool's version.
            "verifier": { "id": builder_id },
            "timeVerified": report.finished_at,
            "resourceUri": resource_uri,
            "policy": {
                "uri": file_uri(spec_file),
                "digest": { "sha256": hex_of(&report.spec.sha256) },
            },
            "inputAttestations": inputs
                .iter()
                .map(|i| json!({ "uri": i.name, "digest": { "sha256": i.sha256 } }))
                .collect::<Vec<_>>(),
            "verificationResult": if passed { "PASSED" } else { "FAILED" },
            "verifiedLevels": [if passed { LEVEL_BIT_IDENTICAL } else { "FAILED" }],
            "slsaVersion": "1.0",
        },
    }))
}

/// One published artifact: its expected digest, and in `annotations` the
/// verdict, what each run rebuilt and, for a content match, every kind of
/// difference the comparison ignored with how many there were.
fn subject(check: &OutputCheck, runs_agree: Option<bool>) -> Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert("verdict".into(), json!(check.verdict.name()));
    let mut rebuilt: Vec<&str> = check
        .runs
        .iter()
        .filter_map(|r| r.sha256.as_ref().map(crate::digest::Digest::as_str))
        .map(hex_of)
        .collect();
    rebuilt.sort_unstable();
    rebuilt.dedup();
    annotations.insert("rebuiltSha256".into(), json!(rebuilt));
    if let Some(agree) = runs_agree {
        annotations.insert("runsAgree".into(), json!(agree));
    }
    if check.verdict == OutputVerdict::ContentMatch {
        annotations.insert("ignoredDifferences".into(), json!(check.ignored_differences));
    }
    if !check.content_differences.is_empty() {
        annotations.insert("contentDifferences".into(), json!(check.content_differences));
    }
    if let Some(reference) = &check.reference {
        annotations.insert("reference".into(), json!(file_uri(Path::new(reference))));
    }
    json!({
        "name": check.path,
        "digest": { "sha256": hex_of(&check.expected) },
        "annotations": annotations,
    })
}

/// One artifact with a reference file: that file. Otherwise the file every
/// expectation was declared in (a sums file, or the spec itself).
fn default_resource_uri(outputs: &[OutputCheck], spec_file: &Path) -> String {
    if let [only] = outputs {
        if let Some(reference) = &only.reference {
            return file_uri(Path::new(reference));
        }
    }
    // `declared_at` is `FILE:LINE` or `--expect-file PATH=FILE`.
    let files: Vec<&str> = outputs
        .iter()
        .map(|o| match o.declared_at.strip_prefix("--expect-file ") {
            Some(arg) => arg.split_once('=').map_or(arg, |(_, file)| file),
            None => o.declared_at.rsplit_once(':').map_or(o.declared_at.as_str(), |(file, _)| file),
        })
        .collect();
    match files.split_first() {
        Some((first, rest)) if rest.iter().all(|f| f == first) => file_uri(Path::new(first)),
        _ => file_uri(spec_file),
    }
}

/// `file://` and the absolute path, percent-encoded (RFC 8089).
fn file_uri(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path)
        .or_else(|_| std::env::current_dir().map(|dir| dir.join(path)))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file://");
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(*byte as char)
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

/// What a verification summary says, for `attest verify`.
#[derive(Debug, Clone)]
pub struct Summary {
    /// PASSED or FAILED.
    pub result: String,
    /// Each subject's name and verdict.
    pub verdicts: BTreeMap<String, String>,
}

impl Summary {
    /// Reads the result from a VSA statement; `None` when it is not one.
    pub fn of(statement: &Value) -> Option<Summary> {
        if statement["predicateType"] != VSA_TYPE {
            return None;
        }
        let result = statement["predicate"]["verificationResult"].as_str().unwrap_or("(none)").to_string();
        let verdicts = statement["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let verdict = s["annotations"]["verdict"].as_str().unwrap_or("(none)");
                Some((s["name"].as_str()?.to_string(), verdict.to_string()))
            })
            .collect();
        Some(Summary { result, verdicts })
    }

    /// Whether the summary reports a passed verification.
    pub fn passed(&self) -> bool {
        self.result == "PASSED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, declared_at: &str, reference: Option<&str>) -> OutputCheck {
        OutputCheck {
            path: path.into(),
            output: None,
            expected: "sha256:00".into(),
            declared_at: declared_at.into(),
            reference: reference.map(str::to_string),
            verdict: OutputVerdict::Match,
            runs: Vec::new(),
            metadata_differences: Vec::new(),
            ignored_differences: BTreeMap::new(),
            content_differences: Vec::new(),
            diff: None,
            note: None,
        }
    }

    #[test]
    fn the_resource_is_the_reference_or_the_file_declaring_every_digest() {
        let spec = Path::new("/nonexistent/spec.toml");
        let one = [check("a.tgz", "/nonexistent/spec.toml:9", Some("/nonexistent/pub/a b#1.tgz"))];
        assert_eq!(default_resource_uri(&one, spec), "file:///nonexistent/pub/a%20b%231.tgz");
        let sums = [check("a", "/nonexistent/SUMS:1", None), check("b", "/nonexistent/SUMS:2", None)];
        assert_eq!(default_resource_uri(&sums, spec), "file:///nonexistent/SUMS");
        let mixed = [check("a", "/nonexistent/SUMS:1", None), check("b", "--expect-file b=/x/b", None)];
        assert_eq!(default_resource_uri(&mixed, spec), "file:///nonexistent/spec.toml");
    }

    #[test]
    fn a_summary_reads_its_result_and_verdicts_and_provenance_is_not_one() {
        let vsa = json!({
            "predicateType": VSA_TYPE,
            "predicate": { "verificationResult": "FAILED" },
            "subject": [{ "name": "x.tgz", "annotations": { "verdict": "mismatch" } }],
        });
        let summary = Summary::of(&vsa).unwrap();
        assert!(!summary.passed());
        assert_eq!(summary.verdicts["x.tgz"], "mismatch");
        assert!(Summary::of(&json!({ "predicateType": super::super::PROVENANCE_TYPE })).is_none());
    }
}
