//! Reading a zip archive record by record from its central directory,
//! strictly.
//!
//! The `zip` crate keys entries by name, so a second record with the same
//! name silently replaces the first: exactly the case a tampered archive
//! uses. This reader keeps every central-directory record in order, checks
//! each against its local header, accounts for every byte of the file (no
//! gap, overlap or trailer that another reader could take for an entry),
//! parses the extra fields, and records every construct on which `unzip`
//! and Python's zipfile may extract different trees as an ambiguity.

use super::budget::Budget;
use super::member::{Member, Members};
use super::scope::Field;
use super::tar_reader::escape_name;
use std::io::Read;

/// One central-directory record, with what its local header says.
#[derive(Debug, Clone)]
pub(crate) struct ZipRecord {
    /// The name in the central directory (non-UTF-8 bytes escaped).
    pub name: String,
    /// The host byte of "version made by": how extractors read the
    /// external attributes (3 = Unix).
    pub made_by_host: u8,
    /// "version made by" and "version needed" (spec versions).
    pub versions: (u8, u16),
    /// The external attributes, all 32 bits: `unzip` applies the upper 16
    /// (type and mode) for Unix and several other hosts.
    pub external: u32,
    /// General-purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// DOS time and date, as stored (time first, as in the record).
    pub dos_time: (u16, u16),
    /// The central record's extra fields, by id, each value hex.
    pub extra: Vec<(u16, String)>,
    /// The entry's comment (no extractor writes it; compared all the same).
    pub comment: String,
    /// Uncompressed and compressed sizes the central directory declares.
    pub size: u64,
    pub compressed: u64,
    /// The decompressed content, `None` when it could not be read within the budget.
    pub content: Option<Vec<u8>>,
    /// Constructs readers disagree on: this record against its local
    /// header or its CRC, a renaming extra field, an unsafe name.
    pub problems: Vec<String>,
}

impl ZipRecord {
    /// The file type an extractor makes: from the Unix type bits when the
    /// attributes carry them, else from the name and the DOS directory bit.
    pub fn file_type(&self) -> &'static str {
        match (self.external >> 16) & 0o170000 {
            0o040000 => "directory",
            0o120000 => "symlink",
            0o100000 => "regular",
            0 if self.name.ends_with('/') || self.external & 0x10 != 0 => "directory",
            0 => "regular",
            _ => "special",
        }
    }
}

/// A zip archive as read: its records in central-directory order, what
/// makes it ambiguous as a whole, and its comment.
pub(crate) type Records = (Vec<ZipRecord>, Vec<String>, String);

