//! Which paths of a build tree are outputs: the spec's output globs,
//! compiled once when the spec is validated ([`OutputGlobs`]), with the
//! directories a run downloads.

use crate::errors::*;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use std::sync::Arc;

/// One output glob, as collection matches it: `*` does not cross `/`.
fn compile(pattern: &str) -> std::result::Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("output glob `{pattern}` does not parse: {e}"))
}

/// The spec's output globs, compiled (at validation) as collection uses
/// them, and the build-tree directories that hold what they select.
#[derive(Clone)]
pub struct OutputGlobs {
    patterns: Vec<String>,
    selector: Arc<OutputSelector>,
    download_roots: Vec<String>,
}

impl OutputGlobs {
    /// Compiles `patterns`; the error names the first that does not parse.
    pub fn compile(patterns: Vec<String>) -> std::result::Result<OutputGlobs, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &patterns {
            builder.add(compile(pattern)?);
        }
        let globs = builder.build().map_err(|e| format!("the output globs do not compile: {e}"))?;
        let download_roots = OutputSelector::download_roots(&patterns);
        Ok(OutputGlobs { patterns, selector: Arc::new(OutputSelector { globs }), download_roots })
    }

    /// The globs as the spec gives them.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// What matches them.
    pub fn selector(&self) -> &OutputSelector {
        &self.selector
    }

    /// The directories to download (`""`: the whole build directory).
    pub fn download_roots(&self) -> &[String] {
        &self.download_roots
    }
}

impl std::fmt::Debug for OutputGlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.patterns).finish()
    }
}

/// Which paths of the build tree are outputs.
pub struct OutputSelector {
    globs: GlobSet,
}

impl OutputSelector {
    /// Compiles output globs. `*` does not cross `/`; `**` does.
    pub fn new(patterns: &[String]) -> Result<OutputSelector> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            builder.add(compile(pattern).map_err(|e| anyhow!(e))?);
        }
        Ok(OutputSelector { globs: builder.build().context("compiling output globs")? })
    }

    /// True when a glob matches `path` itself, not only an ancestor: an
    /// artifact rather than a member of an output tree.
    pub fn names(&self, path: &str) -> bool {
        self.globs.is_match(path)
    }

    /// True when `path` or one of its ancestors matches (a matched directory
    /// brings everything below it).
    pub fn selects(&self, path: &str) -> bool {
        let mut candidate = path;
        loop {
            if self.globs.is_match(candidate) {
                return true;
            }
            match candidate.rfind('/') {
                Some(i) => candidate = &candidate[..i],
                None => return false,
            }
        }
    }

    /// The directories to download: for each glob, its literal leading
    /// directories (`dist/*.tar.gz` -> `dist`). An empty string means the
    /// whole build directory. Nested prefixes are dropped.
    pub(super) fn download_roots(patterns: &[String]) -> Vec<String> {
        let mut roots: Vec<String> = patterns
            .iter()
            .map(|p| {
                let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
                let literal = parts.iter().take_while(|s| !s.contains(['*', '?', '[', '{', '\\']));
                let literal: Vec<&str> = literal.copied().collect();
                // A pattern with no glob characters names a file or directory itself.
                literal.join("/")
            })
            .collect();
        roots.sort();
        roots.dedup();
        let all = roots.clone();
        roots.retain(|r| {
            !all.iter().any(|other| other != r && (other.is_empty() || r.starts_with(&format!("{other}/"))))
        });
        roots
    }
}
