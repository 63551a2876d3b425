//! Every factor, in reprotest's order: what it varies, its documented
//! values, and how it sets them. Adding a factor is one entry here (and its
//! line in docs/factors.md); `FactorId`, `--vary`, the plan, the probe's
//! reasons and the report all read this table. A mechanism beyond
//! `Settings` is a hook here (`may_use_host_build_dir`, `staggers_start`),
//! never a factor's name tested elsewhere.

use super::{Factor, HostFacts, Settings, STAGGER, TIME_SHIFT_DAYS};

/// The control `PATH`.
pub const CONTROL_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The control build user (uid and gid).
pub const CONTROL_UID: u32 = 1111;
/// The experiment build user (uid and gid).
const EXPERIMENT_UID: u32 = 2222;
const CONTROL_UMASK: &str = "0022";
const EXPERIMENT_UMASK: &str = "0002";
const CONTROL_TZ: &str = "Etc/GMT+12";
const EXPERIMENT_TZ: &str = "Etc/GMT-14";
const CONTROL_HOME: &str = "/nonexistent/first-build";
const EXPERIMENT_HOME: &str = "/nonexistent/second-build";
const CAPTURE_VARIABLE: &str = "REPROCHECK_CAPTURE_ENVIRONMENT";
const CAPTURE_VALUE: &str = "i_capture_the_environment";
const SECOND_BUILD_PATH: &str = "/build/reprocheck-second-build-path";
const PATH_SUFFIX: &str = ":/i/capture/the/path";

/// A factor with nothing to set at that point.
fn unchanged(_: &mut Settings, _: &HostFacts) {}
/// A factor every host and image can apply.
fn always_available(_: &HostFacts) -> Option<String> {
    None
}
/// A factor applied without a limitation worth a note.
fn no_caveat(_: &HostFacts) -> Option<String> {
    None
}

