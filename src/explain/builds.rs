//! Every build `explain` made, by factor set, with the controls they are
//! compared with, what differs between controls (the noise), and the units
//! the analysis decodes.

use super::analysis::{sorted, Lab, Unit};
use crate::collect::OutputEntry;
use crate::diff::locations::{self, Location, Locations};
use crate::errors::*;
use crate::factors::FactorId;
use crate::run::CompletedRun;
use crate::session::Session;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One build's outputs by path.
pub type Outputs = BTreeMap<String, OutputEntry>;

/// What differs at one path between controls, built alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noise {
    /// Nothing of the output can be compared piecewise (a binary whose size
    /// varies, a file that comes and goes): no factor is blamed for it.
    Whole,
    /// These places differ; the rest of the output can still be explained.
    At(BTreeSet<Location>),
}

/// One factor set's build and the control it is compared with.
struct Built {
    index: u32,
    control: u32,
}

/// Every build so far.
pub struct Builds {
    out: PathBuf,
    by_set: BTreeMap<Vec<FactorId>, Built>,
    outputs: BTreeMap<u32, Outputs>,
    /// Every control, in build order; the first is the reference.
    controls: Vec<u32>,
    /// The factor set of every build, by run number (controls: empty).
    pub experiments: BTreeMap<u32, Vec<FactorId>>,
    /// Builds run by explain itself (not reused from `check`).
    pub count: u32,
    /// Rounds of parallel builds.
    pub rounds: u32,
    noise: BTreeMap<String, Noise>,
    located: HashMap<(u32, u32, String), Locations>,
    /// Experiments whose build failed (exit code, timeout, disk), by run number.
    failed: BTreeSet<u32>,
    /// What every diff of the spec's outputs knows: `limits.diff_size`
    /// (what locating one output's differences may decompress), the command.
    pub diff: crate::diff::DiffContext,
    /// Every run so far (reused ones included), in run order.
    pub runs: Vec<CompletedRun>,
}

impl Builds {
    /// No builds yet; results live under `out/run-N/outputs`; locating the
    /// differences of one output are found in `diff`.
    pub fn new(out: &Path, diff: crate::diff::DiffContext) -> Builds {
        Builds {
            out: out.to_path_buf(),
            by_set: BTreeMap::new(),
            outputs: BTreeMap::new(),
            controls: Vec::new(),
            experiments: BTreeMap::new(),
            count: 0,
            rounds: 0,
            noise: BTreeMap::new(),
            located: HashMap::new(),
            failed: BTreeSet::new(),
            diff,
            runs: Vec::new(),
        }
    }

    /// Takes over runs made earlier with the same plan (`check`'s control
    /// and its all-factor experiments); they count as builds already made.
    pub fn adopt(&mut self, runs: &[CompletedRun], all: &[FactorId]) {
        let Some(control) = runs.iter().find(|r| r.is_control()) else { return };
        let control = control.index();
        for run in runs {
            let index = run.index();
            let varied = run.plan.varied.clone();
            self.outputs.insert(index, run.result.outputs.clone());
            if index == control {
                self.controls.push(index);
            } else if sorted(&varied) == sorted(all) {
                self.by_set.entry(sorted(all)).or_insert(Built { index, control });
            }
            self.experiments.insert(index, varied);
        }
        self.runs.extend(runs.iter().cloned());
    }

    /// The highest run number so far.
    pub fn last_index(&self) -> u32 {
        self.outputs.keys().last().copied().unwrap_or(0)
    }

