//! Many specs in one invocation against the real engine: builds bounded
//! across specs, one summary, an index page, the worst exit code.

use crate::common;

use common::*;
use reprocheck::engine::Engine as _;
use std::path::Path;
use std::time::Duration;

/// `dir/NAME.toml` and its source `dir/NAME.src/`, built by `script`.
fn spec(dir: &Path, name: &str, script: &str) {
    let source = dir.join(format!("{name}.src"));
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("build.sh"), script).unwrap();
    write_spec(dir, name, &source, SH_BUILD);
}

#[test]
fn a_batch_bounds_builds_across_specs_and_exits_with_the_worst_verdict() {
    let Some(engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let steady = "sleep 1; mkdir -p out; echo same > out/x\n";
    spec(&specs, "alpha", steady);
    spec(&specs, "bravo", steady);
    spec(&specs, "charlie", "sleep 1; mkdir -p out; head -c 16 /dev/urandom > out/x\n");
    std::fs::write(specs.join("delta.toml"), "name = \"delta\"\n[image\n").unwrap();
    let out = dir.path().join("results");
    let mut child = reprocheck_cmd(&[
        "check",
        specs.to_str().unwrap(),
        "--jobs",
        "2",
        "--vary",
        "none",
        "--out",
        out.to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Every container this batch creates carries its process as owner.
    let owner = owner_of(&child);
    let mut most = 0;
    while child.try_wait().unwrap().is_none() {
        most = most.max(block(engine.list_owned(&owner)).unwrap().len());
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(2), "a spec that cannot be read is the worst: {}", show(&run));
    // Two specs in flight want 4 builds; the shared slots allow 2.
    assert!((1..=2).contains(&most), "{most} containers at once with --jobs 2");
    assert_eq!(block(engine.list_owned(&owner)).unwrap().len(), 0, "every container removed");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let verdicts: Vec<(&str, &str)> = summary["specs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("alpha", "reproducible"),
            ("bravo", "reproducible"),
            ("charlie", "unreproducible"),
            ("delta", "error")
        ]
    );
    assert_eq!(summary["worst"], "error");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("4 specs: 1 error, 2 reproducible, 1 unreproducible"), "{}", show(&run));
    assert!(stdout.contains("delta.toml") && stdout.contains("expected"), "the parse error: {}", show(&run));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for name in ["alpha", "bravo", "charlie"] {
        assert!(index.contains(&format!("href=\"{name}/report.html\"")), "{index}");
        assert_eq!(report(&out.join(name))["spec"]["name"], name);
    }
}

#[test]
fn two_specs_with_one_name_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["a.toml", "b.toml"] {
        let text = format!("name = \"same\"\n[image]\ndigest = \"sha256:{}\"\n[source]\npath = \".\"\n[build]\ncommand = \"true\"\noutputs = [\"o\"]\n", "0".repeat(64));
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let out = dir.path().join("results");
    let run = reprocheck_cmd(&["check", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("DOCKER_HOST", "unix:///nonexistent/reprocheck-test.sock")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("are both named `same`"), "{}", show(&run));
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn an_explained_batch_names_each_culprit_in_its_row() {
    let Some(_engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "clean", &fixture("clean"), SH_BUILD);
    write_spec(dir.path(), "leaky", &fixture("leak-umask"), SH_BUILD);
    let out = dir.path().join("results");
    let list = dir.path().join("nightly.list");
    std::fs::write(&list, "# two specs\nclean.toml\nleaky.toml\n").unwrap();
    let run = reprocheck(&[
        "check",
        &format!("@{}", list.display()),
        "--explain",
        "--vary",
        "umask,user",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["specs"][0]["culprit"], "", "{summary}");
    assert_eq!(summary["specs"][1]["culprit"], "umask", "{summary}");
    assert!(out.join("leaky/explain/report.json").is_file());
}

#[test]
fn a_path_source_never_takes_in_the_batch_results_beside_it() {
    let Some(_engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("build.sh"),
        "mkdir -p out; find . -path ./out -prune -o -print | sort > out/x\n",
    )
    .unwrap();
    for name in ["one", "two"] {
        let text = format!(
            "name = \"{name}\"\n[image]\ndigest = \"{}\"\n[source]\npath = \".\"\n[build]\n{SH_BUILD}\n",
            pinned_digest()
        );
        std::fs::write(dir.path().join(format!("{name}.toml")), text).unwrap();
    }
    let out = dir.path().join("results");
    let batch = ["check", dir.path().to_str().unwrap(), "--vary", "none", "--out", out.to_str().unwrap()];
    let run = reprocheck(&batch);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let first = report(&out.join("one"))["source"]["nar_hash"].clone();
    // The second batch finds the first one's index.html and summary.json beside the specs.
    let run = reprocheck(&batch);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report(&out.join("one"))["source"]["nar_hash"], first, "the source is the same tree");
    let listing = std::fs::read_to_string(out.join("two/run-1/outputs/out/x")).unwrap();
    assert!(!listing.contains("results"), "{listing}");
}

#[test]
fn a_batch_keeps_image_builds_quiet_and_a_failure_carries_their_last_lines() {
    let Some(_engine) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A recipe whose sources hold no package: mmdebstrap fails at once, offline.
    let repo = root.join("repo");
    std::fs::create_dir(&repo).unwrap();
    for (file, what) in [("Packages", "packages"), ("Release", "release")] {
        let run = std::process::Command::new("apt-ftparchive")
            .args([what, "."])
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(run.status.success(), "apt-ftparchive: {}", show(&run));
        std::fs::write(repo.join(file), &run.stdout).unwrap();
    }
    let recipe = root.join("broken");
    std::fs::create_dir(&recipe).unwrap();
    std::fs::write(
        recipe.join("recipe.toml"),
        "name = \"reprocheck/test-quiet-batch\"\nsuite = \"bookworm\"\nvariant = \"apt\"\n\
         source_date_epoch = 1754697600\nsources = \"empty.list\"\n",
    )
    .unwrap();
    std::fs::write(recipe.join("empty.list"), format!("deb [trusted=yes] file:{} ./\n", repo.display()))
        .unwrap();
    for name in ["alpha", "bravo"] {
        let source = root.join(format!("{name}.src"));
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("build.sh"), "mkdir -p out; echo x > out/x\n").unwrap();
        std::fs::write(
            root.join(format!("{name}.toml")),
            format!("name = \"{name}\"\n[image]\nrecipe = \"broken\"\n[source]\npath = \"{name}.src\"\n[build]\n{SH_BUILD}\n"),
        )
        .unwrap();
    }
    let (alpha, bravo) = (root.join("alpha.toml"), root.join("bravo.toml"));
    let out = root.join("results");
    let run = reprocheck(&[
        "check",
        alpha.to_str().unwrap(),
        bravo.to_str().unwrap(),
        "--build-missing",
        "--vary",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(
        !stderr.lines().any(|l| l.starts_with("I: ") || l.starts_with("E: ")),
        "mmdebstrap's lines: {stderr}"
    );
    // The table's one line says why; the report holds the log's end.
    let why = "mmdebstrap failed (exit status: 25): apt-get update did not find any indices";
    assert_eq!(stdout.matches(why).count(), 2, "{}", show(&run));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("alpha/report.json")).unwrap()).unwrap();
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("; its last messages:\n  I: "), "{error}");
    assert!(error.ends_with("  E: mmdebstrap failed to run"), "{error}");

    // One spec on its own still shows mmdebstrap's progress as it goes.
    let single = root.join("single");
    let run = reprocheck(&[
        "check",
        alpha.to_str().unwrap(),
        "--build-missing",
        "--vary",
        "none",
        "--out",
        single.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("I: running apt-get update")), "{stderr}");
    assert!(stderr.contains("its messages are above"), "{stderr}");
}
