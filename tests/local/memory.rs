//! An in-process engine for tests of the orchestration (sessions, explain's
//! rounds, verify's verdicts, cleanup): containers are directories, a build
//! is a Rust closure that sees the run's environment and writes its outputs.
//! It runs nothing and isolates nothing, so it never replaces the
//! end-to-end tests against Docker and Podman; it tests what reprocheck
//! decides, not what the engine does.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use reprocheck::engine::{ByteStream, ContainerConfig, Engine, EngineInfo, ImageInfo, LABEL, OWNER_LABEL};
use reprocheck::errors::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a build sees: its environment and its build directory (the
/// uploaded source), where it writes its outputs.
pub struct Build<'a> {
    /// The container's environment.
    pub env: &'a BTreeMap<String, String>,
    /// The build directory on the host.
    pub dir: &'a Path,
    /// The container's hostname.
    // For a build that leaks its hostname (the domain_host factor): no test
    // here has one yet, and a build should see what a container would.
    #[allow(dead_code)]
    pub hostname: &'a str,
}

/// A build: writes outputs under `dir`, returns the exit code and the log.
pub type BuildFn = Arc<dyn Fn(&Build) -> (i64, String) + Send + Sync>;

struct Container {
    config: ContainerConfig,
    root: PathBuf,
    exit: Option<i64>,
    log: Vec<u8>,
    /// Where start() sends the log when attach_output() was called.
    attached: Option<tokio::sync::oneshot::Sender<Vec<u8>>>,
}

/// The engine. `image` is the one image it holds.
pub struct MemoryEngine {
    info: EngineInfo,
    image: String,
    build: BuildFn,
    root: tempfile::TempDir,
    containers: Mutex<BTreeMap<String, Container>>,
    /// Every container created, by name, in order (they are removed after).
    pub created: Mutex<Vec<String>>,
}

impl MemoryEngine {
    /// An engine holding `image` whose containers run `build`.
    pub fn new(image: &str, build: BuildFn) -> MemoryEngine {
        MemoryEngine {
            info: EngineInfo {
                kind: "memory".into(),
                version: "0".into(),
                api_version: "1.41".into(),
                endpoint: "memory://".into(),
                seccomp_profile: None,
                platform: "linux/amd64".into(),
            },
            image: image.to_string(),
            build,
            root: tempfile::tempdir().unwrap(),
            containers: Mutex::new(BTreeMap::new()),
            created: Mutex::new(Vec::new()),
        }
    }

    /// Containers that exist now.
    pub fn live(&self) -> usize {
        self.containers.lock().unwrap().len()
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T> {
        let mut containers = self.containers.lock().unwrap();
        let container = containers.get_mut(id).with_context(|| format!("no such container {id}"))?;
        Ok(f(container))
    }
}

/// What the factor probe prints on a capable host.
fn probe_output() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    format!(
        "nproc=2\nuname26=ok\naslr=ok\net=yes\ndate={now}\ndate_err=\nutime_now=ok\ntz=-1200 | +1400\n\
         locale=UTF-8 Thursday | UTF-8 neljapäev\n"
    )
}

