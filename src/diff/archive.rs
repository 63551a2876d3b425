//! Reading inside archives: tar (plain or compressed), gzip headers, zip.

use super::budget::Budget;
use super::{compare_bytes, scoped, Detail, FileDiff};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Xz,
    Zstd,
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
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Ar => "ar",
            Format::Other => "binary",
        }
    }
}

pub fn sniff(data: &[u8]) -> Format {
    if data.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Format::Xz
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
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

/// Adds what differs inside two archives of the same `format`.
/// `depth` counts every nesting level, compression layers included.
pub fn compare(diff: &mut FileDiff, prefix: &str, format: Format, a: &[u8], b: &[u8], walk: Walk) {
    match format {
        Format::Gzip => {
            gzip_header(diff, prefix, a, b);
            decompressed(diff, prefix, Format::Gzip, a, b, walk);
        }
        Format::Xz | Format::Zstd => decompressed(diff, prefix, format, a, b, walk),
        Format::Zip => zip(diff, prefix, a, b, walk),
        Format::Tar => tar(diff, prefix, a, b, walk),
        Format::Ar => ar(diff, prefix, a, b, walk),
        Format::Other => {}
    }
}

/// Compares the decompressed payloads (which may be tar, text, ...).
fn decompressed(diff: &mut FileDiff, prefix: &str, format: Format, a: &[u8], b: &[u8], walk: Walk) {
    let name = format.name();
    let decoded = match walk.depth < MAX_DEPTH {
        true => peel(format, a, walk.budget).and_then(|da| Some((da, peel(format, b, walk.budget)?))),
        false => None,
    };
    let Some((da, db)) = decoded else {
        let why = match walk.depth < MAX_DEPTH {
            true => "unreadable, or over the decompression budget",
            false => "not opened: nested too deep",
        };
        diff.details.push(Detail {
            scope: scoped(prefix, name),
            field: "payload".into(),
            a: why.into(),
            b: String::new(),
        });
        return;
    };
    let depth = walk.depth;
    if da == db {
        return;
    }
    let inner = sniff(&da);
    if depth == 0 && prefix.is_empty() && inner != Format::Other {
        diff.format = format!("{}+{name}", inner.name());
    }
    let before = diff.details.len();
    if inner == sniff(&db) && inner != Format::Other {
        compare(diff, prefix, inner, &da, &db, walk.deeper());
    }
    if diff.details.len() == before {
        compare_bytes(diff, &scoped(prefix, &format!("{name} payload")), &da, &db, walk.deeper());
    }
}

fn gzip_header(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8]) {
    let (Some(ha), Some(hb)) = (gzip_header_fields(a), gzip_header_fields(b)) else { return };
    let scope = scoped(prefix, "gzip header");
    for ((field, x), (_, y)) in ha.into_iter().zip(hb) {
        if x != y {
            diff.details.push(Detail { scope: scope.clone(), field: field.into(), a: x, b: y });
        }
    }
}

