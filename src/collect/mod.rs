//! Turns the tar streams downloaded from a container into a run's output
//! directory, with the sha256 of every file.
//!
//! Everything in the stream is hostile: an entry may try `..`, an absolute
//! path, a symlink followed by a write through it, a hardlink to a host file,
//! a device node, or sheer size. The store directory is created empty by us,
//! so an in-memory map of what we put there is the whole truth about it:
//! every parent must be a directory we created, and nothing is opened through
//! a symlink.

mod nar;
mod select;

pub use nar::{nar_sha256, nar_sha256_excluding};
pub use select::{OutputGlobs, OutputSelector};

use crate::errors::*;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// Caps on what one run may produce.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of regular files kept.
    pub max_total_bytes: u64,
    /// Number of entries kept.
    pub max_entries: usize,
    /// What is unpacked, for the messages naming the limit.
    pub collecting: Collecting,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_total_bytes: 4 << 30, max_entries: 100_000, collecting: Collecting::Outputs }
    }
}

/// What a collector unpacks: a build's outputs or a source tarball.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Collecting {
    /// A build's outputs (`limits.output_size`, `limits.output_files`).
    #[default]
    Outputs,
    /// A source tarball (`limits.source_size`, `limits.source_files`).
    Source,
}

impl Collecting {
    /// What is collected, in a sentence.
    fn noun(self) -> &'static str {
        match self {
            Collecting::Outputs => "outputs",
            Collecting::Source => "source files",
        }
    }

    fn too_many(self, max: usize) -> String {
        match self {
            Collecting::Outputs => format!(
                "the build produced more than {max} output entries; raise limits.output_files or narrow build.outputs"
            ),
            Collecting::Source => {
                format!("the source holds more than {max} entries; raise limits.source_files if that is right")
            }
        }
    }

    fn too_big(self, max: u64, at: &str) -> String {
        match self {
            Collecting::Outputs => format!(
                "the outputs exceed {max} bytes (at {at}); raise limits.output_size or narrow build.outputs"
            ),
            Collecting::Source => format!(
                "the source unpacks to more than {max} bytes (at {at}); raise limits.source_size if that is right"
            ),
        }
    }
}

/// One output, as recorded in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OutputEntry {
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// `sha256:<hex>` of the contents.
        sha256: crate::digest::Digest,
        /// Whether any execute bit was set (the only mode bit NAR keeps).
        executable: bool,
        /// For a file inside an output directory (a tree, such as an
        /// install tree): every permission bit as the build left it,
        /// setuid, setgid and sticky included, four octal digits (`0644`,
        /// `4755`), compared between runs although the stored copy is 0644
        /// or 0755. `None` for a file an output glob names itself: an
        /// artifact, whose own mode a download does not keep, so only
        /// `executable` counts (as in NAR).
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// Extended attributes the engine's archive carried (name → hex).
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        xattrs: BTreeMap<String, String>,
    },
    /// A symbolic link, stored as a link and never followed.
    Symlink {
        /// The link target, verbatim.
        target: String,
    },
    /// A directory inside an output (an empty one too: NAR counts it).
    Directory {
        /// Its permission bits, four octal digits.
        mode: String,
        /// Extended attributes, as for files.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        xattrs: BTreeMap<String, String>,
    },
}

impl OutputEntry {
    /// Whether it is a file or a link (what can be expected, attested or
    /// counted as an output), not a directory.
    pub fn is_artifact(&self) -> bool {
        !matches!(self, OutputEntry::Directory { .. })
    }
}

/// What a tar header says about a member's mode and xattrs.
struct Attributes {
    mode: String,
    xattrs: BTreeMap<String, String>,
}

impl Attributes {
    fn of<R: Read>(entry: &mut tar::Entry<R>) -> Attributes {
        let mode = format!("{:04o}", entry.header().mode().unwrap_or(0) & 0o7777);
        let mut xattrs = BTreeMap::new();
        if let Ok(Some(records)) = entry.pax_extensions() {
            for record in records.flatten() {
                if let Some(name) = record.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.insert(name.to_string(), hex::encode(record.value_bytes()));
                }
            }
        }
        Attributes { mode, xattrs }
    }
}

