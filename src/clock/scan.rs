//! Every timestamp an output holds where archive formats keep them: tar
//! member times (and pax `mtime`, `atime`, `ctime`), ar member times (a
//! `.deb`, a static library), zip entry times (MS-DOS local time and the
//! extended-timestamp field), and gzip headers, at the top and in archives
//! nested up to [`MAX_DEPTH`] deep (a `.deb`'s `data.tar.xz`, a tarball in
//! a tarball). Read with the structured diff's own listers, within its
//! decompression budget.

use super::window::{days_from_civil, Stamp};
use crate::diff::budget::Budget;
use crate::diff::format::ArchiveKind;
use crate::diff::scope::Field;
use crate::diff::streamed::{gzip_header_fields, list, Keep, Listing, Source};
use std::collections::BTreeSet;
use std::path::Path;

/// Archives inside archives are read this deep (the output is depth 0).
const MAX_DEPTH: usize = 3;
/// Bytes of nested archives held at once at the top (halved at each level).
const HOLD: u64 = 64 << 20;

/// One timestamp and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `out/x.tar > dir/file`: the output, then each member's name.
    pub place: String,
    /// Which field: `mtime`, `pax atime`, `zip time`, `gzip header mtime`, ...
    pub field: String,
    /// The time as stored.
    pub stamp: Stamp,
}

/// Calls `each` with every timestamp in the output file `path` (shown as
/// `name`) until it returns false.
pub fn stamps_of_file(path: &Path, name: &str, budget: &Budget, each: &mut dyn FnMut(Found) -> bool) {
    stamps_of(Source::File(path), name, 0, budget, each);
}

/// Whether to go on.
fn stamps_of(
    source: Source,
    place: &str,
    depth: usize,
    budget: &Budget,
    each: &mut dyn FnMut(Found) -> bool,
) -> bool {
    let Some(listing) = list(source, budget, &Keep::NOTHING) else {
        // Not an archive: a gzip stream still has its header's time. Most
        // outputs are neither: two bytes say so before a larger read.
        if source.head(2) != [0x1f, 0x8b] {
            return true;
        }
        return match gzip_header_fields(&source.head(64 << 10)) {
            Some(header) => header_stamps(&header, place, each),
            None => true,
        };
    };
    if !listing_stamps(&listing, place, each) {
        return false;
    }
    if depth >= MAX_DEPTH {
        return true;
    }
    let nested: BTreeSet<usize> = listing
        .members
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| may_hold_stamps(name))
        .map(|(index, _)| index)
        .collect();
    if nested.is_empty() {
        return true;
    }
    let wanted = |index: usize| nested.contains(&index);
    let keep = Keep { wanted: &wanted, hold: HOLD >> depth };
    let Some(held) = list(source, budget, &keep) else { return true };
    for (name, member) in &held.members {
        if let Some(content) = &member.content {
            if !stamps_of(Source::Bytes(content), &format!("{place} > {name}"), depth + 1, budget, each) {
                return false;
            }
        }
    }
    true
}

/// Every timestamp of the compression layers' gzip headers and the
/// members' headers.
fn listing_stamps(listing: &Listing, place: &str, each: &mut dyn FnMut(Found) -> bool) -> bool {
    for layer in &listing.layers {
        if let Some(header) = &layer.gzip_header {
            if !header_stamps(header, place, each) {
                return false;
            }
        }
    }
    for (name, member) in &listing.members {
        let at = format!("{place} > {name}");
        for (field, value) in &member.fields {
            let found = match (field, listing.kind) {
                (Field::Mtime, ArchiveKind::Zip) => {
                    dos_time(value).map(|t| ("zip time".to_string(), Stamp::DosLocal(t)))
                }
                (Field::Mtime, _) => seconds(value).map(|t| ("mtime".to_string(), Stamp::Utc(t))),
                (Field::Pax(key), _) if matches!(key.as_str(), "mtime" | "atime" | "ctime") => {
                    seconds(value).map(|t| (format!("pax {key}"), Stamp::Utc(t)))
                }
                (Field::Extra(0x5455), _) => {
                    extended_mtime(value).map(|t| ("zip extended mtime".to_string(), Stamp::Utc(t)))
                }
                _ => None,
            };
            if let Some((field, stamp)) = found {
                if !each(Found { place: at.clone(), field, stamp }) {
                    return false;
                }
            }
        }
    }
    true
}

/// A gzip header's time (0 means none was recorded).
fn header_stamps(header: &[(Field, String); 3], place: &str, each: &mut dyn FnMut(Found) -> bool) -> bool {
    match header.iter().find(|(f, _)| *f == Field::Mtime).and_then(|(_, v)| seconds(v)).filter(|t| *t != 0) {
        Some(t) => {
            each(Found { place: place.to_string(), field: "gzip header mtime".into(), stamp: Stamp::Utc(t) })
        }
        None => true,
    }
}

