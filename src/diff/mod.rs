//! Where two runs' versions of an output differ: a structured diff that
//! looks inside tar (plain, gzip, xz, zstd), gzip headers and zip archives,
//! recurses one level into archives nested in them, diffs text, and points
//! at the first differing byte of anything else. [`hints`] then maps what it
//! found to the usual fix.
//!
//! Everything here reads build output, so every size is capped and nothing
//! is ever extracted to disk.

pub(crate) mod archive;
pub mod budget;
pub mod diffoscope;
pub mod hints;
pub mod locations;
pub(crate) mod streamed;
mod zip_listing;

use crate::errors::*;
use serde::Serialize;
use std::path::Path;

/// Largest file read into memory for structured comparison.
const MAX_READ: u64 = 256 << 20;
/// Largest text compared line by line.
const MAX_TEXT: usize = 1 << 20;
/// Lines of unified diff kept.
const MAX_DIFF_LINES: usize = 120;
/// Details kept per output.
const MAX_DETAILS: usize = 200;
/// Time a line diff may take before it settles for a coarse alignment.
const TEXT_DIFF_TIME: std::time::Duration = std::time::Duration::from_millis(500);

/// One difference found inside an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Where: `bytes`, `gzip header`, `tar entry hello-1.0/hello`, `zip entry x`.
    pub scope: String,
    /// What: `mtime`, `mode`, `uid`, `order`, `content`, `first difference`, ...
    pub field: String,
    /// The value in the first run.
    pub a: String,
    /// The value in the second run.
    pub b: String,
}

/// The structured diff of one output between two runs.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    /// The output path.
    pub path: String,
    /// The run numbers compared; 0 stands for a reference file (`verify`).
    pub runs: (u32, u32),
    /// How it was read: `tar+gzip`, `gzip`, `zip`, `text`, `binary`, ...
    pub format: String,
    /// What differs, in order of appearance.
    pub details: Vec<Detail>,
    /// A unified diff, for text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
    /// True when details or the text diff were cut.
    pub truncated: bool,
    /// Known patterns and their usual fixes.
    pub hints: Vec<hints::Hint>,
}

/// What the diff knows about the runs, for hints, and what it may spend.
#[derive(Debug, Clone, Default)]
pub struct DiffContext {
    /// The build directory of each run.
    pub build_dirs: (String, String),
    /// Decompressed bytes the comparison may produce in all (both versions,
    /// every layer and member); 0 means [`budget::DEFAULT_BUDGET`].
    pub budget: u64,
}

/// Compares the two versions of `path` (files on disk, either may be missing).
pub fn diff_files(
    path: &str,
    runs: (u32, u32),
    a: &Path,
    b: &Path,
    context: &DiffContext,
) -> Result<FileDiff> {
    let read = |p: &Path| -> Result<Option<Vec<u8>>> {
        match std::fs::symlink_metadata(p) {
            Err(_) => Ok(None),
            Ok(m) if m.file_type().is_symlink() => Ok(Some(
                format!("symlink -> {}", std::fs::read_link(p).unwrap_or_default().display()).into_bytes(),
            )),
            Ok(m) if m.len() > MAX_READ => Ok(None),
            Ok(_) => std::fs::read(p).map(Some).with_context(|| format!("reading {}", p.display())),
        }
    };
    let (data_a, data_b) = (read(a)?, read(b)?);
    let mut diff = FileDiff {
        path: path.to_string(),
        runs,
        format: String::new(),
        details: Vec::new(),
        text_diff: None,
        truncated: false,
        hints: Vec::new(),
    };
    let budget =
        budget::Budget::new(if context.budget == 0 { budget::DEFAULT_BUDGET } else { context.budget });
    match (data_a, data_b) {
        (Some(a), Some(b)) => compare_bytes(&mut diff, "", &a, &b, archive::Walk::top(&budget)),
        (a, b) => {
            diff.format = "missing or too large".into();
            let state =
                |d: &Option<Vec<u8>>| if d.is_some() { "present" } else { "missing or over the size cap" };
            diff.details.push(Detail {
                scope: "file".into(),
                field: "presence".into(),
                a: state(&a).into(),
                b: state(&b).into(),
            });
        }
    }
    if budget.exhausted() {
        diff.details.push(Detail {
            scope: "file".into(),
            field: "decompression budget".into(),
            a: format!("{} MiB used up", budget.total() >> 20),
            b: "what lies deeper is not compared".into(),
        });
        diff.truncated = true;
    }
    if diff.details.len() > MAX_DETAILS {
        diff.details.truncate(MAX_DETAILS);
        diff.truncated = true;
    }
    diff.hints = hints::for_diff(&diff, context, a, b);
    Ok(diff)
}

