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
/// `resolve` turns the sums path into a file the spec may read.
pub(super) fn validate(
    spec: &Path,
    text: &str,
    table: &Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
    resolve: &dyn Fn(&Spanned<String>) -> Checked<PathBuf>,
) -> Checked<Vec<Expected>> {
    let at = |span: std::ops::Range<usize>, message: String| SpecError::at(spec, text, Some(span), message);
    let mut expected: Vec<Expected> = Vec::new();
    for (key, value) in table.get_ref() {
        let line = |span: std::ops::Range<usize>| {
            format!("{}:{}", spec.display(), text[..span.start].matches('\n').count() + 1)
        };
        if key.get_ref() == SUMS_KEY {
            let file = resolve(value)?;
            // A regular file under a cap: not /dev/zero, not a FIFO.
            let sums = super::read_capped(&file, MAX_SUMS_SIZE).map_err(|e| {
                at(value.span(), format!("cannot read the sums file {}: {e:#}", file.display()))
                    .hint("`sums` is a path relative to the spec, to a file in `sha256sum` format")
            })?;
            for entry in parse_sums(&file, &sums)? {
                add(&mut expected, entry, || at(value.span(), "a sums entry repeats an output".into()))?;
            }
            continue;
        }
        check_output_path(key.get_ref()).map_err(|m| {
            at(key.span(), m).hint("keys are output paths relative to the source dir, e.g. \"dist/x.tar.gz\"")
        })?;
        let sha256 = Digest::parse(value.get_ref()).map_err(|m| {
            at(value.span(), m).hint("write the published digest as \"sha256:<64 lowercase hex>\"")
        })?;
        let entry = Expected { path: key.get_ref().clone(), sha256, origin: line(key.span()) };
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
        let entry =
            Expected { path: path.to_string(), sha256, origin: format!("{}:{line_no}", file.display()) };
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
