//! Listing archives as streams, never holding them: a tar (plain or under
//! any number of gzip, xz and zstd layers) or an ar archive (a `.deb`) is
//! read front to back and each member hashed as it goes by. Only the
//! members a caller asks for are kept, up to a cap, so comparing two 100 MB
//! tarballs holds digests, not contents: a first pass lists both sides, a
//! second one fetches just the members whose digests differ. Every
//! decompressed byte draws from the comparison's budget. Zip needs random
//! access: it is read whole, up to the diff's size cap.

use super::budget::Budget;
use super::format::{sniff, ArchiveKind, Format};
use super::member::{Member, Members};
use super::scope::Field;
use super::tar_reader::{TarReader, MAX_NAME};
use crate::decompress::Compression;
use std::io::{Cursor, Read};
use std::path::Path;

/// Compression layers peeled at most on the way to an archive.
const MAX_LAYERS: usize = 3;
/// Bytes of each layer looked at to tell its format (and a gzip header).
const HEAD: usize = 4096;
/// Largest GNU long-name table of an ar archive read.
const MAX_AR_NAMES: u64 = 1 << 20;
/// What listing one member costs the budget besides its bytes (its name
/// and fields are held): a million empty members run out, not memory.
const MEMBER_COST: u64 = 512;

/// Where an archive's bytes are: opened afresh for each pass.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A file on disk, streamed.
    File(&'a Path),
    /// Bytes already held (a member fetched by an outer pass).
    Bytes(&'a [u8]),
}

/// For an output path: `None` when it is missing, `Some(Some(text))` for a
/// symlink (`symlink -> TARGET`, compared as text, never followed),
/// `Some(None)` for a file.
pub(crate) fn link_text(path: &Path) -> Option<Option<Vec<u8>>> {
    let m = std::fs::symlink_metadata(path).ok()?;
    Some(m.file_type().is_symlink().then(|| {
        format!("symlink -> {}", std::fs::read_link(path).unwrap_or_default().display()).into_bytes()
    }))
}

impl<'a> Source<'a> {
    /// The symlink's text when there is one, else the file at `path`.
    pub fn file_or_link(link: &'a Option<Vec<u8>>, path: &'a Path) -> Source<'a> {
        link.as_deref().map_or(Source::File(path), Source::Bytes)
    }

    fn open(self) -> Option<Box<dyn Read + 'a>> {
        Some(match self {
            Source::File(path) => {
                Box::new(std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(path).ok()?))
            }
            Source::Bytes(bytes) => Box::new(bytes),
        })
    }

    /// Its size in bytes (0 when a file cannot be read).
    pub fn size(self) -> u64 {
        match self {
            Source::File(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            Source::Bytes(bytes) => bytes.len() as u64,
        }
    }

    /// Its first `n` bytes (fewer when it is shorter).
    pub fn head(self, n: usize) -> Vec<u8> {
        let mut head = vec![0u8; n];
        let read = self.open().and_then(|mut r| crate::decompress::read_prefix(&mut r, &mut head).ok());
        head.truncate(read.unwrap_or(0));
        head
    }

    /// All of it, when it is at most `cap` bytes.
    pub fn read(self, cap: u64) -> Option<std::borrow::Cow<'a, [u8]>> {
        match self {
            Source::Bytes(bytes) => (bytes.len() as u64 <= cap).then_some(std::borrow::Cow::Borrowed(bytes)),
            Source::File(path) => match std::fs::symlink_metadata(path).ok()? {
                m if m.is_file() && m.len() <= cap => std::fs::read(path).ok().map(std::borrow::Cow::Owned),
                _ => None,
            },
        }
    }

    /// A reader of its bytes.
    pub fn reader(self) -> Option<Box<dyn Read + 'a>> {
        self.open()
    }
}

/// One compression layer on the way to an archive, and the gzip header's
/// fields when it is gzip.
#[derive(Debug, Clone)]
pub(crate) struct CompressionLayer {
    pub compression: Compression,
    pub gzip_header: Option<GzipHeader>,
}

/// A gzip header's mtime, original name and OS byte.
pub(crate) type GzipHeader = [(Field, String); 3];

/// The gzip header's mtime, original name and OS byte.
pub(crate) fn gzip_header_fields(data: &[u8]) -> Option<GzipHeader> {
    let decoder = flate2::read::GzDecoder::new(data);
    let h = decoder.header()?;
    let name = h.filename().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
    Some([
        (Field::Mtime, h.mtime().to_string()),
        (Field::Name, name),
        (Field::Os, h.operating_system().to_string()),
    ])
}

