//! Tarball sources: hash the file, refuse it unless the digest matches, then
//! unpack it with the same hostile-input rules as build outputs.

use crate::collect::{Collecting, Collector, Limits, OutputSelector};
use crate::errors::*;
use crate::spec;
use crate::spec::Digest;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

/// Verifies `tarball` against `expected`, then unpacks it into `dest`
/// (created), dropping `strip` leading path components, keeping mtimes.
/// Every compression streams to disk; `limits.source_size` and
/// `limits.source_files` stop a decompression bomb.
pub fn unpack(
    tarball: &Path,
    expected: &Digest,
    strip: u32,
    dest: &Path,
    limits: &spec::Limits,
) -> Result<()> {
    let stream = open_verified(tarball, expected, |actual| {
        format!(
            "the tarball {} has {actual}, but source.sha256 pins {expected}\n\
             help: the file is not the one the spec was written for; fetch the right one, \
             or update `sha256` only if you trust the new file",
            tarball.display()
        )
    })?;
    let everything = OutputSelector::new(&["**".to_string()])?;
    let mut collector = source_collector(dest, &everything, limits)?;
    collector
        .add_stripped(stream, "", strip as usize)
        .with_context(|| format!("unpacking the tarball {}", tarball.display()))?;
    let entries = collector.finish()?;
    ensure!(
        !entries.is_empty(),
        "the tarball {} holds no files after stripping {strip} path components\n\
         help: check source.strip_components",
        tarball.display()
    );
    Ok(())
}

/// A collector that unpacks a source into `dest` (created) within the
/// source limits, keeping mtimes.
pub(super) fn source_collector<'a>(
    dest: &Path,
    everything: &'a OutputSelector,
    limits: &spec::Limits,
) -> Result<Collector<'a>> {
    let caps = Limits {
        max_total_bytes: limits.source_bytes,
        max_entries: limits.source_entries,
        collecting: Collecting::Source,
    };
    Ok(Collector::new(dest, everything, caps)?.keeping_mtimes())
}

/// Opens `tarball` to unpack it: its sha256 must be `expected` (else the
/// error is `mismatch(actual)`), and its compression, told by its first
/// bytes, is undone as it streams.
pub(super) fn open_verified(
    tarball: &Path,
    expected: &Digest,
    mismatch: impl FnOnce(&Digest) -> String,
) -> Result<Box<dyn Read>> {
    let mut file =
        File::open(tarball).with_context(|| format!("opening the tarball {}", tarball.display()))?;
    let actual = Digest::of_reader(&mut file).with_context(|| format!("hashing {}", tarball.display()))?;
    ensure!(actual == *expected, "{}", mismatch(&actual));
    file.rewind().with_context(|| format!("rereading {}", tarball.display()))?;
    let mut magic = [0u8; 6];
    let n = crate::decompress::read_prefix(&mut file, &mut magic)
        .with_context(|| format!("reading {}", tarball.display()))?;
    file.rewind().with_context(|| format!("rereading {}", tarball.display()))?;
    let reader = BufReader::new(file);
    Ok(match crate::decompress::Compression::sniff(&magic[..n]) {
        Some(compression) => compression
            .decoder(reader)
            .with_context(|| format!("starting to decompress {} ({compression:?})", tarball.display()))?,
        None => Box::new(reader),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    fn tarball(dir: &Path) -> (std::path::PathBuf, Digest) {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), Default::default()));
        for (name, body, mtime) in
            [("pkg-1.0/configure", "#!/bin/sh\n", 200), ("pkg-1.0/configure.ac", "x", 100)]
        {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o755);
            header.set_mtime(mtime);
            builder.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let path = dir.join("pkg-1.0.tar.gz");
        std::fs::write(&path, &bytes).unwrap();
        (path, Digest::from_sha256(&Sha256::digest(&bytes)))
    }

    #[test]
    fn unpacks_stripped_with_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, digest) = tarball(dir.path());
        let dest = dir.path().join("src");
        unpack(&path, &digest, 1, &dest, &Default::default()).unwrap();
        let meta = std::fs::metadata(dest.join("configure")).unwrap();
        assert_eq!(filetime::FileTime::from_last_modification_time(&meta).unix_seconds(), 200);
        assert!(dest.join("configure.ac").is_file());
    }

    #[test]
    fn a_pax_mtime_wins_over_the_rounded_header() {
        // As Python's tarfile writes sdists: the header has the time
        // rounded (1727986910), the pax record the exact one.
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), Default::default()));
        builder.append_pax_extensions([("mtime", &b"1727986909.599353"[..])]).unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_mtime(1727986910);
        builder.append_data(&mut header, "pkg-1.0/_parser.py", &b"x"[..]).unwrap();
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        let path = dir.path().join("pkg-1.0.tar.gz");
        std::fs::write(&path, &bytes).unwrap();
        let digest = Digest::from_sha256(&Sha256::digest(&bytes));
        let dest = dir.path().join("src");
        unpack(&path, &digest, 1, &dest, &Default::default()).unwrap();
        let meta = std::fs::metadata(dest.join("_parser.py")).unwrap();
        let mtime = filetime::FileTime::from_last_modification_time(&meta);
        assert_eq!((mtime.unix_seconds(), mtime.nanoseconds()), (1727986909, 599353000));
    }

    #[test]
    fn a_wrong_digest_stops_before_unpacking() {
        let dir = tempfile::tempdir().unwrap();
        let (path, digest) = tarball(dir.path());
        let wrong = Digest::from_sha256(&[0u8; 32]);
        let dest = dir.path().join("src");
        let err = unpack(&path, &wrong, 1, &dest, &Default::default()).unwrap_err().to_string();
        assert!(err.contains(digest.as_str()) && err.contains(wrong.as_str()), "{err}");
        assert!(!dest.exists());
    }
}
