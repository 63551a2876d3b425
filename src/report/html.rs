//! `report.html`: the report for people. One self-contained file beside
//! `report.json`: inline CSS, no script, nothing fetched from the network.
//!
//! Everything in it that came from a build (paths, diffs, log tails) is
//! escaped by maud; links into the results directory are percent-encoded
//! relative paths, so they can only point below it.

use super::{Report, RunReport, Verdict};
use crate::diff::FileDiff;
use crate::errors::*;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::path::Path;

const CSS: &str = include_str!("report.css");
/// Differences listed before the rest are folded away.
const SHOWN_DETAILS: usize = 8;
/// Outputs shown open before the rest are folded away: a build with
/// thousands of differing files still reads top-down.
const SHOWN_OUTPUTS: usize = 20;

/// Writes `DIR/report.html`.
pub fn write(report: &Report, dir: &Path) -> Result<()> {
    let path = dir.join("report.html");
    crate::paths::write_atomically(&path, render(report).into_string())
}

/// The whole page.
pub fn render(report: &Report) -> Markup {
    let verdict = verdict_name(report.verdict);
    let body = html! {
        header {
            h1 { span.verdict.(verdict_class(report.verdict)) { (verdict) } " " (report.spec.name) }
            p.lede { (headline(report)) }
        }
        @if let Some(error) = &report.error {
            section.error { h2 { "Error" } pre { (error) } }
        }
        (inputs(report))
        (factor_notes(report))
        @if let Some(verification) = &report.verification { (verification_section(verification)) }
        @if let Some(explanation) = &report.explanation { (explanation_section(explanation)) }
        (clock(report))
        (differences(report))
        (runs_table(&report.runs))
        footer {
            "reprocheck " (report.tool.version) " · run " code { (report.run_id) }
            " · " (report.started_at) " → " (report.finished_at)
            " · machine-readable: " a href="report.json" { "report.json" }
        }
    };
    page(&format!("reprocheck: {} {verdict}", report.spec.name), body)
}

/// A self-contained page: `title`, the inline stylesheet, and `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproducible => "REPRODUCIBLE",
        Verdict::Unreproducible => "UNREPRODUCIBLE",
        Verdict::Verified => "VERIFIED",
        Verdict::NotVerified => "NOT VERIFIED",
        Verdict::Error => "ERROR",
    }
}

/// The CSS class of a verdict: `good` or `bad`.
pub fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproducible | Verdict::Verified => "good",
        Verdict::Unreproducible | Verdict::NotVerified | Verdict::Error => "bad",
    }
}

fn headline(report: &Report) -> String {
    let runs = report.runs.len();
    match (&report.comparison, &report.explanation, &report.verification) {
        (_, Some(e), _) => format!(
            "explain ran {} builds in {} round(s): {} output(s) blamed on factors, {} nondeterministic",
            e.builds,
            e.rounds,
            e.blamed.len(),
            e.nondeterministic.len()
        ),
        (_, _, Some(v)) => {
            format!("{} expected output(s) checked against {runs} rebuild(s)", v.outputs.len())
        }
        (Some(c), _, _) if c.reproducible => format!("{runs} runs produced identical outputs"),
        (Some(c), _, _) if c.differences.is_empty() && !c.clock.is_empty() => format!(
            "no output differs between the {runs} runs, but {} the build's own clock",
            crate::report::comparison::clock_outputs(c)
        ),
        (Some(c), _, _) => format!("{} output(s) differ between the {runs} runs", c.differences.len()),
        (None, _, _) => "no verdict: see the error below".to_string(),
    }
}

fn inputs(report: &Report) -> Markup {
    html! {
        section {
            h2 { "Inputs" }
            table.inputs {
                tr { th { "spec" } td { code { (report.spec.path) } br; code.digest { (report.spec.sha256) } } }
                tr { th { "image" } td {
                    @if let Some(name) = &report.image.name { code { (name) } br; }
                    "pinned " code.digest { (report.image.digest.as_deref().unwrap_or("(no pin)")) }
                    @if let Some(id) = &report.image.id { br; "ran " code.digest { (id) } }
                } }
                @if let Some(source) = &report.source {
                    tr { th { "source" } td {
                        (source.kind) " "
                        @match (&source.git, source.tarball.as_ref().or(source.dsc.as_ref())) {
                            (Some(git), _) => {
                                code { (git) } " @ " code.digest { (source.rev.as_deref().unwrap_or("")) }
                                @if let Some(tag) = &source.tag { " (tag " code { (tag) } ")" }
                            }
                            (None, Some(file)) => {
                                @if let Some(package) = &source.package { (package) " from " }
                                code { (file) } " " code.digest { (source.sha256.as_deref().unwrap_or("")) }
                            }
                            (None, None) => { code { (source.path) } }
                        }
                        br; "NAR " code.digest { (source.nar_hash) }
                        @if source.removed { " (unpacked tree removed after the run; --keep-source keeps it)" }
                    } }
                }
                @if let Some(engine) = &report.engine {
                    tr { th { "engine" } td { (engine.kind) " " (engine.version) " at " code { (engine.endpoint) } } }
                }
            }
        }
    }
}