/// An archive's members in archive order (every copy of a repeated name
/// kept), with the compression layers around it.
pub(crate) struct Listing {
    /// What the archive inside the layers is.
    pub kind: ArchiveKind,
    /// Outermost first.
    pub layers: Vec<CompressionLayer>,
    pub members: Members,
    /// Why the listing stopped before the end (the budget ran out, or a
    /// header past the tar reader's caps: too large to compare); `None`
    /// when it reached the end. Members past it are not known, so their
    /// absence says nothing, and the archive can never match anything.
    pub stopped: Option<String>,
    /// What makes the archive as a whole ambiguous (data after its end
    /// marker, a header readers cannot agree on, records that disagree):
    /// extractors may write different trees from it.
    pub problems: Vec<String>,
    /// A wheel's `Generator:` (from `*.dist-info/WHEEL`), for the hints.
    pub generator: Option<String>,
    /// Decompressed bytes this listing drew from the budget.
    pub spent: u64,
}

/// Which members a pass keeps: by position in the archive, and how many
/// bytes it may hold in all (a member that does not fit is only hashed).
pub(crate) struct Keep<'k> {
    pub wanted: &'k dyn Fn(usize) -> bool,
    pub hold: u64,
}

impl Keep<'_> {
    /// Keep nothing: the first pass.
    pub const NOTHING: Keep<'static> = Keep { wanted: &|_| false, hold: 0 };
}

/// The archive in `source`, listed as a stream; `None` when it is not a tar,
/// ar or zip archive (under at most [`MAX_LAYERS`] compression layers), or
/// cannot be read within `budget`.
pub(crate) fn list(source: Source, budget: &Budget, keep: &Keep) -> Option<Listing> {
    let before = budget.left();
    let mut layers = Vec::new();
    let mut stream = source.open()?;
    loop {
        let mut head = vec![0u8; HEAD];
        let n = crate::decompress::read_prefix(&mut stream, &mut head).ok()?;
        head.truncate(n);
        let format = sniff(&head);
        let gzip_header =
            (format == Format::Compressed(Compression::Gzip)).then(|| gzip_header_fields(&head)).flatten();
        let rejoined: Box<dyn Read> = Box::new(Cursor::new(head).chain(stream));
        let kind = match format {
            Format::Archive(kind) => kind,
            Format::Compressed(compression) if layers.len() < MAX_LAYERS => {
                layers.push(CompressionLayer { compression, gzip_header });
                // Large reads: tar asks for 512 bytes at a time.
                // Charged as consumed, not as read ahead into the buffer.
                let decoded =
                    std::io::BufReader::with_capacity(256 << 10, compression.decoder(rejoined).ok()?);
                stream = Box::new(Charged { inner: decoded, budget });
                continue;
            }
            Format::Compressed(_) | Format::Other => return None,
        };
        let members = match kind {
            ArchiveKind::Tar => tar_members(rejoined, budget, keep),
            ArchiveKind::Ar => ar_members(rejoined, budget, keep),
            // Random access: only at the top, where it is a file or bytes.
            ArchiveKind::Zip if layers.is_empty() => zip_members(source, budget, keep),
            ArchiveKind::Zip => None,
        }?;
        let Listed { members, stopped, problems, generator } = members;
        let spent = before - budget.left();
        return Some(Listing { kind, layers, members, stopped, problems, generator, spent });
    }
}

/// The members of the archive at `path` (streamed, nothing kept), for
/// `verify`'s content comparison.
pub(crate) fn listing_of_file(path: &Path, budget: &Budget) -> Option<Listing> {
    let mut listing = list(Source::File(path), budget, &Keep::NOTHING)?;
    if let Some(why) = &listing.stopped {
        // What was not listed is not known: an unreadable stand-in says so.
        let rest = format!("(the rest of the archive: {why})");
        listing.members.push((rest, Member::default().with_hash(None)));
    }
    Some(listing)
}

/// Reads one member's content: kept when wanted and it fits what `kept`
/// may still hold, hashed either way. `None` (unreadable) when reading fails.
fn read_member(content: impl Read, at: (usize, u64), keep: &Keep, kept: &mut u64, buf: &mut [u8]) -> Member {
    let (index, size) = at;
    let member = Member::default();
    if (keep.wanted)(index) && size <= keep.hold.saturating_sub(*kept) {
        let mut bytes = Vec::new();
        return match content.take(size.saturating_add(1)).read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 <= keep.hold - *kept => {
                *kept += bytes.len() as u64;
                member.with_content(Some(bytes))
            }
            _ => member.with_hash(None),
        };
    }
    member.with_hash(hash_all(content, buf))
}

