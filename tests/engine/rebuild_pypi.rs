//! `reprocheck rebuild pypi:NAME==VERSION` end to end, against the package
//! index pip is configured for (as the bundled examples already need): a
//! published wheel rebuilt with no hand-written file and verified bit for
//! bit; a batch that counts a target it cannot infer; and, from an index
//! served on loopback, a published wheel changed after the fact, which
//! must come out as a mismatch naming the changed file.

use crate::common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

/// idna 3.10: flit_core 3.9.0, published with per-file times in UTC.
const TARGET: &str = "pypi:idna==3.10";

fn rebuild(args: &[&str]) -> Output {
    let mut full = vec!["rebuild"];
    full.extend_from_slice(args);
    reprocheck(&full)
}

#[test]
fn a_published_wheel_is_rebuilt_and_a_tampered_one_is_caught() {
    let Some(_engine) = engine() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let specs = tmp.path().join("specs");
    let (specs_arg, out) = (specs.to_str().unwrap(), tmp.path().join("out"));

    // One target: the spec is inferred, the image locked, the wheel verified.
    let one = rebuild(&[TARGET, "--write-spec", specs_arg, "--out", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&one.stderr);
    assert!(
        stderr.contains("flit-core==3.9.0  (from the published wheel's WHEEL Generator `flit 3.9.0`)"),
        "{}",
        show(&one)
    );
    assert_eq!(one.status.code(), Some(0), "idna 3.10 should verify bit for bit: {}", show(&one));
    let report = report(&out);
    assert_eq!(report["verification"]["outputs"][0]["verdict"], "match", "{report:#}");
    let spec = std::fs::read_to_string(specs.join("pypi-idna-3.10.toml")).unwrap();
    assert!(spec.contains("[expect]") && spec.contains("idna-3.10-py3-none-any.whl"), "{spec}");

    // A batch in the same directory: the lock is reused, and a target the
    // index does not have is counted as not inferable, not as a failure to build.
    let list = tmp.path().join("targets.list");
    std::fs::write(&list, format!("# two targets\n{TARGET}\npypi:reprocheck-no-such-project-x7q==1.0\n"))
        .unwrap();
    let batch_out = tmp.path().join("batch");
    let batch = rebuild(&[
        &format!("@{}", list.display()),
        "--write-spec",
        specs_arg,
        "--out",
        batch_out.to_str().unwrap(),
    ]);
    assert_eq!(batch.status.code(), Some(1), "{}", show(&batch));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batch_out.join("rebuild.json")).unwrap()).unwrap();
    assert_eq!(summary["counts"]["bit-identical"], 1, "{summary:#}");
    assert_eq!(summary["counts"]["not-inferable"], 1, "{summary:#}");
    assert!(batch_out.join("summary.json").is_file() && batch_out.join("index.html").is_file());
    assert!(!String::from_utf8_lossy(&batch.stderr).contains("building and locking"), "{}", show(&batch));

    // The same release from an index on loopback whose wheel was changed.
    let served = tmp.path().join("index");
    let wheel = std::fs::read(specs.join("pypi-idna-3.10/idna-3.10-py3-none-any.whl")).unwrap();
    let sdist = std::fs::read(specs.join("pypi-idna-3.10/idna-3.10.tar.gz")).unwrap();
    let tampered = tamper(&wheel, "idna/core.py");
    let requirements = std::fs::read_dir(specs.join("images")).unwrap().next().unwrap().unwrap().path();
    let backend = pip_download_backend(tmp.path());
    serve_project(
        &served,
        "idna",
        &[("idna-3.10.tar.gz", &sdist), ("idna-3.10-py3-none-any.whl", &tampered)],
    );
    let backend_name = backend.file_name().unwrap().to_string_lossy().into_owned();
    serve_project(&served, "flit-core", &[(&backend_name, &std::fs::read(&backend).unwrap())]);
    let (mut server, url) = http_server(&served);
    let tampered_specs = tmp.path().join("tampered-specs");
    // The image is the same: its lock is copied rather than built again.
    let image_dir = tampered_specs.join("images").join(requirements.file_name().unwrap());
    std::fs::create_dir_all(&image_dir).unwrap();
    std::fs::copy(requirements.join("packages.lock"), image_dir.join("packages.lock")).unwrap();
    let tampered_out = tmp.path().join("tampered-out");
    let caught = rebuild(&[
        TARGET,
        "--index-url",
        &url,
        "--write-spec",
        tampered_specs.to_str().unwrap(),
        "--out",
        tampered_out.to_str().unwrap(),
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(caught.status.code(), Some(1), "{}", show(&caught));
    let report = common::report(&tampered_out);
    let output = &report["verification"]["outputs"][0];
    assert_eq!(output["verdict"], "mismatch", "{report:#}");
    let scopes: Vec<&str> =
        output["diff"]["details"].as_array().unwrap().iter().filter_map(|d| d["scope"].as_str()).collect();
    assert!(scopes.iter().any(|s| s.contains("idna/core.py")), "{scopes:?}");
}

/// The wheel with `member`'s contents changed and everything else (names,
/// times, order) as it was.
fn tamper(wheel: &[u8], member: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if entry.name() == member {
            data.extend_from_slice(b"\n# changed after the build\n");
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(entry.last_modified().unwrap_or_default());
        out.start_file(entry.name().to_string(), options).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// flit_core 3.9.0's wheel, by the host's pip from its configured index.
fn pip_download_backend(tmp: &Path) -> std::path::PathBuf {
    let dest = tmp.join("backend");
    let run = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "flit_core==3.9.0",
            "-d",
        ])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(run.status.success(), "pip download: {}", show(&run));
    std::fs::read_dir(&dest).unwrap().next().unwrap().unwrap().path()
}

/// Writes `root/simple/PROJECT/` as the two forms of the simple API: a
/// PEP 691 JSON page (`index.json`, which reprocheck reads) and a PEP 503
/// HTML page (`index.html`, which pip reads), with the files beside them.
fn serve_project(root: &Path, project: &str, files: &[(&str, &[u8])]) {
    use sha2::Digest as _;
    let dir = root.join("simple").join(project);
    std::fs::create_dir_all(&dir).unwrap();
    let mut links = String::new();
    let listed: Vec<serde_json::Value> = files
        .iter()
        .map(|(name, bytes)| {
            std::fs::write(dir.join(name), bytes).unwrap();
            let sha = hex::encode(sha2::Sha256::digest(bytes));
            links.push_str(&format!("<a href=\"{name}#sha256={sha}\">{name}</a>\n"));
            serde_json::json!({"filename": name, "url": name, "hashes": {"sha256": sha}})
        })
        .collect();
    let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": listed});
    std::fs::write(dir.join("index.json"), page.to_string()).unwrap();
    std::fs::write(dir.join("index.html"), format!("<!DOCTYPE html><html><body>\n{links}</body></html>\n"))
        .unwrap();
}

/// Serves `index.json` for a directory to a client that asks for the JSON
/// simple API, `index.html` otherwise (content negotiation, as indexes do).
const SERVER: &str = r#"
import http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        if self.path.endswith("/") and "pypi.simple.v1+json" in self.headers.get("Accept", ""):
            self.path += "index.json"
            f = open(self.translate_path(self.path), "rb")
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            return f
        return super().send_head()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"#;

/// A static HTTP server on a free loopback port serving `root`.
fn http_server(root: &Path) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new("python3")
        .args(["-c", SERVER, &port.to_string()])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, format!("http://127.0.0.1:{port}/simple"));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the test index on port {port} did not start");
}