/// Every record of a zip archive in central-directory order, what makes
/// the archive as a whole ambiguous, and the archive's comment; what it
/// decompresses draws from `budget`. `None` when `data` is not a zip
/// archive this reader understands (no end record, zip64, truncated
/// directory).
pub(crate) fn records(data: &[u8], budget: &Budget) -> Option<Records> {
    let end = find_end_record(data)?;
    let mut problems = Vec::new();
    let (disk, dir_disk) = (u16_at(data, end + 4)?, u16_at(data, end + 6)?);
    let (on_disk, count) = (u16_at(data, end + 8)? as usize, u16_at(data, end + 10)? as usize);
    let dir_size = u32_at(data, end + 12)? as usize;
    let dir_offset = u32_at(data, end + 16)? as usize;
    let comment_len = u16_at(data, end + 20)? as usize;
    if dir_offset == 0xFFFF_FFFF || count == 0xFFFF {
        return None; // zip64: not read here
    }
    if end + 22 + comment_len != data.len() {
        problems.push(format!(
            "{} byte(s) after the end-of-central-directory record and its comment: readers that search \
             for the record from the end may find another one",
            data.len() as i64 - (end + 22 + comment_len) as i64
        ));
    }
    if disk != 0 || dir_disk != 0 || on_disk != count {
        problems.push("a multi-disk end record: readers differ in which records they take".into());
    }
    if dir_offset.checked_add(dir_size) != Some(end) {
        problems.push(format!(
            "the central directory ({dir_size} bytes at {dir_offset}) does not end where the end record \
             begins ({end})"
        ));
    }
    let dir = data.get(dir_offset..dir_offset.checked_add(dir_size)?)?;
    let mut records = Vec::with_capacity(count.min(1 << 16));
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut at = 0usize;
    for index in 0..count {
        if u32_at(dir, at)? != 0x0201_4b50 {
            return None;
        }
        let made_by = u16_at(dir, at + 4)?;
        let needed = u16_at(dir, at + 6)?;
        let flags = u16_at(dir, at + 8)?;
        let method = u16_at(dir, at + 10)?;
        let dos_time = (u16_at(dir, at + 12)?, u16_at(dir, at + 14)?);
        let crc = u32_at(dir, at + 16)?;
        let compressed = u32_at(dir, at + 20)? as u64;
        let size = u32_at(dir, at + 24)? as u64;
        let (name_len, extra_len, comment_len) =
            (u16_at(dir, at + 28)? as usize, u16_at(dir, at + 30)? as usize, u16_at(dir, at + 32)? as usize);
        let external = u32_at(dir, at + 38)?;
        let local = u32_at(dir, at + 42)? as usize;
        let name_bytes = dir.get(at + 46..at + 46 + name_len)?;
        let extra_bytes = dir.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
        let comment_at = at + 46 + name_len + extra_len;
        let comment = escape_name(dir.get(comment_at..comment_at + comment_len)?);
        at += 46 + name_len + extra_len + comment_len;
        let mut problems = name_problems(name_bytes, flags);
        let extra = extra_fields(extra_bytes, "central", &mut problems);
        if flags & 0x1 != 0 {
            problems.push("an encrypted entry: its contents cannot be read".into());
        }
        if spans.iter().any(|&(start, _, _)| start == local) {
            let first = spans.iter().position(|&(start, _, _)| start == local).unwrap_or(0);
            problems
                .push(format!("shares its local entry (offset {local}) with central record {}", first + 1));
        }
        let expected = Expected { name: name_bytes, method, flags, crc, compressed, size };
        let content = match local_entry(data, local, &expected, &mut problems) {
            Some((stored, entry_end)) if !problems.iter().any(|p| p.starts_with("shares")) => {
                spans.push((local, entry_end, index));
                let content = decompress(method, stored, size, budget)?;
                if let Some(c) = &content {
                    if crc32fast::hash(c) != crc {
                        problems.push("content does not match its CRC-32".into());
                    }
                }
                content.filter(|_| flags & 0x1 == 0)
            }
            _ => None,
        };
        records.push(ZipRecord {
            name: escape_name(name_bytes),
            made_by_host: (made_by >> 8) as u8,
            versions: (made_by as u8, needed),
            external,
            flags,
            method,
            dos_time,
            extra,
            comment,
            size,
            compressed,
            content,
            problems,
        });
    }
    if at != dir.len() {
        problems.push("the central directory holds bytes after its last record".into());
    }
    problems.extend(unaccounted(&mut spans, dir_offset));
    let comment = escape_name(data.get(end + 22..(end + 22 + comment_len).min(data.len()))?);
    Some((records, problems, comment))
}

/// Gaps and overlaps between local entries, and bytes before the first:
/// room for an entry that only a reader walking local headers would see.
fn unaccounted(spans: &mut [(usize, usize, usize)], dir_offset: usize) -> Vec<String> {
    spans.sort();
    let mut problems = Vec::new();
    let mut expected_start = 0usize;
    for &(start, end, _) in spans.iter() {
        if start > expected_start {
            problems.push(format!(
                "{} byte(s) at offset {expected_start} that no central record names",
                start - expected_start
            ));
        } else if start < expected_start {
            problems.push(format!("local entries overlap at offset {start}"));
        }
        expected_start = expected_start.max(end);
    }
    if dir_offset > expected_start {
        problems.push(format!(
            "{} byte(s) before the central directory that no central record names",
            dir_offset - expected_start
        ));
    }
    problems
}

/// What the central record says a local entry holds.
struct Expected<'a> {
    name: &'a [u8],
    method: u16,
    flags: u16,
    crc: u32,
    compressed: u64,
    size: u64,
}

