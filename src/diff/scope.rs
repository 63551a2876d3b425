//! Where a difference is and what differs, as types: a [`Scope`] (the
//! layers an output was opened through, then the layer the difference is
//! in) and a [`Field`]. The diff produces them, the hints, `verify` and
//! `explain` match on them, and they serialize to the strings report.json
//! has always held (`tar entry p/a > text`, `mtime`, `gzip header`), which
//! docs/report.md documents: [`Display`](std::fmt::Display) is that
//! string, and it alone orders them (sorted output stays as it was).

use super::format::{ArchiveKind, Format};
use crate::decompress::Compression;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// One layer of an output: a member, a payload, a header, a section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The file (or member) as a whole: `file`.
    File,
    /// Its bytes: `bytes`.
    Bytes,
    /// Its text: `text`.
    Text,
    /// The archive with its compression layers, when two versions are
    /// different ones (`tar+gzip` against `ar+gzip`): `archive`.
    Archive,
    /// An archive or a compressed stream as a whole: `tar`, `gzip`, ...
    Format(Format),
    /// One member of an archive: `tar entry NAME`.
    Entry(ArchiveKind, String),
    /// What a compressed stream that is no archive holds: `gzip payload`.
    Payload(Compression),
    /// A gzip header: `gzip header`.
    GzipHeader,
    /// An ELF section: `elf section NAME`.
    ElfSection(String),
    /// An ELF file's symbol tables: `elf symbols`.
    ElfSymbols,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::File => f.write_str("file"),
            Layer::Bytes => f.write_str("bytes"),
            Layer::Text => f.write_str("text"),
            Layer::Archive => f.write_str("archive"),
            Layer::Format(format) => f.write_str(format.name()),
            Layer::Entry(kind, name) => write!(f, "{} entry {name}", kind.name()),
            Layer::Payload(compression) => write!(f, "{} payload", compression.name()),
            Layer::GzipHeader => f.write_str("gzip header"),
            Layer::ElfSection(name) => write!(f, "elf section {name}"),
            Layer::ElfSymbols => f.write_str("elf symbols"),
        }
    }
}

/// The layers an output was opened through, outermost first; empty for
/// the output itself. Reads `ar entry data.tar.xz > tar entry ./x`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Nesting(Vec<Layer>);

impl Nesting {
    /// The layers, outermost first.
    pub fn layers(&self) -> &[Layer] {
        &self.0
    }

    /// Whether this is the output itself.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scope of `layer` at this nesting.
    pub fn at(&self, layer: Layer) -> Scope {
        Scope { within: self.clone(), at: layer }
    }

    /// One layer further in.
    pub fn inside(&self, layer: Layer) -> Nesting {
        let mut layers = self.0.clone();
        layers.push(layer);
        Nesting(layers)
    }

    /// Whether `other` is this nesting or lies inside it.
    pub fn holds(&self, other: &Nesting) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl fmt::Display for Nesting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, layer) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" > ")?;
            }
            write!(f, "{layer}")?;
        }
        Ok(())
    }
}

/// Where a difference is: the layer it is in, and the layers around that.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The layers the output was opened through to reach [`Scope::at`].
    pub within: Nesting,
    /// The layer the difference is in.
    pub at: Layer,
}

impl Scope {
    /// A layer of the output itself (`file`, `bytes`, `gzip header`).
    pub fn top(at: Layer) -> Scope {
        Scope { within: Nesting::default(), at }
    }

    /// The nesting of what lies inside this scope (a member's content).
    pub fn path(&self) -> Nesting {
        self.within.inside(self.at.clone())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.within.is_empty() {
            write!(f, "{} > ", self.within)?;
        }
        write!(f, "{}", self.at)
    }
}

