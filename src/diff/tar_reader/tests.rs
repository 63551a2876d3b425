//! Crafted archives, byte by byte: each construct GNU tar, bsdtar or
//! Python's tarfile read differently must come out as an ambiguity, and
//! honest archives as none.

use super::*;

/// A raw header block: name, typeflag, size, and a magic/version pair.
pub(super) fn header(name: &[u8], typeflag: u8, size: u64, magic: &[u8; 8]) -> [u8; 512] {
    let mut block = [0u8; 512];
    block[..name.len()].copy_from_slice(name);
    block[100..108].copy_from_slice(b"0000644\0");
    block[108..116].copy_from_slice(b"0000000\0");
    block[116..124].copy_from_slice(b"0000000\0");
    block[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    block[136..148].copy_from_slice(b"00000000000\0");
    block[156] = typeflag;
    block[257..265].copy_from_slice(magic);
    seal(&mut block);
    block
}

pub(super) const USTAR: &[u8; 8] = b"ustar\x0000";
const GNU: &[u8; 8] = b"ustar  \0";

/// Writes the checksum field for the block's current bytes.
pub(super) fn seal(block: &mut [u8; 512]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| b as u32).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// An archive from members (header, data), with the end marker.
pub(super) fn archive(members: &[([u8; 512], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (block, data) in members {
        out.extend_from_slice(block);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub(super) fn pax(records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = [key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 2;
        while format!("{len} ").len() + body.len() != len {
            len += 1;
        }
        out.extend_from_slice(format!("{len} ").as_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// A member as read: its name, ambiguities and fields.
pub(super) type ReadMember = (String, Vec<String>, BTreeMap<String, String>);

/// Every member's name and ambiguities, and the archive's problems.
pub(super) fn read(data: &[u8]) -> (Vec<ReadMember>, Vec<String>) {
    let mut reader = TarReader::new(data);
    let mut members = Vec::new();
    while let Some(h) = reader.next_header().unwrap() {
        let mut body = Vec::new();
        reader.data().read_to_end(&mut body).unwrap();
        let fields = h.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        members.push((h.name, h.ambiguities, fields));
    }
    (members, reader.problems)
}

fn ambiguities(data: &[u8]) -> Vec<String> {
    let (members, problems) = read(data);
    members.into_iter().flat_map(|(_, a, _)| a).chain(problems).collect()
}

pub(super) fn honest(name: &str, body: &[u8]) -> ([u8; 512], Vec<u8>) {
    (header(name.as_bytes(), b'0', body.len() as u64, USTAR), body.to_vec())
}

#[test]
fn honest_archives_from_three_writers_have_no_ambiguity() {
    // The tar crate's GNU and ustar headers, with a long name each way.
    for gnu in [true, false] {
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("pkg/{}/file.txt", "d".repeat(120));
        for name in ["pkg/a.txt", long.as_str()] {
            let mut h = if gnu { tar::Header::new_gnu() } else { tar::Header::new_ustar() };
            h.set_size(3);
            h.set_mode(0o4755);
            builder.append_data(&mut h, name, &b"abc"[..]).unwrap();
        }
        let data = builder.into_inner().unwrap();
        let (members, problems) = read(&data);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].0, long);
        assert!(members.iter().all(|(_, a, _)| a.is_empty()), "{members:?}");
        assert_eq!(members[0].2["mode"], "4755", "setuid is kept");
    }
    // A pax header with path, mtime and an xattr; a git archive comment.
    let (h, body) = honest("pkg/run.sh", b"echo hi\n");
    let records = pax(&[("path", b"pkg/run.sh"), ("mtime", b"1700000000.5"), ("SCHILY.xattr.user.x", b"1")]);
    let global = pax(&[("comment", b"0123456789abcdef")]);
    let data = archive(&[
        (header(b"pax_global_header", b'g', global.len() as u64, USTAR), &global),
        (header(b"PaxHeaders/run.sh", b'x', records.len() as u64, USTAR), &records),
        (h, &body),
    ]);
    let (members, problems) = read(&data);
    assert!(problems.is_empty() && members[0].1.is_empty(), "{members:?} {problems:?}");
    assert_eq!(members[0].2["pax SCHILY.xattr.user.x"], "1");
    assert_eq!(members[0].2["pax global comment"], "0123456789abcdef");
    assert_eq!(members[0].2["mtime"], "1700000000.5");
}

#[test]
fn a_repeated_pax_key_is_ambiguous() {
    for (key, first, last) in [
        ("size", &b"8"[..], &b"1536"[..]),
        ("path", b"pkg/README", b"pkg/run.sh"),
        ("linkpath", b"README", b"/etc/shadow"),
    ] {
        let records = pax(&[(key, first), (key, last)]);
        let (h, body) = honest("pkg/README", b"honest!\n");
        let data = archive(&[(header(b"x", b'x', records.len() as u64, USTAR), &records), (h, &body)]);
        let found = ambiguities(&data);
        assert!(
            found.iter().any(|a| a.contains(&format!("pax key `{key}` is given 2 times"))),
            "{key}: {found:?}"
        );
    }
}

#[test]
fn gnu_long_records_that_disagree_with_pax_are_ambiguous() {
    let long = b"pkg/run.sh".to_vec();
    let records = pax(&[("path", b"pkg/README")]);
    let (h, body) = honest("pkg/README", b"x");
    let data = archive(&[
        (header(b"././@LongLink", b'L', long.len() as u64, GNU), &long),
        (header(b"x", b'x', records.len() as u64, USTAR), &records),
        (h, &body),
    ]);
    assert!(ambiguities(&data).iter().any(|a| a.contains("GNU long name and a pax path")));
    // Two long names before one member.
    let data = archive(&[
        (header(b"././@LongLink", b'L', 10, GNU), b"pkg/one.sh"),
        (header(b"././@LongLink", b'L', 10, GNU), b"pkg/two.sh"),
        (header(b"short", b'0', 1, GNU), b"x"),
    ]);
    assert!(ambiguities(&data).iter().any(|a| a.contains("two GNU long name records")));
    // A long link that disagrees with a pax linkpath.
    let records = pax(&[("linkpath", b"README")]);
    let mut link = header(b"pkg/link", b'2', 0, USTAR);
    link[157..163].copy_from_slice(b"README");
    seal(&mut link);
    let data = archive(&[
        (header(b"././@LongLink", b'K', 11, GNU), b"/etc/shadow"),
        (header(b"x", b'x', records.len() as u64, USTAR), &records),
        (link, b""),
    ]);
    assert!(ambiguities(&data).iter().any(|a| a.contains("GNU long link and a pax linkpath")));
}

#[test]
fn a_prefix_outside_a_ustar_00_header_is_ambiguous() {
    for magic in [b"ustar\0  ", GNU] {
        let mut block = header(b"README", b'0', 1, magic);
        block[345..348].copy_from_slice(b"pkg");
        seal(&mut block);
        let data = archive(&[(block, b"x")]);
        let (members, _) = read(&data);
        assert_eq!(members[0].0, "README", "only ustar 00 joins the prefix");
        assert!(members[0].1.iter().any(|a| a.contains("name prefix")), "{members:?}");
    }
    let mut block = header(b"README", b'0', 1, USTAR);
    block[345..348].copy_from_slice(b"pkg");
    seal(&mut block);
    let (members, _) = read(&archive(&[(block, b"x")]));
    assert_eq!(members[0].0, "pkg/README");
    assert!(members[0].1.is_empty());
}

#[test]
fn sparse_members_are_ambiguous() {
    let data = archive(&[(header(b"pkg/sparse", b'S', 512, GNU), &[b'a'; 512])]);
    assert!(ambiguities(&data).iter().any(|a| a.contains("sparse")));
    for key in ["GNU.sparse.map", "GNU.sparse.offset", "GNU.sparse.major"] {
        let records = pax(&[(key, b"0,1")]);
        let (h, body) = honest("pkg/sparse", b"x");
        let data = archive(&[(header(b"x", b'x', records.len() as u64, USTAR), &records), (h, &body)]);
        assert!(ambiguities(&data).iter().any(|a| a.contains("GNU sparse member")), "{key}");
    }
}

#[test]
fn names_and_types_readers_treat_differently_are_ambiguous() {
    let cases: [(&[u8], u8, &str); 5] = [
        (b"pkg/empty/", b'\0', "ends in `/`"),
        (b"/pkg/README", b'0', "absolute"),
        (b"pkg/../pkg/README", b'0', "absolute or climbs"),
        (b"pkg/README", b'Z', "unknown typeflag"),
        (b"pkg/README", b'V', "volume label"),
    ];
    for (name, typeflag, expected) in cases {
        let data = archive(&[(header(name, typeflag, 0, USTAR), b"")]);
        let found = ambiguities(&data);
        assert!(found.iter().any(|a| a.contains(expected)), "{}: {found:?}", escape_name(name));
    }
    // A real directory entry and the root `./` are fine.
    let data = archive(&[(header(b"./", b'5', 0, USTAR), b""), (header(b"pkg/", b'5', 0, USTAR), b"")]);
    assert!(ambiguities(&data).is_empty());
}

#[test]
fn data_after_the_end_marker_is_ambiguous() {
    let (h, body) = honest("pkg/README", b"x");
    let mut data = archive(&[(h, &body)]);
    let (hidden, hidden_body) = honest("pkg/run.sh", b"echo PWNED\n");
    data.extend_from_slice(&archive(&[(hidden, &hidden_body)]));
    let (members, problems) = read(&data);
    assert_eq!(members.len(), 1);
    assert!(problems.iter().any(|p| p.contains("after the end-of-archive marker")), "{problems:?}");
    // Zero padding to a 10 KiB record is not.
    let mut padded = archive(&[honest("a", b"x")].map(|(h, b)| (h, b.leak() as &[u8])));
    padded.resize(10240, 0);
    assert!(read(&padded).1.is_empty());
}

#[test]
fn links_with_data_or_to_later_members_are_ambiguous() {
    let mut link = header(b"pkg/link", b'2', 5, USTAR);
    link[157..163].copy_from_slice(b"README");
    seal(&mut link);
    assert!(ambiguities(&archive(&[(link, b"hello")])).iter().any(|a| a.contains("bytes of data")));
    let mut hard = header(b"pkg/hard", b'1', 0, USTAR);
    hard[157..167].copy_from_slice(b"pkg/README");
    seal(&mut hard);
    let (h, body) = honest("pkg/README", b"x");
    let later = archive(&[(hard, b""), (h, &body)]);
    assert!(ambiguities(&later).iter().any(|a| a.contains("not an earlier member")));
    let (h, body) = honest("pkg/README", b"x");
    let earlier = archive(&[(h, &body), (hard, b"")]);
    assert!(ambiguities(&earlier).is_empty());
}

#[test]
fn a_global_header_that_sets_more_than_a_comment_is_ambiguous() {
    let global = pax(&[("path", b"pkg/run.sh")]);
    let (h, body) = honest("pkg/README", b"x");
    let data = archive(&[(header(b"g", b'g', global.len() as u64, USTAR), &global), (h, &body)]);
    assert!(ambiguities(&data).iter().any(|a| a.contains("global header sets `path`")));
}

#[test]
fn damaged_headers_stop_the_listing_with_a_problem() {
    let (mut h, body) = honest("pkg/README", b"x");
    h[0] = b'q'; // checksum no longer matches
    assert!(read(&archive(&[(h, &body)])).1.iter().any(|p| p.contains("wrong checksum")));
    let mut blank = header(b"pkg/README", b'0', 0, USTAR);
    blank[124..136].copy_from_slice(b"           \0");
    seal(&mut blank);
    assert!(read(&archive(&[(blank, b"")])).1.iter().any(|p| p.contains("no readable size")));
    assert_eq!(parse_number(b"0000644\0"), Some(Number::Value(0o644)));
    assert_eq!(parse_number(b"  644 \0\0"), Some(Number::Value(0o644)));
    assert_eq!(parse_number(b"12 34\0\0\0"), None);
    assert_eq!(parse_number(b"0000009\0"), None);
    assert_eq!(parse_number(&[0x80, 0, 0, 0, 0, 0, 0, 1]), Some(Number::Value(1)));
    assert_eq!(parse_number(&[0xff; 8]), None);
}

#[test]
fn names_that_differ_in_invalid_bytes_stay_different() {
    assert_ne!(escape_name(b"pkg/\xff"), escape_name(b"pkg/\xfe"));
    assert_ne!(escape_name(b"pkg/\xff"), escape_name(b"pkg/\\xff"));
    assert_eq!(escape_name("pkg/caf\u{e9}".as_bytes()), "pkg/caf\u{e9}");
}
