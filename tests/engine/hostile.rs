//! Builds whose outputs attack the collector, against the real engine. Each
//! is either refused with a clear message or recorded safely; none panics,
//! and nothing is written outside the results directory.
//!
//! What a build cannot put into the engine's archive stream (`../` names,
//! absolute names, a write through a symlink, hardlinks to host files) is
//! fed to the collector directly by its unit tests and by the fuzzer.

use crate::common;

use common::*;
use reprocheck::engine::Engine;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Runs tests/fixtures/hostile-NAME (control environment only, so the
/// attack is the only thing under test); returns the output and the report.
fn attack(name: &str, extra: &str) -> (tempfile::TempDir, std::process::Output, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = fixture(&format!("hostile-{name}"));
    let spec = write_spec(tmp.path(), name, &fixture, &format!("{SH_BUILD}\n{extra}"));
    let out = tmp.path().join("results");
    let run =
        reprocheck(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--vary", "none"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked"), "{name}: {}", show(&run));
    assert_contained(tmp.path(), name);
    let report = report(&out);
    (tmp, run, report)
}

/// The temporary directory holds the spec and the results, and the results
/// only reprocheck's own files, whatever the build did.
fn assert_contained(dir: &Path, name: &str) {
    let mut top: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    // The spec, the fixture's copy beside it (see write_spec), the results.
    let mut expected = vec![format!("{name}.toml"), format!("{name}.source"), "results".to_string()];
    expected.sort();
    assert_eq!(top, expected, "{name}: written beside the results");
    for entry in std::fs::read_dir(dir.join("results")).unwrap() {
        let entry = entry.unwrap().file_name().to_string_lossy().into_owned();
        let ours = ["report.json", "report.html", "toolchain.spdx.json", ".reprocheck.lock"]
            .contains(&entry.as_str())
            || entry.starts_with("run-");
        assert!(ours, "{name}: unexpected {entry} in the results directory");
    }
}

fn stderr(run: &std::process::Output) -> String {
    String::from_utf8_lossy(&run.stderr).into_owned()
}

fn outputs(report: &serde_json::Value) -> &serde_json::Map<String, serde_json::Value> {
    report["runs"][0]["outputs"].as_object().expect("outputs recorded")
}

/// The red-team case: a spec from someone else names host files (a source
/// linked to a directory outside, a sums file linked to a secret). Both are
/// refused before anything is built or read; the secret's text appears
/// nowhere. With --allow-host-paths the outside source builds.
#[test]
fn a_spec_reaches_host_files_outside_its_directory_only_when_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("build.sh"), "mkdir -p out && cat secret > out/x\n").unwrap();
    std::fs::write(outside.join("secret"), "SECRET-LINE-0451\n").unwrap();
    let spec_dir = tmp.path().join("spec");
    std::fs::create_dir(&spec_dir).unwrap();
    std::os::unix::fs::symlink(&outside, spec_dir.join("src")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), spec_dir.join("SHA256SUMS")).unwrap();
    let digest = "0".repeat(64);
    let body =
        format!("[image]\ndigest = \"sha256:{digest}\"\n[source]\npath = \"src\"\n[build]\n{SH_BUILD}\n");
    let cases = [
        ("linked.toml", body.clone(), "source.path resolves to"),
        (
            "absolute.toml",
            body.replace("\"src\"", &format!("\"{}\"", outside.display())),
            "source.path resolves to",
        ),
        (
            "sums.toml",
            body.replace("\"src\"", "\".\"") + "[expect]\nsums = \"SHA256SUMS\"\n",
            "expect.sums resolves to",
        ),
    ];
    for (file, text, fragment) in &cases {
        let spec = spec_dir.join(file);
        std::fs::write(&spec, text).unwrap();
        let out = tmp.path().join(format!("{file}.out"));
        let run = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .env("DOCKER_HOST", "unix:///nonexistent/reprocheck-confined.sock")
            .output()
            .unwrap();
        let stderr = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{file}: {}", show(&run));
        assert!(
            stderr.contains(fragment) && stderr.contains("outside the spec's directory"),
            "{file}: {stderr}"
        );
        assert!(stderr.contains("--allow-host-paths"), "{file}: the way out is named: {stderr}");
        assert!(!stderr.contains("SECRET-LINE"), "{file}: the secret was read: {stderr}");
        assert!(!out.exists(), "{file}: nothing may start");
    }

    let Some(_engine) = ready_engine() else { return };
    let allowed = write_spec(&spec_dir, "allowed", &spec_dir, SH_BUILD);
    let text = std::fs::read_to_string(&allowed).unwrap();
    let text = text
        .replace(&format!("path = \"{}\"", spec_dir.display()), &format!("path = \"{}\"", outside.display()));
    std::fs::write(&allowed, text).unwrap();
    let out = tmp.path().join("allowed.out");
    let run = reprocheck(&[
        "check",
        allowed.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--vary",
        "none",
        "--allow-host-paths",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report(&out)["verdict"], "reproducible");
}

