//! PEP 440 versions and specifiers, as much as pinning a build needs:
//! ordering release, pre-, post- and dev-releases (local labels compare
//! after the public part), and `==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`,
//! `===` and `==X.*` / `!=X.*`.

use crate::errors::*;
use std::cmp::Ordering;

/// A parsed version: its parts in the order PEP 440 compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The text as given.
    pub text: String,
    epoch: u64,
    release: Vec<u64>,
    /// `a`, `b` or `rc` with its number.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: String,
}

impl Version {
    /// Parses a (normalised or not) PEP 440 version: `1.2`, `v2.0rc1`,
    /// `1!3.0.post2.dev1+local`.
    pub fn parse(text: &str) -> Result<Version> {
        let bad = || anyhow!("`{text}` is not a PEP 440 version (expected e.g. 1.2.3, 2.0rc1, 1.0.post1)");
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix('v').unwrap_or(&lower);
        let (public, local) = lower.split_once('+').unwrap_or((lower, ""));
        let (epoch, rest) = match public.split_once('!') {
            Some((e, rest)) => (e.parse().map_err(|_| bad())?, rest),
            None => (0, public),
        };
        let digits_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let release_text = rest[..digits_end].trim_end_matches('.');
        let mut tail = &rest[release_text.len()..];
        let release = release_text.split('.').map(|n| n.parse::<u64>()).collect::<Result<Vec<_>, _>>();
        let release = release.map_err(|_| bad())?;
        let mut version = Version {
            text: text.trim().to_string(),
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local: local.into(),
        };
        while !tail.is_empty() {
            let t = tail.trim_start_matches(['.', '-', '_']);
            let word_end = t.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(t.len());
            let (word, after) = t.split_at(word_end);
            let after = after.trim_start_matches(['.', '-', '_']);
            let number_end = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            let number: u64 = after[..number_end].parse().unwrap_or(0);
            match word {
                "a" | "alpha" => version.pre = Some((0, number)),
                "b" | "beta" => version.pre = Some((1, number)),
                "rc" | "c" | "pre" | "preview" => version.pre = Some((2, number)),
                "post" | "rev" | "r" => version.post = Some(number),
                "dev" => version.dev = Some(number),
                "" if t.len() < tail.len() && number_end > 0 => version.post = Some(number),
                _ => return Err(bad()),
            }
            tail = &after[number_end..];
        }
        Ok(version)
    }

    /// Whether it is a pre- or dev-release (skipped when choosing a release).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// The comparison key: release padded with zeros, then dev < pre < final < post.
    fn key(&self) -> Key {
        let mut release = self.release.clone();
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        // A bare dev release sorts before the pre-releases of its release.
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0, 0),
            (Some((kind, n)), _, _) => (kind + 1, n),
            _ => (9, 0),
        };
        let post = self.post.map_or(0, |n| n + 1);
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (self.epoch, release, pre, post, dev, self.local.clone())
    }
}

/// How versions compare: epoch, release, pre, post, dev, local.
type Key = (u64, Vec<u64>, (u8, u64), u64, (u8, u64), String);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A comma-separated list of version clauses (`>=3.2,<4`); empty matches all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Specifier {
    clauses: Vec<(String, String)>,
}

impl Specifier {
    /// Parses `>=3.2,<4` (spaces allowed; empty for no constraint).
    pub fn parse(text: &str) -> Result<Specifier> {
        let mut clauses = Vec::new();
        for clause in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let op_end = clause.find(|c: char| !"=!<>~".contains(c)).unwrap_or(clause.len());
            let (op, version) = (clause[..op_end].to_string(), clause[op_end..].trim().to_string());
            ensure!(
                ["==", "!=", "<", "<=", ">", ">=", "~=", "==="].contains(&op.as_str()) && !version.is_empty(),
                "`{clause}` is not a version clause (expected an operator such as >=, ==, ~= and a version)"
            );
            if op != "===" {
                Version::parse(version.trim_end_matches(".*")).with_context(|| format!("in `{clause}`"))?;
            }
            clauses.push((op, version));
        }
        Ok(Specifier { clauses })
    }

    /// Whether `version` satisfies every clause.
    pub fn contains(&self, version: &Version) -> bool {
        self.clauses.iter().all(|(op, wanted)| clause_holds(op, wanted, version))
    }

    /// Whether there is no clause.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

impl std::fmt::Display for Specifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clauses: Vec<String> = self.clauses.iter().map(|(op, v)| format!("{op}{v}")).collect();
        write!(f, "{}", clauses.join(","))
    }
}

fn clause_holds(op: &str, wanted: &str, version: &Version) -> bool {
    if op == "===" {
        return wanted == version.text;
    }
    if let Some(prefix) = wanted.strip_suffix(".*") {
        let Ok(prefix) = Version::parse(prefix) else { return false };
        let n = prefix.release.len();
        let mut release = version.release.clone();
        release.resize(release.len().max(n), 0);
        let matches = version.epoch == prefix.epoch && release[..n] == prefix.release[..];
        return if op == "!=" { !matches } else { matches };
    }
    let Ok(wanted) = Version::parse(wanted) else { return false };
    let public = Version { local: String::new(), ..version.clone() };
    let compared = if wanted.local.is_empty() { &public } else { version };
    match op {
        "==" => compared.cmp(&wanted) == Ordering::Equal,
        "!=" => compared.cmp(&wanted) != Ordering::Equal,
        "<" => public < wanted,
        "<=" => public <= wanted,
        ">" => public > wanted,
        ">=" => public >= wanted,
        "~=" => {
            let mut prefix = wanted.release.clone();
            if prefix.len() > 1 {
                prefix.pop();
            }
            let mut release = public.release.clone();
            release.resize(release.len().max(prefix.len()), 0);
            public >= wanted && release[..prefix.len()] == prefix[..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn versions_order_as_pep_440_says() {
        let ordered = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.0.1", "1.1", "2!0.1"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0").cmp(&v("1.0.0")), Ordering::Equal);
        assert!(Version::parse("one.two").is_err());
        assert!(Version::parse("0.0.0+local").is_ok());
    }

    #[test]
    fn specifiers_from_real_build_requirements() {
        let flit = Specifier::parse(">=3.2,<4").unwrap();
        assert!(flit.contains(&v("3.9.0")) && !flit.contains(&v("4.0")) && !flit.contains(&v("3.1")));
        assert!(Specifier::parse("~=1.4.2").unwrap().contains(&v("1.4.9")));
        assert!(!Specifier::parse("~=1.4.2").unwrap().contains(&v("1.5")));
        assert!(Specifier::parse("==0.41.*").unwrap().contains(&v("0.41.2")));
        assert!(Specifier::parse("").unwrap().contains(&v("75.6.0")));
        assert!(!Specifier::parse("<70.1").unwrap().contains(&v("70.1.0")));
        assert!(Specifier::parse(">=1.0.0a9").unwrap().contains(&v("1.9.1")));
        assert!(Specifier::parse("=>3").is_err());
    }
}
