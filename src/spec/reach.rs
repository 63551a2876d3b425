//! Which host files a spec may name. A rebuilder runs specs written by
//! others, so by default every path in a spec (`source.path`, a local
//! `source.git`, `source.tarball`, `expect.sums`, `image.recipe`) must
//! resolve, after following links, to a place under the spec's own
//! directory; `--allow-host-paths` lifts that.

use std::path::{Component, Path, PathBuf};

/// Whether spec paths are confined to the spec's directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostPaths {
    /// Paths must resolve under the spec's directory (the default).
    #[default]
    Confined,
    /// Any host path the user can read (`--allow-host-paths`).
    Allowed,
}

/// The flag that lifts the confinement, for hints.
pub const ALLOW_FLAG: &str = "--allow-host-paths";

/// Resolves the spec's relative paths and enforces [`HostPaths`].
#[derive(Debug)]
pub(super) struct Reach {
    dir: PathBuf,
    /// The spec directory, canonical; `None` when host paths are allowed.
    root: Option<PathBuf>,
}

/// Why a path cannot be used.
#[derive(Debug)]
pub(super) enum Refusal {
    /// It does not exist or cannot be resolved.
    Unreadable(PathBuf, std::io::Error),
    /// It resolves outside the spec's directory.
    Outside { given: PathBuf, resolved: PathBuf, root: PathBuf },
}

impl Refusal {
    /// The message and the hint for a spec error on `key`.
    pub(super) fn explain(&self, key: &str) -> (String, String) {
        match self {
            Refusal::Unreadable(path, e) => (
                format!("{} cannot be read: {e}", path.display()),
                "paths are relative to the directory holding the spec file".to_string(),
            ),
            Refusal::Outside { given, resolved, root } => {
                // Name the link only when one was followed.
                let absolute =
                    std::env::current_dir().map(|cwd| cwd.join(given)).unwrap_or_else(|_| given.clone());
                let via = if lexically_normal(&absolute) == *resolved {
                    String::new()
                } else {
                    format!(" (via {})", given.display())
                };
                (
                    format!(
                        "{key} resolves to {}{via}, outside the spec's directory {}",
                        resolved.display(),
                        root.display()
                    ),
                    format!(
                        "a spec reaches only files under its own directory; move or copy it there, \
                         or pass {ALLOW_FLAG} if you trust this spec with every file you can read"
                    ),
                )
            }
        }
    }
}

impl Reach {
    /// Paths relative to `dir` (the spec file's directory).
    pub(super) fn new(dir: &Path, host_paths: HostPaths) -> Reach {
        let root = match host_paths {
            // An unresolvable spec directory confines to its lexical form:
            // nothing under it resolves, so every path is refused.
            HostPaths::Confined => Some(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())),
            HostPaths::Allowed => None,
        };
        Reach { dir: dir.to_path_buf(), root }
    }

    /// The directory every path must resolve under; `None` when host paths
    /// are allowed.
    pub(super) fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// `relative` resolved against the spec's directory, following every
    /// link: the canonical path, which must exist.
    pub(super) fn existing(&self, relative: &str) -> Result<PathBuf, Refusal> {
        let given = self.dir.join(relative);
        let resolved = given.canonicalize().map_err(|e| Refusal::Unreadable(given.clone(), e))?;
        self.inside(given, resolved)
    }

    /// Like [`Reach::existing`] for a path that may not exist yet (a recipe
    /// directory before its first build): its nearest existing ancestor is
    /// resolved and the rest appended.
    pub(super) fn maybe_missing(&self, relative: &str) -> Result<PathBuf, Refusal> {
        let given = lexically_normal(&self.dir.join(relative));
        if let Ok(resolved) = given.canonicalize() {
            return self.inside(given, resolved);
        }
        let mut ancestor = given.as_path();
        let mut rest = Vec::new();
        let resolved = loop {
            match ancestor.canonicalize() {
                Ok(resolved) => break resolved,
                Err(e) => match (ancestor.parent(), ancestor.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_os_string());
                        ancestor = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
                    }
                    _ => return Err(Refusal::Unreadable(given.clone(), e)),
                },
            }
        };
        let resolved = rest.iter().rev().fold(resolved, |path, name| path.join(name));
        self.inside(given, resolved)
    }

    /// `relative` against the spec's directory, `..` folded, links not
    /// resolved: the path as the user would write it.
    pub(super) fn lexical(&self, relative: &str) -> PathBuf {
        lexically_normal(&self.dir.join(relative))
    }

    /// A file inside an already resolved directory (e.g. a recipe's
    /// `recipe.toml`), which may itself be a link out: checked when present.
    pub(super) fn member(&self, dir: &Path, name: &str) -> Result<(), Refusal> {
        let given = dir.join(name);
        if given.symlink_metadata().is_err() {
            return Ok(());
        }
        let resolved = given.canonicalize().map_err(|e| Refusal::Unreadable(given.clone(), e))?;
        self.inside(given, resolved).map(drop)
    }

    fn inside(&self, given: PathBuf, resolved: PathBuf) -> Result<PathBuf, Refusal> {
        match &self.root {
            Some(root) if !resolved.starts_with(root) => {
                Err(Refusal::Outside { given, resolved, root: root.clone() })
            }
            _ => Ok(resolved),
        }
    }
}

/// `a/b/../c` as `a/c`, without touching the filesystem: paths in messages
/// read as the user would write them.
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_confined_after_following_links() {
        let tmp = tempfile::tempdir().unwrap();
        let spec_dir = tmp.path().join("spec");
        std::fs::create_dir_all(spec_dir.join("src")).unwrap();
        std::fs::write(tmp.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), spec_dir.join("link")).unwrap();
        std::os::unix::fs::symlink("src", spec_dir.join("inner")).unwrap();
        let reach = Reach::new(&spec_dir, HostPaths::Confined);
        assert!(reach.existing("src").is_ok());
        assert!(reach.existing("inner").is_ok(), "a link that stays inside is fine");
        assert!(matches!(reach.existing("../secret"), Err(Refusal::Outside { .. })));
        assert!(matches!(reach.existing("link"), Err(Refusal::Outside { .. })));
        assert!(matches!(reach.existing("/etc"), Err(Refusal::Outside { .. })));
        assert!(matches!(reach.existing("missing"), Err(Refusal::Unreadable(..))));
        assert!(matches!(reach.maybe_missing("../not-yet"), Err(Refusal::Outside { .. })));
        assert!(reach.maybe_missing("not-yet").is_ok());
        assert!(matches!(reach.member(&spec_dir, "link"), Err(Refusal::Outside { .. })));
        assert!(reach.member(&spec_dir, "absent").is_ok());
        let open = Reach::new(&spec_dir, HostPaths::Allowed);
        assert!(open.existing("../secret").is_ok());
        assert!(open.existing("/etc").is_ok());
        let (message, hint) = reach.existing("link").unwrap_err().explain("source.path");
        assert!(message.contains("outside the spec's directory") && message.contains("(via "), "{message}");
        assert!(hint.contains(ALLOW_FLAG), "{hint}");
    }
}
