//! How to rebuild a wheel, decided from the published files: which
//! backend at which version, what else the build requires, and the
//! timestamps. (Provisional rules: the full set lives in `backend`,
//! `pyproject` and `timestamps`.)

use super::index::IndexFile;
use super::sdist::Sdist;
use crate::diff::budget::Budget;
use crate::errors::*;
use crate::rebuild::{not_inferable, Inference};

/// What the rebuild runs, and why.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The module whose `build_wheel` is called (`flit_core.buildapi`).
    pub backend_module: String,
    /// An object in that module that carries the hooks (`__legacy__`).
    pub backend_object: Option<String>,
    /// In-tree directories put on `sys.path` first (`backend-path`).
    pub backend_path: Vec<String>,
    /// The build requirements to resolve (PEP 508), the backend pinned.
    pub requirements: Vec<String>,
    /// Distributions whose exact version the build checks before it runs.
    pub pins: Vec<(String, String)>,
    /// SOURCE_DATE_EPOCH for the build, when the wheel's times call for one.
    pub source_date_epoch: Option<i64>,
    /// TZ for the build, when the wheel's times follow a local time.
    pub tz: Option<String>,
    /// A short name for the image: `flit-core-3.9.0`.
    pub image_label: String,
    /// What was decided, with evidence.
    pub inferences: Vec<Inference>,
}

/// Decides from the published wheel's bytes and the sdist.
pub fn decide(wheel: &[u8], wheel_file: &IndexFile, sdist: &Sdist) -> Result<Decision> {
    let budget = Budget::new(64 << 20);
    let Some((records, problems, _)) = crate::diff::zip_listing::records(wheel, &budget) else {
        return not_inferable(format!(
            "{} is not a zip archive this reader understands",
            wheel_file.filename
        ));
    };
    ensure!(problems.is_empty(), "{}: {}", wheel_file.filename, problems.join("; "));
    let wheel_meta = records
        .iter()
        .find(|r| r.name.ends_with(".dist-info/WHEEL") && r.name.matches('/').count() == 1)
        .and_then(|r| r.content.as_deref())
        .map(|c| String::from_utf8_lossy(c).into_owned());
    let Some(wheel_meta) = wheel_meta else {
        return not_inferable(format!("{} has no .dist-info/WHEEL", wheel_file.filename));
    };
    let generator =
        wheel_meta.lines().find_map(|l| l.strip_prefix("Generator:")).map(str::trim).unwrap_or("");
    let (dist, version) = match generator.split_once(' ') {
        Some((tool, v)) => (tool.trim().to_string(), v.trim().trim_matches(['(', ')']).to_string()),
        None => return not_inferable(format!("{}'s WHEEL names no Generator", wheel_file.filename)),
    };
    let (dist, module) = match dist.as_str() {
        "flit" | "flit_core" | "flit-core" => ("flit_core", "flit_core.buildapi"),
        "hatchling" => ("hatchling", "hatchling.build"),
        "setuptools" => ("setuptools", "setuptools.build_meta"),
        other => return not_inferable(format!("the Generator `{other}` is not a backend these rules know")),
    };
    let mut inferences = vec![Inference::new(
        format!("build backend {dist} {version}"),
        format!("WHEEL Generator: {generator}"),
    )];
    let times: std::collections::BTreeSet<(u16, u16)> = records.iter().map(|r| r.dos_time).collect();
    let source_date_epoch = match times.iter().next() {
        Some(&t) if times.len() == 1 => {
            let epoch = dos_to_epoch(t);
            inferences.push(Inference::new(
                format!("SOURCE_DATE_EPOCH={epoch}"),
                "every entry of the published wheel has one time".to_string(),
            ));
            Some(epoch)
        }
        _ => None,
    };
    let _ = sdist;
    Ok(Decision {
        backend_module: module.into(),
        backend_object: None,
        backend_path: Vec::new(),
        requirements: vec![format!("{dist}=={version}")],
        pins: vec![(dist.to_string(), version.clone())],
        source_date_epoch,
        tz: None,
        image_label: format!("{}-{version}", dist.replace('_', "-")),
        inferences,
    })
}

/// A DOS time and date, read as UTC, in seconds since the epoch.
fn dos_to_epoch((time, date): (u16, u16)) -> i64 {
    let (year, month, day) =
        (1980 + i64::from(date >> 9), i64::from((date >> 5) & 0xf), i64::from(date & 0x1f));
    let (hour, minute, second) =
        (i64::from(time >> 11), i64::from((time >> 5) & 0x3f), i64::from(time & 0x1f) * 2);
    days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}
