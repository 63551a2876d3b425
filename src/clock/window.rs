//! A run's wall-clock window and whether a timestamp found in its outputs
//! falls inside it: then it is the build's own clock, whatever the other
//! runs wrote.

use serde::Serialize;

/// When a run's build process started and exited, by the engine's clock:
/// the clock the kernel stamps the build's files with, on the engine's host
/// (so a remote engine's skew against this machine does not matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunWindow {
    /// Started, nanoseconds since 1970.
    pub started_ns: i128,
    /// Exited, nanoseconds since 1970.
    pub finished_ns: i128,
}

impl RunWindow {
    /// The window from the engine's RFC 3339 start and finish times; `None`
    /// unless both read and the finish is not before the start.
    pub fn from_rfc3339(started: &str, finished: &str) -> Option<RunWindow> {
        let (started_ns, finished_ns) = (rfc3339_ns(started)?, rfc3339_ns(finished)?);
        (finished_ns >= started_ns && started_ns > 0).then_some(RunWindow { started_ns, finished_ns })
    }

    /// The window from the engine's start time, and its finish time when it
    /// has recorded one by now; else (Podman may answer an inspect right
    /// after the wait before it has) the start plus `ran_for`, the run's
    /// length by this machine's clock from the start request to the exit
    /// (a length, so no clock skew enters).
    pub fn from_engine(
        started: &str,
        finished: Option<&str>,
        ran_for: std::time::Duration,
    ) -> Option<RunWindow> {
        let started_ns = rfc3339_ns(started).filter(|ns| *ns > 0)?;
        let recorded = finished.and_then(rfc3339_ns).filter(|ns| *ns >= started_ns);
        let measured = started_ns + i128::try_from(ran_for.as_nanos()).ok()?;
        Some(RunWindow { started_ns, finished_ns: recorded.unwrap_or(measured).max(started_ns) })
    }

    /// The whole seconds a timestamp written during the run can carry:
    /// from [`START_LEEWAY`] before the start's second (timestamps are
    /// truncated to it) to the finish's, and never a second at or before
    /// `newest_source_time`, the newest time the source tree carried (a
    /// preserved source time is the source's, not the clock's, however
    /// recent).
    pub fn seconds(&self, newest_source_time: i64) -> (i64, i64) {
        let from = (self.started_ns - START_LEEWAY_NS).div_euclid(1_000_000_000) as i64;
        let to = self.finished_ns.div_euclid(1_000_000_000) as i64;
        (from.max(newest_source_time.saturating_add(1)), to)
    }
}

/// How long before the engine's `StartedAt` the build may already write:
/// the engine records the start once the runtime says the process runs,
/// and a fast build has written files by then (seen on Podman under load:
/// a tar's times one second before the recorded start).
pub const START_LEEWAY: std::time::Duration = std::time::Duration::from_secs(1);
const START_LEEWAY_NS: i128 = START_LEEWAY.as_nanos() as i128;

/// A timestamp as an archive format stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Seconds since 1970, UTC (tar, ar, gzip, a zip's extended timestamp).
    Utc(i64),
    /// A zip entry's MS-DOS date and time: local time of the writer, in
    /// 2-second steps, as seconds since 1970 read as if it were UTC.
    DosLocal(i64),
}

