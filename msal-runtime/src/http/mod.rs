//! The HTTP layer: one reqwest client per process and TLS setting (shared by every
//! application built with those settings), size-limited bodies, typed transport errors,
//! MSAL's library headers, bounded retries and client-side throttling.
//!
//! Building a reqwest client with native-tls builds an OpenSSL context, which parses the
//! system CA bundle twice (OpenSSL's default verify paths, then native-tls's own probe of
//! the same file), even when only a custom bundle is trusted: tens of milliseconds. With
//! reqwest's `rustls` the client is quick to build, but aws-lc-rs seeds its random
//! generator from CPU jitter before the first handshake of a process (tens of
//! milliseconds too); the `rustls-ring` feature builds the rustls configuration here, on
//! ring, and pays neither. The built clients are kept in a process-wide table keyed by
//! what shapes the connector (trust roots, proxy, connect timeout); a further application
//! with the same settings reuses the client, its TLS context and its pool of warm
//! connections, and the authority metadata discovered through it (for an hour). The
//! overall timeout is applied per request, so it does not split the table.

pub(crate) mod state;
pub(crate) mod telemetry;
mod throttle;

pub use state::{HttpCache, HttpStateStore, StoreFuture};
pub(crate) use telemetry::Telemetry;
pub(crate) use throttle::Throttle;

use crate::authority::AuthorityMetadata;
use crate::error::{strip_query, Error, HttpErrorKind, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
    /// The bound on each whole exchange; `None` for a caller's own client (its settings).
    timeout: Option<Duration>,
    /// What every app on this process-wide client shares; `None` for a caller's client.
    shared: Option<Arc<Shared>>,
}

/// Authority metadata is trusted this long by further apps of the process.
const METADATA_SHARED_FOR: Duration = Duration::from_secs(3600);

/// State shared by the apps of one process-wide client.
#[derive(Debug, Default)]
struct Shared {
    /// Discovered authority metadata by authority and discovery settings.
    metadata: Mutex<HashMap<String, (Instant, Arc<AuthorityMetadata>)>>,
}

/// What the connector of a built client depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    roots: RootsKey,
    proxy: Option<String>,
    connect_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RootsKey {
    System,
    Disabled,
    /// The content of a CA bundle (a changed file gets a new client).
    Bundle(Vec<u8>),
}

/// More distinct settings than this in one process (tests with a CA each) start the table
/// afresh; clients already handed out live on in their applications.
const MAX_SHARED_CLIENTS: usize = 64;

type ClientTable = Mutex<HashMap<ClientKey, (reqwest::Client, Arc<Shared>)>>;

fn shared_clients() -> &'static ClientTable {
    static CLIENTS: OnceLock<ClientTable> = OnceLock::new();
    CLIENTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Options for the default client.
pub(crate) struct ClientOptions {
    pub timeout: Duration,
    pub proxy: Option<String>,
    pub verify: Verify,
}

impl HttpClient {
    pub(crate) fn from_client(client: reqwest::Client) -> Self {
        HttpClient {
            client,
            timeout: None,
            shared: None,
        }
    }

    /// Authority metadata another app of this process discovered with the same client
    /// and settings (`key`), if recent.
    pub(crate) fn shared_metadata(&self, key: &str) -> Option<Arc<AuthorityMetadata>> {
        let shared = self.shared.as_ref()?;
        let table = shared.metadata.lock().unwrap_or_else(|p| p.into_inner());
        table
            .get(key)
            .filter(|(at, _)| at.elapsed() < METADATA_SHARED_FOR)
            .map(|(_, m)| m.clone())
    }

    /// Offers discovered metadata to the further apps of this process.
    pub(crate) fn share_metadata(&self, key: String, metadata: Arc<AuthorityMetadata>) {
        if let Some(shared) = &self.shared {
            let mut table = shared.metadata.lock().unwrap_or_else(|p| p.into_inner());
            if table.len() >= 1024 {
                table.clear();
            }
            table.insert(key, (Instant::now(), metadata));
        }
    }

