//! The apt sources a recipe's packages come from: the recipe's own sources
//! file, or the host's archive URIs with the recipe's suite (and its
//! `-updates` and `-security` companions where the host has them). The host
//! names its own release there; the recipe's suite is what is installed.

use crate::errors::*;
use std::path::{Path, PathBuf};

/// Host apt sources: one-line files, then the drop-in directory (`*.list`
/// one-line, `*.sources` deb822), as apt reads them.
const HOST_LIST: &str = "/etc/apt/sources.list";
const HOST_PARTS: &str = "/etc/apt/sources.list.d";

/// Largest sources file read.
const MAX_SOURCES_SIZE: u64 = 1 << 20;

/// Suites the archive publishes no `-updates` or `-security` for.
const WITHOUT_COMPANIONS: &[&str] = &["sid", "unstable", "experimental", "rc-buggy"];

/// The apt sources for one recipe's suite.
#[derive(Debug, Clone)]
pub struct SuiteSources {
    /// Where they come from, for messages.
    pub origin: String,
    /// The sources as apt and mmdebstrap read them.
    pub text: String,
    /// `text` is deb822 (`Types:` paragraphs), else one-line.
    pub deb822: bool,
    /// The recipe's own file, when it names one.
    pub file: Option<PathBuf>,
    /// Every suite read and the URIs it is read from, for messages.
    pub suites: Vec<(String, Vec<String>)>,
}

impl SuiteSources {
    /// The sources for `suite`: `own` (the recipe's file) as it is, else
    /// derived from the host's.
    pub fn for_suite(suite: &str, own: Option<&Path>) -> Result<SuiteSources> {
        if let Some(path) = own {
            ensure!(path.is_file(), "the recipe's sources file {} does not exist", path.display());
            let text = crate::spec::read_capped(path, MAX_SOURCES_SIZE)
                .with_context(|| format!("reading the recipe's sources file {}", path.display()))?;
            let deb822 = is_deb822(&text);
            let entries = if deb822 { parse_deb822(&text) } else { parse_one_line(&text) }
                .with_context(|| format!("reading the recipe's sources file {}", path.display()))?;
            return Ok(SuiteSources {
                origin: format!("the recipe's sources file {}", path.display()),
                deb822,
                file: Some(path.to_path_buf()),
                suites: suites_and_uris(&entries),
                text,
            });
        }
        let (files, entries) = host_entries()?;
        let codename =
            std::fs::read_to_string("/etc/os-release").ok().and_then(|text| os_release_codename(&text));
        let derived = derive(&entries, codename.as_deref(), suite).with_context(|| {
            format!(
                "deriving apt sources for the suite `{suite}` from the host's ({})\n\
                 help: give the recipe a sources file of its own: `sources = \"FILE\"` in recipe.toml",
                files.join(", ")
            )
        })?;
        Ok(SuiteSources {
            origin: format!("the host's archive URIs (in {})", files.join(", ")),
            text: render_deb822(&derived),
            deb822: true,
            file: None,
            suites: suites_and_uris(&derived),
        })
    }

    /// `trixie, trixie-updates, trixie-security`: the suites read, for messages.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.suites.iter().map(|(suite, _)| suite.as_str()).collect();
        names.join(", ")
    }

    /// Fails, naming `suite`, the suites and URIs tried and what to do, when
    /// apt cannot read and verify every suite's Release file; before
    /// mmdebstrap, whose output would bury the reason.
    pub async fn check_reachable(&self, suite: &str) -> Result<()> {
        let apt = crate::image::apt::PrivateApt::new(&self.text, self.deb822)?;
        let Err(complaints) = apt.read_releases().await? else { return Ok(()) };
        let tried: Vec<String> =
            self.suites.iter().map(|(name, uris)| format!("  {name} from {}", uris.join(", "))).collect();
        bail!(
            "the recipe's suite `{suite}` cannot be read from {}\nsuites tried:\n{}\napt-get update said:\n  {}\n\
             help: `suite` must be one the archive has (a Debian codename such as trixie or bookworm, or \
             stable, testing, unstable); for another archive, give the recipe its own sources file: \
             `sources = \"FILE\"` in recipe.toml",
            self.origin,
            tried.join("\n"),
            complaints.join("\n  ")
        )
    }
}

/// One apt source: a deb822 paragraph, or a one-line entry in that shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    types: Vec<String>,
    uris: Vec<String>,
    suites: Vec<String>,
    components: Vec<String>,
    /// Every other field (`Signed-By`, `Architectures`, ...), deb822 names.
    options: Vec<(String, String)>,
}

