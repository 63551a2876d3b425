//! The environment factors a run can vary, named after Debian's reprotest.
//!
//! Each factor is a value ([`Factor`], all of them in [`FACTORS`], defined
//! in `definitions.rs`): its documented control value (run 1) and
//! experiment value (every other run), how it sets them on a run's
//! [`Settings`], and whether this host and image can apply it at all. A
//! factor that cannot be applied is reported with the reason, never
//! skipped silently.

mod definitions;
pub mod host;
mod id;
mod probe;
mod settings;

pub use definitions::{CONTROL_PATH, CONTROL_UID, FACTORS};
pub use host::HostFacts;
pub use id::{names, FactorId};
pub use settings::Settings;

use serde::Serialize;

/// The experiment's clock offset.
pub const TIME_SHIFT_DAYS: i64 = 398;

/// How far apart runs with different clocks start: files they write then
/// get real mtimes in different seconds, so a build that records the mtimes
/// of files it wrote is caught even though `stat` is not faked.
pub const STAGGER: std::time::Duration = std::time::Duration::from_secs(2);

/// One factor: its documentation (for `reprocheck factors` and the report)
/// beside what it does to a run.
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
    /// Sets the control value: every run takes it, unless the run varies
    /// the factor; `HostFacts` says how (e.g. whether ASLR can be disabled).
    #[serde(skip)]
    pub set_control: fn(&mut Settings, &HostFacts),
    /// Sets the experiment value; `HostFacts` says how (e.g. which time mechanism).
    #[serde(skip)]
    pub set_experiment: fn(&mut Settings, &HostFacts),
    /// Why it cannot be applied here, or `None` when it can.
    #[serde(skip)]
    pub unavailable: fn(&HostFacts) -> Option<String>,
    /// A note on a factor that is applied, but partly (the report shows it).
    #[serde(skip)]
    pub caveat: fn(&HostFacts) -> Option<String>,
    /// The value a run gives it, as the report shows it per run.
    #[serde(skip)]
    pub value: fn(&Settings) -> String,
    /// Its mechanism may build in a host directory bind-mounted into the
    /// container: the probe then checks whether this engine and host allow
    /// one (disorderfs, no user-id remapping, an archive that sees the mount).
    #[serde(skip)]
    pub may_use_host_build_dir: bool,
    /// Varying it shifts the clock, so its experiment runs start apart from
    /// the control's ([`STAGGER`]) and the progress shows the wait.
    #[serde(skip)]
    pub staggers_start: bool,
}

/// Every factor name, in [`FACTORS`]' order.
pub const NAMES: [&str; FACTORS.len()] = names_of_table();

const fn names_of_table() -> [&'static str; FACTORS.len()] {
    let mut names = [""; FACTORS.len()];
    let mut i = 0;
    while i < FACTORS.len() {
        names[i] = FACTORS[i].name;
        i += 1;
    }
    names
}

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

/// Checks that `name` is a known factor, suggesting the closest one otherwise.
pub fn check_name(name: &str) -> Result<FactorId, String> {
    if let Some(id) = FactorId::parse(name) {
        return Ok(id);
    }
    // The closest name by edit distance; a prefix of a name also counts.
    let suggestion = FactorId::all()
        .map(|known| known.name())
        .map(|known| (if known.starts_with(name) { 1 } else { edit_distance(name, known) }, known))
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
pub fn parse_vary(arg: &str) -> anyhow::Result<Vec<FactorId>> {
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
        let id =
            check_name(name).map_err(|m| anyhow::anyhow!("--vary: {m} (`reprocheck factors` lists them)"))?;
        list.push(id);
    }
    let base: Vec<FactorId> = if add.is_empty() { FactorId::all().collect() } else { add };
    Ok(base.into_iter().filter(|n| !remove.contains(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_pass_and_typos_get_a_suggestion() {
        assert_eq!(check_name("umask").map(FactorId::name), Ok("umask"));
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
        assert_eq!(names(&parse_vary("umask,user").unwrap()), ["umask", "user"]);
        let all_but_time = names(&parse_vary("-time").unwrap());
        assert_eq!(all_but_time.len(), FACTORS.len() - 1);
        assert!(!all_but_time.contains(&"time"));
        assert!(parse_vary("umask,-bogus").unwrap_err().to_string().contains("bogus"));
        assert!(parse_vary("none").unwrap().is_empty());
    }

    #[test]
    fn every_factor_changes_only_its_own_value_between_control_and_experiment() {
        let local = HostFacts {
            cpus: 2,
            can_set_uname26: true,
            can_disable_aslr: true,
            faketime_works: true,
            disorderfs_works: true,
            readdir_reverser_works: true,
            image_has_et_locale: true,
            locales_observed: true,
            timezone_observed: true,
            utime_now_works: true,
            ..HostFacts::default()
        };
        // A remote engine: fileordering through the preloaded reverser.
        let remote = HostFacts { disorderfs_works: false, ..local.clone() };
        for (factor, facts) in FACTORS.iter().flat_map(|f| [(f, &local), (f, &remote)]) {
            let control = Settings::control("x", facts);
            let mut experiment = control.clone();
            (factor.set_experiment)(&mut experiment, facts);
            let (before, after) = (control.factor_values(), experiment.factor_values());
            let changed: Vec<&str> = before.keys().filter(|k| before[*k] != after[*k]).copied().collect();
            assert_eq!(changed, [factor.name], "{}: {before:?} -> {after:?}", factor.name);
            assert!(
                (factor.unavailable)(facts).is_none(),
                "{} is unavailable on a capable host",
                factor.name
            );
        }
    }

    /// Every factor is documented: a row in docs/factors.md's table and a
    /// name in the README's list, and the table has no row the code lacks.
    #[test]
    fn the_docs_list_exactly_the_table_s_factors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let known: Vec<&str> = FactorId::all().map(FactorId::name).collect();
        let docs = std::fs::read_to_string(root.join("docs/factors.md")).unwrap();
        let table = docs.split("| factor | control | experiment | how |").nth(1).unwrap();
        let rows: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .collect();
        assert_eq!(rows, known, "docs/factors.md's table, in the table's order");
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let listed = readme.split("## Factors").nth(1).unwrap().split("`--vary").next().unwrap();
        for name in &known {
            assert!(listed.contains(&format!("`{name}`")), "README.md's factor list lacks `{name}`");
        }
    }
}
