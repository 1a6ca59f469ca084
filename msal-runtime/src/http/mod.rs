//! The HTTP layer: one reqwest client per application, size-limited bodies, typed
//! transport errors, MSAL's library headers, bounded retries and client-side throttling.

pub(crate) mod state;
pub(crate) mod telemetry;
mod throttle;

pub use state::{HttpCache, HttpStateStore, StoreFuture};
pub(crate) use telemetry::Telemetry;
pub(crate) use throttle::Throttle;

use crate::error::{strip_query, Error, HttpErrorKind, Result};
use std::path::PathBuf;
use std::time::Duration;

/// Largest response body accepted from an authority (token responses are a few KiB).
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How TLS server certificates are checked.
///
/// ```
/// use msal_runtime::Verify;
/// let v = Verify::CaBundle("/etc/ssl/corp-ca.pem".into());
/// # let _ = v;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verify {
    /// The system trust store (OpenSSL's defaults with `native-tls`, the platform verifier
    /// with `rustls`; `SSL_CERT_FILE` works with both on Linux).
    #[default]
    System,
    /// Trust only the certificates in this PEM bundle.
    CaBundle(PathBuf),
    /// Do not verify certificates at all. For debugging only; never in production.
    Disabled,
}

/// The answer to one HTTP request.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// A reqwest client plus the limits this library applies to every exchange.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
}

/// Options for the default client.
pub(crate) struct ClientOptions {
    pub timeout: Duration,
    pub proxy: Option<String>,
    pub verify: Verify,
}

impl HttpClient {
    pub(crate) fn from_client(client: reqwest::Client) -> Self {
        HttpClient { client }
    }

    pub(crate) fn build(opts: ClientOptions) -> Result<Self> {
        let builder = reqwest::Client::builder()
            // Never follow redirects from a token endpoint (a redirect would resend secrets).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("msal-rust/", env!("CARGO_PKG_VERSION")));
        // The back-end of this crate's TLS feature, named explicitly: another crate of the
        // build may turn on reqwest's other one. `native-tls` wins when both are on, as in
        // reqwest.
        #[cfg(feature = "native-tls")]
        let mut builder = builder.tls_backend_native();
        #[cfg(all(feature = "rustls", not(feature = "native-tls")))]
        let mut builder = builder.tls_backend_rustls();
        if let Some(proxy) = &opts.proxy {
            let p = reqwest::Proxy::all(proxy)
                .map_err(|e| Error::config("proxies", format!("not a proxy URL ({e})")))?;
            builder = builder.proxy(p);
        }
        match &opts.verify {
            Verify::System => {}
            Verify::Disabled => {
                tracing::warn!("TLS certificate verification is disabled");
                builder = builder.danger_accept_invalid_certs(true);
            }
            Verify::CaBundle(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::config(
                        "verify",
                        format!("cannot read CA bundle {}: {e}", path.display()),
                    )
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    Error::config(
                        "verify",
                        format!("CA bundle {} is not PEM: {e}", path.display()),
                    )
                })?;
                if certs.is_empty() {
                    return Err(Error::config(
                        "verify",
                        format!("CA bundle {} holds no certificate", path.display()),
                    ));
                }
                builder = builder.tls_certs_only(certs);
            }
        }
        let client = builder.build().map_err(|e| {
            Error::config("http_client", format!("cannot build the HTTP client: {e}"))
        })?;
        Ok(HttpClient { client })
    }

    /// A GET with the given headers.
    pub(crate) async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse> {
        let mut req = self.client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.execute(url, req).await
    }

    /// A form POST; `form` keeps its order on the wire.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        headers: &[(String, String)],
        form: &[(String, String)],
    ) -> Result<HttpResponse> {
        let mut req = self.client.post(url).form(form);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        self.execute(url, req).await
    }

    async fn execute(&self, url: &str, req: reqwest::RequestBuilder) -> Result<HttpResponse> {
        let mut resp = req.send().await.map_err(|e| transport_error(url, e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(Error::invalid_response(
                url,
                "the response body is larger than 1 MiB",
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(url, e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Error::invalid_response(
                    url,
                    "the response body is larger than 1 MiB",
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            retry_after,
            body,
        })
    }
}

pub(crate) fn transport_error(url: &str, e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else {
        HttpErrorKind::Transport
    };
    // reqwest's Display includes the URL with its query; describe the cause instead.
    let mut detail = match kind {
        HttpErrorKind::Timeout => "timed out".to_string(),
        HttpErrorKind::Connect => "could not connect".to_string(),
        _ => "the connection failed".to_string(),
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Error::Http {
        url: strip_query(url),
        status: None,
        kind,
        detail,
        // reqwest's error names the URL without its query (`without_url` drops it all).
        source: Some(Box::new(e.without_url())),
    }
}
