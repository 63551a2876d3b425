//! Where the Docker API is, by the Docker CLI's conventions: `--engine-socket`,
//! then `DOCKER_HOST`, then the Docker context (`DOCKER_CONTEXT`, else the
//! `currentContext` of `$DOCKER_CONFIG/config.json`), then the default socket.
//! TLS material for `tcp://` follows `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH`, or the context's own TLS directory.

use crate::errors::*;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Where Docker listens when nothing else is configured.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The three PEM files of a TLS client, as the Docker CLI names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signed the daemon's certificate.
    pub ca: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, each of which must exist.
    fn in_dir(dir: &Path, why: &str) -> Result<TlsFiles> {
        let files = TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
        for file in [&files.ca, &files.cert, &files.key] {
            ensure!(
                file.is_file(),
                "{why}, but {} does not exist\n\
                 help: put the CA, the client certificate and its key there as ca.pem, cert.pem and key.pem \
                 (or point DOCKER_CERT_PATH at the directory that holds them)",
                file.display()
            );
        }
        Ok(files)
    }
}

/// The environment the resolution reads, passed in so tests need not set
/// the process's variables.
pub trait Env {
    /// The variable's value, when set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// `$DOCKER_CONFIG`, else `~/.docker`.
pub(crate) fn config_dir(env: &dyn Env) -> Option<PathBuf> {
    env.var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".docker")))
}

/// The endpoint to use when no `--engine-socket` is given.
pub fn from_environment(env: &dyn Env) -> Result<String> {
    if let Some(host) = env.var("DOCKER_HOST") {
        return Ok(host);
    }
    match current_context(env)? {
        Some(name) => context_host(env, &name),
        None => Ok(DEFAULT_HOST.to_string()),
    }
}

/// The context named by `DOCKER_CONTEXT` or config.json, unless it is `default`.
fn current_context(env: &dyn Env) -> Result<Option<String>> {
    let name = match env.var("DOCKER_CONTEXT") {
        Some(name) => name,
        None => {
            let Some(config) = config_dir(env).map(|d| d.join("config.json")) else { return Ok(None) };
            let Ok(text) = std::fs::read_to_string(&config) else { return Ok(None) };
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("reading the Docker CLI configuration {}", config.display()))?;
            match json["currentContext"].as_str() {
                Some(name) if !name.is_empty() => name.to_string(),
                _ => return Ok(None),
            }
        }
    };
    Ok((name != "default").then_some(name))
}

/// Where the Docker CLI keeps a context's files: `contexts/KIND/SHA256(name)`.
fn context_dir(env: &dyn Env, kind: &str, name: &str) -> Result<PathBuf> {
    let config = config_dir(env)
        .context("cannot find the Docker configuration directory (set DOCKER_CONFIG or HOME)")?;
    Ok(config.join("contexts").join(kind).join(hex::encode(Sha256::digest(name.as_bytes()))))
}

