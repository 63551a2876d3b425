//! The one HTTPS client setup: the system's root certificates through
//! rustls (already in the tree through bollard), used to read registry
//! manifests and the Python package index. Plain HTTP only where a caller
//! allows it (loopback registries and indexes, as tests run them). And the
//! one bounded read of a whole answer, which both callers use.

use crate::errors::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// An HTTP(S) client with the system's roots.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client that verifies servers against the system's root certificates
/// and gives up connecting after 20 s.
pub fn client() -> Result<HttpsClient> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A certificate the store cannot parse is skipped, as other clients do.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(20)));
    let https = HttpsConnector::from((http, config));
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// Sends `request` (to `url`) and reads the whole answer, at most
/// `max_body` bytes, all within `timeout`: a server can neither fill memory
/// nor hold the caller.
pub async fn read_answer(
    http: &HttpsClient,
    request: Request<Full<Bytes>>,
    url: &str,
    max_body: usize,
    timeout: Duration,
) -> Result<(StatusCode, HeaderMap, Bytes)> {
    let exchange = async {
        let response = http.request(request).await.with_context(|| format!("requesting {url}"))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| {
                anyhow!("reading the answer of {url}: {e} (answers are limited to {max_body} bytes)")
            })?
            .to_bytes();
        Ok::<_, Error>((parts.status, parts.headers, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow!("{url} did not answer within {} s", timeout.as_secs()))?
}
