use super::*;

/// Builds a tar stream from raw entries, bypassing the tar crate's own path
/// checks so hostile names can be written.
/// name, kind, link target, contents
type RawEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

fn tar_of(entries: &[RawEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(if *kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn collect(
    stream: &[u8],
    globs: &[&str],
    prefix: &str,
) -> (tempfile::TempDir, Result<BTreeMap<String, OutputEntry>>) {
    let dir = tempfile::tempdir().unwrap();
    let patterns: Vec<String> = globs.iter().map(|s| s.to_string()).collect();
    let selector = OutputSelector::new(&patterns).unwrap();
    let mut collector = Collector::new(&dir.path().join("out"), &selector, Limits::default()).unwrap();
    let result = collector.add_archive(stream, prefix).and_then(|_| collector.finish());
    (dir, result)
}

use tar::EntryType::{Directory as D, Regular as F};

#[test]
fn selects_and_hashes_files() {
    let stream = tar_of(&[
        (b"dist/", D, b"", b""),
        (b"dist/a.txt", F, b"", b"hello\n"),
        (b"dist/b.log", F, b"", b"skip"),
    ]);
    let (dir, got) = collect(&stream, &["dist/*.txt"], "dist");
    let got = got.unwrap();
    assert_eq!(got.len(), 1);
    let OutputEntry::File { size, sha256, .. } = &got["dist/a.txt"] else { panic!("{got:?}") };
    assert_eq!(*size, 6);
    assert_eq!(sha256, "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_eq!(fs::read(dir.path().join("out/dist/a.txt")).unwrap(), b"hello\n");
    assert!(!dir.path().join("out/dist/b.log").exists());
}

#[test]
fn whole_tree_download_strips_the_root_name() {
    let stream = tar_of(&[(b"hello/", D, b"", b""), (b"hello/out.bin", F, b"", b"x")]);
    let (_dir, got) = collect(&stream, &["*.bin"], "");
    assert!(got.unwrap().contains_key("out.bin"));
}

#[test]
fn traversal_and_absolute_paths_are_refused() {
    for name in [&b"dist/../../evil"[..], b"/etc/evil", b"../evil"] {
        let stream = tar_of(&[(name, F, b"", b"x")]);
        let (dir, got) = collect(&stream, &["**"], "dist");
        let err = got.unwrap_err().to_string();
        assert!(err.contains("unsafe path"), "{err}");
        assert!(!dir.path().join("evil").exists());
    }
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap().as_bytes().to_vec();
    let stream =
        tar_of(&[(b"dist/link", tar::EntryType::Symlink, &target, b""), (b"dist/link/pwned", F, b"", b"x")]);
    let (_dir, got) = collect(&stream, &["dist/**"], "dist");
    let err = got.unwrap_err().to_string();
    assert!(err.contains("not a directory"), "{err}");
    assert!(!outside.path().join("pwned").exists());
}

#[test]
fn symlinks_are_recorded_not_followed() {
    let stream = tar_of(&[(b"dist/l", tar::EntryType::Symlink, b"/etc/passwd", b"")]);
    let (dir, got) = collect(&stream, &["dist/*"], "dist");
    assert_eq!(got.unwrap()["dist/l"], OutputEntry::Symlink { target: "/etc/passwd".into() });
    assert!(fs::symlink_metadata(dir.path().join("out/dist/l")).unwrap().file_type().is_symlink());
}

#[test]
fn hardlinks_inside_are_copied_and_outside_refused() {
    let stream = tar_of(&[(b"dist/a", F, b"", b"data"), (b"dist/b", tar::EntryType::Link, b"dist/a", b"")]);
    let (_dir, got) = collect(&stream, &["dist/*"], "dist");
    let got = got.unwrap();
    assert_eq!(got["dist/a"], got["dist/b"]);
    let stream = tar_of(&[(b"dist/b", tar::EntryType::Link, b"etc/shadow", b"")]);
    let err = collect(&stream, &["dist/*"], "dist").1.unwrap_err().to_string();
    assert!(err.contains("hardlink"), "{err}");
}

#[test]
fn devices_fifos_duplicates_and_bad_names_are_refused() {
    for (stream, fragment) in [
        (tar_of(&[(b"dist/null", tar::EntryType::Char, b"", b"")]), "character device"),
        (tar_of(&[(b"dist/p", tar::EntryType::Fifo, b"", b"")]), "FIFO"),
        (tar_of(&[(b"dist/a", F, b"", b"1"), (b"dist/a", F, b"", b"2")]), "twice"),
        (tar_of(&[(b"dist/\xff", F, b"", b"1")]), "not valid UTF-8"),
    ] {
        let err = collect(&stream, &["dist/*"], "dist").1.unwrap_err().to_string();
        assert!(err.contains(fragment), "{fragment}: {err}");
    }
}

#[test]
fn limits_stop_huge_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let selector = OutputSelector::new(&["**".to_string()]).unwrap();
    let limits = Limits { max_total_bytes: 10, max_entries: 3, ..Default::default() };
    let mut c = Collector::new(&dir.path().join("o"), &selector, limits).unwrap();
    let err = c.add_archive(&tar_of(&[(b"d/big", F, b"", &[0u8; 11])])[..], "d").unwrap_err();
    assert!(err.to_string().contains("exceed 10 bytes"), "{err}");
    let mut c = Collector::new(&dir.path().join("p"), &selector, limits).unwrap();
    let many =
        tar_of(&[(b"d/1", F, b"", b""), (b"d/2", F, b"", b""), (b"d/3", F, b"", b""), (b"d/4", F, b"", b"")]);
    let err = c.add_archive(&many[..], "d").unwrap_err();
    assert!(err.to_string().contains("more than 3"), "{err}");
}

/// A run over a limit leaves nothing behind: what was collected before the
/// limit (gigabytes, for a real build) is removed, and the error says so.
#[test]
fn outputs_over_a_limit_are_removed_and_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let selector = OutputSelector::new(&["**".to_string()]).unwrap();
    let limits = Limits { max_total_bytes: 10, max_entries: 3, ..Default::default() };
    let big =
        tar_of(&[(b"d/small", F, b"", b"12345"), (b"d/sub", D, b"", b""), (b"d/sub/big", F, b"", &[0u8; 9])]);
    let many = tar_of(&[
        (b"d/1", F, b"", b"1"),
        (b"d/2", F, b"", b""),
        (b"d/3", F, b"", b""),
        (b"d/4", F, b"", b""),
    ]);
    for (name, stream) in [("big", big), ("many", many)] {
        let root = dir.path().join(name);
        let mut c = Collector::new(&root, &selector, limits).unwrap();
        let err = c.add_archive(&stream[..], "d").unwrap_err();
        assert!(!root.exists(), "{name}: the partial outputs are gone");
        let removed = format!("the partial outputs in {} were removed", root.display());
        assert!(err.to_string().contains(&removed), "{name}: {err}");
    }
}

#[test]
fn selection_follows_glob_rules() {
    let s = OutputSelector::new(&["dist/*.tar.gz".into(), "out".into(), "bin/**".into()]).unwrap();
    assert!(s.selects("dist/a.tar.gz"));
    assert!(!s.selects("dist/sub/a.tar.gz"));
    assert!(s.selects("out/x/y"));
    assert!(s.selects("bin/a/b"));
    assert!(!s.selects("src/main.c"));
}

#[test]
fn download_roots_are_literal_prefixes() {
    let roots =
        |p: &[&str]| OutputSelector::download_roots(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(roots(&["dist/*.tar.gz", "out/**", "dist/x/*"]), vec!["dist", "out"]);
    assert_eq!(roots(&["*.o", "dist/*"]), vec![""]);
    assert_eq!(roots(&["./a/b/c.txt"]), vec!["a/b/c.txt"]);
}

/// A stream of `dist/` with `a` at `mode_a`, `tool` at `mode_tool`, and
/// optionally an empty directory and an xattr on `tool`.
fn modes_stream(mode_a: u32, mode_tool: u32, empty_dir: bool, capability: Option<&[u8]>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(D);
    dir.set_mode(0o755);
    dir.set_size(0);
    builder.append_data(&mut dir, "dist/", &[][..]).unwrap();
    if let Some(value) = capability {
        builder.append_pax_extensions([("SCHILY.xattr.security.capability", value)]).unwrap();
    }
    for (name, mode) in [("dist/tool", mode_tool), ("dist/a", mode_a)] {
        let mut h = tar::Header::new_ustar();
        h.set_mode(mode);
        h.set_size(1);
        builder.append_data(&mut h, name, &b"x"[..]).unwrap();
    }
    if empty_dir {
        builder.append_data(&mut dir.clone(), "dist/empty/", &[][..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Outputs that differ only in a setuid bit, a 0666 against a 0644 mode,
/// an empty directory or an xattr are different outputs, and the first
/// three give different NAR hashes or entries, never the same ones.
#[test]
fn modes_empty_directories_and_xattrs_are_recorded() {
    let (_d1, plain) = collect(&modes_stream(0o644, 0o755, false, None), &["dist"], "dist");
    let plain = plain.unwrap();
    assert_eq!(plain["dist"], OutputEntry::Directory { mode: "0755".into(), xattrs: Default::default() });
    let OutputEntry::File { mode, executable, .. } = &plain["dist/tool"] else { panic!("{plain:?}") };
    assert_eq!((mode.as_deref(), *executable), (Some("0755"), true));
    // A file a glob names itself is an artifact: its own mode is not kept.
    let (_d0, named) = collect(&modes_stream(0o666, 0o4755, false, None), &["dist/*"], "dist");
    let OutputEntry::File { mode, executable, .. } = &named.unwrap()["dist/tool"] else { panic!() };
    assert_eq!((mode.as_deref(), *executable), (None, true));
    for (stream, path) in [
        (modes_stream(0o644, 0o4755, false, None), "dist/tool"),
        (modes_stream(0o666, 0o755, false, None), "dist/a"),
        (modes_stream(0o644, 0o755, true, None), "dist/empty"),
        (modes_stream(0o644, 0o755, false, Some(&[1, 0, 0, 2])), "dist/tool"),
    ] {
        let (_d2, other) = collect(&stream, &["dist"], "dist");
        let other = other.unwrap();
        assert_ne!(plain.get(path), other.get(path), "{path} must differ: {other:?}");
    }
    let (_d3, with_cap) = collect(&modes_stream(0o644, 0o755, false, Some(&[1, 0, 0, 2])), &["dist"], "dist");
    let OutputEntry::File { xattrs, .. } = &with_cap.unwrap()["dist/tool"] else { panic!() };
    assert_eq!(xattrs.get("security.capability").map(String::as_str), Some("01000002"));
}

#[test]
fn pax_times_keep_their_fraction_and_sign() {
    let t = |text: &str| parse_pax_time(text).map(|t| (t.unix_seconds(), t.nanoseconds()));
    assert_eq!(t("1727986909.599353"), Some((1727986909, 599_353_000)));
    assert_eq!(t("1727986909"), Some((1727986909, 0)));
    assert_eq!(t("1.1234567891"), Some((1, 123_456_789)));
    assert_eq!(t("-1.5"), Some((-2, 500_000_000)));
    assert_eq!(t("12x"), None);
    assert_eq!(t("1.2e3"), None);
}
