//! Independent-rebuilder mode against the real engine: sources pinned by
//! commit and checksum, `verify` verdicts, and signed attestations.

use crate::common;

use base64::Engine as _;
use common::*;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `script` with sh in `dir`, returning its trimmed stdout.
fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository with a build.sh that records SOURCE_DATE_EPOCH, two
/// commits, and tag v1 on the second. Returns (dir, first, second).
fn repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    sh(
        dir.path(),
        "git init -q r && cd r \
         && printf 'mkdir -p out && echo \"$SOURCE_DATE_EPOCH\" > out/sde\\n' > build.sh && git add -A \
         && GIT_AUTHOR_DATE='@1500000000 +0000' GIT_COMMITTER_DATE='@1600000000 +0000' \
            git -c user.name=t -c user.email=t@t commit -qm one",
    );
    let first = sh(dir.path(), "git -C r rev-parse HEAD");
    sh(
        dir.path(),
        "cd r && echo >> build.sh && git -c user.name=t -c user.email=t@t commit -qam two && git tag v1",
    );
    let second = sh(dir.path(), "git -C r rev-parse HEAD");
    (dir, first, second)
}

/// A spec in `dir` with the given [source] body and `build.sh` as the build.
fn spec_with_source(dir: &Path, source: &str, build_extra: &str) -> PathBuf {
    let spec = dir.join("s.toml");
    let text = format!(
        "name = \"s\"\n[image]\ndigest = \"{}\"\n[source]\n{source}\n[build]\n{SH_BUILD}\n{build_extra}\n",
        pinned_digest()
    );
    std::fs::write(&spec, text).unwrap();
    spec
}

/// `reprocheck ARGS` with no reachable engine: proves a failure came first.
fn without_engine(args: &[&str]) -> std::process::Output {
    reprocheck_cmd(args).env("DOCKER_HOST", "unix:///nonexistent/reprocheck-test.sock").output().unwrap()
}

#[test]
fn a_tag_that_moved_stops_naming_both_commits() {
    let (dir, first, second) = repo();
    let source = format!("git = \"r\"\nrev = \"{first}\"\ntag = \"v1\"");
    let spec = spec_with_source(dir.path(), &source, "");
    let out = dir.path().join("results");
    let run = without_engine(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&first) && stderr.contains(&second), "both commits are named: {}", show(&run));
    assert!(!stderr.contains("engine"), "the tag is checked before the engine is contacted: {stderr}");
    assert!(report(&out)["runs"].as_array().unwrap().is_empty());
}

