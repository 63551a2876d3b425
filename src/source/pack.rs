//! Packs the source tree into the tar stream uploaded into each container,
//! produced while the engine reads it: memory stays bounded whatever the
//! size of the tree.
//!
//! The stream is extracted at `/`, so it carries the build directory and its
//! parents as entries owned by the build user: without them the directory
//! would be created root-owned and unwritable.

use crate::engine::placed::PlacedFile;
use crate::engine::ByteStream;
use crate::errors::*;
use bytes::Bytes;
use std::fs::Metadata;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to pack, and as whom.
#[derive(Debug, Clone)]
pub struct Packing {
    /// The host directory holding the source.
    pub source: PathBuf,
    /// Absolute path of the build directory in the container, e.g. `/build/hello`.
    pub build_dir: String,
    /// Owner (uid = gid) of every entry.
    pub uid: u32,
    /// Host paths left out (the results directory when it sits inside the source).
    pub exclude: Vec<PathBuf>,
    /// Mtime of the build directory and its parents: the time the tree's
    /// files carry (see [`crate::source::PreparedSource::root_mtime`]).
    pub root_mtime: u64,
    /// A directory of the build directory the tree goes into (`source.directory`).
    pub directory: Option<String>,
    /// Whether the stream carries the tree, or only the directories that
    /// hold it (the tree was put into a host build directory by
    /// [`crate::source::populate`]).
    pub tree: bool,
}

impl Packing {
    /// The directories from `/` down to where the tree goes, each relative
    /// to `/`: `build`, `build/x`, `build/x/hello-1.0`.
    pub(super) fn holders(&self) -> Vec<String> {
        let top = self.build_dir.trim_start_matches('/');
        let inside = match &self.directory {
            Some(directory) => format!("{top}/{directory}"),
            None => top.to_string(),
        };
        let mut holders: Vec<String> = Vec::new();
        for part in inside.split('/') {
            holders.push(match holders.last() {
                Some(parent) => format!("{parent}/{part}"),
                None => part.to_string(),
            });
        }
        holders
    }
}

/// One entry of the source tree, as the upload and the host copy see it.
pub(super) struct SourceEntry {
    /// Path below the source directory.
    pub rel: PathBuf,
    /// Path on the host.
    pub path: PathBuf,
    /// Its metadata, links not followed.
    pub meta: Metadata,
}

/// The files, directories and symlinks of the source in name order (other
/// kinds are skipped with a warning; the source stage refused them already).
pub(super) fn source_entries(p: &Packing) -> impl Iterator<Item = Result<SourceEntry>> + '_ {
    super::walk_excluding(&p.source, &p.exclude).filter_map(move |entry| {
        let read = || -> Result<SourceEntry> {
            let entry = entry.with_context(|| format!("walking the source tree {}", p.source.display()))?;
            let path = entry.path().to_path_buf();
            let rel = path.strip_prefix(&p.source).context("walkdir left the source tree")?.to_path_buf();
            let meta = path.symlink_metadata().with_context(|| format!("reading {}", path.display()))?;
            Ok(SourceEntry { rel, path, meta })
        };
        match read() {
            Ok(entry) => {
                let kind = entry.meta.file_type();
                if kind.is_file() || kind.is_dir() || kind.is_symlink() {
                    Some(Ok(entry))
                } else {
                    tracing::warn!(
                        "skipping {} in the source: not a file, directory or symlink",
                        entry.path.display()
                    );
                    None
                }
            }
            Err(e) => Some(Err(e)),
        }
    })
}

/// Bytes handed to the engine at a time.
const CHUNK: usize = 256 << 10;
/// Chunks waiting for the engine: the stream's memory is at most
/// `(IN_FLIGHT + 1) × CHUNK`.
const IN_FLIGHT: usize = 4;

/// The tar of [`pack_into`] as a stream the engine reads while a blocking
/// thread writes it, and that thread's outcome. A failure to read the
/// source ends the stream with an error and is the thread's result; an
/// engine that stops reading ends the thread with a broken pipe.
pub fn stream(
    packing: Packing,
    placed: Vec<PlacedFile>,
) -> (ByteStream, tokio::task::JoinHandle<Result<()>>) {
    let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let packer = tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter { buf: Vec::with_capacity(CHUNK), tx: tx.clone() };
        let packed =
            pack_into(&packing, &placed, writer).and_then(|mut w| w.send().context("sending the source tar"));
        if let Err(e) = &packed {
            // Ends the body with an error, so the engine never extracts a cut tree as if whole.
            let _ = tx.blocking_send(Err(std::io::Error::other(format!("{e:#}"))));
        }
        packed
    });
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (Box::pin(body), packer)
}

