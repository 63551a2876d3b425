//! Every malformed spec under tests/bad-specs/ fails cleanly: exit 2, a
//! one-screen message naming the file and line with the expected fragments,
//! no panic, no results directory, and no engine contacted.

use crate::common;

use common::*;

/// A terminal screen.
const MAX_LINES: usize = 24;

#[test]
fn every_bad_spec_gets_a_located_one_screen_error() {
    let dir = root().join("tests/bad-specs");
    let mut specs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 30, "the corpus has {} specs; the issue asks for at least 30", specs.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for spec in &specs {
        let name = spec.file_stem().unwrap().to_str().unwrap();
        let expect = std::fs::read_to_string(spec.with_extension("expect"))
            .unwrap_or_else(|_| panic!("{name}.toml has no {name}.expect beside it"));
        let mut lines = expect.lines();
        let line = lines.next().and_then(|l| l.strip_prefix("line ")).expect("first line: `line N`");
        let mut fragments: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        // An optional `args: ...` line adds flags, e.g. to pass the confinement.
        let extra: Vec<&str> = match fragments.first().and_then(|l| l.strip_prefix("args: ")) {
            Some(args) => {
                let args = args.split_whitespace().collect();
                fragments.remove(0);
                args
            }
            None => Vec::new(),
        };
        let out = tmp.path().join(name);
        let relative = format!("tests/bad-specs/{name}.toml");
        let mut args = vec!["check", &relative, "--out", out.to_str().unwrap()];
        args.extend(extra);
        let run = reprocheck_cmd(&args)
            .env("DOCKER_HOST", "unix:///nonexistent/reprocheck-bad-specs.sock")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let mut problems = Vec::new();
        if run.status.code() != Some(2) {
            problems.push(format!("exit {:?}, not 2", run.status.code()));
        }
        if !stderr.contains(&format!("{relative}:{line}:")) {
            problems.push(format!("no `{relative}:{line}:`"));
        }
        for fragment in &fragments {
            if !stderr.contains(fragment) {
                problems.push(format!("no `{fragment}`"));
            }
        }
        if stderr.contains("panicked") {
            problems.push("a panic".into());
        }
        if stderr.lines().count() > MAX_LINES {
            problems.push(format!("{} lines of stderr", stderr.lines().count()));
        }
        if out.exists() {
            problems.push("a results directory was created".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{stderr}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} bad specs:\n{}", failures.len(), specs.len(), failures.join("\n"));
}
