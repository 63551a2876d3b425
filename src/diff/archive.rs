//! Comparing inside archives: tar (plain or compressed), ar (`.deb`) and
//! zip, member by member, and the gzip headers around them. Archives are
//! listed as streams ([`super::streamed`]); only members whose digests
//! differ are fetched, so memory holds digests, not archives.

use super::budget::Budget;
use super::streamed::{list, Keep, Listing, Source};
use super::{compare_bytes, scoped, Detail, FileDiff};
use sha2::{Digest as _, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Zip,
    Tar,
    Ar,
    Other,
}

impl Format {
    /// The compression layer this format is, if it is one.
    pub fn compression(self) -> Option<crate::decompress::Compression> {
        use crate::decompress::Compression;
        match self {
            Format::Gzip => Some(Compression::Gzip),
            Format::Xz => Some(Compression::Xz),
            Format::Zstd => Some(Compression::Zstd),
            Format::Bzip2 => Some(Compression::Bzip2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Bzip2 => "bzip2",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Ar => "ar",
            Format::Other => "binary",
        }
    }
}

/// The format `data` starts with (compression magic as the source
/// tarballs' decompressor reads it).
pub fn sniff(data: &[u8]) -> Format {
    use crate::decompress::Compression;
    if let Some(compression) = Compression::sniff(data) {
        match compression {
            Compression::Gzip => Format::Gzip,
            Compression::Xz => Format::Xz,
            Compression::Zstd => Format::Zstd,
            Compression::Bzip2 => Format::Bzip2,
        }
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if (data.len() >= 262 && &data[257..262] == b"ustar") || is_v7_tar_header(data) {
        Format::Tar
    } else if data.starts_with(b"!<arch>\n") {
        Format::Ar
    } else {
        Format::Other
    }
}

/// Whether `data` starts with a pre-POSIX (v7) tar header, which has no
/// magic: a name, and a checksum field that matches the header's bytes.
/// automake's `make dist` writes this format by default (GNU hello 2.10).
fn is_v7_tar_header(data: &[u8]) -> bool {
    let Some(header) = data.get(..512) else { return false };
    if header[0] == 0 {
        return false;
    }
    let field = String::from_utf8_lossy(&header[148..156]);
    let Ok(recorded) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8) else {
        return false;
    };
    // The sum of the header's bytes with the checksum field read as spaces.
    let sum: u32 =
        header.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { *b as u32 }).sum();
    sum == recorded
}

/// Bytes of differing members held at once per side at the top level
/// (halved at each level deeper); a larger member is compared by digest.
const HOLD: u64 = 48 << 20;
/// Largest compressed payload that is not an archive decompressed to compare.
const MAX_PAYLOAD: u64 = 32 << 20;