/// Issue 32: git never reads the caller's repository or global config.
/// The caller's `.git/config` rewrites the source's path to an ssh URL
/// whose `core.sshCommand` would run a command on the host; the source
/// repository's own config asks for hooks and a pack-objects hook. None of
/// them runs, and the tag check still reads the real repository.
#[test]
fn git_reads_no_config_from_the_callers_directory_or_the_source() {
    let (dir, first, _) = repo();
    let marker = dir.path().join("pwned");
    let real = dir.path().join("r");
    sh(
        dir.path(),
        &format!(
            "git init -q caller && cd caller \
             && git config url.ssh://evil.invalid/x.insteadOf {real} \
             && git config core.sshCommand 'touch {marker}; false' \
             && git -C {real} config core.hooksPath /nonexistent \
             && git -C {real} config uploadpack.packObjectsHook 'touch {marker}; false' \
             && git -C {real} config core.fsmonitor 'touch {marker}; false'",
            real = real.display(),
            marker = marker.display()
        ),
    );
    let source = format!("git = \"r\"\nrev = \"{first}\"\ntag = \"v1\"");
    let spec = spec_with_source(dir.path(), &source, "");
    let out = dir.path().join("results");
    let run = reprocheck_cmd(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("DOCKER_HOST", "unix:///nonexistent/reprocheck-test.sock")
        .env("GIT_CONFIG_GLOBAL", dir.path().join("caller/.git/config"))
        .current_dir(dir.path().join("caller"))
        .output()
        .unwrap();
    assert!(!marker.exists(), "a command from a config ran: {}", show(&run));
    // The tag check read the real repository: v1 is on the second commit.
    assert!(String::from_utf8_lossy(&run.stderr).contains("resolves to commit"), "{}", show(&run));
}

#[test]
fn a_tarball_with_the_wrong_sha256_stops_before_any_container() {
    let dir = tempfile::tempdir().unwrap();
    sh(dir.path(), "mkdir -p p && echo 'mkdir out' > p/build.sh && tar czf p.tar.gz p");
    let actual = format!("{:x}", Sha256::digest(std::fs::read(dir.path().join("p.tar.gz")).unwrap()));
    let wrong = "0".repeat(64);
    let source = format!("tarball = \"p.tar.gz\"\nsha256 = \"{wrong}\"\nstrip_components = 1");
    let spec = spec_with_source(dir.path(), &source, "");
    let out = dir.path().join("results");
    let run = without_engine(&["verify", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains(&actual) && stderr.contains(&wrong), "both digests are named: {stderr}");
    assert!(!out.join("source").exists(), "nothing was unpacked");
    assert!(report(&out)["runs"].as_array().unwrap().is_empty());
}

#[test]
fn source_date_epoch_is_the_commit_time_and_the_tree_is_pinned() {
    let Some(_engine) = ready_engine() else { return };
    let (dir, first, _) = repo();
    let source = format!("git = \"r\"\nrev = \"{first}\"");
    let spec = spec_with_source(dir.path(), &source, "source_date_epoch = \"commit\"");
    let out = dir.path().join("results");
    let check = ["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--vary", "none"];
    // By default the checked-out tree is not kept in the results; the report names it.
    let run = reprocheck(&check);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(!out.join("source").exists(), "the results hold no copy of the source");
    assert_eq!(report(&out)["source"]["removed"], true);
    let run = reprocheck(&[&check[..], &["--keep-source"]].concat());
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert!(report(&out)["source"].get("removed").is_none(), "kept");
    let sde = std::fs::read_to_string(out.join("run-1/outputs/out/sde")).unwrap();
    assert_eq!(sde.trim(), "1600000000", "the committer time, not the author time");
    let report = report(&out);
    assert_eq!(report["source"]["rev"], first.as_str());
    assert_eq!(report["source"]["commit_time"], 1_600_000_000);
    let nix = Command::new("nix-hash").args(["--type", "sha256"]).arg(out.join("source")).output().unwrap();
    let nar = format!("sha256:{}", String::from_utf8_lossy(&nix.stdout).trim());
    assert_eq!(report["source"]["nar_hash"], nar.as_str(), "the checked-out tree's NAR hash");

    // A wrong source.nar_hash pin stops the next run before any build.
    let pinned = format!("{source}\nnar_hash = \"sha256:{}\"", "1".repeat(64));
    let spec = spec_with_source(dir.path(), &pinned, "source_date_epoch = \"commit\"");
    let run = without_engine(&["check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains(&nar), "{}", show(&run));
}

/// `reprocheck verify ARGS --out OUT` on the example, and the report.
fn verify(args: &[&str], out: &Path) -> (std::process::Output, serde_json::Value) {
    example_repo();
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let run = reprocheck(&all);
    let report = report(out);
    (run, report)
}

#[test]
fn the_example_release_matches_and_the_naive_one_content_matches() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (run, report) = verify(&["specs/release.toml"], &tmp.path().join("release"));
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["verdict"], "verified");
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "match", "{output}");
    assert_eq!(output["output"], "dist/hello-1.0.tgz", "the sums file's bare name found its output");

    let reference = "dist/hello-1.0.tgz=specs/published/hello-1.0.tgz";
    let args = ["specs/release-naive.toml", "--expect-file", reference];
    let (run, report) = verify(&args, &tmp.path().join("naive"));
    assert_eq!(run.status.code(), Some(1), "content-match is not a pass: {}", show(&run));
    assert_eq!(report["verdict"], "not-verified");
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "content-match", "{output}");
    let kinds: Vec<&str> =
        output["metadata_differences"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(kinds.contains(&"mtime") && kinds.contains(&"owner"), "{kinds:?}");
    assert!(!kinds.contains(&"content"), "{kinds:?}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("content-match"), "{}", show(&run));
}

#[test]
fn a_published_tarball_with_other_content_is_a_mismatch() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The published tarball carries a line that is not in the tagged commit.
    let tampered = tmp.path().join("hello-1.0.tgz");
    let published = root().join("specs/published/hello-1.0.tgz");
    sh(
        tmp.path(),
        &format!(
            "mkdir x && tar -C x -xzf {} && echo '/* added after the tag */' >> x/hello-1.0/hello.c \
             && tar -C x -czf {} hello-1.0",
            published.display(),
            tampered.display()
        ),
    );
    let reference = format!("dist/hello-1.0.tgz={}", tampered.display());
    let args = ["specs/release-naive.toml", "--expect-file", &reference];
    let (run, report) = verify(&args, &tmp.path().join("out"));
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "mismatch", "{output}");
    let details = output["diff"]["details"].as_array().unwrap();
    assert!(
        details.iter().any(|d| d["scope"] == "tar entry hello-1.0/hello.c" && d["field"] == "content"),
        "the diff names the file whose bytes differ: {details:?}"
    );
}