    /// The process-wide client for these settings, built on first use.
    pub(crate) fn build(opts: ClientOptions) -> Result<Self> {
        let roots = match &opts.verify {
            Verify::System => RootsKey::System,
            Verify::Disabled => {
                tracing::warn!("TLS certificate verification is disabled");
                RootsKey::Disabled
            }
            Verify::CaBundle(path) => RootsKey::Bundle(std::fs::read(path).map_err(|e| {
                Error::config(
                    "verify",
                    format!("cannot read CA bundle {}: {e}", path.display()),
                )
            })?),
        };
        if let Some(proxy) = &opts.proxy {
            reqwest::Proxy::all(proxy)
                .map_err(|e| Error::config("proxies", format!("not a proxy URL ({e})")))?;
        }
        let key = ClientKey {
            roots,
            proxy: opts.proxy,
            connect_timeout: opts.timeout.min(Duration::from_secs(10)),
        };
        // Held while building: concurrent first builds wait for the one, not build twice.
        let mut table = shared_clients().lock().unwrap_or_else(|p| p.into_inner());
        let (client, shared) = match table.get(&key) {
            Some((c, s)) => (c.clone(), s.clone()),
            None => {
                let c = new_client(&key, &opts.verify)?;
                let s = Arc::new(Shared::default());
                if table.len() >= MAX_SHARED_CLIENTS {
                    table.clear();
                }
                table.insert(key, (c.clone(), s.clone()));
                (c, s)
            }
        };
        Ok(HttpClient {
            client,
            timeout: Some(opts.timeout),
            shared: Some(shared),
        })
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
        let req = match self.timeout {
            Some(t) => req.timeout(t),
            None => req,
        };
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

/// A new reqwest client for these settings (`verify` names the bundle in errors).
fn new_client(key: &ClientKey, verify: &Verify) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        // Never follow redirects from a token endpoint (a redirect would resend secrets).
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(key.connect_timeout)
        .user_agent(concat!("msal-rust/", env!("CARGO_PKG_VERSION")));
    if let Some(proxy) = &key.proxy {
        let p = reqwest::Proxy::all(proxy)
            .map_err(|e| Error::config("proxies", format!("not a proxy URL ({e})")))?;
        builder = builder.proxy(p);
    }
    let shown = match verify {
        Verify::CaBundle(path) => path.display().to_string(),
        _ => String::new(),
    };
    with_tls(builder, &key.roots, &shown)?
        .build()
        .map_err(|e| Error::config("http_client", format!("cannot build the HTTP client: {e}")))
}

/// `builder` on this build's TLS back-end, trusting the system store (for the other
/// clients of the crate, such as managed identity's).
pub(crate) fn with_system_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    with_tls(builder, &RootsKey::System, "")
}

// The back-end of this crate's TLS feature, named explicitly: another crate of the build
// may turn on reqwest's other one. `native-tls` wins when several are on, as in reqwest;
// then `rustls-ring` (this crate builds the rustls configuration), then `rustls`.

#[cfg(feature = "native-tls")]
fn with_tls(
    builder: reqwest::ClientBuilder,
    roots: &RootsKey,
    shown: &str,
) -> Result<reqwest::ClientBuilder> {
    with_reqwest_roots(builder.tls_backend_native(), roots, shown)
}

#[cfg(all(feature = "rustls-ring", not(feature = "native-tls")))]
fn with_tls(
    builder: reqwest::ClientBuilder,
    roots: &RootsKey,
    shown: &str,
) -> Result<reqwest::ClientBuilder> {
    Ok(builder.tls_backend_preconfigured(ring_tls::client_config(roots, shown)?))
}

#[cfg(all(
    feature = "rustls",
    not(any(feature = "native-tls", feature = "rustls-ring"))
))]
fn with_tls(
    builder: reqwest::ClientBuilder,
    roots: &RootsKey,
    shown: &str,
) -> Result<reqwest::ClientBuilder> {
    with_reqwest_roots(builder.tls_backend_rustls(), roots, shown)
}

