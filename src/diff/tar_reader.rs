//! A strict tar reader: each member as GNU tar, bsdtar and Python's tarfile
//! would all read it, or the reason they would not agree.
//!
//! The `tar` crate reads an archive one way; extractors read some
//! constructs differently (a pax key given twice, a GNU long name that
//! disagrees with a pax `path`, a ustar prefix under an odd version, sparse
//! maps, data after the end marker, ...). An attacker can craft an archive
//! that one reader sees as the honest tree and another extracts as a
//! different one. This reader parses the raw 512-byte blocks itself and
//! records every such construct as an *ambiguity*, so that `verify` never
//! calls an archive a content match on the strength of one reading.

mod records;

use super::scope::Field;
use records::{
    checksum_ok, clip, field_bytes, name_problems, padding, parse_number, pax_records, repeated_keys,
    type_name, unknown_type, unsafe_path, Number, Stop,
};
pub(crate) use records::{escape_name, normalise};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

/// Largest pax or GNU long-name/long-link header read, and the most bytes
/// of such headers read before one member (the name limit of every
/// extractor is far below this). Past it the archive is too large to compare.
pub(crate) const MAX_EXTENSION: u64 = 1 << 20;
/// Extension headers read before one member at most (an honest archive has
/// one pax header, or a long name and a long link).
pub(crate) const MAX_EXTENSIONS: usize = 16;
/// Pax records (extended and global) read before one member at most; an
/// honest header holds a dozen (path, times, owner, a few xattrs).
pub(crate) const MAX_PAX_RECORDS: usize = 256;
/// Distinct pax global keys kept at most (each is copied to every later
/// member's fields).
pub(crate) const MAX_GLOBAL_KEYS: usize = 64;

/// Longest member name kept; a longer one cannot be extracted by anyone
/// (PATH_MAX) and is reported as such.
pub(crate) const MAX_NAME: usize = 4096;

/// Pax keys every extractor reads with the same meaning.
const SHARED_PAX_KEYS: [&str; 10] =
    ["path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime"];

/// One member's header, as the member's own records give it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TarHeader {
    /// The member's name, non-UTF-8 bytes escaped (see [`escape_name`]).
    pub name: String,
    /// Header fields: `type`, `mode`, `uid`, `link`, `pax KEY`, ...
    pub fields: BTreeMap<Field, String>,
    /// Bytes of data that follow the header.
    pub size: u64,
    /// Constructs readers disagree on, one sentence each.
    pub ambiguities: Vec<String>,
}

/// Reads tar members one by one from a stream.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Data bytes of the current member not yet read by its reader.
    data_left: u64,
    /// Padding after the current member's data.
    pad_left: u64,
    /// Blocks read so far (for messages).
    blocks: u64,
    /// Normalised names of the members so far: hardlink targets must be one.
    seen: BTreeSet<String>,
    /// Pax global records (values clipped), applying to every member after them.
    globals: BTreeMap<String, String>,
    /// Problems with the archive as a whole (data after the end marker, a
    /// header no reader can agree on); listing stops at the first one.
    pub problems: Vec<String>,
    /// Why reading stopped at one of the reader's caps (too many or too
    /// large extension headers): the archive is too large to compare, and
    /// what follows is not known.
    pub too_large: Option<String>,
    /// Bytes of extension headers read so far (held while parsed; the
    /// caller charges them to its budget).
    pub extension_bytes: u64,
    finished: bool,
}