/// What differs. Archive members' header fields are these too, so
/// `verify` and the hints read a member field and a detail alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// Whether it exists: `presence`.
    Presence,
    /// File type: `type`.
    Type,
    /// Permission bits: `mode`.
    Mode,
    /// An output file's extended attribute: `xattr NAME`.
    Xattr(String),
    /// The format the version was read as: `format`.
    Format,
    /// What a compressed stream holds, when it was not compared: `payload`.
    Payload,
    /// The comparison's decompression budget ran out: `decompression budget`.
    DecompressionBudget,
    /// Same members and fields, different compressed bytes: `compressed stream`.
    CompressedStream,
    /// Same members and fields, different header bytes: `header bytes`.
    HeaderBytes,
    /// Constructs extractors read differently: `ambiguous`.
    Ambiguous,
    /// Where an archive's listing stopped: `listing`.
    Listing,
    /// The members' order: `order`.
    Order,
    /// How many copies of a name an archive holds: `copies`.
    Copies,
    /// The content's digest: `content`.
    Content,
    /// Modification time: `mtime`.
    Mtime,
    /// Owner and group: `uid`, `gid`, `uname`, `gname`.
    Uid,
    /// See [`Field::Uid`].
    Gid,
    /// See [`Field::Uid`].
    Uname,
    /// See [`Field::Uid`].
    Gname,
    /// Size in bytes: `size`.
    Size,
    /// A link's target: `link`.
    Link,
    /// A device's numbers: `devmajor`, `devminor`.
    Devmajor,
    /// See [`Field::Devmajor`].
    Devminor,
    /// `v7`, `ustar`, `gnu`: `header format`.
    HeaderFormat,
    /// Where a tar member's name is recorded: `name stored in`.
    NameStoredIn,
    /// A pax record (`pax mtime`, `pax SCHILY.xattr.user.k`); the key as
    /// the archive has it, clipped.
    Pax(String),
    /// A pax global record: `pax global KEY`.
    PaxGlobal(String),
    /// Zip: the external attributes' DOS bits: `dos attributes`.
    DosAttributes,
    /// Zip: the host byte of "version made by": `made by`.
    MadeBy,
    /// Zip: `version made by`.
    VersionMadeBy,
    /// Zip: `version needed`.
    VersionNeeded,
    /// Zip: compression method: `method`.
    Method,
    /// Zip: the flags about compression: `compression flags`.
    CompressionFlags,
    /// Zip: `utf-8 name flag`.
    Utf8NameFlag,
    /// Zip: other general-purpose flags: `flags`.
    Flags,
    /// Zip: `compressed size`.
    CompressedSize,
    /// Zip: a member's comment: `comment`.
    Comment,
    /// Zip: the archive's comment: `archive comment`.
    ArchiveComment,
    /// Zip: an extra field by id: `extra 0x5455 (extended timestamp)`.
    Extra(u16),
    /// Gzip header: the original file name: `name`.
    Name,
    /// Gzip header: the OS byte: `os`.
    Os,
    /// A text diff settled for a coarse alignment: `alignment`.
    Alignment,
    /// A text's line counts: `lines`.
    Lines,
    /// Bytes: `first difference at offset N`.
    FirstDifferenceAt(u64),
    /// ELF: the GNU build-id: `build-id`.
    BuildId,
    /// ELF: strings only one side has: `strings`.
    Strings,
    /// ELF: `first difference at section offset N`.
    FirstDifferenceInSection(u64),
    /// ELF: code bytes that read as a year: `year`.
    Year,
    /// ELF: symbols only one side has: `symbols`.
    Symbols,
    /// A place (`explain`): a changed or removed line: `line N`.
    Line(usize),
    /// A place (`explain`): lines added after line N: `after line N`.
    AfterLine(usize),
    /// A place (`explain`): a run of differing bytes: `offset N`.
    Offset(usize),
}

