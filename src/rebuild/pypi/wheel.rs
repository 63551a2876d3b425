//! The published wheel, read for what the rebuild must reproduce: its
//! `.dist-info` directory, its `WHEEL` file and every entry's name and
//! DOS date-time. Read with the crate's strict zip reader (every
//! central-directory record, none silently replacing another) within a
//! decompression budget: the wheel comes from the network.

use crate::diff::budget::Budget;
use crate::diff::zip_listing;
use crate::errors::*;
use crate::rebuild::not_inferable;

/// At most this much is decompressed while reading a wheel: a pure-Python
/// wheel's payload is far smaller, a zip bomb runs out.
pub const READ_BUDGET: u64 = 128 << 20;

/// A zip entry's DOS date-time, as stored (two-second resolution, no zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DosTime {
    /// 1980 to 2107.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 58, even.
    pub second: u8,
}

impl DosTime {
    /// From the (time, date) words of a zip record.
    pub fn from_words(time: u16, date: u16) -> DosTime {
        DosTime {
            year: 1980 + (date >> 9),
            month: ((date >> 5) & 0xf) as u8,
            day: (date & 0x1f) as u8,
            hour: (time >> 11) as u8,
            minute: ((time >> 5) & 0x3f) as u8,
            second: ((time & 0x1f) * 2) as u8,
        }
    }

    /// Parses `YYYY-MM-DD hh:mm:ss`.
    pub fn parse(text: &str) -> Result<DosTime> {
        let n: Vec<u16> = text
            .split(['-', ' ', ':'])
            .map(|p| p.parse::<u16>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|n: &Vec<u16>| n.len() == 6)
            .with_context(|| format!("`{text}` is not a date-time YYYY-MM-DD hh:mm:ss"))?;
        Ok(DosTime {
            year: n[0],
            month: n[1] as u8,
            day: n[2] as u8,
            hour: n[3] as u8,
            minute: n[4] as u8,
            second: n[5] as u8,
        })
    }

    /// The same wall-clock time read as UTC, in seconds since the epoch.
    pub fn as_utc_epoch(&self) -> i64 {
        let (y, m, d) = (self.year as i64, self.month as i64, self.day as i64);
        // Days from civil (Howard Hinnant's algorithm).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146097 + doe - 719468;
        days * 86400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
    }
}

impl std::fmt::Display for DosTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let DosTime { year, month, day, hour, minute, second } = self;
        write!(f, "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
    }
}

/// One wheel entry: its name and stored date-time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelEntry {
    /// The entry's path in the archive.
    pub name: String,
    /// Its stored date-time.
    pub time: DosTime,
}

/// The fields of a wheel's `.dist-info/WHEEL` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFields {
    /// `Wheel-Version`, e.g. `1.0`.
    pub wheel_version: String,
    /// `Generator`, raw (`flit 3.9.0`, `bdist_wheel (0.41.2)`); None when absent.
    pub generator: Option<String>,
    /// `Root-Is-Purelib`.
    pub root_is_purelib: bool,
    /// Every `Tag`, e.g. `py3-none-any`.
    pub tags: Vec<String>,
}

impl WheelFields {
    /// Parses a `WHEEL` file (RFC 822-style `Key: value` lines).
    pub fn parse(text: &str) -> Result<WheelFields> {
        let (mut wheel_version, mut generator, mut purelib, mut tags) = (None, None, None, Vec::new());
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once(':')
                .with_context(|| format!("WHEEL: the line `{line}` is not `Key: value`"))?;
            let value = value.trim().to_string();
            match key.trim().to_ascii_lowercase().as_str() {
                "wheel-version" => wheel_version = Some(value),
                "generator" => generator = Some(value),
                "root-is-purelib" => purelib = Some(value),
                "tag" => tags.push(value),
                _ => {}
            }
        }
        let wheel_version =
            wheel_version.context("WHEEL has no Wheel-Version line: not a wheel's WHEEL file")?;
        ensure!(
            wheel_version.split('.').next() == Some("1"),
            "WHEEL: Wheel-Version {wheel_version} (only major version 1 is understood)"
        );
        let root_is_purelib = match purelib.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => bail!("WHEEL: Root-Is-Purelib is {other:?}, expected true or false"),
        };
        ensure!(!tags.is_empty(), "WHEEL has no Tag line: which interpreters it is for is unknown");
        Ok(WheelFields { wheel_version, generator, root_is_purelib, tags })
    }

    /// Fails (not inferable) unless the wheel is pure Python: purelib and
    /// every tag `py*-none-any`. A platform wheel needs its compilers,
    /// which this inference does not pin.
    pub fn ensure_pure_python(&self) -> Result<()> {
        if !self.root_is_purelib {
            return not_inferable(
                "the wheel is not pure Python (WHEEL says Root-Is-Purelib: false): a platform wheel needs \
                 compilers and libraries this rebuild does not pin",
            );
        }
        for tag in &self.tags {
            let parts: Vec<&str> = tag.split('-').collect();
            let pure = matches!(parts.as_slice(), [python, "none", "any"] if python.split('.').all(|p| p.starts_with("py")));
            if !pure {
                return not_inferable(format!(
                    "the wheel is not pure Python (WHEEL Tag {tag}, expected py*-none-any): a platform wheel \
                     needs compilers and libraries this rebuild does not pin"
                ));
            }
        }
        Ok(())
    }
}

