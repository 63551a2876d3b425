//! Git sources: check the tag against the pinned commit, fetch the commit
//! into a cache, and check out exactly its tree.
//!
//! The git command line does the work: it is what every rebuilder already
//! trusts for fetching, and it speaks every transport a user's config does.

use crate::errors::*;
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};

/// Checks out `rev` of `url` into `dest` (created), after checking that
/// `tag`, when given, resolves to `rev` in the repository right now. Every
/// mtime is set to the commit time, as `git archive` does, so the tree is
/// the same on every machine. Returns the commit time.
pub fn checkout(url: &str, rev: &str, tag: Option<&str>, dest: &Path) -> Result<i64> {
    let cache_root = crate::paths::cache_dir("git")
        .context("neither XDG_CACHE_HOME nor HOME is set; cannot place the git cache")?;
    checkout_cached(&cache_root, url, rev, tag, dest)
}

fn checkout_cached(cache_root: &Path, url: &str, rev: &str, tag: Option<&str>, dest: &Path) -> Result<i64> {
    if let Some(tag) = tag {
        check_tag(url, rev, tag)?;
    }
    std::fs::create_dir_all(cache_root).with_context(|| format!("creating {}", cache_root.display()))?;
    let cache = cache_root.join(format!("{}.git", hex::encode(&Sha256::digest(url.as_bytes())[..12])));
    let _lock = lock(&cache)?;
    if !cache.join("HEAD").exists() {
        git(None, &["init", "--quiet", "--bare", path_str(&cache)?])?;
    }
    let git_dir = Some(cache.as_path());
    if !has_commit(&cache, rev)? {
        // Protocol v2 serves any reachable commit; older servers need every ref.
        let direct = git(git_dir, &["fetch", "--quiet", "--no-tags", "--", url, rev]);
        if direct.is_err() || !has_commit(&cache, rev)? {
            git(git_dir, &["fetch", "--quiet", "--no-tags", "--", url, "+refs/*:refs/reprocheck/*"])?;
        }
    }
    ensure!(
        has_commit(&cache, rev)?,
        "commit {rev} is not in {url}\n\
         help: check source.rev; `git ls-remote {url}` lists what the repository has"
    );
    let time = stdout(git(git_dir, &["show", "--no-patch", "--format=%ct", rev])?);
    let commit_time: i64 =
        time.trim().parse().with_context(|| format!("reading the commit time of {rev}"))?;
    if !stdout(git(git_dir, &["ls-tree", "-r", rev])?).lines().all(|l| !l.starts_with("160000 ")) {
        tracing::warn!("commit {rev} has submodules; they are not checked out");
    }
    std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    // A private index keeps concurrent checkouts from the same cache apart.
    let index = tempfile::NamedTempFile::new().context("creating a temporary git index")?;
    let with_index = |args: &[&str]| -> Result<Output> {
        let mut command = base_command(git_dir);
        command.env("GIT_INDEX_FILE", index.path()).arg("--work-tree").arg(dest).args(args);
        run(command, args)
    };
    with_index(&["read-tree", rev])?;
    with_index(&["checkout-index", "--all", "--force"])?;
    set_mtimes(dest, commit_time)?;
    Ok(commit_time)
}

/// Fails, naming both commits, unless `tag` in `url` resolves to `rev`.
fn check_tag(url: &str, rev: &str, tag: &str) -> Result<()> {
    let refname = format!("refs/tags/{tag}");
    let peeled = format!("{refname}^{{}}");
    let listing = stdout(git(None, &["ls-remote", "--tags", "--", url, &refname, &peeled])?);
    let mut direct = None;
    let mut commit = None;
    for line in listing.lines() {
        match line.split_once('\t') {
            Some((sha, name)) if name == peeled => commit = Some(sha.to_string()),
            Some((sha, name)) if name == refname => direct = Some(sha.to_string()),
            _ => {}
        }
    }
    // An annotated tag's own id is not the commit: prefer the peeled line.
    let Some(resolved) = commit.or(direct) else {
        bail!(
            "tag {tag} does not exist in {url}\n\
             help: check source.tag, or remove it to build the pinned rev {rev} without a tag check"
        );
    };
    ensure!(
        resolved == rev,
        "tag {tag} in {url} resolves to commit {resolved}, but source.rev pins {rev}\n\
         help: the tag may have been moved; find out why before trusting either commit, \
         then update `rev` or `tag` deliberately"
    );
    Ok(())
}

fn has_commit(cache: &Path, rev: &str) -> Result<bool> {
    let mut command = base_command(Some(cache));
    command.args(["cat-file", "-e", &format!("{rev}^{{commit}}")]);
    let output = command.output().context("running git (is it installed? `apt install git`)")?;
    Ok(output.status.success())
}

