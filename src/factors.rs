//! The names of the environment factors a run can vary.
//!
//! The names follow Debian's reprotest. This version records which factors a
//! spec asks for but applies none of them yet: every run uses the control
//! environment, and the report says so explicitly.

/// Every factor name reprocheck knows, in reprotest's order.
pub const NAMES: &[&str] = &[
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
    let suggestion = NAMES
        .iter()
        .filter(|known| known.starts_with(name.get(..3).unwrap_or(name)) || name.starts_with(*known))
        .map(|known| format!("; did you mean `{known}`?"))
        .next()
        .unwrap_or_default();
    Err(format!("unknown factor `{name}`{suggestion}"))
}

/// Parses `--vary a,b,-c`: names to vary, or `-name` to drop one from the
/// default set (every factor). Mixing both starts from the named ones.
pub fn parse_vary(arg: &str) -> anyhow::Result<Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_adds_and_removes() {
        assert_eq!(parse_vary("umask,user").unwrap(), ["umask", "user"]);
        let all_but_time = parse_vary("-time").unwrap();
        assert_eq!(all_but_time.len(), NAMES.len() - 1);
        assert!(!all_but_time.contains(&"time".to_string()));
        assert!(parse_vary("umask,-bogus").unwrap_err().to_string().contains("bogus"));
    }

    #[test]
    fn known_names_pass_and_typos_get_a_suggestion() {
        assert!(check_name("umask").is_ok());
        let err = check_name("users").unwrap_err();
        assert!(err.contains("did you mean `user`"), "{err}");
        assert!(check_name("zzz").unwrap_err().ends_with("`zzz`"));
    }
}
