//! The attest stage: an in-toto Statement v1 with a SLSA Provenance v1
//! predicate describing a rebuild, optionally signed into a DSSE envelope,
//! and the checks of `reprocheck attest verify`. docs/verify.md documents
//! every field.

pub mod dsse;
pub mod keys;
pub mod vsa;

use crate::errors::*;
use crate::report::Report;
use crate::sbom::{Component, Inventory, Origin};
use crate::source::{SourceInfo, SourceKind};
use crate::spec::Spec;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA Provenance v1 predicate type.
pub const PROVENANCE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// Our build type; docs/verify.md defines its parameters.
pub const BUILD_TYPE: &str = "urn:reprocheck:build-type:container-rebuild:v1";
/// The unsigned statement, in the results directory.
pub const STATEMENT_FILE: &str = "provenance.intoto.json";
/// The signed envelope, in the results directory.
pub const ENVELOPE_FILE: &str = "provenance.dsse.json";

/// The default `builder.id`: this host, as a URN. Rebuilders who publish
/// should pass a URI they control with `--builder-id`.
pub fn default_builder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String =
        host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || "-.".contains(*c)).collect();
    format!("urn:reprocheck:builder:{}", if host.is_empty() { "localhost" } else { &host })
}

/// Who makes the attestations of `verify`, and how.
pub struct Attestation {
    /// The `builder.id` and `verifier.id`.
    pub builder_id: String,
    /// Signs every statement into a DSSE envelope, when given.
    pub key: Option<SigningKey>,
    /// The verification summary's `resourceUri`, when the user named it.
    pub resource_uri: Option<String>,
}

/// What a rebuild was built from, beyond its spec: the source, and the
/// toolchain image with its packages.
#[derive(Clone, Copy, Default)]
pub struct BuiltOn<'a> {
    /// The source tree as prepared.
    pub source: Option<&'a SourceInfo>,
    /// The toolchain image and its packages.
    pub toolchain: Option<&'a Inventory>,
}

/// Writes the provenance (`OUT/provenance.intoto.json`) and the
/// verification summary (`OUT/verification-summary.intoto.json`) and, with
/// a key, each signed as a DSSE envelope next to it. Returns the files
/// written. `spec` must be the spec the report was made from, and
/// `report_sha256` the hex sha256 of the report.json written for it.
pub fn write(
    spec: &Spec,
    report: &Report,
    built_on: BuiltOn<'_>,
    report_sha256: &str,
    out: &Path,
    attester: &Attestation,
) -> Result<Vec<PathBuf>> {
    ensure!(
        spec.sha256 == report.spec.sha256.as_str(),
        "{} changed while it was being verified ({} when read, {} now); not attesting it\n\
         help: run verify again on the final spec",
        spec.file.display(),
        report.spec.sha256,
        spec.sha256
    );
    let provenance = statement(spec, report, built_on, report_sha256, &attester.builder_id)?;
    let key = attester.key.as_ref();
    let mut written = write_statement(&provenance, out, STATEMENT_FILE, ENVELOPE_FILE, key)?;
    let inputs = written
        .iter()
        .map(|(path, sha256)| vsa::InputAttestation {
            name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            sha256: sha256.clone(),
        })
        .collect::<Vec<_>>();
    let summary =
        vsa::statement(report, &spec.file, &attester.builder_id, attester.resource_uri.as_deref(), &inputs)?;
    written.extend(write_statement(&summary, out, vsa::STATEMENT_FILE, vsa::ENVELOPE_FILE, key)?);
    Ok(written.into_iter().map(|(path, _)| path).collect())
}

/// Writes `statement` to `OUT/plain` and, with a key, its DSSE envelope to
/// `OUT/signed`. Returns each file and the hex sha256 of its bytes.
fn write_statement(
    statement: &Value,
    out: &Path,
    plain: &str,
    signed: &str,
    key: Option<&SigningKey>,
) -> Result<Vec<(PathBuf, String)>> {
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| -> Result<()> {
        let path = out.join(name);
        crate::paths::write_atomically(&path, &bytes)?;
        written.push((path, hex::encode(Sha256::digest(&bytes))));
        Ok(())
    };
    put(plain, serde_json::to_vec_pretty(statement).context("serialising the statement")?)?;
    if let Some(key) = key {
        let payload = serde_json::to_vec(statement).context("serialising the statement")?;
        let envelope = dsse::sign(dsse::IN_TOTO_PAYLOAD_TYPE, &payload, key)?;
        put(signed, serde_json::to_vec_pretty(&envelope).context("serialising the envelope")?)?;
    }
    Ok(written)
}

