//! A Debian source control file (`.dsc`): the package, its version and
//! format, the files it is made of with their sha256, and its build
//! dependencies.

use super::control;
use crate::digest::Digest;
use crate::errors::*;

/// A parsed `.dsc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsc {
    /// `Source:`, the source package name.
    pub source: String,
    /// `Version:`, e.g. `2.10-3` or `1:2.3-1`.
    pub version: String,
    /// `Format:`, e.g. `3.0 (quilt)`.
    pub format: String,
    /// `Checksums-Sha256:`, in the order listed.
    pub files: Vec<DscFile>,
    /// `Build-Depends`, `Build-Depends-Arch` and `Build-Depends-Indep`,
    /// joined: what `dpkg-buildpackage` needs for any build.
    pub build_depends: String,
}

/// One file of the source package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscFile {
    /// A plain file name beside the `.dsc`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, from `Checksums-Sha256`.
    pub sha256: Digest,
}

/// What a file is to the unpacking, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// `SRC_UPSTREAM.orig.tar.EXT`: the upstream tree.
    Orig,
    /// `SRC_UPSTREAM.orig-COMPONENT.tar.EXT`: unpacked into `COMPONENT/`.
    Component(String),
    /// `SRC_VERSION.debian.tar.EXT`: the `debian/` directory.
    Debian,
    /// `SRC_VERSION.tar.EXT` of a native package: the whole tree.
    Native,
    /// A detached signature (`.asc`): verified by its checksum, not unpacked.
    Signature,
}

