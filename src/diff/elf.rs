//! ELF files (executables, shared libraries, objects): which sections
//! differ, the strings that changed inside them (a `__DATE__`, a build
//! path), the symbols only one side has, and the GNU build-id, which is a
//! hash of the rest of the file and so differs whenever anything else does.

use super::{scoped, Detail, FileDiff};
use object::{Object, ObjectSection, ObjectSymbol};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Largest ELF file parsed (both versions are held while comparing).
pub(crate) const MAX_ELF: u64 = 32 << 20;
/// Strings shown per side of one section.
const MAX_STRINGS: usize = 8;
/// Symbols shown per side.
const MAX_SYMBOLS: usize = 12;
/// The shortest run of printable bytes counted as a string (as `strings`).
const MIN_STRING: usize = 4;
/// Longest string shown (an ELF's "string" can be its whole .rodata).
const MAX_SHOWN: usize = 200;
/// Sections read at most; their bytes at most this many times the file's
/// (hostile section headers can point at one region thousands of times).
const MAX_SECTIONS: usize = 4096;
const MAX_OVERLAP: usize = 4;

const BUILD_ID: &str = ".note.gnu.build-id";

/// Whether `head` starts an ELF file.
pub(crate) fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Adds what differs between two ELF files; false when either does not
/// parse (the caller then compares bytes).
pub(crate) fn compare(diff: &mut FileDiff, prefix: &str, a: &[u8], b: &[u8]) -> bool {
    let (Ok(fa), Ok(fb)) = (object::File::parse(a), object::File::parse(b)) else { return false };
    let (Some(sa), Some(sb)) = (sections(&fa, a.len()), sections(&fb, b.len())) else { return false };
    let mut differing = Vec::new();
    for name in sa.keys().chain(sb.keys()).collect::<BTreeSet<_>>() {
        let scope = scoped(prefix, &format!("elf section {name}"));
        match (sa.get(name), sb.get(name)) {
            (Some(x), Some(y)) if x.digest == y.digest => {}
            (Some(x), Some(y)) => {
                differing.push(name.clone());
                if name != BUILD_ID {
                    add(diff, &scope, "content", x.describe(), y.describe());
                    if !strings(diff, &scope, x.data, y.data) {
                        first_bytes(diff, &scope, x.data, y.data);
                    }
                }
            }
            (x, y) => {
                let state = |s: Option<&Section>| s.map_or("missing".to_string(), Section::describe);
                add(diff, &scope, "presence", state(x), state(y));
            }
        }
    }
    if differing.iter().any(|n| n == BUILD_ID) {
        let (ia, ib) = (build_id(&sa), build_id(&sb));
        let others = differing.iter().filter(|n| *n != BUILD_ID).cloned().collect::<Vec<_>>();
        let why = match others.is_empty() {
            true => "the build-id alone differs: it was set by hand (--build-id=0x...)".to_string(),
            false => {
                format!("a hash of the rest of the file: it follows the differences in {}", others.join(", "))
            }
        };
        add(
            diff,
            &scoped(prefix, &format!("elf section {BUILD_ID}")),
            "build-id",
            ia,
            format!("{ib} ({why})"),
        );
    }
    symbols(diff, prefix, &fa, &fb);
    true
}

/// One section: its size, digest and bytes.
struct Section<'d> {
    data: &'d [u8],
    digest: [u8; 32],
}

impl Section<'_> {
    fn describe(&self) -> String {
        format!("{} bytes, sha256:{}…", self.data.len(), &hex::encode(self.digest)[..12])
    }
}

/// The sections by name (a repeated name, like `.group`, numbered from its
/// second copy); `None` when there are too many or they overlap too much.
fn sections<'d>(file: &object::File<'d>, size: usize) -> Option<BTreeMap<String, Section<'d>>> {
    let mut by_name = BTreeMap::new();
    let mut read = 0usize;
    for (i, s) in file.sections().enumerate() {
        let data = s.data().unwrap_or_default();
        read += data.len();
        if i >= MAX_SECTIONS || read > size.saturating_mul(MAX_OVERLAP) {
            return None;
        }
        let name = s.name().unwrap_or("?").to_string();
        let mut key = name.clone();
        for n in 2.. {
            if !by_name.contains_key(&key) {
                break;
            }
            key = format!("{name} ({n})");
        }
        by_name.insert(key, Section { data, digest: Sha256::digest(data).into() });
    }
    Some(by_name)
}

