//! The rules that turn what the archive's indexes say into a source package
//! version and the binary packages it built: pure functions of the records
//! `apt-cache` prints, so each rule is tested on real records.

use super::version;
use crate::debian::control::Paragraph;
use crate::digest::Digest;
use crate::errors::*;
use crate::rebuild::not_inferable;
use std::cmp::Ordering;

/// Which source package a name stands for, and its versions in the suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChoice {
    /// The source package name.
    pub source: String,
    /// The versions to try, newest first: the one asked for, or every
    /// version the suite lists (the newest may be listed before its files
    /// are served).
    pub versions: Vec<String>,
    /// How the name was read: "source package", or "binary package X of source Y".
    pub how: String,
}

/// `(source name, source version)` of a binary record: `Source: x (v)`,
/// `Source: x` (the binary's own version) or none (the binary's name).
pub fn source_of(record: &Paragraph) -> Option<(String, String)> {
    let package = record.get("Package")?;
    let binary_version = record.get("Version")?;
    Some(match record.get("Source").map(str::trim) {
        None | Some("") => (package.to_string(), binary_version.to_string()),
        Some(field) => match field.split_once('(') {
            Some((name, rest)) => (name.trim().to_string(), rest.trim_end_matches(')').trim().to_string()),
            None => (field.to_string(), binary_version.to_string()),
        },
    })
}

/// A binary version that is its source version plus `+bN`: a binNMU, which
/// the buildds made with a changelog entry the source does not have.
pub fn is_binnmu(binary_version: &str, source_version: &str) -> bool {
    binary_version
        .strip_prefix(source_version)
        .and_then(|rest| rest.strip_prefix("+b"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads `name` (and `version`, when given) as a source package, from the
/// suite's source records, else as a binary package from its binary records.
pub fn choose_source(
    name: &str,
    version: Option<&str>,
    source_records: &[Paragraph],
    binary_records: &[Paragraph],
    suites: &str,
) -> Result<SourceChoice> {
    let versions_of = |records: &[Paragraph], pick: &dyn Fn(&Paragraph) -> Option<String>| {
        let mut versions: Vec<String> = records.iter().filter_map(pick).collect();
        versions.sort_by(|a, b| version::compare(b, a));
        versions.dedup();
        versions
    };
    let own: Vec<&Paragraph> =
        source_records.iter().filter(|r| r.get("Package").is_some_and(|p| p == name)).collect();
    if !own.is_empty() {
        let listed = versions_of(source_records, &|r| {
            (r.get("Package") == Some(name)).then(|| r.get("Version").map(str::to_string)).flatten()
        });
        let versions = match version {
            Some(v) if listed.iter().any(|l| l == v) => vec![v.to_string()],
            Some(v) => {
                return not_inferable(format!(
                    "the source package {name} has no version {v} in {suites} (it has {})\n\
                     help: name a version the suite has, or another suite with --suite",
                    listed.join(", ")
                ))
            }
            None => listed,
        };
        return Ok(SourceChoice { source: name.to_string(), versions, how: "source package".into() });
    }
    // A binary package: its records name the source (and the source's version).
    let records: Vec<&Paragraph> =
        binary_records.iter().filter(|r| r.get("Package").is_some_and(|p| p == name)).collect();
    if records.is_empty() {
        return not_inferable(format!(
            "{suites} has no source or binary package named {name}\n\
             help: check the name (`apt-cache search`), or name another suite with --suite"
        ));
    }
    let mut matching: Vec<(&str, String, String)> = Vec::new();
    for record in &records {
        let (Some(binary_version), Some((source, source_version))) =
            (record.get("Version"), source_of(record))
        else {
            continue;
        };
        if version.is_none_or(|v| v == binary_version) {
            matching.push((binary_version, source, source_version));
        }
    }
    matching.sort_by(|a, b| version::compare(b.0, a.0));
    let Some((binary_version, source, source_version)) = matching.first().cloned() else {
        let listed: Vec<&str> = records.iter().filter_map(|r| r.get("Version")).collect();
        return not_inferable(format!(
            "the binary package {name} has no version {} in {suites} (it has {})",
            version.unwrap_or("?"),
            listed.join(", ")
        ));
    };
    if is_binnmu(binary_version, &source_version) {
        return not_inferable(format!(
            "{name} {binary_version} is a binNMU of {source} {source_version}: the buildds rebuilt it with a \
             changelog entry the source package does not have, which this rebuild cannot reproduce yet\n\
             help: rebuild the source itself (debian:{source}={source_version}); its arch-all packages are not binNMUs"
        ));
    }
    let how = format!("binary package {name} {binary_version} of source {source}");
    Ok(SourceChoice { source, versions: vec![source_version], how })
}

/// One binary package of the archive, as its Packages record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveBinary {
    /// Package name.
    pub name: String,
    /// Binary version.
    pub version: String,
    /// `all` or the host's architecture.
    pub architecture: String,
    /// The .deb's sha256 in the signed index.
    pub sha256: Digest,
}

impl ArchiveBinary {
    /// The file dpkg-buildpackage writes for it: `NAME_VERSION_ARCH.deb`,
    /// the version without its epoch.
    pub fn built_file_name(&self) -> String {
        let version = self.version.split_once(':').map_or(self.version.as_str(), |(_, rest)| rest);
        format!("{}_{version}_{}.deb", self.name, self.architecture)
    }

    /// What `apt-get download` is asked for: `NAME:ARCH=VERSION`, or
    /// `NAME=VERSION` for `all`.
    pub fn apt_name(&self) -> String {
        match self.architecture.as_str() {
            "all" => format!("{}={}", self.name, self.version),
            arch => format!("{}:{arch}={}", self.name, self.version),
        }
    }
}

/// What the .dsc builds on this machine and what the archive has of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinaryChoice {
    /// In the archive at the source's version, for this architecture or `all`.
    pub found: Vec<ArchiveBinary>,
    /// Built here (by the .dsc's Package-List), but the archive has no such
    /// record (a udeb, a package of another component, or one not built).
    pub absent: Vec<String>,
}

/// One `Package-List` line: `name type section priority [key=value ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBinary {
    /// Package name.
    pub name: String,
    /// `deb` or `udeb`.
    pub kind: String,
    /// The `arch=` list, comma-separated wildcards; `any` when absent.
    pub architectures: Vec<String>,
}

