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
mod elf;
pub mod format;
pub mod hints;
mod leaf;
pub use leaf::plural;
pub mod locations;
pub(crate) mod member;
pub mod scope;
pub use scope::{Field, Kind, Layer, Nesting, Scope};
pub(crate) mod streamed;
pub(crate) mod tar_reader;
pub(crate) mod zip_listing;

use crate::collect::OutputEntry;
use crate::errors::*;
use format::Format;
use serde::Serialize;
use sha2::Digest as _;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use streamed::Source;

/// Largest zip archive read into memory (zip needs random access).
const MAX_READ: u64 = 256 << 20;
/// Bytes read from the front of each version to tell its format.
const HEAD: usize = 4096;
/// Largest text compared line by line.
const MAX_TEXT: usize = 1 << 20;
/// Details held per output: every one is counted by kind, and the hints
/// see all that are held; a hostile archive cannot make the list unbounded.
const MAX_HELD: usize = 100_000;
/// Details report.json lists per output; the rest go to `details_file`.
pub const REPORT_DETAILS: usize = 200;

/// One difference found inside an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// Where: `bytes`, `gzip header`, `tar entry hello-1.0/hello`, `zip entry x`.
    pub scope: Scope,
    /// What: `mtime`, `mode`, `uid`, `order`, `content`, `first difference`, ...
    pub field: Field,
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
    /// What differs, in order of appearance (report.json lists the first
    /// [`REPORT_DETAILS`]; `details_file` has every one held).
    #[serde(serialize_with = "first_details")]
    pub details: Vec<Detail>,
    /// How many differences of each kind (`owner`, `mtime`, `order`, …),
    /// counted over all of them, held or not.
    pub counts: BTreeMap<Kind, u64>,
    /// How many differences were found in all.
    pub details_total: u64,
    /// Where every detail is, relative to the results directory, when
    /// report.json lists only the first ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_file: Option<String>,
    /// A unified diff, for text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
    /// The scopes (`… > text`) of the texts whose changed lines hold a
    /// date, first the one the terminal quotes.
    #[serde(skip)]
    pub dated_texts: Vec<Scope>,
    /// What the top-level archive says about who packed it (`tar:v7`,
    /// `python-sdist`, `python-wheel`), for the hints.
    #[serde(skip)]
    pub packed_by: std::collections::BTreeSet<&'static str>,
    /// A wheel's `Generator:` line (`flit 3.9.0`), for the hints.
    #[serde(skip)]
    pub generator: Option<String>,
    /// True when details (beyond [`MAX_HELD`]), the text diff, or what the
    /// budget allowed were cut.
    pub truncated: bool,
    /// Known patterns and their usual fixes.
    pub hints: Vec<hints::Hint>,
}

fn first_details<S: serde::Serializer>(details: &[Detail], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(details.iter().take(REPORT_DETAILS))
}

impl Detail {
    /// The kind of difference, for counts and summaries: the field, with
    /// `uid`/`gid`/`uname`/`gname` as `owner`, gzip header fields named as
    /// such, and a byte offset as `first difference`.
    pub fn kind(&self) -> Kind {
        match &self.field {
            f if f.is_owner() => Kind::Owner,
            f if f.is_first_difference() => Kind::FirstDifference,
            f if self.scope.at == Layer::GzipHeader => Kind::GzipHeader(f.clone()),
            f => Kind::Of(f.clone()),
        }
    }
}

impl FileDiff {
    /// An empty diff of `path` between `runs`.
    pub fn new(path: &str, runs: (u32, u32)) -> FileDiff {
        FileDiff {
            path: path.to_string(),
            runs,
            format: String::new(),
            details: Vec::new(),
            counts: BTreeMap::new(),
            details_total: 0,
            details_file: None,
            text_diff: None,
            dated_texts: Vec::new(),
            packed_by: Default::default(),
            generator: None,
            truncated: false,
            hints: Vec::new(),
        }
    }