    /// Builds, in one parallel round, `controls` controls and every set not
    /// built yet. A round's sets are compared with its first control, so
    /// that real time passing between rounds is never blamed on a factor;
    /// with no control, with the first control ever.
    pub async fn round(
        &mut self,
        session: &mut Session<'_>,
        sets: &[Vec<FactorId>],
        controls: usize,
    ) -> Result<()> {
        let fresh: BTreeSet<Vec<FactorId>> =
            sets.iter().map(|s| sorted(s)).filter(|s| !self.by_set.contains_key(s)).collect();
        let empty = Vec::new();
        let mut plans = Vec::new();
        let mut index = self.last_index();
        for set in std::iter::repeat_n(&empty, controls).chain(&fresh) {
            index += 1;
            self.experiments.insert(index, set.clone());
            plans.push(session.plan.run(index, set));
        }
        self.count += plans.len() as u32;
        self.rounds += 1;
        let runs = session.run_batch(plans).await?;
        let new = runs.len();
        // A control that fails leaves nothing to compare with; an
        // experiment that fails is an outcome the analysis attributes.
        let failed_control = crate::run::failures_among(&runs[..controls.min(runs.len())], session.out());
        self.runs.extend(runs);
        if let Some(failure) = failed_control {
            bail!("a control build failed, so nothing can be explained: {failure}");
        }
        for run in &self.runs[self.runs.len() - new + controls..] {
            if run.result.failure().is_some() {
                self.failed.insert(run.result.index);
            }
        }
        let results: Vec<(u32, Outputs)> = self.runs[self.runs.len() - new..]
            .iter()
            .map(|r| (r.result.index, r.result.outputs.clone()))
            .collect();
        let round_control = match (controls, self.controls.first()) {
            (0, Some(first)) => *first,
            (0, None) => bail!("a round without a control needs an earlier control to compare with"),
            _ => results[0].0,
        };
        for (i, (index, outputs)) in results.into_iter().enumerate() {
            self.outputs.insert(index, outputs);
            if i < controls {
                self.controls.push(index);
            } else {
                self.by_set.insert(self.experiments[&index].clone(), Built { index, control: round_control });
            }
        }
        Ok(())
    }

    /// Where build `b` differs from build `a` at `path`, cached.
    fn locations(&mut self, a: u32, b: u32, path: &str) -> &Locations {
        let file = |i: u32| crate::results::output_file(&self.out, i, path);
        let (fa, fb) = (file(a), file(b));
        let (budget, interrupt) = (self.diff.budget, self.diff.interrupt);
        self.located
            .entry((a, b, path.to_string()))
            .or_insert_with(|| locations::between_files(&fa, &fb, budget, interrupt))
    }

    /// Recomputes the noise from every control so far: each control against
    /// the first.
    pub fn update_noise(&mut self) {
        let Some((&first, rest)) = self.controls.split_first() else { return };
        let rest = rest.to_vec();
        let mut noise: BTreeMap<String, Noise> = BTreeMap::new();
        for other in rest {
            let paths = differing(&self.outputs[&first], &self.outputs[&other]);
            for path in paths {
                let found: Vec<Location> = self.locations(first, other, &path).keys().cloned().collect();
                let entry = noise.entry(path).or_insert_with(|| Noise::At(BTreeSet::new()));
                if found.iter().any(locations::is_whole) {
                    *entry = Noise::Whole;
                } else if let Noise::At(set) = entry {
                    set.extend(found);
                }
            }
        }
        self.noise = noise;
    }

    /// What differs between controls, by path.
    pub fn noise(&self) -> &BTreeMap<String, Noise> {
        &self.noise
    }

    /// The first control that differs from the reference control at `path`.
    pub fn control_pair(&self, path: &str) -> Option<(u32, u32)> {
        let first = *self.controls.first()?;
        let other = self.controls[1..]
            .iter()
            .find(|c| self.outputs[c].get(path) != self.outputs[&first].get(path))?;
        Some((first, *other))
    }

