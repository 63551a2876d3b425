//! ELF files (executables, shared libraries, objects): which sections
//! differ, the strings that changed inside them (a `__DATE__`, a build
//! path), the symbols only one side has, and the GNU build-id, which is a
//! hash of the rest of the file and so differs whenever anything else does.

use super::budget::Budget;
use super::scope::{Field, Layer, Nesting, Scope};
use super::{Detail, FileDiff};
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
/// Longest string or symbol name shown, in bytes (an ELF's "string" can
/// be its whole .rodata, a symbol name its whole string table).
const MAX_SHOWN: usize = 200;
/// Symbols read per file at most (each side); past it the symbols are
/// not compared and the diff says so.
pub(crate) const MAX_SYMBOLS_READ: usize = 1 << 20;
/// What reading one symbol costs the budget besides its name (its entry
/// in the set compared): a million nameless symbols are charged too.
const SYMBOL_COST: u64 = 32;
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
/// parse (the caller then compares bytes). Symbol names and the bytes of
/// differing sections scanned for strings are charged to `budget`: names
/// point into a string table, and a hostile table makes every name a long
/// suffix of one string, so their total can be thousands of times the file.
pub(crate) fn compare(
    diff: &mut FileDiff,
    prefix: &Nesting,
    (a, b): (&[u8], &[u8]),
    budget: &Budget,
) -> bool {
    let (Ok(fa), Ok(fb)) = (object::File::parse(a), object::File::parse(b)) else { return false };
    let (Some(sa), Some(sb)) = (sections(&fa, a.len()), sections(&fb, b.len())) else { return false };
    let mut differing = Vec::new();
    for name in sa.keys().chain(sb.keys()).collect::<BTreeSet<_>>() {
        let scope = prefix.at(Layer::ElfSection(name.clone()));
        match (sa.get(name), sb.get(name)) {
            (Some(x), Some(y)) if x.digest == y.digest => {}
            (Some(x), Some(y)) => {
                differing.push(name.clone());
                if name != BUILD_ID {
                    add(diff, &scope, Field::Content, x.describe(), y.describe());
                    if !strings(diff, &scope, (x.data, y.data), budget) {
                        first_bytes(diff, &scope, x.data, y.data);
                    }
                }
            }
            (x, y) => {
                let state = |s: Option<&Section>| s.map_or("missing".to_string(), Section::describe);
                add(diff, &scope, Field::Presence, state(x), state(y));
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
        let scope = prefix.at(Layer::ElfSection(BUILD_ID.to_string()));
        add(diff, &scope, Field::BuildId, ia, format!("{ib} ({why})"));
    }
    symbols(diff, prefix, (&fa, &fb), budget);
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
/// there are none (the difference is in code or data), or when scanning
/// both sections does not fit the budget.
fn strings(diff: &mut FileDiff, scope: &Scope, (a, b): (&[u8], &[u8]), budget: &Budget) -> bool {
    if !budget.charge((a.len() + b.len()) as u64) {
        return false;
    }
    let (xa, xb) = (printable(a), printable(b));
    let (set_a, set_b): (BTreeSet<&str>, BTreeSet<&str>) =
        (xa.iter().copied().collect(), xb.iter().copied().collect());
    let only = |list: &[&str], other: &BTreeSet<&str>| {
        let mut seen = BTreeSet::new();
        let picked: Vec<&str> =
            list.iter().copied().filter(|s| !other.contains(s) && seen.insert(*s)).collect();
        let mut shown =
            picked.iter().take(MAX_STRINGS).map(|s| shown(s.as_bytes(), true)).collect::<Vec<_>>().join(", ");
        if picked.len() > MAX_STRINGS {
            shown.push_str(&format!(", … {} more", picked.len() - MAX_STRINGS));
        }
        shown
    };
    let (only_a, only_b) = (only(&xa, &set_b), only(&xb, &set_a));
    if only_a.is_empty() && only_b.is_empty() {
        return false;
    }
    add(diff, scope, Field::Strings, only_a, only_b);
    true
}

/// A string or name as shown: at most [`MAX_SHOWN`] bytes (cut at a
/// character boundary), quoted when asked, and how many bytes were clipped.
pub(crate) fn shown(bytes: &[u8], quoted: bool) -> String {
    let mut end = bytes.len().min(MAX_SHOWN);
    let text = match std::str::from_utf8(&bytes[..end]) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        // The cut fell inside a character: cut before it.
        Err(e) if e.error_len().is_none() => {
            end = e.valid_up_to();
            String::from_utf8_lossy(&bytes[..end])
        }
        Err(_) => String::from_utf8_lossy(&bytes[..end]),
    };
    let mut out = if quoted { format!("{text:?}") } else { text.into_owned() };
    if end < bytes.len() {
        out.push_str(&format!("… ({} bytes clipped)", bytes.len() - end));
    }
    out
}

/// The first differing bytes of a section, and, when they read as a year
/// on both sides (a 16-bit little-endian immediate, as `mov $0x7ea` for
/// 2026), the years: a build date compiled into code.
fn first_bytes(diff: &mut FileDiff, scope: &Scope, a: &[u8], b: &[u8]) {
    let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) else { return };
    let window = |d: &[u8]| super::leaf::hex_dump(&d[at.saturating_sub(4)..(at + 12).min(d.len())]);
    add(diff, scope, Field::FirstDifferenceInSection(at as u64), window(a), window(b));
    let year = |d: &[u8], from: usize| {
        let v = u16::from_le_bytes(d.get(from..from + 2)?.try_into().ok()?);
        (1990..=2100).contains(&v).then_some(v)
    };
    for from in [at, at.saturating_sub(1)] {
        if let (Some(ya), Some(yb)) = (year(a, from), year(b, from)) {
            if ya != yb {
                let why = format!("{yb} (bytes that read as a year on both sides)");
                add(diff, scope, Field::Year, ya.to_string(), why);
                return;
            }
        }
    }
}

/// Runs of printable ASCII of at least [`MIN_STRING`] bytes, as `strings`
/// finds them, borrowed from the section (never copied).
fn printable(data: &[u8]) -> Vec<&str> {
    data.split(|&c| !(c.is_ascii_graphic() || c == b' ' || c == b'\t'))
        .filter(|run| run.len() >= MIN_STRING)
        .filter_map(|run| std::str::from_utf8(run).ok())
        .collect()
}

/// Symbol names only one side defines or imports. Names are borrowed from
/// the files' string tables and charged to `budget`; when a file has more
/// than [`MAX_SYMBOLS_READ`] symbols or their names do not fit, the symbols
/// are not compared and one detail says why.
fn symbols(diff: &mut FileDiff, prefix: &Nesting, (a, b): (&object::File, &object::File), budget: &Budget) {
    let scope = prefix.at(Layer::ElfSymbols);
    let (na, nb) = match (symbol_names(a, budget), symbol_names(b, budget)) {
        (Ok(na), Ok(nb)) => (na, nb),
        (Err(why), _) | (_, Err(why)) => {
            add(diff, &scope, Field::Symbols, format!("not compared: {why}"), String::new());
            return;
        }
    };
    let list = |x: &BTreeSet<&[u8]>, y: &BTreeSet<&[u8]>| {
        let only: Vec<&&[u8]> = x.difference(y).filter(|s| !s.is_empty()).collect();
        let mut listed =
            only.iter().take(MAX_SYMBOLS).map(|s| shown(s, false)).collect::<Vec<_>>().join(", ");
        if only.len() > MAX_SYMBOLS {
            listed.push_str(&format!(", … {} more", only.len() - MAX_SYMBOLS));
        }
        listed
    };
    let (only_a, only_b) = (list(&na, &nb), list(&nb, &na));
    if !only_a.is_empty() || !only_b.is_empty() {
        add(diff, &scope, Field::Symbols, only_a, only_b);
    }
}

/// The names of a file's symbols and dynamic symbols, borrowed from its
/// string tables; `Err` with the reason when there are too many or their
/// names do not fit the budget.
fn symbol_names<'d>(file: &object::File<'d>, budget: &Budget) -> Result<BTreeSet<&'d [u8]>, String> {
    let mut names = BTreeSet::new();
    for (i, symbol) in file.symbols().chain(file.dynamic_symbols()).enumerate() {
        if i >= MAX_SYMBOLS_READ {
            return Err(format!("more than {MAX_SYMBOLS_READ} symbols"));
        }
        let name = symbol.name_bytes().unwrap_or_default();
        if !budget.charge(name.len() as u64 + SYMBOL_COST) {
            return Err(format!(
                "the symbol names exceed the diff budget (limits.diff_size, {} MiB); the sections that differ \
                 are listed above",
                budget.total() >> 20
            ));
        }
        names.insert(name);
    }
    Ok(names)
}

