//! `index.html` of a batch: one row per spec, linking its `report.html`.
//! Self-contained like each report; every name from a spec is escaped.

use super::{verdict_word, Outcome};
use crate::report::html::{link, page, verdict_class};
use crate::report::Verdict;
use maud::{html, Markup};
use std::path::Path;

/// The page for the batch whose summary is written in `root`.
pub fn render(root: &Path, outcomes: &[Outcome]) -> Markup {
    let worst = super::worst(outcomes);
    let body = html! {
        header {
            h1 { span.verdict.(verdict_class(worst)) { (verdict_word(worst)) } " " (crate::diff::plural(outcomes.len(), "spec")) }
            p.lede { (counts(outcomes)) }
        }
        section {
            table {
                thead { tr { th { "spec" } th { "verdict" } th { "culprit / error" } th { "time" } } }
                tbody {
                    @for outcome in outcomes { (row(root, outcome)) }
                }
            }
        }
        footer { "machine-readable: " a href="summary.json" { "summary.json" } }
    };
    page(&format!("reprocheck: {} specs", outcomes.len()), body)
}

fn row(root: &Path, outcome: &Outcome) -> Markup {
    let report = outcome
        .results
        .as_ref()
        .and_then(|results| results.strip_prefix(root).ok())
        .map(|relative| link(&format!("{}/report.html", relative.display())));
    let why = outcome.error.as_deref().unwrap_or(&outcome.culprit);
    html! {
        tr {
            td {
                @match &report {
                    Some(href) => a href=(href) { (outcome.name) },
                    None => (outcome.name),
                }
                br; code { (outcome.spec.display()) }
            }
            td { span.verdict.(verdict_class(outcome.verdict)) { (verdict_word(outcome.verdict)) } }
            td { (why) }
            td { (format!("{:.1} s", outcome.seconds)) }
        }
    }
}

fn counts(outcomes: &[Outcome]) -> String {
    let count = |wanted: &[Verdict]| outcomes.iter().filter(|o| wanted.contains(&o.verdict)).count();
    format!(
        "{} good, {} different, {} error",
        count(&[Verdict::Reproducible, Verdict::Verified]),
        count(&[Verdict::Unreproducible, Verdict::NotVerified]),
        count(&[Verdict::Error])
    )
}
