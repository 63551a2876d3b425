//! Whether two archives hold the same files, as every extractor in wide
//! use would write them: GNU tar, bsdtar and Python's tarfile for tar
//! archives, `unzip` and Python's zipfile for zips.
//!
//! The definition (docs/verify.md): a content match holds only when
//! neither archive is *ambiguous* (no construct on which those extractors
//! may write different trees: see [`crate::diff::tar_reader`] and the zip
//! reader) and both extract to the same tree in everything an extractor
//! applies: names, file types, every mode bit, link targets, xattrs and ACL
//! records, device numbers, bytes. Only the kinds in [`IGNORED_KINDS`] may
//! differ: owner and group, times, member order, how an unchanged name is
//! encoded in the headers, and compression. Every other field, including
//! ones this module has never heard of, is content.

use crate::diff::budget::Budget;
use crate::diff::member::{copies, Member};
use crate::diff::streamed::{listing_of_file, Listing};
use crate::diff::tar_reader::normalise;
use crate::diff::{Field, FileDiff, Kind};
use std::collections::BTreeMap;
use std::path::Path;

/// What a content match may ignore, each kind with what it covers; the
/// verification summary's `ignoredDifferences` uses exactly these names.
pub const IGNORED_KINDS: [(&str, &str); 7] = [
    ("owner", "owner and group: uid, gid, user and group names (header, pax records, zip extra 0x7875)"),
    ("mtime", "modification times (header, pax records, zip DOS time and time extra fields)"),
    ("atime", "access times (pax records)"),
    ("ctime", "change times (pax records)"),
    ("order", "the order of the members"),
    ("header encoding", "how an unchanged name is stored (ustar prefix, pax path, GNU long name, header format, zip UTF-8 flag) and header bytes no extractor applies (extension-header names, field padding)"),
    ("compression", "the compressed stream: method, level, compressed sizes, zip writer versions, gzip header"),
];

/// At most this many differing names are listed in a reason.
const MAX_NAMED: usize = 5;

/// How two archives compare as what extracting them leaves on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// The same files: names, types, permission bits, link targets, xattrs
    /// and contents, and nothing ambiguous in either.
    Same,
    /// Why the contents are not the same (or cannot be known), one reason
    /// per line; an ambiguous archive's reasons start with
    /// `ambiguous archive:`.
    Differ(Vec<String>),
}

/// The ignored kind a structured-diff field (or an archive member's
/// header field) belongs to; `None` for content (anything not known to be
/// ignorable).
pub fn ignored_field(field: &Field) -> Option<&'static str> {
    let pax = |keys: &[&str]| matches!(field, Field::Pax(key) if keys.contains(&key.as_str()));
    Some(match field {
        Field::Uid | Field::Gid | Field::Uname | Field::Gname | Field::Extra(0x7875) => "owner",
        _ if pax(&["uid", "gid", "uname", "gname"]) => "owner",
        Field::Mtime | Field::Extra(0x5455 | 0x000a | 0x5855) => "mtime",
        _ if pax(&["mtime"]) => "mtime",
        _ if pax(&["atime"]) => "atime",
        _ if pax(&["ctime"]) => "ctime",
        Field::Order => "order",
        Field::HeaderFormat | Field::NameStoredIn | Field::Utf8NameFlag | Field::HeaderBytes => {
            "header encoding"
        }
        _ if pax(&["path", "linkpath", "hdrcharset"]) => "header encoding",
        Field::Method
        | Field::CompressedSize
        | Field::CompressionFlags
        | Field::VersionMadeBy
        | Field::VersionNeeded
        | Field::CompressedStream => "compression",
        _ => return None,
    })
}

/// The ignored kind a kind of difference (as the diff counts them)
/// belongs to; `None` for content.
pub fn ignored_kind(kind: &Kind) -> Option<&'static str> {
    match kind {
        Kind::Owner => Some("owner"),
        Kind::GzipHeader(_) => Some("compression"),
        Kind::FirstDifference => None,
        Kind::Of(field) => ignored_field(field),
    }
}

/// Whether a structured-diff field is about content rather than metadata.
pub fn is_content(field: &Field) -> bool {
    ignored_field(field).is_none()
}