/// `name`, clipped to [`MAX_NAME`] bytes (at a character boundary); a
/// longer name cannot be extracted, and the tar reader says so.
fn clipped(mut name: String) -> String {
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        name.push('…');
    }
    name
}

/// Why a listing stops when the budget runs out.
pub(crate) const BUDGET_RAN_OUT: &str = "the decompression budget ran out (limits.diff_size)";

/// The members of an archive, why the listing stopped before its end (if
/// it did), and what makes the archive ambiguous.
struct Listed {
    members: Members,
    stopped: Option<String>,
    problems: Vec<String>,
    generator: Option<String>,
}

impl Listed {
    fn new(members: Members, complete: bool) -> Listed {
        let stopped = (!complete).then(|| BUDGET_RAN_OUT.to_string());
        Listed { members, stopped, problems: Vec::new(), generator: None }
    }
}

/// What holding one header costs the budget: its fields, name and
/// ambiguities, with an allowance per field for the map that holds it
/// (measured: about 130 bytes per short field), counted twice: unlike
/// streamed bytes, they stay in memory for the whole comparison, and the
/// second pass ([`super::archive::fetch_differing`]) lists a side again
/// while both first listings are held. So the headers of one comparison
/// hold about half the budget at most.
fn held_cost(header: &super::tar_reader::TarHeader) -> u64 {
    const FIELD_COST: u64 = 128;
    let fields: u64 = header.fields.iter().map(|(k, v)| (k.name().len() + v.len()) as u64 + FIELD_COST).sum();
    let problems: u64 = header.ambiguities.iter().map(|p| p.len() as u64 + FIELD_COST).sum();
    2 * (fields + problems + header.name.len().min(MAX_NAME) as u64)
}

/// A tar stream's members, read by the strict reader
/// ([`super::tar_reader`]); `None` when the stream is not a tar.
fn tar_members(mut stream: impl Read, budget: &Budget, keep: &Keep) -> Option<Listed> {
    let mut first = vec![0u8; 512];
    let n = crate::decompress::read_prefix(&mut stream, &mut first).ok()?;
    if sniff(&first[..n]) != Format::Archive(ArchiveKind::Tar) {
        return None;
    }
    let mut archive = TarReader::new(Cursor::new(first).chain(stream));
    let (mut members, mut kept, mut buf) = (Vec::new(), 0u64, vec![0u8; 64 << 10]);
    let mut charged_extensions = 0u64;
    let complete = loop {
        if !budget.charge(MEMBER_COST) {
            break false;
        }
        let next = archive.next_header();
        // Extension headers (pax records, long names) are read and parsed
        // in memory: they draw from the budget like decompressed bytes.
        let extensions = archive.extension_bytes - charged_extensions;
        charged_extensions = archive.extension_bytes;
        if !budget.charge(extensions) {
            break false;
        }
        let header = match next {
            Ok(Some(header)) => header,
            Ok(None) => break true,
            Err(e) => {
                // A stream that cannot be read to its end: what follows is unknown.
                archive.problems.push(format!("the archive cannot be read to its end: {e}"));
                break !budget.exhausted();
            }
        };
        if !budget.charge(held_cost(&header)) {
            break false;
        }
        let index = members.len();
        let mut member = read_member(archive.data(), (index, header.size), keep, &mut kept, &mut buf);
        member.fields = header.fields;
        member.problems = header.ambiguities;
        let unreadable = !member.readable();
        members.push((clipped(header.name), member));
        if unreadable && budget.exhausted() {
            // Past the budget nothing further is read.
            break false;
        }
    };
    let stopped = match (complete, archive.too_large) {
        (_, Some(why)) => Some(format!("too large to compare: {why}")),
        (true, None) => None,
        (false, None) => Some(BUDGET_RAN_OUT.to_string()),
    };
    Some(Listed { members, stopped, problems: archive.problems, generator: None })
}

