//! The timestamp rule: which `SOURCE_DATE_EPOCH` and `TZ` make the
//! backend write the zip entry times the published wheel has, read from
//! those times (and the sdist's member mtimes, which a rebuild keeps when
//! it extracts the sdist).
//!
//! How the backends set zip entry times (read in their code, from their
//! wheels):
//!
//! | backend (versions read) | `SOURCE_DATE_EPOCH` | without it: files | without it: generated (METADATA, WHEEL, RECORD) |
//! |---|---|---|---|
//! | flit_core 3.2, 3.9, 3.10 | every entry, UTC | file mtime, **local time** (`ZipInfo.from_file`) | fixed 2016-01-01 00:00:00 |
//! | hatchling 1.18, 1.25, 1.26 (`reproducible`, the default) | every entry, UTC | fixed 2020-02-02 00:00:00 (its default epoch 1580601600) | the same |
//! | hatchling, `reproducible = false` | — | file mtime, local time | fixed 2020-02-02 |
//! | wheel's bdist_wheel 0.29, 0.30, 0.33, 0.37, 0.41, 0.45; setuptools ≥ 70.1 (vendored wheel) | every entry, UTC | file mtime, **UTC** (`gmtime`) | written to disk during the build: the **build's clock**, UTC; RECORD: the clock |
//! | poetry-core 1.0, 1.9 | **ignored** | fixed 1980-01-01 00:00:00 (`ZipInfo` default) | fixed 2016-01-01 |
//! | poetry-core 2.0 | every entry, UTC | fixed 2016-01-01 | fixed 2016-01-01 |
//! | pdm-backend 2.1, 2.4 | every entry, UTC | fixed 2016-01-01 | fixed 2016-01-01 |
//!
//! setuptools' build_py copies sources keeping their mtimes, and the
//! frontends (pip, build) extract the sdist keeping its members' mtimes,
//! so a wheel built from the sdist without `SOURCE_DATE_EPOCH` has the
//! sdist's mtimes on its payload. Zip stores local wall-clock time with
//! two-second resolution (seconds rounded down to even).
//!
//! The rules, in order:
//! 1. Every entry at one time T: T is the backend's fixed default → no
//!    `SOURCE_DATE_EPOCH`; otherwise `SOURCE_DATE_EPOCH` = T read as UTC
//!    (every backend that honours it reads it in UTC).
//! 2. Otherwise entries at the backend's fixed defaults need nothing; the
//!    others are compared with the sdist's mtimes: a constant offset O
//!    (zip time − mtime rounded down to even) is the publisher's zone for a
//!    local-time backend (`TZ`, POSIX form: +05:30 is `<+0530>-05:30`,
//!    +02:00 is `<+02>-2`, what `Etc/GMT-2` means without needing tzdata;
//!    UTC is `UTC0`), and must be 0 for a UTC backend; no
//!    `SOURCE_DATE_EPOCH`, since it would replace these times.
//! 3. What neither explains cannot be reproduced by an environment
//!    variable, and is said so: setuptools' generated `.dist-info` files
//!    (and files generated during the build, e.g. setuptools_scm's
//!    `_version.py`) carry the publisher's build clock, which only a clock
//!    set to that time (e.g. libfaketime) reproduces; otherwise the
//!    rebuild can at best content-match.
//!
//! What the rules infer for the fixtures (tests/fixtures/rebuild/pypi):
//!
//! | sample | backend | SOURCE_DATE_EPOCH | TZ | not reproducible |
//! |---|---|---|---|---|
//! | idna 3.10, typing-extensions 4.12.2, tomli 2.0.1 | flit_core 3.9.0 / 3.9.0 / 3.6.0 | — | `UTC0` | — |
//! | packaging 24.2 | flit_core 3.10.1 | — | `<+0530>-05:30` | — |
//! | jinja2 3.1.4 | flit_core 3.9.0 | 1714952250 (2024-05-05 23:37:30) | — | — |
//! | annotated-types 0.7.0, pydantic 2.9.2, pygments 2.18.0, iniconfig 2.0.0, colorama 0.4.6 | hatchling | — (its 2020-02-02) | — | — |
//! | attrs 24.2.0, urllib3 2.2.3 | hatchling 1.25.0 | 1722954452, 1726137420 | — | — |
//! | click 8.1.7 | wheel 0.41.1 + setuptools | 1692293088 | — | — |
//! | six 1.17.0, certifi 2024.8.30 | setuptools 75.6.0 / 74.0.0 | — | — | the 5 generated .dist-info files (build clock) |
//! | six 1.16.0, pytz 2024.2, requests 2.32.3, pluggy 1.5.0, python-dateutil 2.8.2 | wheel 0.36.2 … 0.43.0 + setuptools | — | — | generated .dist-info files (and `_version.py` for the setuptools_scm ones) |
//! | rich 13.9.4, tomlkit 0.13.2 | poetry-core 1.9.0 | — (ignored) | — | — |
//! | fastapi 0.115.5, pdm-backend 2.4.3 | pdm-backend | — (its 2016-01-01) | — | — |

