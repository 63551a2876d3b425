//! report.html in a real browser: headless Chromium renders the report of a
//! failing example, and the test reads the page text, follows its links, and
//! checks that it loads nothing from anywhere else.
//!
//! `REPROCHECK_UPDATE_SCREENSHOT=1 cargo test --release --test engine html::` also
//! refreshes docs/report.png.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Headless Chromium, or `None` (skipped, visibly) when it is not installed
/// and REPROCHECK_SKIP_ENGINE_TESTS=1 asks to skip what the machine lacks;
/// otherwise missing fails (CI installs it).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var(SKIP_VARIABLE).as_deref() != Ok("1") {
            panic!("Chromium is not installed (apt-get install chromium), or set {SKIP_VARIABLE}=1 to skip");
        }
        skipped("Chromium is not installed");
    }
    found
}

/// Runs headless Chromium on `page` with `args`, with every host name
/// unresolvable so that a page that tried to fetch anything would show it.
fn headless(browser: &Path, page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .env("HOME", profile.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of a DOM dump: tags dropped, entities decoded, space squeezed.
fn page_text(dom: &str) -> String {
    let body = dom.split("<body>").nth(1).unwrap_or(dom);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every `href="..."` in the DOM.
fn hrefs(dom: &str) -> Vec<String> {
    dom.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
}

/// `reprocheck -q check SPEC` (relative to the repository) into a fresh
/// results directory, expecting exit `code`; the directory and its path.
fn check_example(spec: &str, code: i32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = reprocheck(&["-q", "check", spec, "--out", out.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(code), "{}", show(&run));
    (dir, out)
}

#[test]
fn the_report_of_a_failing_check_reads_right_in_a_browser() {
    let Some(_engine) = ready_engine() else { return };
    let Some(browser) = chromium() else { return };
    let (dir, out) = check_example("specs/hello-unreproducible.toml", 1);
    let report = report(&out);
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: no external script, style, image or link.
    for banned in ["<script", "<link", "src=", "http://", "https://", "url("] {
        assert!(!html.contains(banned), "report.html contains {banned:?}");
    }

    let dom = headless(&browser, &page, &["--dump-dom"]);
    let text = page_text(&dom);
    let mut want = vec![
        "UNREPRODUCIBLE hello-unreproducible".to_string(),
        "2 output(s) differ between the 2 runs".to_string(),
        report["image"]["digest"].as_str().unwrap().to_string(),
        report["source"]["nar_hash"].as_str().unwrap().to_string(),
        report["spec"]["sha256"].as_str().unwrap().to_string(),
        "dist/hello-1.0.tar.gz".to_string(),
        "fix: tar --owner=0 --group=0 --numeric-owner".to_string(),
        // A row of the evidence table (the user factor's, which does not
        // depend on how fast a loaded machine runs the two builds).
        "tar entry hello-1.0/ gid 1111 2222".to_string(),
        "run 1 control run 2".to_string(),
        // The factor table: a row per factor with each run's value.
        "umask 0022 0002".to_string(),
        "user 1111:1111 2222:2222".to_string(),
    ];
    // File order only differs where the fileordering factor is applied.
    let varied = report["factors"]["varied"].as_array().unwrap();
    if varied.iter().any(|f| f == "fileordering") {
        want.push("fix: tar --sort=name".to_string());
    }
    for fragment in &want {
        assert!(text.contains(fragment.as_str()), "the page text lacks {fragment:?}:\n{text}");
    }
    // Both runs' differing outputs are shown with their digests.
    for run in report["comparison"]["differences"][0]["variants"].as_array().unwrap() {
        let sha = run["entry"]["sha256"].as_str().unwrap();
        assert!(text.contains(&sha[..19]), "the page text lacks {sha}");
    }

    // The links to logs, outputs and the JSON resolve inside the results directory.
    let links = hrefs(&dom);
    for wanted in ["run-1/build.log", "run-2/build.log", "run-1/outputs/", "run-2/outputs/", "report.json"] {
        assert!(links.iter().any(|l| l == wanted), "no link to {wanted} in {links:?}");
    }
    for link in &links {
        let target = out.join(link.replace("%20", " "));
        assert!(target.exists(), "the link {link} points at nothing ({})", target.display());
        let target = target.canonicalize().unwrap();
        assert!(target.starts_with(out.canonicalize().unwrap()), "{link} leaves the results");
    }

    // A screenshot renders: a real PNG with something on it.
    let png = dir.path().join("report.png");
    headless(&browser, &page, &["--window-size=1280,2400", &format!("--screenshot={}", png.display())]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 50_000, "a {}-byte screenshot is blank", bytes.len());
    if std::env::var("REPROCHECK_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        std::fs::copy(&png, root().join("docs/report.png")).unwrap();
    }
}

#[test]
fn a_reproducible_check_says_so_and_lists_no_difference() {
    let Some(_engine) = ready_engine() else { return };
    let Some(browser) = chromium() else { return };
    let (_dir, out) = check_example("specs/hello.toml", 0);
    let text = page_text(&headless(&browser, &out.join("report.html"), &["--dump-dom"]));
    assert!(text.contains("REPRODUCIBLE hello 2 runs produced identical outputs"), "{text}");
    assert!(!text.contains("Differing outputs"), "{text}");
}

#[test]
fn the_explain_report_shows_the_blamed_factor_and_its_fix() {
    let Some(_engine) = ready_engine() else { return };
    let Some(browser) = chromium() else { return };
    let case = Case::new("leak-umask", SH_BUILD);
    let args = ["-q", "explain", case.spec.to_str().unwrap(), "--out", case.out.to_str().unwrap()];
    let run = reprocheck(&args);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let text = page_text(&headless(&browser, &case.out.join("report.html"), &["--dump-dom"]));
    for fragment in [
        "What causes the differences",
        "out/gen.tar blamed on: umask",
        "fix: make modes independent of the umask",
    ] {
        assert!(text.contains(fragment), "the page text lacks {fragment:?}:\n{text}");
    }
}

#[test]
fn the_verify_report_shows_each_published_artifact_and_its_verdict() {
    let Some(_engine) = ready_engine() else { return };
    let Some(browser) = chromium() else { return };
    example_repo();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let reference = "dist/hello-1.0.tgz=specs/published/hello-1.0.tgz";
    let spec = "specs/release-naive.toml";
    let args = ["-q", "verify", spec, "--expect-file", reference, "--out", out.to_str().unwrap()];
    let run = reprocheck(&args);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let text = page_text(&headless(&browser, &out.join("report.html"), &["--dump-dom"]));
    for fragment in [
        "NOT VERIFIED hello-release-naive",
        "Published artifacts",
        "content-match dist/hello-1.0.tgz",
        "reference file specs/published/hello-1.0.tgz",
        "git",
        "29bf614cada87943a3de6273c4edc79045925ad3",
    ] {
        assert!(text.contains(fragment), "the page text lacks {fragment:?}:\n{text}");
    }
}

#[test]
fn a_hundred_differing_outputs_keep_the_verdict_readable_on_the_terminal_and_the_page() {
    let Some(_engine) = ready_engine() else { return };
    let Some(browser) = chromium() else { return };
    let case = Case::new("leak-home-many", SH_BUILD);
    let run = case.check(&["-q"]);
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let report = case.report();
    let differences = report["comparison"]["differences"].as_array().unwrap();
    assert_eq!(differences.len(), 100, "report.json keeps every differing output");

    // The terminal details 8 outputs, names 30 more, and counts the rest.
    let stdout = String::from_utf8_lossy(&run.stdout);
    let named: std::collections::BTreeSet<&str> =
        stdout.split_whitespace().filter(|w| w.starts_with("out/f") && w.ends_with(".txt")).collect();
    assert_eq!(named.len(), 38, "{stdout}");
    assert!(stdout.contains("… and 62 more: report.html and report.json list every one"), "{stdout}");
    assert!(stdout.lines().count() < 160, "{} lines: {stdout}", stdout.lines().count());
    let verdict = stdout.lines().position(|l| l.starts_with("UNREPRODUCIBLE: 100 of the outputs differ"));
    assert!(verdict.is_some_and(|line| line < 6), "the verdict comes before the details: {stdout}");
    assert!(stdout.contains(&format!("report:  {}", case.out.join("report.html").display())), "{stdout}");

    // The page shows 20 outputs open and folds the other 80, all present.
    let dom = headless(&browser, &case.out.join("report.html"), &["--dump-dom"]);
    assert_eq!(dom.matches("<article class=\"output\">").count(), 100);
    let text = page_text(&dom);
    assert!(text.contains("80 more differing outputs"), "{text}");
    let last = differences[99]["path"].as_str().unwrap();
    assert!(text.contains(last), "the folded outputs are on the page too: {last}");
}
