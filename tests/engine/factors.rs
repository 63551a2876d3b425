//! The detection matrix: one fixture per factor, each leaking exactly that
//! factor. Varying only the factor must flag the build (exit 1); varying
//! every other factor must not (exit 0), which shows the fixture leaks
//! nothing else.

use crate::common;

use common::*;
use std::process::Output;

fn check(fixture_name: &str, vary: &str) -> (Output, serde_json::Value) {
    let case = Case::new(fixture_name, SH_BUILD);
    let run = case.check(&["--vary", vary]);
    (run, case.report())
}

/// Returns the reason when this host or image cannot apply `factor`.
fn not_applied(report: &serde_json::Value, factor: &str) -> Option<String> {
    report["factors"]["not_applied"][factor].as_str().map(str::to_string)
}

fn detects(fixture_name: &str, factor: &str) {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check(fixture_name, factor);
    if let Some(reason) = not_applied(&report, factor) {
        // Only what is known to be impossible on this engine may be missing.
        let allowed: &[&str] = &[];
        assert!(allowed.contains(&factor), "{factor} must be applied on this engine, but: {reason}");
        // Not silently skipped: the report and the terminal say why.
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains(&format!("not varied: {factor}: ")), "{}", show(&run));
        eprintln!("NOT APPLICABLE here: {factor}: {reason}");
        return;
    }
    assert_eq!(run.status.code(), Some(1), "varying {factor} must flag {fixture_name}: {}", show(&run));
    assert_eq!(report["factors"]["varied"], serde_json::json!([factor]));
    let runs = report["runs"].as_array().unwrap();
    assert_ne!(runs[0]["factors"][factor], runs[1]["factors"][factor], "the report shows both values");
}

fn leaks_nothing_else(fixture_name: &str, factor: &str) {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check(fixture_name, &format!("-{factor}"));
    assert_eq!(
        run.status.code(),
        Some(0),
        "every factor but {factor} must pass {fixture_name}: {}",
        show(&run)
    );
    assert!(!report["factors"]["varied"].as_array().unwrap().iter().any(|v| v == factor));
}

macro_rules! matrix {
    ($($test:ident: $fixture:literal, $factor:literal;)*) => {
        mod matrix {
            use super::*;
            $(
                #[test]
                fn $test() {
                    detects($fixture, $factor);
                    leaks_nothing_else($fixture, $factor);
                }
            )*
        }
    };
}

matrix! {
    environment: "leak-environment", "environment";
    build_path: "leak-build_path", "build_path";
    user: "leak-user", "user";
    umask: "leak-umask", "umask";
    locales: "leak-locales", "locales";
    timezone: "leak-timezone", "timezone";
    home: "leak-home", "home";
    exec_path: "leak-exec_path", "exec_path";
    domain_host: "leak-domain_host", "domain_host";
    num_cpus: "leak-num_cpus", "num_cpus";
    kernel: "leak-kernel", "kernel";
    fileordering: "leak-fileordering", "fileordering";
    time_date: "leak-time-date", "time";
}

// Engines' default seccomp profiles forbid personality(ADDR_NO_RANDOMIZE);
// reprocheck's own profile allows it, so ASLR is varied on Docker and Podman.
#[test]
fn aslr_is_detected_and_off_in_the_control() {
    let Some(_engine) = ready_engine() else { return };
    detects("leak-aslr", "aslr");
    leaks_nothing_else("leak-aslr", "aslr");
    // With ASLR off the stack sits at the same address in every control run
    // (the fixture's leak is the address; enabled, it is random each time).
    let control_stack = || {
        let case = Case::new("leak-aslr", SH_BUILD);
        let run = case.check(&["--vary", "aslr"]);
        assert_eq!(case.report()["runs"][0]["factors"]["aslr"], "disabled", "{}", show(&run));
        std::fs::read_to_string(case.out.join("run-1/outputs/out/addresses")).expect("the control's output")
    };
    let addresses = control_stack();
    assert!(addresses.contains("stack ") && addresses.contains("heap "), "{addresses}");
    assert_eq!(addresses, control_stack());
}

/// A factor that is not varied takes its control value in every run: with
/// nothing varied, or only the user, ASLR is off in both runs, so a build
/// that prints a stack and a heap address is reproducible.
#[test]
fn unvaried_aslr_is_off_in_every_run() {
    let Some(_engine) = ready_engine() else { return };
    for vary in ["none", "user"] {
        let (run, report) = check("leak-aslr", vary);
        assert_eq!(run.status.code(), Some(0), "--vary {vary}: {}", show(&run));
        for r in report["runs"].as_array().unwrap() {
            assert_eq!(r["factors"]["aslr"], "disabled", "--vary {vary}: {}", show(&run));
            assert_eq!(r["factors"]["num_cpus"], "1 CPU", "--vary {vary}: {}", show(&run));
        }
    }
}

