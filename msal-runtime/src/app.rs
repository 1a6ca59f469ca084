//! `ConfidentialClientApplication` and its builder: the dynamic API, named after MSAL Python's.

use crate::authority::{
    Authority, AuthorityMetadata, Discovery, IntoAuthority, Region, RegionResolver,
};
use crate::cache::TokenCache;
use crate::credential::{AssertionCache, ClientCredential};
use crate::error::{Error, Result};
use crate::grant::ForClientOptions;
use crate::grant::{AuthCodeFlow, AuthCodeFlowOptions, SilentOptions};
use crate::http::{ClientOptions, HttpClient, Telemetry, Throttle, Verify};
use crate::id_token::Jwks;
use crate::result::Account;
use crate::result::AuthenticationResult;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    /// Where region settings (`MSAL_FORCE_REGION`, `REGION_NAME`, `MSAL_IMDS_ENDPOINT`) are read.
    pub env: crate::managed_identity::EnvLookup,
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
    /// The host's aliases (`authority::aliases`), resolved on first need.
    pub(crate) aliases: OnceCell<Vec<String>>,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    jwks: tokio::sync::Mutex<Option<(Instant, Arc<Jwks>)>>,
    used_flows: Mutex<VecDeque<String>>,
}

/// How many redeemed auth-code flow states are remembered to refuse replays.
const USED_FLOWS_KEPT: usize = 4096;
/// A JWKS is fetched again for an unknown key id at most this often.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(300);

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
    /// Records a redeemed flow; false when it was redeemed before.
    pub(crate) fn mark_flow_used(&self, state: &str) -> bool {
        let mut used = self.used_flows.lock().unwrap_or_else(|p| p.into_inner());
        if used.iter().any(|s| s == state) {
            return false;
        }
        if used.len() >= USED_FLOWS_KEPT {
            used.pop_front();
        }
        used.push_back(state.to_string());
        true
    }

    /// The authority's signing keys, fetched on first use and again (rate-limited) when an
    /// ID token names a key we do not have (key rollover).
    pub(crate) async fn jwks(
        &self,
        meta: &AuthorityMetadata,
        kid: Option<&str>,
    ) -> Result<Arc<Jwks>> {
        let mut slot = self.jwks.lock().await;
        if let Some((fetched, jwks)) = slot.as_ref() {
            if jwks.has_kid(kid) || fetched.elapsed() < JWKS_REFETCH_AFTER {
                return Ok(jwks.clone());
            }
        }
        let url = meta.jwks_uri.as_deref().ok_or_else(|| Error::Discovery {
            url: self.authority.openid_configuration_url(),
            status: None,
            detail: "the authority advertises no jwks_uri, so ID tokens cannot be verified".into(),
        })?;
        let resp = self
            .http
            .get(url, &[("accept", "application/json")])
            .await?;
        let doc: Value = serde_json::from_slice(&resp.body)
            .ok()
            .filter(|_| resp.status == 200)
            .ok_or_else(|| {
                Error::invalid_response(
                    url,
                    format!("the JWKS document is unusable (HTTP {})", resp.status),
                )
            })?;
        let jwks = Arc::new(Jwks::parse(&doc)?);
        *slot = Some((Instant::now(), jwks.clone()));
        Ok(jwks)
    }

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
                    env: &self.opts.env,
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

    /// Starts an authorization-code sign-in with PKCE: returns the URL to send the user to,
    /// and the flow to keep in the session until the redirect comes back.
    /// `openid`, `profile` and `offline_access` are added (minus `exclude_scopes`).
    pub async fn initiate_auth_code_flow<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        self.inner.initiate_auth_code_flow(&scopes, options).await
    }

    /// Completes a sign-in: checks `state`, passes the authority's `error` through,
    /// redeems the code with the PKCE verifier, validates the ID token (signature,
    /// issuer, audience, nonce, expiry) and caches the user's tokens and account.
    ///
    /// `auth_response` is the redirect's query (or form-post) parameters.
    pub async fn acquire_token_by_auth_code_flow<I, K, V>(
        &self,
        flow: &AuthCodeFlow,
        auth_response: I,
    ) -> Result<AuthenticationResult>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let response: HashMap<String, String> = auth_response
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.inner
            .acquire_token_by_auth_code_flow(flow, response)
            .await
    }

    /// A token for a downstream API on behalf of the user whose token (`user_assertion`)
    /// your web API received. Cached per assertion; refreshed with the OBO refresh token.
    pub async fn acquire_token_on_behalf_of<S: AsRef<str>>(
        &self,
        user_assertion: &str,
        scopes: &[S],
    ) -> Result<AuthenticationResult> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        self.inner
            .acquire_token_on_behalf_of(user_assertion, &scopes, None)
            .await
    }

    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) answering a claims
    /// challenge from the downstream API (bypasses the cache).
    pub async fn acquire_token_on_behalf_of_with_claims<S: AsRef<str>>(
        &self,
        user_assertion: &str,
        scopes: &[S],
        claims_challenge: &str,
    ) -> Result<AuthenticationResult> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        self.inner
            .acquire_token_on_behalf_of(user_assertion, &scopes, Some(claims_challenge.to_string()))
            .await
    }

    /// The accounts in the cache for this authority, one per user; filtered by username
    /// (case-insensitive) when given.
    pub async fn get_accounts(&self, username: Option<&str>) -> Result<Vec<Account>> {
        self.inner.get_accounts(username).await
    }

    /// A token for the account from the cache, refreshed with its refresh token if needed.
    /// `Ok(None)` when nothing usable is cached or the authority refuses the refresh (the
    /// user must sign in again; the refusal is logged, see
    /// [`acquire_token_silent_with_error`](Self::acquire_token_silent_with_error)).
    /// An outage (network failure, HTTP 5xx, an unusable answer) is an `Err`, as MSAL
    /// Python raises it: it is no reason to send the user to sign in.
    pub async fn acquire_token_silent<S: AsRef<str>>(
        &self,
        scopes: &[S],
        account: &Account,
    ) -> Result<Option<AuthenticationResult>> {
        match self
            .acquire_token_silent_with_error(scopes, account, SilentOptions::default())
            .await
        {
            // MSAL Python returns None for an error *response* (HTTP < 500) and lets
            // transport failures and 5xx (MsalServiceError) propagate.
            Err(Error::Server(e)) if e.status < 500 => {
                tracing::debug!(error = %e, "silent acquisition refused");
                Ok(None)
            }
            other => other,
        }
    }

    /// Like [`acquire_token_silent`](Self::acquire_token_silent), with options, and
    /// returning the refresh failure (e.g. `invalid_grant` with its `suberror` and claims)
    /// instead of `None`.
    pub async fn acquire_token_silent_with_error<S: AsRef<str>>(
        &self,
        scopes: &[S],
        account: &Account,
        options: SilentOptions,
    ) -> Result<Option<AuthenticationResult>> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        self.inner
            .acquire_token_silent(&scopes, account, options)
            .await
    }

    /// Redeems a refresh token obtained elsewhere (migration from another library) and
    /// caches the result, so later calls can be silent.
    pub async fn acquire_token_by_refresh_token<S: AsRef<str>>(
        &self,
        refresh_token: &str,
        scopes: &[S],
    ) -> Result<AuthenticationResult> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_string()).collect();
        self.inner
            .acquire_token_by_refresh_token(refresh_token, &scopes)
            .await
    }

    /// The authority's end-session (sign-out) URL, with the page to return to afterwards;
    /// `None` when the authority advertises none. Pair it with
    /// [`remove_account`](Self::remove_account) when a user signs out of a web app.
    pub async fn sign_out_url(
        &self,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Option<String>> {
        let meta = self.inner.metadata().await?;
        let Some(end) = meta.end_session_endpoint.as_deref() else {
            return Ok(None);
        };
        let mut url = url::Url::parse(end)
            .map_err(|_| Error::invalid_response(end, "end_session_endpoint is not a URL"))?;
        if let Some(r) = post_logout_redirect_uri {
            url.query_pairs_mut()
                .append_pair("post_logout_redirect_uri", r);
        }
        Ok(Some(url.to_string()))
    }

    /// Signs the account out of this app's cache: its refresh tokens (this app's and its
    /// family's), access tokens, ID tokens and account entries. App metadata stays.
    pub async fn remove_account(&self, account: &Account) -> Result<()> {
        self.inner.remove_account(account).await
    }
}

