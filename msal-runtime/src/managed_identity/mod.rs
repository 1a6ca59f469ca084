//! Managed identity, as MSAL Python's `ManagedIdentityClient`: tokens for the identity Azure
//! gives a VM, an App Service or Functions app, an Azure Arc server, a Service Fabric
//! application, an Azure Machine Learning compute or Cloud Shell — no secret in the program.
//!
//! The source is detected from the environment on every request, in MSAL's order: Service
//! Fabric, App Service, Azure Machine Learning, Azure Arc, Cloud Shell, then the VM instance
//! metadata service (IMDS). Tokens are cached in the MSAL token cache under the same keys MSAL
//! Python writes (`-localhost-accesstoken-{id}-managed_identity-{resource}`).

mod app_service;
mod arc;
mod cloud_shell;

mod imds;
mod machine_learning;
mod service_fabric;
mod throttle;
mod transport;

pub use crate::env::EnvLookup;
pub use crate::error::managed_identity::{
    ManagedIdentityError, ManagedIdentityErrorKind, ManagedIdentitySource,
};

use crate::cache::store::{AtQuery, CacheData};
use crate::cache::{AccessTokenEntry, TokenCache};
use crate::error::{Error, HttpErrorKind, Result};
use crate::result::{AuthenticationResult, TokenSource};
use crate::secret::AccessToken;
use serde_json::{Map, Value};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::{MiRequest, MiResponse};

/// The `client_id` under which system-assigned tokens are cached (MSAL.NET's spelling,
/// upper-cased as MSAL Python writes it for `{"ManagedIdentityIdType": "SystemAssigned"}`).
pub const SYSTEM_ASSIGNED_CACHE_ID: &str = "SYSTEM_ASSIGNED_MANAGED_IDENTITY";
/// The cache `environment` of managed identity tokens.
const CACHE_ENVIRONMENT: &str = "localhost";
/// The cache `realm` of managed identity tokens.
const CACHE_REALM: &str = "managed_identity";
/// Cached tokens with less than this left are treated as expired.
const EXPIRY_MARGIN_SECS: u64 = 300;
/// Lifetimes from this value up get a proactive refresh at half-life.
const HALF_LIFE_FROM_SECS: i64 = 7200;
/// The variable that forbids the default metadata address (set by `scripts/test.sh`).
pub const FORBID_DEFAULT_IMDS_VAR: &str = "MSAL_FORBID_DEFAULT_IMDS";

/// Which identity to get tokens for.
///
/// ```
/// use msal_runtime::ManagedIdentity;
///
/// let system = ManagedIdentity::system_assigned();
/// let by_client_id = ManagedIdentity::user_assigned_client_id("6f1c2d3e-0000-4000-8000-000000000002");
/// assert_eq!(by_client_id.id(), Some("6f1c2d3e-0000-4000-8000-000000000002"));
/// assert_eq!(system.id(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentity {
    /// The identity of the resource itself.
    SystemAssigned,
    /// A user-assigned identity, by its client (application) id.
    UserAssignedClientId(String),
    /// A user-assigned identity, by its object (principal) id.
    UserAssignedObjectId(String),
    /// A user-assigned identity, by its Azure resource id
    /// (`/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/...`).
    UserAssignedResourceId(String),
}

impl ManagedIdentity {
    /// The system-assigned identity.
    pub fn system_assigned() -> Self {
        ManagedIdentity::SystemAssigned
    }

    /// A user-assigned identity by client id.
    pub fn user_assigned_client_id(id: impl Into<String>) -> Self {
        ManagedIdentity::UserAssignedClientId(id.into())
    }

    /// A user-assigned identity by object id.
    pub fn user_assigned_object_id(id: impl Into<String>) -> Self {
        ManagedIdentity::UserAssignedObjectId(id.into())
    }

    /// A user-assigned identity by Azure resource id.
    pub fn user_assigned_resource_id(id: impl Into<String>) -> Self {
        ManagedIdentity::UserAssignedResourceId(id.into())
    }

