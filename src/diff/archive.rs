//! Reading inside archives: tar (plain or compressed), gzip headers, zip.

use super::{compare_bytes, scoped, Detail, FileDiff, MAX_READ};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Read;

/// Formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Xz,
    Zstd,
    Zip,
    Tar,
    Other,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Other => "binary",
        }
    }
}

pub fn sniff(data: &[u8]) -> Format {
    if data.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Format::Xz
    } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Format::Zstd
    } else if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        Format::Zip
    } else if data.len() >= 262 && &data[257..262] == b"ustar" {
        Format::Tar
    } else {
        Format::Other
    }
}

/// Adds what differs inside two archives of the same `format`.
pub fn compare(diff: &mut FileDiff, prefix: &str, format: Format, a: &[u8], b: &[u8], depth: u8) {
    match format {
        Format::Gzip => {
            gzip_header(diff, prefix, a, b);
            decompressed(diff, prefix, "gzip", a, b, depth, |d| read_capped(flate2::read::GzDecoder::new(d)));
        }
        Format::Xz => decompressed(diff, prefix, "xz", a, b, depth, xz_capped),
        Format::Zstd => {
            decompressed(diff, prefix, "zstd", a, b, depth, |d| read_capped(zstd::Decoder::new(d).ok()?))
        }
        Format::Zip => zip(diff, prefix, a, b, depth),
        Format::Tar => tar(diff, prefix, a, b, depth),
        Format::Other => {}
    }
}

/// xz-decompresses at most [`MAX_READ`] bytes: a bomb fails instead of
/// filling memory.
fn xz_capped(data: &[u8]) -> Option<Vec<u8>> {
    struct Capped(Vec<u8>);
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if (self.0.len() + buf.len()) as u64 > MAX_READ {
                return Err(std::io::Error::other("over the size cap"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped(Vec::new());
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(data), &mut out).ok()?;
    Some(out.0)
}

fn read_capped(reader: impl Read) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(MAX_READ + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= MAX_READ).then_some(out)
}

/// Compares the decompressed payloads (which may be tar, text, ...).
fn decompressed(
    diff: &mut FileDiff,
    prefix: &str,
    name: &str,
    a: &[u8],
    b: &[u8],
    depth: u8,
    decode: impl Fn(&[u8]) -> Option<Vec<u8>>,
) {
    let (Some(da), Some(db)) = (decode(a), decode(b)) else {
        diff.details.push(Detail {
            scope: scoped(prefix, name),
            field: "payload".into(),
            a: "unreadable or over the size cap".into(),
            b: String::new(),
        });
        return;
    };
    if da == db {
        return;
    }
    let inner = sniff(&da);
    if depth == 0 && prefix.is_empty() && inner != Format::Other {
        diff.format = format!("{}+{name}", inner.name());
    }
    // The compressed layer is not a nesting level: keep the depth.
    let before = diff.details.len();
    if inner == sniff(&db) && inner != Format::Other {
        compare(diff, prefix, inner, &da, &db, depth);
    }
    if diff.details.len() == before {
        compare_bytes(diff, &scoped(prefix, &format!("{name} payload")), &da, &db, depth + 1);
    }
}

fn gzip_header(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8]) {
    let header = |d: &[u8]| {
        let decoder = flate2::read::GzDecoder::new(d);
        decoder.header().map(|h| {
            let name = h.filename().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
            (h.mtime().to_string(), name, h.operating_system().to_string())
        })
    };
    let (Some(ha), Some(hb)) = (header(a), header(b)) else { return };
    let scope = scoped(prefix, "gzip header");
    for (field, x, y) in [("mtime", &ha.0, &hb.0), ("name", &ha.1, &hb.1), ("os", &ha.2, &hb.2)] {
        if x != y {
            diff.details.push(Detail {
                scope: scope.clone(),
                field: field.into(),
                a: x.clone(),
                b: y.clone(),
            });
        }
    }
}

/// What is compared of one archive member.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Header fields by name: `type`, `mode`, `uid`, `mtime`, `link`, ...
    pub fields: BTreeMap<&'static str, String>,
    content: Vec<u8>,
    /// Hex sha256 of the content.
    pub content_hash: String,
}

/// The members of a tar (plain or compressed) or zip archive, in archive
/// order, with the compression layers peeled; `None` for anything else.
pub(crate) fn listing(data: &[u8]) -> Option<Vec<(String, Member)>> {
    let inner = match sniff(data) {
        Format::Gzip => read_capped(flate2::read::MultiGzDecoder::new(data))?,
        Format::Xz => xz_capped(data)?,
        Format::Zstd => read_capped(zstd::Decoder::new(data).ok()?)?,
        Format::Zip => return zip_members(data),
        Format::Tar => return tar_members(data),
        Format::Other => return None,
    };
    match sniff(&inner) {
        Format::Tar => tar_members(&inner),
        _ => None,
    }
}

