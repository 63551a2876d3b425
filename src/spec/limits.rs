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

/// The range each size key accepts, and why its ends are where they are:
/// (key, smallest, largest).
pub(crate) const SIZE_RANGES: [(&str, u64, u64); 6] = [
    // The engines need room for a shell; past 1 TiB no machine here has it.
    ("memory", 64 << 20, 1 << 40),
    // Collected to the results directory: disk, not memory.
    ("output_size", 1 << 10, 1 << 40),
    // The saved log is read back whole once to reconcile it with the
    // engine's copy: it is held in memory, so it stays below 1 GiB.
    ("log_size", 64 << 10, 1 << 30),
    // A container filesystem smaller than 16 MiB cannot hold a shell's work.
    ("disk_size", 16 << 20, 16 << 40),
    // Unpacked to disk and uploaded as a stream.
    ("source_size", 1 << 20, 1 << 40),
    // Read as streams (time, not memory); 64 GiB is hours of decompression.
    ("diff_size", 1 << 20, 64 << 30),
];

/// The range of each count key: (key, smallest, largest).
pub(crate) const COUNT_RANGES: [(&str, i64, i64); 3] =
    [("pids", 16, 1 << 22), ("output_files", 1, 10_000_000), ("source_files", 1, 10_000_000)];

pub(super) fn validate(file: &Path, text: &str, raw: Option<&RawLimits>) -> Checked<Limits> {
    let mut limits = Limits::default();
    let Some(raw) = raw else { return Ok(limits) };
    let sized = |key: &str, value: &Spanned<String>, default: u64| -> Checked<u64> {
        let (_, min, max) =
            SIZE_RANGES.iter().find(|(k, _, _)| *k == key).copied().unwrap_or((key, 1, u64::MAX));
        let written = value.get_ref();
        let range = format!("from {} to {}; the default is {}", human(min), human(max), human(default));
        let problem = match (size(written), magnitude(written)) {
            (_, Some(m)) if m > max as f64 => {
                format!("limits.{key} = \"{written}\" is above the maximum of {}", human(max))
            }
            (Some(b), _) if b > max => {
                format!("limits.{key} = \"{written}\" is above the maximum of {}", human(max))
            }
            (Some(b), _) if b < min => {
                format!("limits.{key} = \"{written}\" is below the minimum of {}", human(min))
            }
            (Some(b), _) => return Ok(b),
            _ => format!("limits.{key} = \"{written}\" is not a size"),
        };
        Err(SpecError::at(file, text, Some(value.span()), problem)
            .hint(format!("give a size {range}, written like \"512MiB\", \"8GiB\" or \"2GB\"")))
    };
    let counted = |key: &str, value: &Spanned<i64>, default: i64| -> Checked<i64> {
        let (_, min, max) =
            COUNT_RANGES.iter().find(|(k, _, _)| *k == key).copied().unwrap_or((key, 1, i64::MAX));
        let n = *value.get_ref();
        if (min..=max).contains(&n) {
            return Ok(n);
        }
        let side = if n < min {
            format!("below the minimum of {min}")
        } else {
            format!("above the maximum of {max}")
        };
        Err(SpecError::at(file, text, Some(value.span()), format!("limits.{key} = {n} is {side}"))
            .hint(format!("give {min} to {max}; the default is {default}")))
    };
    let defaults = Limits::default();
    if let Some(memory) = &raw.memory {
        limits.memory_bytes = sized("memory", memory, defaults.memory_bytes as u64)? as i64;
    }
    if let Some(pids) = &raw.pids {
        limits.pids = counted("pids", pids, defaults.pids)?;
    }
    if let Some(output) = &raw.output_size {
        limits.output_bytes = sized("output_size", output, defaults.output_bytes)?;
    }
    if let Some(log) = &raw.log_size {
        limits.log_bytes = sized("log_size", log, defaults.log_bytes)?;
    }
    if let Some(disk) = &raw.disk_size {
        limits.disk_bytes = sized("disk_size", disk, defaults.disk_bytes)?;
    }
    if let Some(source) = &raw.source_size {
        limits.source_bytes = sized("source_size", source, defaults.source_bytes)?;
    }
    if let Some(diff) = &raw.diff_size {
        limits.diff_bytes = sized("diff_size", diff, defaults.diff_bytes)?;
    }
    if let Some(files) = &raw.output_files {
        limits.output_entries = counted("output_files", files, defaults.output_entries as i64)? as usize;
    }
    if let Some(files) = &raw.source_files {
        limits.source_entries = counted("source_files", files, defaults.source_entries as i64)? as usize;
    }
    Ok(limits)
}

/// A byte count as written in a spec: `64MiB`, `1TiB`, `1000` bytes.
fn human(bytes: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
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
        assert!(parse("memory = \"1MiB\"").unwrap_err().message.contains("below the minimum of 64MiB"));
        let huge = parse("memory = \"999999999999G\"").unwrap_err();
        assert!(huge.message.contains("above the maximum of 1TiB"), "an overflow is not 'too small': {huge}");
        assert!(parse("pids = 1").unwrap_err().message.contains("below the minimum of 16"));
        assert!(parse("output_files = 0").is_err());
        assert!(parse("source_files = 0").unwrap_err().message.contains("limits.source_files"));
        assert!(parse("diff_size = \"0\"").unwrap_err().message.contains("limits.diff_size"));
        assert!(parse("output_size = \"0\"").is_err());
        assert!(parse("log_size = \"none\"").unwrap_err().message.contains("limits.log_size"));
    }

    /// Every key has a maximum (and a minimum where 0 makes no sense): a
    /// value past it is an error at its line, naming the range and the fix.
    #[test]
    fn values_out_of_range_name_the_line_the_range_and_the_fix() {
        for (body, message, help) in [
            (
                "diff_size = \"1PiB\"",
                "limits.diff_size = \"1PiB\" is above the maximum of 64GiB",
                "from 1MiB to 64GiB",
            ),
            (
                "log_size = \"8GiB\"",
                "limits.log_size = \"8GiB\" is above the maximum of 1GiB",
                "the default is 256MiB",
            ),
            ("log_size = \"10\"", "is below the minimum of 64KiB", "from 64KiB to 1GiB"),
            ("output_size = \"2TiB\"", "above the maximum of 1TiB", "from 1KiB to 1TiB"),
            ("disk_size = \"1MiB\"", "below the minimum of 16MiB", "from 16MiB to 16TiB"),
            ("source_size = \"1EiB\"", "above the maximum of 1TiB", "the default is 1GiB"),
            ("memory = \"2TiB\"", "above the maximum of 1TiB", "from 64MiB to 1TiB"),
            (
                "output_files = 20000000",
                "limits.output_files = 20000000 is above the maximum of 10000000",
                "give 1 to 10000000",
            ),
            ("pids = 9999999", "above the maximum of 4194304", "the default is 4096"),
        ] {
            let err = parse(&format!("# the limits of one run\n{body}")).unwrap_err();
            assert_eq!((err.line, err.column > 0), (3, true), "{body}: {err}");
            assert!(err.message.contains(message), "{body}: {err}");
            assert!(err.hint.as_deref().is_some_and(|h| h.contains(help)), "{body}: {err}");
            assert!(err.to_string().starts_with("t.toml:3:"), "file:line: {err}");
        }
        for (body, want) in [("diff_size = \"64GiB\"", 64u64 << 30), ("diff_size = \"1MiB\"", 1 << 20)] {
            assert_eq!(parse(body).unwrap().diff_bytes, want, "the ends are allowed");
        }
    }
}
