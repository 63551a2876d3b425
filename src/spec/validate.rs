//! Turns the raw spec into a [`Spec`], with a located error for every mistake.

use super::raw::{RawBuild, RawCheck, RawSpec};
use super::reach::{HostPaths, Reach};
use super::DEFAULT_TIMEOUT;
use super::{expect, Build, Check, Digest, Origin, SourceDateEpoch, Spec, SpecError};
use crate::collect::OutputGlobs;
use crate::factors;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

mod image;
mod source;

use image::validate_image;
use source::validate_source;

/// Largest `runs` accepted; more is almost certainly a typo.
const MAX_RUNS: i64 = 64;

type Checked<T> = std::result::Result<T, SpecError>;

/// Validation context: the file and its text, for locating errors.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    reach: Reach,
}

impl Ctx<'_> {
    fn err<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, self.text, Some(spanned.span()), message)
    }

    fn err_at_start(&self, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, self.text, Some(0..0), message)
    }

    /// The error for a path `key` that cannot be used.
    fn refused<T>(&self, spanned: &Spanned<T>, key: &str, refusal: super::reach::Refusal) -> SpecError {
        let (message, hint) = refusal.explain(key);
        self.err(spanned, message).hint(hint)
    }
}

pub(super) fn validate(file: &Path, text: String, host_paths: HostPaths) -> Checked<Spec> {
    let raw: RawSpec = toml::from_str(&text).map_err(|e| {
        let hint = hint_for_toml_error(e.message());
        let err = SpecError::at(file, &text, e.span(), e.message().trim().to_string());
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    })?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let ctx = Ctx { file, text: &text, reach: Reach::new(&dir, host_paths) };

    let name = validate_name(&ctx, raw.name.as_ref())?;
    let image = match &raw.image {
        Some(image) => validate_image(&ctx, image.get_ref())?,
        None => {
            return Err(ctx.err_at_start("the spec has no [image] table").hint(
                "add [image] with `digest = \"sha256:<64 hex>\"` (or `name` and `recipe`, then run `reprocheck lock SPEC`)",
            ))
        }
    };
    let source = match &raw.source {
        Some(source) => validate_source(&ctx, source)?,
        None => {
            return Err(ctx
                .err_at_start("the spec has no [source] table")
                .hint("add [source] with `path = \".\"` (relative to the spec file)"))
        }
    };
    let build = match &raw.build {
        Some(build) => validate_build(&ctx, build, &source.origin)?,
        // A Debian source package builds the Debian way unless told otherwise.
        None if matches!(source.origin, Origin::Dsc { .. }) => {
            validate_build(&ctx, &Spanned::new(0..0, RawBuild::default()), &source.origin)?
        }
        None => {
            return Err(ctx
                .err_at_start("the spec has no [build] table")
                .hint("add [build] with `command = \"make\"` and `outputs = [\"dist/*\"]`"))
        }
    };
    let check = validate_check(&ctx, raw.check.as_ref())?;
    let expect = match &raw.expect {
        Some(table) => {
            let resolve = |key: &str, path: &Spanned<String>| {
                ctx.reach.existing(path.get_ref()).map_err(|refusal| ctx.refused(path, key, refusal))
            };
            expect::validate(ctx.file, ctx.text, table, &resolve)?
        }
        None => Vec::new(),
    };
    let limits = super::limits::validate(ctx.file, ctx.text, raw.limits.as_ref())?;
    let sha256 = Digest::of_bytes(text.as_bytes());
    Ok(Spec {
        file: file.to_path_buf(),
        dir,
        text,
        sha256,
        name,
        image,
        source,
        build,
        check,
        expect,
        limits,
    })
}

fn hint_for_toml_error(message: &str) -> Option<&'static str> {
    if message.contains("unknown field") {
        Some("remove the key or fix its spelling; docs/spec.md lists every key")
    } else if message.contains("missing field") {
        Some("add the missing key; docs/spec.md lists the required keys")
    } else if message.contains("invalid type") {
        Some("check the value's type in docs/spec.md (strings need quotes, lists need [ ])")
    } else {
        None
    }
}

