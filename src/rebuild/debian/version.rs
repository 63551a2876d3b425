//! Debian version ordering (Policy 5.6.12, dpkg's `verrevcmp`): which of the
//! versions an archive lists is the newest.

use std::cmp::Ordering;

/// Compares two Debian versions as `dpkg --compare-versions` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a_epoch, a_upstream, a_revision) = split(a);
    let (b_epoch, b_upstream, b_revision) = split(b);
    a_epoch
        .cmp(&b_epoch)
        .then_with(|| compare_part(a_upstream, b_upstream))
        .then_with(|| compare_part(a_revision, b_revision))
}

/// `[epoch:]upstream[-revision]`; a missing or unreadable epoch is 0.
fn split(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (epoch.parse().unwrap_or(0), rest),
        None => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of one non-digit character: `~` before everything (even
/// the end), then the end, then letters, then the rest.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit runs (by [`weight`]) and
/// digit runs (by value).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let x = weight(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let y = weight(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let digits = |s: &[u8], from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let (n, m) = (digits(a, i), digits(b, j));
        // More significant digits is bigger; the same count compares digit by digit.
        let order = n.cmp(&m).then_with(|| a[i..i + n].cmp(&b[j..j + m]));
        if order != Ordering::Equal {
            return order;
        }
        i += n;
        j += m;
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_dpkg_does() {
        // Each pair checked with `dpkg --compare-versions A lt B`.
        for (older, newer) in [
            ("0.58+deb12u6", "0.58+deb12u7"),
            ("2.36-9+deb12u9", "2.36-9+deb12u10"),
            ("1.0~rc1-1", "1.0-1"),
            ("1.0-1", "1.0-1+b1"),
            ("2.10-3", "1:0.1-1"),
            ("1.0a", "1.0+"),
            ("1.0~~", "1.0~"),
            ("9", "10"),
            ("1.2.3-1", "1.2.10-1"),
            ("0.5.12-2", "0.5.12-6"),
        ] {
            assert_eq!(compare(older, newer), Ordering::Less, "{older} < {newer}");
            assert_eq!(compare(newer, older), Ordering::Greater, "{newer} > {older}");
        }
        assert_eq!(compare("1.01-1", "1.1-1"), Ordering::Equal);
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.0-0"), Ordering::Equal);
    }
}