#[test]
fn a_signed_attestation_verifies_and_a_flipped_byte_fails() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("rebuilder");
    let keygen = reprocheck(&["keygen", prefix.to_str().unwrap()]);
    assert!(keygen.status.success(), "{}", show(&keygen));
    let (key, public) = (tmp.path().join("rebuilder.key"), tmp.path().join("rebuilder.pub"));
    let out = tmp.path().join("out");
    let args = ["specs/release.toml", "--sign-key", key.to_str().unwrap(), "--builder-id", "urn:test"];
    let (run, _) = verify(&args, &out);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));

    let envelope_path = out.join("provenance.dsse.json");
    let published = root().join("specs/published/hello-1.0.tgz");
    let attest = |envelope: &Path, artifact: &Path| attest_verify(envelope, &public, artifact);
    let ok = attest(&envelope_path, &published);
    assert_eq!(ok.status.code(), Some(0), "{}", show(&ok));
    let not_subject = attest(&envelope_path, &root().join("specs/release.toml"));
    assert_eq!(not_subject.status.code(), Some(1), "{}", show(&not_subject));

    // The statement says what was built, from what, by whom.
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&envelope_path).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let published_sha = format!("{:x}", Sha256::digest(std::fs::read(&published).unwrap()));
    assert_eq!(statement["subject"][0]["digest"]["sha256"], published_sha.as_str());
    let predicate = &statement["predicate"];
    let deps = predicate["buildDefinition"]["resolvedDependencies"].as_array().unwrap();
    assert_eq!(deps[0]["digest"]["gitCommit"], "29bf614cada87943a3de6273c4edc79045925ad3");
    assert_eq!(deps[1]["digest"]["sha256"], pinned_digest().trim_start_matches("sha256:"));
    assert_eq!(predicate["runDetails"]["builder"]["id"], "urn:test");
    let report_sha = format!("{:x}", Sha256::digest(std::fs::read(out.join("report.json")).unwrap()));
    assert_eq!(predicate["runDetails"]["byproducts"][0]["digest"]["sha256"], report_sha.as_str());

    // One flipped payload byte: the signature no longer verifies.
    let mut flipped = payload.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let mut tampered = envelope.clone();
    tampered["payload"] = serde_json::Value::String(b64.encode(&flipped));
    let tampered_path = tmp.path().join("tampered.dsse.json");
    std::fs::write(&tampered_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let bad = attest(&tampered_path, &published);
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("no signature"), "{}", show(&bad));
}

/// `reprocheck attest verify ENVELOPE --key KEY --artifact ARTIFACT`.
fn attest_verify(envelope: &Path, key: &Path, artifact: &Path) -> std::process::Output {
    let (envelope, key, artifact) =
        (envelope.to_str().unwrap(), key.to_str().unwrap(), artifact.to_str().unwrap());
    reprocheck(&["attest", "verify", envelope, "--key", key, "--artifact", artifact])
}