/// The gzip header's mtime, original name and OS byte.
pub(crate) fn gzip_header_fields(data: &[u8]) -> Option<[(&'static str, String); 3]> {
    let decoder = flate2::read::GzDecoder::new(data);
    let h = decoder.header()?;
    let name = h.filename().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
    Some([("mtime", h.mtime().to_string()), ("name", name), ("os", h.operating_system().to_string())])
}

/// `data` with one compression layer removed, drawn from `budget`; `None`
/// when it is not compressed, cannot be read, or does not fit.
pub(crate) fn peel(format: Format, data: &[u8], budget: &Budget) -> Option<Vec<u8>> {
    budget.read(format.compression()?.decoder(data).ok()?)
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

/// What is compared of one archive member.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Header fields by name: `type`, `mode`, `uid`, `mtime`, `link`, ...
    pub fields: BTreeMap<&'static str, String>,
    /// The content; `None` when it could not be read within the caps.
    pub(crate) content: Option<Vec<u8>>,
    /// Hex sha256 of the content (empty when unreadable).
    pub content_hash: String,
    /// Where the member's own records disagree (zip: local versus central
    /// header, CRC), so that nothing about it can be trusted.
    pub problems: Vec<String>,
}

impl Member {
    fn with_content(mut self, content: Option<Vec<u8>>) -> Member {
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

    /// Whether the content could be read (and so its hash is known).
    pub fn readable(&self) -> bool {
        !self.content_hash.is_empty()
    }
}

/// The members of a tar (plain or compressed), zip or ar archive, in
/// archive order (every copy of a repeated name kept), with the compression
/// layers peeled; `None` for anything else.
pub(crate) fn listing(data: &[u8], budget: &Budget) -> Option<Vec<(String, Member)>> {
    let inner = match sniff(data) {
        Format::Zip => return zip_members(data, budget),
        Format::Tar => return tar_members(data, budget),
        Format::Ar => return ar_members(data, budget),
        Format::Other => return None,
        compressed => peel(compressed, data, budget)?,
    };
    match sniff(&inner) {
        Format::Tar => tar_members(&inner, budget),
        _ => None,
    }
}

/// Tar members; each member's content is charged to `budget` (it is a copy).
fn tar_members(data: &[u8], budget: &Budget) -> Option<Vec<(String, Member)>> {
    let mut archive = tar::Archive::new(data);
    let mut members = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let (name, m) = tar_member(&mut entry);
        let content = budget.read(&mut entry);
        members.push((name, m.with_content(content)));
    }
    Some(members)
}

/// A tar entry's name and header fields (its content not yet read).
pub(crate) fn tar_member<R: std::io::Read>(entry: &mut tar::Entry<R>) -> (String, Member) {
    let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let h = entry.header().clone();
    let mut m = Member::default();
    let mut put = |k: &'static str, v: String| {
        m.fields.insert(k, v);
    };
    put("type", format!("{:?}", h.entry_type()));
    put("mode", h.mode().map(|v| format!("{v:04o}")).unwrap_or_default());
    put("uid", h.uid().map(|v| v.to_string()).unwrap_or_default());
    put("gid", h.gid().map(|v| v.to_string()).unwrap_or_default());
    put("uname", h.username().ok().flatten().unwrap_or_default().to_string());
    put("gname", h.groupname().ok().flatten().unwrap_or_default().to_string());
    put("mtime", h.mtime().map(|v| v.to_string()).unwrap_or_default());
    put("size", h.size().map(|v| v.to_string()).unwrap_or_default());
    put(
        "link",
        entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default(),
    );
    if let Ok(Some(pax)) = entry.pax_extensions() {
        let keys: Vec<String> = pax.flatten().map(|e| e.key().unwrap_or("?").to_string()).collect();
        m.fields.insert("pax headers", keys.join(","));
    }
    (name, m)
}

fn tar(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], walk: Walk) {
    let (Some(ma), Some(mb)) = (tar_members(a, walk.budget), tar_members(b, walk.budget)) else { return };
    members(diff, prefix, "tar", ma, mb, walk);
}

/// Zip members from the central directory, record by record (a repeated
/// name stays visible), decompressing at most [`MAX_READ`] in all.
fn zip_members(data: &[u8], budget: &Budget) -> Option<Vec<(String, Member)>> {
    let records = super::zip_listing::records(data, budget)?;
    let members = records
        .into_iter()
        .map(|r| {
            let mut m = Member::default();
            let (date, time) = r.dos_time;
            let when = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                1980 + (date >> 9),
                (date >> 5) & 0xf,
                date & 0x1f,
                time >> 11,
                (time >> 5) & 0x3f,
                (time & 0x1f) * 2
            );
            m.fields.insert("mtime", when);
            m.fields.insert("mode", r.unix_mode.map(|v| format!("{v:04o}")).unwrap_or_default());
            m.fields.insert("extra fields", r.extra);
            m.fields.insert("size", r.size.to_string());
            m.problems = r.problems;
            (r.name, m.with_content(r.content))
        })
        .collect();
    Some(members)
}

