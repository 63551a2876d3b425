//! The build traces of the runs explain compares: where a blamed
//! difference entered the build ([`crate::trace::propagation`]), read
//! from each run's saved trace once.

use crate::diff::scope::{Field, Layer};
use crate::diff::FileDiff;
use crate::run::CompletedRun;
use crate::trace::divergence::{Divergence, Side};
use crate::trace::{Propagation, Trace};
use std::collections::HashMap;
use std::path::Path;

/// The traces read so far, by run number (`None`: the run has none that
/// reads), and the divergences computed, by pair of runs (several outputs
/// are compared between the same two runs).
#[derive(Default)]
pub struct Traces {
    read: HashMap<u32, Option<Trace>>,
    diverged: HashMap<(u32, u32), Divergence>,
}

impl Traces {
    /// Reads the trace of run `index`, once.
    fn load(&mut self, out: &Path, runs: &[CompletedRun], index: u32) {
        self.read.entry(index).or_insert_with(|| {
            let run = runs.iter().find(|r| r.index() == index)?;
            let file = out.join(&run.result.trace.as_ref()?.file);
            let read = std::fs::File::open(&file)
                .map_err(anyhow::Error::from)
                .and_then(|f| Trace::read(std::io::BufReader::new(f)));
            // A trace that does not read is the build's doing: said, not fatal.
            read.map_err(|e| tracing::warn!("reading {}: {e:#}", file.display())).ok()
        });
    }

    /// How the difference `diff` shows got into its output, from the
    /// traces of the two runs it compares; empty when either is missing.
    pub fn propagation(&mut self, out: &Path, runs: &[CompletedRun], diff: &FileDiff) -> Vec<Propagation> {
        let (a, b) = diff.runs;
        self.load(out, runs, a);
        self.load(out, runs, b);
        let build_dir = |i: u32| runs.iter().find(|r| r.index() == i).map(CompletedRun::build_dir);
        let (Some(Some(trace_a)), Some(Some(trace_b)), Some(dir_a), Some(dir_b)) =
            (self.read.get(&a), self.read.get(&b), build_dir(a), build_dir(b))
        else {
            return Vec::new();
        };
        let side_a = Side { trace: trace_a, build_dir: dir_a };
        let divergence = self
            .diverged
            .entry((a, b))
            .or_insert_with(|| Divergence::between(side_a, Side { trace: trace_b, build_dir: dir_b }));
        crate::trace::propagation::into_output(side_a, divergence, &diff.path, &members(diff))
    }
}

/// What to change in the step where a difference entered, when `factor`
/// (None: nothing varied, two controls differ) caused it.
pub fn hint(factor: Option<&str>, propagation: &Propagation) -> Option<String> {
    let first = propagation.chain.first()?;
    let step = crate::style::clip(&first.written_by, 80);
    let file = &first.file;
    let fix = match factor {
        Some("time") => {
            "it reads the clock: take the time from SOURCE_DATE_EPOCH instead \
             (`date -u -d @$SOURCE_DATE_EPOCH`)"
        }
        Some("build_path") => {
            "it records the build directory: build with relative paths, or map the \
             directory away (`-ffile-prefix-map=$PWD=.` for C compilers)"
        }
        Some("fileordering") => {
            "it lists a directory in the order the filesystem returns: sort the \
             list (`find … | LC_ALL=C sort`, `sorted(os.listdir(…))`)"
        }
        Some("umask") => {
            "it records file modes that follow the umask: set the modes it records \
             (`chmod`, `tar --mode=go-w`) or set `umask 022` before it"
        }
        Some("domain_host") => "it records the host's name: leave it out, or take it from an input",
        Some("user") => {
            "it records the user or uid: leave it out (`tar --owner=0 --group=0 --numeric-owner`)"
        }
        Some("timezone") => "it formats a time in the local zone: use UTC (`TZ=UTC`, `date -u`)",
        Some("locales") => "its output follows the locale: set `LC_ALL=C.UTF-8` for it",
        Some("home") => "it records or reads $HOME: leave it out",
        None => {
            "it writes something different on every run (a random or temporary name, a time): \
             make it fixed"
        }
        Some(_) => return None,
    };
    Some(format!("`{step}` (wrote {file}): {fix}"))
}

/// The innermost archive members `diff` names, in order, each once, with
/// their content digest in the first run where the diff gives one (a
/// prefix: `content: sha256:e87882af9c3d…`).
fn members(diff: &FileDiff) -> Vec<crate::trace::propagation::Member> {
    let mut members: Vec<crate::trace::propagation::Member> = Vec::new();
    for detail in &diff.details {
        let layers = detail.scope.within.layers().iter().chain([&detail.scope.at]);
        let mut entries = layers.filter_map(|l| match l {
            Layer::Entry(_, name) => Some(name),
            _ => None,
        });
        let Some(name) = entries.next_back() else { continue };
        let digest = match detail.field == Field::Content && matches!(detail.scope.at, Layer::Entry(..)) {
            true => digest_prefix(&detail.a),
            false => None,
        };
        match members.iter_mut().find(|(n, _)| n == name) {
            Some((_, known)) => *known = known.take().or(digest),
            None => members.push((name.clone(), digest)),
        }
    }
    members
}

/// The hex digits of a shown digest (`sha256:e87882af9c3d…` → `e87882af9c3d`).
fn digest_prefix(shown: &str) -> Option<String> {
    let hex: String = shown.strip_prefix("sha256:")?.chars().take_while(char::is_ascii_hexdigit).collect();
    (hex.len() >= 12).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_digest_gives_its_hex_prefix() {
        assert_eq!(digest_prefix("sha256:e87882af9c3d…").as_deref(), Some("e87882af9c3d"));
        assert_eq!(
            digest_prefix("sha256:e87882af9c3d… (not opened: over the 64 MiB held at once)").as_deref(),
            Some("e87882af9c3d")
        );
        assert_eq!(digest_prefix("unreadable (over the size cap or damaged)"), None);
        assert_eq!(digest_prefix("sha256:abc…"), None, "too short to tell");
    }
}
