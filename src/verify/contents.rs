//! Whether two archives hold the same files: names, types, file contents,
//! permission bits and link targets. Everything else (mtimes, owners,
//! member order, pax records, compression) is metadata.

use crate::diff::archive::{copies, Member};
use crate::diff::budget::Budget;
use crate::diff::streamed::listing_of_file;
use crate::diff::FileDiff;
use std::collections::BTreeMap;
use std::path::Path;

/// Fields of an archive member that are content, not metadata.
const CONTENT_FIELDS: [&str; 3] = ["type", "mode", "link"];

/// At most this many differing names are listed in a reason.
const MAX_NAMED: usize = 5;

/// How two archives compare as what extracting them leaves on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// The same files: names, types, permission bits, link targets and
    /// contents, and no repeated name whose copies differ.
    Same,
    /// Why the contents are not the same, one reason per line.
    Differ(Vec<String>),
}

/// Compares `a` (the reference) and `b` (the rebuild) as the trees that
/// `tar -x` or `unzip` would leave, where a later member with the same name
/// overwrites an earlier one. A repeated name whose copies differ is never a
/// match, whichever copy wins: it is how a tampered archive hides a file.
/// `None` when either is not an archive reprocheck can read.
/// Reading both may decompress `budget` bytes in all. (`verify` streams
/// files with [`compare_files`]; this is for bytes already in memory.)
#[cfg(test)]
pub fn compare(a: &[u8], b: &[u8], budget: u64) -> Option<Contents> {
    use crate::diff::archive::listing;
    let budget = Budget::new(budget);
    Some(compare_listings(listing(a, &budget)?, listing(b, &budget)?))
}

/// [`compare`] for two files, streamed: tar archives (plain, gzip, xz,
/// zstd) are hashed member by member as they are read, so neither file is
/// held in memory; `budget` still bounds the bytes decompressed.
pub fn compare_files(a: &Path, b: &Path, budget: u64) -> Option<Contents> {
    let budget = Budget::new(budget);
    Some(compare_listings(listing_of_file(a, &budget)?, listing_of_file(b, &budget)?))
}

fn compare_listings(a: Vec<(String, Member)>, b: Vec<(String, Member)>) -> Contents {
    let mut reasons = Vec::new();
    for (side, members) in [("reference", &a), ("rebuilt", &b)] {
        reasons.extend(untrusted(side, members));
    }
    let (tree_a, tree_b) = (tree(&a), tree(&b));
    let only_in = |x: &BTreeMap<String, Vec<String>>, y: &BTreeMap<String, Vec<String>>| {
        x.keys().filter(|k| !y.contains_key(*k)).cloned().collect::<Vec<_>>()
    };
    let changed: Vec<String> = tree_a
        .iter()
        .filter(|(k, v)| tree_b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.clone())
        .collect();
    for (what, names) in [
        ("only in the reference", only_in(&tree_a, &tree_b)),
        ("only in the rebuild", only_in(&tree_b, &tree_a)),
        ("with different contents, type, mode or link target", changed),
    ] {
        if !names.is_empty() {
            reasons.push(format!("{} file(s) {what}: {}", names.len(), named(&names)));
        }
    }
    if reasons.is_empty() {
        Contents::Same
    } else {
        Contents::Differ(reasons)
    }
}

/// Members nothing can be concluded from: unreadable, internally
/// inconsistent, or a name repeated with copies that differ.
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
    for (name, m) in members.iter().filter(|(_, m)| !m.problems.is_empty()) {
        reasons.push(format!("{side} member {name}: {}", m.problems.join("; ")));
    }
    let mut by_path: BTreeMap<String, Vec<&Member>> = BTreeMap::new();
    for (name, list) in copies(members) {
        by_path.entry(normalise(name)).or_default().extend(list);
    }
    for (path, list) in by_path.iter().filter(|(_, l)| l.len() > 1) {
        let fields: Vec<Vec<String>> = list.iter().map(|m| content_fields(m)).collect();
        if fields.iter().any(|f| *f != fields[0]) {
            reasons.push(format!(
                "duplicate member: {path} appears {} times in the {side} archive and the copies differ \
                 (extraction keeps the last one; a classic way to hide a tampered file)",
                list.len()
            ));
        }
    }
    reasons
}

/// The extracted tree: normalised path → content fields of the last copy.
fn tree(members: &[(String, Member)]) -> BTreeMap<String, Vec<String>> {
    members.iter().map(|(name, m)| (normalise(name), content_fields(m))).collect()
}

/// Type, permission bits, link target and content hash.
fn content_fields(member: &Member) -> Vec<String> {
    let mut fields: Vec<String> = CONTENT_FIELDS
        .iter()
        .map(|f| {
            let value = member.fields.get(*f).cloned().unwrap_or_default();
            // Only permission bits: the type bits tar keeps in `mode` vary by tool.
            match (*f, u32::from_str_radix(&value, 8)) {
                ("mode", Ok(mode)) => format!("{:04o}", mode & 0o7777),
                _ => value,
            }
        })
        .collect();
    fields.push(member.content_hash.clone());
    fields
}

/// The path a member extracts to: `./a//b/` and `a/b` are one file.
fn normalise(name: &str) -> String {
    name.split('/').filter(|part| !part.is_empty() && *part != ".").collect::<Vec<_>>().join("/")
}

fn named(names: &[String]) -> String {
    let mut shown = names.iter().take(MAX_NAMED).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > MAX_NAMED {
        shown.push_str(&format!(", … {} more", names.len() - MAX_NAMED));
    }
    shown
}

/// Whether a structured-diff field is about content rather than metadata.
pub fn is_content(field: &str) -> bool {
    CONTENT_FIELDS.contains(&field)
        || ["content", "presence", "size", "lines"].contains(&field)
        || field.starts_with("first difference")
}

/// What a content match ignored: each kind of metadata difference the
/// structured diff counted (`mtime`, `owner`, `order`, `gzip header mtime`,
/// …) and how many there were, over every difference found (the report
/// holds only the first ones).
pub fn ignored_differences(diff: &FileDiff) -> BTreeMap<String, u64> {
    let mut ignored: BTreeMap<String, u64> = diff
        .counts
        .iter()
        .filter(|(kind, _)| !is_content(kind))
        .map(|(kind, n)| (kind.clone(), *n))
        .collect();
    if ignored.is_empty() {
        // Same members, same headers: only the compressed stream differs.
        ignored.insert("compressed stream (compression level or implementation)".into(), 1);
    }
    ignored
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
}
