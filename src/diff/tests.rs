use super::*;
use std::io::Write;

fn tar_with(entries: &[(&str, &[u8], u32, u64, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode, mtime, uid) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(*mtime);
        h.set_uid(*uid as u64);
        h.set_gid(*uid as u64);
        h.set_cksum();
        builder.append_data(&mut h, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8], mtime: u32, name: Option<&str>) -> Vec<u8> {
    let mut builder = flate2::GzBuilder::new().mtime(mtime);
    if let Some(n) = name {
        builder = builder.filename(n);
    }
    let mut enc = builder.write(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn diff(a: &[u8], b: &[u8]) -> FileDiff {
    diff_with(a, b, &DiffContext::default())
}

fn diff_with(a: &[u8], b: &[u8], context: &DiffContext) -> FileDiff {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), a).unwrap();
    std::fs::write(dir.path().join("b"), b).unwrap();
    diff_files("x", (1, 2), &dir.path().join("a"), &dir.path().join("b"), context).unwrap()
}

fn has(d: &FileDiff, scope: &str, field: &str) -> bool {
    d.details.iter().any(|x| x.scope.contains(scope) && x.field == field)
}

fn rules(d: &FileDiff) -> Vec<&'static str> {
    d.hints.iter().map(|h| h.rule).collect()
}

#[test]
fn tar_gz_metadata_differences_are_named_with_their_fixes() {
    let a = gzip(&tar_with(&[("p/a", b"1", 0o644, 100, 0), ("p/b", b"2", 0o644, 100, 0)]), 5, Some("t.tar"));
    let b = gzip(
        &tar_with(&[("p/b", b"2", 0o664, 200, 1111), ("p/a", b"1", 0o644, 200, 1111)]),
        6,
        Some("t.tar"),
    );
    let d = diff(&a, &b);
    assert_eq!(d.format, "tar+gzip");
    assert!(has(&d, "gzip header", "mtime"), "{:#?}", d.details);
    assert!(has(&d, "tar", "order"));
    assert!(has(&d, "tar entry p/a", "mtime"));
    assert!(has(&d, "tar entry p/a", "uid"));
    assert!(has(&d, "tar entry p/b", "mode"));
    assert!(!has(&d, "tar entry p/a", "content"), "same content must not be reported");
    let r = rules(&d);
    for rule in ["tar-mtime", "tar-owner", "tar-order", "mode", "gzip-header"] {
        assert!(r.contains(&rule), "{rule} in {r:?}");
    }
    assert!(d.hints.iter().all(|h| !h.evidence.is_empty()));
}

#[test]
fn nested_archives_are_opened_one_level() {
    let inner_a = gzip(&tar_with(&[("in/x", b"old", 0o644, 1, 0)]), 0, None);
    let inner_b = gzip(&tar_with(&[("in/x", b"new", 0o644, 1, 0)]), 0, None);
    let a = tar_with(&[("outer/inner.tar.gz", &inner_a, 0o644, 1, 0)]);
    let b = tar_with(&[("outer/inner.tar.gz", &inner_b, 0o644, 1, 0)]);
    let d = diff(&a, &b);
    assert_eq!(d.format, "tar");
    assert!(has(&d, "tar entry outer/inner.tar.gz > tar entry in/x", "content"), "{:#?}", d.details);
}

#[test]
fn text_gets_a_unified_diff_and_dates_a_hint() {
    let d = diff(b"version 1\nbuilt 2026-11-24\n", b"version 1\nbuilt 2027-12-27\n");
    assert_eq!(d.format, "text");
    let text = d.text_diff.as_deref().unwrap();
    assert!(text.contains("-built 2026-11-24") && text.contains("+built 2027-12-27"), "{text}");
    assert_eq!(rules(&d), ["date-in-text"]);
    let d = diff(b"a\nb\n", b"a\nc\n");
    assert!(rules(&d).is_empty(), "no date, no date hint");
}

#[test]
fn binary_files_show_the_first_differing_offset() {
    let mut a = vec![0u8; 100];
    let mut b = a.clone();
    a[40] = 1;
    b[40] = 2;
    let d = diff(&a, &b);
    assert_eq!(d.format, "binary");
    assert!(d.details.iter().any(|x| x.field == "first difference at offset 40"), "{:#?}", d.details);
}

#[test]
fn the_build_path_in_an_output_is_pointed_out() {
    let context =
        DiffContext { build_dirs: ("/build/x".into(), "/build/second/x".into()), ..Default::default() };
    let d = diff_with(b"\x00\x01/build/x/main.c\x00", b"\x00\x01/build/second/x/main.c\x00", &context);
    assert!(rules(&d).contains(&"build-path"), "{:?}", d.hints);
}

#[test]
fn zip_entries_are_compared() {
    let make = |secs: u8, data: &[u8]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let time = zip::DateTime::from_date_and_time(2020, 1, 1, 0, 0, secs).unwrap();
        let opts = zip::write::SimpleFileOptions::default().last_modified_time(time);
        w.start_file("f.txt", opts).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().into_inner()
    };
    let d = diff(&make(0, b"same"), &make(10, b"same"));
    assert_eq!(d.format, "zip");
    assert!(has(&d, "zip entry f.txt", "mtime"), "{:#?}", d.details);
    assert!(rules(&d).contains(&"zip-timestamps"));
}

#[test]
fn xz_and_zstd_tarballs_are_read() {
    let tar_a = tar_with(&[("a", b"1", 0o644, 1, 0)]);
    let tar_b = tar_with(&[("a", b"1", 0o644, 2, 0)]);
    let zst = |t: &[u8]| zstd::encode_all(t, 3).unwrap();
    let d = diff(&zst(&tar_a), &zst(&tar_b));
    assert_eq!(d.format, "tar+zstd");
    assert!(has(&d, "tar entry a", "mtime"));
    let xz = crate::decompress::xz_compress;
    let d = diff(&xz(&tar_a), &xz(&tar_b));
    assert_eq!(d.format, "tar+xz");
    assert!(has(&d, "tar entry a", "mtime"));
}

#[test]
fn a_worst_case_text_diff_settles_for_a_coarse_alignment() {
    // Half a million lines, every one changed: Myers' diff alone would not
    // finish in minutes.
    let (a, b) = ("a\n".repeat(500_000), "b\n".repeat(500_000));
    let started = std::time::Instant::now();
    let d = diff_with(a.as_bytes(), b.as_bytes(), &DiffContext::default());
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(d.details.iter().any(|x| x.field == "alignment"), "{:?}", d.details);
}
