//! Known patterns in a structured diff, and the fix that fits the case.
//!
//! One table, [`RULES`]: a rule picks the details that show its pattern and
//! words the fix for the case at hand: which side deviates (in `verify`,
//! the published artifact may be the odd one out), which tool packed the
//! output (GNU tar, automake's `make dist`, Python's tarfile, dpkg), and
//! what `[build].command` already does. Every rule sees every difference
//! held, not a displayed sample. docs/explain.md lists them.

use super::format::{ArchiveKind, Format};
use super::scope::{Field, Layer};
use super::{Detail, DiffContext, FileDiff};
use serde::Serialize;
use std::path::Path;

/// A suggested fix, with the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hint {
    /// The rule's id.
    pub rule: &'static str,
    /// What to change, worded for this case.
    pub fix: String,
    /// The first detail that triggered it.
    pub evidence: String,
    /// How many differences show the pattern.
    pub count: u64,
}

/// What a rule knows besides the detail: the diff, the runs, the command.
pub struct Case<'c> {
    /// The diff the hints are for.
    pub diff: &'c FileDiff,
    /// The runs' build directories and the spec's command.
    pub context: &'c DiffContext,
    /// The tool that most likely wrote the output.
    pub packer: Packer,
}

impl Case<'_> {
    /// Whether the first version is the published artifact (`verify`).
    pub fn published(&self) -> bool {
        self.diff.runs.0 == 0
    }

    /// The first of `flags` that `[build].command` already passes: a short
    /// one (`-n`) as a word of its own, a long one anywhere (`--sort=name`
    /// inside an am__tar override counts).
    pub fn command_has<'f>(&self, flags: &[&'f str]) -> Option<&'f str> {
        let command = &self.context.build_command;
        let words: Vec<&str> = command.split(|c: char| c.is_whitespace() || "'\"".contains(c)).collect();
        flags.iter().copied().find(|flag| match flag.len() <= 3 {
            true => words.contains(flag),
            false => command.contains(flag),
        })
    }
}

/// Who packed an output, as far as the diff and the command tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packer {
    /// automake's `make dist` (`tar chof -`, v7 headers, unless am__tar is
    /// overridden).
    Automake,
    /// Python's tarfile or zipfile, through a build backend (an sdist with
    /// PKG-INFO at its top, or a wheel).
    Python,
    /// dpkg-deb, dpkg-genbuildinfo.
    Dpkg,
    /// A tar command line, or nothing known.
    Tar,
}

impl Packer {
    fn of(diff: &FileDiff, command: &str) -> Packer {
        let path = diff.path.as_str();
        let words: Vec<&str> = command.split_whitespace().collect();
        let has = |trait_: &str| diff.packed_by.contains(trait_);
        if [".deb", ".udeb", ".buildinfo", ".changes"].iter().any(|s| path.ends_with(s))
            || words.iter().any(|w| ["dpkg-buildpackage", "debuild"].contains(w))
        {
            Packer::Dpkg
        } else if path.ends_with(".whl") || has("python-sdist") || has("python-wheel") {
            Packer::Python
        } else if words.iter().any(|w| ["dist", "distcheck"].contains(w))
            && (has("tar:v7") || command.contains("am__tar"))
        {
            // automake's `make dist`: `tar chof -` writes v7 headers.
            Packer::Automake
        } else {
            Packer::Tar
        }
    }
}

/// A pattern: which details show it, and the fix for a case.
pub struct Rule {
    /// Stable id, for docs and tests.
    pub id: &'static str,
    /// Whether a detail shows the pattern.
    pub matches: fn(&Detail) -> bool,
    /// The fix for this case; `None` when the rule does not apply to it.
    pub fix: fn(&Case, &Detail) -> Option<String>,
}

/// What makes a wheel's member times reproducible, in the words of the
/// backend that wrote it (its WHEEL `Generator:`).
fn wheel_time_advice(generator: Option<&str>) -> String {
    let name = generator.unwrap_or("").split([' ', '(']).next().unwrap_or("");
    match name {
        "flit" => "export SOURCE_DATE_EPOCH: flit_core then gives every member that time (else each file's \
                   mtime, in local time)"
            .into(),
        "hatchling" => {
            "keep hatchling's `reproducible = true` (the default in [tool.hatch.build.targets.wheel]): \
                        it writes SOURCE_DATE_EPOCH, or 2020-02-02 when unset"
                .into()
        }
        "bdist_wheel" | "setuptools" => "export SOURCE_DATE_EPOCH: bdist_wheel then gives every member that \
                                         time (else each file's mtime)"
            .into(),
        "poetry-core" | "poetry" => {
            "export SOURCE_DATE_EPOCH: poetry-core then gives every member that time".into()
        }
        "pdm-backend" | "pdm" => {
            "export SOURCE_DATE_EPOCH: pdm-backend then gives every member that time".into()
        }
        _ => {
            "a wheel's member times come from the files (or from SOURCE_DATE_EPOCH, which wheel, hatchling, \
              flit_core, poetry-core and pdm-backend honour): export it for the build"
                .into()
        }
    }
}

