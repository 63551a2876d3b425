//! The reader's bounds: extension headers past its caps stop it as too
//! large to compare, what it holds is charged to the budget, and what it
//! shows is clipped without ever making two different values equal.

use super::tests::{archive, header, honest, pax, read, USTAR};
use super::*;
use crate::diff::budget::{Budget, DEFAULT_BUDGET};
use crate::diff::streamed::listing;

/// One member `pkg/a` after a pax header holding `records`.
fn with_pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let data = pax(records);
    let (h, body) = honest("pkg/a", b"x");
    archive(&[(header(b"pax", b'x', data.len() as u64, USTAR), &data), (h, &body)])
}

#[test]
fn more_pax_records_than_the_cap_are_too_large_to_compare() {
    let keys: Vec<String> = (0..=MAX_PAX_RECORDS).map(|i| format!("k{i}")).collect();
    let records: Vec<(&str, &[u8])> = keys.iter().map(|k| (k.as_str(), &b"v"[..])).collect();
    let tar = with_pax(&records);
    let mut reader = TarReader::new(&tar[..]);
    assert!(reader.next_header().unwrap().is_none(), "nothing past the cap is read");
    let why = reader.too_large.expect("too large");
    assert!(why.contains(&format!("more than {MAX_PAX_RECORDS} pax records before one member")), "{why}");
    let listed = listing(&tar, &Budget::new(DEFAULT_BUDGET)).unwrap();
    let stopped = listed.stopped.expect("the listing says it stopped");
    assert!(stopped.starts_with("too large to compare: more than 256 pax records"), "{stopped}");
    // At the cap it is read.
    let tar = with_pax(&records[..MAX_PAX_RECORDS]);
    let listed = listing(&tar, &Budget::new(DEFAULT_BUDGET)).unwrap();
    assert!(listed.stopped.is_none() && listed.members.len() == 1);
}

#[test]
fn many_extension_headers_or_global_keys_are_too_large_to_compare() {
    let one = pax(&[("comment", b"x")]);
    let mut members: Vec<([u8; 512], &[u8])> =
        (0..=MAX_EXTENSIONS).map(|_| (header(b"pax", b'x', one.len() as u64, USTAR), &one[..])).collect();
    let (h, body) = honest("pkg/a", b"x");
    members.push((h, &body));
    let tar = archive(&members);
    let mut reader = TarReader::new(&tar[..]);
    assert!(reader.next_header().unwrap().is_none());
    assert!(reader.too_large.unwrap().contains("more than 16 extension headers before one member"));

    // Global keys accumulate across members: a few per member, many in all.
    let mut members = Vec::new();
    let globals: Vec<Vec<u8>> =
        (0..=MAX_GLOBAL_KEYS).map(|i| pax(&[(&format!("g{i}"), &b"v"[..])])).collect();
    for g in &globals {
        members.push((header(b"g", b'g', g.len() as u64, USTAR), &g[..]));
        members.push((honest("pkg/a", b"x").0, &b"x"[..]));
    }
    let tar = archive(&members);
    let (read_members, _) = read(&tar);
    assert_eq!(read_members.len(), MAX_GLOBAL_KEYS, "the reader stops at the key past the cap");
    let mut reader = TarReader::new(&tar[..]);
    while reader.next_header().unwrap().is_some() {}
    assert!(reader.too_large.unwrap().contains("more than 64 pax global keys"));
}

/// Two values that differ only past the 200 characters shown still differ,
/// and the shown value says how much was clipped.
#[test]
fn clipped_pax_values_that_differ_past_the_cut_still_differ() {
    let value = |last: u8| [vec![b'a'; 5000], vec![last]].concat();
    let (va, vb) = (value(b'x'), value(b'y'));
    let (a, b) = (with_pax(&[("LIBARCHIVE.note", &va)]), with_pax(&[("LIBARCHIVE.note", &vb)]));
    let (members, _) = read(&a);
    let (other, _) = read(&b);
    let shown = &members[0].2["pax LIBARCHIVE.note"];
    assert_ne!(shown, &other[0].2["pax LIBARCHIVE.note"], "the digest of the whole tells them apart");
    assert!(
        shown.starts_with(&"a".repeat(200)) && shown.contains("… (4801 bytes clipped, sha256:"),
        "{shown}"
    );
    assert!(shown.len() < 400, "{} bytes shown", shown.len());
}

/// Pax records are read and parsed in memory: their bytes, and the fields
/// they become, draw from the budget, so a listing of header records alone
/// (no member data) still runs out and says so.
#[test]
fn header_records_are_charged_to_the_budget() {
    // 40 members, each after 200 short pax records: 2 KiB of records, 200
    // fields held per member.
    let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let records: Vec<(&str, &[u8])> = keys.iter().map(|k| (k.as_str(), &b"v"[..])).collect();
    let data = pax(&records);
    let mut members = Vec::new();
    let names: Vec<String> = (0..40).map(|i| format!("pkg/m{i}")).collect();
    for name in &names {
        members.push((header(b"pax", b'x', data.len() as u64, USTAR), &data[..]));
        members.push((honest(name, b"").0, &b""[..]));
    }
    let tar = archive(&members);
    let full = listing(&tar, &Budget::new(DEFAULT_BUDGET)).unwrap();
    assert!(full.stopped.is_none() && full.members.len() == 40);
    let budget = Budget::new(256 << 10);
    let cut = listing(&tar, &budget).unwrap();
    assert!(budget.exhausted(), "40 x 200 fields do not fit 256 KiB");
    assert!(cut.stopped.as_deref().is_some_and(|w| w.contains("budget ran out")), "{:?}", cut.stopped);
    assert!(cut.members.len() < 40);
}
