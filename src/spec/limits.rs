//! `[limits]`: what one build may use, and what it may hand back.

use super::SpecError;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

type Checked<T> = std::result::Result<T, SpecError>;

/// Resource limits of one run; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Container memory limit, bytes (swap is not added on top).
    pub memory_bytes: i64,
    /// Container process limit.
    pub pids: i64,
    /// Total bytes of regular files collected from one run.
    pub output_bytes: u64,
    /// Entries (files, directories, links) collected from one run.
    pub output_entries: usize,
    /// Bytes of build log saved per run; the rest is cut, with a note.
    pub log_bytes: u64,
    /// Bytes a run may write to its container's filesystem (and to the
    /// build directory when that is a host mount).
    pub disk_bytes: u64,
    /// Bytes a source tarball may unpack to.
    pub source_bytes: u64,
    /// Entries a source tarball may unpack to.
    pub source_entries: usize,
    /// Decompressed bytes the structured diff and the content comparison may
    /// read for one output (every layer and member, both versions together).
    pub diff_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 8 << 30,
            pids: 4096,
            output_bytes: 4 << 30,
            output_entries: 100_000,
            log_bytes: 256 << 20,
            disk_bytes: 16 << 30,
            // The source is packed in memory once per variant until uploads
            // stream (issue 19): peak memory is about 3 x this.
            source_bytes: 1 << 30,
            source_entries: 1_000_000,
            diff_bytes: crate::diff::budget::DEFAULT_BUDGET,
        }
    }
}

/// `[limits]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    memory: Option<Spanned<String>>,
    pids: Option<Spanned<i64>>,
    output_size: Option<Spanned<String>>,
    output_files: Option<Spanned<i64>>,
    log_size: Option<Spanned<String>>,
    disk_size: Option<Spanned<String>>,
    source_size: Option<Spanned<String>>,
    source_files: Option<Spanned<i64>>,
    diff_size: Option<Spanned<String>>,
}

/// Smallest memory limit the engines accept with room for a shell.
const MIN_MEMORY: u64 = 64 << 20;

pub(super) fn validate(file: &Path, text: &str, raw: Option<&RawLimits>) -> Checked<Limits> {
    let mut limits = Limits::default();
    let Some(raw) = raw else { return Ok(limits) };
    let err = |span: std::ops::Range<usize>, message: String, hint: &str| {
        SpecError::at(file, text, Some(span), message).hint(hint)
    };
    if let Some(memory) = &raw.memory {
        let text = memory.get_ref();
        let hint = "write sizes like \"512MiB\", \"8GiB\" or \"2GB\"";
        let bytes = match (size(text), magnitude(text)) {
            (_, Some(m)) if m > i64::MAX as f64 => {
                return Err(err(
                    memory.span(),
                    format!("limits.memory `{text}` is larger than any machine"),
                    hint,
                ))
            }
            (Some(b), _) if b < MIN_MEMORY => {
                return Err(err(
                    memory.span(),
                    format!("limits.memory `{text}` is below the minimum of 64 MiB"),
                    hint,
                ))
            }
            (Some(b), _) if b <= i64::MAX as u64 => b,
            _ => return Err(err(memory.span(), format!("limits.memory `{text}` is not a size"), hint)),
        };
        limits.memory_bytes = bytes as i64;
    }
    if let Some(pids) = &raw.pids {
        if !(16..=1 << 22).contains(pids.get_ref()) {
            return Err(err(
                pids.span(),
                format!("limits.pids = {} is out of range", pids.get_ref()),
                "give 16 to 4194304 processes; the default is 4096",
            ));
        }
        limits.pids = *pids.get_ref();
    }
    let positive = |key: &str, value: &Spanned<String>| {
        size(value.get_ref()).filter(|b| *b > 0).ok_or_else(|| {
            err(
                value.span(),
                format!("limits.{key} `{}` is not a positive size", value.get_ref()),
                "write sizes like \"100MiB\" or \"4GiB\"",
            )
        })
    };
    if let Some(output) = &raw.output_size {
        limits.output_bytes = positive("output_size", output)?;
    }
    if let Some(log) = &raw.log_size {
        limits.log_bytes = positive("log_size", log)?;
    }
    if let Some(disk) = &raw.disk_size {
        limits.disk_bytes = positive("disk_size", disk)?;
    }
    if let Some(source) = &raw.source_size {
        limits.source_bytes = positive("source_size", source)?;
    }
    if let Some(diff) = &raw.diff_size {
        limits.diff_bytes = positive("diff_size", diff)?;
    }
    let entries = |key: &str, files: &Spanned<i64>, default: usize| {
        if !(1..=10_000_000).contains(files.get_ref()) {
            return Err(err(
                files.span(),
                format!("limits.{key} = {} is out of range", files.get_ref()),
                &format!("give 1 to 10000000 entries; the default is {default}"),
            ));
        }
        Ok(*files.get_ref() as usize)
    };
    if let Some(files) = &raw.output_files {
        limits.output_entries = entries("output_files", files, Limits::default().output_entries)?;
    }
    if let Some(files) = &raw.source_files {
        limits.source_entries = entries("source_files", files, Limits::default().source_entries)?;
    }
    Ok(limits)
}

