//! What `rebuild` is pointed at: `pypi:NAME==VERSION`, `debian:PACKAGE`
//! or `debian:PACKAGE=VERSION`.

use crate::errors::*;

/// One package to rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release on the Python package index.
    Pypi {
        /// The project name as given.
        name: String,
        /// The exact version.
        version: String,
    },
    /// A Debian source or binary package.
    Debian {
        /// A source or binary package name.
        package: String,
        /// The exact version; the suite's current one when absent.
        version: Option<String>,
    },
}

impl Target {
    /// Parses a target as the command line gives it.
    pub fn parse(text: &str) -> Result<Target> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("pypi:") {
            let Some((name, version)) = rest.split_once("==") else {
                bail!("`{text}`: expected pypi:NAME==VERSION (an exact version)\nhelp: e.g. pypi:idna==3.10");
            };
            let (name, version) = (name.trim(), version.trim());
            ensure!(
                is_python_name(name),
                "`{text}`: `{name}` is not a Python project name (letters, digits, `-`, `_`, `.`)"
            );
            ensure!(
                !version.is_empty()
                    && version.chars().all(|c| c.is_ascii_alphanumeric() || "._+!-".contains(c)),
                "`{text}`: `{version}` is not an exact version\nhelp: e.g. pypi:idna==3.10"
            );
            return Ok(Target::Pypi { name: name.to_string(), version: version.to_string() });
        }
        if let Some(rest) = text.strip_prefix("debian:") {
            let (package, version) = match rest.split_once('=') {
                Some((p, v)) => (p.trim(), Some(v.trim())),
                None => (rest.trim(), None),
            };
            ensure!(
                is_debian_name(package),
                "`{text}`: `{package}` is not a Debian package name (lowercase letters, digits, `+-.`)"
            );
            if let Some(v) = version {
                ensure!(
                    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || ".+~:-".contains(c)),
                    "`{text}`: `{v}` is not a Debian version\nhelp: e.g. debian:hello=2.10-3, or no version for the suite's current one"
                );
            }
            return Ok(Target::Debian { package: package.to_string(), version: version.map(str::to_string) });
        }
        bail!("`{text}`: expected pypi:NAME==VERSION or debian:PACKAGE[=VERSION]")
    }

    /// A name for the target's directory and results: `pypi-idna-3.10`.
    pub fn slug(&self) -> String {
        let raw = match self {
            Target::Pypi { name, version } => format!("pypi-{name}-{version}"),
            Target::Debian { package, version: Some(v) } => format!("debian-{package}-{v}"),
            Target::Debian { package, version: None } => format!("debian-{package}"),
        };
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Pypi { name, version } => write!(f, "pypi:{name}=={version}"),
            Target::Debian { package, version: Some(v) } => write!(f, "debian:{package}={v}"),
            Target::Debian { package, version: None } => write!(f, "debian:{package}"),
        }
    }
}

fn is_python_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_debian_name(name: &str) -> bool {
    name.len() >= 2
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_and_without_versions() {
        assert_eq!(
            Target::parse("pypi:idna==3.10").unwrap(),
            Target::Pypi { name: "idna".into(), version: "3.10".into() }
        );
        assert_eq!(
            Target::parse("debian:distro-info-data").unwrap(),
            Target::Debian { package: "distro-info-data".into(), version: None }
        );
        assert_eq!(
            Target::parse("debian:hello=2.10-3").unwrap(),
            Target::Debian { package: "hello".into(), version: Some("2.10-3".into()) }
        );
        assert_eq!(Target::parse("debian:dash=0.5.12-2").unwrap().slug(), "debian-dash-0.5.12-2");
        assert_eq!(Target::parse("debian:foo=1:2.0-1").unwrap().slug(), "debian-foo-1_2.0-1");
    }

    #[test]
    fn bad_targets_say_what_was_expected() {
        for (bad, says) in [
            ("idna==3.10", "expected pypi:NAME==VERSION"),
            ("pypi:idna", "an exact version"),
            ("pypi:idna>=3", "an exact version"),
            ("pypi:../x==1", "not a Python project name"),
            ("debian:Hello", "not a Debian package name"),
            ("debian:hello=", "not a Debian version"),
            ("debian:hello=1;rm", "not a Debian version"),
        ] {
            let err = Target::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
