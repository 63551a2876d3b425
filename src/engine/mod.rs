//! The container engine, behind one trait.
//!
//! [`Engine`] is the only thing the rest of the tool knows about containers.
//! [`docker::DockerEngine`] implements it over the Docker Engine API (bollard),
//! which also serves Podman's compatible socket; engine quirks stay in that file.
//! [`run`] drives one build through the trait.

pub mod docker;
pub mod endpoint;
pub mod placed;
pub mod seccomp;
pub mod ssh;

use crate::errors::*;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The label every container reprocheck creates carries; its value is the run id.
pub const LABEL: &str = "reprocheck";

/// The label naming the process that created a container:
/// `PID@BOOT_ID@MACHINE_ID`, so leftovers of a process that is gone can be
/// told from a live run's, and a remote engine's containers made by
/// another machine are never taken for this one's.
pub const OWNER_LABEL: &str = "reprocheck.owner";

/// This process's [`OWNER_LABEL`] value.
pub fn owner() -> String {
    owner_of_pid(std::process::id())
}

/// The [`OWNER_LABEL`] value of process `pid` on this machine.
pub fn owner_of_pid(pid: u32) -> String {
    format!("{pid}@{}@{}", boot_id(), machine_id())
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_string()
}

/// `/etc/machine-id`, else the host name.
fn machine_id() -> String {
    let id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default().trim().to_string();
    if !id.is_empty() {
        return id;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}

/// What the engine says about itself, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineInfo {
    /// `docker` or `podman`.
    pub kind: String,
    /// The server's version string.
    pub version: String,
    /// The API version in use after negotiation.
    pub api_version: String,
    /// Where the engine was reached.
    pub endpoint: String,
    /// The digest of the [`seccomp::profile`] every container runs under,
    /// or `None` when the engine keeps its own default profile.
    pub seccomp_profile: Option<String>,
    /// The engine's platform, `os/architecture[/variant]` (`linux/amd64`):
    /// the one a multi-platform registry image is resolved for.
    #[serde(skip)]
    pub platform: String,
}

impl EngineInfo {
    /// Whether the engine runs on this host (reached by a Unix socket), so
    /// that host paths can be bind-mounted into its containers.
    pub fn is_local(&self) -> bool {
        self.endpoint.starts_with("unix://")
    }
}

/// A user name and password the engine passes to a registry for one pull.
#[derive(Clone)]
pub struct PullCredentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

/// A local image, as the engine knows it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The image id (`sha256:` + config digest).
    pub id: String,
    /// `name@sha256:...` entries, present for pulled images.
    pub repo_digests: Vec<String>,
    /// `name:tag` entries.
    pub repo_tags: Vec<String>,
    /// When the image says it was created (RFC 3339), if it says.
    pub created: Option<String>,
}

/// Everything needed to create one build container.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// Container name, unique per run.
    pub name: String,
    /// Image reference; always an image id here, never a tag.
    pub image: String,
    /// Argument vector (no shell is added by the engine).
    pub cmd: Vec<String>,
    /// The complete environment; nothing from the host is added.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the container.
    pub working_dir: String,
    /// `uid:gid`.
    pub user: String,
    /// UTS hostname.
    pub hostname: String,
    /// UTS domain name.
    pub domainname: String,
    /// Labels; always includes [`LABEL`].
    pub labels: BTreeMap<String, String>,
    /// Maximum number of processes.
    pub pids_limit: i64,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// CPUs the container may use (`0`, `0-3`), or all.
    pub cpuset: Option<String>,
    /// Host files or directories mounted into the container.
    pub binds: Vec<Bind>,
    /// Bytes of log reprocheck saves; the engine is told to keep a bounded
    /// multiple of it (it rotates past that, so a chatty build cannot fill
    /// the engine's disk).
    pub log_bytes: u64,
}

/// A host path mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bind {
    /// Path on the engine's host.
    pub host: PathBuf,
    /// Path in the container.
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

impl Bind {
    /// The `host:container[:ro]` form of the Docker API.
    pub fn to_spec(&self) -> String {
        let ro = if self.read_only { ":ro" } else { "" };
        format!("{}:{}{ro}", self.host.display(), self.container)
    }
}

/// A stream of bytes coming from the engine.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Where a pipeline's engine comes from. It is connected only when a
/// pipeline needs it (after the spec is read and the results directory
/// claimed, so a bad spec never contacts an engine).
#[derive(Clone)]
pub enum Connector {
    /// The Docker API (Docker or Podman) at the endpoint `--engine-socket`
    /// gave, else the one the environment names ([`endpoint::from_environment`]).
    Docker(Option<String>),
    /// An engine that is already open, e.g. an in-process one in tests.
    Open(Arc<dyn Engine>),
}