/// The provenance statement for `report` (subjects: the first run's files).
fn statement(
    spec: &Spec,
    report: &Report,
    built_on: BuiltOn<'_>,
    report_sha256: &str,
    builder_id: &str,
) -> Result<Value> {
    let first = report.runs.first().context("no run finished, so there is nothing to attest")?;
    let subject: Vec<Value> = first
        .result
        .outputs
        .iter()
        .filter_map(|(name, entry)| match entry {
            crate::collect::OutputEntry::File { sha256, .. } => Some(json!({
                "name": name,
                "digest": { "sha256": sha256.hex() },
            })),
            crate::collect::OutputEntry::Symlink { .. } | crate::collect::OutputEntry::Directory { .. } => {
                None
            }
        })
        .collect();
    let factors =
        report.factors.as_ref().map(|f| json!({ "varied": f.varied, "not_applied": f.not_applied }));
    let mut byproducts = vec![
        json!({
            "name": "report.json",
            "digest": { "sha256": report_sha256 },
            "mediaType": "application/json",
        }),
        json!({ "name": "factors", "annotations": factors }),
    ];
    if let Some(sbom) = &report.sbom {
        byproducts.push(json!({
            "name": sbom.file,
            "digest": { "sha256": hex_of(&sbom.sha256) },
            "mediaType": "application/spdx+json",
        }));
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PROVENANCE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "spec": {
                        "path": report.spec.path,
                        "digest": { "sha256": spec.sha256.hex() },
                        "content": spec.text,
                    },
                    "runs": report.runs.len(),
                },
                "internalParameters": { "engine": report.engine },
                "resolvedDependencies": dependencies(report, built_on),
            },
            "runDetails": {
                "builder": {
                    "id": builder_id,
                    "version": { report.tool.name: report.tool.version },
                },
                "metadata": {
                    "invocationId": report.run_id,
                    "startedOn": report.started_at,
                    "finishedOn": report.finished_at,
                },
                "byproducts": byproducts,
            },
        },
    }))
}

/// The source, the toolchain image and the image's packages as SLSA
/// resource descriptors.
fn dependencies(report: &Report, built_on: BuiltOn<'_>) -> Vec<Value> {
    let mut deps = Vec::new();
    if let Some(source) = built_on.source {
        let mut d = Map::new();
        d.insert("name".into(), json!("source"));
        let mut annotations = json!({ "narHash": source.nar_hash });
        match &source.kind {
            SourceKind::Git { url, rev, tag, commit_time } => {
                let url = if url.starts_with('/') { format!("file://{url}") } else { url.clone() };
                let reference = tag.as_ref().map(|t| format!("@refs/tags/{t}")).unwrap_or_default();
                d.insert("uri".into(), json!(format!("git+{url}{reference}")));
                d.insert("digest".into(), json!({ "gitCommit": rev }));
                annotations["commitTime"] = json!(commit_time);
            }
            SourceKind::Tarball { file, sha256 } | SourceKind::Dsc { file, sha256, .. } => {
                d.insert("uri".into(), json!(format!("file://{}", file.display())));
                d.insert("digest".into(), json!({ "sha256": sha256.hex() }));
                if let SourceKind::Dsc { package, .. } = &source.kind {
                    annotations["debianSource"] = json!(package);
                }
            }
            SourceKind::Path => {
                d.insert("uri".into(), json!(format!("file://{}", source.path.display())));
            }
        }
        d.insert("annotations".into(), annotations);
        deps.push(Value::Object(d));
    }
    if let Some(id) = &report.image.id {
        let mut image = json!({
            "name": "toolchain-image",
            "digest": { "sha256": hex_of(id) },
            "annotations": { "imageName": report.image.name, "pinned": report.image.digest },
        });
        // A registry image: where it is pulled from, by digest, and the digests it resolved to.
        if let Some(registry) = &report.image.registry {
            if let Some(purl) = built_on.toolchain.as_ref().and_then(|t| t.image.purl()) {
                image["uri"] = json!(purl);
            }
            let annotations = &mut image["annotations"];
            annotations["reference"] = json!(registry.reference);
            annotations["indexDigest"] = json!(registry.index_digest);
            annotations["manifestDigest"] = json!(registry.manifest_digest);
            annotations["platform"] = json!(registry.platform);
        }
        deps.push(image);
    }
    if let Some(toolchain) = built_on.toolchain {
        deps.extend(toolchain.components.iter().map(|c| package_dependency(c, &toolchain.origin)));
    }
    deps
}

