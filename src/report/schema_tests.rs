//! report.json's schema, pinned: the keys (in order) of every published
//! object, made from the stages' own types. A field renamed inside reprocheck
//! must not change these; a field renamed here is a schema change
//! (docs/report.md, and [`super::SCHEMA`] when incompatible).

use super::*;
use crate::digest::Digest;
use crate::factors::{FactorId, HostFacts, Settings};
use crate::run::{CompletedRun, RunResult, RunStatus};
use serde_json::Value;

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

fn json(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap()
}

/// The top-level keys of an object, in the order the JSON text has them
/// (a `Value`'s map is sorted).
fn text_keys(value: impl serde::Serialize) -> Vec<String> {
    let text = serde_json::to_string(&value).unwrap();
    let mut depth = 0;
    let mut keys = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut in_string = false;
    let mut start = 0;
    while let Some((i, c)) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                if depth == 1 && text[i + 1..].starts_with(':') {
                    keys.push(text[start..i].to_string());
                }
            }
            (true, _) => {}
            (false, '"') => {
                in_string = true;
                start = i + 1;
            }
            (false, '{' | '[') => depth += 1,
            (false, '}' | ']') => depth -= 1,
            _ => {}
        }
    }
    keys
}

fn run(status: RunStatus) -> CompletedRun {
    let facts = HostFacts::default();
    let plan = crate::plan::RunPlan {
        index: 2,
        varied: vec![FactorId::parse("umask").unwrap()],
        settings: Settings::control("p", &facts),
        pids_limit: 1,
        memory_bytes: 2,
        binds: vec![crate::engine::Bind { host: "/h".into(), container: "/c".into(), read_only: false }],
        files: vec![crate::engine::placed::PlacedFile::new("/etc/x", 0o644, std::sync::Arc::from(&b"x"[..]))],
        trace: false,
    };
    let result = RunResult {
        index: 2,
        status,
        duration_ms: 3,
        log: "run-2/build.log".into(),
        outputs_dir: "run-2/outputs".into(),
        nar_hash: Some(Digest::of_bytes(b"nar")),
        outputs: Default::default(),
        window: None,
        trace: None,
    };
    CompletedRun { plan, result }
}

#[test]
fn a_run_object_keeps_its_keys() {
    let report = RunReport::from(&run(RunStatus::Succeeded));
    assert_eq!(
        text_keys(&report),
        [
            "factors",
            "environment",
            "index",
            "status",
            "duration_ms",
            "log",
            "outputs_dir",
            "nar_hash",
            "outputs"
        ]
    );
    assert_eq!(
        text_keys(&report.environment),
        [
            "index",
            "varied",
            "build_dir",
            "uid",
            "umask",
            "hostname",
            "domainname",
            "env",
            "cpuset",
            "uname26",
            "no_randomize",
            "faketime",
            "shifted_clock",
            "host_build_dir",
            "disorderfs",
            "reverse_readdir",
            "pids_limit",
            "memory_bytes",
            "binds",
            "files"
        ]
    );
    let value = json(&report);
    assert_eq!(value["status"], "succeeded");
    assert_eq!(value["environment"]["varied"], serde_json::json!(["umask"]));
    assert_eq!(keys(&value["environment"]["binds"][0]), ["container", "host", "read_only"]);
    assert_eq!(keys(&value["environment"]["files"][0]), ["mode", "path", "sha256"]);
    assert_eq!(value["nar_hash"], Digest::of_bytes(b"nar").to_string());
    let factors: Vec<String> = value["factors"].as_object().unwrap().keys().cloned().collect();
    let mut names: Vec<String> = FactorId::all().map(|f| f.to_string()).collect();
    names.sort();
    assert_eq!(factors, names, "every factor's value, by name");
}

#[test]
fn run_statuses_keep_their_names_and_fields() {
    let cases = [
        (RunStatus::Failed { exit_code: 2, log_tail: "t".into() }, "failed", vec!["exit_code", "log_tail"]),
        (RunStatus::TimedOut { after_seconds: 9 }, "timed_out", vec!["after_seconds"]),
        (
            RunStatus::OverDisk { limit_bytes: 1, written_bytes: 2 },
            "over_disk",
            vec!["limit_bytes", "written_bytes"],
        ),
    ];
    for (status, name, fields) in cases {
        let value = json(RunReport::from(&run(status)));
        assert_eq!(value["status"], name);
        for field in fields {
            assert!(value.get(field).is_some(), "{name}: {field}");
        }
    }
}