fn validate_name(ctx: &Ctx, name: Option<&Spanned<String>>) -> Checked<String> {
    let good = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && !n.starts_with('.')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    match name {
        Some(name) if good(name.get_ref()) => Ok(name.get_ref().clone()),
        Some(name) => Err(ctx
            .err(name, format!("name `{}` is not usable as a directory name", name.get_ref()))
            .hint("use 1-64 characters from A-Z a-z 0-9 . _ - (not starting with a dot)")),
        None => {
            let stem = ctx.file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if good(stem) {
                Ok(stem.to_string())
            } else {
                Err(ctx
                    .err_at_start(format!("the file name `{stem}` cannot serve as the build name"))
                    .hint("add `name = \"...\"` at the top of the spec"))
            }
        }
    }
}

/// A `dsc` source's command when the spec gives none: binary packages,
/// unsigned, as a buildd builds them.
pub const DSC_COMMAND: &str = "dpkg-buildpackage -us -uc -b";

/// A `dsc` source's outputs when the spec gives none: the packages
/// (`.buildinfo` and `.changes` record the build's own environment).
pub const DSC_OUTPUTS: [&str; 2] = ["*.deb", "*.udeb"];

fn validate_build(ctx: &Ctx, spanned: &Spanned<RawBuild>, origin: &Origin) -> Checked<Build> {
    let build = spanned.get_ref();
    let is_dsc = matches!(origin, Origin::Dsc { .. });
    let command = match &build.command {
        Some(command) if command.get_ref().trim().is_empty() => {
            return Err(ctx
                .err(command, "build.command is empty")
                .hint("give the command that builds the outputs, e.g. `command = \"make dist\"`"))
        }
        Some(command) => command.get_ref().clone(),
        None if is_dsc => DSC_COMMAND.to_string(),
        None => {
            return Err(ctx
                .err(spanned, "[build] has no `command`")
                .hint("give the command that builds the outputs, e.g. `command = \"make dist\"`"))
        }
    };
    let outputs = match &build.outputs {
        Some(globs) if globs.get_ref().is_empty() => {
            return Err(ctx
                .err(globs, "build.outputs is empty: there would be nothing to compare")
                .hint("list globs relative to the source dir, e.g. `outputs = [\"dist/*.tar.gz\"]`"))
        }
        Some(globs) => output_globs(ctx, globs.get_ref(), is_dsc)?,
        None if is_dsc => {
            OutputGlobs::compile(DSC_OUTPUTS.map(String::from).to_vec()).map_err(|m| ctx.err(spanned, m))?
        }
        None => {
            return Err(ctx
                .err(spanned, "[build] has no `outputs`")
                .hint("list globs relative to the source dir, e.g. `outputs = [\"dist/*.tar.gz\"]`"))
        }
    };
    let mut env = BTreeMap::new();
    for (key, value) in &build.env {
        let k = key.get_ref();
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ctx
                .err(key, format!("`{k}` is not a valid environment variable name"))
                .hint("use letters, digits and underscores, not starting with a digit"));
        }
        if k.starts_with("REPROCHECK_") || k == "SOURCE_DATE_EPOCH" {
            return Err(ctx.err(key, format!("`{k}` is set by reprocheck itself")).hint(
                "set SOURCE_DATE_EPOCH with `build.source_date_epoch`; REPROCHECK_* names are reserved",
            ));
        }
        env.insert(k.clone(), value.get_ref().clone());
    }
    let timeout = match &build.timeout {
        Some(t) => {
            let parsed = humantime::parse_duration(t.get_ref()).map_err(|e| {
                ctx.err(t, format!("build.timeout `{}` is not a duration: {e}", t.get_ref()))
                    .hint("write durations like \"90s\", \"30m\" or \"1h 30m\"")
            })?;
            if parsed.is_zero() {
                return Err(ctx
                    .err(t, "build.timeout is zero")
                    .hint("give a positive duration like \"30m\""));
            }
            parsed
        }
        None => DEFAULT_TIMEOUT,
    };
    let is_git = matches!(origin, Origin::Git { .. });
    let source_date_epoch =
        match &build.source_date_epoch {
            // dpkg-buildpackage would take the changelog's date anyway; said
            // here, it is also what the report and the build directory carry.
            None if is_dsc => Some(SourceDateEpoch::Changelog),
            None => None,
            Some(v) => match v.get_ref() {
                toml::Value::Integer(i) if *i >= 0 => Some(SourceDateEpoch::Fixed(*i)),
                toml::Value::String(s) if s == "commit" && is_git => Some(SourceDateEpoch::Commit),
                toml::Value::String(s) if s == "changelog" => Some(SourceDateEpoch::Changelog),
                toml::Value::String(s) if s == "commit" => {
                    return Err(ctx
                        .err(v, "source_date_epoch = \"commit\" needs a git source")
                        .hint("give the epoch as an integer, e.g. `source_date_epoch = 1700000000`"))
                }
                _ => return Err(ctx
                    .err(
                        v,
                        "build.source_date_epoch must be a non-negative integer, \"commit\" or \"changelog\"",
                    )
                    .hint("e.g. `source_date_epoch = 1700000000` (seconds since 1970)")),
            },
        };
    Ok(Build { command, outputs, env, timeout, source_date_epoch })
}

