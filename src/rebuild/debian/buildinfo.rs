//! A Debian `.buildinfo` (deb822, usually clearsigned): what a build was
//! made from and in: the source and version, the architectures, the build
//! path, the environment, the exact installed build dependencies and the
//! sha256 of every file it produced.

use crate::debian::control;
use crate::digest::Digest;
use crate::errors::*;

/// Largest `.buildinfo` read.
pub const MAX_BUILDINFO_SIZE: u64 = 4 << 20;

/// A parsed `.buildinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buildinfo {
    /// The source package name.
    pub source: String,
    /// The source version: from `Source: NAME (VERSION)` when the binary
    /// version differs (a binNMU), else `Version`.
    pub source_version: String,
    /// `Version`: the version of the binaries built.
    pub version: String,
    /// `Architecture`: what was built (`all`, `amd64`, ...).
    pub architectures: Vec<String>,
    /// `Build-Architecture`: the machine it was built on.
    pub build_architecture: String,
    /// `Build-Path`, when recorded.
    pub build_path: Option<String>,
    /// `Build-Date`, as written.
    pub build_date: Option<String>,
    /// `Environment`: `KEY="value"` lines, unquoted, in order.
    pub environment: Vec<(String, String)>,
    /// `Installed-Build-Depends`: every package installed, exactly.
    pub installed: Vec<InstalledPackage>,
    /// `Checksums-Sha256`: the files the build produced.
    pub files: Vec<BuiltFile>,
    /// Whether it has `Binary-Only-Changes` (a binNMU's changelog entry).
    pub binary_only: bool,
}

/// One `pkg[:arch] (= version)` of `Installed-Build-Depends`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// Package name.
    pub name: String,
    /// The architecture qualifier, for a package of a foreign architecture.
    pub architecture: Option<String>,
    /// The exact version.
    pub version: String,
}

impl std::fmt::Display for InstalledPackage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.architecture {
            Some(arch) => write!(f, "{}:{arch}={}", self.name, self.version),
            None => write!(f, "{}={}", self.name, self.version),
        }
    }
}

/// One file of `Checksums-Sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltFile {
    /// A plain file name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Its sha256.
    pub sha256: Digest,
}

impl Buildinfo {
    /// Parses a `.buildinfo` (clearsigned or not). The signature is not
    /// checked: the file is the user's statement of what to reproduce.
    pub fn parse(text: &str) -> Result<Buildinfo> {
        let fields = control::single_paragraph(text, "a .buildinfo")?;
        let required = |name: &str| -> Result<&str> {
            fields.get(name).with_context(|| format!("the .buildinfo has no `{name}:` field"))
        };
        let format = required("Format")?;
        ensure!(format.starts_with("1."), "`Format: {format}` is not a .buildinfo format this reads (1.x)");
        let version = required("Version")?.to_string();
        ensure!(is_version(&version), "`Version: {version}` is not a Debian version");
        let (source, source_version) = match required("Source")?.split_once('(') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix(')').with_context(|| {
                    format!("`Source: {}` has no closing `)`", required("Source").unwrap_or(""))
                })?;
                (name.trim().to_string(), inner.trim().to_string())
            }
            None => (required("Source")?.trim().to_string(), version.clone()),
        };
        ensure!(is_name(&source), "`Source: {source}` is not a source package name");
        ensure!(is_version(&source_version), "`Source: {source} ({source_version})`: not a Debian version");
        let words = |name: &str| -> Vec<String> {
            fields.get(name).unwrap_or("").split_whitespace().map(str::to_string).collect()
        };
        let build_architecture = required("Build-Architecture")?.trim().to_string();
        ensure!(
            is_name(&build_architecture),
            "`Build-Architecture: {build_architecture}` is not an architecture"
        );
        let build_path = fields.get("Build-Path").map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        if let Some(path) = &build_path {
            ensure!(
                path.starts_with('/') && !path.split('/').any(|c| c == ".." || c == "."),
                "`Build-Path: {path}` is not an absolute path without `.` or `..`"
            );
        }
        let environment = match fields.get("Environment") {
            Some(text) => parse_environment(text)?,
            None => Vec::new(),
        };
        let installed = parse_installed(required("Installed-Build-Depends")?)?;
        ensure!(!installed.is_empty(), "the .buildinfo's Installed-Build-Depends lists no package");
        Ok(Buildinfo {
            source,
            source_version,
            version,
            architectures: words("Architecture"),
            build_architecture,
            build_path,
            build_date: fields.get("Build-Date").map(str::to_string),
            environment,
            installed,
            files: parse_files(required("Checksums-Sha256")?)?,
            binary_only: fields.get("Binary-Only-Changes").is_some(),
        })
    }

    /// `SOURCE_DATE_EPOCH` of its environment, when it has one.
    pub fn source_date_epoch(&self) -> Result<Option<u64>> {
        let Some((_, value)) = self.environment.iter().find(|(k, _)| k == "SOURCE_DATE_EPOCH") else {
            return Ok(None);
        };
        value
            .parse()
            .map(Some)
            .map_err(|_| anyhow!("the .buildinfo's SOURCE_DATE_EPOCH=\"{value}\" is not a number"))
    }
}

