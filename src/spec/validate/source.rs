//! `[source]`: exactly one of `path`, `git`, `tarball` or `dsc`, each with
//! the keys that pin it.

use super::{Checked, Ctx};
use crate::spec::raw::RawSource;
use crate::spec::{Digest, Origin, Source};
use std::path::PathBuf;
use toml::Spanned;

pub(super) fn validate_source(ctx: &Ctx, source: &Spanned<RawSource>) -> Checked<Source> {
    let raw = source.get_ref();
    let forms = [raw.path.is_some(), raw.git.is_some(), raw.tarball.is_some(), raw.dsc.is_some()];
    if forms.iter().filter(|f| **f).count() != 1 {
        let message = if forms.contains(&true) {
            "[source] names more than one source; give exactly one of `path`, `git`, `tarball` or `dsc`"
        } else {
            "[source] names no source"
        };
        return Err(ctx.err(source, message).hint(
            "use `path = \".\"`, or `git = \"URL or path\"` with `rev = \"<40-hex commit>\"`, or `tarball = \"FILE\"` (or `dsc = \"PKG_VER.dsc\"`) with `sha256 = \"<hex>\"`",
        ));
    }
    let only = |key: &str, present: bool, form: &str| -> Checked<()> {
        if present {
            return Err(ctx
                .err(source, format!("source.{key} only applies to a {form} source"))
                .hint(format!("remove `{key}`, or make the source a {form} source")));
        }
        Ok(())
    };
    let is_git = raw.git.is_some();
    let is_tarball = raw.tarball.is_some();
    only("rev", raw.rev.is_some() && !is_git, "git")?;
    only("tag", raw.tag.is_some() && !is_git, "git")?;
    only("sha256", raw.sha256.is_some() && !is_tarball && raw.dsc.is_none(), "tarball or dsc")?;
    only("strip_components", raw.strip_components.is_some() && !is_tarball, "tarball")?;
    let origin = if let Some(path) = &raw.path {
        Origin::Path(existing(ctx, "source.path", path, true)?)
    } else if let Some(git) = &raw.git {
        validate_git(ctx, source, git)?
    } else if let Some(tarball) = &raw.tarball {
        validate_tarball(ctx, source, tarball)?
    } else if let Some(dsc) = &raw.dsc {
        not_a_url(ctx, "source.dsc", dsc, "the .dsc and the files it lists")?;
        let sha256 = pinned_sha256(ctx, dsc, raw.sha256.as_ref(), "a dsc")?;
        Origin::Dsc { path: existing(ctx, "source.dsc", dsc, false)?, sha256 }
    } else {
        unreachable!("exactly one form is present")
    };
    let nar_hash = match &raw.nar_hash {
        Some(h) => Some(Digest::parse(h.get_ref()).map_err(|m| {
            ctx.err(h, m).hint("run `reprocheck lock SPEC` to compute and write the source's NAR hash")
        })?),
        None => None,
    };
    let directory = match &raw.directory {
        Some(directory) if raw.dsc.is_some() => {
            return Err(ctx
                .err(directory, "source.directory does not apply to a dsc source")
                .hint("a dsc source is always unpacked into SOURCE-UPSTREAM/, as dpkg-source -x does"))
        }
        Some(directory) => Some(tree_directory(ctx, directory)?),
        None => None,
    };
    Ok(Source { origin, nar_hash, directory })
}

/// `source.directory`: one plain path component, like `hello-1.0`.
fn tree_directory(ctx: &Ctx, directory: &Spanned<String>) -> Checked<String> {
    let name = directory.get_ref();
    let plain = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if !plain {
        return Err(ctx
            .err(directory, format!("source.directory `{name}` is not a plain directory name"))
            .hint("one name of letters, digits and `._+-`, not starting with a dot, e.g. `directory = \"hello-1.0\"`"));
    }
    Ok(name.clone())
}

/// A path relative to the spec's directory that must exist (as a directory
/// when `dir`), resolved and confined (see [`super::reach`]).
pub(super) fn existing(ctx: &Ctx, key: &str, path: &Spanned<String>, dir: bool) -> Checked<PathBuf> {
    let full = ctx.reach.existing(path.get_ref()).map_err(|refusal| ctx.refused(path, key, refusal))?;
    let what = if dir { "a directory" } else { "a file" };
    match std::fs::metadata(&full) {
        Ok(meta) if meta.is_dir() == dir => Ok(full),
        Ok(_) => Err(ctx
            .err(path, format!("{} is not {what}", full.display()))
            .hint(format!("point the key at {what}"))),
        Err(e) => Err(ctx
            .err(path, format!("{} cannot be read: {e}", full.display()))
            .hint("paths are relative to the directory holding the spec file")),
    }
}

