//! Whether two archives hold the same files: names, types, file contents,
//! permission bits and link targets. Everything else (mtimes, owners,
//! member order, pax records, compression) is metadata.

use crate::diff::archive::{listing, Member};
use crate::diff::FileDiff;
use std::collections::BTreeMap;

/// Fields of an archive member that are content, not metadata.
const CONTENT_FIELDS: [&str; 3] = ["type", "mode", "link"];

/// `Some(true)` when `a` and `b` are archives with the same contents,
/// `Some(false)` when they are archives whose contents differ, `None` when
/// either is not an archive reprocheck can read.
pub fn same_contents(a: &[u8], b: &[u8]) -> Option<bool> {
    let (a, b) = (listing(a)?, listing(b)?);
    Some(contents(&a) == contents(&b))
}

/// The archive's members by normalised name, with their content fields.
fn contents(members: &[(String, Member)]) -> Option<BTreeMap<String, Vec<String>>> {
    let mut map = BTreeMap::new();
    for (name, member) in members {
        let name = name.trim_start_matches("./").trim_end_matches('/').to_string();
        let mut fields: Vec<String> = CONTENT_FIELDS
            .iter()
            .map(|f| {
                let value = member.fields.get(f).cloned().unwrap_or_default();
                // Only permission bits: the type bits tar keeps in `mode` vary by tool.
                match (*f, u32::from_str_radix(&value, 8)) {
                    ("mode", Ok(mode)) => format!("{:04o}", mode & 0o7777),
                    _ => value,
                }
            })
            .collect();
        fields.push(member.content_hash.clone());
        // A name twice is ambiguous (which copy wins depends on the extractor).
        if map.insert(name, fields).is_some() {
            return None;
        }
    }
    Some(map)
}

/// Whether a structured-diff field is about content rather than metadata.
pub fn is_content(field: &str) -> bool {
    CONTENT_FIELDS.contains(&field)
        || ["content", "presence", "size", "lines"].contains(&field)
        || field.starts_with("first difference")
}

/// The kinds of metadata the structured diff found, e.g. `mtime`, `owner`,
/// `order`, `gzip header mtime`, for a one-line summary of a content match.
pub fn metadata_kinds(diff: &FileDiff) -> Vec<String> {
    let mut kinds: Vec<String> = diff
        .details
        .iter()
        .map(|d| match d.field.as_str() {
            "uid" | "gid" | "uname" | "gname" => "owner".to_string(),
            field if d.scope.ends_with("gzip header") => format!("gzip header {field}"),
            field => field.to_string(),
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        // Same members, same headers: only the compressed stream differs.
        kinds.push("compressed stream (compression level or implementation)".into());
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(same_contents(&a, &b), Some(true));
    }

    #[test]
    fn content_mode_and_name_differences_are_mismatches() {
        let base = tgz(&[("p/a", "1", 0o644, 0, 5)], 0);
        assert_eq!(same_contents(&base, &tgz(&[("p/a", "2", 0o644, 0, 5)], 0)), Some(false));
        assert_eq!(same_contents(&base, &tgz(&[("p/a", "1", 0o664, 0, 5)], 0)), Some(false));
        assert_eq!(same_contents(&base, &tgz(&[("q/a", "1", 0o644, 0, 5)], 0)), Some(false));
        assert_eq!(same_contents(&base, b"not an archive"), None);
    }
}
