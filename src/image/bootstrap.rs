//! Running mmdebstrap: one rootfs tarball from a recipe and one set of apt
//! sources, and the exact package list it installed.

use crate::errors::*;
use crate::image::Recipe;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Where mmdebstrap reads packages from.
pub enum AptSources<'a> {
    /// An apt sources file (one-line or deb822): the host's or the recipe's.
    File(&'a Path),
    /// A flat repository of exactly the locked packages, made by
    /// [`crate::image::fetch`].
    LocalRepository(&'a Path),
}

/// A finished bootstrap.
pub struct Bootstrapped {
    /// The rootfs tarball.
    pub rootfs: PathBuf,
    /// `(name, version, architecture)` of every installed package, sorted.
    pub installed: Vec<(String, String, String)>,
}

/// The first error mmdebstrap (or apt under it) logged in what is read of
/// the log `path`, and its last lines, indented, each clipped.
fn log_tail(path: &Path) -> (Option<String>, String) {
    // The log's size is mmdebstrap's, which is bounded by what it installs;
    // only its end is read.
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => return (None, format!("  (no log: {e})")),
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = length.saturating_sub(64 << 10);
    let mut bytes = Vec::new();
    {
        use std::io::{Read, Seek, SeekFrom};
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return (None, "  (the log could not be read)".to_string());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let clip = |line: &str| crate::style::without_controls(&line.chars().take(300).collect::<String>());
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // mmdebstrap's own closing line says only that it failed.
    let first_error = lines
        .iter()
        .filter_map(|l| l.strip_prefix("E: "))
        .find(|l| !l.starts_with("mmdebstrap failed"))
        .map(&clip);
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    (first_error, tail.iter().map(|l| format!("  {}", clip(l))).collect::<Vec<_>>().join("\n"))
}

/// Quotes `text` for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// An image build's scratch directory, and where mmdebstrap's own
/// messages go.
pub struct Work {
    dir: tempfile::TempDir,
    /// Keep mmdebstrap's messages out of the terminal: they go to a log in
    /// the scratch directory, and a failure's error carries its last lines.
    /// A batch builds many images; their hundreds of lines each would bury
    /// its one line per target.
    quiet: bool,
}

impl Work {
    /// A new scratch directory.
    pub fn new(quiet: bool) -> Result<Work> {
        let dir = tempfile::Builder::new()
            .prefix("reprocheck-image-")
            .tempdir()
            .context("creating a temporary directory for the image build")?;
        Ok(Work { dir, quiet })
    }
}

impl std::ops::Deref for Work {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.dir.path()
    }
}

/// Lines of a quiet mmdebstrap's log an error carries.
const LOG_TAIL_LINES: usize = 25;

/// The installed mmdebstrap's version, e.g. `1.3.5`.
pub fn mmdebstrap_version() -> Result<String> {
    let out = std::process::Command::new("mmdebstrap").arg("--version").output().map_err(|e| {
        anyhow!("cannot run mmdebstrap: {e}\nhelp: install it (`apt-get install mmdebstrap`); it builds the rootfs offline from apt sources")
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.split_whitespace().last().unwrap_or("unknown").to_string())
}

/// Builds `work/rootfs.tar` for `recipe` from `sources`. With `keep_debs`,
/// every .deb it installed is copied there (for the lock and the cache).
/// With `wheels` (made by [`crate::image::python::gather`]), pip in the image
/// installs them after the packages, with no index.
pub async fn bootstrap(
    recipe: &Recipe,
    sources: AptSources<'_>,
    work: &Work,
    keep_debs: Option<&Path>,
    wheels: Option<&Path>,
) -> Result<Bootstrapped> {
    let rootfs = work.join("rootfs.tar");
    let listing = work.join("installed.tsv");
    let mut command = tokio::process::Command::new("mmdebstrap");
    command
        .arg(format!("--variant={}", recipe.variant))
        // Keep the downloaded .debs until the hooks below have copied them out.
        .arg("--skip=download/empty")
        .arg("--skip=essential/unlink")
        // The image must not name a mirror, and builds have no network anyway.
        .arg("--customize-hook=rm -f \"$1\"/etc/apt/sources.list \"$1\"/etc/apt/sources.list.d/*")
        .arg(format!(
            "--customize-hook=dpkg-query --admindir=\"$1\"/var/lib/dpkg -W -f='${{Package}}\\t${{Version}}\\t${{Architecture}}\\n' > {}",
            shell_quote(&listing.to_string_lossy())
        ));
    if let Some(dir) = keep_debs {
        command.arg(format!(
            "--customize-hook=sync-out /var/cache/apt/archives {}",
            shell_quote(&dir.to_string_lossy())
        ));
    }
    if let Some(dir) = wheels {
        use crate::image::python::{IN_IMAGE_DIR, REQUIREMENTS_FILE};
        // pip from the image's own python3-pip; no index, no bytecode (its
        // .pyc would carry the install time), every hash enforced again; no
        // PIP_* variable or config file of the host's reaches it.
        command
            .arg(format!("--customize-hook=mkdir -p \"$1\"{IN_IMAGE_DIR}"))
            .arg(format!("--customize-hook=sync-in {} {IN_IMAGE_DIR}", shell_quote(&dir.to_string_lossy())))
            .arg(format!(
                "--customize-hook=chroot \"$1\" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PIP_CONFIG_FILE=/dev/null \
                 python3 -m pip install --no-index --find-links {IN_IMAGE_DIR} \
                 --require-hashes --no-deps --no-compile --break-system-packages --root-user-action=ignore \
                 --disable-pip-version-check --no-cache-dir --quiet --requirement {IN_IMAGE_DIR}/{REQUIREMENTS_FILE}"
            ))
            .arg(format!("--customize-hook=rm -rf \"$1\"{IN_IMAGE_DIR}"));
    }
    command
        .arg("--customize-hook=rm -f \"$1\"/var/cache/apt/archives/*.deb")
        // A directory's mtime records which package happened to create it
        // first, which depends on the order of the package index, not on the
        // packages. Fixed to the epoch, the rootfs depends on the packages only.
        .arg(format!(
            "--customize-hook=find \"$1\" -xdev \\( -path \"$1\"/proc -o -path \"$1\"/sys -o -path \"$1\"/dev \\) -prune -o -type d -exec touch --no-dereference --date=@{} {{}} +",
            recipe.source_date_epoch
        ))
        .env("SOURCE_DATE_EPOCH", recipe.source_date_epoch.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !recipe.packages.is_empty() {
        command.arg(format!("--include={}", recipe.packages.join(",")));
    }
    command.arg(&recipe.suite).arg(&rootfs);
    match sources {
        AptSources::File(file) => {
            command.arg(file);
        }
        AptSources::LocalRepository(dir) => {
            // copy://: mmdebstrap copies the files in; `file://` would need the
            // directory visible inside the chroot. The lock's sha256 of every
            // file is what is trusted, not a signature.
            command.arg(format!("deb [trusted=yes] copy://{} ./", dir.display()));
        }
    }
    let log = work.join("mmdebstrap.log");
    if work.quiet {
        let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command.stderr(file);
    }
    let status = command.status().await.map_err(|e| {
        anyhow!("cannot run mmdebstrap: {e}\nhelp: install it (`apt-get install mmdebstrap`); it builds the rootfs offline from apt sources")
    })?;
    if !status.success() {
        match work.quiet {
            true => {
                let (first_error, tail) = log_tail(&log);
                let said = first_error.map(|e| format!(": {e}")).unwrap_or_default();
                bail!("mmdebstrap failed ({status}){said}; its last messages:\n{tail}")
            }
            false => bail!("mmdebstrap failed ({status}); its messages are above"),
        }
    }
    let text = std::fs::read_to_string(&listing)
        .with_context(|| format!("reading the installed package list {}", listing.display()))?;
    let mut installed = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.split('\t');
        let (Some(name), Some(version), Some(arch), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            bail!("dpkg-query printed an odd line: {line:?}");
        };
        installed.push((name.to_string(), version.to_string(), arch.to_string()));
    }
    installed.sort();
    ensure!(!installed.is_empty(), "mmdebstrap installed no packages (empty {})", listing.display());
    Ok(Bootstrapped { rootfs, installed })
}
