//! The factor probe's script and how its answer is read: one short container
//! on the pinned image that proves, for every factor whose effect depends on
//! the image, that the control and the experiment really differ there (a
//! time zone that resolves to other offsets, a locale that changes what libc
//! prints, a personality that takes, a clock that moves), so a factor that
//! would do nothing is reported as not varied, never listed as varied.

use super::{HostFacts, Settings, FACTORS};

/// Where reprocheck's readdir reverser appears inside experiment containers.
pub const READDIR_REVERSER_IN_CONTAINER: &str = "/usr/lib/reprocheck/libreaddir-reverse.so";

/// The environment variables whose values the locales factor sets.
const LOCALE_VARIABLES: [&str; 3] = ["LANG", "LC_ALL", "LANGUAGE"];

/// The probe script: one `key=value` line per fact. `@…@` are filled in by
/// [`script`] from the factor table, so the probe tries the values the runs
/// use.
const PROBE: &str = r#"
echo "nproc=$(nproc)"
echo "cpu_list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)"
if release=$(setarch "$(uname -m)" --uname-2.6 uname -r 2>/tmp/err); then
  case "$release" in 2.6.*) echo uname26=ok;; *) echo "uname26=uname -r still reports $release";; esac
else echo "uname26=$(head -c 300 /tmp/err | tr '\n' ' ')"; fi
if persona=$(setarch "$(uname -m)" -R cat /proc/self/personality 2>/tmp/err); then
  case "$persona" in
    ""|*[!0-9a-fA-F]*) echo "aslr=/proc/self/personality read '$persona'";;
    *) if [ $(( 0x$persona & 0x0040000 )) -ne 0 ]; then echo aslr=ok; else echo "aslr=the personality stayed $persona"; fi;;
  esac
else echo "aslr=$(head -c 300 /tmp/err | tr '\n' ' ')"; fi
if [ -d /usr/lib/locale/et_EE.utf8 ] || (locale -a 2>/dev/null | grep -qi '^et_EE'); then echo et=yes; else echo et=no; fi
echo "date=$(date +%s 2>/tmp/err)"
echo "date_err=$(head -c 300 /tmp/err | tr '\n' ' ')"
echo > /tmp/written && touch /tmp/now
if command -v perl >/dev/null && ! perl -e 'utime(undef, undef, "/tmp/now") or die "utime(file, NULL): $!\n"' 2>/tmp/err; then
  echo "utime_now=$(head -c 300 /tmp/err | tr '\n' ' ')"
else
  now=$(stat -c %Y /tmp/now 2>/dev/null); written=$(stat -c %Y /tmp/written 2>/dev/null)
  case "$now$written" in
    ""|*[!0-9]*) echo utime_now=ok;;  # no GNU stat to compare with: perl's utime(NULL) worked
    *) if [ $(( now - written )) -gt 60 ]; then echo "utime_now=touch set a time $(( now - written )) s after a file written just before"
       else echo utime_now=ok; fi;;
  esac
fi
echo "tz=$(env @CONTROL_TZ@ date -d @0 +%z 2>&1 | head -c 100 | tr '\n' ' ')| $(env @EXPERIMENT_TZ@ date -d @0 +%z 2>&1 | head -c 100 | tr '\n' ' ')"
echo "tznow=$(env @CONTROL_TZ@ date +%z 2>&1 | head -c 100 | tr '\n' ' ')| $(env @EXPERIMENT_TZ@ date +%z 2>&1 | head -c 100 | tr '\n' ' ')"
echo "locale=$(env @CONTROL_LOCALE@ sh -c 'locale charmap; date -d @0 +%A' 2>/dev/null | head -c 100 | tr '\n' ' ')| $(env @EXPERIMENT_LOCALE@ sh -c 'locale charmap; date -d @0 +%A' 2>/dev/null | head -c 100 | tr '\n' ' ')"
mkdir /tmp/order && touch /tmp/order/a /tmp/order/b /tmp/order/c
ls -f /tmp/order > /tmp/plain 2>/tmp/err && LD_PRELOAD=@REVERSER@ ls -f /tmp/order > /tmp/reversed 2>>/tmp/err
if ! getconf GNU_LIBC_VERSION >/dev/null 2>&1; then echo "reverser=the image's C library is not glibc (only glibc's loader reads /etc/ld.so.preload)"
elif [ -s /tmp/plain ] && [ "$(tac /tmp/plain)" = "$(cat /tmp/reversed)" ] && [ ! -s /tmp/err ]; then echo reverser=ok
else echo "reverser=$(head -c 300 /tmp/err | tr '\n' ' ') listed $(tr '\n' ' ' </tmp/plain), then $(tr '\n' ' ' </tmp/reversed)"; fi
"#;