/// The statement inside the DSSE envelope at `path`.
fn signed_statement(path: &Path) -> serde_json::Value {
    let envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let payload =
        base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn sha256_of(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn every_verdict_is_signed_in_a_verification_summary_that_independent_clients_accept() {
    let Some(_engine) = ready_engine() else { return };
    let Some(python) = interop::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("rebuilder");
    let keygen = reprocheck(&["keygen", prefix.to_str().unwrap()]);
    assert!(keygen.status.success(), "{}", show(&keygen));
    let (key, public) = (tmp.path().join("rebuilder.key"), tmp.path().join("rebuilder.pub"));
    let published = root().join("specs/published/hello-1.0.tgz");
    // A published tarball with a line the tagged commit does not have.
    let tampered = tmp.path().join("hello-1.0.tgz");
    sh(
        tmp.path(),
        &format!(
            "mkdir x && tar -C x -xzf {} && echo '/* added */' >> x/hello-1.0/hello.c && tar -C x -czf {} hello-1.0",
            published.display(),
            tampered.display()
        ),
    );
    let naive = |file: &Path| format!("dist/hello-1.0.tgz={}", file.display());
    let cases = [
        ("match", vec!["specs/release.toml".to_string()], &published, 0, "PASSED"),
        (
            "content-match",
            vec!["specs/release-naive.toml".into(), "--expect-file".into(), naive(&published)],
            &published,
            1,
            "FAILED",
        ),
        (
            "mismatch",
            vec!["specs/release-naive.toml".into(), "--expect-file".into(), naive(&tampered)],
            &tampered,
            1,
            "FAILED",
        ),
    ];
    let mut envelopes = Vec::new();
    for (verdict, args, artifact, code, result) in &cases {
        let out = tmp.path().join(verdict);
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--sign-key", key.to_str().unwrap(), "--builder-id", "urn:test"]);
        let (run, _) = verify(&all, &out);
        assert_eq!(run.status.code(), Some(*code), "{verdict}: {}", show(&run));

        let vsa_path = out.join("verification-summary.dsse.json");
        let vsa = signed_statement(&vsa_path);
        assert_eq!(vsa["predicateType"], "https://slsa.dev/verification_summary/v1");
        let predicate = &vsa["predicate"];
        assert_eq!(predicate["verificationResult"], *result, "{verdict}: {predicate}");
        assert_eq!(predicate["verifier"]["id"], "urn:test");
        // The subject is the published artifact, not what was rebuilt.
        let subject = &vsa["subject"][0];
        assert_eq!(subject["digest"]["sha256"], sha256_of(artifact).as_str(), "{verdict}: {subject}");
        assert_eq!(subject["annotations"]["verdict"], *verdict, "{subject}");
        let ignored = &subject["annotations"]["ignoredDifferences"];
        if *verdict == "content-match" {
            for kind in ["mtime", "owner"] {
                assert!(ignored[kind].as_u64().unwrap_or(0) >= 1, "{kind} ignored, with a count: {subject}");
            }
        } else {
            assert!(ignored.is_null(), "only a content match ignores anything: {subject}");
        }
        // It names the provenance written by the same run, by digest.
        let inputs = predicate["inputAttestations"].as_array().unwrap();
        for name in ["provenance.intoto.json", "provenance.dsse.json"] {
            let input =
                inputs.iter().find(|i| i["uri"] == name).unwrap_or_else(|| panic!("{name}: {inputs:?}"));
            assert_eq!(input["digest"]["sha256"], sha256_of(&out.join(name)).as_str());
        }
        let spec_sha = sha256_of(&root().join(&args[0]));
        assert_eq!(predicate["policy"]["digest"]["sha256"], spec_sha.as_str());

        // attest verify checks it and says what it concluded; FAILED is not a pass.
        let checked = attest_verify(&vsa_path, &public, artifact);
        assert_eq!(checked.status.code(), Some(*code), "{verdict}: {}", show(&checked));
        let stdout = String::from_utf8_lossy(&checked.stdout);
        assert!(stdout.contains(&format!("verification result: {result}")), "{}", show(&checked));
        assert!(stdout.contains(verdict), "{}", show(&checked));
        envelopes.push(out.join("provenance.dsse.json"));
        envelopes.push(vsa_path);
    }

    // securesystemslib verifies each signature; the in-toto bindings parse each statement strictly.
    let interop_check = |envelopes: &[PathBuf]| {
        let script = root().join("tests/interop/check_attestations.py");
        Command::new(&python).arg(script).arg(&public).args(envelopes).output().unwrap()
    };
    let run = interop_check(&envelopes);
    assert!(run.status.success(), "{}", show(&run));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&run.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "{}", show(&run));
    let results: Vec<&str> = lines.iter().filter_map(|l| l["verificationResult"].as_str()).collect();
    assert_eq!(results, ["PASSED", "FAILED", "FAILED"], "{}", show(&run));

    // A flipped byte in a FAILED summary: the independent client refuses it too.
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&envelopes[5]).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(payload.clone()).unwrap();
    let at = text.find("FAILED").unwrap();
    payload[at..at + 6].copy_from_slice(b"PASSED");
    envelope["payload"] = serde_json::Value::String(b64.encode(&payload));
    let forged = tmp.path().join("forged.dsse.json");
    std::fs::write(&forged, serde_json::to_vec(&envelope).unwrap()).unwrap();
    let run = interop_check(&[forged]);
    assert!(!run.status.success(), "a forged PASSED must not verify: {}", show(&run));
}

