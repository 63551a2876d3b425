//! The directory rebuilds write: one spec file per target (`SLUG.toml`),
//! its fetched inputs under `SLUG/`, and the image recipes under
//! `images/`, shared by every target that needs the same image (so a
//! batch builds each image once, and its lock is kept for the next run).
//!
//! A file is never overwritten with other bytes: rerunning a rebuild
//! reuses what is there when it is the same, and stops when it is not.

use crate::errors::*;
use std::path::{Path, PathBuf};

/// Writes the files of one spec directory.
#[derive(Debug, Clone)]
pub struct SpecFiles {
    dir: PathBuf,
}

impl SpecFiles {
    /// Files written into `dir`, created when absent.
    pub fn new(dir: &Path) -> Result<SpecFiles> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(SpecFiles { dir: dir.to_path_buf() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` to `relative` (a plain relative path; parents are
    /// created). A file already there with the same bytes is kept; with
    /// other bytes it is an error, never overwritten.
    pub fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) -> Result<PathBuf> {
        let bytes = bytes.as_ref();
        let path = self.path(relative)?;
        if let Ok(existing) = std::fs::read(&path) {
            ensure!(
                existing == bytes,
                "{} already exists with other contents than this rebuild infers\n\
                 help: to run a spec you edited, use `reprocheck verify` on it; to infer anew, remove it \
                 (or the whole directory) or choose another --write-spec directory",
                path.display()
            );
            return Ok(path);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Moves the file `from` (fetched into a scratch directory on the same
    /// file system) to `relative`, streamed rather than read into memory: a
    /// file already there with the same sha256 is kept; with another, it is
    /// an error, never overwritten.
    pub fn place(&self, relative: &str, from: &Path) -> Result<PathBuf> {
        let path = self.path(relative)?;
        if path.exists() {
            let (existing, new) =
                (crate::digest::Digest::of_file(&path)?, crate::digest::Digest::of_file(from)?);
            ensure!(
                existing == new,
                "{} already exists with other contents ({existing}) than this rebuild fetched ({new})\n\
                 help: remove it (or the whole directory) to infer anew, or choose another --write-spec directory",
                path.display()
            );
            return Ok(path);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        if std::fs::rename(from, &path).is_err() {
            std::fs::copy(from, &path)
                .with_context(|| format!("copying {} to {}", from.display(), path.display()))?;
        }
        Ok(path)
    }

    /// Where `relative` goes; only plain relative paths are accepted, since
    /// names come from registries.
    pub fn path(&self, relative: &str) -> Result<PathBuf> {
        let plain = !relative.is_empty()
            && Path::new(relative).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        ensure!(plain, "refusing to write `{relative}`: not a plain relative path inside the spec directory");
        Ok(self.dir.join(relative))
    }
}

/// A TOML basic string: `"…"` with what needs escaping escaped.
pub fn toml_string(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let files = SpecFiles::new(dir.path()).unwrap();
        assert!(files.write("images/a/recipe.toml", "x").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(files.write(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_bytes_are_kept_and_other_bytes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = SpecFiles::new(dir.path()).unwrap();
        files.write("a.toml", "one").unwrap();
        files.write("a.toml", "one").unwrap();
        let err = files.write("a.toml", "two").unwrap_err().to_string();
        assert!(err.contains("other contents"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.toml")).unwrap(), "one");
    }

    #[test]
    fn toml_strings_read_back_as_written() {
        for text in ["a\"b\\c", "it's", "line\nbreak", "'\"'''\"\"\""] {
            let table: toml::Table = toml::from_str(&format!("x = {}", toml_string(text))).unwrap();
            assert_eq!(table["x"].as_str(), Some(text));
        }
    }
}