    /// MSAL Python's dict form: `{"ManagedIdentityIdType": "SystemAssigned" | "ClientId" |
    /// "ObjectId" | "ResourceId", "Id": ...}` (e.g. read from configuration).
    ///
    /// ```
    /// use msal_runtime::ManagedIdentity;
    /// let v = serde_json::json!({"ManagedIdentityIdType": "ClientId", "Id": "abc"});
    /// assert_eq!(ManagedIdentity::from_json(&v).unwrap(), ManagedIdentity::user_assigned_client_id("abc"));
    /// assert!(ManagedIdentity::from_json(&serde_json::json!({"ManagedIdentityIdType": "ClientId"})).is_err());
    /// ```
    pub fn from_json(value: &Value) -> Result<Self> {
        let bad = || {
            Error::from(ManagedIdentityError::config(
                None,
                "incorrect managed identity: expected {\"ManagedIdentityIdType\": \
                 \"SystemAssigned\"|\"ClientId\"|\"ObjectId\"|\"ResourceId\", \"Id\": ...}",
            ))
        };
        let kind = value
            .get("ManagedIdentityIdType")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        let id = value
            .get("Id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        match (kind, id) {
            ("SystemAssigned", _) => Ok(ManagedIdentity::SystemAssigned),
            ("ClientId", Some(id)) => Ok(ManagedIdentity::UserAssignedClientId(id)),
            ("ObjectId", Some(id)) => Ok(ManagedIdentity::UserAssignedObjectId(id)),
            ("ResourceId", Some(id)) => Ok(ManagedIdentity::UserAssignedResourceId(id)),
            _ => Err(bad()),
        }
    }

    /// The user-assigned id, `None` for the system-assigned identity.
    pub fn id(&self) -> Option<&str> {
        match self {
            ManagedIdentity::SystemAssigned => None,
            ManagedIdentity::UserAssignedClientId(id)
            | ManagedIdentity::UserAssignedObjectId(id)
            | ManagedIdentity::UserAssignedResourceId(id) => Some(id),
        }
    }

    /// The `client_id` of this identity's cache entries.
    pub fn cache_client_id(&self) -> &str {
        self.id().unwrap_or(SYSTEM_ASSIGNED_CACHE_ID)
    }
}

/// Bounded retries following each source's guidance: IMDS 404, 429 and 5xx (and 410 for
/// [`imds_gone_window`](Self::imds_gone_window)), Service Fabric 429; never other sources,
/// never other statuses, never past the client's overall deadline.
///
/// ```
/// use msal_runtime::RetryPolicy;
/// use std::time::Duration;
/// let fast = RetryPolicy::default().max_retries(2).backoff(Duration::from_millis(10));
/// # let _ = fast;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    backoff: Duration,
    imds_gone_window: Duration,
}

impl Default for RetryPolicy {
    /// 4 retries, first delay 1 s doubling each time (1, 2, 4, 8 s), IMDS 410 retried for 70 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            backoff: Duration::from_secs(1),
            imds_gone_window: Duration::from_secs(70),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// How many retries after the first attempt.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first delay; each further retry doubles it (a `Retry-After` up to 60 s wins).
    pub fn backoff(mut self, d: Duration) -> Self {
        self.backoff = d;
        self
    }

    /// How long IMDS 410 ("updating, available within 70 s") keeps being retried.
    pub fn imds_gone_window(mut self, d: Duration) -> Self {
        self.imds_gone_window = d;
        self
    }
}

/// Which retry guidance applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryRule {
    None,
    Imds,
    ServiceFabric,
}

/// Options of one [`acquire_token_for_client_with`](ManagedIdentityClient::acquire_token_for_client_with) call.
///
/// ```
/// use msal_runtime::ManagedIdentityTokenOptions;
/// let opts = ManagedIdentityTokenOptions::new().claims_challenge(r#"{"access_token":{"nbf":{"essential":true}}}"#);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ManagedIdentityTokenOptions {
    /// A claims challenge from a resource (revocation, CAE): bypasses the cache. Its content is
    /// not sent to any source (none accepts it); Service Fabric is told which token to replace.
    pub claims_challenge: Option<String>,
}

impl ManagedIdentityTokenOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the claims challenge.
    pub fn claims_challenge(mut self, claims: impl Into<String>) -> Self {
        self.claims_challenge = Some(claims.into());
        self
    }
}

