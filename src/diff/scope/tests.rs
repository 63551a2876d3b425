//! report.json's diff details keep the strings docs/report.md documents:
//! each scope layer and field spells as it always has, and sorts as text.

use super::*;
use crate::diff::{diff_files, DiffContext, FileDiff};
use std::io::Write;

#[test]
fn every_layer_and_field_reads_as_report_json_spells_it() {
    let layers = [
        (Layer::File, "file"),
        (Layer::Bytes, "bytes"),
        (Layer::Text, "text"),
        (Layer::Archive, "archive"),
        (Layer::Format(Format::Archive(ArchiveKind::Tar)), "tar"),
        (Layer::Format(Format::Compressed(Compression::Zstd)), "zstd"),
        (Layer::Entry(ArchiveKind::Ar, "data.tar.xz".into()), "ar entry data.tar.xz"),
        (Layer::Entry(ArchiveKind::Zip, "a/b.py".into()), "zip entry a/b.py"),
        (Layer::Payload(Compression::Bzip2), "bzip2 payload"),
        (Layer::GzipHeader, "gzip header"),
        (Layer::ElfSection(".rodata".into()), "elf section .rodata"),
        (Layer::ElfSymbols, "elf symbols"),
    ];
    for (layer, text) in layers {
        assert_eq!(layer.to_string(), text);
    }
    let fields = [
        (Field::Presence, "presence"),
        (Field::Type, "type"),
        (Field::Mode, "mode"),
        (Field::Xattr("user.k".into()), "xattr user.k"),
        (Field::Format, "format"),
        (Field::Payload, "payload"),
        (Field::DecompressionBudget, "decompression budget"),
        (Field::CompressedStream, "compressed stream"),
        (Field::HeaderBytes, "header bytes"),
        (Field::Ambiguous, "ambiguous"),
        (Field::Listing, "listing"),
        (Field::Order, "order"),
        (Field::Copies, "copies"),
        (Field::Content, "content"),
        (Field::Mtime, "mtime"),
        (Field::Uid, "uid"),
        (Field::Gid, "gid"),
        (Field::Uname, "uname"),
        (Field::Gname, "gname"),
        (Field::Size, "size"),
        (Field::Link, "link"),
        (Field::Devmajor, "devmajor"),
        (Field::Devminor, "devminor"),
        (Field::HeaderFormat, "header format"),
        (Field::NameStoredIn, "name stored in"),
        (Field::Pax("mtime".into()), "pax mtime"),
        (Field::PaxGlobal("comment".into()), "pax global comment"),
        (Field::DosAttributes, "dos attributes"),
        (Field::MadeBy, "made by"),
        (Field::VersionMadeBy, "version made by"),
        (Field::VersionNeeded, "version needed"),
        (Field::Method, "method"),
        (Field::CompressionFlags, "compression flags"),
        (Field::Utf8NameFlag, "utf-8 name flag"),
        (Field::Flags, "flags"),
        (Field::CompressedSize, "compressed size"),
        (Field::Comment, "comment"),
        (Field::ArchiveComment, "archive comment"),
        (Field::Extra(0x5455), "extra 0x5455 (extended timestamp)"),
        (Field::Extra(0x7875), "extra 0x7875 (Unix UID/GID)"),
        (Field::Extra(0x000a), "extra 0x000a (NTFS times)"),
        (Field::Extra(0xcafe), "extra 0xcafe"),
        (Field::Name, "name"),
        (Field::Os, "os"),
        (Field::Alignment, "alignment"),
        (Field::Lines, "lines"),
        (Field::FirstDifferenceAt(40), "first difference at offset 40"),
        (Field::BuildId, "build-id"),
        (Field::Strings, "strings"),
        (Field::FirstDifferenceInSection(5), "first difference at section offset 5"),
        (Field::Year, "year"),
        (Field::Symbols, "symbols"),
        (Field::Line(12), "line 12"),
        (Field::AfterLine(2), "after line 2"),
        (Field::Offset(1), "offset 1"),
    ];
    for (field, text) in &fields {
        assert_eq!(field.to_string(), *text);
        assert_eq!(serde_json::to_string(field).unwrap(), format!("{text:?}"));
    }
    // Maps keyed by fields (a member's header fields, and so the order of
    // its details) keep the order of their names.
    let mut by_type: Vec<&Field> = fields.iter().map(|(f, _)| f).collect();
    by_type.sort();
    let mut by_name: Vec<&str> = fields.iter().map(|(_, t)| *t).collect();
    by_name.sort();
    assert_eq!(by_type.iter().map(|f| f.to_string()).collect::<Vec<_>>(), by_name);
    for (kind, text) in [
        (Kind::Owner, "owner"),
        (Kind::FirstDifference, "first difference"),
        (Kind::GzipHeader(Field::Mtime), "gzip header mtime"),
        (Kind::Of(Field::Pax("atime".into())), "pax atime"),
    ] {
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("{text:?}"));
    }
}