/// Compares `a` (the reference) and `b` (the rebuild) as the trees that
/// extraction would leave, where a later member with the same name
/// overwrites an earlier one. A repeated name whose copies differ is never a
/// match, whichever copy wins: it is how a tampered archive hides a file.
/// `None` when either is not an archive reprocheck can read.
/// Reading both may decompress `budget` bytes in all. (`verify` streams
/// files with [`compare_files`]; this is for bytes already in memory.)
#[cfg(test)]
pub fn compare(a: &[u8], b: &[u8], budget: u64) -> Option<Contents> {
    use crate::diff::streamed::listing;
    let budget = Budget::new(budget);
    Some(compare_listings(listing(a, &budget)?, listing(b, &budget)?))
}

/// [`compare`] for two files, streamed: tar archives (plain, gzip, xz,
/// zstd) are hashed member by member as they are read, so neither file is
/// held in memory; `budget` still bounds the bytes decompressed.
pub fn compare_files(
    a: &Path,
    b: &Path,
    budget: u64,
    interrupt: crate::cleanup::Interrupt,
) -> Option<Contents> {
    let budget = Budget::new(budget).interrupted_by(interrupt);
    Some(compare_listings(listing_of_file(a, &budget)?, listing_of_file(b, &budget)?))
}

fn compare_listings(a: Listing, b: Listing) -> Contents {
    let mut reasons = Vec::new();
    for (side, listing) in [("reference", &a), ("rebuilt", &b)] {
        // Never a match: what lies past the stop is not known.
        if let Some(why) = &listing.stopped {
            reasons.push(format!(
                "the {side} archive could not be read to its end ({why}), so it cannot be compared: not a match"
            ));
        }
        reasons.extend(ambiguous(side, listing));
    }
    for (side, listing) in [("reference", &a), ("rebuilt", &b)] {
        reasons.extend(untrusted(side, &listing.members));
    }
    let (tree_a, tree_b) = (tree(&a.members), tree(&b.members));
    let only_in = |x: &Tree, y: &Tree| x.keys().filter(|k| !y.contains_key(*k)).cloned().collect::<Vec<_>>();
    let mut changed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, member_a) in &tree_a {
        let Some(member_b) = tree_b.get(name) else { continue };
        // Borrowed, two members at a time: nothing of the listings is copied.
        let (fields_a, fields_b) = (content_fields(member_a), content_fields(member_b));
        for field in fields_a.keys().chain(fields_b.keys()) {
            if fields_a.get(field) != fields_b.get(field) {
                changed.entry(field.to_string()).or_default().push(name.clone());
            }
        }
    }
    for (what, names) in [
        ("only in the reference", only_in(&tree_a, &tree_b)),
        ("only in the rebuild", only_in(&tree_b, &tree_a)),
    ] {
        if !names.is_empty() {
            reasons.push(format!("{} file(s) {what}: {}", names.len(), named(&names)));
        }
    }
    for (field, mut names) in changed {
        names.dedup();
        reasons.push(format!("{} file(s) with a different {field}: {}", names.len(), named(&names)));
    }
    if reasons.is_empty() {
        Contents::Same
    } else {
        Contents::Differ(reasons)
    }
}

/// One reason per construct that makes `listing` ambiguous.
fn ambiguous(side: &str, listing: &Listing) -> Vec<String> {
    let mut reasons: Vec<String> = listing
        .problems
        .iter()
        .map(|p| format!("ambiguous archive: the {side} {p}; readers disagree"))
        .collect();
    for (name, m) in listing.members.iter().filter(|(_, m)| !m.problems.is_empty()) {
        reasons.push(format!(
            "ambiguous archive: the {side} member {name}: {}; readers disagree",
            m.problems.join("; ")
        ));
    }
    reasons
}

/// Members nothing can be concluded from: unreadable, or a name repeated
/// with copies that differ.
fn untrusted(side: &str, members: &[(String, Member)]) -> Vec<String> {
    let mut reasons = Vec::new();
    let unreadable: Vec<String> =
        members.iter().filter(|(_, m)| !m.readable()).map(|(n, _)| n.clone()).collect();
    if !unreadable.is_empty() {
        reasons.push(format!(
            "{} member(s) of the {side} archive could not be read (over the size cap or damaged), so \
             their contents are not known: {}",
            unreadable.len(),
            named(&unreadable)
        ));
    }
    let mut by_path: BTreeMap<String, Vec<&Member>> = BTreeMap::new();
    for (name, list) in copies(members) {
        by_path.entry(normalise(name)).or_default().extend(list);
    }
    for (path, list) in by_path.iter().filter(|(_, l)| l.len() > 1) {
        let first = content_fields(list[0]);
        if list[1..].iter().any(|m| content_fields(m) != first) {
            reasons.push(format!(
                "duplicate member: {path} appears {} times in the {side} archive and the copies differ \
                 (extraction keeps the last one; a classic way to hide a tampered file)",
                list.len()
            ));
        }
    }
    reasons
}

