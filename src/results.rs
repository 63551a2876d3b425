//! The results directory: claimed with a lock, so two invocations never write
//! into the same one, and cleared only when it holds an earlier run's results.

use crate::errors::*;
use std::fs::{self, File};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The default results root, `reprocheck-out/<name>`.
pub const DEFAULT_RESULTS_ROOT: &str = "reprocheck-out";

/// `run-N`: run N's directory in a results directory (its log and outputs).
pub fn run_dir(index: u32) -> PathBuf {
    PathBuf::from(format!("run-{index}"))
}

/// `run-N/outputs`: what run N produced, relative to the results directory.
pub fn outputs_dir(index: u32) -> PathBuf {
    run_dir(index).join("outputs")
}

/// Where run `index` stored the output `path`, in the results directory `out`.
pub fn output_file(out: &Path, index: u32, path: &str) -> PathBuf {
    out.join(outputs_dir(index)).join(path)
}

/// `run-N/build.log`, relative to the results directory.
pub fn log_file(index: u32) -> PathBuf {
    run_dir(index).join("build.log")
}

/// Results directories inside `root`, a `path` source: every directory
/// holding [`LOCK_FILE`] (written by every claim), and every
/// [`DEFAULT_RESULTS_ROOT`] directory that holds nothing else. A source tree's
/// hash and tar leave them out, so the directory reprocheck ran from, and its
/// `--out`, never change what the source is.
pub fn results_dirs_within(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut walk = walkdir::WalkDir::new(root).min_depth(1).into_iter();
    while let Some(entry) = walk.next() {
        let entry =
            entry.with_context(|| format!("looking for results directories in {}", root.display()))?;
        if entry.file_type().is_dir() && entry.path().join(LOCK_FILE).is_file() {
            found.push(entry.into_path());
            walk.skip_current_dir();
        }
    }
    let mut roots: Vec<PathBuf> = found
        .iter()
        .filter_map(|dir| dir.parent())
        .filter(|parent| *parent != root && parent.file_name().is_some_and(|n| n == DEFAULT_RESULTS_ROOT))
        .map(Path::to_path_buf)
        .collect();
    roots.sort();
    roots.dedup();
    for results_root in roots {
        let entries =
            fs::read_dir(&results_root).with_context(|| format!("reading {}", results_root.display()))?;
        let mut only_results = true;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", results_root.display()))?;
            only_results &= found.contains(&entry.path());
        }
        if only_results {
            found.retain(|dir| !dir.starts_with(&results_root));
            found.push(results_root);
        }
    }
    Ok(found)
}

/// The lock file inside a results directory.
pub const LOCK_FILE: &str = ".reprocheck.lock";

/// A results directory held for the lifetime of this value.
pub struct ResultsDir {
    path: PathBuf,
    _lock: File,
}

