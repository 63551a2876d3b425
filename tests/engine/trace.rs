//! The build trace (`check --trace`, issue 37): recorded inside the
//! container with no added privilege, saved per run, and read back into
//! the process that wrote each output.

use crate::common;

use common::remote::{have, SshEndpoint};
use common::*;
use reprocheck::trace::{FileEventKind, Trace};

/// A build of several steps: `date` writes the year through a shell
/// redirection, a nested shell's `cat` carries it into an output, and `cp`
/// plus `mv` make a second output under a temporary name (modes fixed: the
/// umask factor must not make it unreproducible).
const STEPS: &str = "mkdir -p out\n\
                     date +%Y > year.txt\n\
                     sh -c 'cat year.txt' > out/x\n\
                     cp out/x out/y.tmp && mv out/y.tmp out/y\n\
                     chmod -R go-w out\n";

#[test]
fn a_traced_check_names_the_process_behind_each_output() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::script("traced", STEPS);
    let run = case.check(&["--trace", "--vary", "-time"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    for run_report in report["runs"].as_array().unwrap() {
        let trace = &run_report["trace"];
        assert_eq!(trace["complete"], true, "{trace}");
        assert_eq!(trace["traced"], true, "{trace}");
        assert_eq!(trace["bad_lines"], 0, "{trace}");
        let chain = |output: &str| -> Vec<String> {
            trace["writers"][output]
                .as_array()
                .unwrap_or_else(|| panic!("no writer of {output}: {trace}"))
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        };
        let x = chain("out/x");
        assert_eq!(x[0], "cat year.txt", "{x:?}");
        assert!(x.iter().any(|c| c == "sh build.sh"), "the chain reaches the build script: {x:?}");
        assert_eq!(chain("out/y")[0], "cp out/x out/y.tmp", "through the rename");

        // The saved trace itself: the year came from `date`, in the build directory.
        let file = case.out.join(trace["file"].as_str().unwrap());
        let parsed = Trace::parse(&std::fs::read(&file).unwrap()).unwrap();
        let build_dir = run_report["environment"]["build_dir"].as_str().unwrap();
        let writer = parsed.writer_of(&format!("{build_dir}/year.txt")).expect("a writer of year.txt");
        assert_eq!(parsed.processes[&writer].exe.as_deref(), Some("/usr/bin/date"));
        assert!(
            parsed
                .events
                .iter()
                .any(|e| e.kind == FileEventKind::Read
                    && parsed.path(e.path) == format!("{build_dir}/year.txt"))
        );
    }
}

#[test]
fn an_untraced_check_has_no_trace() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::script("untraced", "mkdir -p out\necho x > out/t\n");
    let run = case.check(&["--vary", "none"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    assert!(report["runs"][0].get("trace").is_none(), "{}", report["runs"][0]);
    assert!(!case.out.join("run-1").join("trace.tsv").exists());
}

/// The tracer adds no capability: its builds run with the same (empty)
/// effective set as untraced ones, and a statically linked program is
/// traced too (ptrace sees every process, whatever its libc).
#[test]
fn traced_builds_keep_no_capabilities_and_static_programs_are_seen() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::script(
        "caps",
        "mkdir -p out\ngrep CapEff /proc/self/status > out/caps\n\
         /usr/lib/reprocheck/reprocheck-trace /dev/null sh -c 'echo nested' > out/nested || echo refused > out/nested\n",
    );
    let run = case.check(&["--trace", "--vary", "none"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let caps = std::fs::read_to_string(case.out.join("run-1/outputs/out/caps")).unwrap();
    assert_eq!(caps.trim(), "CapEff:\t0000000000000000", "capabilities in a traced build");
    // The tracer itself is a static program: run inside the traced build, its
    // exec is in the trace.
    let report = case.report();
    let parsed = Trace::parse(
        &std::fs::read(case.out.join(report["runs"][0]["trace"]["file"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert!(
        parsed.processes.values().any(|p| p.exe.as_deref() == Some("/usr/lib/reprocheck/reprocheck-trace")),
        "the static tracer's exec is not in the trace"
    );
}

/// Over a remote endpoint (ssh) the trace comes back through the engine's
/// archive API like the outputs.
#[test]
fn a_traced_check_over_ssh_brings_its_trace_back() {
    let Some(_engine) = ready_engine() else { return };
    if !have("sshd") || !have("ssh") || !have("docker") {
        return;
    }
    let ssh = SshEndpoint::start();
    let case = Case::script("traced-remote", STEPS);
    let mut cmd = case.check_cmd(&["--trace", "--vary", "none"]);
    ssh.apply(&mut cmd);
    let run = cmd.output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    assert_eq!(report["engine"]["endpoint"].as_str(), Some(ssh.host.as_str()));
    let writer = &report["runs"][1]["trace"]["writers"]["out/x"][0];
    assert_eq!(writer, "cat year.txt", "{}", report["runs"][1]["trace"]);
}

/// The terminal names the process behind each differing output.
#[test]
fn the_summary_says_which_process_wrote_a_differing_output() {
    let Some(_engine) = ready_engine() else { return };
    let case = Case::script("traced-random", "mkdir -p out\nhead -c 8 /dev/urandom | od -An -tx1 > out/r\n");
    let run = case.check(&["--trace", "--vary", "none"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("  out/r\n    written by: od -An -tx1 <- sh build.sh"), "{stdout}");
}