/// Holds an exclusive lock on the cache repository while it is used.
fn lock(cache: &Path) -> Result<File> {
    let path = cache.with_extension("lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; blocks until the other user is done.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0;
    ensure!(locked, "cannot lock the git cache {}", path.display());
    Ok(file)
}

/// The variables git keeps from the caller's environment: where programs
/// and the user's ssh setup are, and the network's proxies. Anything else
/// (`GIT_DIR`, `GIT_CONFIG_*`, `GIT_SSH_COMMAND`, ...) could point git
/// elsewhere or run a command, so it is dropped.
const KEPT_ENVIRONMENT: [&str; 10] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Transports a source may use; everything else (`ext::`, `fd::`, remote
/// helpers) is refused by git itself.
const ALLOWED_PROTOCOLS: [&str; 5] = ["file", "git", "http", "https", "ssh"];

/// An empty directory of our own for git to run in: a repository in the
/// caller's working directory (and its `.git/config`) is never read.
fn neutral_dir() -> Result<&'static Path> {
    static DIR: std::sync::OnceLock<std::result::Result<tempfile::TempDir, String>> =
        std::sync::OnceLock::new();
    match DIR.get_or_init(|| {
        tempfile::Builder::new().prefix("reprocheck-git-").tempdir().map_err(|e| e.to_string())
    }) {
        Ok(dir) => Ok(dir.path()),
        Err(e) => bail!("creating an empty directory to run git in: {e}"),
    }
}

/// git in a clean environment: run in an empty directory of ours, with no
/// system or global config and no config from the caller's working
/// directory, hooks and fsmonitor off, only the transports in
/// [`ALLOWED_PROTOCOLS`], no prompts, and our git dir.
fn base_command(git_dir: Option<&Path>) -> Command {
    let mut command = Command::new("git");
    command.env_clear();
    for key in KEPT_ENVIRONMENT {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    // Discovery never climbs out of the empty directory (or the root,
    // should a temporary directory be impossible to make).
    let dir = neutral_dir().unwrap_or(Path::new("/"));
    command.current_dir(dir).env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap_or(dir));
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["-c", "protocol.allow=never"]);
    for protocol in ALLOWED_PROTOCOLS {
        command.arg("-c").arg(format!("protocol.{protocol}.allow=always"));
    }
    command.args([
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "core.autocrlf=false",
        "-c",
        "core.symlinks=true",
    ]);
    if let Some(dir) = git_dir {
        command.arg("--git-dir").arg(dir);
    }
    command
}

fn git(git_dir: Option<&Path>, args: &[&str]) -> Result<Output> {
    let mut command = base_command(git_dir);
    command.args(args);
    run(command, args)
}

fn run(mut command: Command, args: &[&str]) -> Result<Output> {
    let output = command.output().context("running git (is it installed? `apt install git`)")?;
    ensure!(
        output.status.success(),
        "`git {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(output)
}

fn stdout(output: Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not valid UTF-8", path.display()))
}

/// Sets every entry's mtime (not following symlinks) to `time`.
fn set_mtimes(dir: &Path, time: i64) -> Result<()> {
    let time = filetime::FileTime::from_unix_time(time, 0);
    for entry in walkdir::WalkDir::new(dir).contents_first(true) {
        let entry = entry.with_context(|| format!("walking {}", dir.display()))?;
        filetime::set_symlink_file_times(entry.path(), time, time)
            .with_context(|| format!("setting the mtime of {}", entry.path().display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let sh = |script: &str| {
            let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir.path()).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        sh("git init -q r && cd r && echo one > f && mkdir d && ln -s ../f d/l && git add -A \
            && GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=t -c user.email=t@t commit -qm one \
            && git tag v1 && git tag -a -m annotated v1a");
        let first = sh("git -C r rev-parse HEAD");
        sh("cd r && echo two > f && git -c user.name=t -c user.email=t@t commit -qam two && git tag v2");
        let second = sh("git -C r rev-parse HEAD");
        (dir, first, second)
    }

    #[test]
    fn checks_out_an_older_commit_with_its_time_and_links() {
        let (dir, first, _) = repo();
        let url = dir.path().join("r").display().to_string();
        let dest = dir.path().join("tree");
        let time = checkout_cached(&dir.path().join("cache"), &url, &first, Some("v1a"), &dest).unwrap();
        assert_eq!(time, 1_700_000_000);
        assert_eq!(std::fs::read_to_string(dest.join("f")).unwrap(), "one\n");
        assert_eq!(std::fs::read_link(dest.join("d/l")).unwrap(), Path::new("../f"));
        assert!(!dest.join(".git").exists());
        let mtime = std::fs::metadata(dest.join("f")).unwrap().modified().unwrap();
        assert_eq!(mtime, std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000));
    }

    #[test]
    fn a_tag_elsewhere_names_both_commits() {
        let (dir, first, second) = repo();
        let url = dir.path().join("r").display().to_string();
        let err = check_tag(&url, &first, "v2").unwrap_err().to_string();
        assert!(err.contains(&first) && err.contains(&second), "{err}");
        let err = check_tag(&url, &first, "nope").unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        check_tag(&url, &first, "v1").unwrap();
    }
}