impl Dsc {
    /// Parses a `.dsc` (clearsigned or not).
    pub fn parse(text: &str) -> Result<Dsc> {
        let fields = control::single_paragraph(text, "a .dsc")?;
        let required = |name: &str| -> Result<String> {
            fields.get(name).map(str::to_string).with_context(|| format!("the .dsc has no `{name}:` field"))
        };
        let source = required("Source")?;
        ensure!(
            !source.is_empty()
                && source.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)),
            "`Source: {source}` is not a source package name"
        );
        let version = required("Version")?;
        ensure!(
            !version.is_empty() && version.chars().all(|c| c.is_ascii_alphanumeric() || ".+-~:".contains(c)),
            "`Version: {version}` is not a Debian version"
        );
        let format = required("Format")?;
        let mut files = Vec::new();
        for line in required("Checksums-Sha256")?.lines().filter(|l| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [hex, size, name] = parts.as_slice() else {
                bail!("Checksums-Sha256 line `{line}` is not `SHA256 SIZE NAME`");
            };
            let sha256 = Digest::parse(&format!("sha256:{hex}"))
                .map_err(|e| anyhow!("Checksums-Sha256 line `{line}`: {e}"))?;
            let size = size
                .parse()
                .map_err(|_| anyhow!("Checksums-Sha256 line `{line}`: `{size}` is not a size"))?;
            ensure!(
                !name.starts_with('.') && !name.contains('/') && !name.contains('\\'),
                "the .dsc lists `{name}`, which is not a plain file name beside it"
            );
            ensure!(files.iter().all(|f: &DscFile| f.name != *name), "the .dsc lists `{name}` twice");
            files.push(DscFile { name: name.to_string(), size, sha256 });
        }
        ensure!(!files.is_empty(), "the .dsc's Checksums-Sha256 lists no files");
        let build_depends = ["Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"]
            .iter()
            .filter_map(|name| fields.get(name))
            .map(|v| v.replace('\n', " "))
            .filter(|v| !v.trim().is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Dsc { source, version, format, files, build_depends })
    }

    /// The version without its epoch (`1:2.3-1` → `2.3-1`): how file names carry it.
    pub fn version_without_epoch(&self) -> &str {
        self.version.split_once(':').map_or(&self.version, |(_, rest)| rest)
    }

    /// The upstream version (`1:2.3-1` → `2.3`).
    pub fn upstream_version(&self) -> &str {
        let version = self.version_without_epoch();
        version.rsplit_once('-').map_or(version, |(upstream, _)| upstream)
    }

    /// The directory `dpkg-source -x` unpacks into: `SOURCE-UPSTREAM`.
    pub fn tree_name(&self) -> String {
        format!("{}-{}", self.source, self.upstream_version())
    }

    /// What `file` is to the unpacking; an error for a file this format
    /// does not have.
    pub fn part(&self, file: &DscFile) -> Result<Part> {
        let name = file.name.as_str();
        if name.ends_with(".asc") {
            return Ok(Part::Signature);
        }
        let tar_ext = |rest: &str| {
            rest.strip_prefix(".tar.").is_some_and(|ext| ["gz", "xz", "zst", "bz2", "lzma"].contains(&ext))
        };
        let upstream = format!("{}_{}.orig", self.source, self.upstream_version());
        let native = format!("{}_{}", self.source, self.version_without_epoch());
        let unknown = || {
            anyhow!(
                "the .dsc (Format: {}) lists `{name}`, which is none of {upstream}.tar.*, {upstream}-COMPONENT.tar.*, {native}.debian.tar.*, {native}.tar.*",
                self.format
            )
        };
        if let Some(rest) = name.strip_prefix(&upstream) {
            if tar_ext(rest) {
                return Ok(Part::Orig);
            }
            let (component, ext) =
                rest.strip_prefix('-').and_then(|r| r.split_once('.')).ok_or_else(unknown)?;
            let valid =
                !component.is_empty() && component.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if valid && tar_ext(&format!(".{ext}")) {
                return Ok(Part::Component(component.to_string()));
            }
            return Err(unknown());
        }
        if let Some(rest) = name.strip_prefix(&native) {
            if rest.strip_prefix(".debian").is_some_and(tar_ext) {
                return Ok(Part::Debian);
            }
            if tar_ext(rest) {
                return Ok(Part::Native);
            }
        }
        Err(unknown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const HELLO: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nFormat: 3.0 (quilt)\nSource: hello\nBinary: hello\nVersion: 2.10-3\nBuild-Depends: debhelper-compat (= 13), help2man,\n texinfo\nBuild-Depends-Indep: python3 <!nodoc>\nChecksums-Sha256:\n 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz\n 4ea69de913428a4034d30dcdcb34ab84f5c4a76acf9040f3091f0d3fac411b60 819 hello_2.10.orig.tar.gz.asc\n 60ee7a466808301fbaa7fea2490b5e7a6d86f598956fb3e79c71b3295dc1f249 12684 hello_2.10-3.debian.tar.xz\n\n-----BEGIN PGP SIGNATURE-----\nx\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn reads_hellos_dsc() {
        let dsc = Dsc::parse(HELLO).unwrap();
        assert_eq!(
            (dsc.source.as_str(), dsc.version.as_str(), dsc.format.as_str()),
            ("hello", "2.10-3", "3.0 (quilt)")
        );
        assert_eq!(dsc.tree_name(), "hello-2.10");
        assert_eq!(dsc.build_depends, "debhelper-compat (= 13), help2man, texinfo, python3 <!nodoc>");
        let parts: Vec<Part> = dsc.files.iter().map(|f| dsc.part(f).unwrap()).collect();
        assert_eq!(parts, [Part::Orig, Part::Signature, Part::Debian]);
        assert_eq!(dsc.files[2].size, 12684);
    }

    #[test]
    fn versions_components_and_bad_names() {
        let mut dsc = Dsc::parse(HELLO).unwrap();
        dsc.version = "1:2.3+dfsg-1~bpo1".into();
        assert_eq!(dsc.version_without_epoch(), "2.3+dfsg-1~bpo1");
        assert_eq!(dsc.upstream_version(), "2.3+dfsg");
        let file = |name: &str| DscFile { name: name.into(), size: 0, sha256: Digest::of_bytes(b"") };
        assert_eq!(
            dsc.part(&file("hello_2.3+dfsg.orig-docs.tar.xz")).unwrap(),
            Part::Component("docs".into())
        );
        assert_eq!(dsc.part(&file("hello_2.3+dfsg-1~bpo1.debian.tar.xz")).unwrap(), Part::Debian);
        assert!(dsc
            .part(&file("hello_2.3+dfsg-1~bpo1.diff.gz"))
            .unwrap_err()
            .to_string()
            .contains("none of"));
        let traversal = HELLO.replace("hello_2.10-3.debian.tar.xz", "../../etc/passwd");
        assert!(Dsc::parse(&traversal).unwrap_err().to_string().contains("not a plain file name"));
        let twice = HELLO.replace("hello_2.10.orig.tar.gz.asc", "hello_2.10.orig.tar.gz");
        assert!(Dsc::parse(&twice).unwrap_err().to_string().contains("twice"));
    }
}
