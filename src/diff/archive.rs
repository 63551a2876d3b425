//! Comparing inside archives: tar (plain or compressed), ar (`.deb`) and
//! zip, member by member, and the gzip headers around them. Archives are
//! listed as streams ([`super::streamed`]); only members whose digests
//! differ are fetched, so memory holds digests, not archives.

use super::budget::Budget;
use super::format::{ArchiveKind, Format};
use super::member::{copies, Member, Members};
use super::scope::{Field, Layer, Nesting, Scope};
use super::streamed::{gzip_header_fields, list, GzipHeader, Keep, Listing, Source};
use super::{compare_bytes, Detail, FileDiff};
use crate::decompress::Compression;
use std::collections::{BTreeMap, BTreeSet};

/// Bytes of differing members held at once per side at the top level
/// (halved at each level deeper); a larger member is compared by digest.
const HOLD: u64 = 48 << 20;
/// Largest compressed payload that is not an archive decompressed to compare.
const MAX_PAYLOAD: u64 = 32 << 20;

/// Compares two archives of the same kind (under the same compression
/// layers) member by member; false when either is not an archive read
/// here, and the caller compares them some other way.
pub(crate) fn compare_archives(
    diff: &mut FileDiff,
    prefix: &Nesting,
    a: Source,
    b: Source,
    walk: Walk,
) -> bool {
    let Some((la, lb)) = list_both(a, b, walk) else { return false };
    let (name_a, name_b) = (describe(&la), describe(&lb));
    if name_a != name_b {
        push(diff, prefix.at(Layer::Archive), Field::Format, name_a, name_b);
        return true;
    }
    if walk.depth == 0 && prefix.is_empty() {
        diff.format = name_a;
        diff.packed_by = packer_traits(&la);
        diff.generator = la.generator.clone().or_else(|| lb.generator.clone());
    }
    for (x, y) in la.layers.iter().zip(&lb.layers) {
        if let (Some(ha), Some(hb)) = (&x.gzip_header, &y.gzip_header) {
            gzip_header(diff, prefix, ha, hb);
        }
    }
    let kind = la.kind;
    let stopped = (la.stopped.clone(), lb.stopped.clone());
    if la.problems != lb.problems {
        let scope = prefix.at(Layer::Format(Format::Archive(kind)));
        push(diff, scope, Field::Ambiguous, la.problems.join("; "), lb.problems.join("; "));
    }
    let (ma, mb) = fetch_differing((a, la), (b, lb), walk);
    members(diff, prefix, kind, (ma, mb), stopped, walk);
    true
}

/// Both versions listed (digests, nothing kept), one thread each:
/// decompressing and hashing dominate. `None` unless both are archives.
pub(crate) fn list_both(a: Source, b: Source, walk: Walk) -> Option<(Listing, Listing)> {
    let (la, lb) = std::thread::scope(|threads| {
        let other = threads.spawn(|| list(b, walk.budget, &Keep::NOTHING));
        (list(a, walk.budget, &Keep::NOTHING), other.join().ok().flatten())
    });
    Some((la?, lb?))
}

/// What an archive's own layout says about the tool that wrote it.
fn packer_traits(listing: &Listing) -> BTreeSet<&'static str> {
    let mut traits = BTreeSet::new();
    if let Some((_, first)) = listing.members.first() {
        match first.fields.get(&Field::HeaderFormat).map(String::as_str) {
            Some("v7") => traits.insert("tar:v7"),
            Some("gnu") => traits.insert("tar:gnu"),
            Some("ustar") => traits.insert("tar:ustar"),
            _ => false,
        };
    }
    for (name, _) in &listing.members {
        let depth = name.trim_start_matches("./").trim_end_matches('/').matches('/').count();
        if name.ends_with("PKG-INFO") && depth <= 1 {
            traits.insert("python-sdist");
        }
        if name.ends_with(".dist-info/WHEEL") && depth == 1 {
            traits.insert("python-wheel");
        }
    }
    traits
}

/// `tar+gzip`, `ar`, `tar+xz+gzip` (innermost first).
pub(crate) fn describe(listing: &Listing) -> String {
    let mut name = listing.kind.name().to_string();
    for layer in listing.layers.iter().rev() {
        name.push('+');
        name.push_str(layer.compression.name());
    }
    name
}

