//! `reprocheck explain`: which factors make which outputs differ, and which
//! outputs differ even without any variation.
//!
//! Round 1 runs two controls (a flake check) and the code groups of
//! [`isolate`] in parallel; further rounds split what round 1 could not
//! attribute to a single factor. A factor set is never built twice: every
//! build's outputs are kept and reused, the control's above all.

mod isolate;

use crate::check::Invocation;
use crate::collect::OutputEntry;
use crate::errors::*;
use crate::report::{more_outputs, Report, Verdict, TERMINAL_DETAILED};
use crate::session::Session;
use isolate::{Decoded, Search, Step};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What `explain` found.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Builds run, the two controls included.
    pub builds: u32,
    /// Rounds of parallel builds.
    pub rounds: u32,
    /// Outputs that differ between two control runs: nondeterministic
    /// without any variation. No factor is blamed for them.
    pub nondeterministic: Vec<String>,
    /// Where the two controls differ, for each nondeterministic output.
    pub nondeterministic_diffs: Vec<crate::diff::FileDiff>,
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
    /// Builds whose results were used to isolate it, controls included.
    pub builds: u32,
    /// Where a build that differs differs from its round's control.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::diff::FileDiff>,
}

impl Explanation {
    /// The terminal form.
    pub fn summary(&self) -> String {
        let mut s = format!("EXPLAINED with {} builds in {} round(s):\n", self.builds, self.rounds);
        if !self.nondeterministic.is_empty() {
            s.push_str(
                "  nondeterministic without any variation (two control runs differ; no factor blamed):\n",
            );
            for path in self.nondeterministic.iter().take(TERMINAL_DETAILED) {
                s.push_str(&format!("    {path}\n"));
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
            let line = format!("{}: {causes}{how} ({} builds)", blame.path, blame.builds);
            if i >= TERMINAL_DETAILED {
                undetailed.push(line);
                continue;
            }
            s.push_str(&format!("  {line}\n"));
            if let Some(diff) = &blame.diff {
                s.push_str(&diff.summary(4));
            }
        }
        s.push_str(&more_outputs(&undetailed.iter().map(String::as_str).collect::<Vec<_>>(), "  "));
        if self.nondeterministic.is_empty() && self.blamed.is_empty() {
            s.push_str("  no output differs under any factor tried\n");
        }
        s
    }
}

type Outputs = BTreeMap<String, OutputEntry>;

/// Runs the explanation for `spec` and fills in `report`.
pub async fn pipeline(invocation: Invocation<'_>, report: &mut Report) -> Result<()> {
    let Invocation { spec, options, .. } = invocation;
    let mut session = Session::open(invocation, 2, report).await?;
    session.all_at_once(options);
    let factors = session.plan.factors.varied.clone();
    options.progress.note(&format!(
        "reprocheck: run {}: explaining {} with {} factor(s) varied",
        report.run_id,
        spec.name,
        factors.len()
    ));
    let mut builds = Builds::default();

    // Round 1: two controls and the code groups, all at once.
    let groups = isolate::code_groups(&factors);
    let controls = builds.round(&mut session, report, &groups).await?;
    let (control, control2) = (&controls[0], &controls[1]);
    let nondeterministic = isolate::differing_paths(control, control2);

    let mut all_paths: BTreeSet<String> = control.keys().cloned().collect();
    for built in builds.by_set.values() {
        all_paths.extend(built.outputs.keys().cloned());
    }
    let round_one = 2 + groups.len() as u32;
    let mut blamed: BTreeMap<String, Blame> = BTreeMap::new();
    let mut searches = Vec::new();
    for path in all_paths.iter().filter(|p| !nondeterministic.contains(p)) {
        // Round 1's groups share its control, so their outputs compare directly.
        let seen: Vec<_> = groups.iter().map(|g| builds.output(g, path)).collect();
        let new_blame = |culprits| Blame { path: path.clone(), culprits, builds: round_one, diff: None };
        match isolate::decode(&factors, &control.get(path).cloned(), &seen) {
            Decoded::Nothing => {}
            Decoded::Single(factor) => {
                blamed.insert(path.clone(), new_blame(vec![vec![factor]]));
            }
            Decoded::Ambiguous { candidates } => {
                blamed.insert(path.clone(), new_blame(Vec::new()));
                searches.push(Search { path: path.clone(), candidates });
            }
        }
    }
    // Nothing seen yet: a difference may need factors from different groups.
    if blamed.is_empty() && !factors.is_empty() {
        builds.round(&mut session, report, std::slice::from_ref(&factors)).await?;
        let everything = builds.by_set.get(&sorted(&factors)).map(|b| (&b.outputs, &b.round_control));
        if let Some((outputs, round_control)) = everything {
            for path in isolate::differing_paths(round_control, outputs) {
                if nondeterministic.contains(&path) {
                    continue;
                }
                let blame =
                    Blame { path: path.clone(), culprits: Vec::new(), builds: round_one + 2, diff: None };
                blamed.insert(path.clone(), blame);
                searches.push(Search { path, candidates: factors.clone() });
            }
        }
    }

    // Builds consulted per path beyond round 1 (run numbers).
    let mut consulted: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for (path, _) in blamed.iter().filter(|(_, b)| b.builds > round_one) {
        if let Some((i, c)) = builds.indices(&factors) {
            consulted.entry(path.clone()).or_default().extend([i, c]);
        }
    }

    // Further rounds: split what is still ambiguous.
    while !searches.is_empty() {
        let (done, open): (Vec<Search>, Vec<Search>) =
            searches.into_iter().partition(|s| s.candidates.len() == 1);
        for search in done {
            if let Some(blame) = blamed.get_mut(&search.path) {
                blame.culprits.push(search.candidates);
            }
        }
        searches = Vec::new();
        if open.is_empty() {
            break;
        }
        let wanted: Vec<Vec<String>> =
            open.iter().flat_map(|s| <[Vec<String>; 2]>::from(s.halves())).collect();
        builds.round(&mut session, report, &wanted).await?;
        for search in open {
            let (a, b) = search.halves();
            let step =
                isolate::step(&search, builds.differs(&a, &search.path), builds.differs(&b, &search.path));
            let used = consulted.entry(search.path.clone()).or_default();
            used.extend([&a, &b].into_iter().filter_map(|set| builds.indices(set)).flat_map(|(i, c)| [i, c]));
            if let Some(blame) = blamed.get_mut(&search.path) {
                match step {
                    Step::Found(culprits) => blame.culprits.extend(culprits),
                    Step::Continue(next) => searches.extend(next),
                }
            }
        }
    }
    for blame in blamed.values_mut() {
        let mut used: BTreeSet<u32> = (1..=round_one).collect();
        used.extend(consulted.get(&blame.path).into_iter().flatten());
        blame.builds = used.len() as u32;
        blame.culprits.sort();
        blame.culprits.dedup();
        blame.diff = builds.first_diff(session.out(), report, &blame.path);
    }

    // Several causes for one output can be real, or a build that records the
    // real time straddling a second inside a round. Two controls built over
    // a second apart tell them apart.
    let mut control_pairs: BTreeMap<String, (u32, u32)> =
        nondeterministic.iter().map(|p| (p.clone(), (1, 2))).collect();
    let ambiguous: Vec<String> =
        blamed.values().filter(|b| b.culprits.len() > 1).map(|b| b.path.clone()).collect();
    if !ambiguous.is_empty() {
        let early = builds.round(&mut session, report, &[]).await?.remove(0);
        let early_index = builds.count;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let late = builds.round(&mut session, report, &[]).await?.remove(0);
        for path in ambiguous.into_iter().filter(|p| early.get(p) != late.get(p)) {
            blamed.remove(&path);
            control_pairs.insert(path, (early_index, builds.count));
        }
    }
    let nondeterministic: Vec<String> = control_pairs.keys().cloned().collect();

    let differs = !nondeterministic.is_empty() || !blamed.is_empty();
    report.verdict = if differs { Verdict::Unreproducible } else { Verdict::Reproducible };
    let control_file = |i: u32, path: &str| session.out().join(format!("run-{i}/outputs")).join(path);
    let nondeterministic_diffs = control_pairs
        .iter()
        .filter_map(|(path, &(a, b))| {
            let context = crate::diff::DiffContext::default();
            crate::diff::diff_files(path, (a, b), &control_file(a, path), &control_file(b, path), &context)
                .ok()
        })
        .collect();
    report.explanation = Some(Explanation {
        builds: builds.count,
        rounds: builds.rounds,
        nondeterministic,
        nondeterministic_diffs,
        blamed: blamed.into_values().collect(),
        experiments: builds.experiments,
    });
    Ok(())
}

/// One factor set's build, with the control built in the same round.
struct Built {
    index: u32,
    outputs: Outputs,
    control_index: u32,
    round_control: Outputs,
}

/// Every build so far, by factor set, so none is built twice.
#[derive(Default)]
struct Builds {
    by_set: BTreeMap<Vec<String>, Built>,
    experiments: BTreeMap<u32, Vec<String>>,
    count: u32,
    rounds: u32,
}

impl Builds {
    /// Builds, in one parallel round, a control (two in the first round: the
    /// flake check) and every set not built yet. Sets are compared with the
    /// control of their own round, so that real time passing between rounds
    /// is never blamed on a factor. Returns the round's control outputs.
    async fn round(
        &mut self,
        session: &mut Session<'_>,
        report: &mut Report,
        sets: &[Vec<String>],
    ) -> Result<Vec<Outputs>> {
        let controls = if self.rounds == 0 { 2 } else { 1 };
        let mut plans = Vec::new();
        let mut planned: BTreeSet<Vec<String>> = BTreeSet::new();
        let fresh: Vec<&Vec<String>> = sets
            .iter()
            .filter(|s| !self.by_set.contains_key(&sorted(s)) && planned.insert(sorted(s)))
            .collect();
        for set in std::iter::repeat_n(&Vec::new(), controls).chain(fresh) {
            self.count += 1;
            self.experiments.insert(self.count, set.clone());
            plans.push(session.plan.run(self.count, set));
        }
        self.rounds += 1;
        let runs = session.run_batch(plans).await?;
        let new = runs.len();
        report.runs.extend(runs);
        if let Some(failure) = report.failures(session.out()) {
            bail!(failure);
        }
        let results: Vec<(u32, Outputs)> = report.runs[report.runs.len() - new..]
            .iter()
            .map(|r| (r.result.index, r.result.outputs.clone()))
            .collect();
        let control_outputs: Vec<Outputs> = results[..controls].iter().map(|(_, o)| o.clone()).collect();
        let control_index = results[0].0;
        for (index, outputs) in results.into_iter().skip(controls) {
            let round_control = control_outputs[0].clone();
            let built = Built { index, outputs, control_index, round_control };
            self.by_set.insert(sorted(&self.experiments[&index]), built);
        }
        Ok(control_outputs)
    }