/// Two runs at the num_cpus control have one CPU each, and not the same one:
/// on a 2-CPU engine two control-only builds sharing CPU 0 took twice as long.
#[test]
fn runs_at_the_cpu_control_build_on_cpus_of_their_own() {
    let Some(_engine) = ready_engine() else { return };
    let case =
        Case::script("cpus", "grep Cpus_allowed_list /proc/self/status\nmkdir -p out\nnproc > out/nproc\n");
    let run = case.check(&["--vary", "none"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    if report["factors"]["not_applied"]["num_cpus"].is_string() {
        return skipped("the engine has one CPU");
    }
    let allowed: Vec<String> = (1..=2)
        .map(|i| std::fs::read_to_string(case.out.join(format!("run-{i}/build.log"))).unwrap())
        .collect();
    assert_ne!(allowed[0], allowed[1], "both runs built on the same CPU");
    for i in 1..=2 {
        let nproc = std::fs::read_to_string(case.out.join(format!("run-{i}/outputs/out/nproc"))).unwrap();
        assert_eq!(nproc.trim(), "1", "run {i}: {}", allowed[i - 1]);
    }
}

/// The tar case reprotest misses when runs share a second: files the build
/// writes get real mtimes, and tar records them. Varying time must catch it
/// every time, also with runs started together.
#[test]
fn tar_mtime_leak_is_caught_ten_times_out_of_ten() {
    let Some(_engine) = ready_engine() else { return };
    for attempt in 1..=10 {
        let (run, _) = check("leak-time-mtime", "time");
        assert_eq!(run.status.code(), Some(1), "attempt {attempt}: {}", show(&run));
    }
}

/// The check reads the build's clock out of each run's outputs: every
/// member time of the tar lies inside the window the engine gives for the
/// run that wrote it, and the check names the place, the time factor and
/// the fix, whether or not the two runs wrote the same second. The runs
/// start together (no 2-second gap).
#[test]
fn the_builds_clock_is_read_from_each_runs_own_window() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("leak-time-mtime", "time");
    assert_eq!(run.status.code(), Some(1), "{}", show(&run));
    let clock =
        report["comparison"]["clock"].as_array().unwrap_or_else(|| panic!("no clock: {}", show(&run)));
    assert_eq!(clock.len(), 2, "both runs wrote fresh files: {clock:?}");
    for found in clock {
        let (started, finished) = (found["started"].as_str().unwrap(), found["finished"].as_str().unwrap());
        let seconds = |t: &str| reprocheck::clock::rfc3339_ns(t).unwrap().div_euclid(1_000_000_000);
        let stamps = found["stamps"].as_array().unwrap();
        let places: Vec<&str> = stamps.iter().map(|s| s["place"].as_str().unwrap()).collect();
        assert!(
            places.contains(&"out/gen.tar > gen/a") && places.contains(&"out/gen.tar > gen/b"),
            "{places:?}"
        );
        for stamp in stamps {
            assert_eq!(stamp["field"], "mtime");
            let time = seconds(stamp["time"].as_str().unwrap());
            assert!(
                (seconds(started)..=seconds(finished)).contains(&time),
                "{stamp} outside {started}..{finished}"
            );
            assert!(stamp["fix"].as_str().unwrap().contains("--clamp-mtime"));
        }
    }
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("the build's clock, run 2"), "{stdout}");
    // Started together: the two windows overlap, or nearly (no 2-second gap).
    let start = |i: usize| reprocheck::clock::rfc3339_ns(clock[i]["started"].as_str().unwrap()).unwrap();
    assert!((start(1) - start(0)).abs() < 1_500_000_000, "runs started {} ns apart", start(1) - start(0));
}

#[test]
fn clean_fixture_passes_with_every_factor() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("clean", &reprocheck::factors::NAMES.join(","));
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let varied = report["factors"]["varied"].as_array().unwrap().len();
    let not_applied = report["factors"]["not_applied"].as_object().unwrap().len();
    assert_eq!(varied + not_applied, reprocheck::factors::NAMES.len(), "every factor is accounted for");
}

#[test]
fn control_only_rerun_varies_nothing() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("leak-home", "none");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["factors"]["varied"], serde_json::json!([]));
    let (run, _) = check("random", "none");
    assert_eq!(run.status.code(), Some(1), "nondeterminism shows without any variation: {}", show(&run));
}

/// Setting a file's times to "now" works under the time factor and gives
/// the clock files are written with (libfaketime 0.9.10 alone fails
/// `utime(FILE, NULL)` with EINVAL, which stopped dpkg-source, and gives
/// `touch` the shifted now, which made make loop); explicit times are kept.
#[test]
fn setting_a_file_time_to_now_works_under_the_time_factor() {
    let Some(_engine) = ready_engine() else { return };
    let (run, report) = check("time-utime-now", "time");
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    assert_eq!(report["factors"]["varied"], serde_json::json!(["time"]));
    assert!(report["runs"][1]["factors"]["time"].as_str().unwrap().contains("libfaketime"), "{}", show(&run));
    let caveat = report["factors"]["caveats"]["time"].as_str().unwrap();
    assert!(caveat.contains("never file times") && !caveat.contains("does not work"), "{caveat}");
}