fn factor_notes(report: &Report) -> Markup {
    let Some(factors) = &report.factors else { return html! {} };
    html! {
        section {
            h2 { "Factors" }
            p { "varied: " @if factors.varied.is_empty() { "nothing (control environment only)" }
                @for name in &factors.varied { code.factor { (name) } " " } }
            @if !factors.not_applied.is_empty() || !factors.caveats.is_empty() {
                ul.notes {
                    @for (name, why) in &factors.not_applied { li { "not varied: " code.factor { (name) } " — " (why) } }
                    @for (name, caveat) in &factors.caveats { li { "caveat: " code.factor { (name) } " — " (caveat) } }
                }
            }
        }
    }
}

/// Runs as columns, factors as rows; a cell that differs from run 1 is marked.
fn runs_table(runs: &[RunReport]) -> Markup {
    let Some(first) = runs.first() else { return html! {} };
    html! {
        section {
            h2 { "Runs" }
            div.scroll { table.runs {
                tr { th { "factor" } @for run in runs { th {
                    "run " (run.result.index)
                    @if run.environment.varied.is_empty() { br; small { "control" } }
                } } }
                @for (name, control) in &first.factors {
                    tr { th { code { (name) } } @for run in runs {
                        @let value = run.factors.get(name).map(String::as_str).unwrap_or("");
                        td.varied[value != control] { (value) }
                    } }
                }
                tr { th { "result" } @for run in runs { td { (status(run)) } } }
                tr { th { "time" } @for run in runs { td { (format!("{:.1} s", run.result.duration_ms as f64 / 1000.0)) } } }
                tr { th { "outputs NAR" } @for run in runs { td { code.digest { (run.result.nar_hash.as_deref().unwrap_or("—")) } } } }
                tr { th { "files" } @for run in runs { td {
                    a href=(link(&run.result.log.to_string_lossy())) { "build log" } " · "
                    a href=(format!("{}/", link(&run.result.outputs_dir.to_string_lossy()))) { "outputs" }
                } } }
            } }
        }
    }
}

fn status(run: &RunReport) -> String {
    use super::Status as RunStatus;
    match &run.result.status {
        RunStatus::Succeeded => "succeeded".to_string(),
        RunStatus::Failed { exit_code, .. } => format!("failed (exit {exit_code})"),
        RunStatus::TimedOut { after_seconds } => format!("timed out after {after_seconds} s"),
        RunStatus::OverDisk { limit_bytes, .. } => {
            format!("killed: wrote over limits.disk_size ({})", crate::run::size(*limit_bytes))
        }
    }
}

/// The time factor's finding: per run, its window and the timestamps of
/// the build's clock its outputs hold.
fn clock(report: &Report) -> Markup {
    let Some(comparison) = report.comparison.as_ref().filter(|c| !c.clock.is_empty()) else {
        return html! {};
    };
    html! {
        section {
            h2 { "The build's own clock in the outputs (time)" }
            @for run in &comparison.clock {
                p { "Run " (run.run) " ran from " code { (run.started) } " to " code { (run.finished) }
                    " (the engine's clock); " (run.total) " timestamp(s) in its outputs fall inside that window:" }
                table.variants {
                    @for stamp in &run.stamps {
                        tr { td { code { (stamp.place) } } td { (stamp.field) } td { code { (stamp.time) } } td { (stamp.fix) } }
                    }
                }
            }
        }
    }
}

fn differences(report: &Report) -> Markup {
    let Some(comparison) = report.comparison.as_ref().filter(|c| !c.differences.is_empty()) else {
        return html! {};
    };
    let articles = comparison.differences.iter().map(|d| difference_article(report, d)).collect();
    html! {
        section {
            h2 { "Differing outputs" }
            (folded(articles, "differing outputs"))
        }
    }
}

fn difference_article(report: &Report, difference: &crate::report::comparison::Difference) -> Markup {
    html! {
        article.output {
            h3 { code { (difference.path) } }
            table.variants {
                @for variant in &difference.variants {
                    tr {
                        th { @if variant.runs.len() == 1 { "run " } @else { "runs " } (join(&variant.runs)) }
                        td { code.digest { (variant.describe()) } }
                        td { @for run in &variant.runs {
                            a href=(output_link(report, *run, &difference.path)) { "run " (run) } " "
                        } }
                    }
                }
            }
            @if let Some(diff) = &difference.diff { (file_diff(diff)) }
            @if let Some(ds) = &difference.diffoscope {
                p { "diffoscope: " (ds.status)
                    @if let Some(html) = &ds.html { " · " a href=(link(&html.to_string_lossy())) { "HTML" } }
                    @if let Some(text) = &ds.text { " · " a href=(link(&text.to_string_lossy())) { "text" } } }
            }
        }
    }
}

