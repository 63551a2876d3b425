//! What a rebuild needs from a published sdist, read without unpacking it
//! (the archive comes from a registry, so it is read with the crate's
//! strict tar reader, within bounds): its top directory, its
//! `pyproject.toml`, whether it has a `setup.py`, and each member's mtime
//! (the timestamp rule compares them with the wheel's entry times).

use crate::diff::scope::Field;
use crate::diff::tar_reader::TarReader;
use crate::errors::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Members read at most.
const MAX_MEMBERS: usize = 200_000;

/// Largest metadata file read (pyproject.toml, PKG-INFO, setup.cfg).
const MAX_METADATA: u64 = 1 << 20;

/// A published sdist, as far as the inference reads it.
#[derive(Debug, Clone, Default)]
pub struct Sdist {
    /// The one top directory every member is under (`idna-3.10`).
    pub top: String,
    /// The top directory's `pyproject.toml`.
    pub pyproject: Option<String>,
    /// The top directory's `PKG-INFO`.
    pub pkg_info: Option<String>,
    /// Whether the top directory holds a `setup.py`.
    pub has_setup_py: bool,
    /// Each regular file's mtime (seconds since the epoch), by its path
    /// under the top directory.
    pub mtimes: BTreeMap<String, i64>,
}

/// Reads the sdist at `path` (`.tar.gz`).
pub fn read(path: &Path) -> Result<Sdist> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.ends_with(".tar.gz") {
        return crate::rebuild::not_inferable(format!(
            "the sdist {name} is not a .tar.gz: only .tar.gz sdists (PEP 625) are rebuilt"
        ));
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    read_tar(gz).with_context(|| format!("reading the sdist {}", path.display()))
}

fn read_tar(stream: impl Read) -> Result<Sdist> {
    let mut reader = TarReader::new(stream);
    let mut sdist = Sdist::default();
    let mut members = 0usize;
    while let Some(header) = reader.next_header().context("reading the tar stream")? {
        members += 1;
        ensure!(members <= MAX_MEMBERS, "more than {MAX_MEMBERS} members: not a plausible sdist");
        ensure!(
            header.ambiguities.is_empty(),
            "member {}: {} (tar readers would disagree about this archive)",
            header.name,
            header.ambiguities.join("; ")
        );
        let name = header.name.trim_start_matches("./").trim_end_matches('/').to_string();
        let (top, rest) = name.split_once('/').unwrap_or((name.as_str(), ""));
        if sdist.top.is_empty() {
            sdist.top = top.to_string();
        }
        ensure!(
            top == sdist.top,
            "members under both `{}/` and `{top}/`: an sdist has one top directory",
            sdist.top
        );
        let regular =
            matches!(header.fields.get(&Field::Type).map(String::as_str), Some("regular" | "file") | None);
        if rest.is_empty() || !regular {
            continue;
        }
        if let Some(mtime) = header.fields.get(&Field::Mtime).and_then(|m| parse_mtime(m)) {
            sdist.mtimes.insert(rest.to_string(), mtime);
        }
        let wanted = match rest {
            "pyproject.toml" => Some(&mut sdist.pyproject),
            "PKG-INFO" => Some(&mut sdist.pkg_info),
            _ => None,
        };
        sdist.has_setup_py |= rest == "setup.py";
        if let Some(slot) = wanted {
            ensure!(header.size <= MAX_METADATA, "{name} is larger than {MAX_METADATA} bytes");
            let mut text = String::new();
            reader
                .data()
                .take(MAX_METADATA)
                .read_to_string(&mut text)
                .with_context(|| format!("{name} is not UTF-8 text"))?;
            *slot = Some(text);
        }
    }
    if let Some(problem) = reader.problems.first().or(reader.too_large.as_ref()) {
        bail!("{problem}");
    }
    ensure!(!sdist.top.is_empty(), "the archive is empty");
    Ok(sdist)
}

/// A tar mtime: integer seconds, or a pax decimal (fractions dropped).
fn parse_mtime(text: &str) -> Option<i64> {
    let whole = text.split('.').next()?;
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(members: &[(&str, &[u8], u64)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data, mtime) in members {
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(*mtime);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn metadata_and_mtimes_are_read_under_the_top_directory() {
        let data = tar(&[
            ("idna-3.10/pyproject.toml", b"[build-system]\nrequires = [\"flit_core\"]\n", 1726413600),
            ("idna-3.10/idna/core.py", b"x = 1\n", 1726413700),
            ("idna-3.10/PKG-INFO", b"Metadata-Version: 2.1\n", 1),
        ]);
        let sdist = read_tar(&data[..]).unwrap();
        assert_eq!(sdist.top, "idna-3.10");
        assert!(sdist.pyproject.unwrap().contains("flit_core"));
        assert!(!sdist.has_setup_py);
        assert_eq!(sdist.mtimes["idna/core.py"], 1726413700);
        assert_eq!(sdist.mtimes["PKG-INFO"], 1);
    }

    #[test]
    fn two_top_directories_are_refused() {
        let data = tar(&[("a-1/setup.py", b"", 0), ("b-1/setup.py", b"", 0)]);
        let err = read_tar(&data[..]).unwrap_err().to_string();
        assert!(err.contains("one top directory"), "{err}");
    }
}
