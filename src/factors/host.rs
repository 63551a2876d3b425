//! What this host and image can do, found out once per check: a short probe
//! container on the pinned image, plus a look at the host's tools.

use super::probe::READDIR_REVERSER_IN_CONTAINER;
use crate::engine::placed::PlacedFile;
use crate::engine::{ContainerConfig, Engine, LABEL};
use crate::errors::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the host's libfaketime appears inside experiment containers.
pub const FAKETIME_IN_CONTAINER: &str = "/usr/lib/reprocheck/libfaketime.so.1";

/// Facts that decide whether and how each factor can be applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HostFacts {
    /// CPUs available to containers.
    pub cpus: usize,
    /// Which CPUs those are (the probe's `Cpus_allowed_list`); empty when
    /// unknown.
    pub cpu_ids: Vec<u32>,
    /// `setarch --uname-2.6` works in the image.
    pub can_set_uname26: bool,
    /// Why it does not.
    pub setarch_error: String,
    /// `setarch -R` works in the image.
    pub can_disable_aslr: bool,
    /// Why it does not.
    pub setarch_aslr_error: String,
    /// The image has an et_EE locale.
    pub image_has_et_locale: bool,
    /// The control and experiment locale settings give different results in
    /// the image (character set or day names), as the probe saw them.
    pub locales_observed: bool,
    /// What the probe saw of them: `control | experiment`.
    pub locales_seen: String,
    /// The control and experiment time zones resolve to different offsets.
    pub timezone_observed: bool,
    /// What the probe saw of them: `control | experiment` (`date +%z`).
    pub timezone_seen: String,
    /// The control's and the experiment's time zone offsets from UTC now,
    /// in seconds, as the image resolves them (zip times are local).
    pub utc_offsets: (Option<i32>, Option<i32>),
    /// With the time factor's preloads, setting a file's times to "now"
    /// (`utime(path, NULL)`, as dpkg-source does) works in the image.
    pub utime_now_works: bool,
    /// Why it does not.
    pub utime_now_problem: String,
    /// The host's libfaketime, preloaded in the image, shifts the clock.
    pub faketime_works: bool,
    /// Why it does not.
    pub faketime_problem: String,
    /// The host's libfaketime.
    #[serde(skip)]
    pub faketime_lib: Option<PathBuf>,
    /// reprocheck's readdir reverser, preloaded in the image, reverses the
    /// order `ls -f` lists a directory in.
    pub readdir_reverser_works: bool,
    /// Why it does not.
    pub readdir_reverser_problem: String,
    /// disorderfs can be mounted and bind-mounted into containers (probed
    /// live by the caller when fileordering is requested; never cached).
    #[serde(skip)]
    pub disorderfs_works: bool,
    /// Why it cannot.
    #[serde(skip)]
    pub disorderfs_problem: String,
    /// Host tools used, with versions.
    pub tools: BTreeMap<String, String>,
}

/// The readdir reverser (src/factors/readdir_reverse.c), compiled for this
/// host by build.rs: preloaded, it returns every directory's entries last
/// first.
pub static READDIR_REVERSER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libreaddir-reverse.so"));

/// Where reprocheck's file-times fix appears inside experiment containers.
pub const UTIME_NOW_IN_CONTAINER: &str = "/usr/lib/reprocheck/libutime-now.so";

/// The file-times fix (src/factors/utime_now.c), compiled by build.rs:
/// preloaded before libfaketime, it turns the utime family into plain
/// `utimensat` system calls, so "set to now" is the real now (libfaketime
/// 0.9.10 fails `utime(path, NULL)` with EINVAL and gives `touch` the
/// shifted now) and explicit times are kept exactly.
pub static UTIME_NOW: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libutime-now.so"));

/// What a run preloads into every dynamically linked program.
#[derive(Debug, Default, Clone, Copy)]
pub struct Preloads<'a> {
    /// The host's libfaketime (its contents) and the offset it applies.
    pub faketime: Option<(&'a Arc<[u8]>, &'a str)>,
    /// reprocheck's readdir reverser.
    pub reverse_readdir: bool,
}