impl Connector {
    /// `--engine-socket` when given; else `DOCKER_HOST`, the Docker context
    /// or the default socket, read when connecting.
    pub fn docker(endpoint: Option<String>) -> Connector {
        Connector::Docker(endpoint)
    }

    /// Connects (or hands out the open engine).
    pub async fn connect(&self) -> Result<Arc<dyn Engine>> {
        match self {
            Connector::Docker(flag) => {
                let host = match flag {
                    Some(host) => host.clone(),
                    None => endpoint::from_environment(&endpoint::ProcessEnv)?,
                };
                Ok(Arc::new(docker::DockerEngine::connect(&host).await?))
            }
            Connector::Open(engine) => Ok(engine.clone()),
        }
    }

    /// The endpoint a fresh connection can reach after a panic: that of
    /// `engine`, which this connector opened, unless it is an open engine.
    pub fn reconnect_endpoint(&self, engine: &dyn Engine) -> Option<String> {
        match self {
            Connector::Docker(_) => Some(engine.info().endpoint.clone()),
            Connector::Open(_) => None,
        }
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::docker(None)
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connector::Docker(flag) => {
                write!(f, "Docker({})", flag.as_deref().unwrap_or("from the environment"))
            }
            Connector::Open(engine) => write!(f, "Open({})", engine.info().endpoint),
        }
    }
}

/// The operations a backend must provide to run hermetic builds.
///
/// Every container is created with no network, all capabilities dropped and
/// `no-new-privileges`, under the [`seccomp::profile`] where the engine can
/// take it ([`EngineInfo::seccomp_profile`]); a backend that cannot
/// guarantee the rest must fail `create`.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Version and endpoint, for the report.
    fn info(&self) -> &EngineInfo;
    /// Whether uploads into and downloads from a created (or stopped)
    /// container see its bind mounts. The fileordering factor needs it: it
    /// bind-mounts the build directory.
    fn archive_sees_bind_mounts(&self) -> bool {
        true
    }
    /// Whether the engine maps container user ids to other host ids
    /// (userns-remap, rootless): then a host file owned by uid N is not
    /// uid N's in the container.
    async fn remaps_user_ids(&self) -> Result<bool> {
        Ok(false)
    }
    /// Looks up a local image; `Ok(None)` when it does not exist.
    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>>;
    /// Loads a `docker save`-format archive from disk.
    async fn load_image(&self, archive: &Path) -> Result<()>;
    /// Pulls `reference` (always `REGISTRY/REPO@sha256:…`, never a tag)
    /// from its registry, with the user's credentials for it when there are any.
    async fn pull_image(&self, reference: &str, credentials: Option<&PullCredentials>) -> Result<()> {
        let _ = credentials;
        bail!("the {} engine cannot pull {reference}", self.info().kind)
    }
    /// Writes image `id` to `into` as a docker-archive tarball (what
    /// [`Engine::load_image`] reads).
    async fn save_image(&self, id: &str, into: &Path) -> Result<()> {
        bail!("the {} engine cannot save image {id} to {}", self.info().kind, into.display())
    }
    /// Creates (but does not start) a container; returns its id.
    async fn create(&self, config: &ContainerConfig) -> Result<String>;
    /// Extracts a tar archive at `/` in the container, read from `tar` as
    /// it is produced. An error item in the stream must fail the upload.
    async fn upload(&self, id: &str, tar: ByteStream) -> Result<()>;
    /// Starts a created container.
    async fn start(&self, id: &str) -> Result<()>;
    /// Waits for the container to exit and returns its exit code.
    async fn wait(&self, id: &str) -> Result<i64>;
    /// When an exited container's process started and exited, by the
    /// engine's clock (the time factor's window, [`crate::clock`]); `None`
    /// when the engine does not say. `ran_for` is the run's length by this
    /// machine's clock, for an engine that has not recorded the exit yet.
    async fn run_window(
        &self,
        _id: &str,
        _ran_for: std::time::Duration,
    ) -> Result<Option<crate::clock::RunWindow>> {
        Ok(None)
    }
    /// The container's combined stdout and stderr, cut after `max_bytes`
    /// with a note saying so.
    async fn logs(&self, id: &str, max_bytes: u64) -> Result<Vec<u8>>;
    /// The container's combined output from its first byte, as it is
    /// written: attached to a created container before it starts, so a build
    /// that floods its log cannot rotate the start away before the stream
    /// reads it. Ends when the container stops.
    async fn attach_output(&self, id: &str) -> Result<ByteStream>;
    /// Whether a followed log that ended by itself after the container
    /// exited holds all of it (then it need not be fetched again).
    fn followed_log_is_complete(&self) -> bool {
        true
    }
    /// A tar stream of `path` in the container; `Ok(None)` when it does not exist.
    async fn download(&self, id: &str, path: &str) -> Result<Option<ByteStream>>;
    /// Removes a container, killing it first if it runs. Missing is not an
    /// error. On Docker a container this process attached to but never
    /// started is started first, which ends the attach (docs/engines.md).
    async fn remove(&self, id: &str) -> Result<()>;
    /// Removes a container whose reprocheck process is gone, as
    /// [`Engine::remove`]; on Docker one that never started is started first,
    /// since its owner may have attached to it.
    async fn remove_orphan(&self, id: &str) -> Result<()> {
        self.remove(id).await
    }
    /// Kills a running container (it stays, with its log, until removed).
    async fn kill(&self, id: &str) -> Result<()>;
    /// Bytes the container has written to its own filesystem (its writable
    /// layer), or `None` when the engine does not say.
    async fn written_bytes(&self, id: &str) -> Result<Option<u64>>;
    /// Ids of containers (running or not) whose [`LABEL`] equals `value`, or
    /// that carry the label at all when `value` is `None`.
    async fn list_labelled(&self, value: Option<&str>) -> Result<Vec<String>>;
    /// Ids of containers whose [`OWNER_LABEL`] is `owner`.
    async fn list_owned(&self, owner: &str) -> Result<Vec<String>>;
    /// Every reprocheck container, with its [`OWNER_LABEL`] if it has one.
    async fn list_owners(&self) -> Result<Vec<(String, Option<String>)>>;
}

