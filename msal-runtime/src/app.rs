//! `ConfidentialClientApplication` and its builder: the dynamic API, named after MSAL Python's.

use crate::authority::{Authority, AuthorityMetadata, Discovery, Region, RegionResolver};
use crate::cache::TokenCache;
use crate::credential::{AssertionCache, ClientCredential};
use crate::error::{Error, Result};
use crate::grant::ForClientOptions;
use crate::http::{ClientOptions, HttpClient, Telemetry, Throttle, Verify};
use crate::result::AuthenticationResult;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_IMDS_TIMEOUT: Duration = Duration::from_secs(2);

/// Options that shape requests, fixed at build time.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppOptions {
    pub client_claims: Map<String, Value>,
    pub client_capabilities: Vec<String>,
    pub exclude_scopes: Vec<String>,
    pub app_name: Option<String>,
    pub app_version: Option<String>,
    pub validate_authority: bool,
    pub instance_discovery: bool,
    pub instance_discovery_endpoint: Option<String>,
    pub region: Region,
    pub imds_endpoint: Option<String>,
    pub imds_timeout: Duration,
}

/// The shared state behind an application handle.
pub(crate) struct AppInner {
    pub client_id: String,
    pub authority: Authority,
    pub credential: ClientCredential,
    pub assertions: AssertionCache,
    pub cache: TokenCache,
    pub http: HttpClient,
    pub telemetry: Telemetry,
    pub throttle: Throttle,
    pub opts: AppOptions,
    metadata: OnceCell<Arc<AuthorityMetadata>>,
    region: OnceCell<Option<String>>,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds a single-flight slot; dropping it lets the next caller in.
pub(crate) struct FlightGuard<'a> {
    inner: &'a AppInner,
    key: String,
    slot: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // The map and this guard hold the only references: nobody else is waiting.
        if Arc::strong_count(&self.slot) == 2 {
            map.remove(&self.key);
        }
    }
}

impl AppInner {
    /// The authority's endpoints, discovered on first use and kept for the app's life.
    pub(crate) async fn metadata(&self) -> Result<Arc<AuthorityMetadata>> {
        self.metadata
            .get_or_try_init(|| async {
                let discovery = Discovery {
                    http: &self.http,
                    validate_authority: self.opts.validate_authority,
                    instance_discovery: self.opts.instance_discovery,
                    instance_discovery_endpoint: self.opts.instance_discovery_endpoint.as_deref(),
                };
                discovery.resolve(&self.authority).await.map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The token endpoint for client-credential requests: regional when a region applies.
    pub(crate) async fn regional_token_endpoint(&self, global: &str) -> String {
        let region = self
            .region
            .get_or_init(|| async {
                let resolver = RegionResolver {
                    http: &self.http,
                    imds_endpoint: self.opts.imds_endpoint.as_deref(),
                    imds_timeout: self.opts.imds_timeout,
                };
                resolver.resolve(&self.opts.region).await
            })
            .await;
        let Some(region) = region else {
            return global.to_string();
        };
        let Ok(mut url) = url::Url::parse(global) else {
            return global.to_string();
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host.starts_with(&format!("{region}.")) {
            return global.to_string();
        }
        match url.set_host(Some(&crate::authority::regional_host(region, &host))) {
            Ok(()) => url.to_string(),
            Err(_) => global.to_string(),
        }
    }

    /// Serializes callers that want the same token, so only the first one asks the authority.
    pub(crate) async fn single_flight(&self, key: &str) -> FlightGuard<'_> {
        let slot = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        FlightGuard {
            inner: self,
            key: key.to_string(),
            slot,
            guard: Some(guard),
        }
    }
}

/// A confidential client: a web app, web API or daemon registered with a credential.
///
/// Cheap to clone (clones share the cache, discovery results and connections); build it
/// once and keep it.
///
/// ```no_run
/// use msal_runtime::{ClientCredential, ConfidentialClientApplication};
///
/// # async fn run() -> msal_runtime::Result<()> {
/// let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
///     .client_credential(ClientCredential::secret(std::env::var("APP_SECRET").unwrap_or_default()))
///     .build()?;
/// let token = app.acquire_token_for_client(&["https://graph.microsoft.com/.default"]).await?;
/// println!("expires in {} s, from {:?}", token.expires_in(), token.token_source);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConfidentialClientApplication {
    inner: Arc<AppInner>,
}

impl fmt::Debug for ConfidentialClientApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClientApplication")
            .field("client_id", &self.inner.client_id)
            .field("authority", &self.inner.authority.as_str())
            .field("credential", &self.inner.credential.kind())
            .finish_non_exhaustive()
    }
}

