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

fn listed(data: &[u8]) -> (Vec<ZipRecord>, Vec<String>) {
    let (records, problems, _) = records(data, &Budget::new(1 << 20)).unwrap();
    (records, problems)
}

#[test]
fn lists_every_record_with_content_and_mode() {
    let data = zip_of(&[("a.txt", "alpha"), ("d/b.txt", "beta")]);
    let (found, problems) = listed(&data);
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "d/b.txt"]);
    assert_eq!(found[1].content.as_deref(), Some(&b"beta"[..]));
    assert_eq!(found[0].external >> 16, 0o100644, "the type bits are kept");
    assert_eq!(found[0].file_type(), "regular");
    assert!(found.iter().all(|r| r.problems.is_empty()), "{found:?}");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_renamed_central_record_keeps_both_names_visible() {
    // Rename the second entry's central record to the first's name:
    // the `zip` crate would show one entry; this reader shows two.
    let mut data = zip_of(&[("a.txt", "alpha"), ("b.txt", "evil!")]);
    let central = data.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    data[central + 46] = b'a';
    let (found, _) = listed(&data);
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].name, "a.txt");
    assert!(found[1].problems[0].contains("local header names it \"b.txt\""), "{:?}", found[1].problems);
}

#[test]
fn the_budget_bounds_what_is_decompressed() {
    let big = "x".repeat(100_000);
    let data = zip_of(&[("big", &big)]);
    let (found, _, _) = records(&data, &Budget::new(1_000)).unwrap();
    assert!(found[0].content.is_none());
    assert!(records(b"PK\x03\x04 not really", &Budget::new(1_000)).is_none());
}

/// 2024-09-15 06:06:54, as six 1.17.0's wheel stores it: time 0x30db,
/// date 0x592f (the listing used to read them swapped: 2004-06-27 11:09:30).
#[test]
fn dos_time_and_date_are_read_in_their_order() {
    assert_eq!(dos_datetime((0x30db, 0x592f)), "2024-09-15 06:06:54");
    assert_eq!(dos_datetime((0, 0x4421)), "2014-01-01 00:00:00");
    let data = zip_of(&[("a", "x")]);
    let (found, _) = listed(&data);
    let (time, date) = found[0].dos_time;
    let central = data.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    assert_eq!(time, u16::from_le_bytes([data[central + 12], data[central + 13]]));
    assert_eq!(date, u16::from_le_bytes([data[central + 14], data[central + 15]]));
}

#[test]
fn bytes_after_the_end_record_or_between_entries_are_ambiguous() {
    let mut data = zip_of(&[("a.txt", "alpha")]);
    data.extend_from_slice(b"trailer");
    let (_, problems) = listed(&data);
    assert!(problems.iter().any(|p| p.contains("after the end-of-central-directory record")), "{problems:?}");

    // A hidden local entry before the first named one.
    let mut hidden = zip_of(&[("run.sh", "echo PWNED")]);
    let honest = zip_of(&[("a.txt", "alpha")]);
    let dir = hidden.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    hidden.truncate(dir);
    let shift = hidden.len() as u32;
    let mut joined = hidden;
    let mut rest = honest.clone();
    // Shift the honest archive's offsets by the hidden entry's length.
    let central = rest.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    let local = u32::from_le_bytes(rest[central + 42..central + 46].try_into().unwrap()) + shift;
    rest[central + 42..central + 46].copy_from_slice(&local.to_le_bytes());
    let end = rest.len() - 22;
    let dir_offset = u32::from_le_bytes(rest[end + 16..end + 20].try_into().unwrap()) + shift;
    rest[end + 16..end + 20].copy_from_slice(&dir_offset.to_le_bytes());
    joined.extend_from_slice(&rest);
    let (found, problems) = listed(&joined);
    assert_eq!(found.len(), 1);
    assert!(problems.iter().any(|p| p.contains("that no central record names")), "{problems:?}");
}

#[test]
fn a_unicode_path_extra_field_is_ambiguous() {
    // Written under a neutral id, then relabelled 0x7075 (the `zip` crate
    // itself refuses to write a Unicode Path field that renames).
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut options = zip::write::FullFileOptions::default();
    let mut extra = vec![1u8];
    extra.extend_from_slice(&crc32fast::hash(b"pkg/copy.sh").to_le_bytes());
    extra.extend_from_slice(b"pkg/run.sh");
    options.add_extra_data(0x7a7a, extra.into_boxed_slice(), true).unwrap();
    w.start_file("pkg/copy.sh", options).unwrap();
    w.write_all(b"echo hi").unwrap();
    let mut data = w.finish().unwrap().into_inner();
    let at = data.windows(2).position(|w| w == [0x7a, 0x7a]).unwrap();
    data[at..at + 2].copy_from_slice(&0x7075u16.to_le_bytes());
    let (found, _) = listed(&data);
    assert!(found[0].problems.iter().any(|p| p.contains("Unicode Path")), "{:?}", found[0].problems);
}

#[test]
fn unsafe_and_misencoded_names_are_ambiguous() {
    assert!(!name_problems(b"/etc/x", 0).is_empty());
    assert!(!name_problems(b"a/../b", 0).is_empty());
    assert!(!name_problems(b"pkg\\run.sh", 0).is_empty());
    assert!(!name_problems("caf\u{e9}".as_bytes(), 0).is_empty(), "not flagged UTF-8");
    assert!(name_problems("caf\u{e9}".as_bytes(), 0x800).is_empty());
    assert!(name_problems(b"pkg/a.py", 0).is_empty());
}