/// The first [`SHOWN_OUTPUTS`] articles, then the rest behind one
/// `<details>` (no script needed to open it).
fn folded(mut articles: Vec<Markup>, what: &str) -> Markup {
    let rest = articles.split_off(articles.len().min(SHOWN_OUTPUTS));
    html! {
        @for article in &articles { (article) }
        @if !rest.is_empty() {
            details.more {
                summary { (rest.len()) " more " (what) }
                @for article in &rest { (article) }
            }
        }
    }
}

fn output_link(report: &Report, run: u32, path: &str) -> String {
    let dir = report.runs.iter().find(|r| r.result.index == run).map(|r| r.result.outputs_dir.clone());
    let dir = dir.unwrap_or_else(|| crate::results::outputs_dir(run));
    link(&format!("{}/{path}", dir.to_string_lossy()))
}

/// The structured diff: details, the coloured text diff, and fix hints.
fn file_diff(diff: &FileDiff) -> Markup {
    let (a, b) = match diff.runs {
        (0, run) => ("reference".to_string(), format!("run {run}")),
        (a, b) => (format!("run {a}"), format!("run {b}")),
    };
    html! {
        div.diff {
            p.format { (diff.format) ": " (a) " → " (b) @if diff.truncated { " (cut at the caps: see the counts)" } }
            @if diff.details_total > 1 {
                p.counts { (diff.details_total) " differences: " (diff.counts_line()) }
            }
            @if !diff.hints.is_empty() {
                ul.hints { @for hint in &diff.hints {
                    li { strong { "fix: " } code { (hint.fix) } br; small { "evidence: " (hint.evidence) } }
                } }
            }
            @if !diff.details.is_empty() {
                @let sample = diff.sample(crate::diff::REPORT_DETAILS);
                (details_table(&sample[..sample.len().min(SHOWN_DETAILS)], &a, &b))
                @if sample.len() > SHOWN_DETAILS {
                    details {
                        summary { (sample.len() - SHOWN_DETAILS) " more differences" }
                        (details_table(&sample[SHOWN_DETAILS..], &a, &b))
                    }
                }
                @if diff.details_total > sample.len() as u64 {
                    p { (diff.details_total - sample.len() as u64) " more: every one is in "
                        a href=(link(&diff.rest_is_in())) { (diff.rest_is_in()) } }
                }
            }
            @if let Some(text) = &diff.text_diff {
                pre.textdiff { @for line in text.lines() {
                    @let class = match line.as_bytes().first() {
                        Some(b'+') if !line.starts_with("+++") => "add",
                        Some(b'-') if !line.starts_with("---") => "del",
                        Some(b'@') => "hunk",
                        _ => "ctx",
                    };
                    span class=(class) { (line) } "\n"
                } }
            }
        }
    }
}

fn details_table(details: &[&crate::diff::Detail], a: &str, b: &str) -> Markup {
    html! {
        div.scroll { table.details {
            tr { th { "where" } th { "what" } th { (a) } th { (b) } }
            @for d in details {
                tr { td.scope { code { (d.scope.to_string()) } } td.field { (d.field.to_string()) } td.old { code { (d.a) } } td.new { code { (d.b) } } }
            }
        } }
    }
}

fn explanation_section(e: &super::Explanation) -> Markup {
    let blamed = e.blamed.iter().map(blame_article).collect();
    let diffs: std::collections::HashMap<&str, &FileDiff> =
        e.nondeterministic_diffs.iter().map(|d| (d.path.as_str(), d)).collect();
    let nondeterministic = e
        .nondeterministic
        .iter()
        .map(|path| {
            html! {
                article.output {
                    h3 { code { (path) } }
                    p.blame { "nondeterministic: two control builds differ, so no factor is blamed there" }
                    @if let Some(places) = e.nondeterministic_places.get(path) {
                        p { "differs at: " (places.join("; ")) }
                    }
                    @if let Some(diff) = diffs.get(path.as_str()) { (file_diff(diff)) }
                    @if let Some(p) = e.nondeterministic_propagation.get(path) {
                        (super::html_propagation::propagation_trees(p))
                    }
                }
            }
        })
        .collect();
    html! {
        section {
            h2 { "What causes the differences" }
            @if !e.fails_under.is_empty() {
                article.output {
                    h3 { "The build fails" }
                    p.blame {
                        "when "
                        @for (i, cause) in e.fails_under.iter().enumerate() {
                            @if i > 0 { " or " }
                            @for (j, factor) in cause.iter().enumerate() {
                                @if j > 0 { " + " } code.factor.blamed { (factor) }
                            }
                        }
                        " is varied; outputs are not compared while it fails"
                    }
                    @if let Some(failure) = &e.failure { pre { (failure) } }
                }
            }
            @if e.blamed.is_empty() && e.nondeterministic.is_empty() && e.fails_under.is_empty() {
                p { "No output differs under any factor tried." }
            }
            (folded(blamed, "blamed outputs"))
            (folded(nondeterministic, "nondeterministic outputs"))
        }
    }
}

