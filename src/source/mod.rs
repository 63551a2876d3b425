//! The source stage: turn `[source]` into a verified tree on the host, and
//! pack it into the tar stream each container receives.
//!
//! A `path` is used in place; a `git` rev is checked out (after its tag, if
//! any, was found to point at it); a `tarball` is hashed before it is
//! unpacked; a `dsc` is hashed, and the files it lists checked against it,
//! before they are unpacked. Every form ends with the tree's NAR hash,
//! compared with `source.nar_hash` when the spec pins one.

mod dsc;
mod dsc_layout;
mod git;
mod pack;
mod populate;
mod tarball;

pub use pack::{is_broken_pipe, pack_into, stream, Packing};
pub use populate::populate;

use crate::collect::nar_sha256_excluding;
use crate::digest::Digest;
use crate::errors::*;
use crate::spec::{Origin, SourceDateEpoch, Spec};
use std::path::{Path, PathBuf};

/// A source tree ready to be packed.
#[derive(Debug, Clone)]
pub struct PreparedSource {
    /// The tree on the host: what is uploaded as the build directory.
    pub dir: PathBuf,
    /// The directory inside it the command runs in, when not the top: a
    /// `dsc` source's unpacked `SOURCE-UPSTREAM/`, so that
    /// dpkg-buildpackage's results land in the build directory beside it.
    pub working_subdir: Option<String>,
    /// The directory of the build directory the tree is uploaded into
    /// (`source.directory`); `None`: the build directory itself.
    pub directory: Option<String>,
    /// Host paths inside `dir` left out of packing and hashing.
    pub exclude: Vec<PathBuf>,
    /// `SOURCE_DATE_EPOCH` for the build, resolved.
    pub source_date_epoch: Option<i64>,
    /// Mtime of the build directory and its parents in every container:
    /// `SOURCE_DATE_EPOCH` when set, else the commit time of a git source,
    /// else the newest mtime in the tree. Never the time of the upload.
    pub root_mtime: u64,
    /// The newest time any entry of the tree carries into the container
    /// (its files' or the build directory's): a timestamp in an output at
    /// or before it may be a preserved source time, never the build's clock
    /// for certain ([`crate::clock`]).
    pub newest_mtime: u64,
    /// What the report records.
    pub info: SourceInfo,
}

/// The source as the report and the attestation record it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// Where it came from.
    pub kind: SourceKind,
    /// The tree that was built, on the host.
    pub path: PathBuf,
    /// The tree's NAR serialisation (`nix-hash --type sha256`).
    pub nar_hash: Digest,
}

/// Where a source came from, and what pins it.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A directory, used in place.
    Path,
    /// A git commit, checked out.
    Git {
        /// The repository, as the spec names it (made absolute if local).
        url: String,
        /// The commit checked out.
        rev: String,
        /// The tag that was checked to resolve to `rev`.
        tag: Option<String>,
        /// The commit's committer time, seconds since 1970.
        commit_time: i64,
    },
    /// A tarball, hashed and unpacked.
    Tarball {
        /// The tarball file.
        file: PathBuf,
        /// Its verified sha256.
        sha256: Digest,
    },
    /// A Debian source package (`.dsc` and the files it lists), unpacked.
    Dsc {
        /// The `.dsc` file.
        file: PathBuf,
        /// The source package and version it names, `hello 2.10-3`.
        package: String,
        /// The `.dsc`'s verified sha256.
        sha256: Digest,
    },
}

impl SourceKind {
    /// `path`, `git`, `tarball` or `dsc`: the spec's key, and the report's `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Path => "path",
            SourceKind::Git { .. } => "git",
            SourceKind::Tarball { .. } => "tarball",
            SourceKind::Dsc { .. } => "dsc",
        }
    }

    /// The commit time of a git source.
    pub fn commit_time(&self) -> Option<i64> {
        match self {
            SourceKind::Git { commit_time, .. } => Some(*commit_time),
            _ => None,
        }
    }
}

/// Materialises the spec's source. Git checkouts and unpacked tarballs go to
/// `workdir` (which must not exist); a `path` source is used in place, with
/// `exclude` (the results directory) and any other results directory in it
/// left out. Fails before anything
/// is built when a tag, a tarball digest or the NAR pin does not match.
pub fn prepare(spec: &Spec, workdir: &Path, exclude: &[PathBuf]) -> Result<PreparedSource> {
    let prepared = materialize(spec, workdir, exclude)?;
    if let Some(pin) = &spec.source.nar_hash {
        ensure!(
            *pin == prepared.info.nar_hash,
            "{}: the source tree's NAR hash is {}, but source.nar_hash pins {pin}\n\
             help: if the source changed on purpose, run `reprocheck lock {}` to pin the new tree",
            spec.file.display(),
            prepared.info.nar_hash,
            spec.file.display()
        );
    }
    Ok(prepared)
}