/// The output globs, checked. A `dsc` source builds in its unpacked tree
/// and its outputs are read from the build directory above it, where
/// dpkg-buildpackage writes: `../*.deb` (as a build in the tree names
/// them) is taken as `*.deb`, once and no further up.
fn output_globs(ctx: &Ctx, globs: &[Spanned<String>], is_dsc: bool) -> Checked<OutputGlobs> {
    let mut outputs = Vec::new();
    for glob in globs {
        let text = glob.get_ref();
        let text = match text.strip_prefix("../") {
            Some(rest) if is_dsc => rest,
            _ => text.as_str(),
        };
        check_output_glob(text).map_err(|m| {
            let hint = match (is_dsc, glob.get_ref().starts_with("../")) {
                (true, _) => "a dsc source's outputs are relative to the build directory dpkg-buildpackage writes to, like `*.deb` (or `../*.deb`)",
                (false, true) => "outputs are globs relative to the source dir; a leading `../` is taken only for a `dsc` source, whose packages land beside its tree",
                (false, false) => "outputs are globs relative to the source dir, like `dist/*` or `out/**`",
            };
            ctx.err(glob, m).hint(hint)
        })?;
        outputs.push(text.to_string());
    }
    // Each compiled alone above; together they compile too.
    OutputGlobs::compile(outputs).map_err(|m| ctx.err(&globs[0], m))
}

/// An output glob must stay inside the source directory and compile.
fn check_output_glob(glob: &str) -> std::result::Result<(), String> {
    if glob.trim().is_empty() {
        return Err("an output glob is empty".into());
    }
    let path = Path::new(glob);
    if path.is_absolute() {
        return Err(format!("output glob `{glob}` is absolute; it must be relative to the source dir"));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("output glob `{glob}` uses `..` and would escape the source dir"));
    }
    OutputGlobs::compile(vec![glob.to_string()])?;
    Ok(())
}