/// Whether a member's name says it may be an archive or a gzip stream.
fn may_hold_stamps(name: &str) -> bool {
    const ENDINGS: [&str; 18] = [
        ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tzst", ".gz", ".xz", ".bz2", ".zst", ".deb", ".udeb",
        ".ddeb", ".zip", ".whl", ".jar", ".egg", ".a",
    ];
    let lower = name.to_ascii_lowercase();
    ENDINGS.iter().any(|e| lower.ends_with(e))
}

/// Whole seconds of a decimal time (`1733554512` or pax's `1733554512.25`,
/// floored as a reader truncates it); `None` unless it is one.
fn seconds(value: &str) -> Option<i64> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let negative = whole.starts_with('-');
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = digits.parse().ok()?;
    Some(match (negative, fraction.bytes().any(|b| b != b'0')) {
        (false, _) => whole,
        (true, false) => -whole,
        (true, true) => -whole - 1,
    })
}

/// `YYYY-MM-DD HH:MM:SS` (as the zip lister shows an MS-DOS time) as
/// seconds since 1970 read as UTC.
fn dos_time(value: &str) -> Option<i64> {
    let (date, time) = value.split_once(' ')?;
    let date: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let time: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let ([year, month, day], [hour, minute, second]) = (date.as_slice(), time.as_slice()) else {
        return None;
    };
    // An MS-DOS zero date (month 0) is no time at all.
    if !(1..=12).contains(month) || !(1..=31).contains(day) {
        return None;
    }
    Some(days_from_civil(*year, *month, *day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// The modification time of a zip extended-timestamp field (hex): a flags
/// byte, then the times it flags, mtime first.
fn extended_mtime(hex_value: &str) -> Option<i64> {
    let bytes = hex::decode(hex_value).ok()?;
    let (flags, rest) = bytes.split_first()?;
    if flags & 1 == 0 || rest.len() < 4 {
        return None;
    }
    Some(i64::from(i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(path: &Path) -> Vec<(String, String, Stamp)> {
        let mut found = Vec::new();
        let budget = Budget::new(1 << 30);
        stamps_of_file(path, "out/x", &budget, &mut |f| {
            found.push((f.place, f.field, f.stamp));
            true
        });
        found
    }

    fn tar_with(entries: &[(&str, u64, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, mtime, content) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(*mtime);
            header.set_cksum();
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn times_are_found_in_tar_gzip_and_nested_archives() {
        let dir = tempfile::tempdir().unwrap();
        let inner = tar_with(&[("inner/file", 1_700_000_003, b"x")]);
        let mut gz =
            flate2::GzBuilder::new().mtime(1_700_000_002).write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &inner).unwrap();
        let inner_gz = gz.finish().unwrap();
        let outer = tar_with(&[("a", 1_700_000_001, b"a"), ("nested.tar.gz", 0, &inner_gz)]);
        let path = dir.path().join("x");
        std::fs::write(&path, &outer).unwrap();
        let found = all(&path);
        assert!(
            found.contains(&("out/x > a".into(), "mtime".into(), Stamp::Utc(1_700_000_001))),
            "{found:?}"
        );
        assert!(found.contains(&(
            "out/x > nested.tar.gz".into(),
            "gzip header mtime".into(),
            Stamp::Utc(1_700_000_002)
        )));
        assert!(
            found.contains(&(
                "out/x > nested.tar.gz > inner/file".into(),
                "mtime".into(),
                Stamp::Utc(1_700_000_003)
            )),
            "{found:?}"
        );
        // A lone gzip stream: its header.
        let mut gz =
            flate2::GzBuilder::new().mtime(1_700_000_004).write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"text").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert_eq!(all(&path), [("out/x".into(), "gzip header mtime".into(), Stamp::Utc(1_700_000_004))]);
        // gzip -n: no time.
        let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"text").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert!(all(&path).is_empty());
    }

    #[test]
    fn zip_times_are_local_and_the_extended_field_is_utc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .last_modified_time(zip::DateTime::from_date_and_time(2026, 12, 7, 6, 55, 12).unwrap());
        zip.start_file("pkg/mod.py", options).unwrap();
        std::io::Write::write_all(&mut zip, b"x").unwrap();
        std::fs::write(&path, zip.finish().unwrap().into_inner()).unwrap();
        let found = all(&path);
        assert_eq!(found, [("out/x > pkg/mod.py".into(), "zip time".into(), Stamp::DosLocal(1_796_626_512))]);
        assert_eq!(extended_mtime("0350e043"), None, "too short");
        assert_eq!(extended_mtime("01d0e03c6b"), Some(1_799_151_824));
    }

    #[test]
    fn decimal_and_dos_times_are_read_strictly() {
        assert_eq!(seconds("1733554512"), Some(1_733_554_512));
        assert_eq!(seconds("1733554512.75"), Some(1_733_554_512));
        assert_eq!(seconds("-1.5"), Some(-2));
        for bad in ["", "12a", "1.2.3", "0x10", "1e9"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
        assert_eq!(dos_time("1980-00-00 00:00:00"), None);
        assert_eq!(dos_time("2026-12-07 06:55:12"), Some(1_796_626_512));
        assert!(may_hold_stamps("usr/share/doc/x/changelog.Debian.gz") && !may_hold_stamps("bin/x"));
    }
}
