//! `ConfidentialClientApplication` and its builder: the dynamic API, named after MSAL Python's.

use crate::authority::{Authority, IntoAuthority, Region};
use crate::cache::TokenCache;
use crate::credential::ClientCredential;
use crate::error::{Error, Result};
use crate::grant::ForClientOptions;
use crate::grant::{AuthCodeFlow, AuthCodeFlowOptions, SilentOptions};
use crate::http::{ClientOptions, HttpClient, Verify};
use crate::observability::{acquisition, spans_wanted, Grant, Subject};
use crate::result::Account;
use crate::result::AuthenticationResult;
use crate::scope::IntoScopes;
use crate::secret::UserAssertion;
use crate::state::{AppOptions, AppState};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_IMDS_TIMEOUT: Duration = Duration::from_secs(2);

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
    inner: Arc<AppState>,
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

    /// The shared state, for the methods of other modules (`migration`, and the web API
    /// validator, which reuses its discovery and key cache).
    pub(crate) fn state(&self) -> &Arc<AppState> {
        &self.inner
    }

    /// Who an acquisition is for, for its tracing span.
    fn subject<'a>(&'a self, scopes: &'a [String]) -> Subject<'a> {
        Subject {
            client_id: &self.inner.client_id,
            tenant: self.inner.authority.tenant(),
            scopes,
            resource: "",
            pii: self.inner.opts.enable_pii_log,
        }
    }

    /// An app-only token (client credentials grant). Served from the cache while it has
    /// more than five minutes left; refreshed ahead of expiry when the server set `refresh_in`.
    ///
    /// Scopes are `{resource}/.default`, e.g. `https://graph.microsoft.com/.default`.
    pub async fn acquire_token_for_client(
        &self,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        self.acquire_token_for_client_with(scopes, ForClientOptions::default())
            .await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with per-call options
    /// (a claims challenge).
    pub async fn acquire_token_for_client_with(
        &self,
        scopes: impl IntoScopes,
        options: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        let inner = &self.inner;
        // A fresh cached token is served before anything is built or any deadline starts:
        // the deadline is for calls that leave the process.
        // A claims challenge skips the cache; extra parameters (`fmi_path`, forwarded
        // claims, extra body parameters) have entries of their own (the extended key).
        let bypass = options
            .claims_challenge
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
            || options.fmi_path.is_some()
            || options.forwarded_client_claims.is_some()
            || !options.extra_body_parameters.is_empty();
        // With a subscriber that wants acquisition spans, the hit takes the path that
        // records one.
        if !bypass && !spans_wanted() {
            if let Some(hit) = scopes
                .scope_list()
                .and_then(|s| inner.client_token_from_memory(s))
            {
                // Built here, in place: the result is 400 bytes, the hit a quarter of that.
                return Ok(hit.into_result());
            }
        }
        let scopes = scopes.into_scopes()?;
        // Boxed: the request path's future is ~20 KB, and inline it would be moved on
        // every call, hits included; a hit's future stays small.
        Box::pin(async {
            let call = inner.within_deadline(inner.acquire_token_for_client(&scopes, options));
            acquisition(
                Grant::ClientCredentials,
                self.subject(scopes.as_slice()),
                call,
            )
            .await
        })
        .await
    }

    /// Removes this application's app-only tokens from the cache, in every tenant.
    /// Returns how many entries were removed.
    pub async fn remove_tokens_for_client(&self) -> Result<usize> {
        self.inner.remove_tokens_for_client().await
    }

    /// Starts an authorization-code sign-in with PKCE: returns the URL to send the user to,
    /// and the flow to keep in the session until the redirect comes back.
    /// `openid`, `profile` and `offline_access` are added (minus `exclude_scopes`).
    pub async fn initiate_auth_code_flow(
        &self,
        scopes: impl IntoScopes,
        options: AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow> {
        let scopes = scopes.into_scopes()?;
        let inner = &self.inner;
        inner
            .within_deadline(inner.initiate_auth_code_flow(scopes.as_slice(), options))
            .await
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
        let inner = &self.inner;
        let call = inner.within_deadline(inner.acquire_token_by_auth_code_flow(flow, response));
        acquisition(Grant::AuthorizationCode, self.subject(&flow.scope), call).await
    }

    /// A token for a downstream API on behalf of the user whose token (`user_assertion`)
    /// your web API received. Cached per assertion; refreshed with the OBO refresh token.
    ///
    /// `user_assertion` is the incoming token: a `&str`, or the `web_api::ValidatedCaller`
    /// of a validated request.
    pub async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &(impl UserAssertion + ?Sized),
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        let user_assertion = user_assertion.user_assertion();
        let scopes = scopes.into_scopes()?;
        let inner = &self.inner;
        let call = inner.within_deadline(inner.acquire_token_on_behalf_of(
            user_assertion,
            scopes.as_slice(),
            None,
        ));
        acquisition(Grant::OnBehalfOf, self.subject(scopes.as_slice()), call).await
    }

    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) answering a claims
    /// challenge from the downstream API (bypasses the cache).
    pub async fn acquire_token_on_behalf_of_with_claims(
        &self,
        user_assertion: &(impl UserAssertion + ?Sized),
        scopes: impl IntoScopes,
        claims_challenge: &str,
    ) -> Result<AuthenticationResult> {
        let user_assertion = user_assertion.user_assertion();
        let scopes = scopes.into_scopes()?;
        let claims = Some(claims_challenge.to_string());
        let inner = &self.inner;
        let call = inner.within_deadline(inner.acquire_token_on_behalf_of(
            user_assertion,
            scopes.as_slice(),
            claims,
        ));
        acquisition(Grant::OnBehalfOf, self.subject(scopes.as_slice()), call).await
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
    pub async fn acquire_token_silent(
        &self,
        scopes: impl IntoScopes,
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
    pub async fn acquire_token_silent_with_error(
        &self,
        scopes: impl IntoScopes,
        account: &Account,
        options: SilentOptions,
    ) -> Result<Option<AuthenticationResult>> {
        let scopes = scopes.into_scopes()?;
        let inner = &self.inner;
        let call =
            inner.within_deadline(inner.acquire_token_silent(scopes.as_slice(), account, options));
        acquisition(Grant::Silent, self.subject(scopes.as_slice()), call).await
    }

    /// Redeems a refresh token obtained elsewhere (migration from another library) and
    /// caches the result, so later calls can be silent.
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        let scopes = scopes.into_scopes()?;
        let inner = &self.inner;
        let call = inner.within_deadline(
            inner.acquire_token_by_refresh_token(refresh_token, scopes.as_slice()),
        );
        acquisition(Grant::RefreshToken, self.subject(scopes.as_slice()), call).await
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
    /// The request-shaping options, for the builder methods of other modules (`migration`).
    pub(crate) fn options_mut(&mut self) -> &mut AppOptions {
        &mut self.opts
    }

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

    /// The deadline of each whole acquisition: discovery, the token request, its retry
    /// and the backoff between them all fit in it (each HTTP request is bounded by it
    /// too). Default 30 s (MSAL Python has none). Past it, the call fails with
    /// [`Error::Http`] of kind [`HttpErrorKind::Timeout`](crate::HttpErrorKind::Timeout).
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
    pub fn env(mut self, env: crate::env::EnvLookup) -> Self {
        self.opts.env = env;
        self
    }

    /// Whether the tracing of acquisitions may record personal data: the signed-in
    /// account's username in the `account` field of the `msal.acquire_token` span (see
    /// `docs/observability.md`). Default `false`, as MSAL Python's `enable_pii_log`.
    /// Tokens, secrets and assertions are never recorded, whatever this says.
    ///
    /// ```
    /// use msal_runtime::{ClientCredential, ConfidentialClientApplication};
    /// let app = ConfidentialClientApplication::builder("my-client-id")
    ///     .client_credential(ClientCredential::secret("s3cret"))
    ///     .enable_pii_log(true)
    ///     .build();
    /// assert!(app.is_ok());
    /// ```
    pub fn enable_pii_log(mut self, enabled: bool) -> Self {
        self.opts.enable_pii_log = enabled;
        self
    }

    /// Your own reqwest client; `proxies`, `verify` and per-request timeouts are then yours
    /// to set on it. The [`timeout`](Self::timeout) still bounds each whole acquisition.
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
        check_credential(&credential)?;
        if self.timeout.is_zero() {
            return Err(Error::config(
                "timeout",
                "the timeout must be more than zero",
            ));
        }
        check_options(&self.opts)?;
        if let Some(p) = &self.proxy {
            url::Url::parse(p).map_err(|e| Error::config("proxies", format!("not a URL ({e})")))?;
        }
        let mut opts = self.opts;
        opts.timeout = Some(self.timeout);
        let http = match self.http_client {
            Some(client) => HttpClient::from_client(client),
            None => HttpClient::build(ClientOptions {
                timeout: self.timeout,
                proxy: self.proxy,
                verify: self.verify,
            })?,
        };
        Ok(ConfidentialClientApplication {
            inner: Arc::new(AppState::new(
                client_id,
                authority,
                credential,
                self.cache.unwrap_or_default(),
                http,
                opts,
            )),
        })
    }
}