fn add(diff: &mut FileDiff, scope: &Scope, field: Field, a: String, b: String) {
    diff.add(Detail { scope: scope.clone(), field, a, b });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relocatable x86-64 ELF whose symbols name `strtab` at `offsets`
    /// (each name a suffix of one string, as a hostile file makes them).
    pub(crate) fn elf_with_symbols(strtab: &[u8], offsets: &[u32]) -> Vec<u8> {
        let shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0";
        let mut symtab = vec![0u8; 24]; // the null symbol
        for &offset in offsets {
            let mut sym = [0u8; 24];
            sym[..4].copy_from_slice(&offset.to_le_bytes());
            sym[4] = 0x11; // global object
            sym[6..8].copy_from_slice(&0xfff1u16.to_le_bytes()); // absolute
            symtab.extend_from_slice(&sym);
        }
        let mut file = vec![0u8; 64];
        let place = |file: &mut Vec<u8>, data: &[u8]| {
            let at = file.len() as u64;
            file.extend_from_slice(data);
            at
        };
        let at_symtab = place(&mut file, &symtab);
        let at_strtab = place(&mut file, strtab);
        let at_shstrtab = place(&mut file, shstrtab);
        while file.len() % 8 != 0 {
            file.push(0);
        }
        let shoff = file.len() as u64;
        // name, type, flags, addr, offset, size, link, info, align, entsize
        let header = |name: u32, kind: u32, offset: u64, size: u64, link: u32, info: u32, entsize: u64| {
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&name.to_le_bytes());
            h.extend_from_slice(&kind.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&link.to_le_bytes());
            h.extend_from_slice(&info.to_le_bytes());
            h.extend_from_slice(&1u64.to_le_bytes());
            h.extend_from_slice(&entsize.to_le_bytes());
            h
        };
        file.extend(vec![0u8; 64]);
        file.extend(header(1, 2, at_symtab, symtab.len() as u64, 2, 1, 24));
        file.extend(header(9, 3, at_strtab, strtab.len() as u64, 0, 0, 0));
        file.extend(header(17, 3, at_shstrtab, shstrtab.len() as u64, 0, 0, 0));
        file[..16].copy_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        file[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        file[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        file[20..24].copy_from_slice(&1u32.to_le_bytes());
        file[40..48].copy_from_slice(&shoff.to_le_bytes());
        file[52..54].copy_from_slice(&64u16.to_le_bytes());
        file[58..60].copy_from_slice(&64u16.to_le_bytes());
        file[60..62].copy_from_slice(&4u16.to_le_bytes());
        file[62..64].copy_from_slice(&3u16.to_le_bytes());
        file
    }

    fn long_names(last: u8) -> Vec<u8> {
        let mut strtab = vec![0u8];
        strtab.extend(std::iter::repeat_n(b'a', 64 << 10));
        strtab.push(last);
        strtab.push(0);
        strtab
    }

    /// 200 names of about 64 KiB each, all suffixes of one string: 12 MiB
    /// of names from a 64 KiB table. A 1 MiB budget refuses them instead of
    /// holding a copy of each, and the files still differ (in sections).
    #[test]
    fn long_shared_symbol_names_are_charged_to_the_budget() {
        let offsets: Vec<u32> = (1..=200).collect();
        let (a, b) =
            (elf_with_symbols(&long_names(b'x'), &offsets), elf_with_symbols(&long_names(b'y'), &offsets));
        let budget = Budget::new(1 << 20);
        let mut diff = FileDiff::new("lib.so", (1, 2));
        assert!(compare(&mut diff, &Nesting::default(), (&a, &b), &budget));
        let symbols = diff.details.iter().find(|d| d.field == Field::Symbols).expect("a symbols detail");
        assert!(
            symbols.a.starts_with("not compared: the symbol names exceed the diff budget"),
            "{symbols:?}"
        );
        assert!(budget.exhausted());
        assert!(
            diff.details.iter().any(|d| d.scope.at == Layer::ElfSection(".strtab".into())),
            "the differing section is named"
        );
    }

    /// Within the budget the differing names are listed, each clipped to
    /// 200 bytes with the count of what was cut.
    #[test]
    fn differing_symbol_names_are_shown_clipped() {
        let (a, b) = (elf_with_symbols(&long_names(b'x'), &[1]), elf_with_symbols(&long_names(b'y'), &[1]));
        let budget = Budget::new(64 << 20);
        let mut diff = FileDiff::new("lib.so", (1, 2));
        assert!(compare(&mut diff, &Nesting::default(), (&a, &b), &budget));
        let symbols = diff.details.iter().find(|d| d.field == Field::Symbols).expect("a symbols detail");
        let clipped = format!("… ({} bytes clipped)", (64 << 10) + 1 - MAX_SHOWN);
        assert!(
            symbols.a.ends_with(&clipped) && symbols.a.len() < 300,
            "{}",
            &symbols.a[..300.min(symbols.a.len())]
        );
        assert!(symbols.b.ends_with(&clipped), "both sides clipped");
    }

    #[test]
    fn shown_cuts_at_a_character_boundary() {
        assert_eq!(shown(b"short", true), "\"short\"");
        let long = "é".repeat(150); // 300 bytes
        let cut = shown(long.as_bytes(), false);
        assert_eq!(cut, format!("{}… (100 bytes clipped)", "é".repeat(100)));
    }
}