/// `Environment:` lines, `KEY="value"` with `\"` and `\\` escaped.
fn parse_environment(text: &str) -> Result<Vec<(String, String)>> {
    let mut environment = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, quoted) = line
            .split_once('=')
            .with_context(|| format!("Environment line `{line}` is not KEY=\"value\""))?;
        ensure!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "Environment line `{line}`: `{key}` is not a variable name"
        );
        let inner = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .with_context(|| format!("Environment line `{line}`: the value is not in double quotes"))?;
        let mut value = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value
                    .push(chars.next().with_context(|| format!("Environment line `{line}` ends in `\\`"))?),
                c => value.push(c),
            }
        }
        environment.push((key.to_string(), value));
    }
    Ok(environment)
}

/// `Installed-Build-Depends`: `name[:arch] (= version)`, comma-separated
/// over any number of lines.
fn parse_installed(text: &str) -> Result<Vec<InstalledPackage>> {
    let mut installed = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || anyhow!("Installed-Build-Depends entry `{item}` is not `name (= version)`");
        let (name, rest) = item.split_once('(').ok_or_else(bad)?;
        let version =
            rest.trim().strip_prefix('=').and_then(|v| v.trim().strip_suffix(')')).ok_or_else(bad)?.trim();
        let (name, architecture) = match name.trim().split_once(':') {
            Some((name, arch)) => (name, Some(arch.to_string())),
            None => (name.trim(), None),
        };
        ensure!(is_name(name), "Installed-Build-Depends entry `{item}`: `{name}` is not a package name");
        ensure!(
            is_version(version),
            "Installed-Build-Depends entry `{item}`: `{version}` is not a Debian version"
        );
        if let Some(arch) = &architecture {
            ensure!(is_name(arch), "Installed-Build-Depends entry `{item}`: `{arch}` is not an architecture");
        }
        installed.push(InstalledPackage {
            name: name.to_string(),
            architecture,
            version: version.to_string(),
        });
    }
    Ok(installed)
}

/// `Checksums-Sha256`: `SHA256 SIZE NAME` lines.
fn parse_files(text: &str) -> Result<Vec<BuiltFile>> {
    let mut files = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [hex, size, name] = parts.as_slice() else {
            bail!("Checksums-Sha256 line `{line}` is not `SHA256 SIZE NAME`");
        };
        let sha256 = Digest::parse(&format!("sha256:{hex}"))
            .map_err(|e| anyhow!("Checksums-Sha256 line `{line}`: {e}"))?;
        let size =
            size.parse().map_err(|_| anyhow!("Checksums-Sha256 line `{line}`: `{size}` is not a size"))?;
        ensure!(
            !name.starts_with('.') && !name.contains('/') && !name.contains('\\'),
            "the .buildinfo lists `{name}`, which is not a plain file name"
        );
        files.push(BuiltFile { name: name.to_string(), size, sha256 });
    }
    Ok(files)
}

/// A package or architecture name (Policy 5.6.1, lowercase letters,
/// digits and `+-.`).
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// A Debian version's characters (Policy 5.6.12).
fn is_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 256
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.chars().all(|c| c.is_ascii_alphanumeric() || ".+~-:".contains(c))
}

#[cfg(test)]
mod tests;