    /// At most `max` details to show, every kind among them: the first of
    /// each kind come before more of any one (4,770 owner rows must not
    /// hide 10 mtime rows), in the order they were found.
    ///
    /// Where a member's content differs because something inside it does
    /// (`ar entry data.tar.xz` because of `… > tar entry ./usr/bin/hello`),
    /// the inner details come first: they say what the outer one implies.
    pub fn sample(&self, max: usize) -> Vec<&Detail> {
        let kinds: Vec<Kind> = self.details.iter().map(Detail::kind).collect();
        let distinct = kinds.iter().collect::<std::collections::BTreeSet<_>>().len().max(1);
        let per_kind = (max / distinct).max(1);
        // Scopes that have details further inside them: each layer a
        // detail is nested in, with the layers around it.
        let mut outer: HashSet<(&[Layer], &Layer)> = HashSet::new();
        for d in &self.details {
            let layers = d.scope.within.layers();
            for (i, layer) in layers.iter().enumerate() {
                outer.insert((&layers[..i], layer));
            }
        }
        let is_outer = |d: &Detail| outer.contains(&(d.scope.within.layers(), &d.scope.at));
        let mut order: Vec<usize> = (0..self.details.len()).collect();
        order.sort_by_key(|&i| (is_outer(&self.details[i]), i));
        let mut shown = vec![false; self.details.len()];
        let mut seen: BTreeMap<&Kind, usize> = BTreeMap::new();
        let mut left = max;
        for &i in &order {
            let n = seen.entry(&kinds[i]).or_default();
            if *n < per_kind && left > 0 {
                *n += 1;
                shown[i] = true;
                left -= 1;
            }
        }
        for &i in &order {
            if left == 0 {
                break;
            }
            if !shown[i] {
                shown[i] = true;
                left -= 1;
            }
        }
        self.details.iter().zip(shown).filter(|(_, s)| *s).map(|(d, _)| d).collect()
    }

    /// `owner × 19,080, mtime × 10, order × 1`, most frequent first.
    pub fn counts_line(&self) -> String {
        let mut counts: Vec<(&Kind, &u64)> = self.counts.iter().collect();
        counts.sort_by_key(|(kind, n)| (std::cmp::Reverse(**n), *kind));
        counts.iter().map(|(kind, n)| format!("{kind} × {n}")).collect::<Vec<_>>().join(", ")
    }

    /// Where the details not shown are: the details file, else report.json.
    pub fn rest_is_in(&self) -> String {
        match &self.details_file {
            Some(file) => file.clone(),
            None => "report.json".into(),
        }
    }

    /// Records a difference: always counted, held up to [`MAX_HELD`].
    pub fn add(&mut self, detail: Detail) {
        *self.counts.entry(detail.kind()).or_default() += 1;
        self.details_total += 1;
        if self.details.len() < MAX_HELD {
            self.details.push(detail);
        }
    }

    /// Differences counted but not held.
    fn dropped(&self) -> u64 {
        self.details_total - self.details.len() as u64
    }

    /// Every held detail as JSON, for `details_file`.
    pub fn all_details_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self.details).context("serialising the details")
    }
}

/// What the diff knows about the runs, for hints, and what it may spend.
#[derive(Debug, Clone, Default)]
pub struct DiffContext {
    /// The build directory of each run.
    pub build_dirs: (String, String),
    /// Decompressed bytes the comparison may produce in all (both versions,
    /// every layer and member); 0 means [`budget::DEFAULT_BUDGET`].
    pub budget: u64,
    /// The spec's `[build].command`, so hints know what it already does.
    pub build_command: String,
    /// Stops the comparison at its next read once set (SIGINT, SIGTERM).
    pub interrupt: crate::cleanup::Interrupt,
}

/// Compares the two versions of `path` (files on disk, either may be
/// missing). Archives are streamed; what is held is bounded by the caps
/// above whatever the files' sizes.
pub fn diff_files(
    path: &str,
    runs: (u32, u32),
    a: &Path,
    b: &Path,
    context: &DiffContext,
) -> Result<FileDiff> {
    let mut diff = FileDiff::new(path, runs);
    let bytes = if context.budget == 0 { budget::DEFAULT_BUDGET } else { context.budget };
    let budget = budget::Budget::new(bytes).interrupted_by(context.interrupt);
    // A symlink is compared as its target, never followed.
    match (streamed::link_text(a), streamed::link_text(b)) {
        (Some(la), Some(lb)) => {
            let (sa, sb) = (Source::file_or_link(&la, a), Source::file_or_link(&lb, b));
            compare_bytes(&mut diff, &Nesting::default(), sa, sb, archive::Walk::top(&budget));
        }
        (la, lb) => {
            diff.format = "missing".into();
            let state = |d: &Option<_>| if d.is_some() { "present" } else { "missing" };
            diff.add(Detail {
                scope: Scope::top(Layer::File),
                field: Field::Presence,
                a: state(&la).into(),
                b: state(&lb).into(),
            });
        }
    }
    if budget.exhausted() {
        diff.add(Detail {
            scope: Scope::top(Layer::File),
            field: Field::DecompressionBudget,
            a: format!("{} MiB used up", budget.total() >> 20),
            b: "what lies deeper is not compared".into(),
        });
    }
    if diff.details_total > diff.details.len() as u64 {
        diff.truncated = true;
    }
    if diff.details.len() > REPORT_DETAILS {
        diff.details_file = Some(details_file_name(&diff));
    }
    diff.hints = hints::for_diff(&diff, context, a, b);
    Ok(diff)
}