/// Members of a Unix `ar` archive (a `.deb`): name, mtime, owner, mode, content.
fn ar_members(data: &[u8], budget: &Budget) -> Option<Vec<(String, Member)>> {
    let mut at = 8;
    let mut members = Vec::new();
    let mut long_names: &[u8] = &[];
    while at < data.len() {
        let header = data.get(at..at + 60)?;
        if &header[58..60] != b"`\n" {
            return None;
        }
        let field =
            |range: std::ops::Range<usize>| String::from_utf8_lossy(&header[range]).trim().to_string();
        let size: usize = field(48..58).parse().ok()?;
        let content = data.get(at + 60..at.checked_add(60)?.checked_add(size)?)?;
        let raw = field(0..16);
        at += 60 + size + size % 2;
        let name = if raw == "//" {
            long_names = content;
            continue;
        } else if let Some(offset) = raw.strip_prefix('/').and_then(|o| o.parse::<usize>().ok()) {
            let rest = long_names.get(offset..)?;
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).trim_end_matches('/').to_string()
        } else {
            raw.trim_end_matches('/').to_string()
        };
        let mut m = Member::default();
        m.fields.insert("mtime", field(16..28));
        m.fields.insert("uid", field(28..34));
        m.fields.insert("gid", field(34..40));
        m.fields.insert("mode", field(40..48));
        m.fields.insert("size", size.to_string());
        let copy = budget.charge(content.len() as u64).then(|| content.to_vec());
        members.push((name, m.with_content(copy)));
    }
    Some(members)
}

fn zip(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], walk: Walk) {
    let (Some(ma), Some(mb)) = (zip_members(a, walk.budget), zip_members(b, walk.budget)) else { return };
    members(diff, prefix, "zip", ma, mb, walk);
}

fn ar(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], walk: Walk) {
    let (Some(ma), Some(mb)) = (ar_members(a, walk.budget), ar_members(b, walk.budget)) else { return };
    members(diff, prefix, "ar", ma, mb, walk);
}

/// Compares archive members: order, presence, repeated names, metadata,
/// content; recurses one level into differing members that are archives
/// themselves. Where a name repeats, the last copy (the one extraction
/// leaves on disk) is compared, and the repetition is a detail of its own.
fn members(
    diff: &mut FileDiff,
    prefix: &str,
    kind: &str,
    a: Vec<(String, Member)>,
    b: Vec<(String, Member)>,
    walk: Walk,
) {
    let names_a: Vec<&String> = a.iter().map(|(n, _)| n).collect();
    let names_b: Vec<&String> = b.iter().map(|(n, _)| n).collect();
    let (copies_a, copies_b) = (copies(&a), copies(&b));
    let mut sorted_a = names_a.clone();
    sorted_a.sort();
    let mut sorted_b = names_b.clone();
    sorted_b.sort();
    let scope_of = |name: &str| scoped(prefix, &format!("{kind} entry {name}"));
    if sorted_a == sorted_b && names_a != names_b {
        let show = |v: &[&String]| v.iter().take(6).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        push(diff, scoped(prefix, kind), "order", show(&names_a), show(&names_b));
    }
    for name in copies_a.keys().filter(|n| !copies_b.contains_key(*n)) {
        push(diff, scope_of(name), "presence", "present".into(), "missing".into());
    }
    for name in copies_b.keys().filter(|n| !copies_a.contains_key(*n)) {
        push(diff, scope_of(name), "presence", "missing".into(), "present".into());
    }
    for (side, list) in [("a", &a), ("b", &b)] {
        for (name, m) in list.iter().filter(|(_, m)| !m.problems.is_empty()) {
            let problem = m.problems.join("; ");
            let (x, y) = if side == "a" { (problem, String::new()) } else { (String::new(), problem) };
            push(diff, scope_of(name), "integrity", x, y);
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
        let short = |m: &Member| match m.readable() {
            true => format!("sha256:{}…", &m.content_hash[..12]),
            false => "unreadable (over the size cap or damaged)".to_string(),
        };
        if !(ma.readable() && mb.readable() && ma.content_hash == mb.content_hash) {
            push(diff, scope.clone(), "content", short(ma), short(mb));
            if let (true, Some(ca), Some(cb)) = (walk.depth < MAX_DEPTH, &ma.content, &mb.content) {
                compare_bytes(diff, &scope, ca, cb, walk.deeper());
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
        [first, rest @ ..] if rest.iter().all(|m| m == first) => {
            format!("{} copies (identical)", copies.len())
        }
        _ => format!("{} copies that differ; extraction keeps the last", copies.len()),
    }
}

fn push(diff: &mut FileDiff, scope: String, field: &str, a: String, b: String) {
    diff.details.push(Detail { scope, field: field.into(), a, b });
}