fn blame_article(blame: &super::Blame) -> Markup {
    html! {
        article.output {
            h3 { code { (blame.path) } }
            p.blame { "blamed on: "
                @if blame.culprits.is_empty() { "not isolated" }
                @for (i, culprit) in blame.culprits.iter().enumerate() {
                    @if i > 0 { " and, independently, " }
                    @for (j, factor) in culprit.iter().enumerate() {
                        @if j > 0 { " + " } code.factor.blamed { (factor) }
                    }
                    @if culprit.len() > 1 { " (only together)" }
                }
                @if blame.beyond_nondeterminism { ", beyond its nondeterministic part" }
                " · " (blame.builds) " builds"
            }
            @if !blame.places.is_empty() { p { "changes: " (blame.places.join("; ")) } }
            @if let Some(diff) = &blame.diff { (file_diff(diff)) }
            (super::html_propagation::propagation_trees(&blame.propagation))
            @if !blame.more_hints.is_empty() {
                ul.hints { @for hint in &blame.more_hints {
                    li { strong { "fix: " } code { (hint.fix) } br; small { "evidence: " (hint.evidence) } }
                } }
            }
        }
    }
}

fn verification_section(v: &super::Verification) -> Markup {
    use super::OutputVerdict;
    html! {
        section {
            h2 { "Published artifacts" }
            @for o in &v.outputs {
                article.output {
                    h3 {
                        span.verdict.(if o.verdict == OutputVerdict::Match { "good" } else { "bad" }) { (o.verdict.name()) }
                        " " code { (o.path) }
                    }
                    p { "expected " code.digest { (o.expected) } " (" (o.declared_at) ")"
                        @if let Some(reference) = &o.reference { br; "reference file " code { (reference) } } }
                    ul { @for r in &o.runs {
                        li { "run " (r.run) ": " (r.verdict.name()) " " code.digest { (r.sha256.as_ref().map_or("missing", |d| d.as_str())) } }
                    } }
                    @if !o.metadata_differences.is_empty() {
                        p { "same contents; differs only in: " (o.metadata_differences.join(", ")) }
                    }
                    @if !o.content_differences.is_empty() {
                        ul.reasons { @for reason in &o.content_differences { li { "contents differ: " (reason) } } }
                    }
                    @if let Some(diff) = &o.diff { (file_diff(diff)) }
                    @if let Some(note) = &o.note { p.note { (note) } }
                }
            }
            @if !v.unexpected.is_empty() { p { "not expected, not checked: " (v.unexpected.join(", ")) } }
        }
    }
}

fn join(runs: &[u32]) -> String {
    runs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// A relative URL for a path inside the results directory: every byte
/// outside the unreserved set and `/` is percent-encoded, so a name like
/// `a?b#c` or `javascript:x` stays a path below the report.
pub fn link(path: &str) -> String {
    let out = crate::percent::encode(path, b"/");
    match out.starts_with('/') {
        true => format!(".{out}"),
        false => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_relative_paths() {
        assert_eq!(link("run-1/outputs/a b?c#d"), "run-1/outputs/a%20b%3Fc%23d");
        assert_eq!(link("javascript:alert(1)"), "javascript%3Aalert%281%29");
        assert_eq!(link("/etc/passwd"), "./etc/passwd");
        assert_eq!(link("ü"), "%C3%BC");
    }

    #[test]
    fn build_output_is_escaped() {
        let mut diff = FileDiff::new("<script>alert(1)</script>", (1, 2));
        diff.format = "text".into();
        diff.add(crate::diff::Detail {
            scope: crate::diff::Scope::top(crate::diff::Layer::Bytes),
            field: crate::diff::Field::Content,
            a: "<img src=x onerror=alert(1)>".into(),
            b: "&".into(),
        });
        diff.text_diff = Some("--- a\n+++ b\n-<b>old</b>\n+new".into());
        let page = file_diff(&diff).into_string();
        assert!(!page.contains("<img") && !page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
        assert!(page.contains(r#"<span class="del">-&lt;b&gt;old&lt;/b&gt;</span>"#), "{page}");
        assert!(page.contains(r#"<span class="add">+new</span>"#), "{page}");
        assert!(page.contains(r#"<span class="ctx">--- a</span>"#), "{page}");
    }
}