/// The probe script with the control and experiment values of the runs.
pub fn script() -> String {
    let control = Settings::control("probe", &HostFacts::default());
    let mut experiment = control.clone();
    for factor in FACTORS {
        (factor.set_experiment)(&mut experiment, &HostFacts::default());
    }
    // `NAME='value' …` for env(1); a variable a side leaves unset is not passed.
    let assignments = |settings: &Settings, names: &[&str]| {
        names
            .iter()
            .filter_map(|name| settings.env.get(*name).map(|value| format!("{name}='{value}'")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    PROBE
        .replace("@CONTROL_TZ@", &assignments(&control, &["TZ"]))
        .replace("@EXPERIMENT_TZ@", &assignments(&experiment, &["TZ"]))
        .replace("@CONTROL_LOCALE@", &assignments(&control, &LOCALE_VARIABLES))
        .replace("@EXPERIMENT_LOCALE@", &assignments(&experiment, &LOCALE_VARIABLES))
        .replace("@REVERSER@", READDIR_REVERSER_IN_CONTAINER)
}

/// Fills in `facts` from the probe's output; `started` is the host's clock
/// (seconds since the epoch) when the probe was started.
pub fn read(output: &str, started: i64, facts: &mut HostFacts) {
    let values: std::collections::BTreeMap<&str, &str> =
        output.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| values.get(k).copied().unwrap_or("").trim().to_string();
    facts.cpus = get("nproc").parse().unwrap_or(1);
    facts.cpu_ids = cpu_list(&get("cpu_list"));
    facts.can_set_uname26 = get("uname26") == "ok";
    facts.setarch_error = get("uname26");
    facts.can_disable_aslr = get("aslr") == "ok";
    facts.setarch_aslr_error = get("aslr");
    facts.image_has_et_locale = get("et") == "yes";
    (facts.locales_observed, facts.locales_seen) = differs(&get("locale"));
    (facts.timezone_observed, facts.timezone_seen) = differs(&get("tz"));
    let now = get("tznow");
    let (control, experiment) = now.split_once('|').unwrap_or_default();
    facts.utc_offsets = (crate::clock::utc_offset(control), crate::clock::utc_offset(experiment));
    let shifted = get("date").parse::<i64>().unwrap_or(0) - started;
    facts.faketime_works = shifted > 397 * 86_400 && shifted < 399 * 86_400;
    facts.faketime_problem = match &facts.faketime_lib {
        None => "no libfaketime on the host (apt-get install libfaketime)".to_string(),
        _ if facts.faketime_works => String::new(),
        _ => format!("preloading it in the image did not shift the clock: {}", get("date_err")),
    };
    facts.utime_now_works = facts.faketime_works && get("utime_now") == "ok";
    facts.utime_now_problem = match facts.utime_now_works {
        true => String::new(),
        false => get("utime_now"),
    };
    facts.readdir_reverser_works = get("reverser") == "ok";
    facts.readdir_reverser_problem = match facts.readdir_reverser_works {
        true => String::new(),
        false => format!(
            "preloading reprocheck's readdir reverser did not reverse `ls -f` in the image: {}",
            get("reverser")
        ),
    };
}

/// The CPUs of a Linux CPU list such as `0-3,8,10-11`, in order; none when
/// it cannot be read (then runs at the num_cpus control all use CPU 0).
fn cpu_list(list: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let range = match part.split_once('-') {
            Some((first, last)) => first.parse::<u32>().ok().zip(last.parse::<u32>().ok()),
            None => part.parse::<u32>().ok().map(|cpu| (cpu, cpu)),
        };
        let Some((first, last)) = range else { return Vec::new() };
        // A list longer than any machine's is not believed.
        if last < first || cpus.len() + (last - first) as usize > 4096 {
            return Vec::new();
        }
        cpus.extend(first..=last);
    }
    cpus
}

/// Whether the two sides of `control | experiment` differ, and the pair
/// as the report shows it.
fn differs(pair: &str) -> (bool, String) {
    match pair.split_once('|') {
        Some((control, experiment)) => {
            let (control, experiment) = (control.trim(), experiment.trim());
            (!control.is_empty() && control != experiment, format!("{control} | {experiment}"))
        }
        None => (false, "(not probed)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_tries_the_values_the_runs_use() {
        let script = script();
        assert!(script.contains("env TZ='Etc/GMT+12' date") && script.contains("env TZ='Etc/GMT-14' date"));
        assert!(script.contains("LANG='et_EE.UTF-8' LC_ALL='et_EE.UTF-8' LANGUAGE='et_EE:et'"), "{script}");
        assert!(
            !script.contains("@CONTROL") && !script.contains("@EXPERIMENT") && !script.contains("@REVERSER")
        );
    }

    #[test]
    fn a_factor_whose_two_values_look_the_same_is_not_observed() {
        let mut facts = HostFacts::default();
        // An image without tzdata: both zones fall back to UTC.
        read("tz=+0000 | +0000\nlocale=UTF-8 Thursday | ANSI_X3.4-1968 Thursday\n", 0, &mut facts);
        assert!(!facts.timezone_observed);
        assert_eq!(facts.timezone_seen, "+0000 | +0000");
        assert!(facts.locales_observed, "the character set differs");
        read("tz=-1200 | +1400\ntznow=-1200 | +1400\nlocale=\n", 0, &mut facts);
        assert!(facts.timezone_observed);
        assert_eq!(facts.utc_offsets, (Some(-43_200), Some(50_400)), "zip times are read in these");
        assert!(!facts.locales_observed, "nothing printed is nothing observed");
    }

    #[test]
    fn the_cpus_containers_may_use_are_read_from_the_kernels_list() {
        let mut facts = HostFacts::default();
        read("nproc=5\ncpu_list=0-1,4,6-7\n", 0, &mut facts);
        assert_eq!((facts.cpus, facts.cpu_ids.clone()), (5, vec![0, 1, 4, 6, 7]));
        for unreadable in ["", "0-", "x", "3-1", "0-99999999"] {
            assert!(cpu_list(unreadable).is_empty(), "{unreadable:?}");
        }
    }
}
