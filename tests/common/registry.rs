//! A real registry on loopback for the registry-image tests: Debian's
//! `docker-registry` (the distribution project's server), filled with
//! skopeo and umoci. Each test pushes its own variant of the bundled image
//! (a label with its own id changes the config, so the engine lacks it).
//!
//! The registry listens on a fixed port ([`ADDRESS`]), because Podman pulls
//! over plain HTTP only from registries its registries.conf lists as
//! insecure (.ci/run lists this one before it starts the Podman service).
//! A registry already answering there (an earlier test binary's) is reused;
//! every repository name carries a test's own id.

use super::{block, pinned_digest, root, show};
use reprocheck::engine::docker::DockerEngine;
use reprocheck::engine::Engine;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the test registry listens.
pub const ADDRESS: &str = "127.0.0.1:47123";

/// Where the test registry that wants a password listens (htpasswd, basic auth).
pub const AUTH_ADDRESS: &str = "127.0.0.1:47124";

/// The user and password [`AUTH_ADDRESS`] accepts (loopback only, a test's own).
pub const AUTH_USER: (&str, &str) = ("rebuilder", "reprocheck-test-password");

/// The file .ci/run writes so that Podman pulls from both over HTTP.
pub const PODMAN_INSECURE_CONF: &str = "/etc/containers/registries.conf.d/reprocheck-tests.conf";

fn answers(address: &str) -> bool {
    // A registry that wants a password answers 401: it is there all the same.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "2",
            &format!("http://{address}/v2/"),
        ])
        .output();
    out.map(|o| matches!(&o.stdout[..], b"200" | b"401")).unwrap_or(false)
}

/// Starts the registry unless one answers at [`ADDRESS`]; its data lives in
/// target/tmp/test-registry.
pub fn start() {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = STARTED.get_or_init(|| serve(ADDRESS, "test-registry", "")) {
        panic!("{e}");
    }
}