/// Configures a [`ManagedIdentityClient`].
#[derive(Debug, Clone)]
pub struct ManagedIdentityClientBuilder {
    identity: ManagedIdentity,
    cache: Option<TokenCache>,
    client_capabilities: Vec<String>,
    timeout: Duration,
    env: EnvLookup,
    imds_endpoint: Option<String>,
    cloud_shell_endpoint: Option<String>,
    arc_key_directory: Option<PathBuf>,
    arc_himds_path: Option<PathBuf>,
    retry: RetryPolicy,
    source: Option<ManagedIdentitySource>,
}

impl ManagedIdentityClientBuilder {
    /// Pins the token source instead of detecting it from the environment on each request
    /// (e.g. an App Service app that must never fall back to IMDS). The source's own
    /// variables are still read from the environment. Service Fabric and Cloud Shell cannot
    /// select a user-assigned identity: [`build`](Self::build) refuses that combination.
    ///
    /// ```
    /// use msal_runtime::{ManagedIdentity, ManagedIdentityClient, ManagedIdentitySource};
    /// let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
    ///     .source(ManagedIdentitySource::AppService)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(mi.get_managed_identity_source(), ManagedIdentitySource::AppService);
    /// let err = ManagedIdentityClient::builder(ManagedIdentity::user_assigned_client_id("6f1c2d3e-0000-4000-8000-000000000002"))
    ///     .source(ManagedIdentitySource::ServiceFabric)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("user-assigned"));
    /// ```
    pub fn source(mut self, source: ManagedIdentitySource) -> Self {
        self.source = Some(source);
        self
    }

    /// The token cache (default: a new in-memory cache). Share a file cache with MSAL Python.
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Client capabilities (e.g. `["CP1"]`): sent to Service Fabric as `xms_cc` (the only
    /// source that accepts them).
    pub fn client_capabilities<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_capabilities = capabilities.into_iter().map(Into::into).collect();
        self
    }

    /// The overall deadline of one acquisition, retries and their waits included
    /// (default 90 s; MSAL Python has none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where environment variables are read from (default: the process environment).
    pub fn env(mut self, env: EnvLookup) -> Self {
        self.env = env;
        self
    }

    /// The IMDS host (`http://host:port`), as `AZURE_POD_IDENTITY_AUTHORITY_HOST` does; wins over
    /// it. `/metadata/identity/oauth2/token` is appended unless the URL already ends with it.
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.imds_endpoint = Some(url.into());
        self
    }

    /// Cloud Shell's token endpoint (default `http://localhost:50342/oauth2/token`).
    pub fn cloud_shell_endpoint(mut self, url: impl Into<String>) -> Self {
        self.cloud_shell_endpoint = Some(url.into());
        self
    }

    /// The folder holding Azure Arc's challenge key files (default
    /// `/var/opt/azcmagent/tokens` on Linux, `%ProgramData%\AzureConnectedMachineAgent\Tokens`
    /// on Windows).
    pub fn arc_key_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.arc_key_directory = Some(dir.into());
        self
    }

    /// The Azure Arc agent whose presence selects Arc (default `/opt/azcmagent/bin/himds` on
    /// Linux, `%ProgramFiles%\AzureConnectedMachineAgent\himds.exe` on Windows).
    pub fn arc_himds_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.arc_himds_path = Some(path.into());
        self
    }

    /// The retry policy (see [`RetryPolicy`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<ManagedIdentityClient> {
        if let Some(id) = self.identity.id() {
            if id.trim().is_empty() {
                return Err(ManagedIdentityError::config(
                    None,
                    "a user-assigned managed identity needs a non-empty id",
                )
                .into());
            }
        }
        if let (Some(src), Some(_)) = (self.source, self.identity.id()) {
            if matches!(
                src,
                ManagedIdentitySource::ServiceFabric | ManagedIdentitySource::CloudShell
            ) {
                return Err(ManagedIdentityError::config(
                    Some(src),
                    format!("{src} does not support a user-assigned managed identity"),
                )
                .into());
            }
        }
        if self.timeout.is_zero() {
            return Err(Error::config("timeout", "must be greater than zero"));
        }
        for (field, url) in [
            ("imds_endpoint", &self.imds_endpoint),
            ("cloud_shell_endpoint", &self.cloud_shell_endpoint),
        ] {
            if let Some(u) = url {
                match url::Url::parse(u) {
                    Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
                    _ => return Err(Error::config(field, format!("`{u}` is not an http(s) URL"))),
                }
            }
        }
        let http = transport::plain_client()?;
        Ok(ManagedIdentityClient {
            inner: Arc::new(Inner {
                identity: self.identity,
                cache: self.cache.unwrap_or_default(),
                client_capabilities: self.client_capabilities,
                timeout: self.timeout,
                env: self.env,
                imds_endpoint: self.imds_endpoint,
                cloud_shell_endpoint: self.cloud_shell_endpoint,
                arc_key_directory: self.arc_key_directory,
                arc_himds_path: self.arc_himds_path,
                retry: self.retry,
                source: self.source,
                http,
                throttle: throttle::Throttle::default(),
            }),
        })
    }
}

