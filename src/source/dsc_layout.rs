//! Where `dpkg-source -x` puts the members of each tarball of a source
//! package (Dpkg::Source::Archive::extract): a tarball is extracted into a
//! temporary directory; when that holds exactly one entry and it is a
//! directory (not a link), the directory becomes the target, otherwise the
//! temporary directory itself does. So `hello-2.10/src/...` lands as
//! `TARGET/src/...`, while a tarball with no top directory (tzdata's
//! `africa`, `asia`, ...) lands as `TARGET/africa`, `TARGET/asia`.

use crate::collect::{member_parts, SkipMember};
use crate::errors::*;
use crate::spec;
use std::io::Read;

/// True when every member of the tar `stream` that `skip` keeps lies under
/// one top directory (a directory member, or the parent of others; never
/// a link): dpkg-source then strips that directory. Reads only headers, and
/// stops at the first member under another top entry; members and their
/// declared sizes are bounded by the source limits.
pub fn has_one_top_directory(stream: impl Read, skip: &SkipMember, limits: &spec::Limits) -> Result<bool> {
    let mut archive = tar::Archive::new(stream);
    let (mut top, mut is_directory, mut is_link) = (None::<String>, false, false);
    let (mut members, mut bytes) = (0usize, 0u64);
    for entry in archive.entries().context("reading the tar stream")? {
        let entry = entry.context("reading an entry of the tar stream")?;
        members += 1;
        bytes = bytes.saturating_add(entry.header().size().unwrap_or(0));
        ensure!(
            members <= limits.source_entries && bytes <= limits.source_bytes,
            "the tarball holds more than {} entries or {} bytes (the source limits)",
            limits.source_entries,
            limits.source_bytes
        );
        let raw = entry.path_bytes();
        let parts = member_parts(&raw);
        if parts.is_empty() || skip(&parts) {
            continue;
        }
        match &top {
            Some(name) if name != parts[0] => return Ok(false),
            Some(_) => {}
            None => top = Some(parts[0].to_string()),
        }
        let kind = entry.header().entry_type();
        if parts.len() > 1 || kind.is_dir() {
            is_directory = true;
        }
        if parts.len() == 1 && (kind.is_symlink() || kind.is_hard_link()) {
            is_link = true;
        }
    }
    Ok(top.is_some() && is_directory && !is_link)
}

/// dpkg-source leaves `.pc` out of an upstream tarball, as
/// `tar --anchored --no-wildcards-match-slash --exclude .pc --exclude '*/.pc'`
/// does: at the top, or one directory down, with everything under it.
pub fn is_quilt_state(parts: &[&str]) -> bool {
    parts.first() == Some(&".pc") || parts.get(1) == Some(&".pc")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(members: &[(&str, tar::EntryType)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind) in members {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(0);
            header.set_mode(0o644);
            if kind.is_symlink() {
                header.set_link_name("elsewhere").unwrap();
            }
            builder.append_data(&mut header, path, std::io::empty()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn one_top_directory_is_told_from_none_a_file_and_a_link() {
        use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
        let limits = spec::Limits::default();
        let keep_all: &SkipMember = &|_| false;
        for (members, expected) in [
            (vec![("hello-2.10/", D), ("hello-2.10/main.c", F)], true),
            (vec![("./hello-2.10/main.c", F), ("./hello-2.10/src/x.c", F)], true),
            (vec![("./", D), ("./africa", F), ("./asia", F)], false),
            (vec![("africa", F)], false),
            (vec![("a", D), ("b/c", F)], false),
            (vec![("link", L)], false),
            (vec![], false),
        ] {
            let bytes = tar(&members);
            assert_eq!(
                has_one_top_directory(&bytes[..], keep_all, &limits).unwrap(),
                expected,
                "{members:?}"
            );
        }
        // A .pc beside the top directory is left out, so it does not count.
        let bytes = tar(&[(".pc/applied", F), ("pkg/a", F)]);
        let skip: &SkipMember = &|parts| is_quilt_state(parts);
        assert!(has_one_top_directory(&bytes[..], skip, &limits).unwrap());
        assert!(is_quilt_state(&["pkg", ".pc", "x"]) && !is_quilt_state(&["pkg", "a", ".pc"]));
    }
}