/// Whether the process an [`OWNER_LABEL`] value names is gone: this
/// machine, and another boot or no such PID now. A PID reused by some
/// other process counts as alive, so nothing of a live reprocheck is ever
/// taken; another machine's containers (a shared remote engine) are never
/// judged. Values that are not of that form are never orphans; the older
/// `PID@BOOT_ID` form counts as this machine's.
pub fn owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.split('@');
    let (Some(pid), Some(boot), machine) = (parts.next(), parts.next(), parts.next()) else { return false };
    let Ok(pid) = pid.parse::<i32>() else { return false };
    if machine.is_some_and(|m| m != machine_id()) {
        return false;
    }
    if boot != boot_id() {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// Removes containers left by reprocheck processes that are gone (a
/// `kill -9`, a crash, a reboot). Returns how many were removed.
pub async fn sweep_orphans(engine: &dyn Engine) -> Result<usize> {
    let mut removed = 0;
    for (id, owner) in engine.list_owners().await? {
        if owner.as_deref().is_some_and(owner_is_gone) {
            engine
                .remove_orphan(&id)
                .await
                .with_context(|| format!("removing the orphaned container {id}"))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// How long a sweep waits for an engine that stopped answering (a
/// restarting dockerd first stops its containers, which takes ~10 s).
pub const SWEEP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Containers removed.
    pub removed: usize,
    /// Whether the engine had stopped answering (and came back).
    pub engine_went_away: bool,
}

/// [`sweep`] again, 0.7 s apart, until a pass finds nothing (at most four
/// passes): a create that was in flight when the run was cancelled (a
/// signal, a panic) can still complete in the engine after the first pass
/// (seen on Podman). Returns how many containers were removed in all.
pub async fn sweep_until_clear(engine: &dyn Engine, run_id: &str) -> Result<usize> {
    let mut removed = sweep(engine, run_id).await?.removed;
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let late = sweep(engine, run_id).await?.removed;
        removed += late;
        if late == 0 {
            break;
        }
    }
    Ok(removed)
}

/// Removes every container of `run_id`. Used after errors and on Ctrl-C, so it
/// also catches a container whose create call was interrupted. When the
/// engine does not answer (it may be restarting), it keeps trying for
/// [`SWEEP_PATIENCE`]; if the engine stays away, the error says how to
/// remove the containers by hand.
pub async fn sweep(engine: &dyn Engine, run_id: &str) -> Result<Swept> {
    let started = std::time::Instant::now();
    let mut engine_went_away = false;
    let ids = loop {
        match engine.list_labelled(Some(run_id)).await {
            Ok(ids) => break ids,
            Err(e) if started.elapsed() < SWEEP_PATIENCE => {
                if !engine_went_away {
                    crate::errln!(
                        "reprocheck: the engine at {} does not answer ({e:#}); waiting up to {} s to remove the containers of run {run_id}",
                        engine.info().endpoint,
                        SWEEP_PATIENCE.as_secs()
                    );
                }
                engine_went_away = true;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "the engine at {} stopped answering, so the containers of run {run_id} may remain
                         help: once it is back, remove them with \
                         `docker rm -f $(docker ps -aq --filter label={LABEL}={run_id})`",
                        engine.info().endpoint
                    )
                })
            }
        }
    };
    for id in &ids {
        engine.remove(id).await.with_context(|| format!("removing leftover container {id}"))?;
    }
    Ok(Swept { removed: ids.len(), engine_went_away })
}

