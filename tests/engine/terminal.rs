//! End-to-end: what a person at a terminal gets. Live progress on a real
//! pseudo-terminal, `-q`, `-v` log streaming, colours and NO_COLOR, build
//! logs always saved, hostile log bytes kept off the terminal, and the
//! completions and man pages loaded by the real shells and groff.

use crate::common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A one-file project whose build prints `log_line` and writes one output.
fn printing_project(dir: &Path, log_line: &str) -> std::path::PathBuf {
    let source = dir.join("src");
    std::fs::create_dir(&source).unwrap();
    let script = format!(
        "printf '%b\\n' '{log_line}'\necho first line\numask 022 && mkdir -p out && echo ok > out/ok\n"
    );
    std::fs::write(source.join("build.sh"), script).unwrap();
    write_spec(dir, "printing", &source, SH_BUILD)
}

/// Runs `command` under a pseudo-terminal (util-linux `script`), so stdout
/// and stderr are a TTY; returns everything the terminal received.
fn on_a_terminal(command: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new("script");
    cmd.args(["-qec", command, "/dev/null"]).current_dir(root()).env_remove("NO_COLOR");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True when `text` holds an SGR (colour) escape sequence: ESC [ digits/; m.
fn has_colour(text: &str) -> bool {
    text.split("\x1b[").skip(1).any(|rest| {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        rest[end..].starts_with('m')
    })
}

#[test]
fn a_terminal_gets_live_progress_and_colours_and_no_color_turns_colours_off() {
    let Some(_engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = printing_project(dir.path(), "hello from the build");
    let bin = env!("CARGO_BIN_EXE_reprocheck");
    let command =
        |out: &str| format!("{bin} check {} --out {}", spec.display(), dir.path().join(out).display());

    // One job: run 2 waits for run 1, and its line says so from the start.
    let (code, screen) = on_a_terminal(&format!("{} --jobs 1", command("colour")), &[]);
    assert_eq!(code, Some(0), "{screen}");
    // One line per run with its factor set, its phase, and the last log line.
    assert!(screen.contains("run 1  [control]"), "{screen}");
    assert!(screen.contains("run 2  [all "), "{screen}");
    assert!(screen.contains("queued"), "a run waiting for a job slot is shown: {screen}");
    assert!(screen.contains("│ first line") || screen.contains("│ hello from the build"), "{screen}");
    // The finished lines stay, their columns aligned whatever the factor labels.
    let done_at = |run: &str| {
        let line = screen.split(['\r', '\n']).find(|l| l.contains(run) && l.trim_end().ends_with("s done"));
        let line = line.unwrap_or_else(|| panic!("no finished line for {run}: {screen}"));
        line.find("s done").unwrap() - line.find(run).unwrap()
    };
    assert_eq!(done_at("run 1  [control]"), done_at("run 2  [all "), "{screen}");
    assert!(has_colour(&screen), "a terminal gets colours: {screen:?}");

    let (code, screen) = on_a_terminal(&command("plain"), &[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("REPRODUCIBLE"), "{screen}");
    assert!(!has_colour(&screen), "NO_COLOR=1 leaves no colour: {screen:?}");

    let (_, screen) = on_a_terminal(&format!("{} --color never", command("never")), &[]);
    assert!(!has_colour(&screen), "--color never: {screen:?}");
    let (_, screen) = on_a_terminal(&format!("{} --quiet", command("quiet")), &[]);
    assert!(!screen.contains("run 2  [all"), "--quiet shows no progress: {screen}");
    assert!(screen.contains("REPRODUCIBLE"), "--quiet still gives the result: {screen}");
}

#[test]
fn verbose_streams_logs_by_run_quiet_does_not_and_logs_are_always_saved() {
    let Some(_engine) = ready_engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    // The build prints a terminal escape sequence that would retitle the terminal.
    let spec = printing_project(dir.path(), "\\033]0;pwned\\007visible");
    let run = |flag: &str, out: &str| {
        let out = dir.path().join(out);
        let run = reprocheck(&[flag, "check", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(0), "{}", show(&run));
        (run, out)
    };

    let (verbose, out) = run("-v", "verbose");
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    for index in [1, 2] {
        assert!(stderr.contains(&format!("[run {index}] first line")), "{stderr}");
        let log = std::fs::read(out.join(format!("run-{index}/build.log"))).unwrap();
        assert!(log.windows(9).any(|w| w == b"\x1b]0;pwned"), "the saved log keeps the bytes as built");
    }
    assert!(stderr.contains("[run 1] \u{fffd}]0;pwned\u{fffd}visible"), "{stderr}");
    assert!(!stderr.contains('\x1b') && !stderr.contains('\x07'), "no raw control byte reaches stderr");

    let (quiet, out) = run("-q", "quiet");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "--quiet prints nothing on stderr");
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("REPRODUCIBLE"));
    for index in [1, 2] {
        let log = std::fs::read_to_string(out.join(format!("run-{index}/build.log"))).unwrap();
        assert!(log.contains("first line"), "run {index}'s log is saved under --quiet too");
    }

    let (plain, _) = run("--color=always", "always");
    assert!(has_colour(&String::from_utf8_lossy(&plain.stdout)), "--color always colours a pipe");
}

#[test]
fn completions_load_in_bash_zsh_and_fish() {
    let script = |shell: &str| {
        let run = reprocheck(&["completions", shell]);
        assert!(run.status.success(), "{}", show(&run));
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &run.stdout).unwrap();
        file
    };
    let sh = |shell: &str, code: String| {
        let out = Command::new(shell).args(["-c", &code]).output().unwrap_or_else(|e| {
            panic!("{shell} is needed to test its completions ({e}); apt-get install {shell}")
        });
        assert!(out.status.success(), "{shell}: {}", show(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let bash = script("bash");
    // What bash offers for the last of `words`, as if TAB were pressed there.
    let bash_complete = |words: &[&str]| {
        let (cur, prev) = (words[words.len() - 1], words[words.len() - 2]);
        let code = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; _reprocheck reprocheck {cur} {prev}; echo \"${{COMPREPLY[@]}}\"",
            bash.path().display(),
            words.join(" "),
            words.len() - 1
        );
        sh("bash", code)
    };
    assert_eq!(bash_complete(&["reprocheck", "ch"]).trim(), "check", "bash completes `reprocheck ch`");
    let words = bash_complete(&["reprocheck", "check", "--vary", "--j"]);
    assert!(words.contains("--jobs") && words.contains("--json"), "{words}");

    let fish = script("fish");
    let words = sh("fish", format!("source {}; complete -C 'reprocheck ver'", fish.path().display()));
    assert!(words.starts_with("verify\t"), "fish completes `reprocheck ver`: {words}");

    let zsh = script("zsh");
    let loaded = sh(
        "zsh",
        format!(
            "autoload -Uz compinit && compinit -u && source {} && print $_comps[reprocheck]",
            zsh.path().display()
        ),
    );
    assert_eq!(loaded.trim(), "_reprocheck", "zsh registers the completion function");
}

#[test]
fn man_pages_are_written_for_every_command_and_render_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let run = reprocheck(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(run.status.success(), "{}", show(&run));
    let listed = String::from_utf8_lossy(&run.stdout);
    for page in ["reprocheck.1", "reprocheck-check.1", "reprocheck-verify.1", "reprocheck-attest-verify.1"] {
        assert!(dir.path().join(page).exists() && listed.contains(page), "{page} missing: {listed}");
    }
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(dir.path().join("reprocheck-check.1"))
        .output()
        .expect("groff renders the man page (apt-get install groff-base)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff warns: {stderr}");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("--runs") && page.contains("reprocheck check specs/hello.toml"), "{page}");
}
