//! The environment factors a run can vary, named after Debian's reprotest.
//!
//! Each factor has a control value (run 1) and an experiment value (every
//! other run), a way the engine applies it, and a check of whether this host
//! and image can apply it at all. A factor that cannot be applied is reported
//! with the reason, never skipped silently.

pub mod host;

pub use host::HostFacts;

use crate::plan::RunPlan;
use serde::Serialize;

/// The experiment's clock offset.
pub const TIME_SHIFT_DAYS: i64 = 398;

/// How far apart runs with different clocks start: files they write then
/// get real mtimes in different seconds, so a build that records the mtimes
/// of files it wrote is caught even though `stat` is not faked.
pub const STAGGER: std::time::Duration = std::time::Duration::from_secs(2);

/// One factor, for `reprocheck factors` and the report.
#[derive(Debug, Clone, Serialize)]
pub struct Factor {
    /// reprotest's name.
    pub name: &'static str,
    /// What leaks when a build depends on it.
    pub description: &'static str,
    /// The value in the control run.
    pub control: &'static str,
    /// The value in experiment runs.
    pub experiment: &'static str,
    /// The mechanism.
    pub how: &'static str,
}

/// Every factor, in reprotest's order.
pub const FACTORS: &[Factor] = &[
    Factor {
        name: "environment",
        description: "an extra environment variable",
        control: "(none)",
        experiment: "REPROCHECK_CAPTURE_ENVIRONMENT=i_capture_the_environment",
        how: "container environment",
    },
    Factor {
        name: "build_path",
        description: "the directory the build runs in",
        control: "/build/<name>",
        experiment: "/build/reprocheck-second-build-path/<name>",
        how: "where the source is uploaded",
    },
    Factor {
        name: "user",
        description: "uid and gid of the build, and owner of the build dir",
        control: "1111:1111",
        experiment: "2222:2222",
        how: "container User; source tar owned by it",
    },
    Factor {
        name: "umask",
        description: "the file creation mask",
        control: "0022",
        experiment: "0002",
        how: "wrapper sets it before the command",
    },
    Factor {
        name: "locales",
        description: "LANG, LC_ALL and LANGUAGE (set even if the image lacks the locale)",
        control: "LANG=C.UTF-8 LANGUAGE=en_US:en",
        experiment: "LANG=et_EE.UTF-8 LC_ALL=et_EE.UTF-8 LANGUAGE=et_EE:et",
        how: "container environment",
    },
    Factor {
        name: "timezone",
        description: "TZ",
        control: "Etc/GMT+12",
        experiment: "Etc/GMT-14",
        how: "container environment",
    },
    Factor {
        name: "home",
        description: "HOME",
        control: "/nonexistent/first-build",
        experiment: "/nonexistent/second-build",
        how: "container environment",
    },
    Factor {
        name: "exec_path",
        description: "PATH",
        control: "the standard PATH",
        experiment: "PATH + :/i/capture/the/path",
        how: "container environment",
    },
    Factor {
        name: "domain_host",
        description: "hostname and domain name",
        control: "reprocheck / reprocheck.invalid",
        experiment: "reprocheck-second / second.reprocheck.invalid",
        how: "container Hostname and Domainname",
    },
    Factor {
        name: "num_cpus",
        description: "CPUs the build may use (what nproc reports)",
        control: "1 CPU",
        experiment: "all CPUs",
        how: "container cpuset",
    },
    Factor {
        name: "kernel",
        description: "the kernel release uname reports",
        control: "native",
        experiment: "2.6.x (setarch --uname-2.6)",
        how: "wrapper: setarch personality UNAME26",
    },
    Factor {
        name: "aslr",
        description: "address space layout randomisation",
        control: "disabled (setarch -R)",
        experiment: "enabled",
        how: "wrapper: setarch personality ADDR_NO_RANDOMIZE",
    },
    Factor {
        name: "fileordering",
        description: "the order readdir returns directory entries",
        control: "plain host dir",
        experiment: "disorderfs --reverse-dirents=yes (and st_blocks padded)",
        how: "host dir bind-mounted as the build dir; through disorderfs for experiments",
    },
    Factor {
        name: "time",
        description: "the clock, and the mtimes of files the build writes",
        control: "real",
        experiment: "+398 days (libfaketime; stat not faked), started at least 2 s after the control",
        how: "host libfaketime via /etc/ld.so.preload, NO_FAKE_STAT=1 in every run; runs with different clocks start 2 s apart",
    },
];

