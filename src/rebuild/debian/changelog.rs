//! The date of a source package's latest `debian/changelog` entry, read
//! straight out of its `debian.tar.*` (or a native package's tarball)
//! without unpacking anything else: what dates the inferred image.

use crate::debian::dsc::{Dsc, Part};
use crate::decompress::Compression;
use crate::errors::*;
use std::io::Read;
use std::path::Path;

/// The most of `debian/changelog` read: its first entry is at the top.
const MAX_CHANGELOG_READ: u64 = 1 << 20;

/// Tar entries looked at before giving up on finding the changelog.
const MAX_ENTRIES: usize = 200_000;

/// `(seconds since 1970, the tarball it was read from)` of the latest
/// changelog entry of the source package `dsc`, whose files are in `dir`.
pub fn latest_entry_date(dsc: &Dsc, dir: &Path) -> Result<(i64, String)> {
    let mut tarballs = Vec::new();
    for file in &dsc.files {
        match dsc.part(file)? {
            Part::Debian => tarballs.insert(0, file.name.clone()),
            Part::Native => tarballs.push(file.name.clone()),
            _ => {}
        }
    }
    for name in &tarballs {
        if let Some(text) = changelog_in(&dir.join(name)).with_context(|| format!("reading {name}"))? {
            let date = crate::debian::changelog::latest_date(&text)
                .with_context(|| format!("{name}: debian/changelog"))?;
            return Ok((date, name.clone()));
        }
    }
    bail!(
        "none of {} holds debian/changelog",
        if tarballs.is_empty() { "the .dsc's files".into() } else { tarballs.join(", ") }
    )
}

/// The start of `debian/changelog` (at the top, or under the tarball's one
/// top directory) in the tarball `path`, when it has one.
fn changelog_in(path: &Path) -> Result<Option<String>> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 8];
    let n = crate::decompress::read_prefix(&mut file, &mut magic)?;
    let compression = Compression::sniff(&magic[..n]).context("not a compressed tarball")?;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(compression.decoder(std::io::BufReader::new(file))?);
    for (index, entry) in archive.entries().context("reading the tarball")?.enumerate() {
        ensure!(index < MAX_ENTRIES, "more than {MAX_ENTRIES} entries before debian/changelog");
        let entry = entry.context("reading a tarball entry")?;
        let entry_path = entry.path().context("reading an entry's name")?.into_owned();
        let parts: Vec<String> = entry_path
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let is_changelog = match parts.as_slice() {
            [debian, changelog] => debian == "debian" && changelog == "changelog",
            [_, debian, changelog] => debian == "debian" && changelog == "changelog",
            _ => false,
        };
        if is_changelog && entry.header().entry_type().is_file() {
            let mut text = String::new();
            entry
                .take(MAX_CHANGELOG_READ)
                .read_to_string(&mut text)
                .context("reading debian/changelog (is it UTF-8?)")?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `debian.tar.xz`-like tarball (gzip here) with `debian/changelog`.
    fn tarball(dir: &Path, name: &str, member: &str, text: &str) {
        let file = std::fs::File::create(dir.join(name)).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, member, text.as_bytes()).unwrap();
        builder.into_inner().unwrap().finish().unwrap();
    }

    const CHANGELOG: &str = "hello (2.10-3) unstable; urgency=medium\n\n  * Fix.\n\n -- Santiago Vila <sanvila@debian.org>  Mon, 26 Dec 2022 16:30:00 +0100\n";

    fn dsc(files: &[&str]) -> Dsc {
        let mut text = "Format: 3.0 (quilt)\nSource: hello\nVersion: 2.10-3\nChecksums-Sha256:\n".to_string();
        for f in files {
            text.push_str(&format!(" {} 1 {f}\n", "a".repeat(64)));
        }
        Dsc::parse(&text).unwrap()
    }

    #[test]
    fn reads_the_date_from_the_debian_tarball_or_a_native_one() {
        let dir = tempfile::tempdir().unwrap();
        tarball(dir.path(), "hello_2.10-3.debian.tar.gz", "debian/changelog", CHANGELOG);
        tarball(dir.path(), "hello_2.10.orig.tar.gz", "hello-2.10/README", "x");
        let quilt = dsc(&["hello_2.10.orig.tar.gz", "hello_2.10-3.debian.tar.gz"]);
        assert_eq!(
            latest_entry_date(&quilt, dir.path()).unwrap(),
            (1_672_068_600, "hello_2.10-3.debian.tar.gz".to_string())
        );
        let native_dir = tempfile::tempdir().unwrap();
        tarball(native_dir.path(), "hello_2.10-3.tar.gz", "hello-2.10/debian/changelog", CHANGELOG);
        let native = dsc(&["hello_2.10-3.tar.gz"]);
        assert_eq!(latest_entry_date(&native, native_dir.path()).unwrap().0, 1_672_068_600);
    }

    #[test]
    fn a_source_without_a_changelog_says_so() {
        let dir = tempfile::tempdir().unwrap();
        tarball(dir.path(), "hello_2.10-3.debian.tar.gz", "debian/control", "Source: hello\n");
        let quilt = dsc(&["hello_2.10-3.debian.tar.gz"]);
        let err = latest_entry_date(&quilt, dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds debian/changelog"), "{err}");
    }
}