    /// The units to analyse: every output that no control pair differs at,
    /// whole; for outputs with noise at some places, the places round 1's
    /// builds (and the all-factor build, once made) change beyond it,
    /// grouped by how each build changes them.
    pub fn units(&mut self, groups: &[Vec<FactorId>], all: &[FactorId]) -> Vec<Unit> {
        // While some factor set makes the build fail, its outputs are
        // missing, and any output analysis would misread that as a
        // difference: the failure alone is analysed.
        if !self.failed.is_empty() {
            return vec![Unit::build_outcome()];
        }
        let paths: BTreeSet<String> = self.outputs.values().flat_map(|o| o.keys().cloned()).collect();
        let mut sources: Vec<Vec<FactorId>> = groups.iter().map(|g| sorted(g)).collect();
        sources.push(sorted(all));
        let sources: Vec<(u32, u32)> =
            sources.iter().filter_map(|s| self.by_set.get(s)).map(|b| (b.control, b.index)).collect();
        let mut units = Vec::new();
        for path in paths {
            let noise = match self.noise.get(&path) {
                None => {
                    units.push(Unit { path, locations: None });
                    continue;
                }
                Some(Noise::Whole) => continue,
                Some(Noise::At(noise)) => noise.clone(),
            };
            let mut patterns: BTreeMap<Location, Vec<Option<String>>> = BTreeMap::new();
            for (i, &(control, index)) in sources.iter().enumerate() {
                if self.outputs[&control].get(&path) == self.outputs[&index].get(&path) {
                    continue;
                }
                let beyond: Vec<(Location, String)> = self
                    .locations(control, index, &path)
                    .iter()
                    .filter(|(l, _)| !locations::covered(&noise, l))
                    .map(|(l, v)| (l.clone(), v.clone()))
                    .collect();
                for (location, value) in beyond {
                    patterns.entry(location).or_insert_with(|| vec![None; sources.len()])[i] = Some(value);
                }
            }
            let mut by_pattern: BTreeMap<Vec<Option<String>>, BTreeSet<Location>> = BTreeMap::new();
            for (location, pattern) in patterns {
                by_pattern.entry(pattern).or_default().insert(location);
            }
            units.extend(by_pattern.into_values().map(|l| Unit { path: path.clone(), locations: Some(l) }));
        }
        units
    }

    /// The run numbers of `set`'s build and of its control.
    pub fn indices(&self, set: &[FactorId]) -> Option<(u32, u32)> {
        self.by_set.get(&sorted(set)).map(|b| (b.index, b.control))
    }

    /// Whether run `index` is an experiment whose build failed.
    pub fn has_failed(&self, index: u32) -> bool {
        self.failed.contains(&index)
    }

    /// Run numbers of every control.
    pub fn controls(&self) -> &[u32] {
        &self.controls
    }

    /// Where the culprits of `unit` show in `set`'s build: its locations
    /// beyond the noise (empty for a whole-output unit).
    pub fn shown_at(&mut self, set: &[FactorId], unit: &Unit) -> Vec<Location> {
        let (Some((index, control)), Some(wanted)) = (self.indices(set), &unit.locations) else {
            return Vec::new();
        };
        let found = self.locations(control, index, &unit.path);
        wanted.iter().filter(|l| found.contains_key(*l)).cloned().collect()
    }
}

impl Lab<FactorId> for Builds {
    fn built(&self, set: &[FactorId]) -> bool {
        self.by_set.contains_key(&sorted(set))
    }

    fn seen(&mut self, set: &[FactorId], unit: &Unit) -> Option<String> {
        let (index, control) = self.indices(set)?;
        if unit.is_build_outcome() {
            // Failures compare alike whatever their exit code: a factor
            // makes the build fail or it does not.
            return self.failed.contains(&index).then(|| "failed".to_string());
        }
        let (mine, theirs) = (self.outputs[&index].get(&unit.path), self.outputs[&control].get(&unit.path));
        if mine == theirs {
            return None;
        }
        let Some(wanted) = &unit.locations else {
            return Some(format!("{mine:?}"));
        };
        let noise = match self.noise.get(&unit.path) {
            Some(Noise::At(noise)) => noise.clone(),
            _ => BTreeSet::new(),
        };
        let shown: Vec<String> = self
            .locations(control, index, &unit.path)
            .iter()
            .filter(|(l, _)| wanted.contains(*l) && !locations::covered(&noise, l))
            .map(|((scope, field), value)| format!("{scope}\0{field}\0{value}"))
            .collect();
        (!shown.is_empty()).then(|| hex::encode(Sha256::digest(shown.join("\n").as_bytes())))
    }
}

/// Every path at which two builds' outputs differ.
fn differing(a: &Outputs, b: &Outputs) -> Vec<String> {
    let paths: BTreeSet<&String> = a.keys().chain(b.keys()).filter(|p| a.get(*p) != b.get(*p)).collect();
    paths.into_iter().cloned().collect()
}
