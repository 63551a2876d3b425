//! The Python package index, read through its JSON simple API (PEP 691,
//! with PEP 700's `upload-time`): which files a project has, their sha256
//! as the index states it, and the files themselves, each checked against
//! that digest while it downloads.
//!
//! Which index: `--index-url`, else pip's own configuration (PIP_INDEX_URL,
//! pip's config files), else pip's built-in default, asked of the host's
//! pip at run time: no index is named in this code.

use crate::digest::Digest;
use crate::errors::*;
use crate::image::python::normalise;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, LOCATION};
use hyper::{Request, StatusCode};
use sha2::Digest as _;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The JSON form of the simple API.
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// Largest project page read (the largest projects' pages are a few MiB).
const MAX_PAGE: usize = 64 << 20;

/// Largest file downloaded: sdists and wheels of pure-Python projects are
/// far smaller; a bigger one is refused, not stored.
const MAX_FILE: u64 = 512 << 20;

/// How long one page request may take; a download may take this per MiB.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Redirects followed for one file.
const MAX_REDIRECTS: usize = 5;

/// One file of a project, as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The file name (an sdist or a wheel).
    pub filename: String,
    /// Where to download it (absolute).
    pub url: String,
    /// The sha256 the index states for it.
    pub sha256: Digest,
    /// When it was uploaded (RFC 3339), when the index says.
    pub upload_time: Option<String>,
    /// Its Requires-Python, when the index says.
    pub requires_python: Option<String>,
    /// Whether it is yanked.
    pub yanked: bool,
}

/// A package index's simple API.
pub struct Index {
    base: String,
    http: crate::http::HttpsClient,
}

impl Index {
    /// The index at `url` (its simple API's root).
    pub fn at(url: &str) -> Result<Index> {
        let base = url.trim_end_matches('/').to_string();
        ensure!(
            base.starts_with("https://") || (base.starts_with("http://") && is_loopback_url(&base)),
            "the package index {base} is not HTTPS: refusing to trust the files it lists\n\
             help: give an https:// index (plain HTTP only on this machine's loopback)"
        );
        Ok(Index { base, http: crate::http::client()? })
    }

    /// The index `explicit` names, else the one pip is configured for.
    pub fn locate(explicit: Option<&str>) -> Result<Index> {
        match explicit {
            Some(url) => Index::at(url),
            None => Index::at(&pips_index()?),
        }
    }

    /// The simple API's root.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Every file the index lists for `project`.
    pub async fn files(&self, project: &str) -> Result<Vec<IndexFile>> {
        let page = format!("{}/{}/", self.base, normalise(project));
        let (status, body) = self.get_page(&page).await?;
        if status == StatusCode::NOT_FOUND {
            return super::super::not_inferable(format!(
                "the package index {} has no project `{project}`",
                self.base
            ));
        }
        ensure!(status.is_success(), "the package index answered {status} for {page}");
        parse_project_page(&body, &page)
    }