/// `git` is a URL (`scheme://...` or `user@host:path`) or a local path.
fn validate_git(ctx: &Ctx, source: &Spanned<RawSource>, git: &Spanned<String>) -> Checked<Origin> {
    let raw = source.get_ref();
    let Some(rev) = &raw.rev else {
        return Err(ctx
            .err(git, "a git source needs `rev`, the full commit to build")
            .hint("add `rev = \"<40-hex commit>\"`: a tag or branch can move, a commit cannot"));
    };
    let r = rev.get_ref();
    if r.len() != 40 || !r.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ctx
            .err(rev, format!("source.rev `{r}` is not a full 40-hex commit id"))
            .hint("pin the full commit (`git rev-parse v1.2.3^{commit}`); put a tag name in `tag`"));
    }
    if r.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ctx
            .err(rev, format!("source.rev `{r}` uses uppercase hex"))
            .hint("write it in lowercase"));
    }
    let url = git.get_ref();
    if url.trim().is_empty() {
        return Err(ctx.err(git, "source.git is empty").hint("give a repository URL or a local path"));
    }
    let remote = url.contains("://") || looks_like_scp(url);
    if url.starts_with("ext::") || url.starts_with('-') {
        return Err(ctx
            .err(git, format!("source.git `{url}` is not a repository URL or path"))
            .hint("use an https://, ssh://, git:// or file:// URL, or a local path"));
    }
    let url =
        if remote { url.clone() } else { existing(ctx, "source.git", git, true)?.display().to_string() };
    if let Some(tag) = &raw.tag {
        let t = tag.get_ref();
        if t.is_empty() || t.starts_with('-') || t.contains("..") || t.chars().any(|c| c.is_whitespace()) {
            return Err(ctx
                .err(tag, format!("source.tag `{t}` is not a valid tag name"))
                .hint("give the tag's name, e.g. `tag = \"v1.2.3\"`"));
        }
    }
    Ok(Origin::Git { url, rev: r.clone(), tag: raw.tag.as_ref().map(|t| t.get_ref().clone()) })
}

/// `user@host:path` without a scheme, as git understands it.
fn looks_like_scp(url: &str) -> bool {
    match url.split_once(':') {
        Some((host, _)) => !host.contains('/') && host.contains('@'),
        None => false,
    }
}

fn validate_tarball(ctx: &Ctx, source: &Spanned<RawSource>, tarball: &Spanned<String>) -> Checked<Origin> {
    let raw = source.get_ref();
    not_a_url(ctx, "source.tarball", tarball, "the tarball")?;
    let digest = pinned_sha256(ctx, tarball, raw.sha256.as_ref(), "a tarball")?;
    let strip_components = match &raw.strip_components {
        None => 0,
        Some(n) if (0..=16).contains(n.get_ref()) => *n.get_ref() as u32,
        Some(n) => {
            return Err(ctx
                .err(n, format!("source.strip_components = {} is out of range", n.get_ref()))
                .hint("use 0 to 16; 1 drops the usual top directory like `tar --strip-components=1`"))
        }
    };
    let path = existing(ctx, "source.tarball", tarball, false)?;
    Ok(Origin::Tarball { path, sha256: digest, strip_components })
}

/// A file `key` names must be local: reprocheck does not download.
fn not_a_url(ctx: &Ctx, key: &str, file: &Spanned<String>, what: &str) -> Checked<()> {
    if file.get_ref().contains("://") {
        return Err(ctx
            .err(file, format!("{key} must be a local file; reprocheck does not download"))
            .hint(format!("download {what}, check it, and give its path relative to the spec")));
    }
    Ok(())
}

/// `source.sha256`, which a `form` source (at `file`) needs.
fn pinned_sha256(
    ctx: &Ctx,
    file: &Spanned<String>,
    sha256: Option<&Spanned<String>>,
    form: &str,
) -> Checked<Digest> {
    let Some(sha256) = sha256 else {
        return Err(ctx
            .err(file, format!("{form} source needs `sha256`, so a changed file is caught before building"))
            .hint("add `sha256 = \"<hex>\"` (the output of `sha256sum FILE`)"));
    };
    let text = sha256.get_ref();
    let prefixed = if text.contains(':') { text.clone() } else { format!("sha256:{text}") };
    Digest::parse(&prefixed)
        .map_err(|m| ctx.err(sha256, m).hint("give the 64 lowercase hex digits `sha256sum FILE` prints"))
}