/// When every zip member time that differs differs by the same whole
/// number of hours (at most 14), that number (second minus first).
fn zip_timezone_shift(diff: &FileDiff) -> Option<i64> {
    let mut shift = None;
    for d in diff.details.iter().filter(|d| in_zip(d) && d.field == Field::Mtime) {
        let (a, b) = (dos_seconds(&d.a)?, dos_seconds(&d.b)?);
        let delta = b - a;
        if delta == 0 || delta % 3600 != 0 || delta.abs() > 14 * 3600 || shift.is_some_and(|s| s != delta) {
            return None;
        }
        shift = Some(delta);
    }
    // TZ for the rebuild: the publisher's offset is the first side's.
    shift.map(|s| -s / 3600)
}

/// Seconds since 1980 of a `YYYY-MM-DD hh:mm:ss` zip time (days counted
/// as 31 per month: only differences within a day matter here).
fn dos_seconds(text: &str) -> Option<i64> {
    let n: Vec<i64> = text.split(['-', ' ', ':']).map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [y, mo, d, h, mi, s] = n.as_slice() else { return None };
    Some(((((y * 12 + mo) * 31 + d) * 24 + h) * 60 + mi) * 60 + s)
}

/// POSIX TZ for a local time `hours` east of UTC: `UTC-2` is UTC+2.
fn posix_tz(hours: i64) -> String {
    format!("UTC{:+}", -hours)
}

/// Whether the detail is inside a member of an archive of `kind`, at any
/// depth.
fn inside_entry(d: &Detail, kind: ArchiveKind) -> bool {
    let layers = d.scope.within.layers().iter().chain([&d.scope.at]);
    layers.into_iter().any(|layer| matches!(layer, Layer::Entry(k, _) if *k == kind))
}

/// Whether the detail is inside a tar member, or about a tar archive as a whole.
fn in_tar(d: &Detail) -> bool {
    inside_entry(d, ArchiveKind::Tar) || d.scope.at == Layer::Format(Format::Archive(ArchiveKind::Tar))
}

/// Whether the detail is inside a zip member.
fn in_zip(d: &Detail) -> bool {
    inside_entry(d, ArchiveKind::Zip)
}

/// ISO dates (`2026-12-02`), RFC 2822 dates (`Wed, 02 Dec 2026`, as in
/// changelogs and `.buildinfo`'s Build-Date) and C's `__DATE__`
/// (`Dec  2 2026`).
pub fn looks_like_date(text: &str) -> bool {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let b = text.as_bytes();
    let iso = b.windows(10).any(|w| {
        w[..4].iter().all(u8::is_ascii_digit)
            && w[4] == b'-'
            && w[5..7].iter().all(u8::is_ascii_digit)
            && w[7] == b'-'
            && w[8..10].iter().all(u8::is_ascii_digit)
    });
    // `Dec 02 2026`, `Dec  2 2026`, `02 Dec 2026`: a month name next to a
    // day and a four-digit year.
    let named =
        MONTHS.iter().any(|month| {
            text.match_indices(month).any(|(at, _)| {
                // Only the few bytes around the month: linear in the text.
                let after = near(text, at + 3, at + 3 + 24);
                let before = near(text, at.saturating_sub(4), at);
                // `date`'s own output puts the time between: `Dec  2 16:20:00 UTC 2026`.
                let words = after.split_whitespace().take(4).collect::<Vec<_>>();
                let month_day_year = words.len() >= 2
                    && words[0].len() <= 2
                    && words[0].bytes().all(|c| c.is_ascii_digit())
                    && words[1..].iter().any(|w| is_year(w));
                let day_month_year =
                    before.trim_end().rsplit(' ').next().is_some_and(|d| {
                        !d.is_empty() && d.len() <= 2 && d.bytes().all(|c| c.is_ascii_digit())
                    }) && after.split_whitespace().next().is_some_and(is_year);
                month_day_year || day_month_year
            })
        });
    iso || named
}