use super::backend::BackendKind;
use super::pep440::Version;
use super::wheel::{DosTime, PublishedWheel, WheelEntry};
use crate::errors::*;
use crate::rebuild::{not_inferable, Inference};
use std::collections::{BTreeMap, BTreeSet};

/// The times and zone a rebuild sets, and what they cannot reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRule {
    /// `SOURCE_DATE_EPOCH` for the build; None: leave it unset.
    pub source_date_epoch: Option<i64>,
    /// `TZ` for the build (POSIX form); None: the backend does not read it.
    pub tz: Option<String>,
    /// Entries whose time no environment variable reproduces.
    pub unreproducible: Vec<WheelEntry>,
    /// When those look like the build's clock: the earliest, read as UTC.
    pub build_clock: Option<i64>,
    /// What was decided, with evidence.
    pub inferences: Vec<Inference>,
}

/// Where a backend takes a payload file's time from when `SOURCE_DATE_EPOCH` is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileClock {
    /// The file's mtime, as UTC.
    Utc,
    /// The file's mtime, in the local zone (`TZ`).
    Local,
    /// A fixed time, never the file's.
    Fixed,
}

struct Behaviour {
    honours_sde: bool,
    files: FileClock,
    fixed: &'static [&'static str],
}

fn behaviour(kind: BackendKind, version: &Version) -> Behaviour {
    let below = |v: &str| version < &Version::parse(v).expect("a version");
    match kind {
        BackendKind::FlitCore => {
            Behaviour { honours_sde: true, files: FileClock::Local, fixed: &["2016-01-01 00:00:00"] }
        }
        // Local file times only with `reproducible = false`; its generated files stay at 2020-02-02.
        BackendKind::Hatchling => {
            Behaviour { honours_sde: true, files: FileClock::Local, fixed: &["2020-02-02 00:00:00"] }
        }
        BackendKind::Setuptools => Behaviour { honours_sde: true, files: FileClock::Utc, fixed: &[] },
        BackendKind::PoetryCore if below("2.0") => Behaviour {
            honours_sde: false,
            files: FileClock::Fixed,
            fixed: &["1980-01-01 00:00:00", "2016-01-01 00:00:00"],
        },
        BackendKind::PoetryCore | BackendKind::PdmBackend => {
            Behaviour { honours_sde: true, files: FileClock::Fixed, fixed: &["2016-01-01 00:00:00"] }
        }
    }
}

/// Infers the timestamp rule for `wheel`, built by `kind` at `version`,
/// from its entry times and the sdist's member mtimes (`sdist_mtimes`:
/// name below the sdist's top directory → seconds since the epoch; empty
/// when unknown).
pub fn infer(
    wheel: &PublishedWheel,
    kind: BackendKind,
    version: &Version,
    sdist_mtimes: &BTreeMap<String, i64>,
) -> Result<TimestampRule> {
    let how = behaviour(kind, version);
    let mut rule = TimestampRule {
        source_date_epoch: None,
        tz: None,
        unreproducible: Vec::new(),
        build_clock: None,
        inferences: Vec::new(),
    };
    let times: BTreeSet<DosTime> = wheel.entries.iter().map(|e| e.time).collect();
    let is_fixed = |t: &DosTime| how.fixed.contains(&t.to_string().as_str());
    if let [only] = times.iter().collect::<Vec<_>>()[..] {
        let evidence = format!("all {} entries of the published wheel are at {only}", wheel.entries.len());
        if is_fixed(only) {
            rule.inferences.push(Inference::new(
                "SOURCE_DATE_EPOCH unset",
                format!("{evidence}, the backend's fixed default"),
            ));
        } else if how.honours_sde {
            rule.source_date_epoch = Some(only.as_utc_epoch());
            rule.inferences.push(Inference::new(
                format!("SOURCE_DATE_EPOCH={} ({only} UTC)", only.as_utc_epoch()),
                format!("{evidence}: the backend writes SOURCE_DATE_EPOCH, in UTC, on every entry"),
            ));
        } else {
            return not_inferable(format!(
                "{evidence}, but this backend version ignores SOURCE_DATE_EPOCH and writes its fixed times \
                 ({}): the wheel was not built the way its Generator says",
                how.fixed.join(", ")
            ));
        }
        return Ok(rule);
    }
    let fixed: Vec<&WheelEntry> = wheel.entries.iter().filter(|e| is_fixed(&e.time)).collect();
    if !fixed.is_empty() {
        rule.inferences.push(Inference::new(
            "SOURCE_DATE_EPOCH unset",
            format!("{} entries are at the backend's fixed default ({})", fixed.len(), how.fixed.join(", ")),
        ));
    }
    let rest: Vec<&WheelEntry> = wheel.entries.iter().filter(|e| !is_fixed(&e.time)).collect();
    let offsets: Vec<(&WheelEntry, Option<i64>)> = rest
        .iter()
        .map(|e| {
            (
                *e,
                sdist_mtime(&wheel.dist_info, &e.name, sdist_mtimes)
                    .map(|m| e.time.as_utc_epoch() - (m - m.rem_euclid(2))),
            )
        })
        .collect();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for offset in offsets.iter().filter_map(|(_, o)| *o) {
        *counts.entry(offset).or_default() += 1;
    }
    let zone = match how.files {
        FileClock::Utc => counts.contains_key(&0).then_some(0),
        FileClock::Local => counts
            .iter()
            .filter(|(o, _)| o.rem_euclid(900) == 0 && o.abs() <= 14 * 3600)
            .max_by_key(|(_, n)| **n)
            .map(|(o, _)| *o),
        FileClock::Fixed => None,
    };
    if let Some(offset) = zone {
        let n = counts[&offset];
        let evidence = format!("{n} entries are the sdist's mtimes {}", shown_offset(offset));
        if how.files == FileClock::Local {
            rule.tz = Some(posix_tz(offset));
            rule.inferences.push(Inference::new(
                format!("TZ={} and SOURCE_DATE_EPOCH unset", posix_tz(offset)),
                format!("{evidence}: the backend writes a file's mtime in local time"),
            ));
        } else {
            rule.inferences.push(Inference::new(
                "SOURCE_DATE_EPOCH unset",
                format!("{evidence}: the backend writes a file's mtime in UTC"),
            ));
        }
    }
    rule.unreproducible =
        offsets.iter().filter(|(_, o)| zone.is_none() || *o != zone).map(|(e, _)| (*e).clone()).collect();
    if !rule.unreproducible.is_empty() {
        let said = unreproducible(&mut rule, kind, &counts, zone);
        rule.inferences.push(said);
    }
    Ok(rule)
}