/// The build-id in hex (the note's descriptor: the last 20 bytes for SHA-1).
fn build_id(sections: &BTreeMap<String, Section>) -> String {
    let data = sections.get(BUILD_ID).map(|s| s.data).unwrap_or_default();
    // Note header: namesz, descsz, type (4 bytes each), then "GNU\0".
    let id = data.get(16..).unwrap_or_default();
    hex::encode(id)
}

/// The printable strings only one side of a section has; false when
/// there are none (the difference is in code or data).
fn strings(diff: &mut FileDiff, scope: &str, a: &[u8], b: &[u8]) -> bool {
    let (xa, xb) = (printable(a), printable(b));
    let (set_a, set_b): (BTreeSet<&str>, BTreeSet<&str>) =
        (xa.iter().map(String::as_str).collect(), xb.iter().map(String::as_str).collect());
    let only = |list: &[String], other: &BTreeSet<&str>| {
        let mut seen = BTreeSet::new();
        let picked: Vec<&str> =
            list.iter().map(String::as_str).filter(|s| !other.contains(s) && seen.insert(*s)).collect();
        let clip = |s: &str| s.chars().take(MAX_SHOWN).collect::<String>();
        let mut shown =
            picked.iter().take(MAX_STRINGS).map(|s| format!("{:?}", clip(s))).collect::<Vec<_>>().join(", ");
        if picked.len() > MAX_STRINGS {
            shown.push_str(&format!(", … {} more", picked.len() - MAX_STRINGS));
        }
        shown
    };
    let (only_a, only_b) = (only(&xa, &set_b), only(&xb, &set_a));
    if only_a.is_empty() && only_b.is_empty() {
        return false;
    }
    add(diff, scope, "strings", only_a, only_b);
    true
}

/// The first differing bytes of a section, and, when they read as a year
/// on both sides (a 16-bit little-endian immediate, as `mov $0x7ea` for
/// 2026), the years: a build date compiled into code.
fn first_bytes(diff: &mut FileDiff, scope: &str, a: &[u8], b: &[u8]) {
    let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) else { return };
    let window = |d: &[u8]| super::leaf::hex_dump(&d[at.saturating_sub(4)..(at + 12).min(d.len())]);
    add(diff, scope, &format!("first difference at section offset {at}"), window(a), window(b));
    let year = |d: &[u8], from: usize| {
        let v = u16::from_le_bytes(d.get(from..from + 2)?.try_into().ok()?);
        (1990..=2100).contains(&v).then_some(v)
    };
    for from in [at, at.saturating_sub(1)] {
        if let (Some(ya), Some(yb)) = (year(a, from), year(b, from)) {
            if ya != yb {
                add(
                    diff,
                    scope,
                    "year",
                    ya.to_string(),
                    format!("{yb} (bytes that read as a year on both sides)"),
                );
                return;
            }
        }
    }
}

/// Runs of printable ASCII of at least [`MIN_STRING`] bytes, as `strings` finds them.
fn printable(data: &[u8]) -> Vec<String> {
    data.split(|&c| !(c.is_ascii_graphic() || c == b' ' || c == b'\t'))
        .filter(|run| run.len() >= MIN_STRING)
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// Symbol names only one side defines or imports.
fn symbols(diff: &mut FileDiff, prefix: &str, a: &object::File, b: &object::File) {
    let names = |f: &object::File| -> BTreeSet<String> {
        f.symbols().chain(f.dynamic_symbols()).filter_map(|s| s.name().ok().map(str::to_string)).collect()
    };
    let (na, nb) = (names(a), names(b));
    let list = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
        let only: Vec<&String> = x.difference(y).filter(|s| !s.is_empty()).collect();
        let mut shown = only.iter().take(MAX_SYMBOLS).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        if only.len() > MAX_SYMBOLS {
            shown.push_str(&format!(", … {} more", only.len() - MAX_SYMBOLS));
        }
        shown
    };
    let (only_a, only_b) = (list(&na, &nb), list(&nb, &na));
    if !only_a.is_empty() || !only_b.is_empty() {
        add(diff, &scoped(prefix, "elf symbols"), "symbols", only_a, only_b);
    }
}

fn add(diff: &mut FileDiff, scope: &str, field: &str, a: String, b: String) {
    diff.add(Detail { scope: scope.to_string(), field: field.into(), a, b });
}