/// The Docker endpoint of context `name`.
fn context_host(env: &dyn Env, name: &str) -> Result<String> {
    let meta = context_dir(env, "meta", name)?.join("meta.json");
    let text = std::fs::read_to_string(&meta).with_context(|| {
        format!(
            "the Docker context {name:?} (from DOCKER_CONTEXT or config.json) has no {}\n\
             help: `docker context ls` lists the contexts; `docker context use default` returns to the local socket",
            meta.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("reading the Docker context {}", meta.display()))?;
    json["Endpoints"]["docker"]["Host"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .with_context(|| format!("the Docker context {name:?} ({}) names no docker endpoint", meta.display()))
}

/// The TLS files for `host`, or `None` for plain HTTP. Only `tcp://` and
/// `https://` endpoints use TLS: with `DOCKER_TLS_VERIFY` set, from
/// `DOCKER_CERT_PATH` (else the configuration directory); else from the
/// current context's TLS directory when the context names this host.
pub fn tls_files(env: &dyn Env, host: &str) -> Result<Option<TlsFiles>> {
    if !(host.starts_with("tcp://") || host.starts_with("https://")) {
        return Ok(None);
    }
    if env.var("DOCKER_TLS_VERIFY").is_some() {
        let dir = env
            .var("DOCKER_CERT_PATH")
            .map(PathBuf::from)
            .or_else(|| config_dir(env))
            .context("DOCKER_TLS_VERIFY is set, but neither DOCKER_CERT_PATH nor HOME is")?;
        return TlsFiles::in_dir(&dir, "DOCKER_TLS_VERIFY is set").map(Some);
    }
    if env.var("DOCKER_HOST").is_none() {
        if let Some(name) = current_context(env)? {
            let dir = context_dir(env, "tls", &name)?.join("docker");
            if context_host(env, &name)? == host && dir.is_dir() {
                return TlsFiles::in_dir(&dir, &format!("the Docker context {name:?} has TLS material"))
                    .map(Some);
            }
        }
    }
    if host.starts_with("https://") {
        bail!("{host} asks for TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem");
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Vars(BTreeMap<&'static str, String>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn docker_host_wins_then_the_context_then_the_default_socket() {
        let config = tempfile::tempdir().unwrap();
        let mut vars = Vars(BTreeMap::from([("DOCKER_CONFIG", config.path().display().to_string())]));
        assert_eq!(from_environment(&vars).unwrap(), DEFAULT_HOST);

        // `docker context create remote --docker host=ssh://...` then `docker context use remote`.
        let id = hex::encode(Sha256::digest(b"remote"));
        write(
            &config.path().join(format!("contexts/meta/{id}/meta.json")),
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"ssh://builder@127.0.0.1:2222","SkipTLSVerify":false}}}"#,
        );
        write(&config.path().join("config.json"), r#"{"currentContext":"remote"}"#);
        assert_eq!(from_environment(&vars).unwrap(), "ssh://builder@127.0.0.1:2222");

        vars.0.insert("DOCKER_CONTEXT", "default".into());
        assert_eq!(from_environment(&vars).unwrap(), DEFAULT_HOST);
        vars.0.insert("DOCKER_CONTEXT", "missing".into());
        let error = format!("{:#}", from_environment(&vars).unwrap_err());
        assert!(error.contains("\"missing\"") && error.contains("docker context ls"), "{error}");
        vars.0.insert("DOCKER_HOST", "tcp://127.0.0.1:2376".into());
        assert_eq!(from_environment(&vars).unwrap(), "tcp://127.0.0.1:2376");
    }

    #[test]
    fn tls_follows_docker_tls_verify_and_names_a_missing_file() {
        let certs = tempfile::tempdir().unwrap();
        let mut vars = Vars(BTreeMap::from([("DOCKER_CERT_PATH", certs.path().display().to_string())]));
        assert_eq!(
            tls_files(&vars, "tcp://127.0.0.1:2376").unwrap(),
            None,
            "plain HTTP without DOCKER_TLS_VERIFY"
        );
        vars.0.insert("DOCKER_TLS_VERIFY", "1".into());
        assert_eq!(tls_files(&vars, "unix:///var/run/docker.sock").unwrap(), None);
        assert_eq!(tls_files(&vars, "ssh://u@127.0.0.1").unwrap(), None);
        for name in ["ca.pem", "cert.pem"] {
            write(&certs.path().join(name), "x");
        }
        let error = format!("{:#}", tls_files(&vars, "tcp://127.0.0.1:2376").unwrap_err());
        assert!(error.contains("key.pem does not exist") && error.contains("DOCKER_TLS_VERIFY"), "{error}");
        write(&certs.path().join("key.pem"), "x");
        let files = tls_files(&vars, "tcp://127.0.0.1:2376").unwrap().unwrap();
        assert_eq!(files.key, certs.path().join("key.pem"));
    }

    #[test]
    fn a_context_brings_its_own_tls_material() {
        let config = tempfile::tempdir().unwrap();
        let vars = Vars(BTreeMap::from([
            ("DOCKER_CONFIG", config.path().display().to_string()),
            ("DOCKER_CONTEXT", "tls".to_string()),
        ]));
        let id = hex::encode(Sha256::digest(b"tls"));
        write(
            &config.path().join(format!("contexts/meta/{id}/meta.json")),
            r#"{"Name":"tls","Endpoints":{"docker":{"Host":"tcp://127.0.0.1:2376"}}}"#,
        );
        for name in ["ca.pem", "cert.pem", "key.pem"] {
            write(&config.path().join(format!("contexts/tls/{id}/docker/{name}")), "x");
        }
        let host = from_environment(&vars).unwrap();
        let files = tls_files(&vars, &host).unwrap().expect("the context's TLS files");
        assert!(files.ca.ends_with(format!("contexts/tls/{id}/docker/ca.pem")), "{files:?}");
    }
}