impl ConfidentialClientApplication {
    /// Starts building an application with its client (application) id.
    pub fn builder(client_id: impl Into<String>) -> ConfidentialClientApplicationBuilder {
        ConfidentialClientApplicationBuilder::new(client_id.into())
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The configured authority.
    pub fn authority(&self) -> &Authority {
        &self.inner.authority
    }

    /// The token cache this application reads and writes.
    pub fn token_cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// An app-only token (client credentials grant). Served from the cache while it has
    /// more than five minutes left; refreshed ahead of expiry when the server set `refresh_in`.
    ///
    /// Scopes are `{resource}/.default`, e.g. `https://graph.microsoft.com/.default`.
    pub async fn acquire_token_for_client<S: AsRef<str>>(
        &self,
        scopes: &[S],
    ) -> Result<AuthenticationResult> {
        self.acquire_token_for_client_with(scopes, ForClientOptions::default())
            .await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with per-call options
    /// (a claims challenge).
    pub async fn acquire_token_for_client_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        let scopes = crate::grant::validate_client_scopes(scopes)?;
        self.inner.acquire_token_for_client(scopes, options).await
    }

    /// Removes this application's app-only tokens from the cache, in every tenant.
    /// Returns how many entries were removed.
    pub async fn remove_tokens_for_client(&self) -> Result<usize> {
        self.inner.remove_tokens_for_client().await
    }
}

/// Builds a [`ConfidentialClientApplication`]. Every option is checked in [`build`](Self::build),
/// which names the first bad one; building does no network I/O.
pub struct ConfidentialClientApplicationBuilder {
    client_id: String,
    authority: Option<String>,
    oidc_authority: Option<String>,
    credential: Option<ClientCredential>,
    cache: Option<TokenCache>,
    timeout: Duration,
    proxy: Option<String>,
    verify: Verify,
    http_client: Option<reqwest::Client>,
    opts: AppOptions,
}

impl fmt::Debug for ConfidentialClientApplicationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfidentialClientApplicationBuilder")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("oidc_authority", &self.oidc_authority)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl ConfidentialClientApplicationBuilder {
    fn new(client_id: String) -> Self {
        ConfidentialClientApplicationBuilder {
            client_id,
            authority: None,
            oidc_authority: None,
            credential: None,
            cache: None,
            timeout: DEFAULT_TIMEOUT,
            proxy: None,
            verify: Verify::System,
            http_client: None,
            opts: AppOptions {
                validate_authority: true,
                instance_discovery: true,
                imds_timeout: DEFAULT_IMDS_TIMEOUT,
                ..AppOptions::default()
            },
        }
    }

