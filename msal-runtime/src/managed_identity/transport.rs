//! HTTP for managed identity sources: plain reqwest for the local endpoints, and HTTPS pinned
//! to a SHA-1 certificate thumbprint (no CA, no host name check) for Service Fabric.

use super::ManagedIdentitySource;
use super::{ManagedIdentityError, ManagedIdentityErrorKind};
use crate::error::{strip_query, Error, HttpErrorKind, Result};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use openssl::hash::MessageDigest;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use std::pin::Pin;
use std::time::Duration;
use url::Url;

/// Largest response body read from a source.
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// One request to a source. Header values may be secrets: never logged.
#[derive(Clone)]
pub(crate) struct MiRequest {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub form: Vec<(String, String)>,
}

impl MiRequest {
    pub(crate) fn get(url: Url) -> Self {
        MiRequest {
            method: Method::Get,
            url,
            headers: Vec::new(),
            form: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The URL without its query, for messages.
    pub(crate) fn display_url(&self) -> String {
        strip_query(self.url.as_str())
    }
}

/// A source's answer.
#[derive(Debug, Clone)]
pub(crate) struct MiResponse {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl MiResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn retry_after(&self) -> Option<u64> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The reqwest client used for every source but Service Fabric: no proxy (the endpoints are
/// link-local or loopback), no redirects (a redirect would resend the identity header).
pub(crate) fn plain_client() -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("msal-rust/", env!("CARGO_PKG_VERSION")));
    crate::http::with_system_tls(builder)?
        .build()
        .map_err(|e| Error::config("http_client", format!("cannot build the HTTP client: {e}")))
}

pub(crate) async fn send_plain(
    client: &reqwest::Client,
    req: &MiRequest,
    timeout: Duration,
) -> Result<MiResponse> {
    let url = req.display_url();
    let mut rb = match req.method {
        Method::Get => client.get(req.url.clone()),
        Method::Post => client.post(req.url.clone()).form(&req.form),
    };
    rb = rb.timeout(timeout);
    for (k, v) in &req.headers {
        rb = rb.header(*k, v.as_str());
    }
    let mut resp = rb
        .send()
        .await
        .map_err(|e| crate::http::transport_error(&url, e))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::http::transport_error(&url, e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Error::invalid_response(
                &url,
                "the response body is larger than 256 KiB",
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(MiResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn io_error(url: &str, kind: HttpErrorKind, detail: impl Into<String>) -> Error {
    Error::Http {
        url: strip_query(url),
        status: None,
        kind,
        detail: detail.into(),
        source: None,
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `req` over HTTPS to a server whose leaf certificate's SHA-1 is `thumbprint` (40
/// lower-case hex). CA and host name are not checked; the certificate is compared right after
/// the handshake, and on a mismatch the connection is closed before any HTTP byte is written.
pub(crate) async fn send_pinned(
    req: &MiRequest,
    thumbprint: &str,
    timeout: Duration,
) -> Result<MiResponse> {
    let url = req.display_url();
    match tokio::time::timeout(timeout, send_pinned_inner(req, thumbprint, &url)).await {
        Ok(r) => r,
        Err(_) => Err(io_error(&url, HttpErrorKind::Timeout, "timed out")),
    }
}

async fn send_pinned_inner(req: &MiRequest, thumbprint: &str, url: &str) -> Result<MiResponse> {
    let host = req
        .url
        .host_str()
        .ok_or_else(|| io_error(url, HttpErrorKind::Connect, "the endpoint has no host"))?
        .to_string();
    let stream = pinned_tls(req, &host, thumbprint, url).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| {
            io_error(
                url,
                HttpErrorKind::Connect,
                format!("HTTP handshake failed: {e}"),
            )
        })?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let request = http_request(req, &host, url)?;
    let result = async {
        let resp = sender.send_request(request).await.map_err(|e| {
            io_error(
                url,
                HttpErrorKind::Transport,
                format!("the connection failed: {e}"),
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let collected = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                io_error(
                    url,
                    HttpErrorKind::Transport,
                    format!("reading the body failed: {e}"),
                )
            })?;
        Ok(MiResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        })
    }
    .await;
    driver.abort();
    result
}

/// A TLS connection to the endpoint whose leaf certificate has the pinned SHA-1
/// thumbprint (Service Fabric's trust model); nothing is sent on a mismatch.
async fn pinned_tls(
    req: &MiRequest,
    host: &str,
    thumbprint: &str,
    url: &str,
) -> Result<tokio_openssl::SslStream<tokio::net::TcpStream>> {
    let port = req.url.port_or_known_default().unwrap_or(443);
    let connect_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tcp = tokio::net::TcpStream::connect((connect_host.as_str(), port))
        .await
        .map_err(|e| {
            io_error(
                url,
                HttpErrorKind::Connect,
                format!("could not connect: {e}"),
            )
        })?;
    let _ = tcp.set_nodelay(true);

    let tls_err = |e: &dyn std::fmt::Display| {
        io_error(
            url,
            HttpErrorKind::Connect,
            format!("TLS setup failed: {e}"),
        )
    };
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| tls_err(&e))?;
    // Trust comes from the pinned thumbprint, checked below, not from a CA.
    builder.set_verify(SslVerifyMode::NONE);
    builder
        .set_alpn_protos(b"\x08http/1.1")
        .map_err(|e| tls_err(&e))?;
    let mut config = builder.build().configure().map_err(|e| tls_err(&e))?;
    config.set_verify_hostname(false);
    let ssl = config.into_ssl(&connect_host).map_err(|e| tls_err(&e))?;
    let mut stream = tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| tls_err(&e))?;
    Pin::new(&mut stream).connect().await.map_err(|e| {
        io_error(
            url,
            HttpErrorKind::Connect,
            format!("TLS handshake failed: {e}"),
        )
    })?;

    let leaf = stream.ssl().peer_certificate().ok_or_else(|| {
        Error::from(ManagedIdentityError::new(
            ManagedIdentityErrorKind::CertificateMismatch,
            Some(ManagedIdentitySource::ServiceFabric),
            "the Service Fabric endpoint presented no certificate",
        ))
    })?;
    let digest = leaf
        .digest(MessageDigest::sha1())
        .map_err(|e| tls_err(&e))?;
    if !openssl::memcmp::eq(hex(&digest).as_bytes(), thumbprint.as_bytes()) {
        return Err(ManagedIdentityError::new(
            ManagedIdentityErrorKind::CertificateMismatch,
            Some(ManagedIdentitySource::ServiceFabric),
            format!(
                "the certificate of {url} does not match IDENTITY_SERVER_THUMBPRINT; no request was sent"
            ),
        )
        .into());
    }

    Ok(stream)
}

/// The HTTP/1.1 request for `req`.
fn http_request(
    req: &MiRequest,
    host: &str,
    url: &str,
) -> Result<http::Request<Full<hyper::body::Bytes>>> {
    let path_and_query = match req.url.query() {
        Some(q) => format!("{}?{q}", req.url.path()),
        None => req.url.path().to_string(),
    };
    let host_header = match req.url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut hb = http::Request::builder()
        .method(match req.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        })
        .uri(path_and_query)
        .header(http::header::HOST, host_header)
        .header(
            http::header::USER_AGENT,
            concat!("msal-rust/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in &req.headers {
        hb = hb.header(*k, v.as_str());
    }
    let body = if req.method == Method::Post {
        hb = hb.header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(req.form.iter())
            .finish()
    } else {
        String::new()
    };
    hb.body(Full::new(bytes_from(body)))
        .map_err(|e| io_error(url, HttpErrorKind::Transport, format!("bad request: {e}")))
}

fn bytes_from(s: String) -> hyper::body::Bytes {
    hyper::body::Bytes::from(s)
}