fn tar(members: &[(&str, &[u8], u64)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mtime) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(*mtime);
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8], mtime: u32) -> Vec<u8> {
    let mut gz = flate2::GzBuilder::new().mtime(mtime).write(Vec::new(), Default::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn diff(a: &[u8], b: &[u8]) -> FileDiff {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), a).unwrap();
    std::fs::write(dir.path().join("b"), b).unwrap();
    diff_files("x", (1, 2), &dir.path().join("a"), &dir.path().join("b"), &DiffContext::default()).unwrap()
}

/// The JSON of the details the diff finds, one per line.
fn details_json(diff: &FileDiff) -> Vec<String> {
    diff.details.iter().map(|d| serde_json::to_string(d).unwrap()).collect()
}

/// Gzip headers outside and inside, a member's mtime, and a text two
/// archives deep, as report.json lists them: the exact strings, in the
/// order found.
#[test]
fn nested_archive_details_serialize_to_the_documented_strings() {
    let version = |text: &[u8], mtime: u64| {
        let inner = tar(&[("in/x", text, 1)]);
        let packed = gzip(b"same\n", mtime as u32);
        gzip(
            &tar(&[("p/inner.tar", &inner, 1), ("p/n.gz", &packed, 1), ("p/y", b"y", 10 * mtime)]),
            4 + mtime as u32,
        )
    };
    let d = diff(&version(b"old\n", 1), &version(b"new\n", 2));
    // Content digests depend on the compressor's bytes: taken as found.
    let content = |scope: &str| {
        let held = d.details.iter().find(|x| x.scope.to_string() == scope && x.field == Field::Content);
        let held = held.expect("a content detail");
        assert!(held.a.starts_with("sha256:") && held.b.starts_with("sha256:"), "{held:?}");
        format!(r#"{{"scope":"{scope}","field":"content","a":"{}","b":"{}"}}"#, held.a, held.b)
    };
    assert_eq!(
        details_json(&d),
        [
            r#"{"scope":"gzip header","field":"mtime","a":"5","b":"6"}"#.to_string(),
            content("tar entry p/inner.tar"),
            content("tar entry p/inner.tar > tar entry in/x"),
            r#"{"scope":"tar entry p/inner.tar > tar entry in/x > text","field":"lines","a":"1 line","b":"1 line, 1 changed"}"#.into(),
            content("tar entry p/n.gz"),
            r#"{"scope":"tar entry p/n.gz > gzip header","field":"mtime","a":"1","b":"2"}"#.into(),
            r#"{"scope":"tar entry p/y","field":"mtime","a":"10","b":"20"}"#.into(),
        ]
    );
    assert_eq!(
        serde_json::to_string(&d.counts).unwrap(),
        r#"{"content":3,"gzip header mtime":2,"lines":1,"mtime":1}"#
    );
    let summary = d.summary(8);
    let line = "      tar entry p/inner.tar > tar entry in/x > text: lines: 1 line -> 1 line, 1 changed\n";
    assert!(summary.contains(line), "{summary}");
}

/// What a compressed file that is no archive holds, and bytes.
#[test]
fn payload_and_byte_details_serialize_to_the_documented_strings() {
    let d = diff(&gzip(b"a\nb\n", 1), &gzip(b"a\nc\n", 1));
    assert_eq!(
        details_json(&d),
        [r#"{"scope":"gzip payload > text","field":"lines","a":"2 lines","b":"2 lines, 1 changed"}"#]
    );
    let d = diff(&[0, 1, 2], &[0, 1, 3, 4]);
    assert_eq!(
        details_json(&d),
        [
            r#"{"scope":"bytes","field":"size","a":"3","b":"4"}"#,
            r#"{"scope":"bytes","field":"first difference at offset 2","a":"00 01 02  |...|","b":"00 01 03 04  |....|"}"#,
        ]
    );
}