/// The stored bytes of the local entry at `offset` and where the entry
/// (with its data descriptor) ends, noting where it disagrees with the
/// central record.
fn local_entry<'a>(
    data: &'a [u8],
    offset: usize,
    central: &Expected,
    problems: &mut Vec<String>,
) -> Option<(&'a [u8], usize)> {
    if u32_at(data, offset)? != 0x0403_4b50 {
        problems.push(format!("no local header at offset {offset}"));
        return None;
    }
    let flags = u16_at(data, offset + 6)?;
    let method = u16_at(data, offset + 8)?;
    let crc = u32_at(data, offset + 14)?;
    let (compressed, size) = (u32_at(data, offset + 18)? as u64, u32_at(data, offset + 22)? as u64);
    let (name_len, extra_len) = (u16_at(data, offset + 26)? as usize, u16_at(data, offset + 28)? as usize);
    let name = data.get(offset + 30..offset + 30 + name_len)?;
    let extra = data.get(offset + 30 + name_len..offset + 30 + name_len + extra_len)?;
    extra_fields(extra, "local", problems);
    if name != central.name {
        problems.push(format!(
            "local header names it {:?}, the central directory {:?}",
            escape_name(name),
            escape_name(central.name)
        ));
    }
    if method != central.method {
        problems.push(format!("local header method {method}, central {}", central.method));
    }
    if flags != central.flags {
        problems.push(format!("local header flags {flags:#06x}, central {:#06x}", central.flags));
    }
    let start = offset + 30 + name_len + extra_len;
    let stored = data.get(start..start.checked_add(central.compressed as usize)?)?;
    let mut end = start + stored.len();
    // Bit 3: the CRC and sizes follow the data, in a descriptor.
    if flags & 0x8 == 0 {
        if (crc, compressed, size) != (central.crc, central.compressed, central.size) {
            problems.push(format!(
                "local header CRC/sizes {crc:08x}/{compressed}/{size}, central {:08x}/{}/{}",
                central.crc, central.compressed, central.size
            ));
        }
    } else {
        let signed = u32_at(data, end) == Some(0x0807_4b50);
        let at = if signed { end + 4 } else { end };
        let found = (u32_at(data, at)?, u32_at(data, at + 4)? as u64, u32_at(data, at + 8)? as u64);
        if found != (central.crc, central.compressed, central.size) {
            problems.push("the data descriptor disagrees with the central record".into());
        }
        end = at + 12;
    }
    Some((stored, end))
}

/// Extra fields as (id, hex value); a malformed block, a name-changing
/// field (Info-ZIP Unicode Path, which `unzip` applies and Python's zipfile
/// does not) or zip64 sizes are ambiguities.
fn extra_fields(mut bytes: &[u8], which: &str, problems: &mut Vec<String>) -> Vec<(u16, String)> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let (Some(id), Some(len)) = (u16_at(bytes, 0), u16_at(bytes, 2)) else {
            problems.push(format!("a malformed {which} extra field block"));
            break;
        };
        let Some(value) = bytes.get(4..4 + len as usize) else {
            problems.push(format!("a malformed {which} extra field block"));
            break;
        };
        match id {
            0x7075 => problems.push(format!(
                "an Info-ZIP Unicode Path extra field ({which}): `unzip` extracts the entry under the name it \
                 holds, Python's zipfile under the header's name"
            )),
            0x0001 => problems.push(format!("a zip64 extra field ({which}): its sizes are not read here")),
            _ => {}
        }
        fields.push((id, hex::encode(value)));
        bytes = &bytes[4 + len as usize..];
    }
    fields
}

/// Names readers treat differently: absolute, with `..`, with a backslash
/// (a separator to some readers), a NUL, or not ASCII without the UTF-8
/// flag (CP437 to some readers, the local charset to others).
fn name_problems(name: &[u8], flags: u16) -> Vec<String> {
    let mut problems = Vec::new();
    let shown = escape_name(name);
    if name.is_empty() {
        problems.push("an entry with an empty name".into());
    }
    if name.starts_with(b"/") || name.split(|&b| b == b'/').any(|part| part == b"..") {
        problems
            .push(format!("the name {shown} is absolute or climbs with `..`: extractors strip or skip it"));
    }
    if name.contains(&b'\\') {
        problems.push(format!("the name {shown} holds a backslash: a path separator to some extractors"));
    }
    if name.contains(&0) {
        problems.push("a name with a NUL byte".into());
    }
    if !name.is_ascii() {
        match (flags & 0x800 != 0, std::str::from_utf8(name).is_ok()) {
            (true, false) => problems.push(format!("the name {shown} is flagged UTF-8 but is not")),
            (false, _) => problems.push(format!(
                "the name {shown} is not ASCII and not flagged UTF-8: extractors decode it differently"
            )),
            (true, true) => {}
        }
    }
    problems
}