/// The .dsc's `Package-List` (or its `Binary` names, for a .dsc without one).
pub fn listed_binaries(dsc: &Paragraph) -> Result<Vec<ListedBinary>> {
    if let Some(list) = dsc.get("Package-List").filter(|l| !l.trim().is_empty()) {
        let mut listed = Vec::new();
        for line in list.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, kind, _section, _priority, rest @ ..] = words.as_slice() else {
                bail!("the .dsc's Package-List line `{line}` is not `NAME TYPE SECTION PRIORITY [arch=...]`");
            };
            let architectures = rest
                .iter()
                .find_map(|w| w.strip_prefix("arch="))
                .map_or_else(|| vec!["any".to_string()], |a| a.split(',').map(str::to_string).collect());
            listed.push(ListedBinary { name: name.to_string(), kind: kind.to_string(), architectures });
        }
        return Ok(listed);
    }
    let names = dsc.get("Binary").context("the .dsc has neither Package-List nor Binary")?;
    Ok(names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| ListedBinary {
            name: name.to_string(),
            kind: "deb".into(),
            architectures: vec!["any".into()],
        })
        .collect())
}

/// Whether an `arch=` wildcard list includes `host` (or is `all`): `any`,
/// `all`, the name itself, `linux-any`, `any-CPU` and `linux-CPU`.
pub fn builds_here(architectures: &[String], host: &str) -> bool {
    architectures.iter().any(|a| {
        let a = a.as_str();
        a == "any"
            || a == "all"
            || a == host
            || a == "linux-any"
            || a.strip_prefix("any-").is_some_and(|cpu| cpu == host)
            || a.strip_prefix("linux-").is_some_and(|cpu| cpu == host)
    })
}

/// The archive's binaries of `source` `version` that the .dsc builds on
/// `host`. A binary the archive has only as a binNMU is refused.
pub fn choose_binaries(
    listed: &[ListedBinary],
    source: &str,
    version: &str,
    host: &str,
    records: &[Paragraph],
) -> Result<BinaryChoice> {
    let mut choice = BinaryChoice::default();
    for binary in listed.iter().filter(|b| builds_here(&b.architectures, host)) {
        let mut candidates: Vec<ArchiveBinary> = Vec::new();
        for record in records.iter().filter(|r| r.get("Package") == Some(binary.name.as_str())) {
            let (Some(architecture), Some(binary_version), Some(of)) =
                (record.get("Architecture"), record.get("Version"), source_of(record))
            else {
                continue;
            };
            if of != (source.to_string(), version.to_string())
                || (architecture != host && architecture != "all")
            {
                continue;
            }
            if is_binnmu(binary_version, version) {
                return not_inferable(format!(
                    "the archive's {} {binary_version} is a binNMU of {source} {version}: the buildds rebuilt it \
                     with a changelog entry the source package does not have, which this rebuild cannot reproduce yet",
                    binary.name
                ));
            }
            let sha256 = record.get("SHA256").with_context(|| {
                format!("the archive's record of {} {binary_version} has no SHA256", binary.name)
            })?;
            let sha256 = Digest::parse(&format!("sha256:{sha256}")).map_err(|e| {
                anyhow!("the archive's record of {} {binary_version}: SHA256 {e}", binary.name)
            })?;
            candidates.push(ArchiveBinary {
                name: binary.name.clone(),
                version: binary_version.to_string(),
                architecture: architecture.to_string(),
                sha256,
            });
        }
        candidates.sort_by(|a, b| version::compare(&b.version, &a.version).then(Ordering::Equal));
        candidates.dedup_by(|a, b| a.version == b.version && a.architecture == b.architecture);
        match candidates.len() {
            0 => choice.absent.push(binary.name.clone()),
            1 => choice.found.push(candidates.remove(0)),
            _ => bail!(
                "the archive lists {} {} times for {source} {version} ({}): cannot tell which one was built from it",
                binary.name,
                candidates.len(),
                candidates.iter().map(|c| format!("{} {}", c.version, c.architecture)).collect::<Vec<_>>().join(", ")
            ),
        }
    }
    Ok(choice)
}

#[cfg(test)]
mod tests;