/// Extracts selected entries of tar streams into one directory.
pub struct Collector<'a> {
    root: PathBuf,
    selector: &'a OutputSelector,
    limits: Limits,
    /// Everything created under `root`, by relative path: true for directories.
    created: BTreeMap<String, bool>,
    entries: BTreeMap<String, OutputEntry>,
    total_bytes: u64,
    /// Each entry's archive mtime, when they are to be kept (source tarballs).
    mtimes: Option<Vec<(String, filetime::FileTime)>>,
    /// Members this says yes to are skipped (see [`Collector::skipping`]).
    skipped: Option<Box<SkipMember<'a>>>,
}

/// A member's mtime as extractors set it: a pax `mtime` record (with its
/// fraction) wins over the header's whole seconds, which writers may have
/// rounded (Python's tarfile does: a file at x.6 s has x+1 there, x.6 in
/// pax, and GNU tar, bsdtar and Python all extract x.6). A build that
/// reads mtimes (a wheel's zip times, `make`) sees what it would after `tar x`.
fn member_mtime<R: Read>(entry: &mut tar::Entry<'_, R>) -> filetime::FileTime {
    let header = entry.header().mtime().unwrap_or(0).min(i64::MAX as u64) as i64;
    let pax = entry.pax_extensions().ok().flatten().and_then(|records| {
        records
            .filter_map(|r| r.ok())
            .filter(|r| r.key_bytes() == b"mtime")
            .last()
            .and_then(|r| std::str::from_utf8(r.value_bytes()).ok().and_then(parse_pax_time))
    });
    pax.unwrap_or_else(|| filetime::FileTime::from_unix_time(header, 0))
}

/// A pax time, `SECONDS[.FRACTION]` (SECONDS may be negative), to the
/// nanosecond; fractions beyond it are dropped, as extractors do.
fn parse_pax_time(text: &str) -> Option<filetime::FileTime> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let seconds: i64 = whole.parse().ok()?;
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: u32 = digits.parse().ok()?;
    // -1.5 is 1.5 s before the epoch: -2 s plus 0.5 s.
    let (seconds, nanos) = if whole.starts_with('-') && nanos > 0 {
        (seconds - 1, 1_000_000_000 - nanos)
    } else {
        (seconds, nanos)
    };
    Some(filetime::FileTime::from_unix_time(seconds, nanos))
}

/// Decides from a member's path in the archive (its normal components,
/// before any stripping) whether to leave it out.
pub type SkipMember<'a> = dyn Fn(&[&str]) -> bool + 'a;