/// The two listings with the content of each member whose digest differs
/// from its counterpart's, fetched by a second pass over each archive
/// (within what may be held at this depth).
pub(crate) fn fetch_differing<'s>(
    (a, mut la): (Source<'s>, Listing),
    (b, mut lb): (Source<'s>, Listing),
    walk: Walk,
) -> (Members, Members) {
    let (last_a, last_b) = (last_copies(&la.members), last_copies(&lb.members));
    let (mut want_a, mut want_b) = (BTreeSet::new(), BTreeSet::new());
    for (name, &ia) in &last_a {
        let Some(&ib) = last_b.get(name) else { continue };
        let (x, y) = (&la.members[ia].1, &lb.members[ib].1);
        if x.readable() && y.readable() && x.content_hash != y.content_hash {
            want_a.insert(ia);
            want_b.insert(ib);
        }
    }
    if walk.depth < MAX_DEPTH && !want_a.is_empty() {
        let hold = HOLD >> walk.depth;
        for (source, listing, wanted) in [(a, &mut la, &want_a), (b, &mut lb, &want_b)] {
            // The same bytes again: bounded by what the first pass read.
            let again = Budget::new(listing.spent).interrupted_by(walk.budget.interrupt());
            let keep = Keep { wanted: &|i| wanted.contains(&i), hold };
            let Some(fetched) = list(source, &again, &keep) else { continue };
            for ((_, m), (_, f)) in listing.members.iter_mut().zip(fetched.members) {
                if f.content.is_some() && f.content_hash == m.content_hash {
                    m.content = f.content;
                }
            }
        }
    }
    (la.members, lb.members)
}

/// The position of the last copy of each name (the one extraction keeps).
fn last_copies(members: &[(String, Member)]) -> BTreeMap<&str, usize> {
    members.iter().enumerate().map(|(i, (name, _))| (name.as_str(), i)).collect()
}

/// Compares what two compressed files hold when it is not an archive:
/// the gzip headers, then the payloads (each up to [`MAX_PAYLOAD`]).
pub(crate) fn compare_payloads(
    diff: &mut FileDiff,
    prefix: &Nesting,
    compression: Compression,
    (a, b): (Source, Source),
    (head_a, head_b): (&[u8], &[u8]),
    walk: Walk,
) {
    if let (Some(ha), Some(hb)) = (gzip_header_fields(head_a), gzip_header_fields(head_b)) {
        gzip_header(diff, prefix, &ha, &hb);
    }
    match (peel_source(compression, a, walk.budget), peel_source(compression, b, walk.budget)) {
        (Some(da), Some(db)) if da == db => {}
        (Some(da), Some(db)) => {
            let inside = prefix.inside(Layer::Payload(compression));
            compare_bytes(diff, &inside, Source::Bytes(&da), Source::Bytes(&db), walk.deeper());
        }
        _ => push(
            diff,
            prefix.at(Layer::Format(Format::Compressed(compression))),
            Field::Payload,
            format!("not compared: unreadable, or over {} MiB decompressed", MAX_PAYLOAD >> 20),
            String::new(),
        ),
    }
}

fn gzip_header(diff: &mut FileDiff, prefix: &Nesting, ha: &GzipHeader, hb: &GzipHeader) {
    let scope = prefix.at(Layer::GzipHeader);
    for ((field, x), (_, y)) in ha.iter().zip(hb) {
        if x != y {
            push(diff, scope.clone(), field.clone(), x.clone(), y.clone());
        }
    }
}

/// What `source` holds under one compression layer, at most [`MAX_PAYLOAD`]
/// and drawn from `budget`; `None` when it is not compressed, cannot be
/// read, or does not fit.
pub(crate) fn peel_source(compression: Compression, source: Source, budget: &Budget) -> Option<Vec<u8>> {
    let reader = compression.decoder(source.reader()?).ok()?;
    budget.read_at_most(reader, MAX_PAYLOAD)
}

/// Nesting levels (compression layers and archives) opened at most.
pub(crate) const MAX_DEPTH: u8 = 4;

/// Where a comparison is: how deep, and what it may still decompress.
#[derive(Clone, Copy)]
pub(crate) struct Walk<'b> {
    /// Nesting levels opened so far.
    pub depth: u8,
    /// Shared by every level of both versions.
    pub budget: &'b Budget,
}

impl<'b> Walk<'b> {
    /// The top of an output.
    pub fn top(budget: &'b Budget) -> Walk<'b> {
        Walk { depth: 0, budget }
    }

    /// One level deeper.
    pub fn deeper(self) -> Walk<'b> {
        Walk { depth: self.depth.saturating_add(1), ..self }
    }
}