/// A member's content fields, with the content's digest (as `content`),
/// borrowed from the member.
type Fields<'m> = BTreeMap<&'m Field, &'m str>;
/// The extracted tree: normalised path → the last copy (whose content
/// fields are compared).
type Tree<'m> = BTreeMap<String, &'m Member>;

fn tree(members: &[(String, Member)]) -> Tree<'_> {
    members.iter().map(|(name, m)| (normalise(name), m)).collect()
}

/// Every field that is not an ignored kind, and the content's sha256.
fn content_fields(member: &Member) -> Fields<'_> {
    let mut fields: Fields = member
        .fields
        .iter()
        .filter(|(field, _)| is_content(field))
        .map(|(field, value)| (field, value.as_str()))
        .collect();
    fields.insert(&Field::Content, member.content_hash.as_str());
    fields
}

fn named(names: &[String]) -> String {
    let mut shown = names.iter().take(MAX_NAMED).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > MAX_NAMED {
        shown.push_str(&format!(", … {} more", names.len() - MAX_NAMED));
    }
    shown
}

/// What a content match ignored: each ignored kind the structured diff
/// counted (see [`IGNORED_KINDS`]) and how many differences of it there
/// were, over every difference found (the report holds only the first
/// ones). `Err` with the kinds that are not ignorable, when there are any:
/// then the archives are not a content match, whatever the tree
/// comparison said.
pub fn ignored_differences(diff: &FileDiff) -> Result<BTreeMap<String, u64>, Vec<String>> {
    let mut ignored: BTreeMap<String, u64> = BTreeMap::new();
    let mut content = Vec::new();
    for (kind, n) in &diff.counts {
        match ignored_kind(kind) {
            Some(ignored_as) => *ignored.entry(ignored_as.to_string()).or_default() += n,
            None => content.push(kind.to_string()),
        }
    }
    if !content.is_empty() {
        return Err(content);
    }
    if ignored.is_empty() {
        // Same members, same headers: only the compressed stream differs.
        ignored.insert("compression".into(), 1);
    }
    Ok(ignored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::budget::DEFAULT_BUDGET;
    use std::io::Write;

    fn tgz(entries: &[(&str, &str, u32, u64, u64)], gzip_mtime: u32) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body, mode, uid, mtime) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(*mode);
            header.set_uid(*uid);
            header.set_mtime(*mtime);
            builder.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::GzBuilder::new().mtime(gzip_mtime).write(Vec::new(), Default::default());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn metadata_differences_keep_a_content_match() {
        let a = tgz(&[("p/a", "1", 0o644, 0, 5), ("p/b", "2", 0o755, 0, 5)], 0);
        let b = tgz(&[("./p/b", "2", 0o755, 1000, 9), ("./p/a", "1", 0o644, 1000, 9)], 7);
        assert_ne!(a, b);
        assert_eq!(compare(&a, &b, DEFAULT_BUDGET), Some(Contents::Same));
    }

    #[test]
    fn content_mode_and_name_differences_are_mismatches() {
        let base = tgz(&[("p/a", "1", 0o644, 0, 5)], 0);
        let differs =
            |other: &[u8]| matches!(compare(&base, other, DEFAULT_BUDGET), Some(Contents::Differ(_)));
        assert!(differs(&tgz(&[("p/a", "2", 0o644, 0, 5)], 0)));
        assert!(differs(&tgz(&[("p/a", "1", 0o664, 0, 5)], 0)));
        assert!(differs(&tgz(&[("q/a", "1", 0o644, 0, 5)], 0)));
        assert_eq!(compare(&base, b"not an archive", DEFAULT_BUDGET), None);
    }

    #[test]
    fn a_repeated_name_whose_copies_differ_is_never_a_match() {
        let published = tgz(&[("p/__init__.py", "ok", 0o644, 0, 5)], 0);
        // What extraction leaves is the appended copy; the first copy hides it.
        let tampered =
            tgz(&[("p/__init__.py", "ok", 0o644, 0, 5), ("./p/__init__.py", "evil", 0o644, 0, 5)], 0);
        let Some(Contents::Differ(reasons)) = compare(&published, &tampered, DEFAULT_BUDGET) else {
            panic!("must differ")
        };
        assert!(
            reasons.iter().any(|r| r.starts_with("duplicate member: p/__init__.py appears 2 times")),
            "{reasons:?}"
        );
        // Even when the last copy is the published one.
        let hidden = tgz(&[("p/__init__.py", "evil", 0o644, 0, 5), ("p/__init__.py", "ok", 0o644, 0, 5)], 0);
        assert!(matches!(compare(&published, &hidden, DEFAULT_BUDGET), Some(Contents::Differ(_))));
        // Identical copies extract to the same tree.
        let twice = tgz(&[("p/__init__.py", "ok", 0o644, 0, 5), ("p/__init__.py", "ok", 0o644, 0, 9)], 0);
        assert_eq!(compare(&published, &twice, DEFAULT_BUDGET), Some(Contents::Same));
    }

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_whose_central_directory_repeats_a_name_is_a_mismatch() {
        let published = zip_of(&[("a.py", "ok"), ("b.py", "fine")]);
        // The second central record renamed to the first's name: the `zip`
        // crate keeps only one of them.
        let mut tampered = zip_of(&[("a.py", "ok"), ("b.py", "evil")]);
        let central = tampered.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        tampered[central + 46] = b'a';
        let Some(Contents::Differ(reasons)) = compare(&tampered, &published, DEFAULT_BUDGET) else {
            panic!("must differ")
        };
        assert!(reasons.iter().any(|r| r.contains("duplicate member: a.py appears 2 times")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("local header names it \"b.py\"")), "{reasons:?}");
        assert_eq!(
            compare(&published, &zip_of(&[("b.py", "fine"), ("a.py", "ok")]), DEFAULT_BUDGET),
            Some(Contents::Same)
        );
    }

    #[test]
    fn a_zip_comment_is_compared_and_an_xattr_is_content() {
        let commented = |comment: &str| {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.set_comment(comment.to_string());
            w.start_file("a.py", zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(b"ok").unwrap();
            w.finish().unwrap().into_inner()
        };
        assert!(matches!(
            compare(&commented("one"), &commented("two"), DEFAULT_BUDGET),
            Some(Contents::Differ(_))
        ));
        // A pax xattr record is content, not metadata.
        let with_xattr = |value: &[u8]| {
            let mut builder = tar::Builder::new(Vec::new());
            builder.append_pax_extensions([("SCHILY.xattr.security.capability", value)]).unwrap();
            let mut header = tar::Header::new_ustar();
            header.set_size(2);
            header.set_mode(0o755);
            builder.append_data(&mut header, "p/run.sh", &b"ok"[..]).unwrap();
            builder.into_inner().unwrap()
        };
        let Some(Contents::Differ(reasons)) =
            compare(&with_xattr(b"\x01"), &with_xattr(b"\x02"), DEFAULT_BUDGET)
        else {
            panic!("an xattr difference is a content difference")
        };
        assert!(reasons.iter().any(|r| r.contains("SCHILY.xattr.security.capability")), "{reasons:?}");
    }

    /// One member after a pax header holding `records`.
    fn with_pax(records: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        builder.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice()))).unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(1);
        header.set_mode(0o644);
        builder.append_data(&mut header, "pkg/a", &b"x"[..]).unwrap();
        builder.into_inner().unwrap()
    }

    fn reasons(a: &[u8], b: &[u8]) -> Vec<String> {
        match compare(a, b, DEFAULT_BUDGET) {
            Some(Contents::Differ(reasons)) => reasons,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    /// An archive the reader stops reading at one of its caps is never a
    /// match, not even with itself, and the reason says why.
    #[test]
    fn an_archive_too_large_to_compare_is_never_a_match() {
        let records: Vec<(String, Vec<u8>)> = (0..300).map(|i| (format!("k{i}"), b"v".to_vec())).collect();
        let tar = with_pax(&records);
        let reasons = reasons(&tar, &tar);
        let want =
            "the reference archive could not be read to its end (too large to compare: more than 256 pax";
        assert!(reasons.iter().any(|r| r.contains(want)), "{reasons:?}");
        let fits = with_pax(&records[..200]);
        assert_eq!(compare(&fits, &fits, DEFAULT_BUDGET), Some(Contents::Same));
    }

    /// Values shown clipped still compare whole: two that differ only past
    /// the cut are a mismatch.
    #[test]
    fn pax_values_that_differ_past_the_clip_are_a_mismatch() {
        let value = |last: u8| vec![("LIBARCHIVE.note".to_string(), [vec![b'a'; 5000], vec![last]].concat())];
        let reasons = reasons(&with_pax(&value(b'x')), &with_pax(&value(b'y')));
        assert!(reasons.iter().any(|r| r.contains("different pax LIBARCHIVE.note")), "{reasons:?}");
    }
}