impl Field {
    /// How report.json spells it.
    pub fn name(&self) -> Cow<'static, str> {
        let fixed = match self {
            Field::Presence => "presence",
            Field::Type => "type",
            Field::Mode => "mode",
            Field::Format => "format",
            Field::Payload => "payload",
            Field::DecompressionBudget => "decompression budget",
            Field::CompressedStream => "compressed stream",
            Field::HeaderBytes => "header bytes",
            Field::Ambiguous => "ambiguous",
            Field::Listing => "listing",
            Field::Order => "order",
            Field::Copies => "copies",
            Field::Content => "content",
            Field::Mtime => "mtime",
            Field::Uid => "uid",
            Field::Gid => "gid",
            Field::Uname => "uname",
            Field::Gname => "gname",
            Field::Size => "size",
            Field::Link => "link",
            Field::Devmajor => "devmajor",
            Field::Devminor => "devminor",
            Field::HeaderFormat => "header format",
            Field::NameStoredIn => "name stored in",
            Field::DosAttributes => "dos attributes",
            Field::MadeBy => "made by",
            Field::VersionMadeBy => "version made by",
            Field::VersionNeeded => "version needed",
            Field::Method => "method",
            Field::CompressionFlags => "compression flags",
            Field::Utf8NameFlag => "utf-8 name flag",
            Field::Flags => "flags",
            Field::CompressedSize => "compressed size",
            Field::Comment => "comment",
            Field::ArchiveComment => "archive comment",
            Field::Name => "name",
            Field::Os => "os",
            Field::Alignment => "alignment",
            Field::Lines => "lines",
            Field::BuildId => "build-id",
            Field::Strings => "strings",
            Field::Year => "year",
            Field::Symbols => "symbols",
            Field::Xattr(name) => return format!("xattr {name}").into(),
            Field::Pax(key) => return format!("pax {key}").into(),
            Field::PaxGlobal(key) => return format!("pax global {key}").into(),
            Field::Extra(id) => return format!("extra {id:#06x}{}", extra_name(*id)).into(),
            Field::FirstDifferenceAt(at) => return format!("first difference at offset {at}").into(),
            Field::FirstDifferenceInSection(at) => {
                return format!("first difference at section offset {at}").into()
            }
            Field::Line(n) => return format!("line {n}").into(),
            Field::AfterLine(n) => return format!("after line {n}").into(),
            Field::Offset(n) => return format!("offset {n}").into(),
        };
        Cow::Borrowed(fixed)
    }

    /// Whether this is an owner or group field (`uid`, `gid`, `uname`,
    /// `gname`): the `owner` kind.
    pub fn is_owner(&self) -> bool {
        matches!(self, Field::Uid | Field::Gid | Field::Uname | Field::Gname)
    }

    /// Whether this is where bytes first differ: the `first difference` kind.
    pub fn is_first_difference(&self) -> bool {
        matches!(self, Field::FirstDifferenceAt(_) | Field::FirstDifferenceInSection(_))
    }

    /// Whether this is the pax record `key`.
    pub fn is_pax(&self, key: &str) -> bool {
        matches!(self, Field::Pax(k) if k == key)
    }
}

/// A zip extra field's name, when its id is a known one.
fn extra_name(id: u16) -> &'static str {
    match id {
        0x5455 => " (extended timestamp)",
        0x7875 => " (Unix UID/GID)",
        0x5855 => " (Info-ZIP Unix, old)",
        0x000a => " (NTFS times)",
        0x7075 => " (Unicode path)",
        0x6375 => " (Unicode comment)",
        0x0001 => " (zip64)",
        _ => "",
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A kind of difference, for counts and summaries: the field, with
/// `uid`/`gid`/`uname`/`gname` as `owner`, gzip header fields named as
/// such, and a byte offset as `first difference`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Owner or group: `owner`.
    Owner,
    /// Where bytes first differ, wherever: `first difference`.
    FirstDifference,
    /// A gzip header field: `gzip header mtime`.
    GzipHeader(Field),
    /// Any other field, as itself.
    Of(Field),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Owner => f.write_str("owner"),
            Kind::FirstDifference => f.write_str("first difference"),
            Kind::GzipHeader(field) => write!(f, "gzip header {field}"),
            Kind::Of(field) => write!(f, "{field}"),
        }
    }
}

/// Ordered by the text report.json shows (the order lists and maps have
/// always had), then by structure, so only equal values compare equal.
macro_rules! ordered_as_text {
    ($type:ty, $text:expr) => {
        impl PartialOrd for $type {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $type {
            fn cmp(&self, other: &Self) -> Ordering {
                let text: fn(&$type) -> Cow<'_, str> = $text;
                text(self).cmp(&text(other)).then_with(|| format!("{self:?}").cmp(&format!("{other:?}")))
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}

ordered_as_text!(Field, |f| f.name());
ordered_as_text!(Kind, |k| Cow::Owned(k.to_string()));
ordered_as_text!(Nesting, |n| Cow::Owned(n.to_string()));
ordered_as_text!(Scope, |s| Cow::Owned(s.to_string()));

#[cfg(test)]
mod tests;
