//! `reprocheck explain`: which factors make which outputs differ, and which
//! outputs differ even without any variation.
//!
//! Round 1 runs two controls (a flake check) and the code groups of
//! [`isolate`] in parallel; after `check --explain` it reuses the check's
//! control and all-factor run instead, and builds only the groups. Further
//! rounds split what round 1 could not attribute to a single factor; every
//! round adds a control. Where controls differ, explain compares the places
//! inside the output ([`crate::diff::locations`]): what differs between
//! controls is nondeterministic, and factors are still found for what they
//! change beyond it. A factor set is never built twice: the analysis is
//! replayed on every build so far ([`analysis`]).

mod analysis;
mod builds;
mod isolate;

use crate::check::Invocation;
use crate::diff::locations::Location;
use crate::errors::*;
use crate::report::{more_outputs, Report, RunReport, Verdict, TERMINAL_DETAILED};
use crate::session::Session;
use analysis::{Analysis, Lab};
use builds::{Builds, Noise};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Rounds after which explain stops splitting and reports what it has.
const MAX_ROUNDS: u32 = 12;
/// Places listed per output.
const MAX_PLACES: usize = 6;

/// What `explain` found.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Builds whose results were used, the controls and the reused runs included.
    pub builds: u32,
    /// Of those, runs reused from the `check` that preceded (`check --explain`).
    pub reused: u32,
    /// Rounds of parallel builds.
    pub rounds: u32,
    /// Outputs that differ between two control runs: nondeterministic
    /// without any variation. No factor is blamed for what differs there.
    pub nondeterministic: Vec<String>,
    /// Where the two controls differ, for each nondeterministic output.
    pub nondeterministic_diffs: Vec<crate::diff::FileDiff>,
    /// For nondeterministic outputs that can be compared piecewise: the
    /// places where controls differ (at most a few per output).
    pub nondeterministic_places: BTreeMap<String, Vec<String>>,
    /// One entry per output that differs because of factors.
    pub blamed: Vec<Blame>,
    /// The factor set each build varied, by run number.
    pub experiments: BTreeMap<u32, Vec<String>>,
}

/// The factors behind one differing output.
#[derive(Debug, Clone, Serialize)]
pub struct Blame {
    /// The output path.
    pub path: String,
    /// Each entry is one cause: a single factor, or factors that only make
    /// the difference together.
    pub culprits: Vec<Vec<String>>,
    /// The output is also nondeterministic: the culprits change it beyond
    /// the places where two controls differ.
    pub beyond_nondeterminism: bool,
    /// For such outputs, places the culprits change (at most a few).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub places: Vec<String>,
    /// Builds whose results were used to isolate it, controls included.
    pub builds: u32,
    /// Where a build that differs differs from the control it is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::diff::FileDiff>,
    /// Fixes found in the diffs of the other builds that differ (one cause
    /// each), beyond those in `diff`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_hints: Vec<crate::diff::hints::Hint>,
}

/// Diffs computed per blamed output to collect the hints of every cause.
const MAX_HINT_DIFFS: usize = 8;

/// The runs of an earlier `check` with the same plan, which explain reuses
/// as its control and all-factor build (`check --explain`).
#[derive(Clone, Copy)]
pub struct Earlier<'a> {
    /// The check's report.
    pub report: &'a Report,
    /// Its results directory.
    pub out: &'a Path,
}

impl Explanation {
    /// The terminal form.
    pub fn summary(&self) -> String {
        let reused = match self.reused {
            0 => String::new(),
            n => format!(", {n} of them reused from the check"),
        };
        let mut s = format!("EXPLAINED with {} builds{reused} in {} round(s):\n", self.builds, self.rounds);
        if !self.nondeterministic.is_empty() {
            s.push_str(
                "  nondeterministic without any variation (two control runs differ; no factor is blamed there):\n",
            );
            for path in self.nondeterministic.iter().take(TERMINAL_DETAILED) {
                s.push_str(&format!("    {path}\n"));
                if let Some(places) = self.nondeterministic_places.get(path) {
                    s.push_str(&format!("      at: {}\n", places.join("; ")));
                }
                if let Some(diff) = self.nondeterministic_diffs.iter().find(|d| &d.path == path) {
                    s.push_str(&diff.summary(4));
                }
            }
            let rest: Vec<&str> =
                self.nondeterministic.iter().skip(TERMINAL_DETAILED).map(String::as_str).collect();
            s.push_str(&more_outputs(&rest, "    "));
        }
        let mut undetailed = Vec::new();
        for (i, blame) in self.blamed.iter().enumerate() {
            let causes: Vec<String> =
                blame
                    .culprits
                    .iter()
                    .map(|c| {
                        if c.len() == 1 {
                            c[0].clone()
                        } else {
                            format!("{} (only together)", c.join(" + "))
                        }
                    })
                    .collect();
            let how = if causes.len() > 1 { ", independently" } else { "" };
            let causes = if causes.is_empty() { "not isolated".to_string() } else { causes.join("; ") };
            let beyond = if blame.beyond_nondeterminism { ", beyond its nondeterministic part" } else { "" };
            let line = format!("{}: {causes}{how}{beyond} ({} builds)", blame.path, blame.builds);
            if i >= TERMINAL_DETAILED {
                undetailed.push(line);
                continue;
            }
            s.push_str(&format!("  {line}\n"));
            if !blame.places.is_empty() {
                s.push_str(&format!("      at: {}\n", blame.places.join("; ")));
            }
            if let Some(diff) = &blame.diff {
                s.push_str(&diff.summary(4));
            }
            for h in &blame.more_hints {
                s.push_str(&format!("    hint: {} (evidence: {})\n", h.fix, h.evidence));
            }
        }
        s.push_str(&more_outputs(&undetailed.iter().map(String::as_str).collect::<Vec<_>>(), "  "));
        if self.nondeterministic.is_empty() && self.blamed.is_empty() {
            s.push_str("  no output differs under any factor tried\n");
        }
        s
    }
}

