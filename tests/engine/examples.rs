//! The bundled real-world examples under specs/, run as their READMEs say,
//! end to end against the real engine. Their sources come from the package
//! registries (pinned by sha256) through each example's fetch script.

use crate::common;

use common::*;
use std::process::Command;

/// Runs an example's fetch script; panics with its output when it fails.
fn fetch(script: &str) {
    let run = Command::new(root().join(script)).output().unwrap();
    assert!(run.status.success(), "{script} failed: {}", show(&run));
}

/// Runs `reprocheck COMMAND SPEC ARGS --out OUT`, asserts its exit code and
/// that it left no container of its own, and returns its report.
fn run_example(
    engine: &reprocheck::engine::docker::DockerEngine,
    command: &[&str],
    out: &std::path::Path,
    code: i32,
) -> serde_json::Value {
    let mut args = command.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    let run = reprocheck(&args);
    assert_eq!(run.status.code(), Some(code), "{}", show(&run));
    let report = report(out);
    assert_eq!(leftovers(engine, report["run_id"].as_str().unwrap()), 0);
    report
}

#[test]
fn debian_hello_from_its_dsc_differs_only_by_the_year_that_time_leaks() {
    let Some(engine) = engine() else { return };
    fetch("specs/debian/hello/fetch.sh");
    let tmp = tempfile::tempdir().unwrap();
    let spec = "specs/debian/hello/hello.toml";

    // Every factor: the published package leaks the build year (dh_autoreconf
    // reruns configure.ac's `date +%Y`), so the shifted clock changes usr/bin/hello.
    let report = run_example(&engine, &["check", spec, "--build-missing"], &tmp.path().join("all"), 1);
    assert_eq!(report["verdict"], "unreproducible");
    assert_eq!(report["source"]["kind"], "dsc");
    assert_eq!(report["source"]["package"], "hello 2.10-3");
    let varied: Vec<&str> =
        report["factors"]["varied"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(varied.contains(&"time"), "the time factor must be varied here: {varied:?}");
    // dpkg-buildpackage's results, read from the build directory above the tree;
    // the .buildinfo and .changes are not outputs by default.
    let mut outputs: Vec<&str> =
        report["runs"][0]["outputs"].as_object().unwrap().keys().map(String::as_str).collect();
    outputs.sort();
    assert_eq!(outputs.len(), 2, "{outputs:?}");
    assert!(
        outputs[0].starts_with("hello-dbgsym_2.10-3_") && outputs[1].starts_with("hello_2.10-3_"),
        "{outputs:?}"
    );
    assert!(outputs.iter().all(|o| o.ends_with(".deb")), "{outputs:?}");
    // SOURCE_DATE_EPOCH from debian/changelog: Mon, 26 Dec 2022 16:30:00 +0100.
    assert_eq!(report["runs"][0]["environment"]["env"]["SOURCE_DATE_EPOCH"], "1672068600");
    let differing: Vec<&str> = report["comparison"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(differing.iter().any(|p| p.starts_with("hello_2.10-3_")), "{differing:?}");

    // Every factor but time: the same two packages, bit for bit.
    let report = run_example(&engine, &["check", spec, "--vary=-time"], &tmp.path().join("without-time"), 0);
    assert_eq!(report["verdict"], "reproducible");
    assert!(report["factors"]["varied"].as_array().unwrap().len() >= 10, "{}", report["factors"]);
}

/// dash carries quilt patches: dpkg-source sets .pc/applied-patches to
/// "now" and dh_autoreconf regenerates the build system, which failed (and
/// then looped) under the time factor. With every factor it reaches a verdict.
#[test]
fn debian_dash_with_quilt_patches_reaches_a_verdict_with_every_factor() {
    let Some(engine) = engine() else { return };
    fetch("specs/debian/dash/fetch.sh");
    let tmp = tempfile::tempdir().unwrap();
    let spec = "specs/debian/dash/dash.toml";
    let out = tmp.path().join("all");
    let run = reprocheck(&["check", spec, "--build-missing", "--out", out.to_str().unwrap()]);
    assert!(matches!(run.status.code(), Some(0 | 1)), "a verdict, not an error: {}", show(&run));
    let report = report(&out);
    assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);
    assert_eq!(report["source"]["package"], "dash 0.5.12-2");
    let varied: Vec<&str> =
        report["factors"]["varied"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(varied.contains(&"time"), "{varied:?}");
    assert!(report["runs"][1]["factors"]["time"].as_str().unwrap().contains("libfaketime"), "{}", show(&run));
    let outputs = report["runs"][1]["outputs"].as_object().unwrap();
    assert!(outputs.keys().any(|k| k.starts_with("dash_0.5.12-2_")), "{outputs:?}");
}

#[test]
fn annotated_types_sdist_is_rebuilt_bit_for_bit_with_the_pinned_backend() {
    let Some(engine) = engine() else { return };
    fetch("specs/pypi/annotated-types/fetch.sh");
    let tmp = tempfile::tempdir().unwrap();
    let spec = "specs/pypi/annotated-types/annotated-types.toml";

    // The image: bookworm's python3-pip plus hatchling 1.24.2 and its imports
    // from hash-pinned wheels, locked with them on first use.
    let report = run_example(&engine, &["check", spec, "--build-missing"], &tmp.path().join("check"), 0);
    assert_eq!(report["verdict"], "reproducible");
    let lock =
        std::fs::read_to_string(root().join("specs/pypi/annotated-types/image/packages.lock")).unwrap();
    assert!(lock.contains("file = \"hatchling-1.24.2-py3-none-any.whl\""), "{lock}");

    // The published sdist, named in the spec's [expect], is matched exactly.
    let report = run_example(&engine, &["verify", spec], &tmp.path().join("verify"), 0);
    assert_eq!(report["verdict"], "verified");
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["output"], "dist/annotated_types-0.7.0.tar.gz", "{output}");
    assert_eq!(output["verdict"], "match", "{output}");
}

#[test]
fn gnu_hello_make_dist_is_unreproducible_as_shipped_and_reproducible_with_the_recipe() {
    let Some(engine) = engine() else { return };
    fetch("specs/gnu-hello-dist/fetch.sh");
    let tmp = tempfile::tempdir().unwrap();

    // automake's `tar chof -` and gettext's dated template, as shipped.
    let spec = "specs/gnu-hello-dist/naive.toml";
    let report = run_example(&engine, &["check", spec, "--build-missing"], &tmp.path().join("naive"), 1);
    let difference = &report["comparison"]["differences"][0];
    assert_eq!(difference["path"], "hello-2.10.tar.gz");
    let hints = difference["diff"]["hints"].to_string();
    // The members' times are the build's clock: a hint when the two runs
    // wrote them in different seconds, the clock finding in any case.
    let clock = report["comparison"]["clock"].to_string();
    assert!(clock.contains("hello-2.10.tar.gz > ") && clock.contains("--clamp-mtime"), "{clock}");
    // Directory order is varied only where disorderfs can be mounted (not on Podman).
    if report["factors"]["varied"].to_string().contains("fileordering") {
        assert!(hints.contains("--sort=name"), "{hints}");
    }
    assert!(hints.contains("SOURCE_DATE_EPOCH instead of the clock"), "the POT-Creation-Date: {hints}");

    // The same source and image with the tar options and the dated template.
    let spec = "specs/gnu-hello-dist/hello-dist.toml";
    let report = run_example(&engine, &["check", spec], &tmp.path().join("fixed"), 0);
    let varied = report["factors"]["varied"].to_string();
    for factor in ["time", "user", "umask", "build_path"] {
        assert!(varied.contains(factor), "{factor} must be varied: {varied}");
    }
}