/// The factor table as text, for `reprocheck factors`.
pub fn table() -> String {
    let mut out = String::new();
    for f in FACTORS {
        out.push_str(&format!("{:<13} {}\n", f.name, f.description));
        out.push_str(&format!("{:<13}   control:    {}\n", "", f.control));
        out.push_str(&format!("{:<13}   experiment: {}\n", "", f.experiment));
        out.push_str(&format!("{:<13}   how:        {}\n", "", f.how));
    }
    out.push_str(
        "\nRun 1 is the control; every other run takes the experiment values of the varied factors.\n\
         Whether a factor can be applied depends on the host and the image: `check` probes them,\n\
         and the report lists every factor that was not varied, with the reason.\n",
    );
    out
}

/// Every factor name.
pub const NAMES: [&str; 14] = [
    "environment",
    "build_path",
    "user",
    "umask",
    "locales",
    "timezone",
    "home",
    "exec_path",
    "domain_host",
    "num_cpus",
    "kernel",
    "aslr",
    "fileordering",
    "time",
];

/// Checks that `name` is a known factor, suggesting the closest one otherwise.
pub fn check_name(name: &str) -> Result<(), String> {
    if NAMES.contains(&name) {
        return Ok(());
    }
    // The closest name by edit distance; a prefix of a name also counts.
    let suggestion = NAMES
        .iter()
        .map(|known| (if known.starts_with(name) { 1 } else { edit_distance(name, known) }, *known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| format!("; did you mean `{known}`?"))
        .unwrap_or_default();
    Err(format!("unknown factor `{name}`{suggestion}"))
}

/// Levenshtein distance between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Parses `--vary a,b,-c`: names to vary, `-name` to drop one from the
/// default set (every factor), or `none` for control-only runs.
pub fn parse_vary(arg: &str) -> anyhow::Result<Vec<String>> {
    if arg.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for item in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (list, name) = match item.strip_prefix('-') {
            Some(name) => (&mut remove, name),
            None => (&mut add, item),
        };
        check_name(name).map_err(|m| anyhow::anyhow!("--vary: {m} (`reprocheck factors` lists them)"))?;
        list.push(name.to_string());
    }
    let base: Vec<String> = if add.is_empty() { NAMES.iter().map(|s| s.to_string()).collect() } else { add };
    Ok(base.into_iter().filter(|n| !remove.contains(n)).collect())
}

/// Sets the experiment value of `name` on `run`. Availability has been
/// checked by the caller; `facts` says how (e.g. which time mechanism).
pub fn apply_experiment(name: &str, run: &mut RunPlan, facts: &HostFacts) {
    let set = |run: &mut RunPlan, k: &str, v: &str| {
        run.env.insert(k.to_string(), v.to_string());
    };
    match name {
        "environment" => set(run, "REPROCHECK_CAPTURE_ENVIRONMENT", "i_capture_the_environment"),
        "build_path" => {
            let base = run.build_dir.rsplit('/').next().unwrap_or("build").to_string();
            run.build_dir = format!("/build/reprocheck-second-build-path/{base}");
        }
        "user" => run.uid = 2222,
        "umask" => run.umask = "0002".to_string(),
        "locales" => {
            set(run, "LANG", "et_EE.UTF-8");
            set(run, "LC_ALL", "et_EE.UTF-8");
            set(run, "LANGUAGE", "et_EE:et");
        }
        "timezone" => set(run, "TZ", "Etc/GMT-14"),
        "home" => set(run, "HOME", "/nonexistent/second-build"),
        "exec_path" => {
            let path = run.env.get("PATH").cloned().unwrap_or_default();
            set(run, "PATH", &format!("{path}:/i/capture/the/path"));
        }
        "domain_host" => {
            run.hostname = "reprocheck-second".to_string();
            run.domainname = "second.reprocheck.invalid".to_string();
        }
        "num_cpus" => run.cpuset = None,
        "kernel" => run.uname26 = true,
        "aslr" => run.no_randomize = false,
        "fileordering" => {
            run.host_build_dir = true;
            run.disorderfs = true;
        }
        "time" => {
            run.shifted_clock = true;
            if facts.faketime_works {
                run.faketime = Some(format!("+{TIME_SHIFT_DAYS}d"));
            }
        }
        _ => {}
    }
}