#[test]
fn the_inputs_keep_their_keys() {
    let pin = crate::image::pin::PinRecord {
        digest: Some(Digest::of_bytes(b"i")),
        pinned_by: Some(crate::image::pin::PinnedBy::RecipeLock),
        lock: Some("r/packages.lock".into()),
        ..Default::default()
    };
    let image = ImageReport::from(&pin);
    assert_eq!(
        text_keys(&image),
        ["digest", "name", "id", "pinned_by", "lock", "first_use", "drift", "registry"]
    );
    assert_eq!(json(&image)["pinned_by"], "recipe-lock");
    let relocked = ImageReport::from(&crate::image::pin::PinRecord {
        stale_lock: Some(vec!["x".into()]),
        relocked: true,
        ..pin.clone()
    });
    assert_eq!(text_keys(&relocked)[7..], ["stale_lock", "relocked", "registry"]);
    let pulled = ImageReport::from(&crate::image::pin::PinRecord {
        registry: Some(crate::image::obtain::RegistryRecord { pulled: true, ..Default::default() }),
        loaded_from: Some("images/x.tar".into()),
        ..pin
    });
    assert_eq!(text_keys(&pulled)[7..], ["registry", "loaded_from"]);
    let registry = super::inputs::RegistryReport::from(&crate::image::obtain::RegistryRecord::default());
    assert_eq!(
        text_keys(&registry),
        ["reference", "index_digest", "manifest_digest", "config_digest", "platform", "pulled"]
    );

    let git = crate::source::SourceInfo {
        kind: crate::source::SourceKind::Git {
            url: "u".into(),
            rev: "r".into(),
            tag: Some("v1".into()),
            commit_time: 5,
        },
        path: "/s".into(),
        nar_hash: Digest::of_bytes(b"s"),
    };
    assert_eq!(
        text_keys(SourceReport::new(&git, true)),
        ["kind", "path", "git", "rev", "tag", "commit_time", "nar_hash", "removed"]
    );
    let dsc = crate::source::SourceInfo {
        kind: crate::source::SourceKind::Dsc {
            file: "/h.dsc".into(),
            package: "hello 2.10-3".into(),
            sha256: Digest::of_bytes(b"d"),
        },
        ..git
    };
    let report = SourceReport::new(&dsc, false);
    assert_eq!(text_keys(&report), ["kind", "path", "dsc", "package", "sha256", "nar_hash"]);
    assert_eq!(json(&report)["kind"], "dsc");

    let engine = crate::engine::EngineInfo {
        kind: "docker".into(),
        version: "1".into(),
        api_version: "1.41".into(),
        endpoint: "unix:///s".into(),
        seccomp_profile: None,
        platform: "linux/amd64".into(),
    };
    assert_eq!(
        text_keys(EngineReport::from(&engine)),
        ["kind", "version", "api_version", "endpoint", "seccomp_profile"]
    );

    let umask = FactorId::parse("umask").unwrap();
    let summary = crate::plan::FactorSummary {
        requested: vec![umask],
        varied: vec![umask],
        not_applied: [(FactorId::parse("aslr").unwrap(), "why".to_string())].into(),
        caveats: Default::default(),
        tools: Default::default(),
    };
    let report = FactorsReport::from(&summary);
    assert_eq!(text_keys(&report), ["requested", "varied", "not_applied", "caveats", "tools"]);
    assert_eq!(json(&report)["not_applied"]["aslr"], "why");
}

#[test]
fn the_sbom_object_keeps_its_keys() {
    let written = crate::sbom::Written {
        path: "/out/toolchain.spdx.json".into(),
        sha256: Digest::of_bytes(b"sbom"),
        packages: 3,
        origin: crate::sbom::Origin::Lock("r/packages.lock".into()),
    };
    let report = SbomReport::from(&written);
    assert_eq!(text_keys(&report), ["file", "format", "sha256", "packages", "packages_from", "lock", "note"]);
    let value = json(&report);
    assert_eq!(value["file"], "toolchain.spdx.json", "relative to the results directory");
    assert_eq!(value["format"], "SPDX-2.3");
    assert_eq!(value["packages_from"], "lock");
    assert_eq!(value["lock"], "r/packages.lock");
    let database = SbomReport::from(&crate::sbom::Written {
        origin: crate::sbom::Origin::ImageDatabase { malformed: 0 },
        ..written
    });
    assert_eq!(json(&database)["packages_from"], "image-dpkg-database");
    assert_eq!(json(&database)["lock"], Value::Null);
}
