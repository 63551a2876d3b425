//! Listing an archive *file* without holding it: a tar, plain or under
//! gzip, xz or zstd, is read as a stream and each member hashed as it goes
//! by, so `verify` can compare the contents of archives far larger than
//! memory. Every decompressed byte (headers, long names, contents) draws
//! from the comparison's budget. Zip and ar need random access: they are
//! read whole, up to the diff's size cap.

use super::archive::{listing, sniff, tar_member, Format, Member};
use super::budget::Budget;
use std::io::{Read, Seek};
use std::path::Path;

/// The members of the archive at `path`, in archive order; `None` when it
/// is not an archive reprocheck reads, or cannot be read within `budget`.
pub(crate) fn listing_of_file(path: &Path, budget: &Budget) -> Option<Vec<(String, Member)>> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut magic = [0u8; 262];
    let n = crate::decompress::read_prefix(&mut file, &mut magic).ok()?;
    file.rewind().ok()?;
    let file = std::io::BufReader::new(file);
    let stream: Box<dyn Read + '_> = match sniff(&magic[..n]) {
        Format::Tar => Box::new(file),
        format @ (Format::Gzip | Format::Xz | Format::Zstd) => format.compression()?.decoder(file).ok()?,
        Format::Zip | Format::Ar => {
            let size = std::fs::metadata(path).ok()?.len();
            return (size <= super::MAX_READ)
                .then(|| std::fs::read(path).ok())
                .flatten()
                .and_then(|d| listing(&d, budget));
        }
        Format::Other => return None,
    };
    tar_listing(Charged { inner: stream, budget }, budget)
}

/// A tar stream's members, each hashed as it is read.
fn tar_listing(mut stream: impl Read, budget: &Budget) -> Option<Vec<(String, Member)>> {
    // Only a tar inside: look at its first header before trusting the rest.
    let mut first = vec![0u8; 512];
    let n = crate::decompress::read_prefix(&mut stream, &mut first).ok()?;
    if sniff(&first[..n]) != Format::Tar {
        return None;
    }
    let mut archive = tar::Archive::new(std::io::Cursor::new(first).chain(stream));
    let mut members = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let (name, member) = tar_member(&mut entry);
        let hash = hash_all(&mut entry);
        if hash.is_none() && budget.exhausted() {
            // Past the budget nothing further is read.
            members.push((name, member.with_hash(None)));
            return Some(members);
        }
        members.push((name, member.with_hash(hash)));
    }
    Some(members)
}

/// Hex sha256 of everything `reader` yields; `None` when reading fails.
fn hash_all(reader: impl Read) -> Option<String> {
    crate::digest::Digest::of_reader(reader).ok().map(|d| d.hex().to_string())
}

/// A reader whose every byte is charged to a budget; past it, reads fail.
struct Charged<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R: Read> Read for Charged<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.budget.charge(n as u64) {
            return Err(std::io::Error::other("over the decompression budget"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::budget::DEFAULT_BUDGET;
    use std::io::Write;

    fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, name, *body).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_streamed_listing_matches_the_in_memory_one() {
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_of(&[("pkg/a", b"one"), ("pkg/b", b"two"), ("pkg/a", b"three")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        for (name, bytes) in
            [("x.tar", tar.clone()), ("x.tar.gz", tgz), ("x.tar.xz", crate::decompress::xz_compress(&tar))]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let streamed = listing_of_file(&path, &Budget::new(DEFAULT_BUDGET)).unwrap();
            let whole = listing(&bytes, &Budget::new(DEFAULT_BUDGET)).unwrap();
            let view = |l: &[(String, Member)]| {
                l.iter()
                    .map(|(n, m)| (n.clone(), m.fields.clone(), m.content_hash.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(view(&streamed), view(&whole), "{name}");
            assert!(streamed.iter().all(|(_, m)| m.content.is_none()), "{name}: nothing kept");
        }
    }

    #[test]
    fn a_stream_past_the_budget_stops_with_an_unreadable_member() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0u8; 1 << 20];
        let tar = tar_of(&[("small", b"x"), ("big", &big), ("after", b"y")]);
        let path = dir.path().join("x.tar");
        std::fs::write(&path, &tar).unwrap();
        let budget = Budget::new(64 << 10);
        let listed = listing_of_file(&path, &budget).unwrap();
        assert!(budget.exhausted());
        assert!(listed.iter().any(|(_, m)| !m.readable()), "the member past the budget is unreadable");
        assert!(!listed.iter().any(|(n, _)| n == "after"), "nothing is read past the budget");
    }

    /// automake's default `tar-v7` format has no `ustar` magic (GNU hello
    /// 2.10's tarball): it is still a tar, in memory and streamed.
    #[test]
    fn a_v7_tar_without_magic_is_listed() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_old();
        header.set_size(3);
        header.set_mode(0o644);
        builder.append_data(&mut header, "pkg/a", &b"one"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        assert_ne!(&tar[257..262], b"ustar");
        assert_eq!(sniff(&tar), Format::Tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        assert_eq!(listing(&tgz, &Budget::new(DEFAULT_BUDGET)).map(|l| l.len()), Some(1));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.tar.gz"), &tgz).unwrap();
        assert_eq!(
            listing_of_file(&dir.path().join("x.tar.gz"), &Budget::new(DEFAULT_BUDGET)).map(|l| l.len()),
            Some(1)
        );
        // Text is not a tar, whatever its first bytes.
        assert_eq!(sniff(&[b'a'; 600]), Format::Other);
    }

    #[test]
    fn compressed_non_tar_data_is_not_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        gz.write_all(b"just text, not a tar").unwrap();
        let path = dir.path().join("x.gz");
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert!(listing_of_file(&path, &Budget::new(DEFAULT_BUDGET)).is_none());
    }
}