/// `text[from..to]`, widened to character boundaries and clipped to the text.
fn near(text: &str, mut from: usize, mut to: usize) -> &str {
    to = to.min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    &text[from..to]
}

fn is_year(word: &str) -> bool {
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    digits.len() == 4 && word.len() <= 5
}

/// An owner a rebuild normalises to: uid/gid 0, root, or none recorded.
fn normalised_owner(value: &str) -> bool {
    matches!(value, "0" | "" | "root")
}

/// The usual fix, or a note that the command already has it (so another
/// tool writes this output), or, in `verify`, that the published artifact
/// is the one that deviates.
fn tar_fix(case: &Case, d: &Detail, flags: &[&str], fix: &str, what: &str) -> Option<String> {
    Some(match (case.published(), case.command_has(flags)) {
        (true, Some(flag)) => format!(
            "the published archive deviates, not your rebuild: it has {what} {} where your rebuild (which \
             passes {flag}) has {}; a byte-identical rebuild would have to reproduce the publisher's {what} — \
             ask upstream to pack with `{fix}`",
            d.a, d.b
        ),
        (false, Some(flag)) => format!(
            "[build].command already passes {flag}, yet {what} still differs: another tool writes this \
             archive (a Makefile's or a build backend's own tar); pass `{fix}` to that one"
        ),
        _ => fix.to_string(),
    })
}

/// The am__tar override for automake's `make dist`, which otherwise packs
/// with `tar chof -`: v7 headers, unsorted, the files' owners and mtimes.
const AUTOMAKE_TAR: &str = "automake's dist packs with `tar chof -` (unsorted, with the files' owners and \
     mtimes): override it, e.g. make dist am__tar='tar --format=ustar --sort=name --owner=0 --group=0 \
     --numeric-owner --mtime=@$${SOURCE_DATE_EPOCH} --clamp-mtime --mode=u+rw,go=rX -chf - \"$$tardir\"'";