/// Parses `8GiB`, `512 MiB`, `2GB`, `1000` (bytes).
fn size(text: &str) -> Option<u64> {
    text.trim().parse::<bytesize::ByteSize>().ok().map(|b| b.as_u64())
}

/// Roughly how many bytes `text` names, in floating point, so that a size
/// too large for 64 bits is told apart from one too small.
fn magnitude(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let number: f64 = text[..split].parse().ok()?;
    let unit = text[split..].trim().to_ascii_lowercase();
    let power = |base: f64, exp: i32| base.powi(exp);
    let scale = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "ki" => power(1024.0, 1),
        "m" => 1e6,
        "mi" => power(1024.0, 2),
        "g" => 1e9,
        "gi" => power(1024.0, 3),
        "t" => 1e12,
        "ti" => power(1024.0, 4),
        "p" => 1e15,
        "pi" => power(1024.0, 5),
        "e" => 1e18,
        "ei" => power(1024.0, 6),
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Checked<Limits> {
        let text = format!("[limits]\n{body}\n");
        #[derive(Deserialize)]
        struct Doc {
            limits: RawLimits,
        }
        let doc: Doc = toml::from_str(&text).unwrap();
        validate(Path::new("t.toml"), &text, Some(&doc.limits))
    }

    #[test]
    fn sizes_and_counts_parse() {
        let l = parse(
            "memory = \"512MiB\"\npids = 64\noutput_size = \"1 KiB\"\noutput_files = 10\nlog_size = \"2MiB\"\n\
             source_size = \"1GiB\"\nsource_files = 5\ndiff_size = \"16MiB\"\ndisk_size = \"3GiB\"",
        )
        .unwrap();
        let want = Limits {
            memory_bytes: 512 << 20,
            pids: 64,
            output_bytes: 1024,
            output_entries: 10,
            log_bytes: 2 << 20,
            disk_bytes: 3 << 30,
            source_bytes: 1 << 30,
            source_entries: 5,
            diff_bytes: 16 << 20,
        };
        assert_eq!(l, want);
        assert_eq!(parse("memory = \"2GB\"").unwrap().memory_bytes, 2_000_000_000);
    }

    #[test]
    fn nonsense_is_located() {
        let err = parse("memory = \"lots\"").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("is not a size"), "{err}");
        assert!(parse("memory = \"1MiB\"").unwrap_err().message.contains("below the minimum of 64 MiB"));
        let huge = parse("memory = \"999999999999G\"").unwrap_err();
        assert!(huge.message.contains("larger than any machine"), "an overflow is not 'too small': {huge}");
        assert!(parse("pids = 1").unwrap_err().message.contains("out of range"));
        assert!(parse("output_files = 0").is_err());
        assert!(parse("source_files = 0").unwrap_err().message.contains("limits.source_files"));
        assert!(parse("diff_size = \"0\"").unwrap_err().message.contains("limits.diff_size"));
        assert!(parse("output_size = \"0\"").is_err());
        assert!(parse("log_size = \"none\"").unwrap_err().message.contains("limits.log_size"));
    }
}