    /// Downloads `file` to `dest`, checking its sha256 against the
    /// index's while it streams; `dest` is only there when it matched.
    pub async fn download(&self, file: &IndexFile, dest: &Path) -> Result<()> {
        let partial = dest.with_extension("partial");
        let result = self.download_to(file, &partial).await;
        match result {
            Ok(()) => std::fs::rename(&partial, dest)
                .with_context(|| format!("moving {} into place", dest.display())),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    async fn download_to(&self, file: &IndexFile, partial: &Path) -> Result<()> {
        let mut url = file.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let request = Request::get(&url)
                .body(Full::new(Bytes::new()))
                .with_context(|| format!("building a request for {url}"))?;
            let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(request))
                .await
                .map_err(|_| anyhow!("{url} did not answer within {} s", REQUEST_TIMEOUT.as_secs()))?
                .with_context(|| format!("requesting {url}"))?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .with_context(|| format!("{url} redirected without a Location"))?;
                url = join_url(&url, location);
                ensure!(
                    url.starts_with("https://") || is_loopback_url(&url),
                    "{} redirected to {url}, which is not HTTPS",
                    file.url
                );
                continue;
            }
            ensure!(
                response.status().is_success(),
                "downloading {url}: the server answered {}",
                response.status()
            );
            let mut body = response.into_body();
            let mut out =
                std::fs::File::create(partial).with_context(|| format!("creating {}", partial.display()))?;
            let mut hasher = sha2::Sha256::new();
            let mut size = 0u64;
            let started = tokio::time::Instant::now();
            loop {
                // Slow is allowed, stalled is not: each chunk within the timeout.
                let frame = tokio::time::timeout(REQUEST_TIMEOUT, body.frame())
                    .await
                    .map_err(|_| anyhow!("{url} stalled for {} s", REQUEST_TIMEOUT.as_secs()))?;
                let Some(frame) = frame else { break };
                let frame = frame.with_context(|| format!("reading {url}"))?;
                if let Ok(data) = frame.into_data() {
                    size += data.len() as u64;
                    ensure!(
                        size <= MAX_FILE,
                        "{} is larger than {MAX_FILE} bytes: refusing to download it",
                        file.filename
                    );
                    hasher.update(&data);
                    out.write_all(&data).with_context(|| format!("writing {}", partial.display()))?;
                }
            }
            out.sync_all().with_context(|| format!("writing {}", partial.display()))?;
            let got = Digest::from_sha256(&hasher.finalize());
            ensure!(
                got == file.sha256,
                "{} downloaded from {url} has {got}, but the index states {}: not using it",
                file.filename,
                file.sha256
            );
            tracing::info!(
                "downloaded {} ({size} bytes) in {:.1} s",
                file.filename,
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        bail!("{} redirected more than {MAX_REDIRECTS} times", file.url)
    }

    async fn get_page(&self, url: &str) -> Result<(StatusCode, Bytes)> {
        let request = Request::get(url)
            .header(ACCEPT, SIMPLE_JSON)
            .body(Full::new(Bytes::new()))
            .with_context(|| format!("building a request for {url}"))?;
        let (status, _, body) =
            crate::http::read_answer(&self.http, request, url, MAX_PAGE, REQUEST_TIMEOUT).await?;
        Ok((status, body))
    }
}

/// Reads a project page: the JSON simple API (PEP 691), or, from an index
/// that serves only HTML (PEP 503), its links (no upload times then); file
/// URLs are made absolute against `page`.
pub fn parse_project_page(body: &[u8], page: &str) -> Result<Vec<IndexFile>> {
    let looks_like_html = || {
        let head = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
        head.contains("<html") || head.contains("<a ")
    };
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) if looks_like_html() => return Ok(parse_html_page(&String::from_utf8_lossy(body), page)),
        Err(e) => bail!(
            "{page} is neither the JSON simple API (PEP 691) nor its HTML form (PEP 503): {e}\n\
             help: give the index's simple API root with --index-url"
        ),
    };
    let files = value["files"].as_array().with_context(|| format!("{page} lists no `files`"))?;
    let mut out = Vec::new();
    for file in files {
        let (Some(filename), Some(url)) = (file["filename"].as_str(), file["url"].as_str()) else {
            continue;
        };
        // A file without a sha256 cannot be checked, so it cannot be used.
        let Some(hex) = file["hashes"]["sha256"].as_str() else { continue };
        let Ok(sha256) = Digest::parse(&format!("sha256:{}", hex.to_ascii_lowercase())) else { continue };
        out.push(IndexFile {
            filename: filename.to_string(),
            url: join_url(page, url),
            sha256,
            upload_time: file["upload-time"].as_str().map(str::to_string),
            requires_python: file["requires-python"].as_str().map(str::to_string),
            // `yanked` is false or a reason (a string).
            yanked: !matches!(file["yanked"], serde_json::Value::Null | serde_json::Value::Bool(false)),
        });
    }
    Ok(out)
}