#[test]
fn symlinks_out_of_the_outputs_are_stored_as_links_and_never_followed() {
    let Some(_engine) = ready_engine() else { return };
    for (name, path, target) in [
        ("symlink-absolute", "out/passwd", "/etc/passwd"),
        ("symlink-escape", "out/up", "../../../../../../etc"),
        ("symlink-root", "out", "/etc"),
    ] {
        let (tmp, run, report) = attack(name, "");
        assert_eq!(run.status.code(), Some(0), "{name}: {}", show(&run));
        assert_eq!(
            outputs(&report)[path],
            serde_json::json!({"type": "symlink", "target": target}),
            "{name}"
        );
        let stored = tmp.path().join("results/run-1/outputs").join(path);
        assert!(stored.symlink_metadata().unwrap().file_type().is_symlink(), "{name}: stored as a link");
    }
}

#[test]
fn hardlinks_become_plain_files() {
    let Some(_engine) = ready_engine() else { return };
    let (tmp, run, report) = attack("hardlink-inside", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(outputs(&report)["out/a"], outputs(&report)["out/b"]);
    let meta = std::fs::metadata(tmp.path().join("results/run-1/outputs/out/b")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::nlink(&meta), 1, "a copy, not a link");
    let (tmp, run, _) = attack("hardlink-outside", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let stored = std::fs::read_to_string(tmp.path().join("results/run-1/outputs/out/h")).unwrap();
    assert_eq!(stored, "secret\n");
}

#[test]
fn a_non_utf8_name_is_refused_clearly() {
    let Some(_engine) = ready_engine() else { return };
    let (_tmp, run, report) = attack("non-utf8-name", "");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr(&run).contains("not valid UTF-8"), "{}", show(&run));
    assert_eq!(report["verdict"], "error");
}

#[test]
fn setuid_and_world_writable_bits_are_not_stored() {
    let Some(_engine) = ready_engine() else { return };
    let (tmp, run, report) = attack("setuid", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let mode =
        std::fs::metadata(tmp.path().join("results/run-1/outputs/out/x")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "only the executable bit survives");
    assert_eq!(outputs(&report)["out/x"]["executable"], true);
}

#[test]
fn ten_thousand_files_deep_trees_and_odd_names_are_collected() {
    let Some(_engine) = ready_engine() else { return };
    let (_tmp, run, report) = attack("many-files", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    // Directories are entries too (`out` itself here); the files are 10,000.
    let files = outputs(&report).values().filter(|e| e["type"] == "file").count();
    assert_eq!(files, 10_000);

    let (_tmp, run, report) = attack("deep", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let bottom = format!("out/{}bottom", "d/".repeat(200));
    assert!(outputs(&report).contains_key(&bottom), "{:?}", outputs(&report).keys());

    let (_tmp, run, report) = attack("odd-names", "");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    for name in ["out/a space", "out/back\\slash", "out/quo\"te", &format!("out/{}", "0".repeat(255))] {
        assert!(outputs(&report).contains_key(name), "{name:?} in {:?}", outputs(&report).keys());
    }
}

#[test]
fn outputs_over_the_caps_are_refused_naming_the_limit() {
    let Some(_engine) = ready_engine() else { return };
    let (_tmp, run, _) = attack("big-file", "[limits]\noutput_size = \"1MiB\"");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr(&run).contains("limits.output_size"), "{}", show(&run));
    let (_tmp, run, _) = attack("many-files", "[limits]\noutput_files = 5000");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(stderr(&run).contains("limits.output_files"), "{}", show(&run));
}

#[test]
fn a_device_node_cannot_even_be_made() {
    let Some(_engine) = ready_engine() else { return };
    let (_tmp, run, report) = attack("device", "");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert_eq!(report["runs"][0]["status"], "failed");
    let tail = report["runs"][0]["log_tail"].as_str().unwrap();
    assert!(tail.contains("mknod"), "{tail}");
}

/// `reprocheck -v check … 2>&1 | head -3` with a chatty build: the reader
/// goes away mid-run. Printing stops; the check still cleans up, and
/// exits with its verdict (never a panic, exit 101).
#[test]
fn a_closed_pipe_stops_printing_but_not_the_cleanup() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let Some(engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let build =
        "command = \"for i in $(seq 2000); do echo line $i; done; sleep 2; mkdir -p out; echo x > out/x\"\n\
                 outputs = [\"out\"]";
    let spec = write_spec(tmp.path(), "chatty", &src, build);
    let out = tmp.path().join("out");
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = reprocheck_cmd(&["-v", "check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let owner = owner_of(&child);
    let mut lines = BufReader::new(reader).lines();
    for _ in 0..3 {
        lines.next();
    }
    drop(lines);
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "a closed pipe must not panic");
    assert!(matches!(status.code(), Some(0..=2)), "{status:?}");
    assert_eq!(block(engine.list_owned(&owner)).unwrap().len(), 0, "no container left");
    assert!(report(&out)["verdict"].is_string(), "the report was still written");
}

#[test]
fn a_name_with_a_newline_or_an_escape_is_refused_and_never_printed_raw() {
    let Some(_engine) = ready_engine() else { return };
    let (_tmp, run, report) = attack("newline-name", "");
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let all = format!("{}{}", String::from_utf8_lossy(&run.stdout), stderr(&run));
    assert!(all.contains("control character"), "{}", show(&run));
    assert!(!all.lines().any(|l| l.starts_with("REPRODUCIBLE")), "a forged verdict line: {all}");
    assert!(!all.contains('\u{1b}'), "an escape reached the terminal: {all:?}");
    assert_eq!(report["verdict"], "error");
}
