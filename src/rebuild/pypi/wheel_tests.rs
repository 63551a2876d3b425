use super::super::fixtures;
use super::*;
use std::io::Write;

/// A date-time as (year, month, day, hour, minute, second).
type Time = (u16, u8, u8, u8, u8, u8);

/// A wheel built here with the `zip` crate: `files` as (name, content, DOS time).
fn build_wheel(files: &[(&str, &str, Time)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, (y, mo, d, h, mi, s)) in files {
        let time = zip::DateTime::from_date_and_time(*y, *mo, *d, *h, *mi, *s).unwrap();
        let options = zip::write::SimpleFileOptions::default().last_modified_time(time);
        out.start_file(*name, options).unwrap();
        out.write_all(content.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

const PURE: &str =
    "Wheel-Version: 1.0\nGenerator: hatchling 1.25.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n";

#[test]
fn reads_a_real_published_wheel() {
    let bytes = std::fs::read(fixtures::dir("six-1.17.0").join("six-1.17.0-py2.py3-none-any.whl")).unwrap();
    let wheel = PublishedWheel::read(&bytes).unwrap();
    assert_eq!(wheel.dist_info, "six-1.17.0.dist-info");
    assert_eq!(wheel.wheel.generator.as_deref(), Some("setuptools (75.6.0)"));
    assert_eq!(wheel.wheel.tags, ["py2-none-any", "py3-none-any"]);
    assert!(wheel.wheel.root_is_purelib);
    // The same entries and times Python's zipfile lists (the fixture's listing).
    assert_eq!(wheel.entries, fixtures::entries("six-1.17.0"));
    assert_eq!(wheel.entries[0].time.to_string(), "2024-12-04 17:35:06");
}

#[test]
fn reads_a_wheel_built_here_with_its_times() {
    let bytes = build_wheel(&[
        ("pkg/__init__.py", "", (2024, 9, 15, 18, 6, 54)),
        ("pkg-1.0.dist-info/WHEEL", PURE, (2016, 1, 1, 0, 0, 0)),
    ]);
    let wheel = PublishedWheel::read(&bytes).unwrap();
    assert_eq!(wheel.dist_info, "pkg-1.0.dist-info");
    let times: Vec<String> = wheel.entries.iter().map(|e| e.time.to_string()).collect();
    assert_eq!(times, ["2024-09-15 18:06:54", "2016-01-01 00:00:00"]);
    assert_eq!(wheel.entries[0].time.as_utc_epoch(), 1726423614);
}

#[test]
fn refuses_wheels_that_are_not_pure_python() {
    // MarkupSafe 2.1.5's real WHEEL: a CPython extension.
    let markupsafe = WheelFields::parse(&fixtures::wheel_text("markupsafe-2.1.5")).unwrap();
    let error = markupsafe.ensure_pure_python().unwrap_err();
    assert!(crate::rebuild::is_not_inferable(&error));
    assert!(format!("{error}").contains("Root-Is-Purelib: false"), "{error}");
    let tagged = PURE.replace("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64");
    let bytes = build_wheel(&[("pkg-1.0.dist-info/WHEEL", &tagged, (2020, 2, 2, 0, 0, 0))]);
    let error = PublishedWheel::read(&bytes).unwrap_err();
    assert!(
        crate::rebuild::is_not_inferable(&error) && format!("{error}").contains("cp311-cp311"),
        "{error}"
    );
}

#[test]
fn broken_wheels_are_clear_errors() {
    let error = |bytes: &[u8]| format!("{:#}", PublishedWheel::read(bytes).unwrap_err());
    assert!(error(b"not a zip").contains("not a zip archive"));
    assert!(error(&build_wheel(&[("pkg/__init__.py", "", (2020, 2, 2, 0, 0, 0))]))
        .contains("no NAME-VERSION.dist-info/WHEEL"));
    let twice = build_wheel(&[
        ("a-1.dist-info/WHEEL", PURE, (2020, 2, 2, 0, 0, 0)),
        ("b-1.dist-info/WHEEL", PURE, (2020, 2, 2, 0, 0, 0)),
    ]);
    assert!(error(&twice).contains("several .dist-info"));
    let no_version = build_wheel(&[("a-1.dist-info/WHEEL", "Generator: x\n", (2020, 2, 2, 0, 0, 0))]);
    assert!(error(&no_version).contains("no Wheel-Version"));
    let no_tag = PURE.replace("Tag: py3-none-any\n", "");
    assert!(
        error(&build_wheel(&[("a-1.dist-info/WHEEL", &no_tag, (2020, 2, 2, 0, 0, 0))])).contains("no Tag")
    );
}

#[test]
fn dos_times_read_as_utc() {
    assert_eq!(DosTime::parse("2020-02-02 00:00:00").unwrap().as_utc_epoch(), 1580601600);
    assert_eq!(DosTime::parse("1980-01-01 00:00:00").unwrap().as_utc_epoch(), 315532800);
    assert_eq!(DosTime::from_words(0, 0x21).to_string(), "1980-01-01 00:00:00");
    assert!(DosTime::parse("2020-02-02").is_err());
}