impl ResultsDir {
    /// Claims `path` for one invocation. Refuses a directory that holds
    /// something other than reprocheck results, one that contains the spec or
    /// the source (clearing it would delete them), and one another reprocheck
    /// is writing to. Earlier results in it are removed.
    pub fn claim(path: &Path, keep_safe: &[&Path]) -> Result<ResultsDir> {
        fs::create_dir_all(path)
            .with_context(|| format!("creating the results directory {}", path.display()))?;
        let canonical = path.canonicalize().with_context(|| format!("resolving {}", path.display()))?;
        for precious in keep_safe {
            let precious = precious.canonicalize().unwrap_or_else(|_| precious.to_path_buf());
            ensure!(
                !precious.starts_with(&canonical),
                "refusing to use {} as the results directory: it contains {}, which clearing it would delete\n\
                 help: choose another --out directory",
                path.display(),
                precious.display()
            );
        }
        let mut entries = Vec::new();
        for entry in fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
            entries.push(entry.with_context(|| format!("reading {}", path.display()))?.file_name());
        }
        // Only reprocheck's own marker (written at every claim) says the
        // directory is ours: a report.json anyone could have written does not.
        let marked = path.join(LOCK_FILE).symlink_metadata().is_ok_and(|m| m.is_file());
        ensure!(
            entries.is_empty() || marked,
            "refusing to overwrite {}: it exists and holds no reprocheck results (no {LOCK_FILE} marker); \
             nothing in it was touched\n\
             help: choose another --out directory, or remove it",
            path.display()
        );
        let lock_path = path.join(LOCK_FILE);
        let lock = File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        ensure!(
            locked,
            "another reprocheck is writing to {} right now\nhelp: wait for it, or give this one another --out directory",
            path.display()
        );
        for name in entries.iter().filter(|n| *n != LOCK_FILE) {
            let old = path.join(name);
            let removed = if old.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false) {
                fs::remove_dir_all(&old)
            } else {
                fs::remove_file(&old)
            };
            removed.with_context(|| format!("clearing the old result {}", old.display()))?;
        }
        Ok(ResultsDir { path: path.to_path_buf(), _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Recreates the tree `from` at `to` (which must not exist): directories
/// made anew, files hard-linked (copied across file systems), symlinks
/// recreated as links, never followed. Used to reuse an earlier run's
/// results without copying them.
pub fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.with_context(|| format!("walking {}", from.display()))?;
        let target = to.join(entry.path().strip_prefix(from).context("walkdir left the tree")?);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs::create_dir(&target).with_context(|| format!("creating {}", target.display()))?;
        } else if kind.is_symlink() {
            let link =
                fs::read_link(entry.path()).with_context(|| format!("reading {}", entry.path().display()))?;
            std::os::unix::fs::symlink(&link, &target)
                .with_context(|| format!("linking {}", target.display()))?;
        } else if fs::hard_link(entry.path(), &target).is_err() {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {} to {}", entry.path().display(), target.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tree_keeps_files_and_links_without_following() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("run-1");
        fs::create_dir_all(from.join("outputs/d")).unwrap();
        fs::write(from.join("outputs/d/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.join("outputs/l")).unwrap();
        let to = tmp.path().join("explain/run-1");
        fs::create_dir(tmp.path().join("explain")).unwrap();
        link_tree(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("outputs/d/f")).unwrap(), "x");
        assert_eq!(fs::read_link(to.join("outputs/l")).unwrap(), Path::new("/etc/passwd"));
    }

    #[test]
    fn claims_clears_and_excludes_concurrent_use() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        let first = ResultsDir::claim(&dir, &[]).unwrap();
        fs::write(dir.join("report.json"), "{}").unwrap();
        fs::create_dir(dir.join("run-1")).unwrap();
        let err = ResultsDir::claim(&dir, &[]).err().unwrap().to_string();
        assert!(err.contains("another reprocheck"), "{err}");
        assert!(dir.join("run-1").exists(), "the loser must not clear anything");
        drop(first);
        let _second = ResultsDir::claim(&dir, &[]).unwrap();
        assert!(!dir.join("run-1").exists() && !dir.join("report.json").exists());
    }

    #[test]
    fn results_dirs_inside_a_source_are_found_wherever_they_are() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for dir in ["reprocheck-out/hello", "reprocheck-out/hello-explain", "sub/reprocheck-out/x", "custom"]
        {
            fs::create_dir_all(root.join(dir)).unwrap();
            fs::write(root.join(dir).join(LOCK_FILE), "").unwrap();
        }
        // A reprocheck-out that also holds the user's own file is not ours as a whole.
        fs::write(root.join("sub/reprocheck-out/notes.txt"), "mine").unwrap();
        // A user's directory with our name but no results, and sources beside them.
        fs::create_dir_all(root.join("src/reprocheck-out")).unwrap();
        fs::write(root.join("src/main.c"), "").unwrap();
        let mut found = results_dirs_within(root).unwrap();
        found.sort();
        let want: Vec<PathBuf> =
            ["custom", "reprocheck-out", "sub/reprocheck-out/x"].iter().map(|d| root.join(d)).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn a_report_json_alone_does_not_make_a_directory_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let proj = tmp.path().join("proj");
        fs::create_dir_all(proj.join("docs")).unwrap();
        fs::write(proj.join("report.json"), "{}").unwrap();
        fs::write(proj.join("thesis.tex"), "years of work").unwrap();
        let err = ResultsDir::claim(&proj, &[]).err().unwrap().to_string();
        assert!(err.contains("no .reprocheck.lock marker"), "{err}");
        assert!(proj.join("thesis.tex").exists() && proj.join("docs").exists());
    }

    #[test]
    fn refuses_foreign_dirs_and_dirs_holding_the_source() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.c"), "int main;").unwrap();
        let err = ResultsDir::claim(tmp.path(), &[]).err().unwrap().to_string();
        assert!(err.contains("holds no reprocheck results"), "{err}");
        let src = tmp.path().join("out/src");
        fs::create_dir_all(&src).unwrap();
        let err = ResultsDir::claim(&tmp.path().join("out"), &[&src]).err().unwrap().to_string();
        assert!(err.contains("clearing it would delete"), "{err}");
        assert!(src.exists());
    }
}