/// Decompresses one member from `budget`: `Some(None)` for an unknown
/// method, a size other than the declared one, or no budget left.
fn decompress(method: u16, stored: &[u8], size: u64, budget: &Budget) -> Option<Option<Vec<u8>>> {
    if size > budget.left() {
        budget.charge(size);
        return Some(None);
    }
    let out = match method {
        0 => (stored.len() as u64 == size).then(|| stored.to_vec()),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(stored).take(size + 1).read_to_end(&mut out).ok()?;
            Some(out)
        }
        _ => None,
    };
    Some(out.filter(|o| o.len() as u64 == size && budget.charge(size)))
}

/// The end-of-central-directory record's offset, searched from the end.
fn find_end_record(data: &[u8]) -> Option<usize> {
    let lowest = data.len().saturating_sub(22 + 0xFFFF);
    (lowest..=data.len().checked_sub(22)?).rev().find(|&i| u32_at(data, i) == Some(0x0605_4b50))
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// A DOS date and time as `YYYY-MM-DD hh:mm:ss` (date in the high word of
/// the pair as stored: time at offset 12, date at 14).
fn dos_datetime((time, date): (u16, u16)) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        1980 + (date >> 9),
        (date >> 5) & 0xf,
        date & 0x1f,
        time >> 11,
        (time >> 5) & 0x3f,
        (time & 0x1f) * 2
    )
}

/// The name of a "version made by" host.
fn host_name(host: u8) -> String {
    match host {
        0 => "MS-DOS/FAT".into(),
        3 => "Unix".into(),
        10 => "NTFS".into(),
        19 => "macOS".into(),
        other => format!("host {other}"),
    }
}

/// Zip members from the central directory, record by record (a repeated
/// name stays visible), drawing what it decompresses from `budget`, and
/// what makes the archive as a whole ambiguous.
pub(crate) fn members(data: &[u8], budget: &Budget) -> Option<(Members, Vec<String>)> {
    let (records, problems, archive_comment) = records(data, budget)?;
    let members = records
        .into_iter()
        .map(|r| {
            let mut m = Member::default();
            let mut put = |k: Field, v: String| {
                m.fields.insert(k, v);
            };
            put(Field::Mtime, dos_datetime(r.dos_time));
            put(Field::Type, r.file_type().into());
            // Type and mode as `unzip` applies them; the DOS bits too.
            put(Field::Mode, format!("{:06o}", r.external >> 16));
            put(Field::DosAttributes, format!("{:#06x}", r.external & 0xffff));
            put(Field::MadeBy, host_name(r.made_by_host));
            put(Field::VersionMadeBy, r.versions.0.to_string());
            put(Field::VersionNeeded, r.versions.1.to_string());
            put(Field::Method, r.method.to_string());
            put(Field::CompressionFlags, format!("{:#06x}", r.flags & 0x000e));
            put(Field::Utf8NameFlag, (r.flags & 0x0800 != 0).to_string());
            if r.flags & !0x080e != 0 {
                put(Field::Flags, format!("{:#06x}", r.flags & !0x080e));
            }
            put(Field::Size, r.size.to_string());
            put(Field::CompressedSize, r.compressed.to_string());
            // Comments are written by no extractor, but they are not in
            // what a content match may ignore, so they are compared.
            if !r.comment.is_empty() {
                put(Field::Comment, r.comment.clone());
            }
            if !archive_comment.is_empty() {
                put(Field::ArchiveComment, archive_comment.clone());
            }
            for (id, value) in &r.extra {
                put(Field::Extra(*id), value.clone());
            }
            m.problems = r.problems;
            (r.name, m.with_content(r.content))
        })
        .collect();
    Some((members, problems))
}

#[cfg(test)]
mod tests;
