//! Where two versions of an output differ, as a set of locations, each with
//! a digest of the second version's value there: an archive member's field,
//! a line of text, a run of bytes. `explain` uses them to separate what
//! differs without any variation (the noise of two controls) from what a
//! factor changes beyond it, inside one output.
//!
//! Locations are named like the structured diff's details
//! (`tar entry p/x > text`, `line 12`), nested through compression layers
//! and archive members. Every read is capped as in the rest of [`super`].

use super::archive::{self, Walk, MAX_DEPTH};
use super::budget::Budget;
use super::format::{sniff, ArchiveKind, Format};
use super::member::{Member, Members};
use super::scope::{Field, Layer, Nesting};
use super::streamed::{gzip_header_fields, link_text, Source};
use super::{HEAD, MAX_TEXT};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One place in an output: where (as a diff detail's scope reads; empty
/// for the output itself) and the field.
pub type Location = (Nesting, Field);

/// Where `b` differs from `a`, with a short digest of `b`'s value at each place.
pub type Locations = BTreeMap<Location, String>;

/// Largest content compared byte by byte.
const MAX_BYTES: u64 = 32 << 20;
/// Byte runs closer than this are one location.
const RUN_GAP: usize = 8;
/// More differing byte runs than this: the whole content is one location.
const MAX_RUNS: usize = 256;
/// More differing lines than this: the whole text is one location.
const MAX_LINES: usize = 4096;

/// Where the files `a` and `b` differ (either may be missing). Archives
/// are streamed as in the structured diff: only members whose digests
/// differ are held.
pub fn between_files(a: &Path, b: &Path, budget: u64, interrupt: crate::cleanup::Interrupt) -> Locations {
    let mut out = Locations::new();
    let budget = Budget::new(budget).interrupted_by(interrupt);
    match (link_text(a), link_text(b)) {
        (Some(la), Some(lb)) => {
            let (sa, sb) = (Source::file_or_link(&la, a), Source::file_or_link(&lb, b));
            walk(&mut out, &Nesting::default(), sa, sb, Walk::top(&budget));
        }
        (_, y) => {
            let state = if y.is_some() { "present" } else { "missing" };
            out.insert((Nesting::default().inside(Layer::File), Field::Presence), state.into());
        }
    }
    out
}

/// Whether `noise` covers `location`: the same place, a place inside a
/// noisy whole (a text whose line count varies, content that differs
/// everywhere, a member whose format changes), or the size of a member
/// with noise inside (a compressed member's size follows its contents:
/// the date inside a .deb's data.tar.xz moves its size by a few bytes, in
/// some builds and not others, and would spell a factor).
pub fn covered(noise: &BTreeSet<Location>, location: &Location) -> bool {
    let (scope, field) = location;
    noise.iter().any(|(s, f)| {
        (s == scope && (f == field || *f == Field::Content || *f == Field::Lines))
            || (*f == Field::Format && s.holds(scope))
            || (*field == Field::Size && scope.holds(s) && s != scope)
            || s.is_empty()
    })
}

/// Whether a difference at `location` leaves nothing of the output to
/// compare piecewise (a binary top level, a missing file).
pub fn is_whole(location: &Location) -> bool {
    let (scope, field) = location;
    match scope.layers() {
        [] | [Layer::File] => true,
        [Layer::Bytes] => *field == Field::Content,
        _ => false,
    }
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

fn walk(out: &mut Locations, prefix: &Nesting, a: Source, b: Source, at: Walk) {
    if same(a, b) {
        return;
    }
    let (head_a, head_b) = (a.head(HEAD), b.head(HEAD));
    let (fa, fb) = (sniff(&head_a), sniff(&head_b));
    if fa != fb {
        out.insert((prefix.clone(), Field::Format), fb.name().into());
        return;
    }
    if at.depth >= MAX_DEPTH || fa == Format::Other {
        match (a.read(MAX_TEXT as u64), b.read(MAX_TEXT as u64)) {
            (Some(x), Some(y)) if text(&x).is_some() && text(&y).is_some() => {
                lines(out, prefix, text(&x).unwrap_or_default(), text(&y).unwrap_or_default())
            }
            _ => bytes(out, prefix, a, b),
        }
        return;
    }
    if let (Some(ha), Some(hb)) = (gzip_header_fields(&head_a), gzip_header_fields(&head_b)) {
        for ((field, x), (_, y)) in ha.into_iter().zip(hb) {
            if x != y {
                out.insert((prefix.inside(Layer::GzipHeader), field), digest(y.as_bytes()));
            }
        }
    }
    if let Some((la, lb)) = archive::list_both(a, b, at) {
        if archive::describe(&la) != archive::describe(&lb) {
            out.insert((prefix.clone(), Field::Format), archive::describe(&lb));
            return;
        }
        let (kind, complete) = (la.kind, la.stopped.is_none() && lb.stopped.is_none());
        let (ma, mb) = archive::fetch_differing((a, la), (b, lb), at);
        if !complete {
            // What lies past a cut-short listing is not known: one place.
            let whole = prefix.inside(Layer::Format(Format::Archive(kind)));
            out.insert((whole, Field::Listing), "stopped".into());
        }
        members(out, prefix, kind, (&ma, &mb), complete, at);
        return;
    }
    // Compressed, not an archive: the payloads.
    let peeled = |s: Source| fa.compression().and_then(|c| archive::peel_source(c, s, at.budget));
    match (peeled(a), peeled(b)) {
        (Some(x), Some(y)) => walk(out, prefix, Source::Bytes(&x), Source::Bytes(&y), at.deeper()),
        _ => bytes(out, prefix, a, b),
    }
}

/// Whether two versions hold the same bytes (streamed).
fn same(a: Source, b: Source) -> bool {
    let size = a.size();
    size == b.size() && super::leaf::first_differing_offset(a, b) == Some(size)
}

fn text(data: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(data).ok()?;
    (data.len() <= MAX_TEXT && !text.contains('\0')).then_some(text)
}

/// Line by line, aligned: a changed or removed line is `line N` of `a`,
/// lines added are `after line N`, so a line inserted in one place leaves
/// the other places comparable. Very many changes: the whole text.
fn lines(out: &mut Locations, prefix: &Nesting, a: &str, b: &str) {
    use similar::DiffOp;
    let scope = prefix.inside(Layer::Text);
    let diff = similar::TextDiff::configure().timeout(super::leaf::TEXT_DIFF_TIME).diff_lines(a, b);
    let new: Vec<&str> = diff.new_slices().to_vec();
    let mut found = Vec::new();
    for op in diff.ops() {
        let (old_start, old_len, new_start, new_len) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete { old_index, old_len, new_index } => (old_index, old_len, new_index, 0),
            DiffOp::Insert { old_index, new_index, new_len } => (old_index, 0, new_index, new_len),
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                (old_index, old_len, new_index, new_len)
            }
        };
        let added = |from: usize, to: usize| digest(new[from.min(to)..to].concat().as_bytes());
        for i in 0..old_len {
            // The line that replaced it, if any.
            let value = if i < new_len { added(new_start + i, new_start + i + 1) } else { "removed".into() };
            found.push((Field::Line(old_start + i + 1), value));
        }
        if new_len > old_len {
            found.push((
                Field::AfterLine(old_start + old_len),
                added(new_start + old_len, new_start + new_len),
            ));
        }
        if found.len() > MAX_LINES {
            out.insert((scope, Field::Lines), digest(b.as_bytes()));
            return;
        }
    }
    for (field, value) in found {
        out.insert((scope.clone(), field), value);
    }
}