/// Compares archive members: order, presence, repeated names, metadata,
/// content; recurses one level into differing members that are archives
/// themselves. Where a name repeats, the last copy (the one extraction
/// leaves on disk) is compared, and the repetition is a detail of its own.
///
/// A listing cut short (by the budget, or at a header too large to
/// compare: `stopped` says why) knows nothing of the members past where it
/// stopped: their absence is not a difference, and the order is not
/// compared; one `listing` detail says where and why it stopped.
fn members(
    diff: &mut FileDiff,
    prefix: &Nesting,
    kind: ArchiveKind,
    (a, b): (Members, Members),
    stopped: (Option<String>, Option<String>),
    walk: Walk,
) {
    let complete = (stopped.0.is_none(), stopped.1.is_none());
    let names_a: Vec<&String> = a.iter().map(|(n, _)| n).collect();
    let names_b: Vec<&String> = b.iter().map(|(n, _)| n).collect();
    let (copies_a, copies_b) = (copies(&a), copies(&b));
    let mut sorted_a = names_a.clone();
    sorted_a.sort();
    let mut sorted_b = names_b.clone();
    sorted_b.sort();
    let scope_of = |name: &str| prefix.at(Layer::Entry(kind, name.to_string()));
    let whole = prefix.at(Layer::Format(Format::Archive(kind)));
    let told = |why: &Option<String>, n: usize| match why {
        None => String::new(),
        Some(why) => format!("stopped after {n} members: {why}"),
    };
    if complete != (true, true) {
        push(diff, whole, Field::Listing, told(&stopped.0, a.len()), told(&stopped.1, b.len()));
    } else if sorted_a == sorted_b && names_a != names_b {
        let show = |v: &[&String]| v.iter().take(6).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        push(diff, whole, Field::Order, show(&names_a), show(&names_b));
    }
    if complete.1 {
        for name in copies_a.keys().filter(|n| !copies_b.contains_key(*n)) {
            push(diff, scope_of(name), Field::Presence, "present".into(), "missing".into());
        }
    }
    if complete.0 {
        for name in copies_b.keys().filter(|n| !copies_a.contains_key(*n)) {
            push(diff, scope_of(name), Field::Presence, "missing".into(), "present".into());
        }
    }
    for (side, list) in [("a", &a), ("b", &b)] {
        for (name, m) in list.iter().filter(|(_, m)| !m.problems.is_empty()) {
            let problem = m.problems.join("; ");
            let (x, y) = if side == "a" { (problem, String::new()) } else { (String::new(), problem) };
            push(diff, scope_of(name), Field::Ambiguous, x, y);
        }
    }
    for (name, in_a) in &copies_a {
        let Some(in_b) = copies_b.get(name) else { continue };
        if in_a.len() > 1 || in_b.len() > 1 {
            let (da, db) = (describe_copies(in_a), describe_copies(in_b));
            if da != db {
                push(diff, scope_of(name), Field::Copies, da, db);
            }
        }
        let (ma, mb) = (in_a[in_a.len() - 1], in_b[in_b.len() - 1]);
        let scope = scope_of(name);
        for (field, va) in &ma.fields {
            let vb = mb.fields.get(field).cloned().unwrap_or_default();
            if *va != vb {
                push(diff, scope.clone(), field.clone(), va.clone(), vb);
            }
        }
        for (field, vb) in mb.fields.iter().filter(|(f, _)| !ma.fields.contains_key(*f)) {
            push(diff, scope.clone(), field.clone(), String::new(), vb.clone());
        }
        let short = |m: &Member| match m.readable() {
            true if m.content.is_none() && walk.depth < MAX_DEPTH => {
                format!(
                    "sha256:{}… (not opened: over the {} MiB held at once)",
                    &m.content_hash[..12],
                    (HOLD >> walk.depth) >> 20
                )
            }
            true => format!("sha256:{}…", &m.content_hash[..12]),
            false => "unreadable (over the size cap or damaged)".to_string(),
        };
        if !(ma.readable() && mb.readable() && ma.content_hash == mb.content_hash) {
            push(diff, scope.clone(), Field::Content, short(ma), short(mb));
            if let (true, Some(ca), Some(cb)) = (walk.depth < MAX_DEPTH, &ma.content, &mb.content) {
                compare_bytes(diff, &scope.path(), Source::Bytes(ca), Source::Bytes(cb), walk.deeper());
            }
        }
    }
}

/// `1 copy`, `2 copies (identical)`, `2 copies that differ`.
fn describe_copies(copies: &[&Member]) -> String {
    match copies {
        [_] => "1 copy".to_string(),
        [first, rest @ ..] if rest.iter().all(|m| m.same_as(first)) => {
            format!("{} copies (identical)", copies.len())
        }
        _ => format!("{} copies that differ; extraction keeps the last", copies.len()),
    }
}

fn push(diff: &mut FileDiff, scope: Scope, field: Field, a: String, b: String) {
    diff.add(Detail { scope, field, a, b });
}