/// Sets the control value of `name` on `run` where it is not the plan's
/// baseline (factors whose baseline differs between varied and not varied).
pub fn apply_control(name: &str, run: &mut RunPlan, facts: &HostFacts) {
    match name {
        "num_cpus" => run.cpuset = Some("0".to_string()),
        "aslr" if facts.can_disable_aslr => run.no_randomize = true,
        // The control builds in a plain host dir, so only the order differs.
        "fileordering" => run.host_build_dir = true,
        // libfaketime shifts only the clock: mtimes the build reads (sources
        // older than SOURCE_DATE_EPOCH, files it preserves with cp -a) stay
        // true. Set in every run so that the environment does not differ.
        "time" => {
            run.env.insert("NO_FAKE_STAT".to_string(), "1".to_string());
        }
        _ => {}
    }
}

/// Why `name` cannot be applied here, or `None` when it can.
pub fn unavailable(name: &str, facts: &HostFacts) -> Option<String> {
    match name {
        "num_cpus" if facts.cpus < 2 => Some(format!("the engine has {} CPU; nothing to vary", facts.cpus)),
        "kernel" if !facts.can_set_uname26 => Some(format!("setarch --uname-2.6 fails in the image: {}", facts.setarch_error)),
        "aslr" if !facts.can_disable_aslr => Some(format!(
            "ASLR cannot be disabled in the container ({}); the engine's default seccomp profile forbids personality(ADDR_NO_RANDOMIZE), so every run has ASLR enabled",
            facts.setarch_aslr_error
        )),
        "fileordering" if !facts.disorderfs_works => Some(facts.disorderfs_problem.clone()),
        _ => None,
    }
}

/// A note on a factor that is applied, but partly (the report shows it).
pub fn caveat(name: &str, facts: &HostFacts) -> Option<String> {
    match name {
        "time" if !facts.faketime_works => Some(format!(
            "libfaketime cannot be used ({}): the clock is NOT shifted, so a date in an output is caught only when it has seconds; experiment runs start {} s after the control, so mtimes of files the build writes differ",
            facts.faketime_problem,
            STAGGER.as_secs()
        )),
        "time" => Some(
            "statically linked programs see the real clock; mtimes are never faked (NO_FAKE_STAT=1 in every run): files the build writes differ because the experiment starts 2 s later; libfaketime adds FAKETIME_SHARED to the experiment's environment"
                .to_string(),
        ),
        "locales" if !facts.image_has_et_locale => {
            Some("the image has no et_EE locale: the variables are set, but glibc falls back to C".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_pass_and_typos_get_a_suggestion() {
        assert!(check_name("umask").is_ok());
        let err = check_name("users").unwrap_err();
        assert!(err.contains("did you mean `user`"), "{err}");
        for (typo, meant) in [("tim", "time"), ("umsk", "umask"), ("tme", "time"), ("timezon", "timezone")] {
            let err = check_name(typo).unwrap_err();
            assert!(err.contains(&format!("did you mean `{meant}`")), "{typo}: {err}");
        }
        assert!(check_name("zzz").unwrap_err().ends_with("`zzz`"));
    }

    #[test]
    fn vary_adds_removes_and_none() {
        assert_eq!(parse_vary("umask,user").unwrap(), ["umask", "user"]);
        let all_but_time = parse_vary("-time").unwrap();
        assert_eq!(all_but_time.len(), NAMES.len() - 1);
        assert!(!all_but_time.contains(&"time".to_string()));
        assert!(parse_vary("umask,-bogus").unwrap_err().to_string().contains("bogus"));
        assert!(parse_vary("none").unwrap().is_empty());
    }

    #[test]
    fn table_and_names_agree() {
        let names: Vec<&str> = FACTORS.iter().map(|f| f.name).collect();
        assert_eq!(names, NAMES);
    }
}
