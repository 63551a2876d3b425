//! Assembles a loadable image archive (`docker save` layout) from a rootfs
//! tarball, with every byte fixed by the inputs: the image id is then as
//! reproducible as the rootfs itself. `docker import` would stamp the current
//! time into the config instead.

use crate::errors::*;
use crate::spec::Digest;
use oci_spec::image::{Arch, ConfigBuilder, HistoryBuilder, ImageConfigurationBuilder, Os, RootFsBuilder};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// The image config's `PATH`, matching the control environment.
const IMAGE_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Writes `out` (a loadable archive) for `rootfs`; returns the config digest,
/// which is the image id Docker assigns.
pub fn assemble(rootfs: &Path, tag: &str, epoch: u64, created_by: &str, out: &Path) -> Result<Digest> {
    let layer = sha256_file(rootfs)?;
    let created =
        humantime::format_rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch)).to_string();
    let config = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(host_arch())
        .os(Os::Linux)
        .config(
            ConfigBuilder::default()
                .env(vec![IMAGE_PATH.to_string()])
                .cmd(vec!["/bin/bash".to_string()])
                .build()
                .context("building the image config")?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![layer.to_string()])
                .build()
                .context("building the image rootfs")?,
        )
        .history(vec![HistoryBuilder::default()
            .created(created)
            .created_by(created_by)
            .build()
            .context("building the image history")?])
        .build()
        .context("building the image configuration")?;
    let config_json = config.to_string().context("serialising the image config")?;
    let config_digest = Digest::of_bytes(config_json.as_bytes());
    let config_name = format!("blobs/sha256/{}", config_digest.hex());
    let layer_name = format!("blobs/sha256/{}", layer.hex());
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": [layer_name],
    }]);

    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    let mut append = |name: &str, size: u64, data: &mut dyn Read| -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(epoch);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, data)
            .with_context(|| format!("writing {name} into the image archive"))
    };
    let layer_size =
        std::fs::metadata(rootfs).with_context(|| format!("reading {}", rootfs.display()))?.len();
    let mut layer_file = File::open(rootfs).with_context(|| format!("opening {}", rootfs.display()))?;
    append(&layer_name, layer_size, &mut layer_file)?;
    append(&config_name, config_json.len() as u64, &mut config_json.as_bytes())?;
    let manifest = serde_json::to_vec(&manifest).context("serialising manifest.json")?;
    append("manifest.json", manifest.len() as u64, &mut manifest.as_slice())?;
    let mut writer = builder.into_inner().context("finishing the image archive")?;
    writer.flush().context("flushing the image archive")?;
    Ok(config_digest)
}

fn host_arch() -> Arch {
    match std::env::consts::ARCH {
        "aarch64" => Arch::ARM64,
        "arm" => Arch::ARM,
        "x86" => Arch::i386,
        "powerpc64" => Arch::PowerPC64,
        "s390x" => Arch::s390x,
        _ => Arch::Amd64,
    }
}

/// sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<Digest> {
    Digest::of_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rootfs_gives_same_archive_and_id() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs.tar");
        std::fs::write(&rootfs, vec![7u8; 10240]).unwrap();
        let a = assemble(&rootfs, "x:latest", 5, "test", &dir.path().join("a.tar")).unwrap();
        let b = assemble(&rootfs, "x:latest", 5, "test", &dir.path().join("b.tar")).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            std::fs::read(dir.path().join("a.tar")).unwrap(),
            std::fs::read(dir.path().join("b.tar")).unwrap()
        );
        let c = assemble(&rootfs, "x:latest", 6, "test", &dir.path().join("c.tar")).unwrap();
        assert_ne!(a, c, "the epoch must reach the config");
    }
}