impl Preloads<'_> {
    /// The files that put these libraries into a container: each library,
    /// `/etc/ld.so.preload` naming them all and, for libfaketime,
    /// `/etc/faketimerc` holding the offset and the file-times fix, named
    /// before libfaketime so that its definitions come first. They are
    /// uploaded, not mounted,
    /// so a remote engine gets them too; nothing goes into the environment,
    /// so env-leaking builds are unaffected. Empty when nothing is preloaded.
    pub fn files(&self) -> Vec<PlacedFile> {
        let text = |s: String| Arc::from(s.into_bytes().into_boxed_slice());
        let (mut files, mut libs) = (Vec::new(), String::new());
        if let Some((lib, offset)) = self.faketime {
            files.push(PlacedFile::new(UTIME_NOW_IN_CONTAINER, 0o644, Arc::from(UTIME_NOW)));
            libs.push_str(&format!("{UTIME_NOW_IN_CONTAINER}\n"));
            files.push(PlacedFile::new(FAKETIME_IN_CONTAINER, 0o644, lib.clone()));
            files.push(PlacedFile::new("/etc/faketimerc", 0o644, text(format!("{offset}\n"))));
            libs.push_str(&format!("{FAKETIME_IN_CONTAINER}\n"));
        }
        if self.reverse_readdir {
            files.push(readdir_reverser());
            libs.push_str(&format!("{READDIR_REVERSER_IN_CONTAINER}\n"));
        }
        if !libs.is_empty() {
            files.push(PlacedFile::new("/etc/ld.so.preload", 0o644, text(libs)));
        }
        files
    }
}

/// The readdir reverser at [`READDIR_REVERSER_IN_CONTAINER`].
pub fn readdir_reverser() -> PlacedFile {
    PlacedFile::new(READDIR_REVERSER_IN_CONTAINER, 0o644, Arc::from(READDIR_REVERSER))
}

/// The contents of the host's libfaketime at `path`.
pub fn read_libfaketime(path: &Path) -> Result<Arc<[u8]>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading libfaketime at {}", path.display()))?;
    Ok(Arc::from(bytes.into_boxed_slice()))
}

impl HostFacts {
    /// The one CPU of run `run_index` (1-based) at the num_cpus control:
    /// runs take the engine's CPUs in turn, so two runs that both build on
    /// one CPU do not share it (and take twice as long) when there are two.
    pub fn control_cpu(&self, run_index: u32) -> String {
        match self.cpu_ids.len() {
            0 => "0".to_string(),
            n => self.cpu_ids[(run_index.max(1) as usize - 1) % n].to_string(),
        }
    }

    /// The facts for this engine and image: from the cache when an earlier
    /// check probed the same image id with the same engine and libfaketime
    /// (an image id names immutable contents), else probed now and cached.
    pub async fn gather(engine: &dyn Engine, image_id: &str, run_id: &str) -> Result<HostFacts> {
        let lib = find_libfaketime();
        let key = cache_key(engine, image_id, lib.as_deref());
        let cached = cache_file(&key).and_then(|f| std::fs::read(f).ok());
        if let Some(facts) = cached.and_then(|bytes| serde_json::from_slice::<HostFacts>(&bytes).ok()) {
            tracing::debug!("factor probe: cached result for {image_id}");
            return Ok(HostFacts { faketime_lib: lib, ..facts });
        }
        let facts = Self::probe(engine, image_id, run_id).await?;
        if let Some(file) = cache_file(&key) {
            // A cache that cannot be written only costs the next check a probe.
            let written = file
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .and_then(|_| std::fs::write(&file, serde_json::to_vec(&facts).unwrap_or_default()));
            if let Err(e) = written {
                tracing::debug!("not caching the factor probe in {}: {e}", file.display());
            }
        }
        Ok(facts)
    }