/// [`prepare`] without the NAR pin check (`lock` computes the pin).
pub fn materialize(spec: &Spec, workdir: &Path, exclude: &[PathBuf]) -> Result<PreparedSource> {
    let mut working_subdir = None;
    let (dir, exclude, kind) = match &spec.source.origin {
        Origin::Path(path) => {
            let mut exclude = exclude.to_vec();
            exclude.extend(crate::results::results_dirs_within(path)?);
            (path.clone(), exclude, SourceKind::Path)
        }
        Origin::Git { url, rev, tag } => {
            let commit_time = git::checkout(url, rev, tag.as_deref(), workdir)?;
            let kind = SourceKind::Git { url: url.clone(), rev: rev.clone(), tag: tag.clone(), commit_time };
            (workdir.to_path_buf(), Vec::new(), kind)
        }
        Origin::Tarball { path, sha256, strip_components } => {
            tarball::unpack(path, sha256, *strip_components, workdir, &spec.limits)?;
            let kind = SourceKind::Tarball { file: path.clone(), sha256: sha256.clone() };
            (workdir.to_path_buf(), Vec::new(), kind)
        }
        Origin::Dsc { path, sha256 } => {
            let dsc = dsc::unpack(path, sha256, workdir, &spec.limits)?;
            working_subdir = Some(dsc.tree_name());
            let package = format!("{} {}", dsc.source, dsc.version);
            let kind = SourceKind::Dsc { file: path.clone(), package, sha256: sha256.clone() };
            (workdir.to_path_buf(), Vec::new(), kind)
        }
    };
    // One walk: refuse what a source cannot hold, and find its newest mtime.
    let newest = scan(&dir, &exclude)?;
    let nar_hash = nar_sha256_excluding(&dir, &exclude)
        .with_context(|| format!("hashing the source tree {}", dir.display()))?;
    let info = SourceInfo { kind, path: dir.clone(), nar_hash };
    let source_date_epoch = match spec.build.source_date_epoch {
        None => None,
        Some(SourceDateEpoch::Fixed(epoch)) => Some(epoch),
        Some(SourceDateEpoch::Commit) => {
            Some(info.kind.commit_time().context("source_date_epoch = \"commit\" needs a git source")?)
        }
        Some(SourceDateEpoch::Changelog) => {
            let tree = working_subdir.as_ref().map_or(dir.clone(), |sub| dir.join(sub));
            Some(changelog_date(&tree)?)
        }
    };
    let root_mtime = match source_date_epoch.or(info.kind.commit_time()) {
        Some(time) => time.max(0) as u64,
        None => newest,
    };
    let directory = spec.source.directory.clone();
    let newest_mtime = newest.max(root_mtime);
    Ok(PreparedSource {
        dir,
        working_subdir,
        directory,
        exclude,
        source_date_epoch,
        root_mtime,
        newest_mtime,
        info,
    })
}

/// Largest `debian/changelog` read: decades of entries are a few MiB.
const MAX_CHANGELOG_SIZE: u64 = 16 << 20;

/// `source_date_epoch = "changelog"`: the latest entry's date in the
/// tree's `debian/changelog`, which must not link out of the tree.
fn changelog_date(tree: &Path) -> Result<i64> {
    let file = tree.join("debian/changelog");
    if let (Ok(resolved), Ok(root)) = (file.canonicalize(), tree.canonicalize()) {
        ensure!(
            resolved.starts_with(&root),
            "{} links to {}, outside the source tree; a source reaches no host file",
            file.display(),
            resolved.display()
        );
    }
    let file = file.as_path();
    let text = crate::spec::read_capped(file, MAX_CHANGELOG_SIZE).map_err(|e| {
        anyhow!(
            "source_date_epoch = \"changelog\" reads {}: {e:#}\n\
             help: the source tree needs debian/changelog; give the epoch as a number otherwise",
            file.display()
        )
    })?;
    crate::debian::changelog::latest_date(&text).with_context(|| format!("{}", file.display()))
}

/// Every entry below `dir` in name order, leaving out the `exclude` paths
/// (results directories) and everything under them; the same walk for
/// scanning and for packing, so both see the same tree. Exclusions are
/// resolved once, to paths below `dir`: links are not followed, so an
/// entry's own path is all that needs comparing.
pub(crate) fn walk_excluding(
    dir: &Path,
    exclude: &[PathBuf],
) -> impl Iterator<Item = walkdir::Result<walkdir::DirEntry>> {
    let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let exclude: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|e| e.canonicalize().ok())
        .filter_map(|e| e.strip_prefix(&root).ok().map(Path::to_path_buf))
        .collect();
    let top = dir.to_path_buf();
    walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name().into_iter().filter_entry(move |e| {
        exclude.is_empty()
            || e.path().strip_prefix(&top).map_or(true, |rel| !exclude.iter().any(|x| x == rel))
    })
}

/// The newest mtime of any entry below `dir` (symlinks not followed).
/// A FIFO, socket or device node is refused: a source holds files,
/// directories and symlinks, which is all NAR and the upload can carry.
fn scan(dir: &Path, exclude: &[PathBuf]) -> Result<u64> {
    let mut newest = 0;
    for entry in walk_excluding(dir, exclude) {
        let entry = entry.with_context(|| format!("walking the source tree {}", dir.display()))?;
        let meta =
            entry.path().symlink_metadata().with_context(|| format!("reading {}", entry.path().display()))?;
        let kind = meta.file_type();
        ensure!(
            kind.is_file() || kind.is_dir() || kind.is_symlink(),
            "the source holds {}, which is not a file, directory or symlink (a FIFO, socket or device)\n\
             help: a source may hold only files, directories and symlinks; remove it from the tree",
            entry.path().display()
        );
        let mtime = filetime::FileTime::from_last_modification_time(&meta).unix_seconds();
        newest = newest.max(mtime.max(0) as u64);
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_in_the_source_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok"), "x").unwrap();
        let fifo = dir.path().join("pipe");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path we own.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
        let err = scan(dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("pipe") && err.contains("not a file, directory or symlink"), "{err}");
        std::fs::remove_file(&fifo).unwrap();
        filetime::set_file_mtime(dir.path().join("ok"), filetime::FileTime::from_unix_time(1_600_000_000, 0))
            .unwrap();
        assert_eq!(scan(dir.path(), &[]).unwrap(), 1_600_000_000, "the newest mtime");
    }
}
