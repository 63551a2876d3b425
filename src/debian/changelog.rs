//! `debian/changelog`: the date of its latest entry, which dpkg uses as
//! `SOURCE_DATE_EPOCH`.

use crate::errors::*;

/// Seconds since 1970 of the first entry's trailer line
/// (` -- Name <mail>  Wed, 28 Dec 2022 15:33:48 +0100`).
pub fn latest_date(text: &str) -> Result<i64> {
    let (number, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.starts_with(" -- "))
        .context("no ` -- Maintainer <address>  DATE` trailer line")?;
    let date = line.rsplit_once(">  ").map(|(_, date)| date.trim()).with_context(|| {
        format!("line {}: the trailer has no `>  DATE` (two spaces after the address)", number + 1)
    })?;
    rfc2822(date).with_context(|| format!("line {}: `{date}` is not an RFC 2822 date", number + 1))
}

/// `[Day, ]DD Mon YYYY HH:MM:SS ±HHMM` to seconds since 1970.
pub fn rfc2822(date: &str) -> Result<i64> {
    let date = date.split_once(", ").map_or(date, |(_, rest)| rest);
    let parts: Vec<&str> = date.split_whitespace().collect();
    let [day, month, year, time, zone] = parts.as_slice() else {
        bail!("expected `Day, DD Mon YYYY HH:MM:SS +ZZZZ`");
    };
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| m == month).context("unknown month")? as i64 + 1;
    // Digits only: no sign, no non-ASCII character to cut a slice inside.
    let number = |s: &str| -> Result<i64> {
        ensure!(
            !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()),
            "`{s}` is not a number"
        );
        Ok(s.parse::<i64>()?)
    };
    let (day, year) = (number(day)?, number(year)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days =
        [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
    ensure!((1..=month_days).contains(&day) && (1970..=9999).contains(&year), "day or year out of range");
    let clock: Vec<i64> = time.split(':').map(number).collect::<Result<_>>()?;
    let [hour, minute, second] = clock.as_slice() else { bail!("time is not HH:MM:SS") };
    ensure!(*hour < 24 && *minute < 60 && *second <= 60, "time out of range");
    let (sign, offset) = match zone.split_at_checked(1) {
        Some(("+", digits)) if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) => (1, digits),
        Some(("-", digits)) if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            (-1, digits)
        }
        _ => bail!("zone `{zone}` is not ±HHMM"),
    };
    let offset = sign * (number(&offset[..2])? * 3600 + number(&offset[2..])? * 60);
    Ok(days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_entrys_date_in_utc() {
        let text = "hello (2.10-3) unstable; urgency=medium\n\n  * Fix.\n\n -- Santiago Vila <sanvila@debian.org>  Mon, 26 Dec 2022 16:30:00 +0100\n\nhello (2.10-2) unstable; urgency=low\n\n -- X <x@y>  Sun, 01 Jan 2017 00:00:00 +0000\n";
        // date -d 'Mon, 26 Dec 2022 16:30:00 +0100' +%s
        assert_eq!(latest_date(text).unwrap(), 1_672_068_600);
        assert_eq!(rfc2822("Thu, 01 Jan 1970 00:00:00 +0000").unwrap(), 0);
        assert_eq!(rfc2822("29 Feb 2024 23:59:59 -0130").unwrap(), 1_709_256_599);
    }

    #[test]
    fn a_changelog_without_a_date_says_which_line() {
        assert!(latest_date("hello (1) unstable\n").unwrap_err().to_string().contains("trailer"));
        let err = latest_date("x\n\n -- A <a@b> Mon, 26 Dec 2022\n").unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = format!("{:#}", latest_date(" -- A <a@b>  Mon, 26 Dez 2022 16:30:00 +0100\n").unwrap_err());
        assert!(err.contains("unknown month"), "{err}");
        // Odd input is an error, never a panic or a wrapped-around date.
        for date in
            ["26 Dec 2022 16:30:00 +1\u{e9}1", "26 Dec 2022 -1:30:00 +0100", "31 Feb 2023 00:00:00 +0000"]
        {
            assert!(rfc2822(date).is_err(), "{date}");
        }
        assert!(
            rfc2822("29 Feb 2023 00:00:00 +0000").is_err() && rfc2822("29 Feb 2024 00:00:00 +0000").is_ok()
        );
    }
}
