//! The tar format's pieces, read strictly: numeric fields, checksums, pax
//! records, typeflags, and the names readers treat differently.

use super::{MAX_NAME, SHARED_PAX_KEYS};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Why reading stops at a header.
#[derive(Debug)]
pub(super) enum Stop {
    /// Readers cannot agree on what follows: the archive is ambiguous.
    Problem(String),
    /// Past one of the reader's caps: the archive is too large to compare.
    TooLarge(String),
}

/// Zero bytes after `size` bytes of data up to the next block.
pub(super) fn padding(size: u64) -> u64 {
    (512 - size % 512) % 512
}

/// The bytes of a NUL-terminated header field.
pub(super) fn field_bytes(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric header field's reading.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Number {
    Value(u64),
    /// Only spaces and NULs: tarfile reads 0, GNU tar refuses.
    Blank,
}

/// An octal field (leading spaces, digits, then only spaces or NULs) or
/// GNU's base-256 form; `None` for anything readers would parse apart.
pub(super) fn parse_number(field: &[u8]) -> Option<Number> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        if field[0] != 0x80 {
            return None; // negative base-256
        }
        let mut value: u64 = 0;
        for &b in &field[1..] {
            value = value.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(Number::Value(value));
    }
    let text = field.iter().skip_while(|&&b| b == b' ');
    let digits: Vec<u8> = text.clone().take_while(|b| b.is_ascii_digit()).copied().collect();
    let rest = text.skip(digits.len());
    if rest.clone().any(|&b| b != b' ' && b != 0) || digits.iter().any(|&d| d > b'7') {
        return None;
    }
    if digits.is_empty() {
        return Some(Number::Blank);
    }
    let mut value: u64 = 0;
    for d in digits {
        value = value.checked_mul(8)?.checked_add((d - b'0') as u64)?;
    }
    Some(Number::Value(value))
}

/// Whether the header's checksum matches (unsigned, or signed as some old
/// writers computed it: every reader accepts both).
pub(super) fn checksum_ok(block: &[u8; 512]) -> bool {
    let Some(Number::Value(recorded)) = parse_number(&block[148..156]) else { return false };
    let blanked = |i: usize, b: u8| if (148..156).contains(&i) { b' ' } else { b };
    let unsigned: u64 = block.iter().enumerate().map(|(i, &b)| blanked(i, b) as u64).sum();
    let signed: i64 = block.iter().enumerate().map(|(i, &b)| blanked(i, b) as i8 as i64).sum();
    recorded == unsigned || recorded as i64 == signed
}

/// The pax records of an extended header, strictly: `LEN KEY=VALUE\n`
/// with LEN counting the whole record; at most `max` of them (past it the
/// header is too large to compare, and nothing more is parsed).
pub(super) fn pax_records(data: &[u8], max: usize) -> Result<Vec<(String, Vec<u8>)>, Stop> {
    let bad = |what: &str| Stop::Problem(what.to_string());
    let mut records = Vec::new();
    let mut rest = data;
    // Writers pad the header's data with NULs after the last record.
    while !rest.is_empty() && rest.iter().any(|&b| b != 0) {
        if records.len() >= max {
            return Err(Stop::TooLarge(format!("more than {max} pax records before one member")));
        }
        let space =
            rest.iter().position(|&b| b == b' ').ok_or_else(|| bad("a pax record without a length"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("a pax record whose length is not a number"))?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("a pax record whose length does not match its text"));
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(|| bad("a pax record without `=`"))?;
        let key = std::str::from_utf8(&record[..eq]).map_err(|_| bad("a pax key that is not UTF-8"))?;
        records.push((key.to_string(), record[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(records)
}

/// One sentence per pax key given more than once in one header.
pub(super) fn repeated_keys(records: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in records {
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(key, n)| {
            let who = if SHARED_PAX_KEYS.contains(&key) {
                "the `tar` crate reads the first, GNU tar and Python's tarfile the last"
            } else {
                "readers differ in which they apply"
            };
            format!("the pax key `{}` is given {n} times in one header: {who}", clip(key))
        })
        .collect()
}

/// What a typeflag makes, for the ones every reader knows.
pub(super) fn type_name(typeflag: u8) -> Option<&'static str> {
    Some(match typeflag {
        b'0' | b'\0' => "regular",
        b'7' => "contiguous",
        b'1' => "hardlink",
        b'2' => "symlink",
        b'3' => "character device",
        b'4' => "block device",
        b'5' => "directory",
        b'6' => "fifo",
        _ => return None,
    })
}

pub(super) fn unknown_type(typeflag: u8) -> String {
    let what = match typeflag {
        b'S' => "an old GNU sparse member (maps can reorder or drop blocks)",
        b'D' => "a GNU dump directory",
        b'M' => "a GNU multi-volume continuation",
        b'V' => "a GNU volume label",
        b'N' => "an old GNU long-name record",
        _ => "an unknown typeflag",
    };
    format!(
        "typeflag {:?}: {what}; readers differ in what they extract (GNU tar writes a regular file, others \
         skip it or fail)",
        typeflag as char
    )
}

/// Names readers treat differently: absolute, with `..`, empty, a
/// non-directory ending in `/` (GNU tar and tarfile make a directory), a NUL.
pub(super) fn name_problems(name: &[u8], typeflag: u8) -> Vec<String> {
    let mut problems = Vec::new();
    let shown = escape_name(name);
    if name.is_empty() {
        problems.push("a member with an empty name".into());
    }
    if name.len() > MAX_NAME {
        problems.push(format!("a name of {} bytes: longer than any extractor can create", name.len()));
    }
    if unsafe_path(name) {
        problems.push(format!(
            "the name {} is absolute or climbs with `..`: GNU tar strips or skips it, Python's tarfile may \
             write it outside the directory",
            clip(&shown)
        ));
    }
    if name.ends_with(b"/") && typeflag != b'5' && name.iter().any(|&b| b != b'/' && b != b'.') {
        problems.push(format!(
            "{} ends in `/` but its typeflag is {:?}: GNU tar and Python's tarfile make a directory, others a \
             file",
            clip(&shown),
            typeflag as char
        ));
    }
    if name.contains(&0) {
        problems.push("a name with a NUL byte: C readers cut it there".into());
    }
    problems
}

/// Whether a path is absolute or has a `..` component.
pub(super) fn unsafe_path(name: &[u8]) -> bool {
    name.starts_with(b"/") || name.split(|&b| b == b'/').any(|part| part == b"..")
}

/// A name as text that keeps distinct byte strings distinct: invalid UTF-8
/// bytes become `\xNN` and a backslash `\\` (a lossy conversion would turn
/// two different names into the same `�`).
pub(crate) fn escape_name(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The path a member extracts to: `./a//b/` and `a/b` are one file.
pub(crate) fn normalise(name: &str) -> String {
    name.split('/').filter(|part| !part.is_empty() && *part != ".").collect::<Vec<_>>().join("/")
}

/// A pax key or value as shown in a diff and compared: at most 200
/// characters. A longer one says how many bytes were clipped and carries
/// the sha256 of the whole, so two values that differ past the cut still
/// compare different (a clipped comparison must never make a match).
pub(super) fn clip(value: &str) -> String {
    const SHOWN: usize = 200;
    match value.char_indices().nth(SHOWN) {
        Some((at, _)) => format!(
            "{}… ({} bytes clipped, sha256:{})",
            &value[..at],
            value.len() - at,
            hex::encode(Sha256::digest(value.as_bytes()))
        ),
        None => value.to_string(),
    }
}