/// The extension records gathered before one member.
#[derive(Default)]
struct Pending {
    pax: Option<Vec<(String, Vec<u8>)>>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    ambiguities: Vec<String>,
    /// Extension headers, their bytes and pax records so far.
    headers: usize,
    bytes: u64,
    records: usize,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            data_left: 0,
            pad_left: 0,
            blocks: 0,
            seen: BTreeSet::new(),
            globals: BTreeMap::new(),
            problems: Vec::new(),
            too_large: None,
            extension_bytes: 0,
            finished: false,
        }
    }

    /// The next member's header; `Ok(None)` at the end of the archive, or
    /// after a problem that stops reading (it is in [`Self::problems`]).
    /// I/O errors (a truncated or undecodable stream) are returned.
    pub fn next_header(&mut self) -> io::Result<Option<TarHeader>> {
        if self.finished {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut pending = Pending::default();
        loop {
            let Some(block) = self.read_block()? else {
                // The stream ends without an end marker: every reader stops here.
                self.finished = true;
                return Ok(None);
            };
            if block.iter().all(|&b| b == 0) {
                if pending.pax.is_some() || pending.long_name.is_some() || pending.long_link.is_some() {
                    self.problems.push("an extension header is followed by the end of the archive".into());
                }
                self.check_end()?;
                return Ok(None);
            }
            if !checksum_ok(&block) {
                self.stop(format!(
                    "the header at block {} has a wrong checksum: GNU tar skips to the next valid header, \
                     other readers stop",
                    self.blocks - 1
                ));
                return Ok(None);
            }
            let typeflag = block[156];
            let size = match parse_number(&block[124..136]) {
                Some(Number::Value(size)) => size,
                Some(Number::Blank) | None => {
                    self.stop(format!("the header at block {} has no readable size", self.blocks - 1));
                    return Ok(None);
                }
            };
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    pending.headers += 1;
                    pending.bytes = pending.bytes.saturating_add(size);
                    let at = self.blocks - 1;
                    let over = if size > MAX_EXTENSION {
                        Some(format!(
                            "an extension header of {size} bytes at block {at} (at most 1 MiB is read)"
                        ))
                    } else if pending.bytes > MAX_EXTENSION {
                        Some(format!("over 1 MiB of extension headers before one member (at block {at})"))
                    } else if pending.headers > MAX_EXTENSIONS {
                        Some(format!(
                            "more than {MAX_EXTENSIONS} extension headers before one member (at block {at})"
                        ))
                    } else {
                        None
                    };
                    if let Some(over) = over {
                        self.give_up(over);
                        return Ok(None);
                    }
                    let data = self.read_data(size)?;
                    self.extension_bytes += size;
                    match self.extension(typeflag, data, &mut pending) {
                        Ok(()) => {}
                        Err(Stop::Problem(problem)) => {
                            self.stop(problem);
                            return Ok(None);
                        }
                        Err(Stop::TooLarge(why)) => {
                            self.give_up(format!("{why} (at block {at})"));
                            return Ok(None);
                        }
                    }
                }
                _ => return Ok(Some(self.member(&block, size, pending))),
            }
        }
    }

    /// A reader of the current member's data (its `size` bytes).
    pub fn data(&mut self) -> impl Read + '_ {
        DataReader { reader: self }
    }

    fn stop(&mut self, problem: String) {
        self.problems.push(problem);
        self.finished = true;
    }

    /// Stops at one of the reader's caps: nothing after it is read.
    fn give_up(&mut self, why: String) {
        self.too_large = Some(why);
        self.finished = true;
    }

    /// Reads one block; `None` at a clean end of the stream.
    fn read_block(&mut self) -> io::Result<Option<[u8; 512]>> {
        let mut block = [0u8; 512];
        let n = crate::decompress::read_prefix(&mut self.inner, &mut block)?;
        match n {
            0 => Ok(None),
            512 => {
                self.blocks += 1;
                Ok(Some(block))
            }
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a header")),
        }
    }

    /// Reads a whole extension's data and its padding.
    fn read_data(&mut self, size: u64) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        (&mut self.inner).take(size).read_to_end(&mut data)?;
        if (data.len() as u64) < size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a header"));
        }
        let pad = padding(size);
        io::copy(&mut (&mut self.inner).take(pad), &mut io::sink())?;
        self.blocks += (size + pad) / 512;
        Ok(data)
    }

    /// Skips what is left of the current member's data and padding.
    fn skip_rest(&mut self) -> io::Result<()> {
        let left = self.data_left + self.pad_left;
        let skipped = io::copy(&mut (&mut self.inner).take(left), &mut io::sink())?;
        if skipped < left {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a member"));
        }
        self.blocks += left / 512;
        (self.data_left, self.pad_left) = (0, 0);
        Ok(())
    }

    /// After the first zero block every byte must be zero: readers stop at
    /// the marker (GNU tar's `--ignore-zeros` and others' options do not),
    /// so anything after it is a member only some extractions write.
    fn check_end(&mut self) -> io::Result<()> {
        self.finished = true;
        let mut buf = [0u8; 8192];
        let mut at = self.blocks * 512;
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
                self.problems.push(format!(
                    "data after the end-of-archive marker (at byte {}): a member only `tar --ignore-zeros` \
                     and some readers extract",
                    at + i as u64
                ));
                return Ok(());
            }
            at += n as u64;
        }
    }

    /// Records one extension header in `pending`.
    fn extension(&mut self, typeflag: u8, data: Vec<u8>, pending: &mut Pending) -> Result<(), Stop> {
        match typeflag {
            b'x' => {
                if pending.pax.is_some() {
                    pending.ambiguities.push(
                        "two pax extended headers before one member: readers differ in which wins".into(),
                    );
                }
                let records = pax_records(&data, MAX_PAX_RECORDS - pending.records)?;
                pending.records += records.len();
                pending.ambiguities.extend(repeated_keys(&records));
                pending.pax.get_or_insert_with(Vec::new).extend(records);
            }
            b'g' => {
                if pending.pax.is_some() || pending.long_name.is_some() || pending.long_link.is_some() {
                    pending.ambiguities.push(
                        "a pax global header between a member's extension headers and the member".into(),
                    );
                }
                let records = pax_records(&data, MAX_PAX_RECORDS - pending.records)?;
                pending.records += records.len();
                pending.ambiguities.extend(repeated_keys(&records));
                for (key, value) in records {
                    if key != "comment" {
                        // bsdtar ignores global records; GNU tar and tarfile apply them.
                        pending.ambiguities.push(format!(
                            "a pax global header sets `{}`: GNU tar and Python's tarfile apply it to every \
                             later member, bsdtar ignores it",
                            clip(&key)
                        ));
                    }
                    self.globals.insert(clip(&key), clip(&String::from_utf8_lossy(&value)));
                    if self.globals.len() > MAX_GLOBAL_KEYS {
                        return Err(Stop::TooLarge(format!("more than {MAX_GLOBAL_KEYS} pax global keys")));
                    }
                }
            }
            b'L' | b'K' => {
                let slot = if typeflag == b'L' { &mut pending.long_name } else { &mut pending.long_link };
                if slot.is_some() {
                    pending.ambiguities.push(format!(
                        "two GNU long {} records before one member: Python's tarfile keeps the first, GNU tar \
                         the last",
                        if typeflag == b'L' { "name" } else { "link" }
                    ));
                }
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                *slot = Some(data[..end].to_vec());
            }
            _ => unreachable!("only extension typeflags reach here"),
        }
        Ok(())
    }

    /// The member whose header is `block`, with the extensions before it.
    fn member(&mut self, block: &[u8; 512], header_size: u64, pending: Pending) -> TarHeader {
        let mut size = header_size;
        let mut header = TarHeader { ambiguities: pending.ambiguities, ..TarHeader::default() };
        let pax: Vec<(String, Vec<u8>)> = pending.pax.unwrap_or_default();
        let pax_value = |key: &str| pax.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let typeflag = block[156];
        let (magic, version) = (&block[257..263], &block[263..265]);
        let format = match (magic, version) {
            (b"ustar\0", b"00") => "ustar",
            (b"ustar ", b" \0") => "gnu",
            (b"ustar\0", _) => "ustar with an unusual version",
            _ => "v7",
        };
        header.fields.insert(Field::HeaderFormat, format.into());
        let prefix_area = &block[345..500];
        let prefix = field_bytes(prefix_area);
        if format != "ustar" && prefix_area.iter().any(|&b| b != 0) {
            header.ambiguities.push(format!(
                "the {format} header has bytes where ustar keeps its name prefix: Python's tarfile joins them \
                 to the name, GNU tar and bsdtar do not"
            ));
        }
        // The name: pax path over GNU long name over the header's own.
        let header_name = field_bytes(&block[0..100]);
        let joined = if format == "ustar" && !prefix.is_empty() {
            [prefix, b"/", header_name].concat()
        } else {
            header_name.to_vec()
        };
        let (name, stored) = match (pax_value("path"), &pending.long_name) {
            (Some(p), Some(l)) if p != *l => {
                header.ambiguities.push(
                    "a GNU long name and a pax path record name the member differently: readers differ in \
                     which wins"
                        .into(),
                );
                (p, "pax path record")
            }
            (Some(p), _) => (p, "pax path record"),
            (None, Some(l)) => (l.clone(), "GNU long name (././@LongLink)"),
            (None, None) if format == "ustar" && !prefix.is_empty() => (joined, "ustar prefix"),
            (None, None) => (joined, "header"),
        };
        header.fields.insert(Field::NameStoredIn, stored.into());
        header.ambiguities.extend(name_problems(&name, typeflag));
        header.name = escape_name(&name);

        let kind = type_name(typeflag);
        match kind {
            Some(kind) => {
                header.fields.insert(Field::Type, kind.into());
            }
            None => {
                header.fields.insert(Field::Type, format!("typeflag {:?}", typeflag as char));
                header.ambiguities.push(unknown_type(typeflag));
            }
        }
        // Numbers: pax records override the header's fields.
        let number = |range: std::ops::Range<usize>| match parse_number(&block[range]) {
            Some(Number::Value(v)) => Some(v),
            Some(Number::Blank) => Some(0),
            None => None,
        };
        if let Some(value) = pax_value("size") {
            match std::str::from_utf8(&value).ok().and_then(|s| s.parse::<u64>().ok()) {
                Some(v) => size = v,
                None => header.ambiguities.push("a pax size record that is not a number".into()),
            }
        }
        match number(100..108) {
            Some(mode) => {
                header.fields.insert(Field::Mode, format!("{:04o}", mode & 0o7777));
            }
            None => header.ambiguities.push("a mode field that is not a number".into()),
        }
        for (field, key, range) in
            [(Field::Uid, "uid", 108..116), (Field::Gid, "gid", 116..124), (Field::Mtime, "mtime", 136..148)]
        {
            let value = pax_value(key)
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .or_else(|| number(range).map(|v| v.to_string()));
            header.fields.insert(field, value.unwrap_or_default());
        }
        if format != "v7" {
            for (field, key, range) in [(Field::Uname, "uname", 265..297), (Field::Gname, "gname", 297..329)]
            {
                let value = pax_value(key).unwrap_or_else(|| field_bytes(&block[range]).to_vec());
                header.fields.insert(field, String::from_utf8_lossy(&value).into_owned());
            }
        }
        if matches!(typeflag, b'3' | b'4') {
            for (field, range) in [(Field::Devmajor, 329..337), (Field::Devminor, 337..345)] {
                let value = number(range).map(|v| v.to_string()).unwrap_or_default();
                header.fields.insert(field, value);
            }
        }
        header.fields.insert(Field::Size, size.to_string());
        if matches!(typeflag, b'1' | b'2') {
            let link = match (pax_value("linkpath"), &pending.long_link) {
                (Some(p), Some(l)) if p != *l => {
                    header.ambiguities.push(
                        "a GNU long link and a pax linkpath record give different targets: readers differ in \
                         which wins"
                            .into(),
                    );
                    p
                }
                (Some(p), _) => p,
                (None, Some(l)) => l.clone(),
                (None, None) => field_bytes(&block[157..257]).to_vec(),
            };
            if link.contains(&0) {
                header.ambiguities.push("a link target with a NUL byte: C readers cut it there".into());
            }
            if typeflag == b'1' {
                let target = normalise(&escape_name(&link));
                if !self.seen.contains(&target) || unsafe_path(&link) {
                    header.ambiguities.push(format!(
                        "a hard link to {}, which is not an earlier member: Python's tarfile copies it from \
                         later in the archive, GNU tar and bsdtar fail",
                        escape_name(&link)
                    ));
                }
            }
            header.fields.insert(Field::Link, escape_name(&link));
        }
        if size > 0 && !matches!(typeflag, b'0' | b'\0' | b'7') && kind.is_some() {
            header.ambiguities.push(format!(
                "a {} with {size} bytes of data: readers differ in whether data follows its header",
                kind.unwrap_or("member")
            ));
        }
        for (key, value) in &pax {
            let shown = clip(&String::from_utf8_lossy(value));
            if key.starts_with("GNU.sparse.") {
                header.ambiguities.push(format!(
                    "a GNU sparse member (pax {}): readers that do not expand sparse maps extract the \
                     map itself, and maps can reorder or drop blocks",
                    clip(key)
                ));
            }
            if matches!(key.as_str(), "path" | "linkpath" | "size") && value.is_empty() {
                header
                    .ambiguities
                    .push(format!("an empty pax {key} record: readers differ in what it unsets"));
            }
            if key == "path" && value.contains(&0) {
                header.ambiguities.push("a pax path with a NUL byte: C readers cut it there".into());
            }
            header.fields.insert(Field::Pax(clip(key)), shown);
        }
        for (key, value) in &self.globals {
            header.fields.insert(Field::PaxGlobal(key.clone()), value.clone());
        }
        // A longer name cannot be extracted (and is an ambiguity already):
        // it is no hard link's target, and is not held.
        if header.name.len() <= MAX_NAME {
            self.seen.insert(normalise(&header.name));
        }
        header.size = size;
        self.data_left = size;
        self.pad_left = padding(header.size);
        header
    }
}

/// Reads the current member's data, keeping the reader's place.
struct DataReader<'r, R> {
    reader: &'r mut TarReader<R>,
}

impl<R: Read> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (buf.len() as u64).min(self.reader.data_left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a member"));
        }
        self.reader.data_left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod tests;