#[async_trait]
impl Engine for MemoryEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    // No bind mounts and no reverser in its probe answer: fileordering is not varied.
    fn archive_sees_bind_mounts(&self) -> bool {
        false
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        Ok((reference == self.image).then(|| ImageInfo {
            id: self.image.clone(),
            repo_digests: Vec::new(),
            repo_tags: Vec::new(),
            created: None,
        }))
    }

    async fn load_image(&self, _archive: &Path) -> Result<()> {
        bail!("the in-process engine cannot load images")
    }

    async fn create(&self, config: &ContainerConfig) -> Result<String> {
        ensure!(config.image == self.image, "no such image {}", config.image);
        let id = format!("m{:04}", self.created.lock().unwrap().len());
        let root = self.root.path().join(&id);
        std::fs::create_dir_all(&root)?;
        self.created.lock().unwrap().push(config.name.clone());
        let container =
            Container { config: config.clone(), root, exit: None, log: Vec::new(), attached: None };
        self.containers.lock().unwrap().insert(id.clone(), container);
        Ok(id)
    }

    async fn upload(&self, id: &str, tar: ByteStream) -> Result<()> {
        let root = self.with(id, |c| c.root.clone())?;
        let tar: Vec<Bytes> = tar.try_collect().await.context("reading the upload")?;
        tar::Archive::new(&tar.concat()[..]).unpack(&root).context("unpacking the upload")
    }

    async fn start(&self, id: &str) -> Result<()> {
        let (config, root) = self.with(id, |c| (c.config.clone(), c.root.clone()))?;
        let (exit, log) = if config.name.ends_with("-probe") {
            (0, probe_output())
        } else {
            let dir = root.join(config.working_dir.trim_start_matches('/'));
            (self.build)(&Build { env: &config.env, dir: &dir, hostname: &config.hostname })
        };
        self.with(id, |c| {
            c.exit = Some(exit);
            c.log = log.into_bytes();
            if let Some(attached) = c.attached.take() {
                let _ = attached.send(c.log.clone());
            }
        })
    }

    async fn wait(&self, id: &str) -> Result<i64> {
        self.with(id, |c| c.exit.unwrap_or(0))
    }

    async fn logs(&self, id: &str, max_bytes: u64) -> Result<Vec<u8>> {
        self.with(id, |c| c.log.iter().take(max_bytes as usize).copied().collect())
    }

    async fn attach_output(&self, id: &str) -> Result<ByteStream> {
        // Attached before the start: the log arrives when start() runs the build.
        let (send, receive) = tokio::sync::oneshot::channel();
        self.with(id, |c| c.attached = Some(send))?;
        Ok(futures_util::stream::once(async move { Ok(Bytes::from(receive.await.unwrap_or_default())) })
            .boxed())
    }

    async fn download(&self, id: &str, path: &str) -> Result<Option<ByteStream>> {
        let root = self.with(id, |c| c.root.clone())?;
        let full = root.join(path.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&full) else { return Ok(None) };
        let name = full.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "build".into());
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        if meta.is_dir() {
            builder.append_dir_all(&name, &full)?;
        } else {
            builder.append_path_with_name(&full, &name)?;
        }
        let tar = Bytes::from(builder.into_inner()?);
        Ok(Some(futures_util::stream::once(async move { Ok(tar) }).boxed()))
    }

    async fn remove(&self, id: &str) -> Result<()> {
        if let Some(c) = self.containers.lock().unwrap().remove(id) {
            let _ = std::fs::remove_dir_all(c.root);
        }
        Ok(())
    }

    async fn kill(&self, id: &str) -> Result<()> {
        let _ = self.with(id, |c| c.exit = Some(137));
        Ok(())
    }

    async fn written_bytes(&self, _id: &str) -> Result<Option<u64>> {
        Ok(Some(0))
    }

    async fn list_labelled(&self, value: Option<&str>) -> Result<Vec<String>> {
        let containers = self.containers.lock().unwrap();
        Ok(containers
            .iter()
            .filter(|(_, c)| match (c.config.labels.get(LABEL), value) {
                (Some(label), Some(value)) => label == value,
                (Some(_), None) => true,
                (None, _) => false,
            })
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn list_owned(&self, owner: &str) -> Result<Vec<String>> {
        let containers = self.containers.lock().unwrap();
        Ok(containers
            .iter()
            .filter(|(_, c)| c.config.labels.get(OWNER_LABEL).is_some_and(|o| o == owner))
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn list_owners(&self) -> Result<Vec<(String, Option<String>)>> {
        let containers = self.containers.lock().unwrap();
        Ok(containers.iter().map(|(id, c)| (id.clone(), c.config.labels.get(OWNER_LABEL).cloned())).collect())
    }
}