impl<'a> Collector<'a> {
    /// Starts collecting into `root`, which must not exist yet.
    pub fn new(root: &Path, selector: &'a OutputSelector, limits: Limits) -> Result<Collector<'a>> {
        fs::create_dir(root).with_context(|| format!("creating output directory {}", root.display()))?;
        Ok(Collector {
            root: root.to_path_buf(),
            selector,
            limits,
            created: BTreeMap::new(),
            entries: BTreeMap::new(),
            total_bytes: 0,
            mtimes: None,
            skipped: None,
        })
    }

    /// Keeps each entry's mtime from the archive (outputs do not need them;
    /// an unpacked source does, or `make` may regenerate files).
    pub fn keeping_mtimes(mut self) -> Self {
        self.mtimes = Some(Vec::new());
        self
    }

    /// Skips the members of the next archives `skip` says yes to, or none
    /// (`None`): dpkg-source leaves out an upstream tarball's `.pc/` and its
    /// own `debian/` directory this way.
    pub fn skipping(&mut self, skip: Option<Box<SkipMember<'a>>>) {
        self.skipped = skip;
    }

    /// Reads one archive downloaded from `<build dir>/<prefix>`. Its entries
    /// are rooted at the basename of that path, which is replaced by `prefix`.
    pub fn add_archive(&mut self, reader: impl Read, prefix: &str) -> Result<()> {
        self.add_stripped(reader, prefix, 1)
    }

    /// Reads one archive, dropping `strip` leading components of every
    /// member (like `tar --strip-components`) and putting the rest under
    /// `prefix`. Members with nothing left are skipped.
    pub fn add_stripped(&mut self, reader: impl Read, prefix: &str, strip: usize) -> Result<()> {
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().context("reading the tar stream")? {
            let mut entry = entry.context("reading an entry of the tar stream")?;
            let raw_path = entry.path_bytes().into_owned();
            let rel = relative_path(&raw_path, prefix, strip)?;
            let Some(rel) = rel else { continue };
            if !self.selector.selects(&rel) || self.skips(&raw_path) {
                continue;
            }
            let mtime = member_mtime(&mut entry);
            self.add_entry(&mut entry, &rel, prefix, strip)?;
            if let Some(mtimes) = self.mtimes.as_mut() {
                mtimes.push((rel, mtime));
            }
        }
        Ok(())
    }

    /// The error for a limit that was reached, after removing what was
    /// collected so far: partial outputs (up to the limit, gigabytes) are
    /// of no use and would stay in the results directory otherwise.
    fn over_limit(&self, message: String) -> Error {
        let removed = match fs::remove_dir_all(&self.root) {
            Ok(()) => format!(
                "the partial {} in {} were removed",
                self.limits.collecting.noun(),
                self.root.display()
            ),
            Err(e) => format!(
                "removing the partial {} in {} failed ({e}); delete that directory by hand",
                self.limits.collecting.noun(),
                self.root.display()
            ),
        };
        anyhow!("{message}\n{removed}")
    }

    fn skips(&self, raw_path: &[u8]) -> bool {
        self.skipped.as_deref().is_some_and(|skip| skip(&member_parts(raw_path)))
    }

    fn add_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        rel: &str,
        prefix: &str,
        strip: usize,
    ) -> Result<()> {
        if self.created.len() >= self.limits.max_entries {
            return Err(self.over_limit(self.limits.collecting.too_many(self.limits.max_entries)));
        }
        let kind = entry.header().entry_type();
        let attributes = Attributes::of(entry);
        match kind {
            tar::EntryType::Directory => {
                self.make_dirs(rel)?;
                let Attributes { mode, xattrs } = attributes;
                self.entries.insert(rel.to_string(), OutputEntry::Directory { mode, xattrs });
                Ok(())
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => self.write_file(rel, entry, attributes),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8(t.into_owned()))
                    .transpose()
                    .map_err(|_| anyhow!("output symlink {rel} has a target that is not UTF-8"))?
                    .unwrap_or_default();
                self.make_parents(rel)?;
                self.claim(rel, false)?;
                std::os::unix::fs::symlink(&target, self.root.join(rel))
                    .with_context(|| format!("storing output symlink {rel}"))?;
                self.entries.insert(rel.to_string(), OutputEntry::Symlink { target });
                Ok(())
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                let target = relative_path(&target, prefix, strip)?;
                let source =
                    target.as_ref().and_then(|t| self.entries.get(t).cloned().map(|e| (t.clone(), e)));
                let Some((target, OutputEntry::File { .. })) = source else {
                    bail!("output {rel} is a hardlink to a path outside the collected outputs; refusing it");
                };
                let mut file = fs::File::open(self.root.join(&target))
                    .with_context(|| format!("reading {target} to copy it for hardlink {rel}"))?;
                // A hard link's header carries the mode extraction gives the inode.
                self.write_file(rel, &mut file, attributes)
            }
            other => bail!(
                "output {rel} is a {}; only regular files, directories and symlinks can be outputs",
                describe(other)
            ),
        }
    }

    /// Records `rel` as taken; a second entry with the same path is refused.
    fn claim(&mut self, rel: &str, is_dir: bool) -> Result<()> {
        if self.created.insert(rel.to_string(), is_dir).is_some() {
            bail!("the output stream holds {rel} twice; refusing to overwrite it");
        }
        Ok(())
    }

    fn make_parents(&mut self, rel: &str) -> Result<()> {
        match rel.rfind('/') {
            Some(i) => self.make_dirs(&rel[..i]),
            None => Ok(()),
        }
    }

    /// Creates `rel` and its ancestors as directories, each only if every
    /// ancestor is a directory we created.
    fn make_dirs(&mut self, rel: &str) -> Result<()> {
        let mut dir = String::new();
        for part in rel.split('/') {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            match self.created.get(&dir) {
                Some(true) => {}
                Some(false) => {
                    bail!("output {rel} would be placed under {dir}, which is not a directory")
                }
                None => {
                    fs::create_dir(self.root.join(&dir))
                        .with_context(|| format!("creating output directory {dir}"))?;
                    self.created.insert(dir.clone(), true);
                }
            }
        }
        Ok(())
    }

    fn write_file(&mut self, rel: &str, reader: &mut impl Read, attributes: Attributes) -> Result<()> {
        let Attributes { mode: archived_mode, xattrs } = attributes;
        let executable = u32::from_str_radix(&archived_mode, 8).unwrap_or(0) & 0o111 != 0;
        self.make_parents(rel)?;
        self.claim(rel, false)?;
        let path = self.root.join(rel);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("creating output file {}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).with_context(|| format!("reading output {rel} from the stream"))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            self.total_bytes += n as u64;
            if self.total_bytes > self.limits.max_total_bytes {
                drop(file);
                return Err(self.over_limit(self.limits.collecting.too_big(self.limits.max_total_bytes, rel)));
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).with_context(|| format!("writing output {}", path.display()))?;
        }
        let mode = if executable { 0o755 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
        let sha256 = crate::digest::Digest::from_sha256(&hasher.finalize());
        // A file a glob names is an artifact: its own mode is not part of it.
        let mode = (!self.selector.names(rel)).then_some(archived_mode);
        let entry = OutputEntry::File { size, sha256, executable, mode, xattrs };
        self.entries.insert(rel.to_string(), entry);
        Ok(())
    }

    /// The outputs collected so far, by relative path. Kept mtimes are set
    /// now, children before their directories.
    pub fn finish(self) -> Result<BTreeMap<String, OutputEntry>> {
        if let Some(mut mtimes) = self.mtimes {
            mtimes.sort_by(|a, b| b.0.cmp(&a.0));
            for (rel, time) in mtimes {
                filetime::set_symlink_file_times(self.root.join(&rel), time, time)
                    .with_context(|| format!("setting the mtime of {rel}"))?;
            }
        }
        Ok(self.entries)
    }
}