/// Acquires tokens for a managed identity (MSAL Python's `ManagedIdentityClient`).
///
/// ```no_run
/// use msal_runtime::{ManagedIdentity, ManagedIdentityClient, TokenCache};
///
/// # async fn run() -> Result<(), msal_runtime::Error> {
/// let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
///     .token_cache(TokenCache::new())
///     .build()?;
/// println!("running on {}", mi.get_managed_identity_source());
/// let token = mi.acquire_token_for_client("https://vault.azure.net").await?;
/// println!("{} s left", token.expires_in());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ManagedIdentityClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ManagedIdentityClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityClient")
            .field("identity", &self.inner.identity)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    identity: ManagedIdentity,
    cache: TokenCache,
    client_capabilities: Vec<String>,
    timeout: Duration,
    env: EnvLookup,
    imds_endpoint: Option<String>,
    cloud_shell_endpoint: Option<String>,
    arc_key_directory: Option<PathBuf>,
    arc_himds_path: Option<PathBuf>,
    retry: RetryPolicy,
    source: Option<ManagedIdentitySource>,
    http: reqwest::Client,
    throttle: throttle::Throttle,
}

/// What a source returned, normalised.
pub(crate) struct SourceToken {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: String,
}

/// One acquisition in progress.
pub(crate) struct Cx<'a> {
    pub inner: &'a Inner,
    pub identity: &'a ManagedIdentity,
    pub resource: &'a str,
    pub deadline: Instant,
    /// SHA-256 (hex) of the token a claims challenge replaces.
    pub token_sha256_to_refresh: Option<String>,
}

impl ManagedIdentityClient {
    /// A builder for `identity` with defaults.
    pub fn builder(identity: ManagedIdentity) -> ManagedIdentityClientBuilder {
        ManagedIdentityClientBuilder {
            identity,
            cache: None,
            client_capabilities: Vec::new(),
            timeout: Duration::from_secs(90),
            env: EnvLookup::process(),
            imds_endpoint: None,
            cloud_shell_endpoint: None,
            arc_key_directory: None,
            arc_himds_path: None,
            retry: RetryPolicy::default(),
            source: None,
        }
    }

    /// The identity this client acquires tokens for.
    pub fn identity(&self) -> &ManagedIdentity {
        &self.inner.identity
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        &self.inner.cache
    }

    /// The source the next request would go to, from the environment as it is now.
    pub fn get_managed_identity_source(&self) -> ManagedIdentitySource {
        detect(&self.inner)
    }

    /// A token for `resource` (e.g. `https://vault.azure.net`, sent verbatim): from the cache
    /// when one has at least 5 minutes left and is not due for refresh, else from the source.
    pub async fn acquire_token_for_client(&self, resource: &str) -> Result<AuthenticationResult> {
        self.acquire_token_for_client_with(resource, ManagedIdentityTokenOptions::default())
            .await
    }

    /// Like [`acquire_token_for_client`](Self::acquire_token_for_client), with options.
    pub async fn acquire_token_for_client_with(
        &self,
        resource: &str,
        options: ManagedIdentityTokenOptions,
    ) -> Result<AuthenticationResult> {
        let subject = crate::observability::Subject {
            client_id: self.inner.identity.cache_client_id(),
            tenant: "",
            scopes: &[],
            resource,
            pii: false,
        };
        let call = self.acquire_observed(resource, options);
        crate::observability::acquisition(
            crate::observability::Grant::ManagedIdentity,
            subject,
            call,
        )
        .await
    }