/// A published sdist with a second `__init__.py` appended (the copy `tar -x`
/// leaves on disk) next to a rebuild that, like the published one, repeats
/// a name (PKG-INFO, identical copies). Once reported as content-match.
#[test]
fn a_published_sdist_with_an_appended_duplicate_member_is_a_mismatch() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let fixture = fixture("sdist-duplicate");
    let published = tmp.path().join("pkg-1.0.tar.gz");
    sh(
        tmp.path(),
        &format!(
            "mkdir host && cp {}/build.sh host/ && cd host && sh build.sh && gunzip out/pkg-1.0.tar.gz \
             && mkdir -p evil/pkg-1.0/pkg && printf 'import os\\nos.system(\"id\")\\n' > evil/pkg-1.0/pkg/__init__.py \
             && tar -C evil --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -rf out/pkg-1.0.tar pkg-1.0/pkg/__init__.py \
             && gzip -n -c out/pkg-1.0.tar > {}",
            fixture.display(),
            published.display()
        ),
    );
    let spec = write_spec(tmp.path(), "sdist", &fixture, SH_BUILD);
    let reference = format!("out/pkg-1.0.tar.gz={}", published.display());
    let out = tmp.path().join("out");
    let run = reprocheck(&[
        "verify",
        spec.to_str().unwrap(),
        "--expect-file",
        &reference,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let output = &report(&out)["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "mismatch", "{output}");
    let reasons = output["content_differences"].as_array().expect("reasons are listed");
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("duplicate member: pkg-1.0/pkg/__init__.py appears 2 times in the reference")),
        "{reasons:?}"
    );
    let details = output["diff"]["details"].as_array().unwrap();
    assert!(
        details.iter().any(|d| d["scope"] == "tar entry pkg-1.0/pkg/__init__.py" && d["field"] == "copies"),
        "the diff shows the repeated member: {details:?}"
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("contents differ: duplicate member"),
        "{}",
        show(&run)
    );
}