/// What a suite is to its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Release,
    Updates,
    Security,
    /// Backports, proposed-updates: opt-in on the host, not taken along.
    Other,
}

/// `bookworm-security` → (`bookworm`, Security).
fn role_of(suite: &str) -> (&str, Role) {
    for (suffix, role) in [
        ("-updates", Role::Updates),
        ("-security", Role::Security),
        ("/updates", Role::Security),
        ("-backports-sloppy", Role::Other),
        ("-backports", Role::Other),
        ("-proposed-updates", Role::Other),
    ] {
        if let Some(release) = suite.strip_suffix(suffix) {
            return (release, role);
        }
    }
    (suite, Role::Release)
}

/// The host's entries of type `deb`, and the files they are in.
fn host_entries() -> Result<(Vec<String>, Vec<Entry>)> {
    let mut files: Vec<PathBuf> = Vec::new();
    if Path::new(HOST_LIST).is_file() {
        files.push(PathBuf::from(HOST_LIST));
    }
    if let Ok(dir) = std::fs::read_dir(HOST_PARTS) {
        let mut parts: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "list" || e == "sources"))
            .collect();
        parts.sort();
        files.extend(parts);
    }
    let mut entries = Vec::new();
    for file in &files {
        let text = crate::spec::read_capped(file, MAX_SOURCES_SIZE)
            .with_context(|| format!("reading the host's apt sources {}", file.display()))?;
        let parsed = match file.extension().is_some_and(|e| e == "sources") {
            true => parse_deb822(&text),
            false => parse_one_line(&text),
        };
        entries.extend(parsed.with_context(|| format!("reading the host's apt sources {}", file.display()))?);
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    ensure!(
        !entries.is_empty(),
        "the host has no apt sources (looked in {HOST_LIST} and {HOST_PARTS}/*.list, *.sources)\n\
         help: give the recipe a sources file of its own: `sources = \"FILE\"` in recipe.toml"
    );
    Ok((names, entries))
}

/// `VERSION_CODENAME` of an os-release file.
fn os_release_codename(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// Whether a sources file's text is deb822 (as apt and mmdebstrap guess).
fn is_deb822(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| !l.starts_with("deb ") && !l.starts_with("deb-src ") && l.contains(':'))
}

/// deb822 paragraphs; those with `Enabled: no` are left out.
pub(crate) fn parse_deb822(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for paragraph in crate::debian::control::paragraphs(text)? {
        let words = |name: &str| -> Vec<String> {
            paragraph.get(name).unwrap_or("").split_whitespace().map(str::to_string).collect()
        };
        if paragraph.get("Enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
            continue;
        }
        let entry = Entry {
            types: words("Types"),
            uris: words("URIs"),
            suites: words("Suites"),
            components: words("Components"),
            options: paragraph
                .fields()
                .iter()
                .filter(|(name, _)| {
                    !["types", "uris", "suites", "components", "enabled"]
                        .contains(&name.to_ascii_lowercase().as_str())
                })
                .cloned()
                .collect(),
        };
        ensure!(
            !entry.types.is_empty() && !entry.uris.is_empty() && !entry.suites.is_empty(),
            "a paragraph lacks Types, URIs or Suites"
        );
        entries.push(entry);
    }
    Ok(entries)
}

/// One-line entries (`deb [opt=value ...] URI SUITE COMPONENT...`), options
/// under their deb822 names.
pub(crate) fn parse_one_line(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (kind, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let mut rest = rest.trim_start();
        let mut options = Vec::new();
        if let Some(bracketed) = rest.strip_prefix('[') {
            let (inside, after) = bracketed
                .split_once(']')
                .with_context(|| format!("line {}: an option list `[` is not closed", number + 1))?;
            for option in inside.split_whitespace() {
                let (key, value) = option
                    .split_once('=')
                    .with_context(|| format!("line {}: option `{option}` is not key=value", number + 1))?;
                options.push(deb822_option(key, value));
            }
            rest = after.trim_start();
        }
        let mut words = rest.split_whitespace().map(str::to_string);
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            bail!("line {}: `{line}` is not `deb URI SUITE COMPONENT...`", number + 1);
        };
        entries.push(Entry {
            types: vec![kind.to_string()],
            uris: vec![uri],
            suites: vec![suite],
            components: words.collect(),
            options,
        });
    }
    Ok(entries)
}

