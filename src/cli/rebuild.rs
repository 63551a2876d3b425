//! `reprocheck rebuild`'s arguments.

use clap::Args;
use std::path::PathBuf;

/// `reprocheck rebuild`'s arguments.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// What to rebuild: pypi:NAME==VERSION, debian:PACKAGE[=VERSION], or @LIST (a file naming
    /// one target per line; `#` comments). Several run as a batch.
    #[arg(required = true, num_args = 1.., value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Write the inferred specs here (SLUG.toml, its inputs in SLUG/, shared image recipes in
    /// images/), ready to review, commit and rerun with `check` or `verify`
    /// (default: reprocheck-out/rebuild-specs).
    #[arg(long, value_name = "DIR")]
    pub write_spec: Option<PathBuf>,
    /// Only infer and write the specs; build nothing (exit 0 when every target got its spec, else 1).
    #[arg(long)]
    pub infer_only: bool,
    /// Also vary the environment: two builds, the second with every factor varied, both
    /// compared with the published files and with each other.
    #[arg(long)]
    pub check: bool,
    /// The Debian suite to rebuild from (default: the host's own, from its apt sources).
    #[arg(long, value_name = "SUITE")]
    pub suite: Option<String>,
    /// Reproduce the environment a Debian .buildinfo records: its exact build dependencies,
    /// Build-Path and environment (one debian: target only).
    #[arg(long, value_name = "FILE")]
    pub buildinfo: Option<PathBuf>,
    /// With --buildinfo: a snapshot archive (Debian's snapshot layout, BASE/debian/TIME/) for
    /// the recorded versions the suite no longer has.
    #[arg(long, value_name = "BASE", requires = "buildinfo")]
    pub snapshot: Option<String>,
    /// The snapshot's time, YYYYMMDDTHHMMSSZ (default: the .buildinfo's Build-Date).
    #[arg(long, value_name = "TIME", requires = "snapshot")]
    pub snapshot_time: Option<String>,
    /// With --buildinfo: a directory of .deb files for the recorded versions the suite no
    /// longer has (each known by its own control fields).
    #[arg(long, value_name = "DIR", requires = "buildinfo")]
    pub packages_dir: Option<PathBuf>,
    /// The Python package index's simple API (default: pip's own configuration).
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Builds run at once across every target (default: the number of CPUs).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Results directory (default: reprocheck-out/<slug> for one target, reprocheck-out for a batch).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print report.json (one target) or summary.json (a batch) to stdout.
    #[arg(long)]
    pub json: bool,
    /// Sign the verification attestations with this Ed25519 private key.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// The attestation's builder.id (default: urn:reprocheck:builder:<hostname>).
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
}
