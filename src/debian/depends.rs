//! Relationship fields (`Build-Depends: a (>= 1) | b [amd64], c <!nocheck>`)
//! to the package names an image must install.
//!
//! Like sbuild's default resolver, each group takes its first alternative
//! that applies to the architecture and build profiles. Version constraints
//! are left to apt's candidate and to `dpkg-buildpackage`, which checks them
//! again in the container (`dpkg-checkbuilddeps`) and fails the build when
//! one is not met.

use crate::errors::*;

/// The packages `field` asks for on `arch` with the build `profiles` active.
pub fn packages(field: &str, arch: &str, profiles: &[&str]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for group in field.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let mut chosen = None;
        for alternative in group.split('|') {
            let relation = Relation::parse(alternative.trim())
                .with_context(|| format!("in `{}`", group.chars().take(120).collect::<String>()))?;
            if relation.applies(arch, profiles) {
                chosen = Some(relation.name);
                break;
            }
        }
        if let Some(name) = chosen {
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
    }
    Ok(names)
}

/// One alternative: `name[:qualifier] [(op version)] [[archs]] [<profiles>...]`.
struct Relation {
    name: String,
    archs: Vec<String>,
    /// Each `<...>` is a conjunction; the relation applies when any holds.
    profile_formulas: Vec<Vec<String>>,
}

impl Relation {
    fn parse(text: &str) -> Result<Relation> {
        let end = text.find(|c: char| c.is_whitespace() || "([<".contains(c)).unwrap_or(text.len());
        let (name, mut rest) = text.split_at(end);
        let name = name.split_once(':').map_or(name, |(n, _)| n);
        ensure!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)),
            "`{name}` is not a package name"
        );
        let mut archs = Vec::new();
        let mut profile_formulas = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(open) = rest.chars().next() else { break };
            let close = match open {
                '(' => ')',
                '[' => ']',
                '<' => '>',
                other => bail!("unexpected `{other}` after `{name}`"),
            };
            let end =
                rest.find(close).with_context(|| format!("`{open}` without `{close}` after `{name}`"))?;
            let inside = rest[1..end].split_whitespace().map(str::to_string);
            match open {
                '[' => archs.extend(inside),
                '<' => profile_formulas.push(inside.collect()),
                _ => {}
            }
            rest = &rest[end + 1..];
        }
        Ok(Relation { name: name.to_string(), archs, profile_formulas })
    }

    fn applies(&self, arch: &str, profiles: &[&str]) -> bool {
        let arch_ok = match self.archs.first() {
            None => true,
            // All negated ([!a !b]) or all positive ([a b]), as Policy says.
            Some(first) if first.starts_with('!') => {
                self.archs.iter().all(|a| !arch_matches(a.trim_start_matches('!'), arch))
            }
            Some(_) => self.archs.iter().any(|a| arch_matches(a, arch)),
        };
        let profiles_ok = self.profile_formulas.is_empty()
            || self.profile_formulas.iter().any(|formula| {
                formula.iter().all(|term| match term.strip_prefix('!') {
                    Some(profile) => !profiles.contains(&profile),
                    None => profiles.contains(&term.as_str()),
                })
            });
        arch_ok && profiles_ok
    }
}

/// Whether the architecture name or wildcard `pattern` covers `arch` (a
/// Linux architecture such as `amd64`).
fn arch_matches(pattern: &str, arch: &str) -> bool {
    pattern == arch
        || pattern == "any"
        || pattern == "linux-any"
        || pattern == format!("any-{arch}")
        || pattern == format!("linux-{arch}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_applicable_alternative_of_each_group() {
        let field = "debhelper-compat (= 13), help2man, texinfo,\n libfoo-dev [!hurd-any] | libbar-dev, \
                     gcc-multilib [i386] | gcc:native, python3 <!nodoc>, tests-only <!nocheck> <pkg.x>, \
                     libsystemd-dev [linux-any], help2man";
        assert_eq!(
            packages(field, "amd64", &[]).unwrap(),
            [
                "debhelper-compat",
                "help2man",
                "texinfo",
                "libfoo-dev",
                "gcc",
                "python3",
                "tests-only",
                "libsystemd-dev"
            ]
        );
        assert_eq!(
            packages(field, "amd64", &["nocheck", "nodoc"]).unwrap(),
            ["debhelper-compat", "help2man", "texinfo", "libfoo-dev", "gcc", "libsystemd-dev"]
        );
        assert_eq!(packages("a [!amd64] | b [amd64 i386], c [i386]", "amd64", &[]).unwrap(), ["b"]);
    }

    #[test]
    fn a_malformed_relation_is_an_error_naming_it() {
        let err = format!("{:#}", packages("ok, bad (>= 1", "amd64", &[]).unwrap_err());
        assert!(err.contains("bad (>= 1") && err.contains("without `)`"), "{err}");
        assert!(packages("Foo; rm", "amd64", &[]).is_err());
    }
}