/// The table. Order is the order hints are shown in.
pub const RULES: &[Rule] = &[
    Rule {
        id: "tar-mtime",
        matches: |d| in_tar(d) && (d.field == Field::Mtime || d.field.is_pax("mtime")),
        fix: |case, d| match case.packer {
            Packer::Automake if !case.published() => Some(AUTOMAKE_TAR.into()),
            Packer::Python => Some(
                "the archive is written by Python's tarfile (GNU tar flags do not apply): it records the \
                 files' mtimes; use a build backend that honours SOURCE_DATE_EPOCH (hatchling, flit_core) \
                 or set the files' mtimes to it before building"
                    .into(),
            ),
            Packer::Dpkg => Some(
                "dpkg-deb clamps mtimes to SOURCE_DATE_EPOCH: export it (dpkg-buildpackage sets it from \
                 debian/changelog) and make sure nothing touches files after the clamp"
                    .into(),
            ),
            _ => {
                tar_fix(case, d, &["--clamp-mtime"], "tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime", "mtime")
            }
        },
    },
    Rule {
        id: "tar-owner",
        matches: |d| in_tar(d) && d.field.is_owner(),
        fix: |case, d| {
            if case.published() && normalised_owner(&d.b) && !normalised_owner(&d.a) {
                return Some(format!(
                    "the published archive carries its packer's own {} ({}) where your rebuild records {}: \
                     your rebuild already normalises; a byte-identical rebuild would need the publisher's \
                     owner — ask upstream to pack with `tar --owner=0 --group=0 --numeric-owner`",
                    d.field,
                    d.a,
                    if d.b.is_empty() { "none" } else { &d.b }
                ));
            }
            match case.packer {
                Packer::Automake if !case.published() => Some(AUTOMAKE_TAR.into()),
                Packer::Python => Some(
                    "Python's tarfile records each file's owner: build as one fixed user, or use a build \
                     backend that writes uid 0 (hatchling, flit_core)"
                        .into(),
                ),
                Packer::Dpkg => Some(
                    "dpkg-deb records the files' owners: build with fakeroot (dpkg-buildpackage does) or \
                     declare Rules-Requires-Root: no and let dpkg-deb --root-owner-group set root"
                        .into(),
                ),
                _ => tar_fix(
                    case,
                    d,
                    &["--owner=0", "--owner=root"],
                    "tar --owner=0 --group=0 --numeric-owner",
                    "owner",
                ),
            }
        },
    },
    Rule {
        id: "tar-order",
        matches: |d| in_tar(d) && d.field == Field::Order,
        fix: |case, d| match case.packer {
            Packer::Automake if !case.published() => Some(AUTOMAKE_TAR.into()),
            Packer::Python => Some(
                "the archive's member order follows the directory listing the build backend saw: use a \
                 backend that sorts the files it packs (hatchling, flit_core)"
                    .into(),
            ),
            _ => tar_fix(case, d, &["--sort=name"], "tar --sort=name", "member order"),
        },
    },
    Rule {
        id: "tar-pax-times",
        matches: |d| in_tar(d) && (d.field.is_pax("atime") || d.field.is_pax("ctime")),
        fix: |case, d| {
            tar_fix(
                case,
                d,
                &["delete=atime"],
                "tar --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                "pax atime/ctime records",
            )
        },
    },
    Rule {
        id: "tar-name-records",
        matches: |d| in_tar(d) && matches!(d.field, Field::HeaderFormat | Field::NameStoredIn),
        fix: |case, d| {
            tar_fix(
                case,
                d,
                &["--format="],
                "one tar format on both sides: tar --format=gnu (or --format=pax / ustar) — GNU long names \
                 (././@LongLink) and pax path records are different bytes for the same name",
                "tar format",
            )
        },
    },
    Rule {
        id: "mode",
        matches: |d| in_tar(d) && d.field == Field::Mode,
        fix: |case, d| {
            match case.packer {
            Packer::Automake if !case.published() => Some(AUTOMAKE_TAR.into()),
            _ => tar_fix(
                case,
                d,
                &["--mode="],
                "make modes independent of the umask: tar --mode=u+rw,go=rX (or chmod the files before packing)",
                "mode",
            ),
        }
        },
    },
    Rule {
        id: "output-mode",
        matches: |d| d.scope.within.is_empty() && d.scope.at == Layer::File && d.field == Field::Mode,
        fix: |case, d| {
            Some(format!(
                "the build leaves {}'s mode ({} -> {}) to the umask or to chance: give it one (install -m, \
                 chmod), or set umask 022 before the build as dpkg-buildpackage does",
                case.diff.path, d.a, d.b
            ))
        },
    },
    Rule {
        id: "zip-mode",
        matches: |d| in_zip(d) && matches!(d.field, Field::Mode | Field::DosAttributes | Field::MadeBy),
        fix: |case, _| {
            Some(match case.packer {
                Packer::Python => format!(
                    "a wheel stores each file's mode as the build tree had it ({} copies st_mode into the \
                     external attributes): set the modes before the build (chmod, or the publisher's umask)",
                    case.diff.generator.as_deref().unwrap_or("the build backend")
                ),
                _ => "zip stores each file's mode and the host it was made on: chmod the files before \
                      zipping and zip on the same kind of system (or normalise with strip-nondeterminism)"
                    .into(),
            })
        },
    },
    Rule {
        id: "gzip-header",
        matches: |d| d.scope.at == Layer::GzipHeader && matches!(d.field, Field::Mtime | Field::Name),
        fix: |case, d| match case.packer {
            Packer::Python => Some(
                "the gzip header holds the build time (Python's gzip module writes time.time() unless told \
                 otherwise): use a backend that honours SOURCE_DATE_EPOCH for it, or recompress with gzip -n"
                    .into(),
            ),
            _ => tar_fix(
                case,
                d,
                &["-n", "--no-name", "-9n"],
                "gzip -n (--no-name), so the header carries neither the input's name nor its time",
                "gzip header",
            ),
        },
    },
    Rule {
        id: "zip-timestamps",
        matches: |d| in_zip(d) && matches!(d.field, Field::Mtime | Field::Extra(0x5455)),
        fix: |case, _| {
            let advice = match case.packer {
                Packer::Python => wheel_time_advice(case.diff.generator.as_deref()),
                _ => "set the files' mtimes from SOURCE_DATE_EPOCH before zipping and use zip -X (or \
                      strip-nondeterminism)"
                    .into(),
            };
            Some(match zip_timezone_shift(case.diff) {
                Some(hours) => format!(
                    "every member's time differs by exactly {hours:+} h: zip stores local time, so the two \
                     builds ran in different timezones; rebuild with TZ={} (POSIX sign: {} of UTC) to match, \
                     or {advice}",
                    posix_tz(hours),
                    if hours > 0 { "east" } else { "west" }
                ),
                None => advice,
            })
        },
    },
    Rule {
        id: "buildinfo",
        matches: |d| d.field == Field::Lines,
        fix: |case, _| {
            case.diff.path.ends_with(".buildinfo").then(|| {
                "a .buildinfo records when, where and in what environment one build ran (Build-Date, \
                 Build-Path, Environment) by design, so two builds' .buildinfo differ: compare the .deb \
                 files it lists, not the .buildinfo itself"
                    .into()
            })
        },
    },
    Rule {
        id: "date-in-binary",
        matches: |d| {
            (d.field == Field::Strings && (looks_like_date(&d.a) || looks_like_date(&d.b)))
                || (d.field == Field::Year && matches!(d.scope.at, Layer::ElfSection(_)))
        },
        fix: |_, _| {
            Some(
                "the binary embeds the build date (C's __DATE__/__TIME__, or a year the build computed \
                 from the clock): GCC ≥ 7 takes __DATE__/__TIME__ from SOURCE_DATE_EPOCH when it is set — \
                 export it for the build, and take any other date from it too"
                    .into(),
            )
        },
    },
    Rule {
        id: "date-in-text",
        matches: |d| d.field == Field::Lines || (d.field.is_first_difference() && looks_like_date(&d.b)),
        fix: |case, _| {
            (!case.diff.path.ends_with(".buildinfo")).then(|| {
                "take dates from SOURCE_DATE_EPOCH instead of the clock (e.g. date -u -d @$SOURCE_DATE_EPOCH)".into()
            })
        },
    },
];

