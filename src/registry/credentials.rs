//! Registry credentials, from the files the user's engine clients already
//! keep: Podman's `auth.json` and the Docker CLI's `config.json` (its
//! `auths`, and the credential helpers it names). reprocheck never asks for
//! or stores a password itself.

use crate::engine::endpoint::{self, Env};
use crate::errors::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// Where they were found, for messages (a file, or a helper).
    pub source: String,
}

impl Credentials {
    /// What the engine needs to pull with them.
    pub fn for_engine(&self) -> crate::engine::PullCredentials {
        crate::engine::PullCredentials { username: self.username.clone(), password: self.password.clone() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, not even in a debug log.
        write!(f, "Credentials({} from {})", self.username, self.source)
    }
}

/// The auth files to read, in the order Podman and then the Docker CLI would.
fn auth_files(env: &dyn Env) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(file) = env.var("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(file));
    }
    if let Some(runtime) = env.var("XDG_RUNTIME_DIR") {
        files.push(Path::new(&runtime).join("containers/auth.json"));
    }
    let config_home = env
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|home| Path::new(&home).join(".config")));
    if let Some(config) = config_home {
        files.push(config.join("containers/auth.json"));
    }
    if let Some(docker) = endpoint::config_dir(env) {
        files.push(docker.join("config.json"));
    }
    files
}

/// The credentials the user's configuration holds for `registry`
/// (`host[:port]`), or `None` (anonymous access).
pub fn for_registry(registry: &str, env: &dyn Env) -> Result<Option<Credentials>> {
    for file in auth_files(env) {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading registry credentials from {}", file.display()))
            }
        };
        let config: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()))?;
        if let Some(found) = from_config(&config, registry, &file)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The keys a config may file `registry` under.
fn keys_for(registry: &str) -> [String; 4] {
    [
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
    ]
}

fn from_config(config: &serde_json::Value, registry: &str, file: &Path) -> Result<Option<Credentials>> {
    let keys = keys_for(registry);
    // A helper named for this registry wins, as in the Docker CLI.
    if let Some(helper) = keys.iter().find_map(|k| config["credHelpers"][k].as_str()) {
        return from_helper(helper, registry).map(Some);
    }
    if let Some(entry) = keys.iter().map(|k| &config["auths"][k]).find(|e| e.is_object()) {
        if entry["identitytoken"].as_str().is_some_and(|t| !t.is_empty())
            && entry["auth"].as_str().is_none_or(str::is_empty)
        {
            bail!(
                "{}: {registry} is logged in with an identity token (OAuth refresh token), which reprocheck does not support\n\
                 help: log in with a user name and password or access token (`docker login {registry}`), or use `podman login`",
                file.display()
            );
        }
        if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
            let decoded = BASE64
                .decode(auth.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .with_context(|| {
                    format!("{}: the `auth` of {registry} is not base64 of user:password", file.display())
                })?;
            let (username, password) = decoded.split_once(':').with_context(|| {
                format!("{}: the `auth` of {registry} has no `:` between user and password", file.display())
            })?;
            return Ok(Some(Credentials {
                username: username.to_string(),
                password: password.to_string(),
                source: file.display().to_string(),
            }));
        }
        if let (Some(username), Some(password)) = (entry["username"].as_str(), entry["password"].as_str()) {
            return Ok(Some(Credentials {
                username: username.into(),
                password: password.into(),
                source: file.display().to_string(),
            }));
        }
    }
    if let Some(store) = config["credsStore"].as_str().filter(|s| !s.is_empty()) {
        // The store holds every registry the user logged in to; one it does not know is anonymous.
        return from_helper(store, registry).map(Some).or_else(|e| match e.downcast_ref::<NotStored>() {
            Some(_) => Ok(None),
            None => Err(e),
        });
    }
    Ok(None)
}

/// A credential helper that has nothing for the registry.
#[derive(Debug)]
struct NotStored;

impl std::fmt::Display for NotStored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the credential helper has no credentials for this registry")
    }
}

impl std::error::Error for NotStored {}

/// Asks `docker-credential-HELPER get`, the Docker CLI's protocol, with a
/// deadline so a helper waiting for a desktop prompt cannot hang a build.
fn from_helper(helper: &str, registry: &str) -> Result<Credentials> {
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("running the credential helper {program} that your Docker config names for {registry}")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(registry.as_bytes()).with_context(|| format!("writing to {program}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().with_context(|| format!("waiting for {program}"))? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{program} did not answer within 30 s for {registry}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take().map(|s| s.take(1 << 16).read_to_string(&mut out)).transpose()?;
    if !status.success() {
        if out.contains("credentials not found") {
            return Err(anyhow!(NotStored));
        }
        let said: String = out.trim().chars().take(300).collect();
        bail!("{program} failed for {registry} ({status}): {said}");
    }
    let answer: serde_json::Value = serde_json::from_str(&out)
        .with_context(|| format!("{program} answered something that is not JSON"))?;
    if answer["Username"].as_str() == Some("<token>") {
        bail!(
            "{program} holds an identity token (OAuth refresh token) for {registry}, which reprocheck does not support\n\
             help: log in with a user name and password or access token, or put them in $REGISTRY_AUTH_FILE"
        );
    }
    Ok(Credentials {
        username: answer["Username"].as_str().unwrap_or_default().to_string(),
        password: answer["Secret"].as_str().unwrap_or_default().to_string(),
        source: program,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct TestEnv(HashMap<&'static str, String>);

    impl Env for TestEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn podman_auth_files_come_before_docker_config_and_keys_may_carry_a_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        let docker = dir.path().join("docker");
        std::fs::create_dir_all(&docker).unwrap();
        std::fs::write(
            docker.join("config.json"),
            format!(
                r#"{{"auths": {{"https://reg.example": {{"auth": "{}"}}, "other.example": {{"auth": "{}"}}}}}}"#,
                BASE64.encode("docker-user:docker-pass"),
                BASE64.encode("o:p:with:colons")
            ),
        )
        .unwrap();
        std::fs::write(&podman, r#"{"auths": {"reg.example": {"username": "pod", "password": "secret"}}}"#)
            .unwrap();
        let mut vars = HashMap::new();
        vars.insert("DOCKER_CONFIG", docker.display().to_string());
        let env = TestEnv(vars.clone());
        let found = for_registry("reg.example", &env).unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("docker-user", "docker-pass"));
        let found = for_registry("other.example", &env).unwrap().unwrap();
        assert_eq!(found.password, "p:with:colons");
        assert!(for_registry("unknown.example", &env).unwrap().is_none());
        vars.insert("REGISTRY_AUTH_FILE", podman.display().to_string());
        let found = for_registry("reg.example", &TestEnv(vars)).unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("pod", "secret"));
        assert!(!format!("{found:?}").contains("secret"));
    }

    #[test]
    fn a_broken_auth_entry_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(&file, r#"{"auths": {"reg.example": {"auth": "not base64!"}}}"#).unwrap();
        let env = TestEnv([("REGISTRY_AUTH_FILE", file.display().to_string())].into_iter().collect());
        let err = format!("{:#}", for_registry("reg.example", &env).unwrap_err());
        assert!(err.contains("auth.json") && err.contains("base64"), "{err}");
    }
}