/// Runs of differing bytes when the sizes agree (up to [`MAX_BYTES`] each);
/// the whole content otherwise.
fn bytes(out: &mut Locations, prefix: &Nesting, a: Source, b: Source) {
    let scope = prefix.inside(Layer::Bytes);
    let whole = |out: &mut Locations| {
        let value = b.reader().and_then(|r| crate::digest::Digest::of_reader(r).ok());
        let value = value.map(|d| d.hex()[..16].to_string()).unwrap_or_else(|| "unreadable".into());
        out.insert((scope.clone(), Field::Content), value);
    };
    let (Some(a), Some(b)) = (a.read(MAX_BYTES), b.read(MAX_BYTES)) else { return whole(out) };
    if a.len() != b.len() {
        return whole(out);
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in (0..a.len()).filter(|&i| a[i] != b[i]) {
        match runs.last_mut() {
            Some((_, end)) if i <= *end + RUN_GAP => *end = i,
            _ => runs.push((i, i)),
        }
        if runs.len() > MAX_RUNS {
            return whole(out);
        }
    }
    for (start, end) in runs {
        out.insert((scope.clone(), Field::Offset(start)), digest(&b[start..=end]));
    }
}

/// Member by member: presence, order, each header field, and what the
/// content holds. A repeated name is told apart by its occurrence.
fn members(
    out: &mut Locations,
    prefix: &Nesting,
    kind: ArchiveKind,
    (a, b): (&Members, &Members),
    complete: bool,
    at: Walk,
) {
    let (ka, kb) = (keyed(a), keyed(b));
    let order = |k: &[(String, &Member)]| k.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (oa, ob) = (order(&ka), order(&kb));
    if complete && oa != ob {
        let whole = prefix.inside(Layer::Format(Format::Archive(kind)));
        out.insert((whole, Field::Order), digest(ob.join("\n").as_bytes()));
    }
    let map_a: BTreeMap<&String, &Member> = ka.iter().map(|(n, m)| (n, *m)).collect();
    let map_b: BTreeMap<&String, &Member> = kb.iter().map(|(n, m)| (n, *m)).collect();
    for name in map_a.keys().chain(map_b.keys()).collect::<BTreeSet<_>>() {
        let scope = prefix.inside(Layer::Entry(kind, name.to_string()));
        let (Some(ma), Some(mb)) = (map_a.get(name), map_b.get(name)) else {
            if complete {
                let state = if map_b.contains_key(name) { "present" } else { "missing" };
                out.insert((scope, Field::Presence), state.into());
            }
            continue;
        };
        for (field, va) in &ma.fields {
            let vb = mb.fields.get(field).cloned().unwrap_or_default();
            if *va != vb {
                out.insert((scope.clone(), field.clone()), digest(vb.as_bytes()));
            }
        }
        if ma.readable() && mb.readable() && ma.content_hash == mb.content_hash {
            continue;
        }
        match (&ma.content, &mb.content) {
            (Some(ca), Some(cb)) => walk(out, &scope, Source::Bytes(ca), Source::Bytes(cb), at.deeper()),
            // Not held (too large, or a repeated name): its digest is the place.
            _ if mb.readable() => {
                out.insert((scope, Field::Content), mb.content_hash[..16].to_string());
            }
            _ => {
                out.insert((scope, Field::Content), "unreadable".into());
            }
        }
    }
}

/// Each member with a name unique in its archive: a repeated name gets
/// `(copy N)` from its second occurrence on.
fn keyed(list: &[(String, Member)]) -> Vec<(String, &Member)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut keyed = Vec::new();
    for (name, member) in list {
        let n = seen.entry(name.as_str()).or_default();
        *n += 1;
        keyed.push((if *n == 1 { name.clone() } else { format!("{name} (copy {n})") }, member));
    }
    keyed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(entries: &[(&str, &str, u64)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body, uid) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_uid(*uid);
            builder.append_data(&mut header, name, body.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn walked(a: &[u8], b: &[u8]) -> BTreeSet<Location> {
        let mut out = Locations::new();
        walk(
            &mut out,
            &Nesting::default(),
            Source::Bytes(a),
            Source::Bytes(b),
            Walk::top(&Budget::new(1 << 20)),
        );
        out.into_keys().collect()
    }

    /// Locations as report.json and `explain` show them.
    fn shown<'l>(locations: impl IntoIterator<Item = &'l Location>) -> Vec<(String, String)> {
        locations.into_iter().map(|(scope, field)| (scope.to_string(), field.to_string())).collect()
    }

    fn nesting(layers: &[Layer]) -> Nesting {
        layers.iter().fold(Nesting::default(), |n, l| n.inside(l.clone()))
    }

    fn entry(kind: ArchiveKind, name: &str) -> Layer {
        Layer::Entry(kind, name.into())
    }

    #[test]
    fn lines_members_and_fields_are_separate_locations() {
        let a = tar(&[("p/info", "built: monday\npath: /build/x\n", 0)]);
        let date = tar(&[("p/info", "built: friday\npath: /build/x\n", 0)]);
        let path = tar(&[("p/info", "built: friday\npath: /build/yy\n", 7)]);
        let noise = walked(&a, &date);
        let at = |field: &str| ("tar entry p/info > text".to_string(), field.to_string());
        assert_eq!(shown(&noise), [at("line 1")]);
        let beyond: Vec<Location> = walked(&a, &path).into_iter().filter(|l| !covered(&noise, l)).collect();
        assert_eq!(
            shown(&beyond),
            [("tar entry p/info".to_string(), "uid".to_string()), at("line 2")],
            "the uid and the path line differ beyond the date line; the size follows the noisy content"
        );
    }

    #[test]
    fn the_size_of_a_member_with_noise_inside_is_noise() {
        let (ar, tar) = (ArchiveKind::Ar, ArchiveKind::Tar);
        let data = entry(ar, "data.tar.xz");
        let built = nesting(&[data.clone(), entry(tar, "./BUILT"), Layer::Text]);
        let noise = BTreeSet::from([(built.clone(), Field::Line(2))]);
        assert!(covered(&noise, &(nesting(std::slice::from_ref(&data)), Field::Size)));
        assert!(covered(&noise, &(nesting(&[data, entry(tar, "./BUILT")]), Field::Size)));
        assert!(!covered(&noise, &(nesting(&[entry(ar, "control.tar.xz")]), Field::Size)));
        assert!(!covered(&noise, &(built, Field::Line(1))));
    }

    #[test]
    fn an_inserted_line_leaves_the_other_lines_comparable() {
        let text = nesting(&[Layer::Text]);
        let at = |field: Field| (text.clone(), field);
        let inserted = walked(b"a\nb\nc\n", b"a\nb\nx\nc\n");
        assert_eq!(inserted, BTreeSet::from([at(Field::AfterLine(2))]));
        assert_eq!(shown(&inserted), [("text".to_string(), "after line 2".to_string())]);
        let both = walked(b"a\nb\nc\n", b"A\nb\nx\nc\n");
        assert_eq!(both, BTreeSet::from([at(Field::Line(1)), at(Field::AfterLine(2))]));
        assert!(!covered(&inserted, &at(Field::Line(1))), "the insertion does not hide line 1");
        assert_eq!(walked(b"a\nb\n", b"a\n"), BTreeSet::from([at(Field::Line(2))]));
        let bin = walked(&[0, 1, 2, 3, 0, 0], &[0, 9, 2, 3, 0, 0]);
        assert_eq!(shown(&bin), [("bytes".to_string(), "offset 1".to_string())]);
        assert!(!bin.iter().any(is_whole), "same size: byte runs, not the whole");
        assert!(walked(&[0, 1], &[0, 1, 2]).iter().any(is_whole));
    }
}