impl crate::credential::AzureEnvironment {
    /// A confidential client builder with this client id, authority and credential.
    pub fn application_builder(self) -> ConfidentialClientApplicationBuilder {
        let authority = self.authority();
        ConfidentialClientApplication::builder(self.client_id)
            .authority(authority)
            .client_credential(self.credential)
    }
}

/// An empty secret or assertion is a configuration mistake, found at build time.
fn check_credential(credential: &ClientCredential) -> Result<()> {
    let empty = match credential {
        ClientCredential::Secret(s) => s
            .secret()
            .is_empty()
            .then_some("the client secret is empty"),
        ClientCredential::Assertion(a) => a
            .secret()
            .trim()
            .is_empty()
            .then_some("the client assertion is empty"),
        _ => None,
    };
    empty.map_or(Ok(()), |why| Err(Error::config("client_credential", why)))
}

/// The request-shaping options a builder collected.
fn check_options(opts: &AppOptions) -> Result<()> {
    if opts.exclude_scopes.iter().any(|s| s == "openid") {
        return Err(Error::config(
            "exclude_scopes",
            "`openid` cannot be excluded",
        ));
    }
    if let Region::Named(name) = &opts.region {
        Region::named(name.clone())?;
    }
    if opts.region == Region::FromEnvironment {
        crate::authority::forced_region(&opts.env)?;
    }
    for (field, url) in [
        ("imds_endpoint", &opts.imds_endpoint),
        (
            "instance_discovery_endpoint",
            &opts.instance_discovery_endpoint,
        ),
    ] {
        if let Some(u) = url {
            url::Url::parse(u).map_err(|e| Error::config(field, format!("not a URL ({e})")))?;
        }
    }
    Ok(())
}
