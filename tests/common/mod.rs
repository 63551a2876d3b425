//! Helpers shared by the test binaries (tests/engine and tests/local): a
//! real engine, the pinned image, specs written into temporary directories,
//! and the built binary.

pub mod interop;
pub mod registry;
pub mod remote;

use reprocheck::engine::docker::DockerEngine;
use reprocheck::engine::Engine;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Once, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture project under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// Set to 1 to skip the tests that need a container engine when none answers.
pub const SKIP_VARIABLE: &str = "REPROCHECK_SKIP_ENGINE_TESTS";

/// Who is using the engine. The tests of a binary run in parallel threads
/// of one process, and one of them (engine_restart) stops and restarts the
/// engine: every other test that uses the engine holds this shared, and
/// that one holds it alone, so it waits for the tests under way to finish,
/// and the tests after it start once the engine is back.
static ENGINE_USERS: RwLock<()> = RwLock::new(());

/// How the current test's thread holds [`ENGINE_USERS`].
enum EngineHold {
    Shared { _guard: RwLockReadGuard<'static, ()> },
    Alone { _guard: RwLockWriteGuard<'static, ()> },
}

thread_local! {
    /// The hold of the test running on this thread. libtest runs each test
    /// on a thread of its own and joins it, so the hold lasts from the
    /// test's first [`engine`] (or [`engine_alone`]) to its end, through
    /// every helper it calls and whatever it drops early; it is taken once
    /// per test, so nested calls never wait on themselves.
    static ENGINE_HOLD: RefCell<Option<EngineHold>> = const { RefCell::new(None) };
}

/// Makes the current test the engine's only user until it ends: waits for
/// every test using it to finish, and keeps others from starting. For a test
/// that stops the engine; call it before anything that uses the engine.
pub fn engine_alone() {
    ENGINE_HOLD.with(|hold| {
        let mut hold = hold.borrow_mut();
        assert!(hold.is_none(), "engine_alone() must come before the test's first engine()");
        let asked = std::time::Instant::now();
        // A poisoned lock only says another holder panicked; the engine is still there.
        let guard = ENGINE_USERS.write().unwrap_or_else(PoisonError::into_inner);
        eprintln!("the engine is this test's alone, after waiting {:?} for the others", asked.elapsed());
        *hold = Some(EngineHold::Alone { _guard: guard });
    });
}

/// Shares the engine with the other tests until the current test ends,
/// unless it already holds it (shared or alone).
fn share_engine() {
    ENGINE_HOLD.with(|hold| {
        let mut hold = hold.borrow_mut();
        if hold.is_none() {
            let guard = ENGINE_USERS.read().unwrap_or_else(PoisonError::into_inner);
            *hold = Some(EngineHold::Shared { _guard: guard });
        }
    });
}

/// Connects to the engine. Without one the test fails, naming the fix,
/// unless REPROCHECK_SKIP_ENGINE_TESTS=1 asks to skip: then a SKIPPED line
/// goes straight to the terminal (libtest hides a passing test's output).
/// Every test that uses the engine calls this first (as it must anyway, to
/// be skipped without one): from then on it shares the engine with the
/// other tests until it ends, and an engine restart waits for it.
pub fn engine() -> Option<DockerEngine> {
    share_engine();
    match block(DockerEngine::connect(
        &reprocheck::engine::endpoint::from_environment(&reprocheck::engine::endpoint::ProcessEnv).unwrap(),
    )) {
        Ok(engine) => Some(engine),
        Err(e) if std::env::var(SKIP_VARIABLE).as_deref() == Ok("1") => {
            skipped(&format!("no container engine ({e:#}); {SKIP_VARIABLE}=1"));
            None
        }
        Err(e) => panic!(
            "end-to-end tests need a container engine, and none answers: {e:#}\n\
             start one (`dockerd &`, or set DOCKER_HOST), or set {SKIP_VARIABLE}=1 to skip these tests"
        ),
    }
}

/// Says on the terminal, past libtest's capture, that a test was skipped.
pub fn skipped(why: &str) {
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
}

/// Runs an async call to completion on a fresh runtime.
pub fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(future)
}

/// The bundled recipe every test's image comes from.
pub const RECIPE: &str = "specs/containers/debian-trixie";

/// The image id the bundled recipe's lock pins: the one every test uses.
/// Call [`require_image`] (or [`ready_engine`]) first.
pub fn pinned_digest() -> String {
    let text = std::fs::read_to_string(root().join(RECIPE).join("packages.lock"))
        .expect("the bundled recipe has no packages.lock: call require_image first");
    let doc: toml::Table = text.parse().unwrap();
    doc["image"].as_str().unwrap().to_string()
}

/// Makes sure the image the bundled recipe's lock pins is in the engine:
/// built from the lock when it is missing, or, on a machine that has no
/// lock yet, resolved and locked (first use). At most once per test binary,
/// also when it fails: every later caller gets the same failure.
pub fn require_image(engine: &DockerEngine) {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let outcome = BUILT.get_or_init(|| {
        let lock = root().join(RECIPE).join("packages.lock");
        if lock.exists() && block(engine.inspect_image(&pinned_digest())).unwrap().is_some() {
            return Ok(());
        }
        eprintln!("the bundled image is missing; building it from {RECIPE}");
        let run = reprocheck(&["image", "build", RECIPE]);
        if !run.status.success() {
            return Err(format!("building the toolchain image failed: {}", show(&run)));
        }
        match block(engine.inspect_image(&pinned_digest())).unwrap() {
            Some(_) => Ok(()),
            None => Err(format!("the recipe built an image, but not the one its lock pins: {}", show(&run))),
        }
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
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

    /// A spec building a source made of one `build.sh` holding `script`
    /// (run as `sh build.sh`, outputs `out`).
    pub fn script(name: &str, script: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join(format!("{name}.script"));
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("build.sh"), script).unwrap();
        let spec = write_spec(tmp.path(), name, &source, SH_BUILD);
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

/// `source` as a spec in `dir` may name it: a spec reaches only files under
/// its own directory, so a source elsewhere (a fixture) is copied to
/// `dir/NAME.source` with `cp -a` (modes, mtimes and links kept).
pub fn source_beside(dir: &Path, name: &str, source: &Path) -> PathBuf {
    if source.starts_with(dir) {
        return source.to_path_buf();
    }
    let copy = dir.join(format!("{name}.source"));
    let cp = Command::new("cp").arg("-a").arg(source).arg(&copy).output().expect("running cp");
    assert!(cp.status.success(), "copying {} into the spec's directory: {}", source.display(), show(&cp));
    copy
}

/// Writes `dir/NAME.toml` building `source` (see [`source_beside`]) on the
/// pinned image; `build_table` is the body of [build], optionally followed
/// by further tables.
pub fn write_spec(dir: &Path, name: &str, source: &Path, build_table: &str) -> PathBuf {
    let source = source_beside(dir, name, source);
    let spec = format!(
        "name = \"{name}\"\n[image]\ndigest = \"{}\"\nname = \"reprocheck/debian-trixie\"\n\
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

/// Makes the example's git repository, specs/hello-release.git, once per
/// test binary. specs/make-repo.sh replaces the repository when it is
/// missing, so two runs at once could each remove what the other made.
pub fn example_repo() {
    static MADE: Once = Once::new();
    MADE.call_once(|| {
        let made = Command::new("sh").arg("specs/make-repo.sh").current_dir(root()).output().unwrap();
        assert!(made.status.success(), "{}", show(&made));
    });
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

/// The owner label value of the containers a child reprocheck creates.
pub fn owner_of(child: &std::process::Child) -> String {
    reprocheck::engine::owner_of_pid(child.id())
}

/// The mounts in /proc/mounts that lie under `dir`: the mounts of a
/// reprocheck run whose TMPDIR the test set to `dir`, and no one else's.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let dir = dir.to_string_lossy().to_string();
    mounts
        .lines()
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|m| m.starts_with(&dir)))
        .map(str::to_string)
        .collect()
}

/// The mounts of run `run_id` (its scratch directory carries the id).
pub fn mounts_of_run(run_id: &str) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let tag = format!("reprocheck-{run_id}-");
    mounts.lines().filter(|l| l.contains(&tag)).map(str::to_string).collect()
}

/// Containers of run `run_id` still in the engine.
pub fn leftovers(engine: &DockerEngine, run_id: &str) -> usize {
    block(engine.list_labelled(Some(run_id))).unwrap().len()
}

/// The local engine's process (dockerd, or the Podman service serving
/// DOCKER_HOST): its pid and command line.
pub fn engine_process(kind: &str) -> (i32, Vec<String>) {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into())
            .collect();
        let Some(program) = argv.first() else { continue };
        let is_engine = match kind {
            "podman" => {
                let host = std::env::var("DOCKER_HOST").unwrap_or_default();
                program.ends_with("podman") && argv.iter().any(|a| a == "service") && argv.contains(&host)
            }
            _ => program.ends_with("dockerd"),
        };
        if is_engine {
            return (pid, argv);
        }
    }
    panic!("cannot find the {kind} engine's process");
}
