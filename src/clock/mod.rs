//! The time factor's detector: timestamps in a run's outputs that fall
//! inside that run's own wall-clock window are the build's clock, whatever
//! second the other runs wrote in. So a tar of files the build just wrote,
//! a gzip header, a zip entry's time or a `.deb` member's time is caught
//! even when two runs write in the same second, and the runs need not
//! start apart. Times the build preserves (source files, `cp -p`) or sets
//! (`--mtime=@$SOURCE_DATE_EPOCH`, `--clamp-mtime`) lie outside the window
//! and are not.

mod scan;
mod window;

pub use window::{rfc3339_ns, utc_offset, RunWindow, Stamp};

use crate::diff::budget::Budget;
use crate::errors::*;
use serde::Serialize;
use std::path::Path;

/// Stamps listed per run in the report; the rest are counted.
const MAX_LISTED: usize = 20;

/// The build's clock found in one run's outputs.
#[derive(Debug, Clone, Serialize)]
pub struct ClockStamps {
    /// The run.
    pub run: u32,
    /// When its build started and exited, by the engine's clock (RFC 3339).
    pub started: String,
    /// See `started`.
    pub finished: String,
    /// How many timestamps inside the window its outputs hold.
    pub total: usize,
    /// The first [`MAX_LISTED`] of them.
    pub stamps: Vec<ClockStamp>,
}

/// One timestamp of the build's clock in an output.
#[derive(Debug, Clone, Serialize)]
pub struct ClockStamp {
    /// The output (a path under the build directory, as `outputs` names it).
    pub output: String,
    /// Where in it: the output, then each archive member's name.
    pub place: String,
    /// Which field holds it.
    pub field: String,
    /// The time it holds, UTC (a zip time read in the run's time zone).
    pub time: String,
    /// How builds set it from SOURCE_DATE_EPOCH instead.
    pub fix: String,
}

/// What the scan of one run needs to know about it.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    /// The run.
    pub run: u32,
    /// Its window.
    pub window: RunWindow,
    /// Its time zone's offset from UTC, when known (for zip times).
    pub utc_offset: Option<i32>,
    /// The newest time the source tree carried: nothing at or before it is
    /// taken for the clock.
    pub newest_source_time: i64,
}

/// Scans the outputs in `outputs_dir` of one run (a blocking read, within
/// `budget` decompressed bytes); `None` when none of their timestamps is
/// the build's clock.
pub fn scan_run(outputs_dir: &Path, clock: RunClock, budget: u64) -> Result<Option<ClockStamps>> {
    let budget = Budget::new(budget);
    let seconds = clock.window.seconds(clock.newest_source_time);
    let mut found = ClockStamps {
        run: clock.run,
        started: rfc3339_of_ns(clock.window.started_ns),
        finished: rfc3339_of_ns(clock.window.finished_ns),
        total: 0,
        stamps: Vec::new(),
    };
    for entry in walkdir::WalkDir::new(outputs_dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading the outputs in {}", outputs_dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(outputs_dir).unwrap_or(entry.path());
        let output = relative.to_string_lossy().into_owned();
        scan::stamps_of_file(entry.path(), &output, &budget, &mut |f| {
            if window::inside(f.stamp, seconds, clock.utc_offset) {
                found.total += 1;
                if found.stamps.len() < MAX_LISTED {
                    found.stamps.push(ClockStamp {
                        output: output.clone(),
                        time: describe(f.stamp, clock.utc_offset),
                        fix: fix(&f.field, &f.place).to_string(),
                        place: f.place,
                        field: f.field,
                    });
                }
            }
            true
        });
    }
    Ok((found.total > 0).then_some(found))
}

/// The time a stamp holds, as UTC.
fn describe(stamp: Stamp, utc_offset: Option<i32>) -> String {
    let seconds = match stamp {
        Stamp::Utc(seconds) => seconds,
        Stamp::DosLocal(local) => local - i64::from(utc_offset.unwrap_or(0)),
    };
    rfc3339_of_ns(i128::from(seconds) * 1_000_000_000)
}

/// Nanoseconds since 1970 as RFC 3339 UTC (milliseconds when not whole).
fn rfc3339_of_ns(ns: i128) -> String {
    let Some(time) = u64::try_from(ns)
        .ok()
        .and_then(|ns| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_nanos(ns)))
    else {
        return format!("{ns} ns since 1970");
    };
    match ns % 1_000_000_000 {
        0 => humantime::format_rfc3339_seconds(time).to_string(),
        _ => humantime::format_rfc3339_millis(time).to_string(),
    }
}

/// How a build writes `field` from SOURCE_DATE_EPOCH.
fn fix(field: &str, place: &str) -> &'static str {
    match field {
        "gzip header mtime" => "gzip -n (or gzip --no-name): no time in the header",
        "pax atime" | "pax ctime" => "tar --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
        "zip time" | "zip extended mtime" => {
            "touch -d @$SOURCE_DATE_EPOCH the files before zipping them (or strip-nondeterminism afterwards); \
             Python's wheel and zipfile tools honour SOURCE_DATE_EPOCH"
        }
        _ if place.contains(".a > ") || place.ends_with(".a") => "ar D (deterministic mode: zero times)",
        _ => "tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime (or touch -d @$SOURCE_DATE_EPOCH before archiving)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_seconds_are_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let start = 1_796_626_512_i64;
        let mut builder = tar::Builder::new(Vec::new());
        for (name, mtime) in
            [("gen/a", start + 1), ("gen/b", start - 3600), ("gen/c", start + 2), ("gen/d", start - 2)]
        {
            let mut header = tar::Header::new_ustar();
            header.set_size(1);
            header.set_mode(0o644);
            header.set_mtime(mtime as u64);
            header.set_cksum();
            builder.append_data(&mut header, name, &b"x"[..]).unwrap();
        }
        std::fs::create_dir(dir.path().join("out")).unwrap();
        std::fs::write(dir.path().join("out/gen.tar"), builder.into_inner().unwrap()).unwrap();
        let window = RunWindow::from_rfc3339("2026-12-07T06:55:12.500Z", "2026-12-07T06:55:13.900Z").unwrap();
        let clock = RunClock { run: 2, window, utc_offset: Some(0), newest_source_time: 0 };
        let found = scan_run(dir.path(), clock, 1 << 30).unwrap().unwrap();
        assert_eq!(found.total, 1, "{found:?}");
        assert_eq!(found.stamps[0].place, "out/gen.tar > gen/a");
        assert_eq!(found.stamps[0].output, "out/gen.tar");
        assert_eq!(found.stamps[0].time, "2026-12-07T06:55:13Z");
        assert!(found.stamps[0].fix.contains("--clamp-mtime"));
        assert_eq!(found.started, "2026-12-07T06:55:12.500Z");
        // A source file of that second is the source's time.
        let clock = RunClock { newest_source_time: start + 1, ..clock };
        assert!(scan_run(dir.path(), clock, 1 << 30).unwrap().is_none());
    }
}