/// Says plainly what the rule cannot reproduce, and why.
fn unreproducible(
    rule: &mut TimestampRule,
    kind: BackendKind,
    counts: &BTreeMap<i64, usize>,
    zone: Option<i64>,
) -> Inference {
    let names: Vec<&str> = rule.unreproducible.iter().map(|e| e.name.as_str()).collect();
    let earliest = rule.unreproducible.iter().map(|e| e.time).min().expect("not empty");
    let shown = if names.len() > 4 {
        format!("{} and {} more", names[..4].join(", "), names.len() - 4)
    } else {
        names.join(", ")
    };
    let what = format!("{} entries keep the publisher's times, not reproducible: {shown}", names.len());
    if kind == BackendKind::Setuptools {
        rule.build_clock = Some(earliest.as_utc_epoch());
        return Inference::new(
            what,
            format!(
                "setuptools wrote them during the build, at {earliest} UTC and after, from the clock; SOURCE_DATE_EPOCH \
                 would also replace the payload's times, so only a clock set to that time reproduces them \
                 (otherwise expect a content-match)"
            ),
        );
    }
    let dst = zone.is_some_and(|z| counts.contains_key(&(z + 3600)) || counts.contains_key(&(z - 3600)));
    let why = if dst {
        "their offsets from the sdist's mtimes differ by an hour: a zone with daylight saving time, which \
         one fixed TZ cannot give; name the publisher's zone by hand"
    } else {
        "they are neither the backend's fixed times nor the sdist's mtimes in one zone"
    };
    Inference::new(what, why)
}

/// The sdist mtime of the file a wheel entry was made from: the same path,
/// below `src/`, or (a `.dist-info` license) at the top of the sdist.
fn sdist_mtime(dist_info: &str, name: &str, sdist: &BTreeMap<String, i64>) -> Option<i64> {
    if let Some(inner) = name.strip_prefix(dist_info).and_then(|n| n.strip_prefix('/')) {
        let inner = inner.strip_prefix("licenses/").unwrap_or(inner);
        if ["METADATA", "WHEEL", "RECORD", "top_level.txt", "entry_points.txt"].contains(&inner) {
            return None;
        }
        return sdist.get(inner).copied();
    }
    sdist.get(name).or_else(|| sdist.get(&format!("src/{name}"))).copied()
}

fn shown_offset(offset: i64) -> String {
    if offset == 0 {
        return "as they are (UTC)".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    format!("shifted by {sign}{:02}:{:02}", offset.abs() / 3600, offset.abs() % 3600 / 60)
}

/// A POSIX `TZ` for a fixed offset east of UTC, needing no zoneinfo:
/// POSIX counts west, so +05:30 is `<+0530>-05:30`.
pub fn posix_tz(offset_east: i64) -> String {
    if offset_east == 0 {
        return "UTC0".into();
    }
    let (hours, minutes) = (offset_east.abs() / 3600, offset_east.abs() % 3600 / 60);
    let (east, west) = if offset_east > 0 { ('+', "-") } else { ('-', "") };
    if minutes == 0 {
        format!("<{east}{hours:02}>{west}{hours}")
    } else {
        format!("<{east}{hours:02}{minutes:02}>{west}{hours:02}:{minutes:02}")
    }
}

#[cfg(test)]
#[path = "timestamps_tests.rs"]
mod tests;