    async fn acquire_observed(
        &self,
        resource: &str,
        options: ManagedIdentityTokenOptions,
    ) -> Result<AuthenticationResult> {
        let inner = &*self.inner;
        if resource.trim().is_empty() {
            return Err(Error::InvalidInput(
                "a managed identity token needs a resource, e.g. https://vault.azure.net".into(),
            ));
        }
        let client_id = inner.identity.cache_client_id().to_string();
        let shard = crate::cache::store::shard::app(CACHE_ENVIRONMENT, &client_id, CACHE_REALM);
        let scopes = vec![resource.to_string()];
        let now = CacheData::now();
        let cached = inner
            .cache
            .lookup(std::slice::from_ref(&shard), |d| {
                d.find_access_token(
                    &AtQuery {
                        home_account_id: None,
                        environment: CACHE_ENVIRONMENT,
                        client_id: &client_id,
                        realm: CACHE_REALM,
                        scopes: &scopes,
                        user_assertion_hash: None,
                    },
                    now,
                )
            })
            .await?
            .filter(|e| e.expires_on.saturating_sub(now) >= EXPIRY_MARGIN_SECS);

        let mut fallback = None;
        let mut token_sha256_to_refresh = None;
        if let Some(entry) = cached {
            if options.claims_challenge.is_some() {
                token_sha256_to_refresh = Some(sha256_hex(entry.secret.secret()));
            } else if entry.refresh_on.is_none_or(|r| r > now) {
                return Ok(result_from_entry(&entry, resource, now));
            } else {
                fallback = Some(entry);
            }
        }

        let cx = Cx {
            inner,
            identity: &inner.identity,
            resource,
            deadline: Instant::now() + inner.timeout,
            token_sha256_to_refresh,
        };
        let source = detect(inner);
        tracing::debug!(
            source = source.name(),
            "managed identity: requesting a token"
        );
        let obtained = match source {
            ManagedIdentitySource::ServiceFabric => service_fabric::obtain(&cx).await,
            ManagedIdentitySource::AppService => app_service::obtain(&cx).await,
            ManagedIdentitySource::MachineLearning => machine_learning::obtain(&cx).await,
            ManagedIdentitySource::AzureArc => arc::obtain(&cx).await,
            ManagedIdentitySource::CloudShell => cloud_shell::obtain(&cx).await,
            ManagedIdentitySource::DefaultToVm => imds::obtain(&cx).await,
        };
        match obtained {
            Ok(token) => self.store(token, resource, client_id).await,
            Err(e) => match fallback {
                Some(entry) => {
                    tracing::warn!(error = %e, "managed identity: refresh failed, using the cached token");
                    Ok(result_from_entry(&entry, resource, CacheData::now()))
                }
                None => Err(e),
            },
        }
    }

    async fn store(
        &self,
        token: SourceToken,
        resource: &str,
        client_id: String,
    ) -> Result<AuthenticationResult> {
        let now = CacheData::now();
        // Negative is expired; longer than a year is clamped to a year.
        let expires_in = u64::try_from(token.expires_in)
            .unwrap_or(0)
            .min(crate::cache::store::MAX_TOKEN_LIFETIME_SECS);
        let expires_on = now.saturating_add(expires_in);
        let refresh_on =
            (expires_in >= HALF_LIFE_FROM_SECS as u64).then(|| now.saturating_add(expires_in / 2));
        let entry = AccessTokenEntry {
            credential_type: "AccessToken".into(),
            secret: AccessToken::new(token.access_token.as_str()),
            home_account_id: None,
            environment: CACHE_ENVIRONMENT.into(),
            client_id,
            target: resource.to_string(),
            realm: CACHE_REALM.into(),
            token_type: Some(token.token_type.clone()),
            cached_at: now,
            expires_on,
            extended_expires_on: Some(expires_on),
            refresh_on,
            key_id: None,
            ext_cache_key: None,
            user_assertion_hash: None,
            extra: Map::new(),
        };
        // Tokens that would be treated as expired at once are not cached (MSAL writes them,
        // then never finds them).
        if expires_in >= EXPIRY_MARGIN_SECS {
            self.inner
                .cache
                .modify(move |d| {
                    d.insert_access_token(entry);
                })
                .await?;
        }
        Ok(AuthenticationResult {
            access_token: AccessToken::new(token.access_token),
            token_type: token.token_type.into(),
            expires_on,
            ext_expires_on: None,
            refresh_on,
            scopes: crate::scope::Scopes::from_target(resource),
            id_token_claims: None,
            id_token: None,
            account: None,
            token_source: TokenSource::IdentityProvider,
            correlation_id: None,
            tenant_id: None,
            raw_response: None,
        })
    }
}

