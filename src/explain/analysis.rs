//! The replayable part of `explain`: from the builds made so far, each
//! unit's culprits and the factor sets still to build.
//!
//! Nothing here keeps state between rounds. Each round, the whole analysis
//! is replayed on every build so far: round 1's code is decoded, and each
//! split is followed as long as both halves were built. A split whose
//! halves are missing asks for them. Because halving is deterministic and
//! no set is built twice, replaying converges. It also means that when a
//! later control shows an output to be nondeterministic, the analysis
//! starts again for that output on the builds it already has.

use super::isolate::{self, Decoded, Label, Search, Step};
use crate::diff::locations::Location;
use std::collections::BTreeSet;

/// What is decoded and searched: a whole output, or the places inside a
/// nondeterministic output that round 1's groups changed the same way,
/// beyond what differs between two controls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit {
    /// The output path.
    pub path: String,
    /// `None`: the whole output.
    pub locations: Option<BTreeSet<Location>>,
}

impl Unit {
    /// The path of the unit that stands for whether the build succeeds.
    /// Output paths are relative and never hold a NUL: no output has it.
    const BUILD_OUTCOME: &'static str = "\0build outcome";

    /// Whether the build succeeds, as a unit: a factor set "changes" it
    /// when its build fails where the control's did not.
    pub fn build_outcome() -> Unit {
        Unit { path: Self::BUILD_OUTCOME.to_string(), locations: None }
    }

    /// Whether this is [`Unit::build_outcome`].
    pub fn is_build_outcome(&self) -> bool {
        self.path == Self::BUILD_OUTCOME && self.locations.is_none()
    }
}

/// What the analysis may ask of the builds so far.
pub trait Lab<F> {
    /// Whether `set` was built.
    fn built(&self, set: &[F]) -> bool;
    /// What `set`'s build shows at `unit` compared with the control it is
    /// compared with: `None` the same, `Some(content)` different (equal
    /// contents compare equal). Only asked of built sets.
    fn seen(&mut self, set: &[F], unit: &Unit) -> Option<String>;
}

/// One unit's culprits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<F> {
    /// The unit.
    pub unit: Unit,
    /// Single factors, or factors that only make the difference together.
    /// Empty while the search still needs builds.
    pub culprits: Vec<Vec<F>>,
    /// Factor sets whose builds were consulted beyond round 1.
    pub consulted: BTreeSet<Vec<F>>,
}

/// The analysis of one state of the builds.
#[derive(Debug, Clone)]
pub struct Analysis<F> {
    /// Units that differ because of factors.
    pub findings: Vec<Finding<F>>,
    /// Factor sets to build next (none: the analysis is complete).
    pub wanted: BTreeSet<Vec<F>>,
}

impl<F> Default for Analysis<F> {
    fn default() -> Self {
        Analysis { findings: Vec::new(), wanted: BTreeSet::new() }
    }
}

/// Replays the analysis over `units`. With `confirm_with_all` (the
/// all-factor build shares round 1's control, as after `check`), a single
/// culprit decoded from round 1 must also be what the all-factor build
/// shows, or it is searched for instead: without a second control in round
/// 1, noise could otherwise spell a factor's number.
pub fn analyse<F: Label>(
    lab: &mut dyn Lab<F>,
    factors: &[F],
    units: &[Unit],
    confirm_with_all: bool,
) -> Analysis<F> {
    let groups = isolate::code_groups(factors);
    let all = sorted(factors);
    let mut analysis = Analysis::default();
    let mut anything = false;
    for unit in units {
        let seen: Vec<Option<String>> =
            groups.iter().map(|g| if lab.built(g) { lab.seen(g, unit) } else { None }).collect();
        let mut consulted = BTreeSet::new();
        let start = match isolate::decode(factors, &None, &seen) {
            Decoded::Nothing => {
                if !(lab.built(&all) && lab.seen(&all, unit).is_some()) {
                    continue;
                }
                consulted.insert(all.clone());
                factors.to_vec()
            }
            Decoded::Single(factor) => {
                let first = seen.iter().flatten().next().cloned();
                let confirmed =
                    !confirm_with_all || !lab.built(&all) || lab.seen(&all, unit).as_ref() == first.as_ref();
                anything = true;
                if confirmed {
                    analysis.findings.push(Finding {
                        unit: unit.clone(),
                        culprits: vec![vec![factor]],
                        consulted,
                    });
                    continue;
                }
                consulted.insert(all.clone());
                candidates_of(factors, &groups, &seen)
            }
            Decoded::Ambiguous { candidates } => candidates,
        };
        anything = true;
        let culprits = split(lab, unit, start, &mut consulted, &mut analysis.wanted);
        analysis.findings.push(Finding { unit: unit.clone(), culprits, consulted });
    }
    if !anything && !factors.is_empty() && !lab.built(&all) {
        // Nothing seen yet: a difference may need factors from different groups.
        analysis.wanted.insert(all);
    }
    analysis
}

