//! `[expect]`: published digests, written inline or read from a
//! `SHA256SUMS`-style file.

use super::{Digest, Expected, SpecError};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

type Checked<T> = std::result::Result<T, SpecError>;

/// Largest sums file read.
pub const MAX_SUMS_SIZE: u64 = 64 << 20;

/// The table's one reserved key: a sums file, relative to the spec.
const SUMS_KEY: &str = "sums";

/// Validates the `[expect]` table of `spec` (whose text is `text`), reading
/// its sums file if it names one. Each output may be expected once.
/// `resolve(key, path)` turns a path the table names (the sums file, a
/// reference file or directory) into a file the spec may read.
pub(super) fn validate(
    spec: &Path,
    text: &str,
    table: &Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    resolve: &dyn Fn(&str, &Spanned<String>) -> Checked<PathBuf>,
) -> Checked<Vec<Expected>> {
    let at = |span: std::ops::Range<usize>, message: String| SpecError::at(spec, text, Some(span), message);
    let mut expected: Vec<Expected> = Vec::new();
    for (key, value) in table.get_ref() {
        let line = |span: std::ops::Range<usize>| {
            format!("{}:{}", spec.display(), text[..span.start].matches('\n').count() + 1)
        };
        if key.get_ref() == SUMS_KEY {
            for entry in sums(spec, text, value, resolve)? {
                add(&mut expected, entry, || at(value.span(), "a sums entry repeats an output".into()))?;
            }
            continue;
        }
        check_output_path(key.get_ref()).map_err(|m| {
            at(key.span(), m).hint("keys are output paths relative to the source dir, e.g. \"dist/x.tar.gz\"")
        })?;
        let fields = Fields::of(
            value,
            &["sha256", "file"],
            "a digest, or `{ sha256 = \"sha256:<hex>\", file = \"PUBLISHED\" }`",
        )
        .map_err(|m| at(value.span(), m).hint(EXPECT_HINT))?;
        let digest = match &fields {
            Fields::Text(digest) => digest.as_str(),
            Fields::Table(_) => {
                fields.required("sha256").map_err(|m| at(value.span(), m).hint(EXPECT_HINT))?
            }
        };
        let sha256 = Digest::parse(digest).map_err(|m| {
            at(value.span(), m).hint("write the published digest as \"sha256:<64 lowercase hex>\"")
        })?;
        let reference = match fields.optional("file").map_err(|m| at(value.span(), m).hint(EXPECT_HINT))? {
            Some(file) => {
                let key = format!("expect.\"{}\".file", key.get_ref());
                let resolved = resolve(&key, &Spanned::new(value.span(), file.to_string()))?;
                // Not a FIFO or a device: reading one would block or never end.
                if !resolved.is_file() {
                    return Err(at(
                        value.span(),
                        format!("{key}: {} is not a regular file", resolved.display()),
                    )
                    .hint("name the published file itself"));
                }
                Some(resolved)
            }
            None => None,
        };
        let entry = Expected { path: key.get_ref().clone(), sha256, origin: line(key.span()), reference };
        add(&mut expected, entry, || {
            at(key.span(), format!("output `{}` is expected twice", key.get_ref()))
        })?;
    }
    if expected.is_empty() {
        return Err(at(table.span(), "[expect] lists no outputs".into()).hint(
            "add `\"dist/x.tar.gz\" = \"sha256:<hex>\"` or `sums = \"SHA256SUMS\"`, or drop the table",
        ));
    }
    Ok(expected)
}

const EXPECT_HINT: &str = "write `\"dist/x.tar.gz\" = \"sha256:<hex>\"`, or with the published file to compare against, \
                           `\"dist/x.tar.gz\" = { sha256 = \"sha256:<hex>\", file = \"published/x.tar.gz\" }`";

const SUMS_HINT: &str = "write `sums = \"SHA256SUMS\"`, or `sums = { file = \"SHA256SUMS\", under = \"dist\", references = \"published\" }`";

/// `expect.sums`: a sums file, or a table naming one (`file`) with the
/// output directory its names are under (`under`) and the directory that
/// holds the published files it lists (`references`).
fn sums(
    spec: &Path,
    text: &str,
    value: &Spanned<toml::Value>,
    resolve: &dyn Fn(&str, &Spanned<String>) -> Checked<PathBuf>,
) -> Checked<Vec<Expected>> {
    let at = |message: String| SpecError::at(spec, text, Some(value.span()), message);
    let fields = Fields::of(value, &["file", "under", "references"], "a path or a table")
        .map_err(|m| at(m).hint(SUMS_HINT))?;
    let (file, under, references) = match &fields {
        Fields::Text(file) => (file.as_str(), None, None),
        Fields::Table(_) => {
            let optional = |key: &str| fields.optional(key).map_err(|m| at(m).hint(SUMS_HINT));
            (
                fields.required("file").map_err(|m| at(m).hint(SUMS_HINT))?,
                optional("under")?,
                optional("references")?,
            )
        }
    };
    let spanned = |s: &str| Spanned::new(value.span(), s.to_string());
    let file = resolve("expect.sums", &spanned(file))?;
    let references = match references {
        Some(raw) => Some((raw, resolve("expect.sums.references", &spanned(raw))?)),
        None => None,
    };
    if let Some(under) = under {
        check_output_path(under).map_err(|m| at(format!("expect.sums.under: {m}")).hint(SUMS_HINT))?;
    }
    // A regular file under a cap: not /dev/zero, not a FIFO.
    let listed = super::read_capped(&file, MAX_SUMS_SIZE).map_err(|e| {
        at(format!("cannot read the sums file {}: {e:#}", file.display()))
            .hint("`sums` is a path relative to the spec, to a file in `sha256sum` format")
    })?;
    let mut entries = parse_sums(&file, &listed)?;
    for entry in &mut entries {
        if let Some((raw, dir)) = &references {
            if !dir.join(&entry.path).is_file() {
                return Err(at(format!(
                    "{} lists `{}`, but the references directory {} has no such file",
                    entry.origin,
                    entry.path,
                    dir.display()
                ))
                .hint("put every published file the sums file lists beside it, or drop `references`"));
            }
            // Resolved like any spec path: a link in the directory reaches no further.
            let relative = format!("{}/{}", raw.trim_end_matches('/'), entry.path);
            entry.reference = Some(resolve("a file in expect.sums.references", &spanned(&relative))?);
        }
        if let Some(under) = under {
            entry.path = format!("{}/{}", under.trim_end_matches('/'), entry.path);
        }
    }
    Ok(entries)
}

