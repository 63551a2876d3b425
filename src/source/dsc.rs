//! Debian source packages (`[source] dsc`): the `.dsc` is pinned by the
//! spec's sha256, every file it lists is checked against the `.dsc`'s own
//! `Checksums-Sha256`, and the tree is unpacked as `dpkg-source -x` lays it
//! out (`SOURCE-UPSTREAM/`, the upstream tarball without its own `debian/`
//! and `.pc/`, component tarballs in their directories, then `debian/`; a
//! tarball's top directory is stripped only when it has exactly one, see
//! [`dsc_layout`]), with the hostile-input rules and limits of tarball sources.
//!
//! Quilt patches are not applied here: `dpkg-buildpackage` applies them
//! (`dpkg-source --before-build`) before it builds.

use super::dsc_layout;
use super::tarball::{open_verified, source_collector};
use crate::collect::OutputSelector;
use crate::debian::dsc::{Dsc, DscFile, Part};
use crate::errors::*;
use crate::spec::{self, Digest};
use std::path::{Path, PathBuf};

/// Largest `.dsc` read: a control file lists a few files.
const MAX_DSC_SIZE: u64 = 1 << 20;

/// Verifies the `.dsc` at `path` against `expected` and the files it lists
/// against it, then unpacks the tree into `dest/SOURCE-UPSTREAM` (`dest` is
/// created). Returns the parsed `.dsc`.
pub fn unpack(path: &Path, expected: &Digest, dest: &Path, limits: &spec::Limits) -> Result<Dsc> {
    let text = spec::read_capped(path, MAX_DSC_SIZE)?;
    let actual = Digest::of_bytes(text.as_bytes());
    ensure!(
        actual == *expected,
        "the .dsc {} has {actual}, but source.sha256 pins {expected}\n\
         help: the file is not the one the spec was written for; fetch the right one, \
         or update `sha256` only if you trust the new file",
        path.display()
    );
    let dsc = Dsc::parse(&text).with_context(|| format!("reading {}", path.display()))?;
    let parts = plan_unpacking(&dsc).with_context(|| format!("{}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let files: Vec<(PathBuf, &DscFile, Part)> = parts
        .into_iter()
        .map(|(file, part)| Ok((beside(dir, &file.name, path)?, file, part)))
        .collect::<Result<_>>()?;
    // Every file is checked before any is unpacked (and hashed again as it streams).
    for (file, listed, _) in &files {
        check_size(file, listed, path)?;
        let actual = Digest::of_file(file)?;
        ensure!(
            actual == listed.sha256,
            "{} has {actual}, but {} lists {} for it\n\
             help: the file is not the one the .dsc names; fetch it again (`apt-get source --download-only`)",
            file.display(),
            path.display(),
            listed.sha256
        );
    }
    let tree = dsc.tree_name();
    let everything = OutputSelector::new(&["**".to_string()])?;
    let mut collector = source_collector(dest, &everything, limits)?;
    let components: Vec<String> = files
        .iter()
        .filter_map(|(_, _, part)| match part {
            Part::Component(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    for (file, listed, part) in &files {
        let open = || {
            open_verified(file, &listed.sha256, |actual| {
                format!(
                    "{} has {actual}, but {} lists {} for it\n\
                     help: the file is not the one the .dsc names; fetch it again (`apt-get source --download-only`)",
                    file.display(),
                    path.display(),
                    listed.sha256
                )
            })
        };
        // As dpkg-source: the upstream tarball without its .pc/, its own
        // debian/ and the component directories (each replaced by its
        // tarball); a component in its directory; debian/ in place.
        let (prefix, quilt_state) = match part {
            Part::Orig => (tree.clone(), true),
            Part::Component(component) => (format!("{tree}/{component}"), false),
            Part::Native => (tree.clone(), false),
            Part::Debian => (tree.clone(), false),
            Part::Signature => continue,
        };
        let strip = match part {
            Part::Debian => 0,
            _ => {
                let skip = |parts: &[&str]| quilt_state && dsc_layout::is_quilt_state(parts);
                let one_top = dsc_layout::has_one_top_directory(open()?, &skip, limits)
                    .with_context(|| format!("reading {}", file.display()))?;
                usize::from(one_top)
            }
        };
        let replaced: Vec<String> = match part {
            Part::Orig => components.iter().cloned().chain(["debian".to_string()]).collect(),
            _ => Vec::new(),
        };
        collector.skipping(Some(Box::new(move |parts: &[&str]| {
            (quilt_state && dsc_layout::is_quilt_state(parts))
                || parts.get(strip).is_some_and(|top| replaced.iter().any(|r| r == top))
        })));
        collector
            .add_stripped(open()?, &prefix, strip)
            .with_context(|| format!("unpacking {}", file.display()))?;
    }
    collector.finish()?;
    let rules = dest.join(&tree).join("debian/rules");
    ensure!(
        rules.symlink_metadata().is_ok_and(|m| m.is_file()),
        "{} unpacked without debian/rules: this is not a buildable Debian source package",
        path.display()
    );
    Ok(dsc)
}

/// The files to unpack, in order (upstream, components, debian), after
/// checking that they make up a source package of a supported format.
fn plan_unpacking(dsc: &Dsc) -> Result<Vec<(&DscFile, Part)>> {
    let mut parts: Vec<(&DscFile, Part)> =
        dsc.files.iter().map(|f| Ok((f, dsc.part(f)?))).collect::<Result<_>>()?;
    let count = |wanted: fn(&Part) -> bool| parts.iter().filter(|(_, p)| wanted(p)).count();
    let (origs, debians, natives) =
        (count(|p| *p == Part::Orig), count(|p| *p == Part::Debian), count(|p| *p == Part::Native));
    match dsc.format.as_str() {
        "3.0 (quilt)" => ensure!(
            origs == 1 && debians == 1 && natives == 0,
            "a 3.0 (quilt) source has one .orig.tar.* and one .debian.tar.*; this lists {origs} and {debians}"
        ),
        "3.0 (native)" => ensure!(
            natives == 1 && origs == 0 && debians == 0,
            "a 3.0 (native) source has one .tar.*; this lists {natives}, with {origs} .orig and {debians} .debian tarballs"
        ),
        "1.0" => bail!(
            "Format 1.0 (a .diff.gz over the upstream tarball) is not unpacked by reprocheck\n\
             help: unpack it with `dpkg-source -x FILE.dsc DIR` and build DIR as a `path` source, pinned by `nar_hash`"
        ),
        other => bail!("Format `{other}` is not one reprocheck unpacks (3.0 (quilt) and 3.0 (native) are)"),
    }
    let order = |part: &Part| match part {
        Part::Orig | Part::Native => 0,
        Part::Component(_) => 1,
        Part::Debian => 2,
        Part::Signature => 3,
    };
    parts.sort_by_key(|(_, part)| order(part));
    Ok(parts)
}

/// The file `name` beside the `.dsc`, which must resolve into the same
/// directory: a link out of it would reach host files the spec did not name.
fn beside(dir: &Path, name: &str, dsc: &Path) -> Result<PathBuf> {
    let file = dir.join(name);
    let resolved = file.canonicalize().with_context(|| {
        format!(
            "{} lists {name}, which is not beside it ({})\n\
             help: fetch the whole source package into one directory (`apt-get source --download-only PKG=VERSION`)",
            dsc.display(),
            file.display()
        )
    })?;
    let home = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
    ensure!(
        resolved.parent() == Some(home.as_path()),
        "{} resolves to {}, outside the .dsc's directory {}\n\
         help: copy the file beside the .dsc instead of linking it",
        file.display(),
        resolved.display(),
        home.display()
    );
    Ok(file)
}

/// A file of the wrong size is refused before it is hashed.
fn check_size(file: &Path, listed: &DscFile, dsc: &Path) -> Result<()> {
    let meta = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    ensure!(meta.is_file(), "{} is not a regular file", file.display());
    let size = meta.len();
    ensure!(
        size == listed.size,
        "{} is {size} bytes, but {} lists {} bytes for it\n\
         help: the download may be cut short; fetch it again",
        file.display(),
        dsc.display(),
        listed.size
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};

    /// A gzipped tar of `(path, content)` files.
    fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(1_600_000_000);
            builder.append_data(&mut header, path, content.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// Writes a 3.0 (quilt) source package `demo 1.0-1` into `dir`; returns the .dsc's path and digest.
    fn package(dir: &Path, orig: &[u8], debian: &[u8]) -> (PathBuf, Digest) {
        package_of(dir, &[("demo_1.0.orig.tar.gz", orig), ("demo_1.0-1.debian.tar.gz", debian)])
    }

    /// Writes the `files` and a 3.0 (quilt) `demo 1.0-1` .dsc listing them into `dir`.
    fn package_of(dir: &Path, files: &[(&str, &[u8])]) -> (PathBuf, Digest) {
        let mut text = "Format: 3.0 (quilt)\nSource: demo\nVersion: 1.0-1\nChecksums-Sha256:\n".to_string();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
            let hex = Digest::of_bytes(bytes).to_string().trim_start_matches("sha256:").to_string();
            text.push_str(&format!(" {hex} {} {name}\n", bytes.len()));
        }
        let path = dir.join("demo_1.0-1.dsc");
        std::fs::write(&path, &text).unwrap();
        (path, Digest::of_bytes(text.as_bytes()))
    }

    /// Issue 32, item 5: an upstream tarball with no top directory (as
    /// tzdata's) is unpacked into the package directory itself, as
    /// dpkg-source does; its .pc/ and debian/ are left out, and a component
    /// tarball replaces the directory of its name.
    #[test]
    fn a_tarball_without_a_top_directory_lands_in_the_package_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let orig = tar_gz(&[
            ("./main.c", "int main;\n"),
            ("./docs/README", "read me\n"),
            ("./debian/rules", "upstream's own\n"),
            ("./.pc/applied-patches", "p\n"),
            ("./docs/.pc/x", "p\n"),
            ("./extra/old.c", "replaced by the component\n"),
        ]);
        let extra = tar_gz(&[("extra-1.0/lib.c", "lib\n")]);
        let debian = tar_gz(&[("debian/rules", "#!/usr/bin/make -f\n")]);
        let (dsc_path, digest) = package_of(
            tmp.path(),
            &[
                ("demo_1.0.orig.tar.gz", &orig),
                ("demo_1.0.orig-extra.tar.gz", &extra),
                ("demo_1.0-1.debian.tar.gz", &debian),
            ],
        );
        let dest = tmp.path().join("tree");
        unpack(&dsc_path, &digest, &dest, &spec::Limits::default()).unwrap();
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&dest).sort_by_file_name() {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                found.push(entry.path().strip_prefix(&dest).unwrap().display().to_string());
            }
        }
        assert_eq!(
            found,
            ["demo-1.0/debian/rules", "demo-1.0/docs/README", "demo-1.0/extra/lib.c", "demo-1.0/main.c"]
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("demo-1.0/debian/rules")).unwrap(),
            "#!/usr/bin/make -f\n"
        );
    }

    #[test]
    fn unpacks_as_dpkg_source_does_and_drops_the_upstream_debian_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let orig = tar_gz(&[
            ("demo-1.0/main.c", "int main;\n"),
            ("demo-1.0/debian/rules", "upstream's own\n"),
            ("demo-1.0/debian/upstream-only", "x"),
        ]);
        let debian = tar_gz(&[("debian/rules", "#!/usr/bin/make -f\n"), ("debian/changelog", "x\n")]);
        let (dsc_path, digest) = package(tmp.path(), &orig, &debian);
        let dest = tmp.path().join("tree");
        let dsc = unpack(&dsc_path, &digest, &dest, &spec::Limits::default()).unwrap();
        assert_eq!(dsc.tree_name(), "demo-1.0");
        assert_eq!(std::fs::read_to_string(dest.join("demo-1.0/main.c")).unwrap(), "int main;\n");
        assert_eq!(
            std::fs::read_to_string(dest.join("demo-1.0/debian/rules")).unwrap(),
            "#!/usr/bin/make -f\n"
        );
        assert!(dest.join("demo-1.0/debian/changelog").is_file());
        assert!(
            !dest.join("demo-1.0/debian/upstream-only").exists(),
            "the upstream debian/ is replaced, not merged"
        );
    }

    #[test]
    fn a_changed_file_a_wrong_pin_and_a_link_out_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let orig = tar_gz(&[("demo-1.0/main.c", "int main;\n")]);
        let debian = tar_gz(&[("debian/rules", "r\n")]);
        let (dsc_path, digest) = package(tmp.path(), &orig, &debian);
        let limits = spec::Limits::default();
        let err = format!(
            "{:#}",
            unpack(&dsc_path, &Digest::of_bytes(b"other"), &tmp.path().join("a"), &limits).unwrap_err()
        );
        assert!(err.contains("but source.sha256 pins"), "{err}");
        // Same size, other bytes: caught by the .dsc's checksum.
        let mut tampered = debian.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        std::fs::write(tmp.path().join("demo_1.0-1.debian.tar.gz"), &tampered).unwrap();
        let err = format!("{:#}", unpack(&dsc_path, &digest, &tmp.path().join("b"), &limits).unwrap_err());
        assert!(err.contains("lists sha256:"), "{err}");
        // A listed file that links out of the .dsc's directory.
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("debian.tar.gz"), &debian).unwrap();
        std::fs::remove_file(tmp.path().join("demo_1.0-1.debian.tar.gz")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("debian.tar.gz"),
            tmp.path().join("demo_1.0-1.debian.tar.gz"),
        )
        .unwrap();
        let err = format!("{:#}", unpack(&dsc_path, &digest, &tmp.path().join("c"), &limits).unwrap_err());
        assert!(err.contains("outside the .dsc's directory"), "{err}");
    }
}