/// Runs the explanation for `spec` and fills in `report`.
pub async fn pipeline(invocation: Invocation<'_>, report: &mut Report) -> Result<()> {
    let Invocation { spec, options, earlier, .. } = invocation;
    let mut session = Session::open(invocation, 2, report).await?;
    session.all_at_once(options);
    let factors = session.plan.factors.varied.clone();
    options.progress.note(&format!(
        "reprocheck: run {}: explaining {} with {} factor(s) varied",
        report.run_id,
        spec.name,
        factors.len()
    ));
    let mut builds = Builds::new(session.out(), spec.limits.diff_bytes);
    let reused = match earlier {
        Some(earlier) => adopt(&mut builds, earlier, &factors, session.out(), report)?,
        None => 0,
    };
    // Round 1: the code groups, with two controls unless check's are reused.
    let groups = isolate::code_groups(&factors);
    builds.round(&mut session, report, &groups, if reused > 0 { 0 } else { 2 }).await?;
    let mut spaced = false;
    let analysis = loop {
        // Signals during a round stop its builds; between rounds, here.
        crate::cleanup::check().context("explaining the differences")?;
        builds.update_noise();
        let units = builds.units(&groups, &factors);
        let analysis = analysis::analyse(&mut builds, &factors, &units, reused > 0);
        if !analysis.wanted.is_empty() && builds.rounds < MAX_ROUNDS {
            let wanted: Vec<Vec<String>> = analysis.wanted.iter().cloned().collect();
            builds.round(&mut session, report, &wanted, 1).await?;
            continue;
        }
        // Several causes for one output can be real, or a build that records
        // the real time straddling a second inside a round. Two controls
        // built over a second apart tell them apart: what differs between
        // them becomes noise, and the analysis is replayed.
        if !spaced && several_causes(&analysis) {
            spaced = true;
            builds.round(&mut session, report, &[], 1).await?;
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            builds.round(&mut session, report, &[], 1).await?;
            continue;
        }
        break analysis;
    };
    let explanation = explain(&mut builds, &analysis, &groups, &factors, reused, session.out(), report);
    crate::cleanup::check().context("explaining the differences")?;
    let differs = !explanation.nondeterministic.is_empty() || !explanation.blamed.is_empty();
    report.verdict = if differs { Verdict::Unreproducible } else { Verdict::Reproducible };
    report.explanation = Some(explanation);
    Ok(())
}

/// Takes over the earlier check's runs when they were made with the same
/// factors: their files are linked into `out`, their reports copied.
/// Returns how many were reused (0: none, explain starts afresh).
fn adopt(
    builds: &mut Builds,
    earlier: Earlier<'_>,
    factors: &[String],
    out: &Path,
    report: &mut Report,
) -> Result<u32> {
    let same_factors = earlier.report.factors.as_ref().is_some_and(|f| f.varied == factors);
    let runs = &earlier.report.runs;
    let usable = same_factors
        && runs.first().is_some_and(|r| r.environment.varied.is_empty())
        && runs.iter().all(|r| matches!(r.result.status, crate::engine::run::RunStatus::Succeeded));
    if !usable {
        return Ok(0);
    }
    for run in runs {
        let name = crate::results::run_dir(run.result.index);
        crate::results::link_tree(&earlier.out.join(&name), &out.join(&name))
            .with_context(|| format!("reusing the check's {}", name.display()))?;
    }
    report.runs.extend(runs.iter().cloned());
    builds.adopt(runs, factors);
    Ok(runs.len() as u32)
}

/// Whether some output has more than one cause.
fn several_causes(analysis: &Analysis) -> bool {
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in &analysis.findings {
        *causes.entry(finding.unit.path.as_str()).or_default() += finding.culprits.len().max(1);
    }
    causes.values().any(|&n| n > 1)
}

