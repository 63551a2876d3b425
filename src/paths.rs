//! Where reprocheck keeps files on the host outside a results directory
//! (the XDG cache), and how it replaces a file the user reads (a spec, a
//! lock) without a reader ever seeing half of it.

use crate::errors::*;
use std::path::{Path, PathBuf};

/// `$XDG_CACHE_HOME/reprocheck/SUB`, or `~/.cache/reprocheck/SUB`: where
/// probe results and git caches live. `None` without either variable.
pub fn cache_dir(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("reprocheck").join(sub))
}

/// Replaces `path` with `bytes` in one rename, so a reader never sees half
/// a file: written and synced beside it first. When that fails (a full
/// disk), the temporary file is removed, the previous `path` stays as it
/// was, and the error says so.
pub fn write_atomically(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let kept = || match path.exists() {
        true => format!("; the previous {} is unchanged", path.display()),
        false => String::new(),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}{}", dir.display(), kept()))?;
    std::io::Write::write_all(&mut tmp, bytes.as_ref())
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing the new {}{}", path.display(), kept()))?;
    tmp.persist(path).with_context(|| format!("replacing {}{}", path.display(), kept()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_holds_the_new_text_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spec.toml");
        std::fs::write(&file, "old").unwrap();
        write_atomically(&file, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Issue 32: on a full disk the previous file survives whole and the
    /// error says so (a tmpfs of 64 KiB, mounted only when root).
    #[test]
    fn a_write_that_fails_leaves_the_previous_file_and_says_so() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: mounting a small tmpfs needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mount = |args: &[&str]| std::process::Command::new(args[0]).args(&args[1..]).status().unwrap();
        let point = dir.path().to_str().unwrap();
        assert!(mount(&["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", point]).success());
        struct Unmount<'a>(&'a str);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount").arg(self.0).status();
            }
        }
        let _unmount = Unmount(point);
        let file = dir.path().join("report.json");
        write_atomically(&file, "{\"verdict\": \"reproducible\"}\n").unwrap();
        let err = write_atomically(&file, vec![b'x'; 1 << 20]).unwrap_err();
        assert!(format!("{err:#}").contains("the previous"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"verdict\": \"reproducible\"}\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }
}
