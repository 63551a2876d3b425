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
mod traced;

use crate::diff::locations::Location;
use crate::errors::*;
use crate::factors::FactorId;
use crate::invocation::CheckOptions;
pub use crate::invocation::Earlier;
pub use crate::report::explanation::{Blame, Explanation};
use crate::run::CompletedRun;
use crate::session::Session;
use crate::spec::Spec;
use analysis::{Analysis, Finding, Lab};
use builds::{Builds, Noise};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Rounds after which explain stops splitting and reports what it has.
const MAX_ROUNDS: u32 = 12;
/// Places listed per output.
const MAX_PLACES: usize = 6;

/// Diffs computed per blamed output to collect the hints of every cause.
const MAX_HINT_DIFFS: usize = 8;

/// What explain returns: every run it made or reused (also when it
/// failed part way), and the explanation.
pub struct Explained {
    /// The runs, in run order.
    pub runs: Vec<CompletedRun>,
    /// The explanation, or why there is none.
    pub explanation: Result<Explanation>,
}

/// Explains which factors make which outputs of `spec` differ, building
/// through `session`, and reusing the runs of an `earlier` check when it
/// varied the same factors.
pub async fn explain(
    session: &mut Session<'_>,
    spec: &Spec,
    options: &CheckOptions,
    earlier: Option<Earlier<'_>>,
) -> Explained {
    session.all_at_once(options);
    let factors = session.plan.factors.varied.clone();
    options.progress.note(&format!(
        "reprocheck: run {}: explaining {} with {} factor(s) varied",
        session.plan.run_id,
        spec.name,
        factors.len()
    ));
    let context = crate::diff::DiffContext { interrupt: session.interrupt(), ..spec.diff_context() };
    let mut builds = Builds::new(session.out(), context);
    let explanation = explain_with(session, &mut builds, &factors, earlier).await;
    Explained { runs: std::mem::take(&mut builds.runs), explanation }
}

/// The rounds and the analysis; every run made is kept in `builds`, so
/// that an error part way still leaves them for the report.
async fn explain_with(
    session: &mut Session<'_>,
    builds: &mut Builds,
    factors: &[FactorId],
    earlier: Option<Earlier<'_>>,
) -> Result<Explanation> {
    let reused = match earlier {
        Some(earlier) => adopt(builds, earlier, factors, session.out())?,
        None => 0,
    };
    // Round 1: the code groups, with two controls unless check's are reused.
    let groups = isolate::code_groups(factors);
    builds.round(session, &groups, if reused > 0 { 0 } else { 2 }).await?;
    let analysis = analyse_until_settled(session, builds, &groups, factors, reused).await?;
    let explanation = explain_findings(builds, &analysis, &groups, factors, reused, session.out());
    session.interrupt().check().context("explaining the differences")?;
    Ok(explanation)
}

/// Rounds after the first: builds what the analysis still wants (up to
/// [`MAX_ROUNDS`]), then, where an output has several causes, two controls
/// a second apart to tell a real cause from the clock; replays the
/// analysis after each.
async fn analyse_until_settled(
    session: &mut Session<'_>,
    builds: &mut Builds,
    groups: &[Vec<FactorId>],
    factors: &[FactorId],
    reused: u32,
) -> Result<Analysis<FactorId>> {
    let mut spaced = false;
    loop {
        // Signals during a round stop its builds; between rounds, here.
        session.interrupt().check().context("explaining the differences")?;
        builds.update_noise();
        let units = builds.units(groups, factors);
        let analysis = analysis::analyse(builds, factors, &units, reused > 0);
        if !analysis.wanted.is_empty() && builds.rounds < MAX_ROUNDS {
            let wanted: Vec<Vec<FactorId>> = analysis.wanted.iter().cloned().collect();
            builds.round(session, &wanted, 1).await?;
            continue;
        }
        // Several causes for one output can be real, or a build that records
        // the real time straddling a second inside a round. Two controls
        // built over a second apart tell them apart: what differs between
        // them becomes noise, and the analysis is replayed.
        if !spaced && several_causes(&analysis) {
            spaced = true;
            builds.round(session, &[], 1).await?;
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            builds.round(session, &[], 1).await?;
            continue;
        }
        return Ok(analysis);
    }
}

/// Takes over the earlier check's runs when they were made with the same
/// factors: their files are linked into `out`, their runs copied.
/// Returns how many were reused (0: none, explain starts afresh).
fn adopt(builds: &mut Builds, earlier: Earlier<'_>, factors: &[FactorId], out: &Path) -> Result<u32> {
    let same_factors = earlier.varied.is_some_and(|varied| varied == factors);
    let runs = earlier.runs;
    let usable = same_factors
        && runs.first().is_some_and(CompletedRun::is_control)
        && runs.iter().all(|r| r.result.failure().is_none());
    if !usable {
        return Ok(0);
    }
    for run in runs {
        let name = crate::results::run_dir(run.index());
        crate::results::link_tree(&earlier.out.join(&name), &out.join(&name))
            .with_context(|| format!("reusing the check's {}", name.display()))?;
    }
    builds.adopt(runs, factors);
    Ok(runs.len() as u32)
}

/// Whether some output has more than one cause.
fn several_causes(analysis: &Analysis<FactorId>) -> bool {
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in &analysis.findings {
        *causes.entry(finding.unit.path.as_str()).or_default() += finding.culprits.len().max(1);
    }
    causes.values().any(|&n| n > 1)
}

/// Each output's culprits, the builds consulted for it, and the factor sets
/// whose builds differ there.
struct Blamed {
    blamed: BTreeMap<String, Blame>,
    used: BTreeMap<String, BTreeSet<u32>>,
    differing_sets: BTreeMap<String, BTreeSet<Vec<FactorId>>>,
}