/// Whether `stamp` falls in the seconds `(from, to)` of a run whose
/// local time is `utc_offset` seconds ahead of UTC (`None`: not known, and
/// a local time is then not judged).
pub fn inside(stamp: Stamp, (from, to): (i64, i64), utc_offset: Option<i32>) -> bool {
    if from > to {
        return false;
    }
    match stamp {
        Stamp::Utc(seconds) => (from..=to).contains(&seconds),
        Stamp::DosLocal(local) => {
            let Some(offset) = utc_offset else { return false };
            // Writers round a time to an even second down (Python's zipfile)
            // or up (some Info-ZIP builds): the true second is within one.
            let utc = local - i64::from(offset);
            utc + 1 >= from && utc - 1 <= to
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as nanoseconds since 1970.
pub fn rfc3339_ns(text: &str) -> Option<i128> {
    let text = text.trim();
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let (year, month, day) = (
        date_parts.next()?.parse::<i64>().ok()?,
        date_parts.next()?.parse::<i64>().ok()?,
        date_parts.next()?.parse::<i64>().ok()?,
    );
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (time, zone) = rest.split_at(zone_at);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut hms_parts = hms.split(':');
    let (hour, minute, second) = (
        hms_parts.next()?.parse::<i64>().ok()?,
        hms_parts.next()?.parse::<i64>().ok()?,
        hms_parts.next()?.parse::<i64>().ok()?,
    );
    if date_parts.next().is_some() || hms_parts.next().is_some() {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = format!("{fraction:0<9}").parse::<i128>().ok()?;
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `±HHMM` (as `date +%z` prints it) as seconds ahead of UTC.
pub fn utc_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?);
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_times_are_read_with_fractions_and_offsets() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ns("2026-12-07T06:55:12.123456789Z"), Some(1_796_626_512_123_456_789));
        // Podman may write the local offset.
        assert_eq!(rfc3339_ns("2026-12-07T07:55:12.5+01:00"), Some(1_796_626_512_500_000_000));
        for bad in ["", "2026-12-07", "2026-13-07T00:00:00Z", "2026-12-07T06:55:12", "0001-01-01T00:00:00Z x"]
        {
            assert_eq!(rfc3339_ns(bad), None, "{bad}");
        }
        // Docker's zero time for a container that never ran.
        assert_eq!(RunWindow::from_rfc3339("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), None);
        // A finish not recorded yet: the start plus the measured length.
        let second = std::time::Duration::from_secs(1);
        let window =
            RunWindow::from_engine("1970-01-01T00:00:10Z", Some("0001-01-01T00:00:00Z"), second).unwrap();
        assert_eq!((window.started_ns, window.finished_ns), (10_000_000_000, 11_000_000_000));
        let window =
            RunWindow::from_engine("1970-01-01T00:00:10Z", Some("1970-01-01T00:00:12Z"), second).unwrap();
        assert_eq!(window.finished_ns, 12_000_000_000, "the engine's own finish when it has one");
        assert_eq!(utc_offset("+1400"), Some(50_400));
        assert_eq!(utc_offset("-1200"), Some(-43_200));
        assert_eq!(utc_offset("+0530"), Some(19_800));
        assert_eq!(utc_offset("UTC"), None);
    }

    #[test]
    fn a_stamp_is_the_clock_only_inside_the_run_and_after_the_source() {
        let window = RunWindow::from_rfc3339("2026-12-07T06:55:12.900Z", "2026-12-07T06:55:14.100Z").unwrap();
        let start = 1_796_626_512;
        let seconds = window.seconds(0);
        assert_eq!(seconds, (start - 1, start + 2), "from a second before the recorded start");
        assert!(inside(Stamp::Utc(start), seconds, None), "the start's own second");
        assert!(inside(Stamp::Utc(start - 1), seconds, None), "written before the engine recorded the start");
        assert!(inside(Stamp::Utc(start + 2), seconds, None));
        assert!(!inside(Stamp::Utc(start - 2), seconds, None));
        assert!(!inside(Stamp::Utc(start + 3), seconds, None));
        // A source file written in the start's second is the source's time.
        assert!(!inside(Stamp::Utc(start), window.seconds(start), None));
        assert!(inside(Stamp::Utc(start + 1), window.seconds(start), None));
        // A zip's local time: judged in the run's zone, within its 2-second step.
        let kiritimati = 14 * 3600;
        assert!(inside(Stamp::DosLocal(start + 1 + i64::from(kiritimati)), seconds, Some(kiritimati)));
        assert!(inside(Stamp::DosLocal(start - 1 + i64::from(kiritimati)), seconds, Some(kiritimati)));
        assert!(!inside(Stamp::DosLocal(start + 1), seconds, Some(kiritimati)), "read in the wrong zone");
        assert!(!inside(Stamp::DosLocal(start + 1), seconds, None), "no zone: not judged");
    }
}
