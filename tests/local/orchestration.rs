//! The orchestration, without Docker: sessions, explain's rounds, verify's
//! verdicts and the cleanup, driven through the library with the
//! in-process engine of `memory` (tests/local/memory.rs), whose builds are
//! closures. What the engine itself does (isolation, limits, collection) is
//! tested end to end against Docker and Podman; these tests run even where
//! no engine is.

use crate::memory::{Build, BuildFn, MemoryEngine};
use reprocheck::check::{self, CheckOptions, Mode};
use reprocheck::engine::Connector;
use reprocheck::report::Verdict;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An image id only the in-process engine holds.
fn image() -> String {
    format!("sha256:{}", "6d".repeat(32))
}

/// A spec in `dir` building `dir/src` (one file) on the in-process image.
fn spec(dir: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.c"), "int main(void) { return 0; }\n").unwrap();
    let file = dir.join("s.toml");
    let text = format!(
        "name = \"orchestrated\"\n[image]\ndigest = \"{}\"\n[source]\npath = \"src\"\n\
         [build]\ncommand = \"make\"\noutputs = [\"out\"]\n{extra}",
        image()
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// Writes `out/NAME` = `body` under the build directory.
fn write_output(build: &Build, name: &str, body: &str) {
    std::fs::create_dir_all(build.dir.join("out")).unwrap();
    std::fs::write(build.dir.join("out").join(name), body).unwrap();
}

fn options(engine: &Arc<MemoryEngine>, out: &Path) -> CheckOptions {
    CheckOptions {
        engine: Connector::Open(engine.clone()),
        out: Some(out.to_path_buf()),
        ..Default::default()
    }
}

fn engine(build: impl Fn(&Build) -> (i64, String) + Send + Sync + 'static) -> Arc<MemoryEngine> {
    let build: BuildFn = Arc::new(build);
    Arc::new(MemoryEngine::new(&image(), build))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reproducible_build_passes_and_every_container_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine(|build| {
        write_output(build, "a", "same every time");
        (0, "built\n".into())
    });
    let (report, _) =
        check::run(&spec(tmp.path(), ""), &options(&engine, &tmp.path().join("out")), Mode::Check)
            .await
            .unwrap();
    assert_eq!(report.verdict, Verdict::Reproducible, "{:?}", report.error);
    assert_eq!(report.runs.len(), 2);
    assert_eq!(engine.live(), 0, "every container removed");
    // Two builds, a factor probe unless an earlier test's is cached, and the
    // (never started) container the SBOM reads the image's dpkg database from.
    let created = engine.created.lock().unwrap().clone();
    let builds = created.iter().filter(|name| !name.ends_with("-probe") && !name.ends_with("-sbom")).count();
    assert_eq!(builds, 2, "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_blames_the_one_factor_a_build_leaks_in_few_builds() {
    let tmp = tempfile::tempdir().unwrap();
    // The build records its time zone and nothing else that varies.
    let engine = engine(|build| {
        write_output(build, "stable", "x");
        write_output(build, "tz", build.env.get("TZ").map_or("unset", |s| s.as_str()));
        (0, String::new())
    });
    let (report, _) =
        check::run(&spec(tmp.path(), ""), &options(&engine, &tmp.path().join("out")), Mode::Explain)
            .await
            .unwrap();
    assert_eq!(report.verdict, Verdict::Unreproducible, "{:?}", report.error);
    let explanation = report.explanation.expect("an explanation");
    assert!(explanation.nondeterministic.is_empty(), "{:?}", explanation.nondeterministic);
    let blamed: Vec<(&str, &Vec<Vec<String>>)> =
        explanation.blamed.iter().map(|b| (b.path.as_str(), &b.culprits)).collect();
    assert_eq!(blamed, vec![("out/tz", &vec![vec!["timezone".to_string()]])]);
    assert!(explanation.builds <= 8, "isolated in {} builds", explanation.builds);
    assert_eq!(engine.live(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_calls_a_random_output_nondeterministic_and_blames_no_factor() {
    let tmp = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU64::new(0);
    let engine = engine(move |build| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        write_output(build, "random", &format!("build {n}"));
        (0, String::new())
    });
    let (report, _) =
        check::run(&spec(tmp.path(), ""), &options(&engine, &tmp.path().join("out")), Mode::Explain)
            .await
            .unwrap();
    let explanation = report.explanation.expect("an explanation");
    assert_eq!(explanation.nondeterministic, vec!["out/random".to_string()]);
    assert!(explanation.blamed.is_empty(), "no factor is blamed for noise: {:?}", explanation.blamed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_an_error_that_quotes_its_log_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine(|_| (3, "compiling\nerror: no rule to make target\n".into()));
    let (report, _) =
        check::run(&spec(tmp.path(), ""), &options(&engine, &tmp.path().join("out")), Mode::Check)
            .await
            .unwrap();
    assert_eq!(report.verdict, Verdict::Error);
    let error = report.error.unwrap_or_default();
    assert!(error.contains("exit code 3") && error.contains("no rule to make target"), "{error}");
    assert_eq!(engine.live(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_matches_the_published_digest_and_rejects_another() {
    let tmp = tempfile::tempdir().unwrap();
    let engine = engine(|build| {
        write_output(build, "pkg.txt", "release contents\n");
        (0, String::new())
    });
    use sha2::Digest as _;
    let good = hex::encode(sha2::Sha256::digest(b"release contents\n"));
    for (digest, verdict) in [(good.clone(), Verdict::Verified), ("0".repeat(64), Verdict::NotVerified)] {
        let dir = tmp.path().join(&digest[..8]);
        let spec = spec(&dir, &format!("[expect]\n\"out/pkg.txt\" = \"sha256:{digest}\"\n"));
        let (report, _) = check::run(&spec, &options(&engine, &dir.join("out")), Mode::Verify).await.unwrap();
        assert_eq!(report.verdict, verdict, "{:?}", report.error);
    }
    assert_eq!(engine.live(), 0);
}
