//! Errors that point at a place in a spec file: `file:line:col`, what was
//! expected, and how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem found in a spec file, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The spec file as the user named it.
    pub file: PathBuf,
    /// 1-based line, or 0 when the problem has no location (e.g. unreadable file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The offending source line, for display.
    pub excerpt: Option<String>,
}

impl SpecError {
    /// An error located at byte range `span` of `text`.
    pub fn at(file: &Path, text: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let (line, column, excerpt) = match span {
            Some(span) => locate(text, span.start),
            None => (0, 0, None),
        };
        SpecError { file: file.to_path_buf(), line, column, message: message.into(), hint: None, excerpt }
    }

    /// Adds a suggestion for the fix.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and column of byte `offset` in `text`, plus that line's text.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("").to_string();
    (line, column, Some(line_text))
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)?;
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        }
        if let Some(excerpt) = &self.excerpt {
            let gutter = self.line.to_string();
            write!(f, "\n {gutter} | {excerpt}")?;
            let pad = " ".repeat(gutter.len());
            let indent: String = excerpt
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n {pad} | {indent}^")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhelp: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column() {
        let text = "a = 1\nbb = 2\n";
        let err = SpecError::at(Path::new("s.toml"), text, Some(6..8), "bad");
        assert_eq!((err.line, err.column), (2, 1));
        assert_eq!(err.excerpt.as_deref(), Some("bb = 2"));
        let shown = err.hint("fix it").to_string();
        assert!(shown.starts_with("s.toml:2:1: bad\n"), "{shown}");
        assert!(shown.ends_with("help: fix it"), "{shown}");
    }

    #[test]
    fn span_past_end_is_clamped() {
        let err = SpecError::at(Path::new("s.toml"), "x", Some(10..12), "eof");
        assert_eq!((err.line, err.column), (1, 2));
    }
}