/// Gathers the analysis's findings by output: culprits, places and the
/// builds used (round one's and those each finding consulted).
fn blame_findings(
    builds: &mut Builds,
    analysis: &Analysis<FactorId>,
    groups: &[Vec<FactorId>],
    round_one: &BTreeSet<u32>,
    noise: &BTreeMap<String, Noise>,
) -> Blamed {
    let mut blamed: BTreeMap<String, Blame> = BTreeMap::new();
    let mut used: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut differing_sets: BTreeMap<String, BTreeSet<Vec<FactorId>>> = BTreeMap::new();
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
            propagation: Vec::new(),
        });
        blame.culprits.extend(finding.culprits.iter().map(|set| names(set)));
        let sets: Vec<Vec<FactorId>> = groups.iter().chain(&finding.consulted).cloned().collect();
        let runs = used.entry(path.clone()).or_default();
        runs.extend(round_one);
        runs.extend(finding.consulted.iter().filter_map(|s| builds.indices(s)).flat_map(|(i, c)| [i, c]));
        let built: Vec<&Vec<FactorId>> = sets.iter().filter(|s| builds.built(s)).collect();
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
    Blamed { blamed, used, differing_sets }
}

/// Assembles what the analysis found.
fn explain_findings(
    builds: &mut Builds,
    analysis: &Analysis<FactorId>,
    groups: &[Vec<FactorId>],
    factors: &[FactorId],
    reused: u32,
    out: &Path,
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
    // Whether the build succeeds is a unit of its own: its culprits are the
    // factors that make the build fail, not an output's.
    let (outcome, outputs): (Vec<Finding<FactorId>>, Vec<Finding<FactorId>>) =
        analysis.findings.iter().cloned().partition(|f| f.unit.is_build_outcome());
    let fails_under: Vec<Vec<String>> =
        outcome.iter().flat_map(|f| &f.culprits).map(|set| names(set)).collect();
    let failed_runs: Vec<CompletedRun> =
        builds.runs.iter().filter(|r| r.index() != 0 && builds.has_failed(r.index())).cloned().collect();
    let failure = crate::run::failures_among(&failed_runs, out);
    let analysis = &Analysis { findings: outputs, wanted: analysis.wanted.clone() };
    let Blamed { mut blamed, used, differing_sets } =
        blame_findings(builds, analysis, groups, &round_one, &noise);
    let mut traces = traced::Traces::default();
    for blame in blamed.values_mut() {
        blame.culprits.sort();
        blame.culprits.dedup();
        blame.builds = used.get(&blame.path).map_or(0, |u| u.len() as u32);
        let mut differing: Vec<(u32, u32)> =
            differing_sets.get(&blame.path).into_iter().flatten().filter_map(|s| builds.indices(s)).collect();
        differing.sort();
        let mut diffs = differing.into_iter().take(MAX_HINT_DIFFS).filter_map(|(index, control)| {
            diff_of(out, &builds.runs, &blame.path, (control, index), &builds.diff)
        });
        blame.diff = diffs.next();
        if let Some(diff) = &blame.diff {
            blame.propagation = traces.propagation(out, &builds.runs, diff);
            if let [single] = &blame.culprits[..] {
                let factor = single.first().filter(|_| single.len() == 1).map(String::as_str);
                for p in blame.propagation.iter_mut() {
                    p.hint = factor.and_then(|f| traced::hint(Some(f), p));
                }
            }
        }
        let shown: Vec<&str> = blame.diff.iter().flat_map(|d| &d.hints).map(|h| h.rule).collect();
        for hint in diffs.flat_map(|d| d.hints) {
            if !shown.contains(&hint.rule) && !blame.more_hints.iter().any(|h| h.rule == hint.rule) {
                blame.more_hints.push(hint);
            }
        }
    }
    let nondeterministic_diffs: Vec<crate::diff::FileDiff> = noise
        .keys()
        .filter_map(|path| diff_of(out, &builds.runs, path, builds.control_pair(path)?, &builds.diff))
        .collect();
    let nondeterministic_propagation = nondeterministic_diffs
        .iter()
        .map(|diff| {
            let mut propagation = traces.propagation(out, &builds.runs, diff);
            for p in propagation.iter_mut() {
                p.hint = traced::hint(None, p);
            }
            (diff.path.clone(), propagation)
        })
        .filter(|(_, p)| !p.is_empty())
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
        nondeterministic_propagation,
        blamed: blamed.into_values().collect(),
        fails_under,
        failure,
        experiments: builds.experiments.iter().map(|(&run, set)| (run, names(set))).collect(),
    }
}

/// A factor set as the report names it.
fn names(set: &[FactorId]) -> Vec<String> {
    set.iter().map(|f| f.to_string()).collect()
}

/// `scope: field`, as a diff detail reads.
fn show((scope, field): &Location) -> String {
    if scope.is_empty() {
        field.to_string()
    } else {
        format!("{scope}: {field}")
    }
}

/// The structured diff of `path` between two runs (control first).
fn diff_of(
    out: &Path,
    built: &[CompletedRun],
    path: &str,
    runs: (u32, u32),
    context: &crate::diff::DiffContext,
) -> Option<crate::diff::FileDiff> {
    let file = |i: u32| crate::results::output_file(out, i, path);
    let build_dir = |i: u32| built.iter().find(|r| r.index() == i).map(|r| r.build_dir().to_string());
    let context = crate::diff::DiffContext {
        build_dirs: (build_dir(runs.0).unwrap_or_default(), build_dir(runs.1).unwrap_or_default()),
        ..context.clone()
    };
    crate::diff::diff_files(path, runs, &file(runs.0), &file(runs.1), &context).ok()
}