    /// The structured diff of `path` between the earliest build that differs
    /// there and its round's control.
    fn first_diff(&self, out: &Path, report: &Report, path: &str) -> Option<crate::diff::FileDiff> {
        let built = self
            .by_set
            .values()
            .filter(|b| b.outputs.get(path) != b.round_control.get(path))
            .min_by_key(|b| b.index)?;
        let file = |i: u32| out.join(format!("run-{i}/outputs")).join(path);
        let runs = (built.control_index, built.index);
        let build_dir = |i: u32| {
            report
                .runs
                .iter()
                .find(|r| r.result.index == i)
                .map(|r| r.environment.build_dir.clone())
                .unwrap_or_default()
        };
        let context = crate::diff::DiffContext { build_dirs: (build_dir(runs.0), build_dir(runs.1)) };
        crate::diff::diff_files(path, runs, &file(runs.0), &file(runs.1), &context).ok()
    }

    /// The run number of `set`'s build and of its round's control.
    fn indices(&self, set: &[String]) -> Option<(u32, u32)> {
        self.by_set.get(&sorted(set)).map(|b| (b.index, b.control_index))
    }

    /// Whether `set`'s build differs at `path` from its round's control.
    fn differs(&self, set: &[String], path: &str) -> bool {
        self.by_set.get(&sorted(set)).is_some_and(|b| b.outputs.get(path) != b.round_control.get(path))
    }

    /// What `set`'s build produced at `path` (`None`: missing or not built).
    fn output(&self, set: &[String], path: &str) -> Option<OutputEntry> {
        self.by_set.get(&sorted(set)).and_then(|b| b.outputs.get(path).cloned())
    }
}

fn sorted(set: &[String]) -> Vec<String> {
    let mut s = set.to_vec();
    s.sort();
    s
}