/// Builds a [`ConfidentialClientApplication`]. Every option is checked in [`build`](Self::build),
/// which names the first bad one; building does no network I/O.
pub struct ConfidentialClientApplicationBuilder {
    client_id: String,
    authority: Option<Result<Authority>>,
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

    /// The authority, e.g. `https://login.microsoftonline.com/<tenant>`, as a string or an
    /// [`Authority`] parsed already. Default: `https://login.microsoftonline.com/common`
    /// (not usable for app-only tokens). A string the shared authority model refuses (the
    /// same verdict `msal check` gives) is reported by [`build`](Self::build).
    pub fn authority(mut self, authority: impl IntoAuthority) -> Self {
        self.authority = Some(authority.into_authority());
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

    /// Where the region settings are read from: `MSAL_FORCE_REGION` (for
    /// [`Region::FromEnvironment`]), `REGION_NAME` (for [`Region::Discover`]) and
    /// `MSAL_IMDS_ENDPOINT`. Default: the process environment.
    ///
    /// ```
    /// use msal_runtime::{ClientCredential, ConfidentialClientApplication, EnvLookup};
    ///
    /// let app = ConfidentialClientApplication::builder("my-client-id")
    ///     .client_credential(ClientCredential::secret("s3cret"))
    ///     .env(EnvLookup::from_pairs([("MSAL_FORCE_REGION", "westus2")]))
    ///     .build();
    /// assert!(app.is_ok());
    /// let bad = ConfidentialClientApplication::builder("my-client-id")
    ///     .client_credential(ClientCredential::secret("s3cret"))
    ///     .env(EnvLookup::from_pairs([("MSAL_FORCE_REGION", "West US 2")]))
    ///     .build();
    /// assert!(bad.is_err());
    /// ```
    pub fn env(mut self, env: crate::managed_identity::EnvLookup) -> Self {
        self.opts.env = env;
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
        let authority = match (self.authority, &self.oidc_authority) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "oidc_authority",
                    "set either `authority` or `oidc_authority`, not both",
                ))
            }
            (None, Some(issuer)) => {
                Authority::oidc(issuer).map_err(|e| Error::authority(issuer, e))?
            }
            (Some(a), None) => a?,
            (None, None) => "https://login.microsoftonline.com/common".into_authority()?,
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
        if self.opts.region == Region::FromEnvironment {
            crate::authority::forced_region(&self.opts.env)?;
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
                aliases: OnceCell::new(),
                inflight: Mutex::new(HashMap::new()),
                jwks: tokio::sync::Mutex::new(None),
                used_flows: Mutex::new(VecDeque::new()),
            }),
        })
    }
}