fn result_from_entry(entry: &AccessTokenEntry, resource: &str, _now: u64) -> AuthenticationResult {
    AuthenticationResult {
        access_token: entry.secret.clone(),
        token_type: crate::result::token_type_of(entry.token_type.as_deref()),
        expires_on: entry.expires_on,
        ext_expires_on: entry.extended_expires_on,
        refresh_on: entry.refresh_on,
        scopes: crate::scope::Scopes::from_target(resource),
        id_token_claims: None,
        id_token: None,
        account: None,
        token_source: TokenSource::Cache,
        correlation_id: None,
        tenant_id: None,
        raw_response: None,
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    let d = openssl::hash::hash(openssl::hash::MessageDigest::sha256(), s.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    transport::hex(&d)
}

/// MSAL's detection order, from the environment as it is now; Cloud Shell comes before the VM
/// default (MSAL Python reports it, but its `ManagedIdentityClient` then calls IMDS).
fn detect(inner: &Inner) -> ManagedIdentitySource {
    if let Some(pinned) = inner.source {
        return pinned;
    }
    let env = &inner.env;
    let has = |n: &str| env.has(n);
    if has("IDENTITY_ENDPOINT") && has("IDENTITY_HEADER") {
        if has("IDENTITY_SERVER_THUMBPRINT") {
            return ManagedIdentitySource::ServiceFabric;
        }
        return ManagedIdentitySource::AppService;
    }
    if has("MSI_ENDPOINT") && has("MSI_SECRET") {
        return ManagedIdentitySource::MachineLearning;
    }
    if (has("IDENTITY_ENDPOINT") && has("IMDS_ENDPOINT")) || arc::himds_present(inner) {
        return ManagedIdentitySource::AzureArc;
    }
    if env
        .get("AZUREPS_HOST_ENVIRONMENT")
        .is_some_and(|v| v.starts_with("cloud-shell"))
    {
        return ManagedIdentitySource::CloudShell;
    }
    ManagedIdentitySource::DefaultToVm
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the sources.

impl Cx<'_> {
    /// Sends `req` (after the throttle check), retrying as `rule` allows within the deadline,
    /// and records a throttling answer. Service Fabric passes `throttle = false`.
    pub(crate) async fn exchange(
        &self,
        source: ManagedIdentitySource,
        req: &MiRequest,
        step: &str,
        rule: RetryRule,
        throttle: bool,
        pinned_thumbprint: Option<&str>,
    ) -> Result<MiResponse> {
        let key = throttle.then(|| throttle::key(req, step));
        if let Some(k) = &key {
            if let Some(old) = self.inner.throttle.replay(k) {
                tracing::info!(
                    kind = "throttled",
                    source = source.name(),
                    "managed identity: an identical request failed recently; replaying its answer"
                );
                return Err(ManagedIdentityError::new(
                    ManagedIdentityErrorKind::Throttled,
                    Some(source),
                    format!(
                        "an identical request to {} failed recently; its answer is replayed \
                         without contacting the source",
                        req.display_url()
                    ),
                )
                .with_status(old.status)
                .with_body(&old.body)
                .with_retry_after(old.retry_after())
                .into());
            }
        }
        let first = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.deadline_error(source));
            }
            let per_attempt = remaining.min(Duration::from_secs(30));
            let sent = match pinned_thumbprint {
                Some(t) => transport::send_pinned(req, t, per_attempt).await,
                None => transport::send_plain(&self.inner.http, req, per_attempt).await,
            };
            let resp = match sent {
                Ok(r) => r,
                Err(Error::Http {
                    kind: HttpErrorKind::Timeout,
                    ..
                }) if Instant::now() >= self.deadline => return Err(self.deadline_error(source)),
                Err(e) => return Err(e),
            };
            if let Some(delay) = self.retry_delay(rule, &resp, attempt, first.elapsed()) {
                if Instant::now() + delay < self.deadline {
                    tracing::info!(
                        kind = "retry",
                        status = resp.status,
                        attempt,
                        wait_ms = delay.as_millis() as u64,
                        "managed identity: retrying the request"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                    continue;
                }
            }
            if let Some(k) = key {
                self.inner.throttle.record(k, &resp);
            }
            return Ok(resp);
        }
    }

    fn retry_delay(
        &self,
        rule: RetryRule,
        resp: &MiResponse,
        attempt: u32,
        elapsed: Duration,
    ) -> Option<Duration> {
        let p = &self.inner.retry;
        let s = resp.status;
        let backoff = p
            .backoff
            .saturating_mul(2u32.saturating_pow(attempt.min(16)));
        let delay = match resp.retry_after() {
            Some(secs) => Duration::from_secs(secs.min(60)),
            None => backoff,
        };
        match rule {
            RetryRule::None => None,
            RetryRule::Imds if s == 410 => {
                (elapsed + delay < p.imds_gone_window || attempt < p.max_retries).then_some(delay)
            }
            RetryRule::Imds if (s == 404 || s == 429 || s >= 500) && attempt < p.max_retries => {
                Some(delay)
            }
            RetryRule::ServiceFabric if s == 429 && attempt < p.max_retries => Some(delay),
            _ => None,
        }
    }

    fn deadline_error(&self, source: ManagedIdentitySource) -> Error {
        ManagedIdentityError::new(
            ManagedIdentityErrorKind::Deadline,
            Some(source),
            format!(
                "no token within the client's timeout of {:?}",
                self.inner.timeout
            ),
        )
        .into()
    }

    /// The query selector for a user-assigned identity, with per-source parameter names
    /// `(client id, object id, resource id)`.
    pub(crate) fn selector(&self, names: (&str, &str, &str)) -> Option<(String, String)> {
        match self.identity {
            ManagedIdentity::SystemAssigned => None,
            ManagedIdentity::UserAssignedClientId(id) => Some((names.0.into(), id.clone())),
            ManagedIdentity::UserAssignedObjectId(id) => Some((names.1.into(), id.clone())),
            ManagedIdentity::UserAssignedResourceId(id) => Some((names.2.into(), id.clone())),
        }
    }
}

