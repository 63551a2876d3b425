//! Which factors make an output differ: the pure part of `explain`.
//!
//! Round 1 builds each factor set of a binary code: factor `i` (from 1) is in
//! group `b` when bit `b` of `i` is set, so 13 factors need 4 groups. With a
//! single culprit, exactly the groups holding it differ from the control, all
//! with the same content, and the pattern of differing groups spells the
//! culprit's number: one round, `2 + ceil(log2(n + 1))` builds with the two
//! controls. Anything else (two culprits, interactions, noise) is resolved by
//! splitting: halve a set known to cause the difference, build both halves,
//! keep the halves that still cause it.

/// What the search takes factors as: labels it can copy, compare and
/// order (`FactorId` in explain, plain names in the tests).
pub trait Label: Clone + Ord + std::fmt::Debug {}

impl<T: Clone + Ord + std::fmt::Debug> Label for T {}

/// The factor sets of round 1.
pub fn code_groups<F: Label>(factors: &[F]) -> Vec<Vec<F>> {
    let bits = (usize::BITS - factors.len().leading_zeros()) as usize;
    (0..bits)
        .map(|bit| {
            factors
                .iter()
                .enumerate()
                .filter(|(i, _)| ((i + 1) >> bit) & 1 == 1)
                .map(|(_, f)| f.clone())
                .collect()
        })
        .collect()
}

/// What round 1 says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<F> {
    /// No group differs from the control.
    Nothing,
    /// Exactly one factor explains every differing group.
    Single(F),
    /// More than one cause, or noise: split `candidates`.
    Ambiguous {
        /// Every factor of every differing group.
        candidates: Vec<F>,
    },
}

/// Decodes one path (or place in it) from the control's result and each group's.
pub fn decode<F: Label, T: PartialEq>(factors: &[F], control: &T, groups: &[T]) -> Decoded<F> {
    let differing: Vec<usize> = (0..groups.len()).filter(|&b| &groups[b] != control).collect();
    if differing.is_empty() {
        return Decoded::Nothing;
    }
    let same_content = differing.iter().all(|&b| groups[b] == groups[differing[0]]);
    let code: usize = differing.iter().map(|&b| 1 << b).sum();
    if same_content && (1..=factors.len()).contains(&code) {
        return Decoded::Single(factors[code - 1].clone());
    }
    let sets = code_groups(factors);
    let mut candidates: Vec<F> = differing.iter().flat_map(|&b| sets[b].iter().cloned()).collect();
    candidates.sort_by_key(|f| factors.iter().position(|x| x == f));
    candidates.dedup();
    Decoded::Ambiguous { candidates }
}

/// A set of factors known to make `path` differ, still to be narrowed down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search<F> {
    /// The output path.
    pub path: String,
    /// The factors.
    pub candidates: Vec<F>,
}

impl<F: Label> Search<F> {
    /// The two halves to build next.
    pub fn halves(&self) -> (Vec<F>, Vec<F>) {
        let mid = self.candidates.len().div_ceil(2);
        (self.candidates[..mid].to_vec(), self.candidates[mid..].to_vec())
    }
}

/// The outcome of one splitting step for one search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<F> {
    /// Keep searching these.
    Continue(Vec<Search<F>>),
    /// The culprits found: single factors, or a group that only acts together.
    Found(Vec<Vec<F>>),
}

/// Narrows `search` given whether each half, built alone, still differs.
pub fn step<F: Label>(search: &Search<F>, first_differs: bool, second_differs: bool) -> Step<F> {
    let (a, b) = search.halves();
    let mut next = Vec::new();
    let mut found = Vec::new();
    for (half, differs) in [(a, first_differs), (b, second_differs)] {
        match (differs, half.len()) {
            (false, _) | (true, 0) => {}
            (true, 1) => found.push(half),
            (true, _) => next.push(Search { path: search.path.clone(), candidates: half }),
        }
    }
    if next.is_empty() && found.is_empty() {
        // Neither half alone reproduces it: the factors act only together.
        return Step::Found(vec![search.candidates.clone()]);
    }
    if next.is_empty() {
        Step::Found(found)
    } else {
        // Report what is found already with the searches that go on.
        next.extend(found.into_iter().map(|f| Search { path: search.path.clone(), candidates: f }));
        Step::Continue(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::OutputEntry;

    /// What one build produced at one path (`None`: missing).
    type Seen = Option<OutputEntry>;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("f{i}")).collect()
    }

    fn file(tag: &str) -> Seen {
        Some(OutputEntry::File {
            size: 1,
            sha256: crate::digest::Digest::of_bytes(tag.as_bytes()),
            executable: false,
            mode: None,
            xattrs: Default::default(),
        })
    }

    /// Simulates round 1 for a build whose output is a function of the
    /// factors that are in the experiment.
    fn observe(factors: &[String], leak: impl Fn(&[String]) -> Seen) -> (Seen, Vec<Seen>) {
        let groups = code_groups(factors);
        (leak(&[]), groups.iter().map(|g| leak(g)).collect())
    }

    #[test]
    fn thirteen_factors_need_four_groups_and_every_factor_is_somewhere() {
        let f = names(13);
        let groups = code_groups(&f);
        assert_eq!(groups.len(), 4);
        for factor in &f {
            assert!(groups.iter().any(|g| g.contains(factor)), "{factor}");
        }
        assert_eq!(code_groups(&names(1)).len(), 1);
        assert!(code_groups::<String>(&[]).is_empty());
    }

    #[test]
    fn a_single_culprit_is_decoded_in_one_round() {
        let f = names(13);
        for culprit in &f {
            let (control, groups) =
                observe(&f, |set| if set.contains(culprit) { file("x") } else { file("c") });
            assert_eq!(decode(&f, &control, &groups), Decoded::Single(culprit.clone()), "{culprit}");
        }
    }

    #[test]
    fn two_culprits_with_different_effects_are_ambiguous_then_split_apart() {
        let f = names(13);
        let (g, h) = ("f1".to_string(), "f2".to_string());
        let leak = |set: &[String]| match (set.contains(&g), set.contains(&h)) {
            (false, false) => file("c"),
            (true, false) => file("g"),
            (false, true) => file("h"),
            (true, true) => file("gh"),
        };
        let (control, groups) = observe(&f, leak);
        let Decoded::Ambiguous { candidates } = decode(&f, &control, &groups) else {
            panic!("must be ambiguous")
        };
        // Split until found, simulating each half's build.
        let mut searches = vec![Search { path: "p".into(), candidates }];
        let mut found = Vec::new();
        while let Some(search) = searches.pop() {
            if search.candidates.len() == 1 {
                found.push(search.candidates.clone());
                continue;
            }
            let (a, b) = search.halves();
            match step(&search, leak(&a) != control, leak(&b) != control) {
                Step::Continue(next) => searches.extend(next),
                Step::Found(culprits) => found.extend(culprits),
            }
        }
        found.sort();
        assert_eq!(found, vec![vec![g.clone()], vec![h.clone()]]);
    }

    #[test]
    fn factors_that_only_act_together_are_reported_as_a_group() {
        let search = Search::<String> { path: "p".into(), candidates: vec!["a".into(), "b".into()] };
        assert_eq!(step(&search, false, false), Step::Found(vec![vec!["a".into(), "b".into()]]));
        assert_eq!(step(&search, true, false), Step::Found(vec![vec!["a".into()]]));
    }

    #[test]
    fn unchanged_paths_decode_to_nothing() {
        let f = names(3);
        let (control, groups) = observe(&f, |_| file("c"));
        assert_eq!(decode(&f, &control, &groups), Decoded::Nothing);
    }
}