fn validate_check(ctx: &Ctx, check: Option<&RawCheck>) -> Checked<Check> {
    let Some(check) = check else {
        return Ok(Check { runs: 2, vary: None });
    };
    let runs = match &check.runs {
        None => 2,
        Some(r) if (2..=MAX_RUNS).contains(r.get_ref()) => *r.get_ref() as u32,
        Some(r) => {
            return Err(ctx
                .err(r, format!("check.runs = {} is out of range", r.get_ref()))
                .hint(format!("compare at least 2 and at most {MAX_RUNS} runs")))
        }
    };
    let vary = match &check.vary {
        None => None,
        Some(list) => {
            let mut names = Vec::new();
            for name in list.get_ref() {
                let id = factors::check_name(name.get_ref())
                    .map_err(|m| ctx.err(name, m).hint("`reprocheck factors` lists them"))?;
                names.push(id);
            }
            Some(names)
        }
    };
    Ok(Check { runs, vary })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Checked<Spec> {
        validate(Path::new("t.toml"), text.to_string(), HostPaths::Confined)
    }

    const GOOD: &str = r#"
[image]
digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
[source]
path = "."
[build]
command = "make"
outputs = ["dist/*"]
"#;

    #[test]
    fn good_spec_parses_with_defaults() {
        let spec = parse(GOOD).unwrap();
        assert_eq!(spec.name, "t");
        assert_eq!(spec.check.runs, 2);
        assert_eq!(spec.build.timeout, DEFAULT_TIMEOUT);
        assert!(spec.sha256.as_str().starts_with("sha256:"));
    }

    #[test]
    fn unknown_key_is_located() {
        let err = parse(&GOOD.replace("command =", "comand =")).unwrap_err();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains("unknown field `comand`"), "{err}");
    }

    #[test]
    fn bad_digests_are_explained() {
        for (bad, fragment) in [
            ("sha512:00", "algorithm `sha512`"),
            ("sha256:abc", "3 hex digits"),
            (&format!("sha256:{}", "A".repeat(64)), "uppercase"),
            ("0123", "no algorithm prefix"),
        ] {
            let text =
                GOOD.replace("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", bad);
            let err = parse(&text).unwrap_err();
            assert!(err.message.contains(fragment), "{bad}: {err}");
            assert_eq!(err.line, 3);
        }
    }

    #[test]
    fn empty_outputs_and_escaping_globs_fail() {
        let err = parse(&GOOD.replace("[\"dist/*\"]", "[]")).unwrap_err();
        assert!(err.message.contains("outputs is empty"), "{err}");
        let err = parse(&GOOD.replace("dist/*", "../x")).unwrap_err();
        assert!(err.message.contains("escape"), "{err}");
        let err = parse(&GOOD.replace("dist/*", "/etc/*")).unwrap_err();
        assert!(err.message.contains("absolute"), "{err}");
    }

    #[test]
    fn missing_source_is_an_error() {
        let err = parse(&GOOD.replace("[source]\npath = \".\"\n", "")).unwrap_err();
        assert!(err.message.contains("no [source]"), "{err}");
        let err = parse(&GOOD.replace("path = \".\"", "path = \"no/such/dir\"")).unwrap_err();
        assert!(err.message.contains("cannot be read"), "{err}");
    }

    #[test]
    fn runs_and_vary_are_checked() {
        let err = parse(&format!("{GOOD}[check]\nruns = 1\n")).unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
        let err = parse(&format!("{GOOD}[check]\nvary = [\"users\"]\n")).unwrap_err();
        assert!(err.message.contains("users"), "{err}");
        let spec = parse(&format!("{GOOD}[check]\nruns = 3\nvary = [\"umask\"]\n")).unwrap();
        assert_eq!(spec.check.runs, 3);
        assert_eq!(spec.check.vary, Some(vec![crate::factors::FactorId::parse("umask").unwrap()]));
    }

    #[test]
    fn timeouts_and_epochs_parse() {
        let spec =
            parse(&GOOD.replace("make\"", "make\"\ntimeout = \"90s\"\nsource_date_epoch = 5")).unwrap();
        assert_eq!(spec.build.timeout.as_secs(), 90);
        assert_eq!(spec.build.source_date_epoch, Some(SourceDateEpoch::Fixed(5)));
        let err = parse(&GOOD.replace("make\"", "make\"\ntimeout = \"soon\"")).unwrap_err();
        assert!(err.message.contains("not a duration"), "{err}");
    }
}