/// A published pure-Python wheel, as far as the rebuild needs it.
#[derive(Debug, Clone)]
pub struct PublishedWheel {
    /// The `.dist-info` directory, e.g. `idna-3.10.dist-info`.
    pub dist_info: String,
    /// Its `WHEEL` file's fields.
    pub wheel: WheelFields,
    /// Every entry in central-directory order.
    pub entries: Vec<WheelEntry>,
}

impl PublishedWheel {
    /// Reads a wheel's bytes; refuses a wheel that is not pure Python.
    pub fn read(bytes: &[u8]) -> Result<PublishedWheel> {
        let budget = Budget::new(READ_BUDGET);
        let (records, _, _) = zip_listing::records(bytes, &budget).context(
            "the wheel is not a zip archive this reader understands (no end record, zip64, or a truncated \
             central directory)",
        )?;
        let entries: Vec<WheelEntry> = records
            .iter()
            .map(|r| WheelEntry {
                name: r.name.clone(),
                time: DosTime::from_words(r.dos_time.0, r.dos_time.1),
            })
            .collect();
        let dist_info = dist_info_dir(&entries)?;
        let wheel_name = format!("{dist_info}/WHEEL");
        let mut wheel_records = records.iter().filter(|r| r.name == wheel_name);
        let record = wheel_records.next().with_context(|| format!("the wheel has no {wheel_name}"))?;
        ensure!(
            wheel_records.next().is_none(),
            "the wheel holds {wheel_name} twice: readers differ in which one they take"
        );
        ensure!(
            record.problems.is_empty(),
            "the wheel's {wheel_name} is ambiguous: {}",
            record.problems.join("; ")
        );
        let content = record.content.as_deref().with_context(|| {
            format!("{wheel_name} could not be read (an unknown compression, or more than {READ_BUDGET} bytes decompressed)")
        })?;
        let text = std::str::from_utf8(content).with_context(|| format!("{wheel_name} is not UTF-8"))?;
        PublishedWheel::from_parts(dist_info, text, entries)
    }

    /// A wheel from its parts: the `.dist-info` name, the `WHEEL` text and
    /// the entries; refuses one that is not pure Python.
    pub fn from_parts(
        dist_info: String,
        wheel_text: &str,
        entries: Vec<WheelEntry>,
    ) -> Result<PublishedWheel> {
        let wheel = WheelFields::parse(wheel_text).with_context(|| format!("reading {dist_info}/WHEEL"))?;
        wheel.ensure_pure_python()?;
        Ok(PublishedWheel { dist_info, wheel, entries })
    }
}

/// The one top-level `NAME-VERSION.dist-info` directory holding a `WHEEL`.
fn dist_info_dir(entries: &[WheelEntry]) -> Result<String> {
    let mut dirs: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("/WHEEL"))
        .filter(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
        .collect();
    dirs.dedup();
    match dirs.as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!("the wheel has no NAME-VERSION.dist-info/WHEEL entry: not a wheel"),
        several => {
            bail!("the wheel has several .dist-info directories with a WHEEL ({})", several.join(", "))
        }
    }
}

#[cfg(test)]
#[path = "wheel_tests.rs"]
mod tests;