/// CPython's release tools copy the tagged tree with `cp -a` under a
/// versioned directory and pack it with clamped mtimes. The copy's top
/// directory takes the build directory's mtime, which must be the commit
/// time in every run (once it was 1970, and shifted by the time factor).
#[test]
fn a_release_tools_style_tarball_of_a_git_source_is_reproducible_under_every_factor() {
    let Some(_engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    sh(
        dir.path(),
        "git init -q r && cd r && mkdir -p lib && echo 'print(1)' > lib/mod.py && echo 'A release' > README \
         && cat > build.sh <<'EOS'\n\
set -eu\n\
stage=$(mktemp -d)\n\
mkdir \"$stage/pkg-1.0\"\n\
cp -a . \"$stage/pkg-1.0/\"\n\
mkdir -p out\n\
tar --sort=name --mtime=@\"$SOURCE_DATE_EPOCH\" --clamp-mtime --owner=0 --group=0 --numeric-owner \\\n\
    -C \"$stage\" -cf - pkg-1.0 | gzip -9 -n > out/pkg-1.0.tar.gz\n\
chmod -R go-w out\n\
EOS\n\
         git add -A && GIT_AUTHOR_DATE='@1600000000 +0000' GIT_COMMITTER_DATE='@1600000000 +0000' \
            git -c user.name=t -c user.email=t@t commit -qm release",
    );
    let rev = sh(dir.path(), "git -C r rev-parse HEAD");
    let source = format!("git = \"r\"\nrev = \"{rev}\"");
    let spec = spec_with_source(dir.path(), &source, "source_date_epoch = \"commit\"");
    let out = dir.path().join("results");
    let all = reprocheck::factors::NAMES.join(",");
    let run = reprocheck(&["check", spec.to_str().unwrap(), "--vary", &all, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let tarball = out.join("run-1/outputs/out/pkg-1.0.tar.gz");
    let listing = sh(dir.path(), &format!("TZ=UTC tar --full-time -tvzf {}", tarball.display()));
    let top = listing.lines().find(|l| l.ends_with(" pkg-1.0/")).expect("the top directory is archived");
    assert!(top.contains("2020-09-13 12:26:40"), "the top directory has the commit time: {listing}");
}

#[test]
fn the_spec_alone_names_the_published_files_inline_and_through_a_sums_file() {
    let Some(engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The build tars one file with mtime 1; the "published" tar has mtime 2:
    // same contents, other bytes.
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    std::fs::write(
        tmp.path().join("src/build.sh"),
        "mkdir -p out/t && echo hi > out/t/a && \
         tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C out/t -cf out/x.tar a && rm -r out/t\n",
    )
    .unwrap();
    let published = sh(
        tmp.path(),
        "mkdir -p published t && echo hi > t/a && \
         tar --sort=name --mtime=@2 --owner=0 --group=0 --numeric-owner -C t -cf published/x.tar a && \
         cd published && sha256sum x.tar > SHA256SUMS && sha256sum x.tar | cut -d' ' -f1",
    );
    for (name, expect) in [
        (
            "inline",
            format!("\"out/x.tar\" = {{ sha256 = \"sha256:{published}\", file = \"published/x.tar\" }}"),
        ),
        (
            "sums",
            "sums = { file = \"published/SHA256SUMS\", under = \"out\", references = \"published\" }".into(),
        ),
    ] {
        let spec = spec_with_source(tmp.path(), "path = \"src\"", &format!("[expect]\n{expect}"));
        let out = tmp.path().join(name);
        let run = reprocheck(&["verify", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(1), "{name}: content-match is not a pass: {}", show(&run));
        let report = report(&out);
        assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);
        let output = &report["verification"]["outputs"][0];
        assert_eq!(output["output"], "out/x.tar", "{name}: {output}");
        assert_eq!(output["verdict"], "content-match", "{name}: {output}");
        assert!(output["reference"].as_str().unwrap().ends_with("published/x.tar"), "{name}: {output}");
        let kinds: Vec<&str> =
            output["metadata_differences"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(kinds, ["mtime"], "{name}");
    }
    // The digest alone, no file to look inside: not known to differ in content.
    let spec = spec_with_source(
        tmp.path(),
        "path = \"src\"",
        &format!("[expect]\n\"out/x.tar\" = \"sha256:{published}\""),
    );
    let out = tmp.path().join("digest-only");
    let run = reprocheck(&["verify", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let output = &report(&out)["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "digest-mismatch", "{output}");
    assert!(output["note"].as_str().unwrap().contains("only the digest was compared"), "{output}");
    // A published file that is not the one the digest pins stops before building.
    std::fs::write(tmp.path().join("published/x.tar"), "tampered").unwrap();
    let spec = spec_with_source(
        tmp.path(),
        "path = \"src\"",
        &format!(
            "[expect]\n\"out/x.tar\" = {{ sha256 = \"sha256:{published}\", file = \"published/x.tar\" }}"
        ),
    );
    let run = without_engine(&[
        "verify",
        spec.to_str().unwrap(),
        "--out",
        tmp.path().join("bad").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", show(&run));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is not the published artifact"), "{}", show(&run));
}

#[test]
fn a_source_directory_makes_the_published_release_with_no_staging_step() {
    let Some(engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The tree in hello-1.0/, archived from beside it: the published bytes.
    let (run, report) = verify(&["specs/release-directory.toml"], &tmp.path().join("verify"));
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(leftovers(&engine, report["run_id"].as_str().unwrap()), 0);
    let output = &report["verification"]["outputs"][0];
    assert_eq!(
        (output["output"].as_str(), output["verdict"].as_str()),
        (Some("dist/hello-1.0.tgz"), Some("match"))
    );
    assert!(output["reference"].as_str().unwrap().ends_with("specs/published/hello-1.0.tgz"), "{output}");
    // And under every factor the tarball stays the same.
    let out = tmp.path().join("check");
    let run = reprocheck(&["check", "specs/release-directory.toml", "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
}

/// The oracle (issue 31): crafted archive pairs and their honest twins,
/// made by tests/oracle/make_corpus.py, extracted by GNU tar, bsdtar,
/// Python's tarfile and zipfile and unzip (tests/oracle/extract.py), and
/// verified by reprocheck in one build that copies every rebuilt archive
/// out. content-match only where every extractor writes equal trees from
/// both sides and none disagrees with another; every honest twin is a
/// content match; every crafted case an extractor notices is a mismatch.
#[test]
fn content_match_only_where_every_extractor_writes_the_same_tree() {
    let Some(_engine) = ready_engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    for script in ["make_corpus.py", "extract.py"] {
        let run = std::process::Command::new("python3")
            .arg(root().join("tests/oracle").join(script))
            .arg(&corpus)
            .output()
            .expect("running python3");
        assert!(run.status.success(), "{script}: {}", show(&run));
    }
    let oracle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("oracle.json")).unwrap()).unwrap();
    let cases = oracle["cases"].as_object().unwrap();
    assert!(cases.len() >= 40, "at least 40 pairs: {}", cases.len());
    let spec = corpus.join("oracle.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"oracle\"\n[image]\ndigest = \"{}\"\nname = \"reprocheck/debian-trixie\"\n\
             [source]\npath = \"rebuilt\"\n[build]\ncommand = \"mkdir out && find . -maxdepth 1 -type f -exec cp -p -t out {{}} +\"\n\
             outputs = [\"out/*\"]\n[expect]\nsums = {{ file = \"published/SHA256SUMS\", under = \"out\", references = \"published\" }}\n",
            pinned_digest()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = reprocheck(&["verify", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let report = report(&out);
    let outputs = report["verification"]["outputs"].as_array().unwrap();
    let mut table = String::new();
    let mut wrong = Vec::new();
    for (file, case) in cases {
        let verdict = outputs
            .iter()
            .find(|o| o["path"].as_str() == Some(&format!("out/{file}")))
            .map(|o| o["verdict"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no verdict for {file}: {}", show(&run)));
        let (kind, safe) = (case["kind"].as_str().unwrap(), case["safe"].as_bool().unwrap());
        table.push_str(&format!("{file:<48} {kind:<8} safe={safe:<5} {verdict}\n"));
        let fine = match (kind, safe, verdict.as_str()) {
            (_, false, "content-match") => false,
            ("honest", _, v) => safe && v == "content-match",
            // A trick no extractor notices may pass; one that any notices may not.
            ("crafted", safe, v) => safe || v == "mismatch",
            _ => false,
        };
        if !fine {
            wrong.push(file.clone());
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "verdicts that disagree with the oracle: {wrong:?}\n{table}");
}