fn tar_members(data: &[u8]) -> Option<Vec<(String, Member)>> {
    let mut archive = tar::Archive::new(data);
    let mut members = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let h = entry.header().clone();
        let mut m = Member::default();
        let mut put = |k: &'static str, v: String| {
            m.fields.insert(k, v);
        };
        put("type", format!("{:?}", h.entry_type()));
        put("mode", h.mode().map(|v| format!("{v:04o}")).unwrap_or_default());
        put("uid", h.uid().map(|v| v.to_string()).unwrap_or_default());
        put("gid", h.gid().map(|v| v.to_string()).unwrap_or_default());
        put("uname", h.username().ok().flatten().unwrap_or_default().to_string());
        put("gname", h.groupname().ok().flatten().unwrap_or_default().to_string());
        put("mtime", h.mtime().map(|v| v.to_string()).unwrap_or_default());
        put("size", h.size().map(|v| v.to_string()).unwrap_or_default());
        put(
            "link",
            entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default(),
        );
        if let Ok(Some(pax)) = entry.pax_extensions() {
            let keys: Vec<String> = pax.flatten().map(|e| e.key().unwrap_or("?").to_string()).collect();
            m.fields.insert("pax headers", keys.join(","));
        }
        entry.read_to_end(&mut m.content).ok()?;
        m.content_hash = hex::encode(Sha256::digest(&m.content));
        members.push((name, m));
    }
    Some(members)
}

fn tar(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], depth: u8) {
    let (Some(ma), Some(mb)) = (tar_members(a), tar_members(b)) else { return };
    members(diff, prefix, "tar", ma, mb, depth);
}

fn zip_members(data: &[u8]) -> Option<Vec<(String, Member)>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data)).ok()?;
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).ok()?;
        let mut m = Member::default();
        m.fields.insert("mtime", file.last_modified().map(|t| format!("{t:?}")).unwrap_or_default());
        m.fields.insert("mode", file.unix_mode().map(|v| format!("{v:04o}")).unwrap_or_default());
        m.fields.insert("extra fields", file.extra_data().map(hex::encode).unwrap_or_default());
        m.fields.insert("size", file.size().to_string());
        let name = file.name().to_string();
        (&mut file).take(MAX_READ).read_to_end(&mut m.content).ok()?;
        m.content_hash = hex::encode(Sha256::digest(&m.content));
        members.push((name, m));
    }
    Some(members)
}

fn zip(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8], depth: u8) {
    let (Some(ma), Some(mb)) = (zip_members(a), zip_members(b)) else { return };
    members(diff, prefix, "zip", ma, mb, depth);
}

/// Compares archive members: order, presence, metadata, content; recurses
/// one level into differing members that are archives themselves.
fn members(
    diff: &mut FileDiff,
    prefix: &str,
    kind: &str,
    a: Vec<(String, Member)>,
    b: Vec<(String, Member)>,
    depth: u8,
) {
    let names_a: Vec<&String> = a.iter().map(|(n, _)| n).collect();
    let names_b: Vec<&String> = b.iter().map(|(n, _)| n).collect();
    let map_b: BTreeMap<&String, &Member> = b.iter().map(|(n, m)| (n, m)).collect();
    let map_a: BTreeMap<&String, &Member> = a.iter().map(|(n, m)| (n, m)).collect();
    let mut sorted_a = names_a.clone();
    sorted_a.sort();
    let mut sorted_b = names_b.clone();
    sorted_b.sort();
    if sorted_a == sorted_b && names_a != names_b {
        let show = |v: &[&String]| v.iter().take(6).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        diff.details.push(Detail {
            scope: scoped(prefix, kind),
            field: "order".into(),
            a: show(&names_a),
            b: show(&names_b),
        });
    }
    for name in names_a.iter().filter(|n| !map_b.contains_key(*n)) {
        diff.details.push(Detail {
            scope: scoped(prefix, &format!("{kind} entry {name}")),
            field: "presence".into(),
            a: "present".into(),
            b: "missing".into(),
        });
    }
    for name in names_b.iter().filter(|n| !map_a.contains_key(*n)) {
        diff.details.push(Detail {
            scope: scoped(prefix, &format!("{kind} entry {name}")),
            field: "presence".into(),
            a: "missing".into(),
            b: "present".into(),
        });
    }
    for (name, ma) in &a {
        let Some(mb) = map_b.get(name) else { continue };
        let scope = scoped(prefix, &format!("{kind} entry {name}"));
        for (field, va) in &ma.fields {
            let vb = mb.fields.get(field).cloned().unwrap_or_default();
            if *va != vb {
                diff.details.push(Detail {
                    scope: scope.clone(),
                    field: field.to_string(),
                    a: va.clone(),
                    b: vb,
                });
            }
        }
        if ma.content_hash != mb.content_hash {
            diff.details.push(Detail {
                scope: scope.clone(),
                field: "content".into(),
                a: format!("sha256:{}…", &ma.content_hash[..12]),
                b: format!("sha256:{}…", &mb.content_hash[..12]),
            });
            if depth == 0 {
                compare_bytes(diff, &scope, &ma.content, &mb.content, depth + 1);
            }
        }
    }
}