/// The structured diff of one output between two runs: what the entries
/// themselves say differs (type, every mode bit, xattrs) and, when the
/// bytes differ, [`diff_files`] of the two copies. A directory's bytes are
/// never read; a file whose digest is the same in both runs is not diffed.
pub fn diff_outputs(
    path: &str,
    runs: (u32, u32),
    (ea, eb): (Option<&OutputEntry>, Option<&OutputEntry>),
    (a, b): (&Path, &Path),
    context: &DiffContext,
) -> Result<FileDiff> {
    let same_bytes = match (ea, eb) {
        (Some(OutputEntry::File { sha256: x, .. }), Some(OutputEntry::File { sha256: y, .. })) => x == y,
        (Some(OutputEntry::Directory { .. }), _) | (_, Some(OutputEntry::Directory { .. })) => true,
        _ => false,
    };
    let mut diff = match same_bytes {
        true => FileDiff::new(path, runs),
        false => diff_files(path, runs, a, b, context)?,
    };
    let (attrs_a, attrs_b) = (entry_attributes(ea), entry_attributes(eb));
    for (field, x) in &attrs_a {
        let y = attrs_b.get(field).cloned().unwrap_or_default();
        if *x != y {
            diff.add(Detail { scope: Scope::top(Layer::File), field: field.clone(), a: x.clone(), b: y });
        }
    }
    for (field, y) in attrs_b.iter().filter(|(f, _)| !attrs_a.contains_key(*f)) {
        let scope = Scope::top(Layer::File);
        diff.add(Detail { scope, field: field.clone(), a: String::new(), b: y.clone() });
    }
    if same_bytes {
        diff.format = "file".into();
    }
    diff.hints = hints::for_diff(&diff, context, a, b);
    Ok(diff)
}

/// An output entry's type, mode and xattrs as diff fields.
fn entry_attributes(entry: Option<&OutputEntry>) -> BTreeMap<Field, String> {
    let mut fields = BTreeMap::new();
    let (kind, mode, xattrs) = match entry {
        None => ("missing", None, None),
        Some(OutputEntry::File { mode, xattrs, .. }) => ("file", mode.as_ref(), Some(xattrs)),
        Some(OutputEntry::Directory { mode, xattrs }) => ("directory", Some(mode), Some(xattrs)),
        Some(OutputEntry::Symlink { .. }) => ("symlink", None, None),
    };
    fields.insert(Field::Type, kind.to_string());
    if let Some(mode) = mode {
        fields.insert(Field::Mode, mode.clone());
    }
    for (name, value) in xattrs.into_iter().flatten() {
        fields.insert(Field::Xattr(name.clone()), value.clone());
    }
    fields
}

/// Where every detail of `diff` is written beside report.json when there
/// are more than report.json lists: `details/<runs>/<path>.json`, the path
/// flattened and made unique.
fn details_file_name(diff: &FileDiff) -> String {
    let flat: String = diff
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
        .collect();
    // A file name stays short whatever the path: the tag keeps it unique.
    let flat: String = flat.chars().rev().take(100).collect::<Vec<_>>().into_iter().rev().collect();
    let tag = &hex::encode(sha2::Sha256::digest(diff.path.as_bytes()))[..8];
    format!("details/{}-{}/{flat}-{tag}.json", diff.runs.0, diff.runs.1)
}

