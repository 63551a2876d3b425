//! The seccomp profile every container reprocheck creates runs under.
//!
//! Engines' default profiles allow `personality(2)` only for a fixed list of
//! values, which excludes `ADDR_NO_RANDOMIZE`: `setarch -R` fails, and the
//! aslr factor could not be varied. The profile here is the default profile
//! of containers-common (Podman's, and the Docker default's descendant;
//! `seccomp-default.json`, from Debian's golang-github-containers-common
//! 0.50.1+ds1-4, Apache-2.0) with two personality values added:
//! `ADDR_NO_RANDOMIZE` alone and with `UNAME26` (`setarch -R` and
//! `setarch --uname-2.6 -R`). Nothing else is allowed that the default
//! forbids. The same profile goes to every container, so it never differs
//! between the runs of a check.

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::sync::OnceLock;

/// The engines' default profile, as shipped by containers-common.
const DEFAULT_PROFILE: &str = include_str!("seccomp-default.json");

/// `personality(2)` flags (linux/personality.h).
const UNAME26: u64 = 0x0020000;
const ADDR_NO_RANDOMIZE: u64 = 0x0040000;

/// The personality values added to the default's list.
pub const ADDED_PERSONALITIES: [u64; 2] = [ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE | UNAME26];

/// The profile as JSON, ready for the Docker API's `seccomp=` security option.
pub fn profile() -> &'static str {
    static PROFILE: OnceLock<String> = OnceLock::new();
    PROFILE.get_or_init(|| build(DEFAULT_PROFILE))
}

/// `sha256:` of [`profile`], for the report.
pub fn digest() -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(profile().as_bytes())))
}

/// `base` with a `personality` allow rule for each of [`ADDED_PERSONALITIES`].
fn build(base: &str) -> String {
    // The base is compiled in and covered by a test, so this cannot fail at run time.
    let mut profile: Value = serde_json::from_str(base).expect("the bundled seccomp profile is JSON");
    let rules = profile["syscalls"].as_array_mut().expect("the bundled seccomp profile has syscalls");
    for value in ADDED_PERSONALITIES {
        rules.push(json!({
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": value, "valueTwo": 0, "op": "SCMP_CMP_EQ" }],
            "comment": "reprocheck: setarch -R, for the aslr factor",
        }));
    }
    serde_json::to_string(&profile).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn personality_values(profile: &Value) -> Vec<u64> {
        profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|rule| rule["names"].as_array().unwrap().iter().any(|n| n == "personality"))
            .map(|rule| rule["args"][0]["value"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn the_profile_is_the_default_plus_the_no_randomize_personalities() {
        let default: Value = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        let ours: Value = serde_json::from_str(profile()).unwrap();
        assert_eq!(ours["defaultAction"], "SCMP_ACT_ERRNO", "an allow list, as the default");
        let before = personality_values(&default);
        assert!(!before.contains(&0x40000), "the default forbids ADDR_NO_RANDOMIZE: {before:x?}");
        let mut expected = before.clone();
        expected.extend([0x40000, 0x60000]);
        assert_eq!(personality_values(&ours), expected);
        // Every other rule is the default's, unchanged.
        let rules = |p: &Value| p["syscalls"].as_array().unwrap().len();
        assert_eq!(rules(&ours), rules(&default) + 2);
        assert_eq!(
            ours["syscalls"].as_array().unwrap()[..rules(&default)],
            default["syscalls"].as_array().unwrap()[..]
        );
        assert!(digest().starts_with("sha256:"));
    }
}
