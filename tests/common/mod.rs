//! Helpers shared by the end-to-end tests: a real engine, the pinned image,
//! specs written into temporary directories, and the built binary.
#![allow(dead_code)]

use reprocheck::engine::docker::DockerEngine;
use reprocheck::engine::Engine;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture project under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// Connects to the engine. Without one, the test is skipped, unless
/// REPROCHECK_REQUIRE_DOCKER=1, where it fails.
pub fn engine() -> Option<DockerEngine> {
    match block(DockerEngine::connect()) {
        Ok(engine) => Some(engine),
        Err(e) if std::env::var("REPROCHECK_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("REPROCHECK_REQUIRE_DOCKER=1 but no container engine answers: {e:#}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED: no container engine ({e:#}); set REPROCHECK_REQUIRE_DOCKER=1 to fail instead"
            );
            None
        }
    }
}

/// Runs an async call to completion on a fresh runtime.
pub fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

/// The toolchain image pinned by the example spec: the one every test uses.
pub fn pinned_digest() -> String {
    let text = std::fs::read_to_string(root().join("specs/hello.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["image"]["digest"].as_str().unwrap().to_string()
}

/// Makes sure the pinned image is in the engine, building it from the
/// bundled recipe once per test binary when it is missing. Fails when the
/// recipe no longer yields the pinned id (the mirror state moved on).
pub fn require_image(engine: &DockerEngine) {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let digest = pinned_digest();
    if *built || block(engine.inspect_image(&digest)).unwrap().is_some() {
        *built = true;
        return;
    }
    eprintln!("the pinned image {digest} is missing; building it from containers/debian-bookworm");
    let run = reprocheck(&["image", "build", "containers/debian-bookworm"]);
    assert!(run.status.success(), "building the toolchain image failed: {}", show(&run));
    assert!(
        block(engine.inspect_image(&digest)).unwrap().is_some(),
        "the recipe built {} but specs/hello.toml pins {digest}: the mirror state moved on; re-pin with `reprocheck lock specs/hello.toml`",
        String::from_utf8_lossy(&run.stdout).trim()
    );
    *built = true;
}

/// The engine, with the pinned image present; `None` (skip) without an engine.
pub fn ready_engine() -> Option<DockerEngine> {
    let engine = engine()?;
    require_image(&engine);
    Some(engine)
}

/// One fixture's spec in a temporary directory, with a results directory.
pub struct Case {
    _tmp: tempfile::TempDir,
    /// The spec file.
    pub spec: PathBuf,
    /// The results directory passed as --out.
    pub out: PathBuf,
}

impl Case {
    /// A spec building tests/fixtures/NAME; `build_table` as in [`write_spec`].
    pub fn new(name: &str, build_table: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let spec = write_spec(tmp.path(), name, &fixture(name), build_table);
        let out = tmp.path().join("results");
        Case { _tmp: tmp, spec, out }
    }

    /// `reprocheck check SPEC --out OUT ARGS...`, not yet run.
    pub fn check_cmd(&self, args: &[&str]) -> Command {
        let mut all = vec!["check", self.spec.to_str().unwrap(), "--out", self.out.to_str().unwrap()];
        all.extend_from_slice(args);
        reprocheck_cmd(&all)
    }

    /// Runs `reprocheck check SPEC --out OUT ARGS...`.
    pub fn check(&self, args: &[&str]) -> Output {
        self.check_cmd(args).output().expect("running reprocheck")
    }

    /// The report.json the check wrote.
    pub fn report(&self) -> serde_json::Value {
        report(&self.out)
    }
}

/// The usual [build] body of the fixtures.
pub const SH_BUILD: &str = "command = \"sh build.sh\"\noutputs = [\"out\"]";

/// Writes `dir/NAME.toml` building `source` on the pinned image; `build_table`
/// is the body of [build], optionally followed by further tables.
pub fn write_spec(dir: &Path, name: &str, source: &Path, build_table: &str) -> PathBuf {
    let spec = format!(
        "name = \"{name}\"\n[image]\ndigest = \"{}\"\nname = \"reprocheck/debian-bookworm\"\n\
         [source]\npath = \"{}\"\n[build]\n{build_table}\n",
        pinned_digest(),
        source.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, spec).unwrap();
    path
}

/// Runs the reprocheck binary from the repository root.
pub fn reprocheck(args: &[&str]) -> Output {
    reprocheck_cmd(args).output().expect("running reprocheck")
}

/// The reprocheck binary as a command, for tests that need more control.
pub fn reprocheck_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reprocheck"));
    cmd.args(args).current_dir(root());
    cmd
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The report.json in `dir`.
pub fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json is written");
    serde_json::from_str(&text).unwrap()
}

/// Containers still carrying the label of `run_id`.
pub fn leftovers(engine: &DockerEngine, run_id: &str) -> usize {
    block(engine.list_labelled(Some(run_id))).unwrap().len()
}