/// The trust roots through reqwest's own TLS set-up (`native-tls`, `rustls`).
#[cfg(any(
    feature = "native-tls",
    all(feature = "rustls", not(feature = "rustls-ring"))
))]
fn with_reqwest_roots(
    builder: reqwest::ClientBuilder,
    roots: &RootsKey,
    shown: &str,
) -> Result<reqwest::ClientBuilder> {
    Ok(match roots {
        RootsKey::System => builder,
        RootsKey::Disabled => builder.danger_accept_invalid_certs(true),
        RootsKey::Bundle(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                Error::config("verify", format!("CA bundle {shown} is not PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(no_certificate(shown));
            }
            builder.tls_certs_only(certs)
        }
    })
}

fn no_certificate(shown: &str) -> Error {
    Error::config("verify", format!("CA bundle {shown} holds no certificate"))
}

/// The rustls configuration of the `rustls-ring` feature. reqwest's own rustls set-up
/// needs aws-lc-rs, whose random generator seeds itself from CPU jitter on first use in a
/// process (tens of milliseconds before the first handshake); ring reads the OS's
/// generator. An application that installed a process-default provider gets that one.
#[cfg(all(feature = "rustls-ring", not(feature = "native-tls")))]
mod ring_tls {
    use super::{no_certificate, RootsKey};
    use crate::error::{Error, Result};
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use std::sync::Arc;

    fn tls_error(e: impl std::fmt::Display) -> Error {
        Error::config("http_client", format!("cannot set up TLS: {e}"))
    }

    pub(super) fn client_config(roots: &RootsKey, shown: &str) -> Result<ClientConfig> {
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let builder = match roots {
            RootsKey::System => {
                let verifier =
                    rustls_platform_verifier::Verifier::new(provider).map_err(tls_error)?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
            }
            RootsKey::Disabled => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
            RootsKey::Bundle(pem) => {
                let mut store = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| {
                        Error::config("verify", format!("CA bundle {shown} is not PEM: {e}"))
                    })?;
                    store.add(cert).map_err(|e| {
                        Error::config(
                            "verify",
                            format!("CA bundle {shown} holds an unusable certificate: {e}"),
                        )
                    })?;
                }
                if store.is_empty() {
                    return Err(no_certificate(shown));
                }
                builder.with_root_certificates(store)
            }
        };
        let mut config = builder.with_no_client_auth();
        // As reqwest offers with HTTP/2 on.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// `Verify::Disabled`: any certificate and host name is accepted; the handshake's
    /// signatures are still checked against the presented certificate's key.
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_with_proxy(proxy: &str) -> usize {
        shared_clients()
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.proxy.as_deref() == Some(proxy))
            .count()
    }

    fn opts(proxy: &str, timeout_secs: u64) -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(timeout_secs),
            proxy: Some(proxy.to_string()),
            verify: Verify::Disabled,
        }
    }

    #[test]
    fn apps_with_the_same_tls_settings_share_one_client() {
        let proxy = "http://127.0.0.1:9/shared-client-test";
        let a = HttpClient::build(opts(proxy, 30)).unwrap();
        let b = HttpClient::build(opts(proxy, 30)).unwrap();
        assert_eq!(entries_with_proxy(proxy), 1);
        // The overall timeout is applied per request: it does not split the table ...
        let c = HttpClient::build(opts(proxy, 60)).unwrap();
        assert_eq!(entries_with_proxy(proxy), 1);
        assert_eq!(c.timeout, Some(Duration::from_secs(60)));
        assert_eq!(a.timeout, Some(Duration::from_secs(30)));
        // ... a connect timeout under 10 s does.
        HttpClient::build(opts(proxy, 3)).unwrap();
        assert_eq!(entries_with_proxy(proxy), 2);
        drop((a, b));
    }

    #[test]
    fn a_missing_or_empty_bundle_is_a_config_error_every_time() {
        let dir = std::env::temp_dir().join(format!("msal-http-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        for path in [dir.join("missing.pem"), empty] {
            for _ in 0..2 {
                let err = HttpClient::build(ClientOptions {
                    timeout: Duration::from_secs(5),
                    proxy: None,
                    verify: Verify::CaBundle(path.clone()),
                })
                .unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::InvalidConfig {
                            field: "verify",
                            ..
                        }
                    ),
                    "{err:?}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