/// Whether `error` only says that the engine stopped reading the stream.
pub fn is_broken_pipe(error: &Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Collects written bytes into chunks for the engine.
struct ChannelWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the engine stopped reading the upload")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the tar to `out`: first the `placed` files (root-owned, see
/// [`crate::engine::placed`]), then the source in name order, keeping modes
/// and mtimes, and owning every entry to the build user; returns `out`.
/// One archive, so the engine extracts once per run (each extraction is a
/// helper process of dockerd's, tens of milliseconds).
pub fn pack_into<W: Write>(p: &Packing, placed: &[PlacedFile], out: W) -> Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    crate::engine::placed::append(&mut builder, placed)?;
    let holders = p.holders();
    for holder in &holders {
        append_dir(&mut builder, holder, p.uid, p.root_mtime)?;
    }
    if p.tree {
        let inside = Path::new(holders.last().map_or("", String::as_str));
        for entry in source_entries(p) {
            let entry = entry?;
            append_entry(&mut builder, p.uid, &inside.join(&entry.rel), &entry)?;
        }
    }
    builder.into_inner().context("finishing the source tar")
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    uid: u32,
    name: &Path,
    entry: &SourceEntry,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_metadata(&entry.meta);
    header.set_uid(uid.into());
    header.set_gid(uid.into());
    header.set_username("").ok();
    header.set_groupname("").ok();
    let kind = entry.meta.file_type();
    if kind.is_file() {
        let file = std::fs::File::open(&entry.path)
            .with_context(|| format!("reading source file {}", entry.path.display()))?;
        builder.append_data(&mut header, name, file)
    } else if kind.is_symlink() {
        let target = std::fs::read_link(&entry.path)
            .with_context(|| format!("reading symlink {}", entry.path.display()))?;
        builder.append_link(&mut header, name, &target)
    } else {
        builder.append_data(&mut header, name, std::io::empty())
    }
    .with_context(|| format!("packing {}", entry.path.display()))
}
fn append_dir<W: Write>(builder: &mut tar::Builder<W>, name: &str, uid: u32, mtime: u64) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_uid(uid.into());
    header.set_gid(uid.into());
    header.set_size(0);
    builder
        .append_data(&mut header, format!("{name}/"), std::io::empty())
        .with_context(|| format!("packing {name}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(p: &Packing) -> Result<Vec<u8>> {
        pack_into(p, &[], Vec::new())
    }

    #[test]
    fn packs_parents_sorted_entries_and_owner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), "b").unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/old"), "x").unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("c")).unwrap();
        let tar = pack(&Packing {
            source: dir.path().to_path_buf(),
            build_dir: "/build/x".into(),
            uid: 1111,
            exclude: vec![dir.path().join("out")],
            root_mtime: 1_700_000_000,
            directory: None,
            tree: true,
        })
        .unwrap();
        let entries = listing(&tar);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["build/", "build/x/", "build/x/a", "build/x/b", "build/x/c"]);
        assert!(entries.iter().all(|(_, uid, _)| *uid == 1111));
    }

    #[test]
    fn placed_files_ride_ahead_of_the_tree_in_one_archive_root_owned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let lib = PlacedFile::new("/usr/lib/reprocheck/x.so", 0o644, std::sync::Arc::from(&b"ELF"[..]));
        let tar = pack_into(&packing(dir.path(), 1111), &[lib], Vec::new()).unwrap();
        let entries = listing(&tar);
        let names: Vec<(&str, u64)> = entries.iter().map(|(n, uid, _)| (n.as_str(), *uid)).collect();
        assert_eq!(
            names,
            [("usr/lib/reprocheck/x.so", 0), ("build/", 1111), ("build/x/", 1111), ("build/x/a", 1111)]
        );
    }

    /// `(path, uid, mtime)` of every entry.
    fn listing(tar: &[u8]) -> Vec<(String, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let header = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    header.uid().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_source_directory_puts_the_tree_one_level_down_owned_and_dated_like_the_build_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let tar = pack(&Packing {
            source: dir.path().to_path_buf(),
            build_dir: "/build/x".into(),
            uid: 2222,
            exclude: Vec::new(),
            root_mtime: 7,
            directory: Some("hello-1.0".into()),
            tree: true,
        })
        .unwrap();
        let entries = listing(&tar);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["build/", "build/x/", "build/x/hello-1.0/", "build/x/hello-1.0/a"]);
        assert_eq!(entries[2], ("build/x/hello-1.0/".to_string(), 2222, 7));
    }

    fn packing(source: &Path, uid: u32) -> Packing {
        Packing {
            source: source.to_path_buf(),
            build_dir: "/build/x".into(),
            uid,
            exclude: Vec::new(),
            root_mtime: 7,
            directory: None,
            tree: true,
        }
    }

    #[test]
    fn without_the_tree_only_the_holding_directories_are_packed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let tar = pack(&Packing { tree: false, ..packing(dir.path(), 1111) }).unwrap();
        let names: Vec<String> = listing(&tar).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["build/", "build/x/"]);
    }

    #[tokio::test]
    async fn the_stream_carries_exactly_the_packed_bytes_in_bounded_chunks() {
        use futures_util::TryStreamExt;
        let dir = tempfile::tempdir().unwrap();
        // Several chunks' worth, in more than one file.
        let big: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("big"), &big).unwrap();
        std::fs::write(dir.path().join("small"), "s").unwrap();
        let p = packing(dir.path(), 1111);
        let (body, packer) = stream(p.clone(), Vec::new());
        let chunks: Vec<Bytes> = body.try_collect().await.unwrap();
        packer.await.unwrap().unwrap();
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), pack(&p).unwrap());
    }

    #[tokio::test]
    async fn a_source_that_cannot_be_read_ends_the_stream_with_its_error() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let (mut body, packer) = stream(packing(&dir.path().join("gone"), 1111), Vec::new());
        let mut last = None;
        while let Some(item) = body.next().await {
            last = Some(item);
        }
        let error = last.expect("an item").expect_err("the stream ends with an error");
        assert!(error.to_string().contains("walking the source tree"), "{error}");
        let packed = packer.await.unwrap().unwrap_err();
        assert!(!is_broken_pipe(&packed), "{packed:#}");
    }

    #[tokio::test]
    async fn an_engine_that_stops_reading_ends_the_packer_with_a_broken_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = vec![1; 2 * IN_FLIGHT * CHUNK];
        std::fs::write(dir.path().join("big"), big).unwrap();
        let (body, packer) = stream(packing(dir.path(), 1111), Vec::new());
        drop(body);
        let packed = packer.await.unwrap().unwrap_err();
        assert!(is_broken_pipe(&packed), "{packed:#}");
    }
}