/// Every factor.
pub const FACTORS: &[Factor] = &[
    Factor {
        name: "environment",
        description: "an extra environment variable",
        control: "(none)",
        experiment: "REPROCHECK_CAPTURE_ENVIRONMENT=i_capture_the_environment",
        how: "container environment",
        set_control: unchanged,
        set_experiment: |s, _| s.set_env(CAPTURE_VARIABLE, CAPTURE_VALUE),
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| s.env_value(CAPTURE_VARIABLE),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "build_path",
        description: "the directory the build runs in",
        control: "/build/<name>",
        experiment: "/build/reprocheck-second-build-path/<name>",
        how: "where the source is uploaded",
        // Settings::control places the build in /build/<name>.
        set_control: unchanged,
        set_experiment: |s, _| {
            let base = s.build_dir.rsplit('/').next().unwrap_or("build").to_string();
            s.build_dir = format!("{SECOND_BUILD_PATH}/{base}");
        },
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| s.build_dir.clone(),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "user",
        description: "uid and gid of the build, and owner of the build dir",
        control: "1111:1111",
        experiment: "2222:2222",
        how: "container User; source tar owned by it",
        set_control: |s, _| s.uid = CONTROL_UID,
        set_experiment: |s, _| s.uid = EXPERIMENT_UID,
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| format!("{}:{}", s.uid, s.uid),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "umask",
        description: "the file creation mask",
        control: CONTROL_UMASK,
        experiment: EXPERIMENT_UMASK,
        how: "wrapper sets it before the command",
        set_control: |s, _| s.umask = CONTROL_UMASK.to_string(),
        set_experiment: |s, _| s.umask = EXPERIMENT_UMASK.to_string(),
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| s.umask.clone(),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "locales",
        description: "LANG, LC_ALL and LANGUAGE (set even if the image lacks the locale)",
        control: "LANG=C.UTF-8 LANGUAGE=en_US:en",
        experiment: "LANG=et_EE.UTF-8 LC_ALL=et_EE.UTF-8 LANGUAGE=et_EE:et",
        how: "container environment",
        set_control: |s, _| {
            s.set_env("LANG", "C.UTF-8");
            s.set_env("LANGUAGE", "en_US:en");
        },
        set_experiment: |s, _| {
            s.set_env("LANG", "et_EE.UTF-8");
            s.set_env("LC_ALL", "et_EE.UTF-8");
            s.set_env("LANGUAGE", "et_EE:et");
        },
        unavailable: |facts| {
            (!facts.locales_observed).then(|| {
                format!(
                    "the control and experiment locales give the same `locale charmap` and day name in the image ({}); \
                     use an image with glibc's `locale` (Debian's libc-bin)",
                    facts.locales_seen
                )
            })
        },
        caveat: |facts| {
            (!facts.image_has_et_locale).then(|| {
                format!(
                    "the image has no et_EE locale: glibc falls back to C, so the variables and the character set differ \
                     ({}) but not translations, collation or date names; add locales-all to the recipe's packages to vary them",
                    facts.locales_seen
                )
            })
        },
        value: |s| {
            format!("LANG={} LC_ALL={} LANGUAGE={}", s.env_value("LANG"), s.env_value("LC_ALL"), s.env_value("LANGUAGE"))
        },
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "timezone",
        description: "TZ",
        control: CONTROL_TZ,
        experiment: EXPERIMENT_TZ,
        how: "container environment",
        set_control: |s, _| s.set_env("TZ", CONTROL_TZ),
        set_experiment: |s, _| s.set_env("TZ", EXPERIMENT_TZ),
        unavailable: |facts| {
            (!facts.timezone_observed).then(|| {
                format!(
                    "TZ={CONTROL_TZ} and TZ={EXPERIMENT_TZ} give the same UTC offset in the image ({}): it has no time zone \
                     data, so both fall back to UTC; add tzdata to the recipe's packages",
                    facts.timezone_seen
                )
            })
        },
        caveat: no_caveat,
        value: |s| s.env_value("TZ"),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "home",
        description: "HOME",
        control: CONTROL_HOME,
        experiment: EXPERIMENT_HOME,
        how: "container environment",
        set_control: |s, _| s.set_env("HOME", CONTROL_HOME),
        set_experiment: |s, _| s.set_env("HOME", EXPERIMENT_HOME),
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| s.env_value("HOME"),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "exec_path",
        description: "PATH",
        control: "the standard PATH",
        experiment: "PATH + :/i/capture/the/path",
        how: "container environment",
        set_control: |s, _| s.set_env("PATH", CONTROL_PATH),
        set_experiment: |s, _| {
            let path = s.env.get("PATH").cloned().unwrap_or_default();
            s.set_env("PATH", &format!("{path}{PATH_SUFFIX}"));
        },
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| s.env_value("PATH"),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "domain_host",
        description: "hostname and domain name",
        control: "reprocheck / reprocheck.invalid",
        experiment: "reprocheck-second / second.reprocheck.invalid",
        how: "container Hostname and Domainname",
        set_control: |s, _| {
            s.hostname = "reprocheck".to_string();
            s.domainname = "reprocheck.invalid".to_string();
        },
        set_experiment: |s, _| {
            s.hostname = "reprocheck-second".to_string();
            s.domainname = "second.reprocheck.invalid".to_string();
        },
        unavailable: always_available,
        caveat: no_caveat,
        value: |s| format!("{} / {}", s.hostname, s.domainname),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "num_cpus",
        description: "CPUs the build may use (what nproc reports)",
        control: "1 CPU",
        experiment: "all CPUs",
        how: "container cpuset",
        // Run 1's CPU; plan::Plan::run gives each other run at the control its own.
        set_control: |s, facts| s.cpuset = Some(facts.control_cpu(1)),
        set_experiment: |s, _| s.cpuset = None,
        unavailable: |facts| {
            (facts.cpus < 2).then(|| format!("the engine has {} CPU; nothing to vary", facts.cpus))
        },
        caveat: no_caveat,
        // Which CPU a run at the control has is not the factor's value: each run has its own.
        value: |s| s.cpuset.as_ref().map_or("all".to_string(), |_| "1 CPU".to_string()),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "kernel",
        description: "the kernel release uname reports",
        control: "native",
        experiment: "2.6.x (setarch --uname-2.6)",
        how: "wrapper: setarch personality UNAME26",
        set_control: unchanged,
        set_experiment: |s, _| s.uname26 = true,
        unavailable: |facts| {
            (!facts.can_set_uname26).then(|| format!("setarch --uname-2.6 fails in the image: {}", facts.setarch_error))
        },
        caveat: no_caveat,
        value: |s| if s.uname26 { "2.6 (setarch --uname-2.6)" } else { "native" }.to_string(),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "aslr",
        description: "address space layout randomisation",
        control: "disabled (setarch -R)",
        experiment: "enabled",
        how: "wrapper: setarch personality ADDR_NO_RANDOMIZE, allowed by reprocheck's seccomp profile",
        set_control: |s, facts| {
            if facts.can_disable_aslr {
                s.no_randomize = true;
            }
        },
        set_experiment: |s, _| s.no_randomize = false,
        unavailable: |facts| {
            (!facts.can_disable_aslr).then(|| {
                format!(
                    "ASLR cannot be disabled in the container ({}): the seccomp profile in force forbids personality(ADDR_NO_RANDOMIZE) (reprocheck's own profile could not be given to this engine), so every run has ASLR enabled",
                    facts.setarch_aslr_error
                )
            })
        },
        caveat: no_caveat,
        value: |s| if s.no_randomize { "disabled" } else { "enabled" }.to_string(),
        may_use_host_build_dir: false,
        staggers_start: false,
    },
    Factor {
        name: "fileordering",
        description: "the order readdir returns directory entries",
        control: "the filesystem's order",
        experiment: "reversed: disorderfs --reverse-dirents=yes (and st_blocks padded) where the engine shares this host's filesystem, else reprocheck's readdir reverser preloaded",
        how: "local engine: host dir bind-mounted as the build dir, through disorderfs for experiments; other engines: a readdir/readdir64 wrapper uploaded and named in /etc/ld.so.preload",
        // With disorderfs the control builds in a plain host dir, so only the order differs.
        set_control: |s, facts| s.host_build_dir = facts.disorderfs_works,
        set_experiment: |s, facts| {
            if facts.disorderfs_works {
                s.host_build_dir = true;
                s.disorderfs = true;
            } else {
                s.reverse_readdir = facts.readdir_reverser_works;
            }
        },
        unavailable: |facts| {
            (!facts.disorderfs_works && !facts.readdir_reverser_works).then(|| {
                format!(
                    "disorderfs cannot be used ({}) and {}",
                    facts.disorderfs_problem, facts.readdir_reverser_problem
                )
            })
        },
        caveat: |facts| {
            (!facts.disorderfs_works && facts.readdir_reverser_works).then(|| {
                format!(
                    "reversed by a preloaded readdir wrapper, as disorderfs cannot be used ({}): statically linked programs, \
                     glibc's glob, ftw/nftw, fts and scandirat, readdir_r and raw getdents64 calls see the filesystem's order",
                    facts.disorderfs_problem
                )
            })
        },
        value: |s| {
            match (s.host_build_dir, s.disorderfs, s.reverse_readdir) {
                (_, true, _) => "disorderfs, reversed dirents (host dir)",
                (_, _, true) => "reversed (preloaded readdir wrapper)",
                (true, false, false) => "plain (host dir)",
                (false, false, false) => "plain",
            }
            .to_string()
        },
        may_use_host_build_dir: true,
        staggers_start: false,
    },
    Factor {
        name: "time",
        description: "the clock, and the mtimes of files the build writes",
        control: "real",
        experiment: "+398 days (libfaketime; file times and stat not faked); every run's outputs read for times from inside its own run",
        how: "host libfaketime uploaded into the container and named in /etc/ld.so.preload after reprocheck's file-times fix (the utime family as plain system calls), NO_FAKE_STAT=1 in every run; tar, ar, zip and gzip times in the outputs that fall inside the run's own window (the engine's start and exit times) are the build's clock (explain and verify start runs with different clocks 2 s apart instead)",
        // libfaketime shifts only the clock: mtimes the build reads (sources
        // older than SOURCE_DATE_EPOCH, files it preserves with cp -a) stay
        // true. Set in every run so that the environment does not differ.
        set_control: |s, _| s.set_env("NO_FAKE_STAT", "1"),
        set_experiment: |s, facts| {
            s.shifted_clock = true;
            if facts.faketime_works {
                s.faketime = Some(format!("+{TIME_SHIFT_DAYS}d"));
            }
        },
        unavailable: always_available,
        caveat: |facts| {
            let apart = STAGGER.as_secs();
            Some(match (facts.faketime_works, facts.utime_now_works) {
                (false, _) => format!(
                    "libfaketime cannot be used ({}): the clock is NOT shifted, so a date printed into an output is caught only when the runs print different seconds; archive and gzip times from inside a run's own window are caught all the same (explain and verify start runs {apart} s apart)",
                    facts.faketime_problem,
                ),
                (true, works) => {
                    let mut caveat = format!(
                        "only the clock is shifted, never file times: files the build writes or sets to \"now\" (touch FILE, \
                         utime(FILE, NULL)) get the real time, and a tar, ar, zip or gzip time from inside a run's own window \
                         is reported as the build's clock (explain and verify start runs {apart} s apart instead); explicit times \
                         (touch -d, cp -p, tar) are kept exactly, and stat is not faked (NO_FAKE_STAT=1 in every run); \
                         statically linked programs see the real clock; libfaketime adds FAKETIME_SHARED to the experiment's environment"
                    );
                    if !works {
                        caveat.push_str(&format!(
                            "; but in this image setting a file's time to now does not work as intended under libfaketime ({}), \
                             so builds that do (dpkg-source with quilt patches, make's stamps) may fail or loop in the experiment",
                            facts.utime_now_problem
                        ));
                    }
                    caveat
                }
            })
        },
        value: |s| match (&s.faketime, s.shifted_clock) {
            (Some(offset), _) => format!("{offset} (libfaketime)"),
            (None, false) => "real".to_string(),
            (None, true) => "real (no libfaketime)".to_string(),
        },
        may_use_host_build_dir: false,
        staggers_start: true,
    },
];
