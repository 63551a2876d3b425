//! `explain` names the step of the build where a difference entered, not
//! only the last process that wrote the output (issue 37): multi-step
//! builds (make, shell scripts, Python) where a leak enters at one step and
//! later steps carry it on, each traced in the explained runs.

use crate::common;

use common::*;
use serde_json::Value;

/// One fixture: the factor varied (`None`: the two controls differ by
/// themselves), the output, the file where the difference entered, a
/// piece of the command that wrote it, and the files it went through.
struct Propagates {
    fixture: &'static str,
    factor: Option<&'static str>,
    output: &'static str,
    entered_file: &'static str,
    entered_by: &'static str,
    chain: &'static [&'static str],
}

const CASES: &[Propagates] = &[
    Propagates {
        fixture: "propagate-date",
        factor: Some("time"),
        output: "out/prog",
        entered_file: "stamp.txt",
        entered_by: "date +%Y",
        chain: &["stamp.txt", "version.h", "out/prog"],
    },
    Propagates {
        fixture: "propagate-build_path",
        factor: Some("build_path"),
        output: "out/prog",
        entered_file: "util.o",
        entered_by: "/src/util.c",
        chain: &["util.o", "libutil.a", "out/prog"],
    },
    Propagates {
        fixture: "propagate-fileordering",
        factor: Some("fileordering"),
        output: "out/all.gz",
        entered_file: "order.txt",
        entered_by: "find parts -type f",
        chain: &["order.txt", "all.txt", "out/all.gz"],
    },
    Propagates {
        fixture: "propagate-umask",
        factor: Some("umask"),
        output: "out/bundle.tar.gz",
        entered_file: "bundle.tar",
        entered_by: "tar --sort=name",
        chain: &["bundle.tar", "out/bundle.tar.gz"],
    },
    Propagates {
        fixture: "propagate-tempname",
        factor: None,
        output: "out/doc.gz",
        entered_file: "config.mk",
        entered_by: "mktemp -d -u",
        chain: &["config.mk", "doc.txt", "out/doc.gz"],
    },
    Propagates {
        fixture: "propagate-domain_host",
        factor: Some("domain_host"),
        output: "out/page.html.gz",
        entered_file: "buildinfo.txt",
        entered_by: "python3 tools/buildinfo.py",
        chain: &["buildinfo.txt", "page.html", "out/page.html.gz"],
    },
];

/// Runs `explain --json` on the case's fixture, varying only its factor
/// (or nothing), and returns the propagation report.json gives its output.
fn explained_propagation(case: &Propagates) -> (Value, String) {
    let spec = Case::new(case.fixture, SH_BUILD);
    let vary = case.factor.unwrap_or("none");
    let args = ["explain", spec.spec.to_str().unwrap(), "--out", spec.out.to_str().unwrap(), "--vary", vary];
    let run = reprocheck(&args);
    assert_eq!(run.status.code(), Some(1), "{}: {}", case.fixture, show(&run));
    let terminal = String::from_utf8_lossy(&run.stdout).to_string();
    let explanation = spec.report()["explanation"].clone();
    let propagation = match case.factor {
        Some(factor) => {
            let blamed = explanation["blamed"].as_array().unwrap();
            let blame = blamed
                .iter()
                .find(|b| b["path"] == case.output)
                .unwrap_or_else(|| panic!("{}: {} not blamed: {explanation}", case.fixture, case.output));
            assert_eq!(blame["culprits"], serde_json::json!([[factor]]), "{}", case.fixture);
            blame["propagation"].clone()
        }
        None => explanation["nondeterministic_propagation"][case.output].clone(),
    };
    (propagation, terminal)
}

fn check_propagation(case: &Propagates) {
    let (propagation, terminal) = explained_propagation(case);
    let roots =
        propagation.as_array().unwrap_or_else(|| panic!("{}: no propagation: {propagation}", case.fixture));
    let root = &roots[0];
    let files: Vec<&str> =
        root["chain"].as_array().unwrap().iter().map(|c| c["file"].as_str().unwrap()).collect();
    assert_eq!(files, case.chain, "{}: {root}", case.fixture);
    assert_eq!(files[0], case.entered_file);
    let entered = root["entered"].as_array().unwrap();
    assert!(
        entered.iter().take(2).any(|c| c.as_str().unwrap().contains(case.entered_by)),
        "{}: the step where it entered is not named: {entered:?}",
        case.fixture
    );
    // The terminal names it too, one line per root cause.
    let line = terminal.lines().find(|l| l.trim_start().starts_with("entered at:"));
    let line = line.unwrap_or_else(|| panic!("{}: no 'entered at' line:\n{terminal}", case.fixture));
    assert!(line.contains(case.entered_file), "{}: {line}", case.fixture);
}

#[test]
fn explain_names_where_the_date_entered_a_make_build() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[0]);
}

#[test]
fn explain_names_where_the_build_path_entered_through_file_macro() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[1]);
}

#[test]
fn explain_names_where_the_directory_order_entered_a_shell_build() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[2]);
}

#[test]
fn explain_names_where_the_umask_entered_a_python_build() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[3]);
}

#[test]
fn explain_names_where_a_random_temporary_name_entered_without_any_factor() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[4]);
}

#[test]
fn explain_names_where_the_hostname_entered_a_python_build() {
    let Some(_engine) = ready_engine() else { return };
    check_propagation(&CASES[5]);
}