    /// Probes the image (one short container) and the host's tools.
    async fn probe(engine: &dyn Engine, image_id: &str, run_id: &str) -> Result<HostFacts> {
        let mut facts = HostFacts { faketime_lib: find_libfaketime(), ..Default::default() };
        let faketime = facts.faketime_lib.as_deref().map(read_libfaketime).transpose()?;
        if faketime.is_some() {
            facts.tools.insert("libfaketime".into(), package_version("libfaketime"));
        }
        // The reverser is tried through LD_PRELOAD so that the script sees both orders.
        let mut files =
            Preloads { faketime: faketime.as_ref().map(|lib| (lib, "+398d")), reverse_readdir: false }
                .files();
        files.push(readdir_reverser());
        let config = ContainerConfig {
            name: format!("reprocheck-{run_id}-probe"),
            image: image_id.to_string(),
            cmd: vec!["/bin/sh".into(), "-c".into(), super::probe::script()],
            env: BTreeMap::from([("PATH".to_string(), super::CONTROL_PATH.to_string())]),
            working_dir: "/".into(),
            user: "1111:1111".into(),
            hostname: "reprocheck-probe".into(),
            domainname: "reprocheck.invalid".into(),
            labels: BTreeMap::from([
                (LABEL.to_string(), run_id.to_string()),
                (crate::engine::OWNER_LABEL.to_string(), crate::engine::owner()),
            ]),
            pids_limit: 64,
            memory_bytes: 256 << 20,
            cpuset: None,
            binds: Vec::new(),
            log_bytes: 1 << 20,
        };
        let started = std::time::SystemTime::now();
        let output = probe(engine, &config, &files).await.context("probing the image for factor support")?;
        let now = started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        super::probe::read(&output, now, &mut facts);
        facts.disorderfs_problem = "not probed".to_string();
        Ok(facts)
    }
}

/// Runs the probe container with `files` placed in it and returns its
/// output; always removes it.
async fn probe(engine: &dyn Engine, config: &ContainerConfig, files: &[PlacedFile]) -> Result<String> {
    let id = engine.create(config).await?;
    let result = async {
        crate::engine::placed::upload(engine, &id, files).await?;
        engine.start(&id).await?;
        let code = engine.wait(&id).await?;
        // The probe script prints a few lines; a megabyte is plenty.
        let log = engine.logs(&id, 1 << 20).await?;
        ensure!(code == 0, "the probe exited with {code}: {}", String::from_utf8_lossy(&log));
        Ok(String::from_utf8_lossy(&log).into_owned())
    }
    .await;
    engine.remove(&id).await?;
    result
}

/// What the probe's answer depends on.
fn cache_key(engine: &dyn Engine, image_id: &str, lib: Option<&Path>) -> String {
    let info = engine.info();
    let lib_id = lib
        .and_then(|l| {
            std::fs::metadata(l).ok().map(|m| (l.display().to_string(), m.len(), m.modified().ok()))
        })
        .map(|(path, len, modified)| format!("{path}:{len}:{modified:?}"))
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let material = format!(
        "{}|{}|{}|{}|{:?}|{image_id}|{lib_id}|{}|{}|{cpus}|{}",
        env!("CARGO_PKG_VERSION"),
        info.kind,
        info.version,
        info.endpoint,
        info.seccomp_profile,
        hex::encode(Sha256::digest(READDIR_REVERSER)),
        hex::encode(Sha256::digest(UTIME_NOW)),
        super::probe::script(),
    );
    hex::encode(Sha256::digest(material.as_bytes()))
}

/// `$XDG_CACHE_HOME/reprocheck/probes/KEY.json`, or under `~/.cache`.
fn cache_file(key: &str) -> Option<PathBuf> {
    Some(crate::paths::cache_dir("probes")?.join(format!("{key}.json")))
}

/// The host's libfaketime, if installed.
fn find_libfaketime() -> Option<PathBuf> {
    let candidates = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .chain(std::iter::once(PathBuf::from("/usr/lib/faketime/libfaketime.so.1")));
    candidates.into_iter().find(|p| p.is_file())
}

/// A Debian package's version, or "unknown".
pub fn package_version(package: &str) -> String {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