/// Parses a URL from the environment or the builder.
pub(crate) fn parse_endpoint(
    source: ManagedIdentitySource,
    what: &str,
    value: &str,
) -> Result<url::Url> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(ManagedIdentityError::config(
            Some(source),
            format!("{what} is not an http(s) URL"),
        )
        .into()),
    }
}

/// The body as JSON, if it is a JSON object.
pub(crate) fn json_object(resp: &MiResponse) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(&resp.body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// An integer field that may be a JSON number or a string of digits.
pub(crate) fn int_field(m: &Map<String, Value>, name: &str) -> Option<i64> {
    match m.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        // Saturating: `1e300` is `i64::MAX`, never a wrapped or panicking conversion.
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

/// A non-empty string field.
pub(crate) fn str_field<'m>(m: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    m.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The error for a response that is not a usable token: `Source` for error statuses,
/// `InvalidResponse` for 2xx. A body that holds a token is never kept.
pub(crate) fn response_error(
    source: ManagedIdentitySource,
    resp: &MiResponse,
    error: Option<&str>,
    message: impl Into<String>,
) -> Error {
    let kind = if resp.is_success() {
        ManagedIdentityErrorKind::InvalidResponse
    } else {
        ManagedIdentityErrorKind::Source
    };
    let mut e = ManagedIdentityError::new(kind, Some(source), message)
        .with_status(resp.status)
        .with_retry_after(resp.retry_after());
    if !resp.body.contains("access_token") {
        e = e.with_body(&resp.body);
    }
    if let Some(code) = error {
        e = e.with_error(code);
    }
    e.into()
}

/// A token from a body with `access_token` and a lifetime: `expires_in` (IMDS, Arc, Cloud
/// Shell) or `expires_on` epoch seconds (App Service, Machine Learning, Service Fabric).
pub(crate) fn token_from(m: &Map<String, Value>, lifetime: Lifetime) -> Option<SourceToken> {
    let access_token = str_field(m, "access_token")?.to_string();
    let expires_in = match lifetime {
        Lifetime::ExpiresIn => int_field(m, "expires_in")?,
        Lifetime::ExpiresOn => int_field(m, "expires_on")?
            .saturating_sub(i64::try_from(CacheData::now()).unwrap_or(i64::MAX)),
    };
    let token_type = str_field(m, "token_type").unwrap_or("Bearer").to_string();
    Some(SourceToken {
        access_token,
        expires_in,
        token_type,
    })
}

/// Which field gives a token's lifetime.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lifetime {
    ExpiresIn,
    ExpiresOn,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(vars: &[(&str, &str)]) -> ManagedIdentityClient {
        ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
            .env(EnvLookup::from_pairs(vars.iter().copied()))
            .arc_himds_path("/nonexistent/msal-test/himds")
            .build()
            .unwrap()
    }

    #[test]
    fn detection_follows_msal_order() {
        use ManagedIdentitySource::*;
        let all = [
            ("IDENTITY_ENDPOINT", "https://localhost:2377/x"),
            ("IDENTITY_HEADER", "h"),
            ("IDENTITY_SERVER_THUMBPRINT", "t"),
            ("IMDS_ENDPOINT", "http://localhost:40342"),
            ("MSI_ENDPOINT", "http://localhost:1/x"),
            ("MSI_SECRET", "s"),
        ];
        assert_eq!(client(&all).get_managed_identity_source(), ServiceFabric);
        assert_eq!(
            client(&all[1..]).get_managed_identity_source(),
            MachineLearning
        );
        let app = [("IDENTITY_ENDPOINT", "http://x/"), ("IDENTITY_HEADER", "")];
        assert_eq!(client(&app).get_managed_identity_source(), AppService);
        let arc = [
            ("IDENTITY_ENDPOINT", "http://x/"),
            ("IMDS_ENDPOINT", "http://y"),
        ];
        assert_eq!(client(&arc).get_managed_identity_source(), AzureArc);
        assert_eq!(client(&arc[..1]).get_managed_identity_source(), DefaultToVm);
        assert_eq!(client(&arc[1..]).get_managed_identity_source(), DefaultToVm);
        assert_eq!(
            client(&[("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")])
                .get_managed_identity_source(),
            CloudShell
        );
        assert_eq!(
            client(&[("AZUREPS_HOST_ENVIRONMENT", "Cloud-Shell")]).get_managed_identity_source(),
            DefaultToVm
        );
        assert_eq!(
            client(&[("MSI_ENDPOINT", "http://x")]).get_managed_identity_source(),
            DefaultToVm
        );
    }

    #[test]
    fn empty_user_assigned_id_is_refused() {
        let e = ManagedIdentityClient::builder(ManagedIdentity::user_assigned_client_id(" "))
            .build()
            .unwrap_err();
        assert!(
            matches!(e, Error::ManagedIdentity(ref m) if m.kind == ManagedIdentityErrorKind::Config)
        );
    }

    #[test]
    fn numbers_as_strings() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"access_token":"t","expires_in":"3599"}"#).unwrap();
        let t = token_from(&m, Lifetime::ExpiresIn).unwrap();
        assert_eq!(t.expires_in, 3599);
        assert_eq!(t.token_type, "Bearer");
    }

    #[test]
    fn hostile_lifetimes_neither_panic_nor_wrap() {
        let now = i64::try_from(CacheData::now()).unwrap();
        for (field, lifetime) in [
            ("expires_in", Lifetime::ExpiresIn),
            ("expires_on", Lifetime::ExpiresOn),
        ] {
            for raw in [
                "18446744073709551615",
                "1e300",
                "-1e300",
                "-5",
                "3599.7",
                "\"18446744073709551615\"",
                "\"1e300\"",
                "\"-5\"",
                "\"3599.7\"",
            ] {
                let body = format!(r#"{{"access_token":"t","{field}":{raw}}}"#);
                let m: Map<String, Value> = serde_json::from_str(&body).unwrap();
                let t =
                    token_from(&m, lifetime).unwrap_or_else(|| panic!("{field}={raw} is a number"));
                let big = raw.contains("18446744073709551615") || raw.contains("1e300");
                if big && !raw.starts_with('-') {
                    assert!(t.expires_in > 1_000_000_000, "{field}={raw}");
                } else if raw.contains('-') {
                    assert!(t.expires_in < 0, "{field}={raw}");
                } else if field == "expires_in" {
                    assert_eq!(t.expires_in, 3599, "{raw}");
                } else {
                    assert_eq!(t.expires_in, 3599 - now, "{raw}");
                }
            }
        }
    }
}