/// One package of the toolchain: its purl, and the sha256 of its .deb or
/// wheel where a lock knows it.
fn package_dependency(component: &Component, origin: &Origin) -> Value {
    let mut d = json!({
        "name": component.file.as_deref().unwrap_or(&component.name),
        "uri": component.purl(),
        "annotations": { "packagesFrom": origin.as_str() },
    });
    if let Some(sha256) = &component.sha256 {
        d["digest"] = json!({ "sha256": sha256.hex() });
    }
    d
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// What `attest verify` found.
#[derive(Debug)]
pub struct AttestCheck {
    /// The id of the key that verified the signature.
    pub key_id: String,
    /// The statement's subjects: name and hex sha256.
    pub subjects: Vec<(String, String)>,
    /// Each artifact given, its hex sha256, and the subject it matched.
    pub artifacts: Vec<(PathBuf, String, Option<String>)>,
    /// What a verification summary concluded (`None` for provenance).
    pub summary: Option<vsa::Summary>,
}

impl AttestCheck {
    /// What `attest verify` prints when the signature and subjects hold.
    pub fn summary(&self) -> String {
        // The envelope is untrusted: nothing from it may move the cursor or end a line.
        let clean = crate::style::without_controls;
        let kind = match &self.summary {
            Some(_) => "a SLSA verification summary",
            None => "an in-toto Statement v1",
        };
        let mut s =
            format!("OK: signed by key {}; {kind} with {} subject(s)\n", self.key_id, self.subjects.len());
        for (file, sha256, name) in &self.artifacts {
            let name = clean(name.as_deref().unwrap_or("?"));
            s.push_str(&format!("  {} sha256:{sha256} is subject {name}\n", file.display()));
        }
        if let Some(summary) = &self.summary {
            s.push_str(&format!("verification result: {}\n", clean(&summary.result)));
            for (name, verdict) in &summary.verdicts {
                s.push_str(&format!("  {:<13} {}\n", clean(verdict), clean(name)));
            }
        }
        s
    }

    /// False for a verification summary that says FAILED.
    pub fn passed(&self) -> bool {
        self.summary.as_ref().is_none_or(vsa::Summary::passed)
    }
}

/// Largest envelope `attest verify` reads. The ones reprocheck writes are
/// kilobytes (a batch of thousands of subjects stays below a few MiB); the
/// envelope, its decoded payload and the parsed statement are held at once.
pub const MAX_ENVELOPE: u64 = 16 << 20;

/// The bytes of the envelope at `path`, refused above [`MAX_ENVELOPE`]
/// (read through a cap, so a file growing while read is refused too).
fn read_envelope(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut text = Vec::new();
    file.take(MAX_ENVELOPE + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        text.len() as u64 <= MAX_ENVELOPE,
        "{} is larger than {} MiB, the most an attestation envelope may be (reprocheck's own are kilobytes); \
         check that it is the .dsse.json file reprocheck wrote",
        path.display(),
        MAX_ENVELOPE >> 20
    );
    Ok(text)
}

/// Checks the envelope at `path`: a signature by `key`, an in-toto
/// Statement v1 payload, and every artifact's sha256 among its subjects.
/// `Ok(Err(reason))` is a failed check; `Err` is unreadable input.
pub fn verify(
    path: &Path,
    key: &VerifyingKey,
    artifacts: &[PathBuf],
) -> Result<std::result::Result<AttestCheck, String>> {
    let text = read_envelope(path)?;
    let envelope: dsse::Envelope = serde_json::from_slice(&text).with_context(|| {
        format!("{} is not a DSSE envelope (JSON with payload, payloadType, signatures)", path.display())
    })?;
    let mut hashes = Vec::new();
    for artifact in artifacts {
        // Streamed: an artifact can be gigabytes.
        let digest = crate::digest::Digest::of_file(artifact)
            .with_context(|| format!("reading the artifact {}", artifact.display()))?;
        hashes.push((artifact.clone(), digest.hex().to_string()));
    }
    if envelope.payload_type != dsse::IN_TOTO_PAYLOAD_TYPE {
        return Ok(Err(format!(
            "payloadType is `{}`, not `{}`",
            envelope.payload_type,
            dsse::IN_TOTO_PAYLOAD_TYPE
        )));
    }
    let payload = match dsse::open(&envelope, key) {
        Ok(payload) => payload,
        Err(e) => return Ok(Err(format!("{e:#}"))),
    };
    let Ok(statement) = serde_json::from_slice::<Value>(&payload) else {
        return Ok(Err("the signed payload is not JSON".into()));
    };
    if statement["_type"] != STATEMENT_TYPE {
        return Ok(Err(format!("the payload's _type is {}, not {STATEMENT_TYPE}", statement["_type"])));
    }
    let Some(list) = statement["subject"].as_array() else {
        return Ok(Err("the statement has no subject list".into()));
    };
    let subjects: Vec<(String, String)> = list
        .iter()
        .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["digest"]["sha256"].as_str()?.to_string())))
        .collect();
    let mut checked = Vec::new();
    for (artifact, sha256) in hashes {
        let name = subjects.iter().find(|(_, h)| *h == sha256).map(|(n, _)| n.clone());
        if name.is_none() {
            return Ok(Err(format!(
                "{} (sha256:{sha256}) is not a subject of the statement",
                artifact.display()
            )));
        }
        checked.push((artifact, sha256, name));
    }
    let summary = vsa::Summary::of(&statement);
    Ok(Ok(AttestCheck { key_id: keys::key_id(key)?, subjects, artifacts: checked, summary }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    /// An envelope past the cap is refused before it is read, naming the cap;
    /// one just under it is read (and judged on what it holds).
    #[test]
    fn an_envelope_over_the_cap_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let path = dir.path().join("huge.dsse.json");
        // Sparse: nothing is written, the file is as large as a hostile one.
        std::fs::File::create(&path).unwrap().set_len(MAX_ENVELOPE + 1).unwrap();
        let err = verify(&path, &key, &[]).unwrap_err().to_string();
        assert!(err.contains("is larger than 16 MiB, the most an attestation envelope may be"), "{err}");
        std::fs::File::create(&path).unwrap().set_len(MAX_ENVELOPE).unwrap();
        let err = format!("{:#}", verify(&path, &key, &[]).unwrap_err());
        assert!(err.contains("is not a DSSE envelope"), "at the cap it is read: {err}");
    }

    /// Artifacts are hashed as streams; the digest is the file's sha256.
    #[test]
    fn an_artifact_is_matched_by_its_streamed_digest() {
        let dir = tempfile::tempdir().unwrap();
        let signer = SigningKey::from_bytes(&[7u8; 32]);
        let artifact = dir.path().join("a.tgz");
        let bytes = vec![5u8; (3 << 20) + 17]; // more than one read block
        std::fs::write(&artifact, &bytes).unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        let statement = serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "a.tgz", "digest": {"sha256": sha}}],
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        let envelope = dsse::sign(dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &signer).unwrap();
        let path = dir.path().join("p.dsse.json");
        std::fs::write(&path, serde_json::to_vec(&envelope).unwrap()).unwrap();
        let check = verify(&path, &signer.verifying_key(), std::slice::from_ref(&artifact)).unwrap().unwrap();
        assert_eq!(check.artifacts[0].1, sha);
        std::fs::write(&artifact, b"other").unwrap();
        let failed = verify(&path, &signer.verifying_key(), &[artifact]).unwrap().unwrap_err();
        assert!(failed.contains("is not a subject"), "{failed}");
    }
}