/// Compares two byte strings, looking inside the formats it recognises.
/// `prefix` scopes nested details; `walk` bounds depth and decompression.
fn compare_bytes(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], walk: archive::Walk) {
    let depth = walk.depth;
    let format = archive::sniff(a);
    if depth == 0 {
        diff.format = format.name().to_string();
    }
    let before = diff.details.len();
    if format == archive::sniff(b) {
        archive::compare(diff, prefix, format, a, b, walk);
    }
    let found_inside = diff.details.len() > before;
    if found_inside || a == b {
        return;
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(ta), Ok(tb)) if !ta.contains('\0') && !tb.contains('\0') && a.len().max(b.len()) <= MAX_TEXT => {
            if depth == 0 && diff.format == "binary" {
                diff.format = "text".into();
            }
            text_diff(diff, prefix, ta, tb);
        }
        _ => first_difference(diff, prefix, a, b),
    }
}

fn scoped(prefix: &str, scope: &str) -> String {
    if prefix.is_empty() {
        scope.to_string()
    } else {
        format!("{prefix} > {scope}")
    }
}

fn text_diff(diff: &mut FileDiff, prefix: &str, a: &str, b: &str) {
    // Myers' diff is quadratic in the worst case ('a' lines against 'b'
    // lines): past the deadline, similar settles for a coarser alignment.
    let started = std::time::Instant::now();
    let lines = similar::TextDiff::configure().timeout(TEXT_DIFF_TIME).diff_lines(a, b);
    let unified = lines.unified_diff().context_radius(2).header("a", "b").to_string();
    if started.elapsed() >= TEXT_DIFF_TIME {
        diff.details.push(Detail {
            scope: scoped(prefix, "text"),
            field: "alignment".into(),
            a: format!("the line diff took over {} ms", TEXT_DIFF_TIME.as_millis()),
            b: "coarse: changed blocks may be larger than they are".into(),
        });
    }
    let mut lines: Vec<&str> = unified.lines().collect();
    if lines.len() > MAX_DIFF_LINES {
        lines.truncate(MAX_DIFF_LINES);
        diff.truncated = true;
    }
    let changed = unified
        .lines()
        .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"));
    diff.details.push(Detail {
        scope: scoped(prefix, "text"),
        field: "lines".into(),
        a: format!("{} lines", a.lines().count()),
        b: format!("{} lines, {} changed", b.lines().count(), changed.count()),
    });
    let body = lines.join("\n");
    match &mut diff.text_diff {
        Some(existing) => existing.push_str(&format!("\n{prefix}:\n{body}")),
        None => diff.text_diff = Some(if prefix.is_empty() { body } else { format!("{prefix}:\n{body}") }),
    }
}

fn first_difference(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8]) {
    let offset = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let window = |d: &[u8]| {
        let start = offset.saturating_sub(8);
        let end = (offset + 24).min(d.len());
        d.get(start..end).map(hex_dump).unwrap_or_default()
    };
    diff.details.push(Detail {
        scope: scoped(prefix, "bytes"),
        field: "size".into(),
        a: a.len().to_string(),
        b: b.len().to_string(),
    });
    diff.details.push(Detail {
        scope: scoped(prefix, "bytes"),
        field: format!("first difference at offset {offset}"),
        a: window(a),
        b: window(b),
    });
}

fn hex_dump(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String =
        bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
    format!("{}  |{ascii}|", hex.join(" "))
}

impl FileDiff {
    /// A few lines for the terminal.
    pub fn summary(&self, max_details: usize) -> String {
        let mut s = match self.runs {
            (0, run) => format!("    {} (reference and run {run}):\n", self.format),
            (a, b) => format!("    {} (runs {a} and {b}):\n", self.format),
        };
        for d in self.details.iter().take(max_details) {
            s.push_str(&format!("      {}: {}: {} -> {}\n", d.scope, d.field, d.a, d.b));
        }
        if self.details.len() > max_details {
            s.push_str(&format!("      … {} more in report.json\n", self.details.len() - max_details));
        }
        if let Some(text) = &self.text_diff {
            for line in text.lines().skip(2).take(8) {
                s.push_str(&format!("      | {line}\n"));
            }
        }
        for h in &self.hints {
            s.push_str(&format!("    hint: {} (evidence: {})\n", h.fix, h.evidence));
        }
        s
    }
}

#[cfg(test)]
mod tests;
