//! Just enough of the OCI distribution API to read manifests: `GET
//! /v2/REPO/manifests/REF` with the registry's token or basic auth. Image
//! layers are never fetched here; the engine pulls them.
//!
//! Loopback registries are spoken to in plain HTTP, as Docker does by
//! default; every other registry over HTTPS with the system's roots.

use super::credentials::Credentials;
use super::reference::Reference;
use crate::digest::Digest;
use crate::errors::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};
use std::time::Duration;

/// The media types a manifest request accepts: image indexes and manifests,
/// OCI and Docker.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// The largest manifest or token answer read (the distribution registry's
/// own manifest limit is 4 MiB); a larger body is refused, not buffered.
const MAX_BODY: usize = 4 << 20;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A manifest as the registry served it, with the digest of its bytes.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// sha256 of the exact bytes served.
    pub digest: Digest,
    /// The Content-Type the registry gave (may be empty).
    pub media_type: String,
    /// The bytes.
    pub body: Bytes,
}

/// A client for one registry, with the user's credentials for it.
pub struct RegistryClient {
    http: crate::http::HttpsClient,
    credentials: Option<Credentials>,
}

impl RegistryClient {
    /// A client that authenticates with `credentials` when the registry asks.
    pub fn new(credentials: Option<Credentials>) -> Result<RegistryClient> {
        Ok(RegistryClient { http: crate::http::client()?, credentials })
    }

    /// The base URL of the registry's API.
    fn base(reference: &Reference) -> String {
        let scheme = if reference.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}", reference.registry, reference.repository)
    }

    /// Fetches the manifest `tag_or_digest` names in `reference`'s repository.
    pub async fn manifest(&self, reference: &Reference, tag_or_digest: &str) -> Result<Fetched> {
        let url = format!("{}/manifests/{tag_or_digest}", Self::base(reference));
        let (status, headers, body) = self.get_authorized(&url, reference).await?;
        if status == StatusCode::NOT_FOUND {
            bail!(
                "the registry {} has no manifest {tag_or_digest} in {} ({})",
                reference.registry,
                reference.repository,
                registry_error(&body)
            );
        }
        if !status.is_success() {
            bail!(
                "the registry {} answered {status} for {url}: {}",
                reference.registry,
                registry_error(&body)
            );
        }
        let media_type =
            headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let media_type = media_type.split(';').next().unwrap_or_default().trim().to_string();
        Ok(Fetched { digest: Digest::of_bytes(&body), media_type, body })
    }

    /// GET with the registry's auth dance: anonymous first, then the token
    /// (or basic) scheme its 401 names.
    async fn get_authorized(
        &self,
        url: &str,
        reference: &Reference,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let first = self.get(url, None).await?;
        if first.0 != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenge = first.1.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let authorization = match challenge.split_once(' ') {
            Some((scheme, params)) if scheme.eq_ignore_ascii_case("bearer") => {
                format!("Bearer {}", self.token(params, reference).await?)
            }
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => self.basic(reference)?,
            _ => bail!(
                "the registry {} refused access to {} (401) without saying how to authenticate",
                reference.registry,
                reference.repository
            ),
        };
        let answer = self.get(url, Some(&authorization)).await?;
        if answer.0 == StatusCode::UNAUTHORIZED || answer.0 == StatusCode::FORBIDDEN {
            bail!("{}", self.denied(reference, answer.0));
        }
        Ok(answer)
    }

    fn denied(&self, reference: &Reference, status: StatusCode) -> String {
        match &self.credentials {
            Some(c) => format!(
                "the registry {} refused the credentials of {} (from {}) for {} ({status})\n\
                 help: log in again (`docker login {}` or `podman login {}`), or check your access to the repository",
                reference.registry, c.username, c.source, reference.repository, reference.registry, reference.registry
            ),
            None => format!(
                "the registry {} needs credentials for {} ({status}), and none are configured for it\n\
                 help: `docker login {}` or `podman login {}`; reprocheck reads the credentials they store",
                reference.registry, reference.repository, reference.registry, reference.registry
            ),
        }
    }

    fn basic(&self, reference: &Reference) -> Result<String> {
        use base64::Engine as _;
        let c =
            self.credentials.as_ref().with_context(|| self.denied(reference, StatusCode::UNAUTHORIZED))?;
        let pair = format!("{}:{}", c.username, c.password);
        Ok(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
    }

    /// A pull token from the realm a Bearer challenge names.
    async fn token(&self, params: &str, reference: &Reference) -> Result<String> {
        let param = |name: &str| challenge_param(params, name);
        let realm = param("realm").with_context(|| {
            format!("the registry {}'s Bearer challenge names no realm: {params}", reference.registry)
        })?;
        // Credentials go to the token service only over HTTPS (or on loopback, with a loopback registry).
        let realm_is_loopback =
            Reference::parse(&format!("{}/x", realm_host(&realm))).is_ok_and(|r| r.is_loopback());
        let over_https = realm.starts_with("https://");
        let loopback_only = realm.starts_with("http://") && realm_is_loopback && reference.is_loopback();
        if !(over_https || loopback_only) {
            bail!(
                "the registry {} sends its token requests to {realm}, which is not HTTPS: refusing to send credentials there",
                reference.registry
            );
        }
        let scope = param("scope").unwrap_or_else(|| format!("repository:{}:pull", reference.repository));
        let separator = if realm.contains('?') { '&' } else { '?' };
        let mut url = format!("{realm}{separator}scope={}", url_encode(&scope));
        if let Some(service) = param("service") {
            url.push_str(&format!("&service={}", url_encode(&service)));
        }
        let authorization = match &self.credentials {
            Some(_) => Some(self.basic(reference)?),
            None => None,
        };
        let (status, _, body) = self.get(&url, authorization.as_deref()).await?;
        if !status.is_success() {
            bail!("{}", self.denied(reference, status));
        }
        let answer: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("the token service {realm} answered something that is not JSON"))?;
        answer["token"]
            .as_str()
            .or_else(|| answer["access_token"].as_str())
            .map(str::to_string)
            .with_context(|| format!("the token service {realm} answered no token"))
    }

    async fn get(
        &self,
        url: &str,
        authorization: Option<&str>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let mut request = Request::get(url).header(ACCEPT, MANIFEST_TYPES.join(", "));
        if let Some(authorization) = authorization {
            let mut value =
                HeaderValue::from_str(authorization).context("credentials with unusual characters")?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let request =
            request.body(Full::new(Bytes::new())).with_context(|| format!("building a request for {url}"))?;
        crate::http::read_answer(&self.http, request, url, MAX_BODY, REQUEST_TIMEOUT).await
    }
}

