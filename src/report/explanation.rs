//! What `explain` found: the factors behind each differing output
//! ([`crate::explain`] computes it).

use super::{more_outputs, TERMINAL_DETAILED};
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// For nondeterministic outputs: where the difference entered the
    /// build and how it reached the output, from the two controls' traces.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nondeterministic_propagation: BTreeMap<String, Vec<crate::trace::Propagation>>,
    /// One entry per output that differs because of factors.
    pub blamed: Vec<Blame>,
    /// Factor sets under which the build fails where the control's
    /// succeeds: each a single factor, or factors that fail it only
    /// together. While one does, outputs are not compared (a failed build
    /// has none), so `blamed` stays empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fails_under: Vec<Vec<String>>,
    /// How the failing builds ended: which runs, and the end of the first's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
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
    /// Where the difference entered the build and how it reached the
    /// output, from the build traces of the two runs `diff` compares
    /// (one entry per root cause; empty when they were not traced or the
    /// traces do not tell).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub propagation: Vec<crate::trace::Propagation>,
}

impl Explanation {
    /// Whether anything differs: nondeterminism, a blamed factor, or a
    /// factor that makes the build fail.
    pub fn differs(&self) -> bool {
        !self.nondeterministic.is_empty() || !self.blamed.is_empty() || !self.fails_under.is_empty()
    }

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
                if let Some(propagation) = self.nondeterministic_propagation.get(path) {
                    s.push_str(&propagation_lines(propagation));
                }
            }
            let rest: Vec<&str> =
                self.nondeterministic.iter().skip(TERMINAL_DETAILED).map(String::as_str).collect();
            s.push_str(&more_outputs(&rest, "    "));
        }
        if !self.fails_under.is_empty() {
            let causes: Vec<String> = self.fails_under.iter().map(|c| cause(c)).collect();
            let without: Vec<String> = self.fails_under.iter().flatten().map(|f| format!("-{f}")).collect();
            s.push_str(&format!(
                "  the build FAILS when {} is varied{}; outputs are not compared while it fails \
                 (run explain again with --vary={} to explain them)\n",
                causes.join(" or "),
                if causes.len() > 1 { " (independently)" } else { "" },
                without.join(",")
            ));
            for line in self.failure.iter().flat_map(|f| f.lines()) {
                s.push_str(&format!("    {line}\n"));
            }
        }
        let mut undetailed = Vec::new();
        for (i, blame) in self.blamed.iter().enumerate() {
            let causes: Vec<String> = blame.culprits.iter().map(|c| cause(c)).collect();
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
            s.push_str(&propagation_lines(&blame.propagation));
        }
        s.push_str(&more_outputs(&undetailed.iter().map(String::as_str).collect::<Vec<_>>(), "  "));
        if self.nondeterministic.is_empty() && self.blamed.is_empty() && self.fails_under.is_empty() {
            s.push_str("  no output differs under any factor tried\n");
        }
        s
    }
}

/// Characters of a command line in the terminal's chain.
const CHAIN_COMMAND_CHARS: usize = 60;
/// Files of a chain the terminal shows after the first.
const CHAIN_SHOWN: usize = 5;

/// One line per root cause (the command where the difference entered,
/// with the one that started it), then the files that carried it on.
fn propagation_lines(propagation: &[crate::trace::Propagation]) -> String {
    let clip = |s: &str| crate::style::clip(s, CHAIN_COMMAND_CHARS);
    let mut s = String::new();
    for p in propagation {
        let Some(first) = p.chain.first() else { continue };
        let under = p.entered.get(1).map(|c| format!(", under {}", clip(c))).unwrap_or_default();
        // The programs, not the shells that started them (report.json has both).
        let programs: Vec<String> = p.ran.iter().filter(|r| !is_shell_snippet(r)).map(|r| clip(r)).collect();
        let ran = match programs.is_empty() {
            true => String::new(),
            false => format!(" (it ran {})", programs.join(", ")),
        };
        s.push_str(&format!(
            "    entered at: {}{ran} wrote {}{under}\n",
            clip(&first.written_by),
            first.file
        ));
        let mut on: Vec<String> =
            p.chain[1..].iter().map(|c| format!("{} ({})", c.file, clip(&c.written_by))).collect();
        // A long chain keeps its two first and two last files.
        if on.len() > CHAIN_SHOWN {
            let hidden = on.len() - 4;
            on.splice(2..on.len() - 2, [format!("… {hidden} more")]);
        }
        let member = p.member.as_deref().map(|m| format!(" = member {m}")).unwrap_or_default();
        if !on.is_empty() || !member.is_empty() {
            let arrow = if on.is_empty() { String::new() } else { format!(" -> {}", on.join(" -> ")) };
            s.push_str(&format!("      carried on: {}{arrow}{member}\n", first.file));
        }
        if let Some(hint) = &p.hint {
            s.push_str(&format!("      hint: {hint}\n"));
        }
    }
    s
}

/// Whether a command line is a shell running a snippet (`sh -c …`).
fn is_shell_snippet(command: &str) -> bool {
    let mut words = command.split(' ');
    let shell = words.next().unwrap_or("").rsplit('/').next().unwrap_or("");
    matches!(shell, "sh" | "bash" | "dash") && words.next() == Some("-c")
}

/// One cause as the terminal shows it: a factor, or factors that only act together.
fn cause(factors: &[String]) -> String {
    match factors {
        [one] => one.clone(),
        many => format!("{} (only together)", many.join(" + ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{CarriedBy, Propagation};

    #[test]
    fn one_line_per_root_cause_with_the_programs_it_ran_and_the_files_after() {
        let step = |file: &str, by: &str| CarriedBy { file: file.into(), written_by: by.into() };
        let propagation = Propagation {
            entered: vec!["m4 --gnu".into(), "autom4te --output=configure".into()],
            ran: vec!["sh -c date +%Y".into(), "date +%Y".into()],
            chain: vec![
                step("output.2", "m4 --gnu"),
                step("configure", "autom4te"),
                step("a", "x"),
                step("b", "x"),
                step("c", "x"),
                step("d", "x"),
                step("usr/bin/hello", "objcopy"),
            ],
            member: Some("./usr/bin/hello".into()),
            hint: Some("fix it".into()),
        };
        let lines = propagation_lines(&[propagation]);
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(
            lines[0],
            "    entered at: m4 --gnu (it ran date +%Y) wrote output.2, under autom4te --output=configure"
        );
        assert_eq!(
            lines[1],
            "      carried on: output.2 -> configure (autom4te) -> a (x) -> … 2 more -> d (x) -> usr/bin/hello (objcopy) = member ./usr/bin/hello"
        );
        assert_eq!(lines[2], "      hint: fix it");
        assert!(
            is_shell_snippet("/bin/sh -c x")
                && is_shell_snippet("bash -c x")
                && !is_shell_snippet("sh build.sh")
        );
    }
}
