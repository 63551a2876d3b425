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

/// Whether a detail's scope, as report.json shows it, holds `scope`, and
/// its field reads `field`.
fn has(d: &FileDiff, scope: &str, field: &str) -> bool {
    d.details.iter().any(|x| x.scope.to_string().contains(scope) && x.field.to_string() == field)
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
    assert!(d.details.iter().any(|x| x.field == Field::FirstDifferenceAt(40)), "{:#?}", d.details);
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
fn xz_zstd_and_bzip2_tarballs_are_read() {
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
    let bz2 = |t: &[u8]| {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        e.write_all(t).unwrap();
        e.finish().unwrap()
    };
    let d = diff(&bz2(&tar_a), &bz2(&tar_b));
    assert_eq!(d.format, "tar+bzip2");
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
    assert!(d.details.iter().any(|x| x.field == Field::Alignment), "{:?}", d.details);
}

/// A tar whose members are written by `add` (pax records, v7 headers, ...).
fn tar_by(add: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    add(&mut builder);
    builder.into_inner().unwrap()
}

/// A Unix ar archive (a .deb's container) of `members`.
fn ar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        out.extend_from_slice(
            format!("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", name, 0, 0, 0, "100644", data.len()).as_bytes(),
        );
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn the_cap_on_listed_details_hides_no_kind_from_counts_summary_or_hints() {
    // 300 members whose owner differs, then one whose mtime differs: the
    // mtime row comes after the first 200 details.
    let entries = |uid: u32, last_mtime: u64| {
        let mut e: Vec<(String, u64, u32)> = (0..300).map(|i| (format!("p/f{i:03}"), 1, uid)).collect();
        e.push(("p/z".into(), last_mtime, 0));
        e
    };
    let build = |list: Vec<(String, u64, u32)>| {
        let rows: Vec<(&str, &[u8], u32, u64, u32)> =
            list.iter().map(|(n, m, u)| (n.as_str(), &b"x"[..], 0o644, *m, *u)).collect();
        tar_with(&rows)
    };
    let d = diff(&build(entries(1000, 100)), &build(entries(0, 200)));
    assert_eq!(d.counts.get(&Kind::Owner), Some(&600), "{:?}", d.counts);
    assert_eq!(d.counts.get(&Kind::Of(Field::Mtime)), Some(&1), "{:?}", d.counts);
    assert_eq!(d.details_total, 601);
    assert!(rules(&d).contains(&"tar-mtime"), "the hint sees past the first 200: {:?}", d.hints);
    let summary = d.summary(8);
    assert!(summary.contains("p/z: mtime"), "every kind is shown: {summary}");
    assert!(summary.contains("owner × 600, mtime × 1"), "{summary}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["details"].as_array().unwrap().len(), REPORT_DETAILS);
    assert_eq!(json["details_file"], d.details_file.clone().unwrap());
    assert!(summary.contains(d.details_file.as_deref().unwrap()), "{summary}");
}

#[test]
fn a_deb_is_opened_down_to_the_member_that_leaks_the_build_path() {
    let deb = |build_dir: &str| {
        let data = tar_by(|t| {
            let text = format!("built in {build_dir}/hello-2.10\n");
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            t.append_data(&mut h, "./usr/share/doc/hello/BUILDPATH", text.as_bytes()).unwrap();
        });
        let control = tar_with(&[("./control", b"Package: hello\n", 0o644, 1, 0)]);
        ar_of(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.xz", &crate::decompress::xz_compress(&control)),
            ("data.tar.xz", &crate::decompress::xz_compress(&data)),
        ])
    };
    let context =
        DiffContext { build_dirs: ("/build/one".into(), "/build/two".into()), ..Default::default() };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.deb"), dir.path().join("b.deb"));
    std::fs::write(&a, deb("/build/one")).unwrap();
    std::fs::write(&b, deb("/build/two")).unwrap();
    let d = diff_files("hello_2.10-3_amd64.deb", (1, 2), &a, &b, &context).unwrap();
    assert_eq!(d.format, "ar");
    let inner = "ar entry data.tar.xz > tar entry usr/share/doc/hello/BUILDPATH";
    assert!(has(&d, inner, "lines"), "{:#?}", d.details);
    assert!(d.text_diff.as_deref().unwrap().contains("+built in /build/two/hello-2.10"), "{:?}", d.text_diff);
    let hint = d.hints.iter().find(|h| h.rule == "build-path").expect("build-path hint");
    assert!(hint.fix.contains("dpkg-buildflags"), "the dpkg wording: {}", hint.fix);
}

#[test]
fn pax_records_and_long_name_spellings_are_compared() {
    let long = format!("pkg/{}", "d".repeat(120));
    let gnu = tar_by(|t| {
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        t.append_data(&mut h, &long, &b"x"[..]).unwrap();
    });
    let pax = tar_by(|t| {
        t.append_pax_extensions([("path", long.as_bytes()), ("mtime", &b"1.5"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_path("pkg/short").unwrap();
        h.set_cksum();
        t.append(&h, &b"x"[..]).unwrap();
    });
    let d = diff(&gnu, &pax);
    let scope = format!("tar entry {long}");
    assert!(has(&d, &scope, "name stored in"), "{:#?}", d.details);
    assert!(has(&d, &scope, "pax mtime"), "{:#?}", d.details);
    assert!(has(&d, &scope, "header format"), "{:#?}", d.details);
    assert!(rules(&d).contains(&"tar-name-records"), "{:?}", d.hints);
}

#[test]
fn a_v7_tarball_from_make_dist_gets_the_automake_fix() {
    let v7 = |order: &[(&str, u64)]| {
        gzip(
            &tar_by(|t| {
                for (name, mtime) in order {
                    let mut h = tar::Header::new_old();
                    h.set_size(1);
                    h.set_mode(0o644);
                    h.set_mtime(*mtime);
                    t.append_data(&mut h, name, &b"x"[..]).unwrap();
                }
            }),
            0,
            None,
        )
    };
    let context =
        DiffContext { build_command: "./configure && make && make dist".into(), ..Default::default() };
    let d = diff_with(&v7(&[("h/a", 1), ("h/b", 1)]), &v7(&[("h/b", 2), ("h/a", 2)]), &context);
    assert_eq!(d.format, "tar+gzip");
    assert!(has(&d, "tar", "order") && has(&d, "tar entry h/a", "mtime"), "{:#?}", d.details);
    assert!(d.hints.iter().any(|h| h.fix.contains("am__tar")), "{:?}", d.hints);
    // A Makefile of one's own with a dist target and GNU tar: tar's flags.
    let gnu = |mtime: u64| gzip(&tar_with(&[("h/a", b"x", 0o644, mtime, 0)]), 0, None);
    let context = DiffContext { build_command: "make dist-unreproducible".into(), ..Default::default() };
    let d = diff_with(&gnu(1), &gnu(2), &context);
    assert_eq!(d.hints[0].fix, "tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime", "{:?}", d.hints);
}

#[test]
fn in_verify_a_published_archive_that_deviates_is_named_as_the_odd_one_out() {
    let a = tar_with(&[("p/a", b"1", 0o644, 1, 1000)]);
    let b = tar_with(&[("p/a", b"1", 0o644, 1, 0)]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), &a).unwrap();
    std::fs::write(dir.path().join("b"), &b).unwrap();
    let context =
        DiffContext { build_command: "tar --owner=0 --group=0 -cf x.tar p".into(), ..Default::default() };
    let verify = diff_files("x.tar", (0, 1), &dir.path().join("a"), &dir.path().join("b"), &context).unwrap();
    let fix = &verify.hints.iter().find(|h| h.rule == "tar-owner").unwrap().fix;
    assert!(fix.contains("published archive") && fix.contains("already normalises"), "{fix}");
    // Between two runs the same difference gets the usual fix.
    let check =
        diff_files("x.tar", (1, 2), &dir.path().join("a"), &dir.path().join("b"), &Default::default())
            .unwrap();
    assert_eq!(
        check.hints.iter().find(|h| h.rule == "tar-owner").unwrap().fix,
        "tar --owner=0 --group=0 --numeric-owner"
    );
}

#[test]
fn a_python_sdist_gets_python_fixes_not_gnu_tar_flags() {
    let sdist = |mtime: u64| {
        gzip(&tar_with(&[("pkg-1.0/PKG-INFO", b"Metadata-Version: 2.1\n", 0o644, mtime, 0)]), 0, None)
    };
    let d = diff(&sdist(1), &sdist(2));
    let fix = &d.hints.iter().find(|h| h.rule == "tar-mtime").unwrap().fix;
    assert!(fix.contains("Python's tarfile") && !fix.contains("--clamp-mtime"), "{fix}");
}

#[test]
fn an_elf_diff_names_the_section_the_strings_and_the_derived_build_id() {
    let fixture = |n: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elf").join(n);
    let d =
        diff_files("hello", (1, 2), &fixture("hello-date-a"), &fixture("hello-date-b"), &Default::default())
            .unwrap();
    assert_eq!(d.format, "elf");
    let strings = d.details.iter().find(|x| x.field == Field::Strings).expect("the changed strings");
    assert!(strings.scope.at == Layer::ElfSection(".rodata".into()), "{strings:?}");
    assert!(strings.a.contains("Nov 14 2023") && strings.b.contains("Dec  2 2025"), "{strings:?}");
    let build_id = d.details.iter().find(|x| x.field == Field::BuildId).expect("the build-id");
    assert!(build_id.b.contains("follows the differences in .rodata"), "{build_id:?}");
    assert!(rules(&d).contains(&"date-in-binary"), "{:?}", d.hints);
}

#[test]
fn a_replaced_line_is_one_change() {
    let d = diff(b"one\n", b"two\n");
    let lines = d.details.iter().find(|x| x.field == Field::Lines).unwrap();
    assert_eq!((lines.a.as_str(), lines.b.as_str()), ("1 line", "1 line, 1 changed"));
}

#[test]
fn a_wheel_shows_its_record_and_gets_the_python_fix() {
    let wheel = |secs: u8, record: &str| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let time = zip::DateTime::from_date_and_time(2024, 1, 1, 0, 0, secs).unwrap();
        let opts = zip::write::SimpleFileOptions::default().last_modified_time(time);
        for (name, body) in [
            ("pkg/__init__.py", ""),
            ("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n"),
            ("pkg-1.0.dist-info/RECORD", record),
        ] {
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.whl"), dir.path().join("b.whl"));
    std::fs::write(&a, wheel(0, "pkg/__init__.py,sha256=47DEQ,0\n")).unwrap();
    std::fs::write(&b, wheel(10, "pkg/__init__.py,sha256=47DEQ,0\npkg/extra.py,,\n")).unwrap();
    let d = diff_files("dist/pkg-1.0-py3-none-any.whl", (1, 2), &a, &b, &Default::default()).unwrap();
    assert_eq!(d.format, "zip");
    assert!(has(&d, "zip entry pkg-1.0.dist-info/RECORD > text", "lines"), "{:#?}", d.details);
    let fix = &d.hints.iter().find(|h| h.rule == "zip-timestamps").expect("zip-timestamps").fix;
    assert!(fix.contains("wheel") && fix.contains("SOURCE_DATE_EPOCH"), "{fix}");
}

#[test]
fn a_listing_the_budget_cut_short_reports_no_false_absences() {
    // 400 KB of members per side against a 600 KB budget: each side's
    // listing stops somewhere, the two not at the same member.
    let big = vec![0u8; 100_000];
    let side = |mtime: u64| {
        let rows: Vec<(String, u64)> = (0..4).map(|i| (format!("p/m{i}"), mtime)).collect();
        let rows: Vec<(&str, &[u8], u32, u64, u32)> =
            rows.iter().map(|(n, m)| (n.as_str(), &big[..], 0o644, *m, 0)).collect();
        gzip(&tar_with(&rows), 0, None)
    };
    let context = DiffContext { budget: 600_000, ..Default::default() };
    let d = diff_with(&side(1), &side(2), &context);
    assert!(!d.details.iter().any(|x| x.field == Field::Presence), "{:#?}", d.details);
    let stopped = |x: &Detail| {
        x.field == Field::Listing && (x.a.contains("budget ran out") || x.b.contains("budget ran out"))
    };
    assert!(d.details.iter().any(stopped), "{:#?}", d.details);
    assert!(has(&d, "tar entry p/m0", "mtime"), "what was listed is still compared: {:#?}", d.details);
}

#[test]
fn copies_of_a_name_are_told_apart_by_digest_not_by_what_is_held() {
    let a = tar_with(&[("p/x", b"1", 0o644, 1, 0), ("p/x", b"1", 0o644, 1, 0)]);
    let b = tar_with(&[("p/x", b"1", 0o644, 1, 0), ("p/x", b"2", 0o644, 1, 0)]);
    let d = diff(&a, &b);
    let copies = d.details.iter().find(|x| x.field == Field::Copies).expect("the copies differ in b only");
    assert_eq!(copies.a, "2 copies (identical)", "{copies:?}");
}

#[test]
fn an_ar_long_name_table_cannot_multiply_memory() {
    let table = vec![b'n'; 100_000];
    let members: Vec<(&str, &[u8])> =
        std::iter::once(("//", &table[..])).chain((0..50).map(|_| ("/0", &b""[..]))).collect();
    let listed = crate::diff::streamed::listing(&ar_of(&members), &budget::Budget::new(1 << 30)).unwrap();
    assert_eq!(listed.members.len(), 50);
    assert!(listed.members.iter().all(|(name, _)| name.len() <= 4100), "names are clipped");
}

#[test]
fn a_year_compiled_into_code_is_read_as_a_year() {
    let fixture = |n: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elf").join(n);
    let d =
        diff_files("hello", (1, 2), &fixture("hello-year-a"), &fixture("hello-year-b"), &Default::default())
            .unwrap();
    let year = d.details.iter().find(|x| x.field == Field::Year).expect("the year");
    assert!(
        year.scope.at == Layer::ElfSection(".text".into()) && year.a == "2026" && year.b.starts_with("2028"),
        "{year:?}"
    );
    assert!(rules(&d).contains(&"date-in-binary"), "{:?}", d.hints);
}