/// A build that keeps or clamps the mtimes of its *source* files is
/// reproducible: the time factor must shift the clock, never the mtimes the
/// build reads. SOURCE_DATE_EPOCH (2100) is newer than every source file, so
/// --clamp-mtime keeps their real mtimes, as it does for a release tarball
/// of old files.
#[test]
fn preserved_and_clamped_source_mtimes_pass_with_every_factor() {
    let Some(_engine) = ready_engine() else { return };
    let build = format!("{SH_BUILD}\nsource_date_epoch = 4102444800");
    let case = Case::new("time-preserve-source", &build);
    let run = case.check(&["--vary", &reprocheck::factors::NAMES.join(",")]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    assert!(report["factors"]["varied"].as_array().unwrap().iter().any(|f| f == "time"), "{report}");
}

/// An image made from the pinned one by running `script` in it as root (the
/// engine's CLI at `DOCKER_HOST`), removed when dropped.
struct DerivedImage {
    id: String,
    tag: String,
}

impl DerivedImage {
    /// The CLI for this engine: `podman --url` for Podman (its Docker API
    /// refuses the docker CLI's commit), else `docker`; both follow `DOCKER_HOST`.
    fn cli() -> std::process::Command {
        let host = std::env::var("DOCKER_HOST").unwrap_or_default();
        let podman = engine().is_some_and(|e| reprocheck::engine::Engine::info(&e).kind == "podman");
        if podman {
            let mut cmd = std::process::Command::new("podman");
            cmd.args(["--url", &host]);
            cmd
        } else {
            std::process::Command::new("docker")
        }
    }

    fn new(script: &str) -> DerivedImage {
        let name = format!("reprocheck-test-derive-{}", std::process::id());
        let tag = format!("reprocheck-test/derived:{}", std::process::id());
        let docker = |args: &[&str]| {
            let out = Self::cli().args(args).output().expect("running the engine's CLI");
            assert!(out.status.success(), "docker {args:?}: {}", show(&out));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        // create, start and wait: Podman's API refuses the attach of `docker run`;
        // explicit ulimits, as src/engine/docker.rs gives Podman, which
        // otherwise asks for more than a root container here may have.
        let image = pinned_digest();
        let _removed = RemoveContainer(name.clone());
        let limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"];
        let mut create = vec!["create", "--name", &name, "--user", "0", "--network", "none"];
        create.extend(limits);
        create.extend([image.as_str(), "sh", "-c", script]);
        docker(&create);
        docker(&["start", &name]);
        assert_eq!(docker(&["wait", &name]), "0", "the script in the derived image failed");
        docker(&["commit", &name, &tag]);
        let id = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
        let id = if id.starts_with("sha256:") { id } else { format!("sha256:{id}") };
        DerivedImage { id, tag }
    }

    /// `case`'s spec, on this image instead of the pinned one.
    fn use_in(&self, case: &Case) {
        let text = std::fs::read_to_string(&case.spec).unwrap().replace(&pinned_digest(), &self.id);
        std::fs::write(&case.spec, text).unwrap();
    }
}

/// Removes the named container when dropped, whatever the test did.
struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = DerivedImage::cli().args(["rm", "--force", &self.0]).output();
    }
}

impl Drop for DerivedImage {
    fn drop(&mut self) {
        let _ = DerivedImage::cli().args(["rmi", "--force", &self.tag]).output();
    }
}

/// In an image without time zone data both TZ values fall back to UTC: the
/// probe sees that, and `timezone` is reported as not varied with the fix,
/// never as varied. The same fixture is caught in the bundled image, which
/// has tzdata (the matrix above).
#[test]
fn timezone_is_not_varied_where_the_image_cannot_resolve_zones() {
    let Some(_engine) = ready_engine() else { return };
    let image = DerivedImage::new("rm -rf /usr/share/zoneinfo");
    let case = Case::new("leak-timezone", SH_BUILD);
    image.use_in(&case);
    let run = case.check(&["--vary", "timezone,umask"]);
    assert_eq!(run.status.code(), Some(0), "{}", show(&run));
    let report = case.report();
    let reason = not_applied(&report, "timezone")
        .unwrap_or_else(|| panic!("timezone must not be varied: {}", show(&run)));
    assert!(reason.contains("+0000 | +0000") && reason.contains("add tzdata"), "{reason}");
    assert_eq!(report["factors"]["varied"], serde_json::json!(["umask"]));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("not varied: timezone: "), "{}", show(&run));
}