/// Compares two archives of the same kind (under the same compression
/// layers) member by member; false when either is not an archive read
/// here, and the caller compares them some other way.
pub(crate) fn compare_archives(diff: &mut FileDiff, prefix: &str, a: Source, b: Source, walk: Walk) -> bool {
    let Some((la, lb)) = list_both(a, b, walk) else { return false };
    let (name_a, name_b) = (describe(&la), describe(&lb));
    if name_a != name_b {
        diff.add(Detail { scope: scoped(prefix, "archive"), field: "format".into(), a: name_a, b: name_b });
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
    let kind = la.kind.name();
    let stopped = (la.stopped.clone(), lb.stopped.clone());
    if la.problems != lb.problems {
        let scope = scoped(prefix, kind);
        push(diff, scope, "ambiguous", la.problems.join("; "), lb.problems.join("; "));
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
        match first.fields.get("header format").map(String::as_str) {
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
        name.push_str(layer.format.name());
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
            let again = Budget::new(listing.spent);
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
    prefix: &str,
    format: Format,
    (a, b): (Source, Source),
    (head_a, head_b): (&[u8], &[u8]),
    walk: Walk,
) {
    if let (Some(ha), Some(hb)) = (gzip_header_fields(head_a), gzip_header_fields(head_b)) {
        gzip_header(diff, prefix, &ha, &hb);
    }
    let name = format.name();
    match (peel_source(format, a, walk.budget), peel_source(format, b, walk.budget)) {
        (Some(da), Some(db)) if da == db => {}
        (Some(da), Some(db)) => {
            let scope = scoped(prefix, &format!("{name} payload"));
            compare_bytes(diff, &scope, Source::Bytes(&da), Source::Bytes(&db), walk.deeper());
        }
        _ => diff.add(Detail {
            scope: scoped(prefix, name),
            field: "payload".into(),
            a: format!("not compared: unreadable, or over {} MiB decompressed", MAX_PAYLOAD >> 20),
            b: String::new(),
        }),
    }
}

fn gzip_header(diff: &mut FileDiff, prefix: &str, ha: &GzipHeader, hb: &GzipHeader) {
    let scope = scoped(prefix, "gzip header");
    for ((field, x), (_, y)) in ha.iter().zip(hb) {
        if x != y {
            diff.add(Detail { scope: scope.clone(), field: (*field).into(), a: x.clone(), b: y.clone() });
        }
    }
}

/// A gzip header's mtime, original name and OS byte.
pub(crate) type GzipHeader = [(&'static str, String); 3];

/// The gzip header's mtime, original name and OS byte.
pub(crate) fn gzip_header_fields(data: &[u8]) -> Option<GzipHeader> {
    let decoder = flate2::read::GzDecoder::new(data);
    let h = decoder.header()?;
    let name = h.filename().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
    Some([("mtime", h.mtime().to_string()), ("name", name), ("os", h.operating_system().to_string())])
}

/// What `source` holds under one compression layer, at most [`MAX_PAYLOAD`]
/// and drawn from `budget`; `None` when it is not compressed, cannot be
/// read, or does not fit.
pub(crate) fn peel_source(format: Format, source: Source, budget: &Budget) -> Option<Vec<u8>> {
    let reader = format.compression()?.decoder(source.reader()?).ok()?;
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

/// An archive's members in archive order, with their names.
pub(crate) type Members = Vec<(String, Member)>;

/// What is compared of one archive member.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Header fields by name: `type`, `mode`, `uid`, `mtime`, `link`, ...
    pub fields: BTreeMap<Cow<'static, str>, String>,
    /// The content; `None` when it could not be read within the caps.
    pub(crate) content: Option<Vec<u8>>,
    /// Hex sha256 of the content (empty when unreadable).
    pub content_hash: String,
    /// Constructs extractors read differently (a repeated pax key, a GNU
    /// long name that disagrees with a pax path, a zip local header that
    /// disagrees with its central record, …): readers may write different
    /// files from it, so nothing about it can be trusted.
    pub problems: Vec<String>,
}

impl Member {
    pub(crate) fn with_content(mut self, content: Option<Vec<u8>>) -> Member {
        self.content_hash = content.as_ref().map(|c| hex::encode(Sha256::digest(c))).unwrap_or_default();
        self.content = content;
        self
    }

    /// A member whose content was hashed as it streamed past, not kept.
    pub(crate) fn with_hash(mut self, content_hash: Option<String>) -> Member {
        self.content_hash = content_hash.unwrap_or_default();
        self.content = None;
        self
    }

    /// Whether two members agree in fields, content digest and problems
    /// (whether their content happens to be held does not matter).
    pub(crate) fn same_as(&self, other: &Member) -> bool {
        self.fields == other.fields
            && self.content_hash == other.content_hash
            && self.problems == other.problems
    }

    /// Whether the content could be read (and so its hash is known).
    pub fn readable(&self) -> bool {
        !self.content_hash.is_empty()
    }
}

/// For tests: the members of a tar (plain or compressed), zip or ar archive held in
/// memory, in archive order (every copy of a repeated name kept), each with
/// its content (copies drawn from `budget`); `None` for anything else.
#[cfg(test)]
pub(crate) fn listing(data: &[u8], budget: &Budget) -> Option<Listing> {
    let keep = Keep { wanted: &|_| true, hold: budget.left() };
    let listed = list(Source::Bytes(data), budget, &keep)?;
    let held: u64 =
        listed.members.iter().filter_map(|(_, m)| m.content.as_ref()).map(|c| c.len() as u64).sum();
    budget.charge(held).then_some(listed)
}

/// Zip members from the central directory, record by record (a repeated
/// name stays visible), drawing what it decompresses from `budget`, and
/// what makes the archive as a whole ambiguous.
pub(crate) fn zip_members(data: &[u8], budget: &Budget) -> Option<(Members, Vec<String>)> {
    use super::zip_listing::{dos_datetime, host_name, records};
    let (records, problems, archive_comment) = records(data, budget)?;
    let members = records
        .into_iter()
        .map(|r| {
            let mut m = Member::default();
            let mut put = |k: Cow<'static, str>, v: String| {
                m.fields.insert(k, v);
            };
            put("mtime".into(), dos_datetime(r.dos_time));
            put("type".into(), r.file_type().into());
            // Type and mode as `unzip` applies them; the DOS bits too.
            put("mode".into(), format!("{:06o}", r.external >> 16));
            put("dos attributes".into(), format!("{:#06x}", r.external & 0xffff));
            put("made by".into(), host_name(r.made_by_host));
            put("version made by".into(), r.versions.0.to_string());
            put("version needed".into(), r.versions.1.to_string());
            put("method".into(), r.method.to_string());
            put("compression flags".into(), format!("{:#06x}", r.flags & 0x000e));
            put("utf-8 name flag".into(), (r.flags & 0x0800 != 0).to_string());
            if r.flags & !0x080e != 0 {
                put("flags".into(), format!("{:#06x}", r.flags & !0x080e));
            }
            put("size".into(), r.size.to_string());
            put("compressed size".into(), r.compressed.to_string());
            // Comments are written by no extractor, but they are not in
            // what a content match may ignore, so they are compared.
            if !r.comment.is_empty() {
                put("comment".into(), r.comment.clone());
            }
            if !archive_comment.is_empty() {
                put("archive comment".into(), archive_comment.clone());
            }
            for (id, value) in &r.extra {
                put(Cow::Owned(format!("extra {}", extra_name(*id))), value.clone());
            }
            m.problems = r.problems;
            (r.name, m.with_content(r.content))
        })
        .collect();
    Some((members, problems))
}

/// A zip extra field's id, with its name when it is a known one.
fn extra_name(id: u16) -> String {
    let name = match id {
        0x5455 => " (extended timestamp)",
        0x7875 => " (Unix UID/GID)",
        0x5855 => " (Info-ZIP Unix, old)",
        0x000a => " (NTFS times)",
        0x7075 => " (Unicode path)",
        0x6375 => " (Unicode comment)",
        0x0001 => " (zip64)",
        _ => "",
    };
    format!("{id:#06x}{name}")
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
    prefix: &str,
    kind: &str,
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
    let scope_of = |name: &str| scoped(prefix, &format!("{kind} entry {name}"));
    let told = |why: &Option<String>, n: usize| match why {
        None => String::new(),
        Some(why) => format!("stopped after {n} members: {why}"),
    };
    if complete != (true, true) {
        push(diff, scoped(prefix, kind), "listing", told(&stopped.0, a.len()), told(&stopped.1, b.len()));
    } else if sorted_a == sorted_b && names_a != names_b {
        let show = |v: &[&String]| v.iter().take(6).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        push(diff, scoped(prefix, kind), "order", show(&names_a), show(&names_b));
    }
    if complete.1 {
        for name in copies_a.keys().filter(|n| !copies_b.contains_key(*n)) {
            push(diff, scope_of(name), "presence", "present".into(), "missing".into());
        }
    }
    if complete.0 {
        for name in copies_b.keys().filter(|n| !copies_a.contains_key(*n)) {
            push(diff, scope_of(name), "presence", "missing".into(), "present".into());
        }
    }
    for (side, list) in [("a", &a), ("b", &b)] {
        for (name, m) in list.iter().filter(|(_, m)| !m.problems.is_empty()) {
            let problem = m.problems.join("; ");
            let (x, y) = if side == "a" { (problem, String::new()) } else { (String::new(), problem) };
            push(diff, scope_of(name), "ambiguous", x, y);
        }
    }
    for (name, in_a) in &copies_a {
        let Some(in_b) = copies_b.get(name) else { continue };
        if in_a.len() > 1 || in_b.len() > 1 {
            let (da, db) = (describe_copies(in_a), describe_copies(in_b));
            if da != db {
                push(diff, scope_of(name), "copies", da, db);
            }
        }
        let (ma, mb) = (in_a[in_a.len() - 1], in_b[in_b.len() - 1]);
        let scope = scope_of(name);
        for (field, va) in &ma.fields {
            let vb = mb.fields.get(field).cloned().unwrap_or_default();
            if *va != vb {
                push(diff, scope.clone(), field, va.clone(), vb);
            }
        }
        for (field, vb) in mb.fields.iter().filter(|(f, _)| !ma.fields.contains_key(*f)) {
            push(diff, scope.clone(), field, String::new(), vb.clone());
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
            push(diff, scope.clone(), "content", short(ma), short(mb));
            if let (true, Some(ca), Some(cb)) = (walk.depth < MAX_DEPTH, &ma.content, &mb.content) {
                compare_bytes(diff, &scope, Source::Bytes(ca), Source::Bytes(cb), walk.deeper());
            }
        }
    }
}

/// Every copy of each name, in archive order.
pub(crate) fn copies(members: &[(String, Member)]) -> BTreeMap<&str, Vec<&Member>> {
    let mut map: BTreeMap<&str, Vec<&Member>> = BTreeMap::new();
    for (name, m) in members {
        map.entry(name.as_str()).or_default().push(m);
    }
    map
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

fn push(diff: &mut FileDiff, scope: String, field: &str, a: String, b: String) {
    diff.add(Detail { scope, field: field.into(), a, b });
}