/// The hints for one file diff. `a` and `b` are the two versions on disk,
/// searched for the build path when the runs had different ones.
pub fn for_diff(diff: &FileDiff, context: &DiffContext, a: &Path, b: &Path) -> Vec<Hint> {
    let case = Case { diff, context, packer: Packer::of(diff, &context.build_command) };
    let mut hints: Vec<Hint> = Vec::new();
    for rule in RULES {
        let relevant =
            |d: &&Detail| (rule.matches)(d) && (rule.id != "date-in-text" || date_changed(diff, d));
        let mut matching = diff.details.iter().filter(relevant);
        let Some(first) = matching.next() else { continue };
        let Some(fix) = (rule.fix)(&case, first) else { continue };
        let count = 1 + matching.count() as u64;
        let one = format!("{}: {} {} -> {}", first.scope, first.field, first.a, first.b);
        let evidence = if count > 1 { format!("{count} differences, e.g. {one}") } else { one };
        if hints.iter().any(|h| h.fix == fix) {
            continue; // automake's one override answers several rules
        }
        hints.push(Hint { rule: rule.id, fix, evidence, count });
    }
    if let Some(hint) = build_path(&case, a, b) {
        hints.push(hint);
    }
    hints
}

/// The build directory in the output: in the diff's text and values (also
/// inside archives), or anywhere in the files' bytes.
fn build_path(case: &Case, a: &Path, b: &Path) -> Option<Hint> {
    let (dir_a, dir_b) = &case.context.build_dirs;
    if dir_a.is_empty() || dir_a == dir_b || case.diff.path.ends_with(".buildinfo") {
        return None;
    }
    let in_diff = case
        .diff
        .text_diff
        .as_deref()
        .is_some_and(|t| t.contains(dir_a.as_str()) || t.contains(dir_b.as_str()))
        || case.diff.details.iter().any(|d| d.a.contains(dir_a.as_str()) || d.b.contains(dir_b.as_str()));
    if !(in_diff || contains(a, dir_a) || contains(b, dir_b)) {
        return None;
    }
    let fix = match case.packer {
        Packer::Dpkg => {
            "keep the build directory out of the package: dpkg-buildpackage passes \
                         -ffile-prefix-map through dpkg-buildflags (its reproducible=+fixfilepath feature) — a path that \
                         still leaks comes from a tool that ignores CFLAGS (a script, a doc generator)"
        }
        _ => {
            "keep the build directory out of the output: -ffile-prefix-map=$(pwd)=. for C/C++ (also debug \
              info), or relative paths"
        }
    };
    Some(Hint {
        rule: "build-path",
        fix: fix.into(),
        evidence: format!("the output contains the build directory ({dir_a} / {dir_b})"),
        count: 1,
    })
}

