//! Known patterns in a structured diff, and the usual fix for each.
//!
//! One table, [`RULES`]: a rule looks at one [`Detail`] (or at the bytes for
//! the build path) and, when it matches, yields a hint naming that detail as
//! its evidence. To add a pattern, add a row. docs/explain.md lists them.

use super::{Detail, DiffContext, FileDiff};
use serde::Serialize;
use std::path::Path;

/// A suggested fix, with the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// The rule's id.
    pub rule: &'static str,
    /// What to change.
    pub fix: &'static str,
    /// The detail that triggered it.
    pub evidence: String,
}

/// A pattern: a predicate on one detail, and its fix.
pub struct Rule {
    /// Stable id, for docs and tests.
    pub id: &'static str,
    /// Whether a detail shows the pattern.
    pub matches: fn(&Detail) -> bool,
    /// The usual fix.
    pub fix: &'static str,
}

fn in_tar(d: &Detail) -> bool {
    d.scope.contains("tar entry") || d.scope.ends_with("tar")
}

fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(10).any(|w| {
        w[..4].iter().all(u8::is_ascii_digit)
            && w[4] == b'-'
            && w[5..7].iter().all(u8::is_ascii_digit)
            && w[7] == b'-'
            && w[8..10].iter().all(u8::is_ascii_digit)
    })
}

/// The table. Order is the order hints are shown in.
pub const RULES: &[Rule] = &[
    Rule {
        id: "tar-mtime",
        matches: |d| in_tar(d) && d.field == "mtime",
        fix: "tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime",
    },
    Rule {
        id: "tar-owner",
        matches: |d| in_tar(d) && matches!(d.field.as_str(), "uid" | "gid" | "uname" | "gname"),
        fix: "tar --owner=0 --group=0 --numeric-owner",
    },
    Rule { id: "tar-order", matches: |d| in_tar(d) && d.field == "order", fix: "tar --sort=name" },
    Rule {
        id: "tar-pax-times",
        matches: |d| in_tar(d) && d.field == "pax headers" && (d.a.contains("time") || d.b.contains("time")),
        fix: "tar --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    },
    Rule {
        id: "mode",
        matches: |d| (in_tar(d) || d.scope.contains("zip entry")) && d.field == "mode",
        fix: "make modes independent of the umask: tar --mode=u+rw,go=rX (or chmod the files before packing)",
    },
    Rule {
        id: "gzip-header",
        matches: |d| d.scope.ends_with("gzip header") && (d.field == "mtime" || d.field == "name"),
        fix: "gzip -n (--no-name), so the header carries neither the input's name nor its time",
    },
    Rule {
        id: "zip-timestamps",
        matches: |d| d.scope.contains("zip entry") && (d.field == "mtime" || d.field == "extra fields"),
        fix: "set the files' mtimes from SOURCE_DATE_EPOCH before zipping and use zip -X (or strip-nondeterminism)",
    },
    Rule {
        id: "date-in-text",
        matches: |d| d.field == "lines" || (d.field.starts_with("first difference") && looks_like_date(&d.b)),
        fix: "take dates from SOURCE_DATE_EPOCH instead of the clock (e.g. date -u -d @$SOURCE_DATE_EPOCH)",
    },
];

/// The hints for one file diff. `a` and `b` are the two versions on disk,
/// searched for the build path when the runs had different ones.
pub fn for_diff(diff: &FileDiff, context: &DiffContext, a: &Path, b: &Path) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    for rule in RULES {
        let evidence = diff
            .details
            .iter()
            .find(|d| (rule.matches)(d) && (rule.id != "date-in-text" || date_changed(diff, d)));
        if let Some(d) = evidence {
            hints.push(Hint {
                rule: rule.id,
                fix: rule.fix,
                evidence: format!("{}: {} {} -> {}", d.scope, d.field, d.a, d.b),
            });
        }
    }
    let (dir_a, dir_b) = &context.build_dirs;
    if !dir_a.is_empty() && dir_a != dir_b {
        let contains = |p: &Path, needle: &str| {
            std::fs::read(p).map(|d| d.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
        };
        if contains(a, dir_a) || contains(b, dir_b) {
            hints.push(Hint {
                rule: "build-path",
                fix: "keep the build directory out of the output: -ffile-prefix-map=$(pwd)=. for C/C++ (also debug info), or relative paths",
                evidence: format!("the output contains the build directory ({dir_a} / {dir_b})"),
            });
        }
    }
    hints
}

/// A text diff earns the date hint only when its changed lines hold dates.
fn date_changed(diff: &FileDiff, d: &Detail) -> bool {
    if d.field != "lines" {
        return true;
    }
    diff.text_diff.as_deref().is_some_and(|t| {
        t.lines()
            .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"))
            .any(looks_like_date)
    })
}