    /// The authority, e.g. `https://login.microsoftonline.com/<tenant>`. Default:
    /// `https://login.microsoftonline.com/common` (not usable for app-only tokens).
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = Some(authority.into());
        self
    }

    /// A generic OpenID Connect issuer instead of an Entra authority (mutually exclusive
    /// with [`authority`](Self::authority)).
    pub fn oidc_authority(mut self, issuer: impl Into<String>) -> Self {
        self.oidc_authority = Some(issuer.into());
        self
    }

    /// How the app authenticates (required).
    pub fn client_credential(mut self, credential: ClientCredential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// A token cache to use (and share with other applications). Default: a new in-memory cache.
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Timeout of each HTTP request. Default 30 s (MSAL Python has none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends every request through this proxy (`http://host:port`).
    pub fn proxies(mut self, proxy: impl Into<String>) -> Self {
        self.proxy = Some(proxy.into());
        self
    }

    /// How TLS certificates are verified. Default: the system trust store.
    pub fn verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }

    /// Your application's name, sent as `x-app-name`.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.opts.app_name = Some(name.into());
        self
    }

    /// Your application's version, sent as `x-app-ver`.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.opts.app_version = Some(version.into());
        self
    }

    /// Extra claims merged into (and overriding) the client assertion's payload.
    pub fn client_claims(mut self, claims: Map<String, Value>) -> Self {
        self.opts.client_claims = claims;
        self
    }

    /// Client capabilities (e.g. `cp1` for Continuous Access Evaluation), sent in `claims`.
    pub fn client_capabilities<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.opts.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// Reserved scopes not to add to user flows (typically `offline_access`).
    pub fn exclude_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.opts.exclude_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether to ask instance discovery about unknown hosts (default true).
    pub fn instance_discovery(mut self, enabled: bool) -> Self {
        self.opts.instance_discovery = enabled;
        self
    }

    /// A custom instance discovery endpoint (MSAL Python accepts a URL for `instance_discovery`).
    pub fn instance_discovery_endpoint(mut self, url: impl Into<String>) -> Self {
        self.opts.instance_discovery_endpoint = Some(url.into());
        self
    }

    /// Whether an unknown host must pass instance discovery (default true).
    pub fn validate_authority(mut self, validate: bool) -> Self {
        self.opts.validate_authority = validate;
        self
    }

    /// Regional token endpoints for client credentials.
    pub fn azure_region(mut self, region: Region) -> Self {
        self.opts.region = region;
        self
    }

    /// Where region discovery asks IMDS (default: `MSAL_IMDS_ENDPOINT`, else Azure's address).
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.opts.imds_endpoint = Some(url.into());
        self
    }

    /// How long region discovery waits for IMDS (default 2 s).
    pub fn imds_timeout(mut self, timeout: Duration) -> Self {
        self.opts.imds_timeout = timeout;
        self
    }

    /// Your own reqwest client; `timeout`, `proxies` and `verify` are then yours to set on it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Checks every option and builds the application. No network I/O happens here.
    pub fn build(self) -> Result<ConfidentialClientApplication> {
        let client_id = self.client_id.trim().to_string();
        if client_id.is_empty() {
            return Err(Error::config("client_id", "the client id is empty"));
        }
        let authority = match (&self.authority, &self.oidc_authority) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "oidc_authority",
                    "set either `authority` or `oidc_authority`, not both",
                ))
            }
            (None, Some(issuer)) => Authority::oidc(issuer)?,
            (Some(a), None) => Authority::parse(a)?,
            (None, None) => Authority::parse("https://login.microsoftonline.com/common")?,
        };
        let credential = self.credential.ok_or_else(|| {
            Error::config(
                "client_credential",
                "a confidential client needs a secret, a certificate or an assertion",
            )
        })?;
        if let ClientCredential::Secret(s) = &credential {
            if s.secret().is_empty() {
                return Err(Error::config(
                    "client_credential",
                    "the client secret is empty",
                ));
            }
        }
        if let ClientCredential::Assertion(a) = &credential {
            if a.secret().trim().is_empty() {
                return Err(Error::config(
                    "client_credential",
                    "the client assertion is empty",
                ));
            }
        }
        if self.timeout.is_zero() {
            return Err(Error::config(
                "timeout",
                "the timeout must be more than zero",
            ));
        }
        if self.opts.exclude_scopes.iter().any(|s| s == "openid") {
            return Err(Error::config(
                "exclude_scopes",
                "`openid` cannot be excluded",
            ));
        }
        if let Region::Named(name) = &self.opts.region {
            Region::named(name.clone())?;
        }
        for (field, url) in [
            ("imds_endpoint", &self.opts.imds_endpoint),
            (
                "instance_discovery_endpoint",
                &self.opts.instance_discovery_endpoint,
            ),
        ] {
            if let Some(u) = url {
                url::Url::parse(u).map_err(|e| Error::config(field, format!("not a URL ({e})")))?;
            }
        }
        if let Some(p) = &self.proxy {
            url::Url::parse(p).map_err(|e| Error::config("proxies", format!("not a URL ({e})")))?;
        }
        let http = match self.http_client {
            Some(client) => HttpClient::from_client(client),
            None => HttpClient::build(ClientOptions {
                timeout: self.timeout,
                proxy: self.proxy,
                verify: self.verify,
            })?,
        };
        Ok(ConfidentialClientApplication {
            inner: Arc::new(AppInner {
                client_id,
                authority,
                credential,
                assertions: AssertionCache::default(),
                cache: self.cache.unwrap_or_default(),
                http,
                telemetry: Telemetry::default(),
                throttle: Throttle::default(),
                opts: self.opts,
                metadata: OnceCell::new(),
                region: OnceCell::new(),
                inflight: Mutex::new(HashMap::new()),
            }),
        })
    }
}
