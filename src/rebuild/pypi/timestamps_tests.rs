use super::super::backend;
use super::super::fixtures;
use super::super::pyproject::BuildSystem;
use super::*;

/// The rule for a fixture, its backend inferred as `rebuild` will.
fn rule_with(sample: &str, sdist: &BTreeMap<String, i64>) -> Result<TimestampRule> {
    let wheel = fixtures::wheel(sample);
    let build = if fixtures::dir(sample).join("pyproject.toml").exists() {
        BuildSystem::parse(&fixtures::pyproject(sample)).unwrap()
    } else {
        BuildSystem::without_pyproject()
    };
    let backend = backend::infer(&wheel.wheel, &build).unwrap();
    infer(&wheel, backend.kind, &backend.version, sdist)
}

fn rule(sample: &str) -> TimestampRule {
    rule_with(sample, &fixtures::sdist_mtimes(sample)).unwrap()
}

/// (SOURCE_DATE_EPOCH, TZ, how many entries are not reproducible).
fn summary(sample: &str) -> (Option<i64>, Option<String>, usize) {
    let r = rule(sample);
    (r.source_date_epoch, r.tz, r.unreproducible.len())
}

#[test]
fn one_time_on_every_entry_is_source_date_epoch_in_utc() {
    // Expected epochs: Python's calendar.timegm of the entries' time.
    assert_eq!(summary("attrs-24.2.0"), (Some(1722954452), None, 0)); // hatchling
    assert_eq!(summary("urllib3-2.2.3"), (Some(1726137420), None, 0)); // hatchling
    assert_eq!(summary("jinja2-3.1.4"), (Some(1714952250), None, 0)); // flit_core
    assert_eq!(summary("click-8.1.7"), (Some(1692293088), None, 0)); // bdist_wheel
    assert!(rule("click-8.1.7").inferences[0].what.contains("2023-08-17 17:24:48 UTC"));
}

#[test]
fn the_backends_fixed_defaults_need_no_source_date_epoch() {
    for sample in ["annotated-types-0.7.0", "pydantic-2.9.2", "colorama-0.4.6"] {
        assert_eq!(summary(sample), (None, None, 0), "{sample}: hatchling's 2020-02-02");
    }
    for sample in ["fastapi-0.115.5", "pdm-backend-2.4.3"] {
        assert_eq!(summary(sample), (None, None, 0), "{sample}: pdm-backend's 2016-01-01");
    }
    for sample in ["rich-13.9.4", "tomlkit-0.13.2", "poetry-core-1.9.1"] {
        assert_eq!(summary(sample), (None, None, 0), "{sample}: poetry-core 1.x's 1980 and 2016");
    }
}

#[test]
fn local_time_file_mtimes_give_the_publishers_zone() {
    // flit_core: payload at the sdist's mtimes in local time, generated files at 2016-01-01.
    for sample in ["idna-3.10", "tomli-2.0.1", "typing-extensions-4.12.2"] {
        assert_eq!(summary(sample), (None, Some("UTC0".into()), 0), "{sample}");
    }
    // packaging 24.2 was built at +05:30.
    assert_eq!(summary("packaging-24.2"), (None, Some("<+0530>-05:30".into()), 0));
    assert!(rule("packaging-24.2").inferences[1]
        .evidence
        .contains("20 entries are the sdist's mtimes shifted by +05:30"));
}

#[test]
fn setuptools_build_clock_entries_are_said_to_be_unreproducible() {
    for (sample, n, clock) in [
        ("six-1.17.0", 5, 1733333724),
        ("certifi-2024.8.30", 5, 1724982864),
        ("pluggy-1.5.0", 6, 1713648878),
        ("requests-2.32.3", 5, 1716997032),
        ("six-1.16.0", 5, 1620224296),
    ] {
        let r = rule(sample);
        assert_eq!(
            (r.source_date_epoch, r.tz.as_deref(), r.unreproducible.len()),
            (None, None, n),
            "{sample}"
        );
        assert_eq!(r.build_clock, Some(clock), "{sample}");
        assert!(r.unreproducible.iter().any(|e| e.name.ends_with(".dist-info/METADATA")), "{sample}");
        assert!(r.inferences.last().unwrap().evidence.contains("only a clock set to that time"), "{sample}");
    }
    // setuptools_scm regenerated pluggy's _version.py during the build.
    assert!(rule("pluggy-1.5.0").unreproducible.iter().any(|e| e.name == "pluggy/_version.py"));
}

#[test]
fn without_the_sdists_mtimes_file_times_are_unreproducible() {
    let r = rule_with("idna-3.10", &BTreeMap::new()).unwrap();
    assert_eq!((r.tz, r.unreproducible.len()), (None, 10));
    assert!(r.inferences.last().unwrap().evidence.contains("neither the backend's fixed times"));
}

#[test]
fn daylight_saving_time_is_named_not_guessed() {
    // idna's files, half of them an hour later: a zone switching offsets.
    let mut sdist = fixtures::sdist_mtimes("idna-3.10");
    for (i, mtime) in sdist.values_mut().enumerate() {
        if i % 2 == 0 {
            *mtime -= 3600;
        }
    }
    let r = rule_with("idna-3.10", &sdist).unwrap();
    assert!(!r.unreproducible.is_empty());
    assert!(r.inferences.last().unwrap().evidence.contains("daylight saving time"), "{:?}", r.inferences);
}

#[test]
fn times_the_backend_cannot_write_are_not_inferable() {
    // poetry-core 1.9 ignores SOURCE_DATE_EPOCH: one non-default time on every entry is not its output.
    let mut wheel = fixtures::wheel("rich-13.9.4");
    for entry in &mut wheel.entries {
        entry.time = DosTime::parse("2024-11-01 16:43:16").unwrap();
    }
    let version = Version::parse("1.9.0").unwrap();
    let error = infer(&wheel, BackendKind::PoetryCore, &version, &BTreeMap::new()).unwrap_err();
    assert!(
        crate::rebuild::is_not_inferable(&error) && error.to_string().contains("ignores SOURCE_DATE_EPOCH"),
        "{error}"
    );
    // poetry-core 2.0 honours it.
    let version = Version::parse("2.0.1").unwrap();
    let r = infer(&wheel, BackendKind::PoetryCore, &version, &BTreeMap::new()).unwrap();
    assert_eq!(r.source_date_epoch, Some(DosTime::parse("2024-11-01 16:43:16").unwrap().as_utc_epoch()));
}

#[test]
fn posix_zones_count_west() {
    assert_eq!(posix_tz(0), "UTC0");
    assert_eq!(posix_tz(2 * 3600), "<+02>-2");
    assert_eq!(posix_tz(-5 * 3600), "<-05>5");
    assert_eq!(posix_tz(5 * 3600 + 1800), "<+0530>-05:30");
    assert_eq!(posix_tz(-(9 * 3600 + 1800)), "<-0930>09:30");
}
