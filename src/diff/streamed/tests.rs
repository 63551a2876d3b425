use super::*;
use crate::diff::budget::DEFAULT_BUDGET;
use std::io::Write;

fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, body) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, *body).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn a_streamed_listing_matches_the_in_memory_one() {
    let dir = tempfile::tempdir().unwrap();
    let tar = tar_of(&[("pkg/a", b"one"), ("pkg/b", b"two"), ("pkg/a", b"three")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gz.write_all(&tar).unwrap();
    let tgz = gz.finish().unwrap();
    for (name, bytes) in
        [("x.tar", tar.clone()), ("x.tar.gz", tgz), ("x.tar.xz", crate::decompress::xz_compress(&tar))]
    {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let streamed = listing_of_file(&path, &Budget::new(DEFAULT_BUDGET)).unwrap();
        let whole = listing(&bytes, &Budget::new(DEFAULT_BUDGET)).unwrap();
        let view = |l: &[(String, Member)]| {
            l.iter().map(|(n, m)| (n.clone(), m.fields.clone(), m.content_hash.clone())).collect::<Vec<_>>()
        };
        assert_eq!(view(&streamed.members), view(&whole.members), "{name}");
        assert!(streamed.members.iter().all(|(_, m)| m.content.is_none()), "{name}: nothing kept");
    }
}

#[test]
fn a_stream_past_the_budget_stops_with_an_unreadable_member() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![0u8; 1 << 20];
    let tar = tar_of(&[("small", b"x"), ("big", &big), ("after", b"y")]);
    let path = dir.path().join("x.tar.xz");
    std::fs::write(&path, crate::decompress::xz_compress(&tar)).unwrap();
    let budget = Budget::new(64 << 10);
    let listed = listing_of_file(&path, &budget).unwrap();
    assert!(budget.exhausted());
    assert!(listed.members.iter().any(|(_, m)| !m.readable()), "the member past the budget is unreadable");
    assert!(!listed.members.iter().any(|(n, _)| n == "after"), "nothing is read past the budget");
}

/// automake's default `tar-v7` format has no `ustar` magic (GNU hello
/// 2.10's tarball): it is still a tar, in memory and streamed.
#[test]
fn a_v7_tar_without_magic_is_listed() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_old();
    header.set_size(3);
    header.set_mode(0o644);
    builder.append_data(&mut header, "pkg/a", &b"one"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    assert_ne!(&tar[257..262], b"ustar");
    assert_eq!(sniff(&tar), Format::Archive(ArchiveKind::Tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gz.write_all(&tar).unwrap();
    let tgz = gz.finish().unwrap();
    assert_eq!(listing(&tgz, &Budget::new(DEFAULT_BUDGET)).map(|l| l.members.len()), Some(1));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.tar.gz"), &tgz).unwrap();
    assert_eq!(
        listing_of_file(&dir.path().join("x.tar.gz"), &Budget::new(DEFAULT_BUDGET)).map(|l| l.members.len()),
        Some(1)
    );
    // Text is not a tar, whatever its first bytes.
    assert_eq!(sniff(&[b'a'; 600]), Format::Other);
}

#[test]
fn compressed_non_tar_data_is_not_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
    gz.write_all(b"just text, not a tar").unwrap();
    let path = dir.path().join("x.gz");
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    assert!(listing_of_file(&path, &Budget::new(DEFAULT_BUDGET)).is_none());
}