/// A one-line option under its deb822 name (apt's table), lists space-separated.
fn deb822_option(key: &str, value: &str) -> (String, String) {
    let (key, suffix) = match (key.strip_suffix('+'), key.strip_suffix('-')) {
        (Some(k), _) => (k, "-Add"),
        (_, Some(k)) => (k, "-Remove"),
        _ => (key, ""),
    };
    let (name, list) = match key {
        "arch" => ("Architectures", true),
        "lang" => ("Languages", true),
        "target" => ("Targets", true),
        "signed-by" => ("Signed-By", false),
        "trusted" => ("Trusted", false),
        "pdiffs" => ("PDiffs", false),
        "by-hash" => ("By-Hash", false),
        other => (other, false),
    };
    let value = if list { value.replace(',', " ") } else { value.to_string() };
    (format!("{name}{suffix}"), value)
}

/// The host's archive entries with `suite` in place of the host's release:
/// its release suite becomes `suite`, its `-updates` and `-security`
/// become `suite`'s (none for suites that have none); other archives and
/// opt-in suites (backports) are left out. `codename` (the host's
/// os-release) says which release the host's own is, when several appear.
pub(crate) fn derive(entries: &[Entry], codename: Option<&str>, suite: &str) -> Result<Vec<Entry>> {
    let debs: Vec<&Entry> = entries.iter().filter(|e| e.types.iter().any(|t| t == "deb")).collect();
    let releases = |keep: &dyn Fn(Role) -> bool| {
        let mut names: Vec<&str> = debs
            .iter()
            .flat_map(|e| e.suites.iter().map(|s| role_of(s)))
            .filter(|(_, role)| keep(*role))
            .map(|(release, _)| release)
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let all = releases(&|_| true);
    let with_companions = releases(&|role| role == Role::Updates || role == Role::Security);
    let host = match codename {
        Some(name) if all.contains(&name) => name,
        _ if with_companions.len() == 1 => with_companions[0],
        _ if all.len() == 1 => all[0],
        _ => bail!("cannot tell which of the host's suites ({}) is its Debian release", all.join(", ")),
    };
    let companions = !WITHOUT_COMPANIONS.contains(&suite);
    let mut derived = Vec::new();
    for entry in debs {
        let mut suites: Vec<String> = Vec::new();
        for name in &entry.suites {
            let new = match role_of(name) {
                (release, _) if release != host => None,
                (_, Role::Release) => Some(suite.to_string()),
                (_, Role::Updates) if companions => Some(format!("{suite}-updates")),
                (_, Role::Security) if companions => Some(format!("{suite}-security")),
                _ => None,
            };
            if let Some(new) = new.filter(|n| !suites.contains(n)) {
                suites.push(new);
            }
        }
        if !suites.is_empty() {
            derived.push(Entry { types: vec!["deb".into()], suites, ..entry.clone() });
        }
    }
    ensure!(
        derived.iter().any(|e| e.suites.iter().any(|s| s == suite)),
        "none of the host's apt sources reads its release `{host}`, to read `{suite}` from there instead"
    );
    Ok(derived)
}

/// Entries as a deb822 sources file.
pub(crate) fn render_deb822(entries: &[Entry]) -> String {
    let mut text = String::new();
    for entry in entries {
        if !text.is_empty() {
            text.push('\n');
        }
        let mut field = |name: &str, value: &str| {
            // A value of several lines (a key block) starts on the next line.
            match value.contains('\n') {
                true => text.push_str(&format!("{name}:\n")),
                false => text.push_str(&format!("{name}: {value}\n")),
            }
            for line in value.split('\n').filter(|_| value.contains('\n')) {
                // A continuation line holds something; `.` stands for an empty one.
                text.push_str(&format!(" {}\n", if line.is_empty() { "." } else { line }));
            }
        };
        field("Types", &entry.types.join(" "));
        field("URIs", &entry.uris.join(" "));
        field("Suites", &entry.suites.join(" "));
        if !entry.components.is_empty() {
            field("Components", &entry.components.join(" "));
        }
        for (name, value) in &entry.options {
            field(name, value);
        }
    }
    text
}

/// Each suite of `entries` with the URIs it is read from.
fn suites_and_uris(entries: &[Entry]) -> Vec<(String, Vec<String>)> {
    let mut suites: Vec<(String, Vec<String>)> = Vec::new();
    for entry in entries.iter().filter(|e| e.types.iter().any(|t| t == "deb")) {
        for suite in &entry.suites {
            let at = match suites.iter().position(|(name, _)| name == suite) {
                Some(at) => at,
                None => {
                    suites.push((suite.clone(), Vec::new()));
                    suites.len() - 1
                }
            };
            for uri in &entry.uris {
                if !suites[at].1.contains(uri) {
                    suites[at].1.push(uri.clone());
                }
            }
        }
    }
    suites
}

#[cfg(test)]
mod tests;
