//! What differs between two versions that are not archives: a unified
//! diff for text, and the first differing byte of anything else (both
//! versions streamed, so any size is compared without being held).

use super::scope::{Field, Layer, Nesting};
use super::streamed::Source;
use super::{hints, Detail, FileDiff};
use std::io::Read;

/// Lines of unified diff kept.
const MAX_DIFF_LINES: usize = 120;
/// Bytes of unified diff kept per output, over all its texts.
const MAX_TEXT_DIFF: usize = 256 << 10;
/// Time a line diff may take before it settles for a coarse alignment.
pub(crate) const TEXT_DIFF_TIME: std::time::Duration = std::time::Duration::from_millis(500);

/// `data` as text: UTF-8 without NUL bytes.
pub(super) fn as_text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok().filter(|t| !t.contains('\0'))
}

pub(super) fn text_diff(diff: &mut FileDiff, prefix: &Nesting, a: &str, b: &str) {
    // Myers' diff is quadratic in the worst case ('a' lines against 'b'
    // lines): past the deadline, similar settles for a coarser alignment.
    let started = std::time::Instant::now();
    let aligned = similar::TextDiff::configure().timeout(TEXT_DIFF_TIME).diff_lines(a, b);
    let unified = aligned.unified_diff().context_radius(2).header("a", "b").to_string();
    // A replaced line is one change, not a removal and an addition.
    let changed = lines_changed(aligned.ops());
    if started.elapsed() >= TEXT_DIFF_TIME {
        diff.add(Detail {
            scope: prefix.at(Layer::Text),
            field: Field::Alignment,
            a: format!("the line diff took over {} ms", TEXT_DIFF_TIME.as_millis()),
            b: "coarse: changed blocks may be larger than they are".into(),
        });
    }
    let mut lines: Vec<&str> = unified.lines().collect();
    if lines.len() > MAX_DIFF_LINES {
        lines.truncate(MAX_DIFF_LINES);
        diff.truncated = true;
    }
    diff.add(Detail {
        scope: prefix.at(Layer::Text),
        field: Field::Lines,
        a: plural(a.lines().count(), "line"),
        b: format!("{}, {} changed", plural(b.lines().count(), "line"), changed),
    });
    let body = lines.join("\n");
    let changed_lines = unified
        .lines()
        .filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---"));
    if changed_lines.clone().any(hints::looks_like_date) {
        diff.dated_texts.push(prefix.at(Layer::Text));
    }
    if diff.text_diff.as_ref().is_some_and(|t| t.len() > MAX_TEXT_DIFF) {
        diff.truncated = true;
        return;
    }
    match &mut diff.text_diff {
        Some(existing) => existing.push_str(&format!("\n{prefix}:\n{body}")),
        None => diff.text_diff = Some(if prefix.is_empty() { body } else { format!("{prefix}:\n{body}") }),
    }
}

/// Lines changed: a replaced line counts once, as does an added or removed one.
fn lines_changed(ops: &[similar::DiffOp]) -> usize {
    ops.iter()
        .map(|op| match *op {
            similar::DiffOp::Equal { .. } => 0,
            similar::DiffOp::Delete { old_len, .. } => old_len,
            similar::DiffOp::Insert { new_len, .. } => new_len,
            similar::DiffOp::Replace { old_len, new_len, .. } => old_len.max(new_len),
        })
        .sum()
}

/// `1 line`, `2 lines`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The sizes and the first differing byte, with a window around it; both
/// versions are streamed, so any size is compared without being held.
pub(super) fn first_difference(diff: &mut FileDiff, prefix: &Nesting, a: Source, b: Source) {
    let (size_a, size_b) = (a.size(), b.size());
    let offset = first_differing_offset(a, b);
    if size_a == size_b && offset == Some(size_a) {
        return; // the same bytes
    }
    diff.add(Detail {
        scope: prefix.at(Layer::Bytes),
        field: Field::Size,
        a: size_a.to_string(),
        b: size_b.to_string(),
    });
    let Some(offset) = offset else { return };
    let window = |s: Source| {
        let start = offset.saturating_sub(8);
        let mut bytes = Vec::new();
        if let Some(mut r) = s.reader() {
            let skipped = std::io::copy(&mut (&mut r).take(start), &mut std::io::sink()).unwrap_or(0);
            if skipped == start {
                let _ = r.take(offset + 24 - start).read_to_end(&mut bytes);
            }
        }
        hex_dump(&bytes)
    };
    diff.add(Detail {
        scope: prefix.at(Layer::Bytes),
        field: Field::FirstDifferenceAt(offset),
        a: window(a),
        b: window(b),
    });
}

/// Where `a` and `b` first differ (the shorter one's end when one is a
/// prefix of the other); `None` when they cannot be read.
pub(super) fn first_differing_offset(a: Source, b: Source) -> Option<u64> {
    const CHUNK: usize = 64 << 10;
    let (mut ra, mut rb) = (a.reader()?, b.reader()?);
    let (mut ba, mut bb) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut offset = 0u64;
    loop {
        let na = crate::decompress::read_prefix(&mut ra, &mut ba).ok()?;
        let nb = crate::decompress::read_prefix(&mut rb, &mut bb).ok()?;
        let same = ba[..na.min(nb)].iter().zip(&bb[..na.min(nb)]).position(|(x, y)| x != y);
        if let Some(i) = same {
            return Some(offset + i as u64);
        }
        if na != nb || na == 0 {
            return Some(offset + na.min(nb) as u64);
        }
        offset += na as u64;
    }
}

pub(super) fn hex_dump(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String =
        bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
    format!("{}  |{ascii}|", hex.join(" "))
}