/// Starts the registry that wants [`AUTH_USER`] unless one answers at
/// [`AUTH_ADDRESS`]; its data lives in target/tmp/test-registry-auth.
pub fn start_authenticated() {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = STARTED.get_or_init(|| {
        let dir = root().join("target/tmp/test-registry-auth");
        std::fs::create_dir_all(&dir).unwrap();
        let htpasswd = dir.join("htpasswd");
        // The distribution registry reads bcrypt only; Python's crypt makes it.
        let hash = Command::new("python3")
            .args([
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                AUTH_USER.1,
            ])
            .output()
            .map_err(|e| format!("running python3: {e}"))?;
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
        if !hash.starts_with("$2") {
            return Err(format!("python3 made no bcrypt hash: {hash:?}"));
        }
        std::fs::write(&htpasswd, format!("{}:{hash}\n", AUTH_USER.0)).unwrap();
        let auth =
            format!("auth:\n  htpasswd:\n    realm: reprocheck-test\n    path: {}\n", htpasswd.display());
        serve(AUTH_ADDRESS, "test-registry-auth", &auth)
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

fn serve(address: &str, name: &str, extra_config: &str) -> Result<(), String> {
    if answers(address) {
        return Ok(());
    }
    let dir = root().join("target/tmp").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             {extra_config}http:\n  addr: {address}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let mut serve = Command::new("docker-registry");
    serve
        .args(["serve", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // It outlives this process: it must not keep what this process inherited
    // open (a `flock` on the engine lock, a pipe a caller waits on).
    unsafe {
        use std::os::unix::process::CommandExt;
        serve.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    serve.spawn().map_err(|e| format!("starting docker-registry (apt-get install docker-registry): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if answers(address) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("docker-registry did not answer at {address}: see {}", dir.join("registry.log").display()))
}

/// Whether the engine under test can pull from the test registries: Docker
/// always (loopback is insecure by default); Podman only with .ci/run's
/// registries.conf entry for both, read when its service started.
pub fn engine_can_pull(engine: &DockerEngine) -> bool {
    engine.info().kind != "podman"
        || std::fs::read_to_string(PODMAN_INSECURE_CONF)
            .is_ok_and(|c| c.contains(ADDRESS) && c.contains(AUTH_ADDRESS))
}

/// The bundled image as an OCI layout (`base` tag), made once per process.
fn base_layout(engine: &DockerEngine) -> PathBuf {
    static LAYOUT: OnceLock<PathBuf> = OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("reprocheck-registry-base-").tempdir().unwrap().keep();
            let archive = dir.join("bundled.tar");
            block(engine.save_image(&pinned_digest(), &archive)).unwrap();
            let layout = dir.join("layout");
            run(Command::new("skopeo").args([
                "copy",
                "-q",
                &format!("docker-archive:{}", archive.display()),
                &format!("oci:{}:base", layout.display()),
            ]));
            std::fs::remove_file(&archive).unwrap();
            layout
        })
        .clone()
}

/// An image pushed by a test.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `ADDRESS/REPO:TAG`.
    pub tagged: String,
    /// The manifest digest, as skopeo reads it back from the registry.
    pub manifest: String,
    /// The config digest: the id the engine gives the pulled image.
    pub config: String,
}

/// Pushes the bundled image with the label `reprocheck.test=<label>` as
/// `ADDRESS/<repository>:<tag>`.
pub fn push_variant(engine: &DockerEngine, label: &str, repository: &str, tag: &str) -> Pushed {
    start();
    push_variant_to(engine, ADDRESS, None, label, repository, tag)
}

/// [`push_variant`] to the registry at `address`, with `credentials`.
pub fn push_variant_to(
    engine: &DockerEngine,
    address: &str,
    credentials: Option<(&str, &str)>,
    label: &str,
    repository: &str,
    tag: &str,
) -> Pushed {
    let creds = credentials.map(|(user, password)| format!("{user}:{password}"));
    let layout = base_layout(engine);
    // umoci edits the layout in place: one test at a time.
    static LAYOUT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = LAYOUT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let variant = format!("v-{label}");
    run(Command::new("umoci").args([
        "config",
        "--image",
        &format!("{}:base", layout.display()),
        "--tag",
        &variant,
        "--config.label",
        &format!("reprocheck.test={label}"),
    ]));
    let tagged = format!("{address}/{repository}:{tag}");
    let mut copy = Command::new("skopeo");
    copy.args(["copy", "-q", "--dest-tls-verify=false"]);
    if let Some(creds) = &creds {
        copy.args(["--dest-creds", creds]);
    }
    run(copy.args([&format!("oci:{}:{variant}", layout.display()), &format!("docker://{tagged}")]));
    let inspect = |raw: bool| {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--tls-verify=false"]);
        if let Some(creds) = &creds {
            cmd.args(["--creds", creds]);
        }
        if raw {
            cmd.arg("--raw");
        }
        let out = run(cmd.arg(format!("docker://{tagged}")));
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()
    };
    let manifest = inspect(false)["Digest"].as_str().unwrap().to_string();
    let config = inspect(true)["config"]["digest"].as_str().unwrap().to_string();
    Pushed { tagged, manifest, config }
}

/// PUTs an OCI index to the registry as `repository:tag`: one entry per
/// (platform, manifest digest); returns the index digest.
pub fn push_index(repository: &str, tag: &str, entries: &[(&str, &str, &Pushed)]) -> String {
    let manifests: Vec<serde_json::Value> = entries
        .iter()
        .map(|(os, architecture, pushed)| {
            let raw = run(Command::new("skopeo").args([
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{ADDRESS}/{repository}@{}", pushed.manifest),
            ]));
            let media_type = serde_json::from_slice::<serde_json::Value>(&raw).unwrap()["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                .to_string();
            serde_json::json!({
                "mediaType": media_type,
                "digest": pushed.manifest,
                "size": raw.len(),
                "platform": {"os": os, "architecture": architecture},
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let body = serde_json::to_vec(&index).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    run(Command::new("curl").args([
        "-sf",
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/vnd.oci.image.index.v1+json",
        "--data-binary",
        &format!("@{}", file.path().display()),
        &format!("http://{ADDRESS}/v2/{repository}/manifests/{tag}"),
    ]));
    reprocheck::digest::Digest::of_bytes(&body).to_string()
}

/// Removes image `id` from the engine under test (a test's own pulled image).
pub fn remove_image(engine: &DockerEngine, id: &str) {
    let socket = super::remote::engine_socket();
    let tool = if engine.info().kind == "podman" { "podman" } else { "docker" };
    let mut cmd = Command::new(tool);
    match tool {
        "podman" => cmd.args(["--url", &format!("unix://{}", socket.display())]),
        _ => cmd.args(["-H", &format!("unix://{}", socket.display())]),
    };
    let _ = cmd.args(["rmi", "-f", id]).output();
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", show(&out));
    out.stdout
}