/// Whether the file at `path` contains `needle`, read in chunks (any size).
fn contains(path: &Path, needle: &str) -> bool {
    const CHUNK: usize = 1 << 20;
    let (needle, Ok(mut file)) = (needle.as_bytes(), std::fs::File::open(path)) else { return false };
    if needle.is_empty() {
        return false;
    }
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + needle.len());
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match crate::decompress::read_prefix(&mut file, &mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        window.extend_from_slice(&chunk[..n]);
        if window.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        // Keep the tail a match could start in.
        let keep = window.len().min(needle.len().saturating_sub(1));
        window.drain(..window.len() - keep);
    }
}

/// A text diff earns the date hint only when its own changed lines hold dates.
fn date_changed(diff: &FileDiff, d: &Detail) -> bool {
    d.field != Field::Lines || diff.dated_texts.contains(&d.scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::scope::Scope;

    #[test]
    fn dates_in_the_usual_spellings_are_recognised() {
        for date in [
            "built 2026-12-02",
            "Build-Date: Wed, 02 Dec 2026 15:36:32 +0000",
            "Dec  2 2026",
            "Dec 12 2026 10:00",
            "Wed Dec  2 16:20:00 UTC 2026",
        ] {
            assert!(looks_like_date(date), "{date}");
        }
        for not_a_date in ["version 1.2.3", "December", "Dec 2", "2026", "Decision 12 20261"] {
            assert!(!looks_like_date(not_a_date), "{not_a_date}");
        }
    }

    fn zip_diff(generator: Option<&str>, times: &[(&str, &str)], extra: &[Detail]) -> FileDiff {
        let mut diff = FileDiff::new("dist/six-1.17.0-py2.py3-none-any.whl", (0, 1));
        diff.packed_by.insert("python-wheel");
        diff.generator = generator.map(str::to_string);
        for (i, (a, b)) in times.iter().enumerate() {
            let scope = Scope::top(Layer::Entry(ArchiveKind::Zip, format!("six-{i}.py")));
            diff.add(Detail { scope, field: Field::Mtime, a: a.to_string(), b: b.to_string() });
        }
        for d in extra {
            diff.add(d.clone());
        }
        diff
    }

    fn fixes(diff: &FileDiff) -> Vec<(&'static str, String)> {
        let context = DiffContext::default();
        let case = Case { diff, context: &context, packer: Packer::of(diff, "") };
        RULES
            .iter()
            .filter_map(|rule| {
                let d = diff.details.iter().find(|d| (rule.matches)(d))?;
                Some((rule.id, (rule.fix)(&case, d)?))
            })
            .collect()
    }

    #[test]
    fn wheel_times_name_the_backend_and_a_timezone_shift() {
        // Published in UTC+2, rebuilt in UTC: every time two hours earlier.
        let shifted =
            [("2024-09-15 08:06:54", "2024-09-15 06:06:54"), ("2024-09-15 08:07:00", "2024-09-15 06:07:00")];
        let found = fixes(&zip_diff(Some("bdist_wheel (0.44.0)"), &shifted, &[]));
        let (_, fix) = found.iter().find(|(id, _)| *id == "zip-timestamps").expect("a timestamp hint");
        assert!(fix.contains("+2 h") && fix.contains("TZ=UTC-2"), "{fix}");
        assert!(fix.contains("bdist_wheel"), "{fix}");
        // Times that are not one shift get the backend's rule alone.
        let mixed =
            [("2024-09-15 08:06:54", "2024-09-15 06:06:54"), ("2024-09-15 08:07:00", "2024-09-15 08:07:02")];
        let found = fixes(&zip_diff(Some("flit 3.9.0"), &mixed, &[]));
        let (_, fix) = found.iter().find(|(id, _)| *id == "zip-timestamps").unwrap();
        assert!(!fix.contains("TZ=") && fix.contains("flit_core"), "{fix}");
    }

    #[test]
    fn a_zip_mode_difference_never_suggests_tar() {
        let mode = Detail {
            scope: Scope::top(Layer::Entry(ArchiveKind::Zip, "six.py".into())),
            field: Field::Mode,
            a: "000664".into(),
            b: "100664".into(),
        };
        let found = fixes(&zip_diff(Some("hatchling 1.25.0"), &[], &[mode]));
        assert!(found.iter().any(|(id, fix)| *id == "zip-mode" && fix.contains("hatchling")), "{found:?}");
        assert!(found.iter().all(|(_, fix)| !fix.contains("tar --mode")), "{found:?}");
    }
}
