//! A batch of rebuilds, counted: each target's class (bit-identical,
//! content-match, mismatch with the kind of difference, build failed, not
//! inferable) read from its report, the rates, a table and `rebuild.json`.

use crate::errors::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What became of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Every published file rebuilt byte for byte.
    BitIdentical,
    /// The same files in the archives, other metadata (times, order, ...).
    ContentMatch,
    /// A published file's contents differ, or it was not rebuilt.
    Mismatch,
    /// The build (or the image, or the verification) failed.
    BuildFailed,
    /// The rebuild could not be inferred from what was published.
    NotInferable,
}

impl Class {
    /// Every class, in the order tables show them.
    pub const ALL: [Class; 5] =
        [Class::BitIdentical, Class::ContentMatch, Class::Mismatch, Class::BuildFailed, Class::NotInferable];

    /// The class as tables print it.
    pub fn word(self) -> &'static str {
        match self {
            Class::BitIdentical => "bit-identical",
            Class::ContentMatch => "content-match",
            Class::Mismatch => "mismatch",
            Class::BuildFailed => "build-failed",
            Class::NotInferable => "not-inferable",
        }
    }
}

/// One target's line.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `pypi:idna==3.10`.
    pub target: String,
    /// What became of it.
    pub class: Class,
    /// Why: the kinds of difference, the metadata that differs, the error.
    pub detail: String,
    /// Wall time of its verification, seconds (inference not included).
    pub seconds: f64,
    /// Its results directory, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<PathBuf>,
}

/// The class of a finished verification, and why, from its report.json.
pub fn classify(report: &serde_json::Value) -> (Class, String) {
    let outputs = report["verification"]["outputs"].as_array();
    let Some(outputs) = outputs.filter(|o| !o.is_empty()) else {
        let error = report["error"].as_str().unwrap_or("no verification in the report");
        return (Class::BuildFailed, first_line(error));
    };
    let mut class = Class::BitIdentical;
    let mut details = Vec::new();
    for output in outputs {
        let path = output["path"].as_str().unwrap_or("?");
        match output["verdict"].as_str().unwrap_or("") {
            "match" => {}
            "content-match" => {
                class = class.max(Class::ContentMatch);
                let fields = strings(&output["metadata_differences"]);
                details.push(format!(
                    "{path}: {}",
                    if fields.is_empty() { "metadata".into() } else { fields.join(", ") }
                ));
            }
            "missing" => {
                class = class.max(Class::Mismatch);
                details.push(format!("{path}: not rebuilt"));
            }
            _ => {
                class = class.max(Class::Mismatch);
                let counts = output["diff"]["counts"].as_object();
                let kinds: Vec<String> =
                    counts.map(|c| c.iter().map(|(k, v)| format!("{k} × {v}")).collect()).unwrap_or_default();
                let first = output["diff"]["details"][0]["scope"].as_str().unwrap_or("");
                let mut line =
                    format!("{path}: {}", if kinds.is_empty() { "differs".into() } else { kinds.join(", ") });
                if !first.is_empty() {
                    line.push_str(&format!(" (first: {first})"));
                }
                details.push(line);
            }
        }
    }
    if report["comparison"]["verdict"].as_str() == Some("unreproducible") {
        details.push("the varied rebuild differs from the control rebuild".into());
    }
    (class, details.join("; "))
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// Each class's count and share of `rows`, one line each.
pub fn rates(rows: &[Row]) -> String {
    let total = rows.len().max(1) as f64;
    let mut text = String::new();
    for class in Class::ALL {
        let count = rows.iter().filter(|r| r.class == class).count();
        text.push_str(&format!("{:<14} {count:>5}  {:>5.1} %\n", class.word(), 100.0 * count as f64 / total));
    }
    text
}

/// The table of `rows`, then the rates.
pub fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.target.chars().count()).max().unwrap_or(6).max(6);
    let mut text = format!("{:<width$}  {:<14}  {:>8}  why\n", "target", "class", "time");
    for row in rows {
        text.push_str(&format!(
            "{:<width$}  {:<14}  {:>7.1}s  {}\n",
            row.target,
            row.class.word(),
            row.seconds,
            crate::style::without_controls(&row.detail)
        ));
    }
    text.push('\n');
    text.push_str(&rates(rows));
    text
}

/// Writes `root/rebuild.json`: every row and the counts.
pub fn write(root: &Path, rows: &[Row]) -> Result<PathBuf> {
    #[derive(Serialize)]
    struct Summary<'a> {
        schema: &'static str,
        counts: std::collections::BTreeMap<&'static str, usize>,
        targets: &'a [Row],
    }
    let counts =
        Class::ALL.iter().map(|c| (c.word(), rows.iter().filter(|r| r.class == *c).count())).collect();
    let summary = Summary { schema: "reprocheck.rebuild/v1", counts, targets: rows };
    let mut json = serde_json::to_string_pretty(&summary).context("serialising the rebuild summary")?;
    json.push('\n');
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let path = root.join("rebuild.json");
    crate::paths::write_atomically(&path, &json)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_are_classed_by_their_worst_output() {
        let matched = json!({"verification": {"outputs": [{"path": "a.whl", "verdict": "match"}]}});
        assert_eq!(classify(&matched).0, Class::BitIdentical);
        let content = json!({"verification": {"outputs": [
            {"path": "a.whl", "verdict": "match"},
            {"path": "b.whl", "verdict": "content-match", "metadata_differences": ["mtime"]}]}});
        assert_eq!(classify(&content), (Class::ContentMatch, "b.whl: mtime".to_string()));
        let mismatch = json!({"verification": {"outputs": [
            {"path": "b.whl", "verdict": "content-match", "metadata_differences": ["mtime"]},
            {"path": "a.deb", "verdict": "mismatch", "diff": {"counts": {"content": 2}, "details": [{"scope": "data.tar member ./usr/bin/x"}]}}]}});
        let (class, why) = classify(&mismatch);
        assert_eq!(class, Class::Mismatch);
        assert!(why.contains("a.deb: content × 2 (first: data.tar member ./usr/bin/x)"), "{why}");
        let failed = json!({"verdict": "error", "error": "run 1 exited with 2\nmore"});
        assert_eq!(classify(&failed), (Class::BuildFailed, "run 1 exited with 2".to_string()));
    }

    #[test]
    fn rates_count_every_class() {
        let row =
            |class| Row { target: "t".into(), class, detail: String::new(), seconds: 1.0, results: None };
        let rows = [
            row(Class::BitIdentical),
            row(Class::BitIdentical),
            row(Class::NotInferable),
            row(Class::Mismatch),
        ];
        let text = rates(&rows);
        assert!(text.contains("bit-identical      2   50.0 %"), "{text}");
        assert!(text.contains("not-inferable      1   25.0 %"), "{text}");
        assert!(text.contains("build-failed       0    0.0 %"), "{text}");
    }
}