/// An `[expect]` value: a string, or a table of string fields.
enum Fields<'a> {
    Text(&'a String),
    Table(&'a toml::Table),
}

impl<'a> Fields<'a> {
    /// `value` as a string or as a table whose keys are among `allowed`.
    fn of(value: &'a Spanned<toml::Value>, allowed: &[&str], what: &str) -> Result<Fields<'a>, String> {
        match value.get_ref() {
            toml::Value::String(text) => Ok(Fields::Text(text)),
            toml::Value::Table(table) => {
                if let Some(unknown) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(format!("unknown key `{unknown}`; expected {}", allowed.join(", ")));
                }
                Ok(Fields::Table(table))
            }
            other => Err(format!("expected {what}; this is {}", other.type_str())),
        }
    }

    fn optional(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self {
            Fields::Text(_) => Ok(None),
            Fields::Table(table) => match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(format!("`{key}` must be a string; this is {}", other.type_str())),
            },
        }
    }

    fn required(&self, key: &str) -> Result<&'a str, String> {
        self.optional(key)?.ok_or_else(|| format!("the table has no `{key}`"))
    }
}

/// Adds `entry`, refusing a second, different digest for the same path.
fn add(list: &mut Vec<Expected>, entry: Expected, conflict: impl Fn() -> SpecError) -> Checked<()> {
    match list.iter().find(|e| e.path == entry.path) {
        Some(old) if old.sha256 == entry.sha256 => Ok(()),
        Some(old) => Err(conflict().hint(format!(
            "`{}` is expected as {} at {} and as {} at {}; keep one",
            entry.path, old.sha256, old.origin, entry.sha256, entry.origin
        ))),
        None => {
            list.push(entry);
            Ok(())
        }
    }
}

/// An expected path must be relative, without `..`, like an output path.
fn check_output_path(path: &str) -> std::result::Result<(), String> {
    let p = Path::new(path);
    if path.trim().is_empty() {
        return Err("an expected output path is empty".into());
    }
    if p.is_absolute() {
        return Err(format!("expected output `{path}` is absolute"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("expected output `{path}` uses `..`"));
    }
    Ok(())
}

/// Parses `sha256sum` output (`<hex>  <path>`, `<hex> *<path>`) and BSD
/// style (`SHA256 (<path>) = <hex>`). Blank lines and `#` comments are
/// skipped; anything else is an error naming the line.
pub(super) fn parse_sums(file: &Path, text: &str) -> Checked<Vec<Expected>> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let err = |m: String| {
            SpecError::at(file, text, Some(start..start), m)
                .hint("each line is `<64 hex>  <path>` as `sha256sum` prints it")
        };
        let (hex, path) = if let Some(rest) = line.strip_prefix("SHA256 (") {
            let (path, hex) =
                rest.rsplit_once(") = ").ok_or_else(|| err("malformed BSD-style line".into()))?;
            (hex, path)
        } else {
            let (hex, rest) = line.split_once(' ').ok_or_else(|| err("expected `<hex>  <path>`".into()))?;
            let path = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*')).unwrap_or(rest);
            (hex, path)
        };
        let path = path.strip_prefix("./").unwrap_or(path);
        let sha256 = Digest::parse(&format!("sha256:{hex}")).map_err(err)?;
        check_output_path(path).map_err(err)?;
        let line_no = text[..start].matches('\n').count() + 1;
        let entry = Expected {
            path: path.to_string(),
            sha256,
            origin: format!("{}:{line_no}", file.display()),
            reference: None,
        };
        let conflict = || err(format!("`{path}` appears twice"));
        add(&mut out, entry, conflict)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn sums_files_in_both_styles() {
        let text = format!("# release\n{A}  dist/x.tgz\n{B} *./y.zip\n\nSHA256 (z (1).txt) = {A}\n");
        let sums = parse_sums(Path::new("S"), &text).unwrap();
        let paths: Vec<&str> = sums.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["dist/x.tgz", "y.zip", "z (1).txt"]);
        assert_eq!(sums[1].sha256.hex(), B);
        assert_eq!(sums[1].origin, "S:3");
    }

    #[test]
    fn bad_sums_lines_are_located() {
        let err = parse_sums(Path::new("S"), &format!("{A}  ok\n{}  short\n", &B[..10])).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("10 hex digits"), "{err}");
        let err = parse_sums(Path::new("S"), &format!("{A}  x\n{B}  x\n")).unwrap_err();
        assert!(err.message.contains("appears twice"), "{err}");
        let err = parse_sums(Path::new("S"), &format!("{A}  ../x\n")).unwrap_err();
        assert!(err.message.contains("`..`"), "{err}");
    }
}