fn describe(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        _ => "special file",
    }
}

/// Maps an archive path to a path under `prefix`, dropping `strip` leading
/// components (1 for a download, whose root is the directory's basename).
/// `Ok(None)` when nothing is left.
/// The normal components of a member's path (`./a/b` gives `a`, `b`); used
/// only for paths [`relative_path`] accepted.
pub fn member_parts(raw: &[u8]) -> Vec<&str> {
    let text = std::str::from_utf8(raw).unwrap_or_default();
    Path::new(text)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect()
}

fn relative_path(raw: &[u8], prefix: &str, strip: usize) -> Result<Option<String>> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        anyhow!(
            "an output path is not valid UTF-8 ({}); rename it in the build",
            String::from_utf8_lossy(raw)
        )
    })?;
    // A newline or an escape sequence in a name would reach the terminal
    // and the report as if reprocheck had written it (a fake verdict line).
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        bail!(
            "an output path contains the control character {:?} ({}); rename it in the build",
            c,
            text.escape_default()
        );
    }
    let mut parts = Vec::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            Component::CurDir => {}
            _ => bail!("the output stream holds the unsafe path `{text}`; refusing it"),
        }
    }
    if parts.is_empty() && strip > 0 {
        bail!("the output stream holds an entry with an empty path");
    }
    let rest = &parts[strip.min(parts.len())..];
    let joined: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).chain(rest.iter().copied()).collect();
    Ok((!joined.is_empty()).then(|| joined.join("/")))
}

#[cfg(test)]
mod tests;
