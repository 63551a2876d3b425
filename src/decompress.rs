//! Decompressors shared by source tarballs and the structured diff. Each
//! streams, so the caller's own cap bounds what is produced; xz's working
//! memory (its dictionary, chosen by the file) is capped here.

use std::io::Read;

/// Largest xz dictionary accepted: `xz -9` uses 64 MiB; a header asking for
/// more (up to 4 GiB is legal) is refused instead of allocated.
pub const XZ_DICTIONARY_LIMIT: u32 = 256 << 20;

/// Reads until `buf` is full or the stream ends (for magic bytes, which a
/// single `read` may return only part of); returns how many were read.
pub fn read_prefix(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A streaming xz decoder over `reader` (concatenated streams allowed, as
/// `xz -d` reads them).
pub fn xz<R: Read>(reader: R) -> impl Read {
    lzma_rust2::XzReader::new_mem_limit(reader, true, XZ_DICTIONARY_LIMIT / 1024)
}

/// A compression format reprocheck unpacks: one match from magic bytes to
/// a streaming decoder, shared by source tarballs, the structured diff and
/// verify's streamed listing. A new format is added here alone: the diff
/// sniffs, names and peels compression layers through this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// gzip (concatenated members read as `gzip -d` does).
    Gzip,
    /// xz, with the dictionary capped at [`XZ_DICTIONARY_LIMIT`].
    Xz,
    /// Zstandard.
    Zstd,
    /// bzip2 (concatenated streams read as `bzip2 -d` does), in pure Rust.
    Bzip2,
}

impl Compression {
    /// The compression a file starting with `magic` uses, if one of these.
    pub fn sniff(magic: &[u8]) -> Option<Compression> {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if magic.len() >= 4 && magic.starts_with(b"BZh") && (b'1'..=b'9').contains(&magic[3]) {
            Some(Compression::Bzip2)
        } else {
            None
        }
    }

    /// Its name, as the diff's formats and scopes spell it (`tar+gzip`,
    /// `gzip payload`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// A streaming decoder of this format over `reader`.
    pub fn decoder<'a, R: Read + 'a>(self, reader: R) -> std::io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Compression::Xz => Box::new(xz(reader)),
            Compression::Zstd => Box::new(zstd::Decoder::new(reader)?),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        })
    }
}

/// `data` as an .xz file (preset 6), for tests.
#[cfg(test)]
pub(crate) fn xz_compress(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    writer.write_all(data).unwrap();
    writer.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(data: &[u8]) -> Vec<u8> {
        xz_compress(data)
    }

    #[test]
    fn every_format_is_sniffed_and_decoded_by_one_match() {
        use std::io::Write;
        let data = b"the same bytes, three ways".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        bz.write_all(&data).unwrap();
        for (packed, format) in [
            (bz.finish().unwrap(), Compression::Bzip2),
            (gz.finish().unwrap(), Compression::Gzip),
            (xz_compress(&data), Compression::Xz),
            (zst, Compression::Zstd),
        ] {
            assert_eq!(Compression::sniff(&packed), Some(format));
            let mut out = Vec::new();
            format.decoder(&packed[..]).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{format:?}");
        }
        assert_eq!(Compression::sniff(b"ustar"), None);
    }

    #[test]
    fn streams_what_it_decodes() {
        let data = b"hello xz ".repeat(100_000);
        let mut out = Vec::new();
        xz(&compress(&data)[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // A caller's cap stops the stream early: only what was asked is decoded.
        let mut first = Vec::new();
        xz(&compress(&data)[..]).take(10).read_to_end(&mut first).unwrap();
        assert_eq!(first, b"hello xz h");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        assert!(xz(&b"\xfd7zXZ\0garbage"[..]).read_to_end(&mut out).is_err());
    }
}