/// Follows the halving search from `candidates` as far as the builds go.
/// Returns the culprits, or nothing (and the halves wanted) while unresolved.
fn split<F: Label>(
    lab: &mut dyn Lab<F>,
    unit: &Unit,
    candidates: Vec<F>,
    consulted: &mut BTreeSet<Vec<F>>,
    wanted: &mut BTreeSet<Vec<F>>,
) -> Vec<Vec<F>> {
    let mut open = vec![Search { path: unit.path.clone(), candidates }];
    let mut culprits = Vec::new();
    let mut complete = true;
    while let Some(search) = open.pop() {
        if search.candidates.len() == 1 {
            culprits.push(search.candidates);
            continue;
        }
        let (a, b) = search.halves();
        if !(lab.built(&a) && lab.built(&b)) {
            wanted.insert(sorted(&a));
            wanted.insert(sorted(&b));
            complete = false;
            continue;
        }
        consulted.insert(sorted(&a));
        consulted.insert(sorted(&b));
        let (differs_a, differs_b) = (lab.seen(&a, unit).is_some(), lab.seen(&b, unit).is_some());
        match isolate::step(&search, differs_a, differs_b) {
            Step::Continue(next) => open.extend(next),
            Step::Found(found) => culprits.extend(found),
        }
    }
    if !complete {
        return Vec::new();
    }
    culprits.sort();
    culprits.dedup();
    culprits
}

/// Every factor of every differing group, in factor order.
fn candidates_of<F: Label>(factors: &[F], groups: &[Vec<F>], seen: &[Option<String>]) -> Vec<F> {
    let mut candidates: Vec<F> =
        groups.iter().zip(seen).filter(|(_, s)| s.is_some()).flat_map(|(g, _)| g.iter().cloned()).collect();
    candidates.sort_by_key(|f| factors.iter().position(|x| x == f));
    candidates.dedup();
    candidates
}

/// A factor set in canonical order.
pub fn sorted<F: Label>(set: &[F]) -> Vec<F> {
    let mut s = set.to_vec();
    s.sort();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds simulated by a function of the experiment's factors; records
    /// every set asked for.
    struct Simulated<F: Fn(&[String]) -> Option<String>> {
        leak: F,
        built: BTreeSet<Vec<String>>,
    }

    impl<F: Fn(&[String]) -> Option<String>> Lab<String> for Simulated<F> {
        fn built(&self, set: &[String]) -> bool {
            self.built.contains(&sorted(set))
        }
        fn seen(&mut self, set: &[String], _: &Unit) -> Option<String> {
            (self.leak)(set)
        }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("f{i}")).collect()
    }

    /// Runs rounds until nothing is wanted; returns the findings and the
    /// number of sets built beyond round 1.
    fn run_to_end(
        factors: &[String],
        leak: impl Fn(&[String]) -> Option<String>,
    ) -> (Vec<Finding<String>>, usize) {
        let mut lab =
            Simulated { leak, built: isolate::code_groups(factors).iter().map(|g| sorted(g)).collect() };
        let unit = Unit { path: "p".into(), locations: None };
        let start = lab.built.len();
        loop {
            let analysis = analyse(&mut lab, factors, std::slice::from_ref(&unit), false);
            if analysis.wanted.is_empty() {
                return (analysis.findings, lab.built.len() - start);
            }
            lab.built.extend(analysis.wanted);
        }
    }

    #[test]
    fn one_culprit_is_found_from_round_one_alone() {
        let f = names(13);
        let (findings, extra) = run_to_end(&f, |set| set.contains(&"f6".to_string()).then(|| "x".into()));
        assert_eq!(findings[0].culprits, [["f6"]]);
        assert_eq!(extra, 0);
    }

    #[test]
    fn two_culprits_are_split_apart_by_replaying() {
        let f = names(13);
        let leak = |set: &[String]| {
            let (a, b) = (set.contains(&"f1".to_string()), set.contains(&"f2".to_string()));
            (a || b).then(|| format!("{a}{b}"))
        };
        let (findings, extra) = run_to_end(&f, leak);
        assert_eq!(findings[0].culprits, [vec!["f1".to_string()], vec!["f2".to_string()]]);
        assert!(extra > 0);
    }

    #[test]
    fn a_difference_needing_factors_from_two_groups_asks_for_the_all_factor_build() {
        let f = names(3);
        // f1 and f2 only together; round 1's groups never hold both (f3 = 0b11 does, but is not a culprit).
        let leak = |set: &[String]| {
            (set.contains(&"f1".to_string()) && set.contains(&"f2".to_string())).then(|| "x".into())
        };
        let (findings, _) = run_to_end(&f, leak);
        assert_eq!(findings[0].culprits, [["f1", "f2"]]);
    }

    #[test]
    fn an_unconfirmed_single_culprit_is_searched_for() {
        let f = names(3);
        // Groups {f1,f3} and {f2,f3}: noise makes only the second differ,
        // which would spell f2; the all-factor build shows something else.
        let mut lab = Simulated {
            leak: |set: &[String]| match set.len() {
                3 => Some("all".to_string()),
                _ if set.contains(&"f2".to_string()) => Some("noise".to_string()),
                _ => None,
            },
            built: BTreeSet::from([sorted(&names(3))]),
        };
        lab.built.extend(isolate::code_groups(&f).iter().map(|g| sorted(g)));
        let unit = Unit { path: "p".into(), locations: None };
        let analysis = analyse(&mut lab, &f, std::slice::from_ref(&unit), true);
        assert!(!analysis.wanted.is_empty(), "splitting asks for builds");
        assert!(analysis.findings[0].culprits.is_empty());
        let unconfirmed = analyse(&mut lab, &f, &[unit], false);
        assert_eq!(unconfirmed.findings[0].culprits, [["f2"]]);
    }
}