/// Compares two versions of something, looking inside the formats it
/// recognises. `prefix` is where they are nested; `walk` bounds depth and
/// decompression.
fn compare_bytes(diff: &mut FileDiff, prefix: &Nesting, a: Source, b: Source, walk: archive::Walk) {
    let (head_a, head_b) = (a.head(HEAD), b.head(HEAD));
    let (format_a, format_b) = (format::sniff(&head_a), format::sniff(&head_b));
    if walk.depth == 0 {
        diff.format = format_a.name().to_string();
    }
    let before = diff.details.len() as u64 + diff.dropped();
    if format_a != format_b {
        diff.add(Detail {
            scope: prefix.at(Layer::File),
            field: Field::Format,
            a: format_a.name().into(),
            b: format_b.name().into(),
        });
    } else if format_a != Format::Other && walk.depth >= archive::MAX_DEPTH {
        diff.add(Detail {
            scope: prefix.at(Layer::Format(format_a)),
            field: Field::Payload,
            a: "not opened: nested too deep".into(),
            b: String::new(),
        });
    } else if format_a != Format::Other {
        let inside = archive::compare_archives(diff, prefix, a, b, walk);
        if let (false, Some(compression)) = (inside, format_a.compression()) {
            archive::compare_payloads(diff, prefix, compression, (a, b), (&head_a, &head_b), walk);
        }
        if inside && diff.details.len() as u64 + diff.dropped() == before {
            // Every member and every field read agree: what differs is the
            // compressed stream, or header bytes no extractor applies
            // (extension-header names, field padding, checksum spacing).
            // Both files are read once more, only in this case.
            let offset = leaf::first_differing_offset(a, b);
            if a.size() == b.size() && offset == Some(a.size()) {
                return; // the same bytes
            }
            let field =
                if format_a.compression().is_some() { Field::CompressedStream } else { Field::HeaderBytes };
            let at = offset.map_or("?".into(), |o| o.to_string());
            diff.add(Detail {
                scope: prefix.at(Layer::Bytes),
                field,
                a: "same members and fields".into(),
                b: format!("the bytes differ from offset {at}"),
            });
            return;
        }
    }
    if diff.details.len() as u64 + diff.dropped() > before {
        return;
    }
    // Nothing inside told them apart (or they are not archives).
    if elf::is_elf(&head_a) && elf::is_elf(&head_b) {
        if let (Some(xa), Some(xb)) = (a.read(elf::MAX_ELF), b.read(elf::MAX_ELF)) {
            if walk.depth == 0 {
                diff.format = "elf".into();
            }
            let before = diff.details_total;
            if elf::compare(diff, prefix, (&xa, &xb), walk.budget) && diff.details_total > before {
                return;
            }
        }
    }
    let texts = (a.size().max(b.size()) <= MAX_TEXT as u64)
        .then(|| (a.read(MAX_TEXT as u64), b.read(MAX_TEXT as u64)));
    if let Some((Some(ta), Some(tb))) = texts {
        if let (Some(ta), Some(tb)) = (leaf::as_text(&ta), leaf::as_text(&tb)) {
            if walk.depth == 0 && diff.format == "binary" {
                diff.format = "text".into();
            }
            leaf::text_diff(diff, prefix, ta, tb);
            return;
        }
    }
    leaf::first_difference(diff, prefix, a, b);
}

impl FileDiff {
    /// A few lines for the terminal: the counts by kind, then up to
    /// `max_details` details with every kind among them.
    pub fn summary(&self, max_details: usize) -> String {
        let mut s = match self.runs {
            (0, run) => format!("    {} (reference and run {run}):\n", self.format),
            (a, b) => format!("    {} (runs {a} and {b}):\n", self.format),
        };
        if self.details_total > 1 {
            s.push_str(&format!("      {} differences: {}\n", self.details_total, self.counts_line()));
        }
        let shown = self.sample(max_details);
        for d in &shown {
            s.push_str(&format!("      {}: {}: {} -> {}\n", d.scope, d.field, d.a, d.b));
        }
        if self.details_total > shown.len() as u64 {
            s.push_str(&format!(
                "      … {} more in {}\n",
                self.details_total - shown.len() as u64,
                self.rest_is_in()
            ));
        }
        if let Some(text) = &self.text_diff {
            // The text with a date in it, if any: where a fix is needed.
            let dated = self.dated_texts.first().and_then(|scope| {
                let prefix = Some(&scope.within).filter(|p| scope.at == Layer::Text && !p.is_empty())?;
                let start = text.find(&format!("{prefix}:\n"))?;
                Some(&text[start..])
            });
            let quoted = dated.unwrap_or(text);
            if let Some(scope) = dated.and(self.dated_texts.first()) {
                s.push_str(&format!("      {scope}:\n"));
            }
            // One text, from its first hunk to the next text's `scope:` line.
            let body = quoted
                .lines()
                .skip_while(|l| !l.starts_with("@@"))
                .take_while(|l| l.is_empty() || l.starts_with([' ', '+', '-', '@']));
            for line in body.take(8) {
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
