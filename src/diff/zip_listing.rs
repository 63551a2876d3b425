//! Reading a zip archive record by record from its central directory.
//!
//! The `zip` crate keys entries by name, so a second record with the same
//! name silently replaces the first: exactly the case a tampered archive
//! uses. This reader keeps every central-directory record in order, checks
//! each against its local header, and never trusts a size it has not capped.

use super::budget::Budget;
use std::io::Read;

/// One central-directory record, with what its local header says.
#[derive(Debug, Clone)]
pub(crate) struct ZipRecord {
    /// The name in the central directory.
    pub name: String,
    /// Unix permission bits from the external attributes, when made on Unix.
    pub unix_mode: Option<u32>,
    /// DOS date and time, as stored.
    pub dos_time: (u16, u16),
    /// The central record's extra fields, hex.
    pub extra: String,
    /// Uncompressed size the central directory declares.
    pub size: u64,
    /// The decompressed content, `None` when it could not be read within the budget.
    pub content: Option<Vec<u8>>,
    /// Ways this record disagrees with its local header or with its own CRC.
    pub problems: Vec<String>,
}

/// Every record of a zip archive, in central-directory order, drawing what
/// it decompresses from `budget`. `None` when `data` is not a zip archive
/// this reader understands (no end record, zip64, truncated directory).
pub(crate) fn records(data: &[u8], budget: &Budget) -> Option<Vec<ZipRecord>> {
    let end = find_end_record(data)?;
    let count = u16_at(data, end + 10)? as usize;
    let dir_size = u32_at(data, end + 12)? as usize;
    let dir_offset = u32_at(data, end + 16)? as usize;
    if dir_offset == 0xFFFF_FFFF || count == 0xFFFF {
        return None; // zip64: not read here
    }
    let dir = data.get(dir_offset..dir_offset.checked_add(dir_size)?)?;
    let mut records = Vec::with_capacity(count.min(1 << 16));
    let mut seen_offsets = std::collections::BTreeMap::new();
    let mut at = 0usize;
    for index in 0..count {
        if u32_at(dir, at)? != 0x0201_4b50 {
            return None;
        }
        let made_by = u16_at(dir, at + 4)?;
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
        let extra = dir.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
        at += 46 + name_len + extra_len + comment_len;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let mut problems = Vec::new();
        if let Some(first) = seen_offsets.insert(local, index) {
            problems
                .push(format!("shares its local entry (offset {local}) with central record {}", first + 1));
        }
        let content = match local_data(data, local, name_bytes, method, crc, &mut problems) {
            Some(stored) if !problems.iter().any(|p| p.starts_with("shares")) => {
                let stored = stored.get(..(compressed as usize).min(stored.len()))?;
                let content = decompress(method, stored, size, budget)?;
                if let Some(c) = &content {
                    if crc32fast::hash(c) != crc {
                        problems.push("content does not match its CRC-32".into());
                    }
                }
                content
            }
            _ => None,
        };
        records.push(ZipRecord {
            name,
            // Upper 16 bits of the external attributes, for archives made on Unix.
            unix_mode: (made_by >> 8 == 3).then_some((external >> 16) & 0o7777),
            dos_time,
            extra: hex::encode(extra),
            size,
            content,
            problems,
        });
    }
    Some(records)
}

/// The bytes after the local header at `offset`, noting where the local
/// header disagrees with the central record.
fn local_data<'a>(
    data: &'a [u8],
    offset: usize,
    central_name: &[u8],
    method: u16,
    crc: u32,
    problems: &mut Vec<String>,
) -> Option<&'a [u8]> {
    if u32_at(data, offset)? != 0x0403_4b50 {
        problems.push(format!("no local header at offset {offset}"));
        return None;
    }
    let flags = u16_at(data, offset + 6)?;
    let local_method = u16_at(data, offset + 8)?;
    let local_crc = u32_at(data, offset + 14)?;
    let (name_len, extra_len) = (u16_at(data, offset + 26)? as usize, u16_at(data, offset + 28)? as usize);
    let local_name = data.get(offset + 30..offset + 30 + name_len)?;
    if local_name != central_name {
        problems.push(format!(
            "local header names it {:?}, the central directory {:?}",
            String::from_utf8_lossy(local_name),
            String::from_utf8_lossy(central_name)
        ));
    }
    if local_method != method {
        problems.push(format!("local header method {local_method}, central {method}"));
    }
    // Bit 3: the CRC and sizes follow the data instead.
    if flags & 0x8 == 0 && local_crc != crc {
        problems.push(format!("local header CRC {local_crc:08x}, central {crc:08x}"));
    }
    data.get(offset + 30 + name_len + extra_len..)
}

/// Decompresses one member from `budget`: `Some(None)` for an unknown
/// method, a size other than the declared one, or no budget left.
fn decompress(method: u16, stored: &[u8], size: u64, budget: &Budget) -> Option<Option<Vec<u8>>> {
    if size > budget.left() {
        budget.charge(size);
        return Some(None);
    }
    let out = match method {
        0 => stored.get(..size as usize).map(<[u8]>::to_vec),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        for (name, body) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn lists_every_record_with_content_and_mode() {
        let data = zip_of(&[("a.txt", "alpha"), ("d/b.txt", "beta")]);
        let found = records(&data, &Budget::new(1 << 20)).unwrap();
        let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "d/b.txt"]);
        assert_eq!(found[1].content.as_deref(), Some(&b"beta"[..]));
        assert_eq!(found[0].unix_mode, Some(0o644));
        assert!(found.iter().all(|r| r.problems.is_empty()));
    }

    #[test]
    fn a_renamed_central_record_keeps_both_names_visible() {
        // Rename the second entry's central record to the first's name:
        // the `zip` crate would show one entry; this reader shows two.
        let mut data = zip_of(&[("a.txt", "alpha"), ("b.txt", "evil!")]);
        let central = data.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        data[central + 46] = b'a';
        let found = records(&data, &Budget::new(1 << 20)).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].name, "a.txt");
        assert!(found[1].problems[0].contains("local header names it \"b.txt\""), "{:?}", found[1].problems);
    }

    #[test]
    fn the_budget_bounds_what_is_decompressed() {
        let big = "x".repeat(100_000);
        let data = zip_of(&[("big", &big)]);
        let found = records(&data, &Budget::new(1_000)).unwrap();
        assert!(found[0].content.is_none());
        assert!(records(b"PK\x03\x04 not really", &Budget::new(1_000)).is_none());
    }
}
