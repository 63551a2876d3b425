//! What a stream is, told by its first bytes: a compression layer (one
//! [`Compression`], the single list of them) or an archive the diff lists
//! member by member, or neither.

use crate::decompress::Compression;

/// An archive format whose members the diff lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchiveKind {
    /// POSIX, GNU or v7 tar.
    Tar,
    /// Unix `ar` (a `.deb`).
    Ar,
    /// Zip (a wheel, a jar).
    Zip,
}

impl ArchiveKind {
    /// `tar`, `ar`, `zip`: as formats, scopes (`tar entry x`) and
    /// descriptions (`tar+gzip`) spell it.
    pub fn name(self) -> &'static str {
        match self {
            ArchiveKind::Tar => "tar",
            ArchiveKind::Ar => "ar",
            ArchiveKind::Zip => "zip",
        }
    }
}

/// Formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// A compression layer around something else.
    Compressed(Compression),
    /// An archive.
    Archive(ArchiveKind),
    /// Anything else (`binary`: text, ELF and bytes are told apart later).
    Other,
}

impl Format {
    /// The compression layer this format is, if it is one.
    pub fn compression(self) -> Option<Compression> {
        match self {
            Format::Compressed(compression) => Some(compression),
            _ => None,
        }
    }

    /// `gzip`, `tar`, `binary`, ...
    pub fn name(self) -> &'static str {
        match self {
            Format::Compressed(compression) => compression.name(),
            Format::Archive(kind) => kind.name(),
            Format::Other => "binary",
        }
    }
}

/// The format `data` starts with (compression magic as the source
/// tarballs' decompressor reads it).
pub fn sniff(data: &[u8]) -> Format {
    if let Some(compression) = Compression::sniff(data) {
        Format::Compressed(compression)
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Format::Archive(ArchiveKind::Zip)
    } else if (data.len() >= 262 && &data[257..262] == b"ustar") || is_v7_tar_header(data) {
        Format::Archive(ArchiveKind::Tar)
    } else if data.starts_with(b"!<arch>\n") {
        Format::Archive(ArchiveKind::Ar)
    } else {
        Format::Other
    }
}

/// Whether `data` starts with a pre-POSIX (v7) tar header, which has no
/// magic: a name, and a checksum field that matches the header's bytes.
/// automake's `make dist` writes this format by default (GNU hello 2.10).
fn is_v7_tar_header(data: &[u8]) -> bool {
    let Some(header) = data.get(..512) else { return false };
    if header[0] == 0 {
        return false;
    }
    let field = String::from_utf8_lossy(&header[148..156]);
    let Ok(recorded) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8) else {
        return false;
    };
    // The sum of the header's bytes with the checksum field read as spaces.
    let sum: u32 =
        header.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { *b as u32 }).sum();
    sum == recorded
}