/// `host[:port]` of an http(s) URL.
fn realm_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// The message of a distribution error answer, else a short excerpt.
fn registry_error(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed.as_ref().and_then(|v| v["errors"][0]["message"].as_str()) {
        return message.to_string();
    }
    // Errors are printed with control characters replaced (main.rs).
    String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string()
}

/// One `name="value"` parameter of a WWW-Authenticate challenge.
fn challenge_param(params: &str, name: &str) -> Option<String> {
    let mut rest = params;
    while !rest.is_empty() {
        rest = rest.trim_start_matches([' ', ',']);
        let (key, after) = rest.split_once('=')?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_at(after.find(',').unwrap_or(after.len())),
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value.to_string());
        }
        rest = after;
    }
    None
}

fn url_encode(text: &str) -> String {
    crate::percent::encode(text, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quotes_and_commas() {
        let c = r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#;
        assert_eq!(challenge_param(c, "realm").as_deref(), Some("https://auth.example/token"));
        assert_eq!(challenge_param(c, "service").as_deref(), Some("registry.example"));
        assert_eq!(challenge_param(c, "scope").as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(challenge_param("realm=x, service=y", "service").as_deref(), Some("y"));
        assert_eq!(challenge_param(c, "missing"), None);
    }

    #[test]
    fn realm_hosts_are_read_from_the_url() {
        assert_eq!(realm_host("https://auth.example/token?x=1"), "auth.example");
        assert_eq!(realm_host("http://127.0.0.1:5000/token"), "127.0.0.1:5000");
    }

    #[test]
    fn scopes_are_url_encoded() {
        assert_eq!(url_encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
