//! The image builder's private apt (`crate::image::apt`: its own state in
//! a temporary directory), reading a suite's binary *and* source indexes
//! (`deb` and `deb-src` entries derived from the machine's own apt sources
//! at run time): the host's `/etc/apt` and `/var/lib/apt` are neither read
//! for state nor written. apt checks every file it fetches against the
//! suite's signed indexes.

use crate::debian::control::{self, Paragraph};
use crate::errors::*;
use crate::image::apt::{complaints, PrivateApt};
use crate::image::sources::SuiteSources;
use std::path::Path;
use std::process::Stdio;

/// Largest output read from one `apt-cache` call (a package with every
/// version in every suite is a few hundred KiB).
const MAX_APT_OUTPUT: usize = 64 << 20;

/// A private apt for one suite, its sources and source indexes read.
pub struct SuiteApt {
    apt: PrivateApt,
    /// The suites read and where from, for evidence and messages.
    pub described: String,
}

impl SuiteApt {
    /// apt reading `sources` (deb822 with `Types: deb`) as `deb` and
    /// `deb-src`; the indexes are read at once (`apt-get update`).
    pub async fn new(sources: &SuiteSources) -> Result<SuiteApt> {
        ensure!(sources.deb822, "the suite's sources are not in deb822 form (as derived sources are)");
        let text: String = sources
            .text
            .lines()
            .map(|line| match line.trim() {
                "Types: deb" => "Types: deb deb-src\n".to_string(),
                _ => format!("{line}\n"),
            })
            .collect();
        SuiteApt::with_sources_text(&text, sources.describe()).await
    }

    /// apt reading exactly `text` (deb822), its indexes read.
    pub async fn with_sources_text(text: &str, described: String) -> Result<SuiteApt> {
        let apt = SuiteApt { apt: PrivateApt::with_sources_file("suite.sources", text)?, described };
        let out = apt.run("apt-get", &["-o", "APT::Update::Error-Mode=any", "update", "-q"], None).await?;
        ensure!(
            out.status.success(),
            "apt-get update of {} failed ({}):\n  {}\nhelp: the suite must be one the archive has (--suite NAME); \
             the archive must be reachable",
            apt.described,
            out.status,
            complaints(&out, true).join("\n  ")
        );
        Ok(apt)
    }

    /// The private apt's command, without the translations and contents
    /// indexes (a rebuild reads neither), ended when dropped.
    fn command(&self, program: &str) -> tokio::process::Command {
        let mut command = self.apt.command(program);
        for target in ["Translations", "Contents-deb"] {
            command.arg("-o").arg(format!("Acquire::IndexTargets::deb::{target}::DefaultEnabled=false"));
        }
        command.kill_on_drop(true);
        command
    }

    async fn run(&self, program: &str, args: &[&str], cwd: Option<&Path>) -> Result<std::process::Output> {
        let mut command = self.command(program);
        command.args(args);
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let out = command.output().await.map_err(|e| {
            anyhow!("cannot run {program}: {e}\nhelp: `rebuild debian:` needs apt (apt-get, apt-cache) on this machine")
        })?;
        ensure!(out.stdout.len() <= MAX_APT_OUTPUT, "{program} printed more than {MAX_APT_OUTPUT} bytes");
        Ok(out)
    }

    /// The source records (`apt-cache showsrc --only-source`) of `source`:
    /// one paragraph per version per suite; none when the archive has none.
    pub async fn source_records(&self, source: &str) -> Result<Vec<Paragraph>> {
        let out = self.run("apt-cache", &["showsrc", "--only-source", source], None).await?;
        paragraphs_of(&out, "apt-cache showsrc")
    }

    /// The binary records (`apt-cache show`) of `packages`, every version
    /// the indexes list; names the archive lacks give no record.
    pub async fn binary_records(&self, packages: &[&str]) -> Result<Vec<Paragraph>> {
        let mut all = Vec::new();
        for chunk in packages.chunks(100) {
            let mut args = vec!["show"];
            args.extend_from_slice(chunk);
            let out = self.run("apt-cache", &args, None).await?;
            // apt-cache show fails when one name is unknown, yet prints the others.
            all.extend(paragraphs_of(&out, "apt-cache show")?);
        }
        Ok(all)
    }

    /// `apt-get source --download-only SOURCE=VERSION` into `into`: the
    /// `.dsc` and every file it lists, each checked against the signed
    /// Sources index. `Err` holds apt's complaint.
    pub async fn download_source(
        &self,
        source: &str,
        version: &str,
        into: &Path,
    ) -> Result<std::result::Result<(), String>> {
        let wanted = format!("{source}={version}");
        let out = self
            .run("apt-get", &["source", "--download-only", "--only-source", "-q", &wanted], Some(into))
            .await?;
        Ok(match out.status.success() {
            true => Ok(()),
            false => Err(complaints(&out, true).join("\n  ")),
        })
    }

    /// `apt-get download` of exactly these `NAME:ARCH=VERSION` into `into`,
    /// each checked against the signed Packages index.
    pub async fn download_binaries(&self, wanted: &[String], into: &Path) -> Result<()> {
        for chunk in wanted.chunks(100) {
            let mut args = vec!["download", "-q"];
            args.extend(chunk.iter().map(String::as_str));
            let out = self.run("apt-get", &args, Some(into)).await?;
            ensure!(
                out.status.success(),
                "apt-get download {} failed ({}):\n  {}",
                chunk.join(" "),
                out.status,
                complaints(&out, true).join("\n  ")
            );
        }
        Ok(())
    }
}

/// The paragraphs `program` printed.
fn paragraphs_of(out: &std::process::Output, program: &str) -> Result<Vec<Paragraph>> {
    let text = String::from_utf8_lossy(&out.stdout);
    control::paragraphs(&text).with_context(|| format!("reading what {program} printed"))
}

/// This machine's Debian architecture, as apt and dpkg name it.
pub fn host_architecture() -> Result<String> {
    let out = std::process::Command::new("dpkg")
        .arg("--print-architecture")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| anyhow!("cannot run dpkg --print-architecture: {e}"))?;
    let arch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    ensure!(out.status.success() && !arch.is_empty(), "dpkg --print-architecture printed no architecture");
    Ok(arch)
}