/// Assembles what the analysis found for the report.
fn explain(
    builds: &mut Builds,
    analysis: &Analysis,
    groups: &[Vec<String>],
    factors: &[String],
    reused: u32,
    out: &Path,
    report: &Report,
) -> Explanation {
    let noise = builds.noise().clone();
    // Round 1: its controls (the check's one when reused) and its groups,
    // and the check's all-factor run, which confirms a single culprit.
    let first_controls = if reused > 0 { 1 } else { 2 };
    let reused_all = builds.indices(factors).filter(|_| reused > 0).map(|(i, _)| i);
    let round_one: BTreeSet<u32> = builds
        .controls()
        .iter()
        .take(first_controls)
        .copied()
        .chain(groups.iter().filter_map(|g| builds.indices(g)).map(|(i, _)| i))
        .chain(reused_all)
        .collect();
    let mut blamed: BTreeMap<String, Blame> = BTreeMap::new();
    let mut used: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut differing_sets: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for finding in &analysis.findings {
        let path = finding.unit.path.clone();
        let blame = blamed.entry(path.clone()).or_insert_with(|| Blame {
            path: path.clone(),
            culprits: Vec::new(),
            beyond_nondeterminism: noise.contains_key(&path),
            places: Vec::new(),
            builds: 0,
            diff: None,
            more_hints: Vec::new(),
        });
        blame.culprits.extend(finding.culprits.iter().cloned());
        let sets: Vec<Vec<String>> = groups.iter().chain(&finding.consulted).cloned().collect();
        let runs = used.entry(path.clone()).or_default();
        runs.extend(&round_one);
        runs.extend(finding.consulted.iter().filter_map(|s| builds.indices(s)).flat_map(|(i, c)| [i, c]));
        let built: Vec<&Vec<String>> = sets.iter().filter(|s| builds.built(s)).collect();
        for set in built {
            if builds.seen(set, &finding.unit).is_none() {
                continue;
            }
            differing_sets.entry(path.clone()).or_default().insert(set.clone());
            if blame.places.len() < MAX_PLACES {
                let fresh: Vec<String> = builds
                    .shown_at(set, &finding.unit)
                    .iter()
                    .map(show)
                    .filter(|p| !blame.places.contains(p))
                    .take(2)
                    .collect();
                blame.places.extend(fresh);
            }
        }
    }
    for blame in blamed.values_mut() {
        blame.culprits.sort();
        blame.culprits.dedup();
        blame.builds = used.get(&blame.path).map_or(0, |u| u.len() as u32);
        let mut differing: Vec<(u32, u32)> =
            differing_sets.get(&blame.path).into_iter().flatten().filter_map(|s| builds.indices(s)).collect();
        differing.sort();
        let mut diffs = differing.into_iter().take(MAX_HINT_DIFFS).filter_map(|(index, control)| {
            diff_of(out, report, &blame.path, (control, index), builds.diff_budget)
        });
        blame.diff = diffs.next();
        let shown: Vec<&str> = blame.diff.iter().flat_map(|d| &d.hints).map(|h| h.rule).collect();
        for hint in diffs.flat_map(|d| d.hints) {
            if !shown.contains(&hint.rule) && !blame.more_hints.iter().any(|h| h.rule == hint.rule) {
                blame.more_hints.push(hint);
            }
        }
    }
    let nondeterministic_diffs = noise
        .keys()
        .filter_map(|path| diff_of(out, report, path, builds.control_pair(path)?, builds.diff_budget))
        .collect();
    let nondeterministic_places = noise
        .iter()
        .filter_map(|(path, n)| match n {
            Noise::At(places) => Some((path.clone(), places.iter().take(MAX_PLACES).map(show).collect())),
            Noise::Whole => None,
        })
        .collect();
    Explanation {
        builds: builds.count + reused,
        reused,
        rounds: builds.rounds,
        nondeterministic: noise.keys().cloned().collect(),
        nondeterministic_diffs,
        nondeterministic_places,
        blamed: blamed.into_values().collect(),
        experiments: builds.experiments.clone(),
    }
}

/// `scope: field`, as a diff detail reads.
fn show((scope, field): &Location) -> String {
    if scope.is_empty() {
        field.clone()
    } else {
        format!("{scope}: {field}")
    }
}

/// The structured diff of `path` between two runs (control first).
fn diff_of(
    out: &Path,
    report: &Report,
    path: &str,
    runs: (u32, u32),
    budget: u64,
) -> Option<crate::diff::FileDiff> {
    let file = |i: u32| out.join(crate::results::outputs_dir(i)).join(path);
    let build_dir = |i: u32| {
        report.runs.iter().find(|r| r.result.index == i).map(|r: &RunReport| r.environment.build_dir.clone())
    };
    let context = crate::diff::DiffContext {
        build_dirs: (build_dir(runs.0).unwrap_or_default(), build_dir(runs.1).unwrap_or_default()),
        budget,
    };
    crate::diff::diff_files(path, runs, &file(runs.0), &file(runs.1), &context).ok()
}