/// The links of a PEP 503 page: `<a href="URL#sha256=HEX"
/// data-requires-python="…" data-yanked>FILE</a>`. A link without a
/// sha256 fragment cannot be checked, so it is left out.
fn parse_html_page(html: &str, page: &str) -> Vec<IndexFile> {
    let mut files = Vec::new();
    for anchor in html.split("<a ").skip(1) {
        let Some((attributes, rest)) = anchor.split_once('>') else { continue };
        let Some(filename) = rest.split("</a>").next().map(|t| html_unescape(t.trim())) else { continue };
        let Some(href) = attribute(attributes, "href") else { continue };
        let (url, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let Some(hex) = fragment.strip_prefix("sha256=") else { continue };
        let Ok(sha256) = Digest::parse(&format!("sha256:{}", hex.to_ascii_lowercase())) else { continue };
        files.push(IndexFile {
            filename,
            url: join_url(page, url),
            sha256,
            upload_time: None,
            requires_python: attribute(attributes, "data-requires-python"),
            yanked: attributes.contains("data-yanked"),
        });
    }
    files
}

/// An attribute's value in an HTML tag (double or single quotes), unescaped.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let at = attributes.find(&format!("{name}="))? + name.len() + 1;
    let rest = &attributes[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    Some(html_unescape(value))
}

fn html_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `reference` resolved against `base` (absolute URLs, `//host/...`,
/// `/path` and relative paths).
fn join_url(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(network) = reference.strip_prefix("//") {
        return format!("{scheme}://{network}");
    }
    let host = rest.split('/').next().unwrap_or(rest);
    if reference.starts_with('/') {
        return format!("{scheme}://{host}{reference}");
    }
    let directory = match base.rfind('/') {
        Some(at) if at > scheme.len() + 2 => &base[..=at],
        _ => return format!("{base}/{reference}"),
    };
    // `../` steps are resolved against the directory.
    let mut parts: Vec<&str> = directory.trim_end_matches('/').split('/').collect();
    let mut rest = reference;
    while let Some(after) = rest.strip_prefix("../") {
        if parts.len() > 3 {
            parts.pop();
        }
        rest = after;
    }
    format!("{}/{}", parts.join("/"), rest.trim_start_matches("./"))
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The index pip on this host is configured for: PIP_INDEX_URL, else pip's
/// configuration files, else pip's built-in default.
fn pips_index() -> Result<String> {
    if let Ok(url) = std::env::var("PIP_INDEX_URL") {
        if !url.trim().is_empty() {
            return Ok(url.trim().to_string());
        }
    }
    let listed = std::process::Command::new("python3")
        .args(["-m", "pip", "config", "list"])
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .output()
        .map_err(|e| anyhow!("cannot run `python3 -m pip`: {e}\nhelp: install pip, or give --index-url"))?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    for section in ["download", "install", "global"] {
        if let Some(url) = config_value(&listed, &format!("{section}.index-url")) {
            return Ok(url);
        }
    }
    let default = std::process::Command::new("python3")
        .args(["-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"])
        .output()
        .map_err(|e| anyhow!("cannot run python3: {e}\nhelp: give --index-url"))?;
    let url = String::from_utf8_lossy(&default.stdout).trim().to_string();
    ensure!(
        default.status.success() && url.contains("://"),
        "cannot tell which package index pip uses (no index-url in its configuration, and its default could not be read)\n\
         help: give --index-url"
    );
    Ok(url)
}

/// `KEY='value'` from `pip config list`.
fn config_value(listed: &str, key: &str) -> Option<String> {
    listed.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(value.trim().trim_matches('\'').trim_matches('"').to_string()).filter(|v| !v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_pages_give_absolute_urls_and_index_digests() {
        let page = r#"{"meta":{"api-version":"1.1"},"name":"idna","files":[
          {"filename":"idna-3.10-py3-none-any.whl","url":"../../packages/ab/idna-3.10-py3-none-any.whl",
           "hashes":{"sha256":"946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3"},
           "requires-python":">=3.6","yanked":false,"upload-time":"2024-09-15T18:07:37.964349Z"},
          {"filename":"idna-0.1.tar.gz","url":"https://files.example/idna-0.1.tar.gz","hashes":{"md5":"00"}},
          {"filename":"idna-3.0.tar.gz","url":"/x/idna-3.0.tar.gz","hashes":{"sha256":"946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3"},"yanked":"broken"}
        ]}"#;
        let files = parse_project_page(page.as_bytes(), "https://index.example/simple/idna/").unwrap();
        assert_eq!(files.len(), 2, "a file with no sha256 cannot be used");
        assert_eq!(files[0].url, "https://index.example/packages/ab/idna-3.10-py3-none-any.whl");
        assert_eq!(files[0].upload_time.as_deref(), Some("2024-09-15T18:07:37.964349Z"));
        assert!(!files[0].yanked);
        assert_eq!(files[1].url, "https://index.example/x/idna-3.0.tar.gz");
        assert!(files[1].yanked);
        let err = parse_project_page(b"not an index", "https://index.example/simple/idna/").unwrap_err();
        assert!(format!("{err:#}").contains("PEP 691"), "{err:#}");
    }

    #[test]
    fn html_pages_give_their_checked_links() {
        let page = "<!DOCTYPE html><html><body>\n\
            <a href=\"../../packages/ab/idna-3.10.tar.gz#sha256=946D195A0D259CBBA61165E88E65941F16E9B36EA6DDB97F00452BAE8B1287D3\" data-requires-python=\"&gt;=3.6\">idna-3.10.tar.gz</a><br/>\n\
            <a href='https://files.example/idna-0.1.tar.gz#md5=00'>idna-0.1.tar.gz</a>\n\
            <a href=\"idna-3.0.tar.gz#sha256=946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3\" data-yanked=\"\">idna-3.0.tar.gz</a>\n\
            </body></html>";
        let files = parse_project_page(page.as_bytes(), "https://index.example/simple/idna/").unwrap();
        assert_eq!(files.len(), 2, "a link without a sha256 cannot be used");
        assert_eq!(files[0].filename, "idna-3.10.tar.gz");
        assert_eq!(files[0].url, "https://index.example/packages/ab/idna-3.10.tar.gz");
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.6"));
        assert_eq!(files[0].sha256.hex(), "946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3");
        assert!(files[0].upload_time.is_none() && !files[0].yanked);
        assert_eq!(files[1].url, "https://index.example/simple/idna/idna-3.0.tar.gz");
        assert!(files[1].yanked);
    }

    #[test]
    fn only_https_or_loopback_indexes_are_trusted() {
        assert!(Index::at("http://index.example/simple").is_err());
        assert!(Index::at("http://127.0.0.1:8080/simple").is_ok());
        assert!(Index::at("https://index.example/simple/").is_ok());
    }

    #[test]
    fn pip_config_values_are_read() {
        let listed =
            "global.cert='/etc/ssl/certs/ca.crt'\nglobal.index-url='https://mirror.example/simple'\n";
        assert_eq!(
            config_value(listed, "global.index-url").as_deref(),
            Some("https://mirror.example/simple")
        );
        assert_eq!(config_value(listed, "install.index-url"), None);
    }
}
