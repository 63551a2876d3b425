//! The real-metadata fixtures the inference rules are tested on:
//! extracts of published wheels and sdists under
//! tests/fixtures/rebuild/pypi/, made by scripts/pypi-rebuild-fixtures.py.

use super::wheel::{DosTime, PublishedWheel, WheelEntry};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The fixture directory of `sample` (e.g. `idna-3.10`).
pub fn dir(sample: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rebuild/pypi").join(sample)
}

fn read(sample: &str, file: &str) -> String {
    let path = dir(sample).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sdist's pyproject.toml.
pub fn pyproject(sample: &str) -> String {
    read(sample, "pyproject.toml")
}

/// The published wheel's WHEEL file.
pub fn wheel_text(sample: &str) -> String {
    read(sample, "WHEEL")
}

/// The published wheel's entries and their DOS times.
pub fn entries(sample: &str) -> Vec<WheelEntry> {
    read(sample, "wheel-entries.txt")
        .lines()
        .map(|line| {
            let (time, name) = line.split_at(19);
            WheelEntry { name: name.trim().to_string(), time: DosTime::parse(time).unwrap() }
        })
        .collect()
}

/// The published wheel as the rules see it.
pub fn wheel(sample: &str) -> PublishedWheel {
    let entries = entries(sample);
    let dist_info = entries.iter().find_map(|e| e.name.strip_suffix("/WHEEL")).unwrap().to_string();
    PublishedWheel::from_parts(dist_info, &wheel_text(sample), entries).unwrap()
}

/// The sdist's regular files: name (below its top directory) → mtime.
pub fn sdist_mtimes(sample: &str) -> BTreeMap<String, i64> {
    read(sample, "sdist-mtimes.txt")
        .lines()
        .map(|line| {
            let (epoch, name) = line.split_once(' ').unwrap();
            (name.to_string(), epoch.parse().unwrap())
        })
        .collect()
}