/// A Unix `ar` stream's members (a `.deb`): name, mtime, owner, mode, content.
fn ar_members(mut stream: impl Read, budget: &Budget, keep: &Keep) -> Option<Listed> {
    let mut magic = [0u8; 8];
    stream.read_exact(&mut magic).ok()?;
    if &magic != b"!<arch>\n" {
        return None;
    }
    let (mut members, mut kept, mut long_names) = (Vec::new(), 0u64, Vec::new());
    let (mut header, mut buf) = ([0u8; 60], vec![0u8; 64 << 10]);
    loop {
        if !budget.charge(MEMBER_COST) {
            return Some(Listed::new(members, false));
        }
        match crate::decompress::read_prefix(&mut stream, &mut header).ok()? {
            0 => return Some(Listed::new(members, true)),
            60 if &header[58..60] == b"`\n" => {}
            _ => return None,
        }
        let field = |r: std::ops::Range<usize>| String::from_utf8_lossy(&header[r]).trim().to_string();
        let size: u64 = field(48..58).parse().ok()?;
        let raw = field(0..16);
        let mut content = (&mut stream).take(size);
        if raw == "//" {
            long_names.clear();
            (&mut content).take(MAX_AR_NAMES).read_to_end(&mut long_names).ok()?;
        }
        let name = match raw.strip_prefix('/').and_then(|o| o.parse::<usize>().ok()) {
            Some(offset) => {
                let rest = long_names.get(offset..)?;
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let name = &rest[..end.min(MAX_NAME + 1)];
                clipped(String::from_utf8_lossy(name).trim_end_matches('/').to_string())
            }
            None => raw.trim_end_matches('/').to_string(),
        };
        let mut member = if raw == "//" {
            Member::default()
        } else {
            read_member(&mut content, (members.len(), size), keep, &mut kept, &mut buf)
        };
        // What was not read (a long-name table past its cap) and the padding.
        std::io::copy(&mut content, &mut std::io::sink()).ok()?;
        if size % 2 == 1 {
            stream.read_exact(&mut [0u8; 1]).ok()?;
        }
        if raw == "//" {
            continue;
        }
        for (key, value) in
            [(Field::Mtime, field(16..28)), (Field::Uid, field(28..34)), (Field::Gid, field(34..40))]
        {
            member.fields.insert(key, value);
        }
        member.fields.insert(Field::Mode, field(40..48));
        member.fields.insert(Field::Size, size.to_string());
        if budget.exhausted() && !member.readable() {
            members.push((name, member));
            return Some(Listed::new(members, false));
        }
        members.push((name, member));
    }
}

/// A zip archive's members, read whole (up to the diff's size cap); what
/// is kept follows `keep` as for the streamed formats.
fn zip_members(source: Source, budget: &Budget, keep: &Keep) -> Option<Listed> {
    let data = source.read(super::MAX_READ)?;
    let (mut members, problems) = super::zip_listing::members(&data, budget)?;
    let generator = members.iter().find_map(|(name, m)| wheel_generator(name, m.content.as_deref()?));
    let mut kept = 0u64;
    for (index, (_, member)) in members.iter_mut().enumerate() {
        let size = member.content.as_ref().map_or(0, |c| c.len() as u64);
        if (keep.wanted)(index) && size <= keep.hold.saturating_sub(kept) {
            kept += size;
        } else {
            member.content = None;
        }
    }
    Some(Listed { members, stopped: None, problems, generator })
}

/// The `Generator:` line of a wheel's top-level `NAME.dist-info/WHEEL`
/// (`flit 3.9.0`, `hatchling 1.25.0`, `bdist_wheel (0.44.0)`).
fn wheel_generator(name: &str, content: &[u8]) -> Option<String> {
    let (dir, file) = name.split_once('/')?;
    if file != "WHEEL" || !dir.ends_with(".dist-info") {
        return None;
    }
    let text = std::str::from_utf8(content).ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix("Generator:"))?.trim();
    Some(value.chars().take(100).collect())
}

/// For tests: the members of a tar (plain or compressed), zip or ar archive held in
/// memory, in archive order (every copy of a repeated name kept), each with
/// its content (copies drawn from `budget`); `None` for anything else.
#[cfg(test)]
pub(crate) fn listing(data: &[u8], budget: &Budget) -> Option<Listing> {
    let keep = Keep { wanted: &|_| true, hold: budget.left() };
    let listed = list(Source::Bytes(data), budget, &keep)?;
    let held: u64 =
        listed.members.iter().filter_map(|(_, m)| m.content.as_ref()).map(|c| c.len() as u64).sum();
    budget.charge(held).then_some(listed)
}

/// Hex sha256 of everything `reader` yields, read through `buf` (one per
/// listing, not one per member); `None` when reading fails.
fn hash_all(mut reader: impl Read, buf: &mut [u8]) -> Option<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    loop {
        match reader.read(buf) {
            Ok(0) => return Some(hex::encode(hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
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
mod tests;