/// The part of `chunk` that fits under `max_bytes` when `kept` bytes of
/// log are already kept, and whether all of it fits.
pub fn log_room(chunk: &[u8], kept: u64, max_bytes: u64) -> (&[u8], bool) {
    let room = max_bytes.saturating_sub(kept).min(chunk.len() as u64) as usize;
    (&chunk[..room], room == chunk.len())
}

/// What ends a log that reached `limits.log_size`.
pub fn log_cut_note(max_bytes: u64) -> String {
    format!("\n[reprocheck: log cut at {max_bytes} bytes (limits.log_size)]\n")
}

/// The saved log of a run whose follow ended early: the engine's own copy,
/// unless the engine has rotated away what the follow had received (Podman's
/// k8s-file truncates itself at its max-size; Docker's json-file keeps the
/// last two files). Then the followed start is what is kept, and a note says
/// the rest is gone: the start of a log is where a reader looks first, and
/// it is never replaced by a tail that looks whole.
pub fn reconcile_log(followed: Vec<u8>, engine_copy: Vec<u8>) -> Vec<u8> {
    if engine_copy.starts_with(&followed) {
        return engine_copy;
    }
    let mut log = followed;
    log.extend_from_slice(
        format!(
            "\n[reprocheck: log cut at {} bytes: the engine rotated the rest of its copy away before it was read (limits.log_size)]\n",
            log.len()
        )
        .as_bytes(),
    );
    log
}

/// Appends `chunk` to `log` up to `max_bytes` in all; returns false (and
/// ends the log with a note) once the limit is reached.
pub fn append_capped(log: &mut Vec<u8>, chunk: &[u8], max_bytes: u64) -> bool {
    let (part, whole) = log_room(chunk, log.len() as u64, max_bytes);
    log.extend_from_slice(part);
    if !whole {
        log.extend_from_slice(log_cut_note(max_bytes).as_bytes());
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_gone_processes_are_orphans() {
        assert!(!owner_is_gone(&owner()), "this process is alive");
        let dead = owner_of_pid(u32::MAX / 2);
        assert!(owner_is_gone(&dead), "{dead}");
        let other_machine = format!("{}@{}@another-machine", u32::MAX / 2, boot_id());
        assert!(!owner_is_gone(&other_machine), "a shared engine's other clients are not judged");
        assert!(owner_is_gone(&format!("{}@another-boot", u32::MAX / 2)), "the older form is this machine's");
        assert!(!owner_is_gone("not-an-owner"));
    }

    #[test]
    fn a_rotated_engine_copy_never_replaces_the_followed_start() {
        let whole = reconcile_log(b"line 1\n".to_vec(), b"line 1\nline 2\n".to_vec());
        assert_eq!(whole, b"line 1\nline 2\n");
        let rotated = String::from_utf8(reconcile_log(b"line 1\n".to_vec(), b"line 9\n".to_vec())).unwrap();
        assert!(
            rotated.starts_with("line 1\n\n[reprocheck: log cut at 7 bytes: the engine rotated"),
            "{rotated}"
        );
        assert!(!rotated.contains("line 9"), "{rotated}");
    }

    #[test]
    fn logs_are_cut_at_the_limit_with_a_note() {
        let mut log = Vec::new();
        assert!(append_capped(&mut log, b"abc", 5));
        assert!(!append_capped(&mut log, b"defg", 5));
        assert_eq!(String::from_utf8(log).unwrap(), format!("abcde{}", log_cut_note(5)));
        assert_eq!(log_room(b"xyz", 7, 5), (&b""[..], false));
        assert_eq!(log_room(b"", 5, 5), (&b""[..], true));
    }
}
