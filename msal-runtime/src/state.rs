//! The shared state behind an application handle: identity, credential, cache,
//! connections, and what is discovered once per application (authority metadata, region,
//! signing keys). The grants build on it; it knows nothing of them.

use crate::authority::{
    AliasDiscovery, Authority, AuthorityMetadata, Discovery, Region, RegionResolver,
};
use crate::cache::store::Partition;
use crate::cache::TokenCache;
use crate::credential::{AssertionCache, ClientCredential};
use crate::error::{Error, Result};
use crate::http::{HttpClient, Telemetry, Throttle};
use crate::id_token::Jwks;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

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
    /// The deadline of one whole acquisition (`None`: no deadline beyond the HTTP client's).
    pub timeout: Option<Duration>,
    /// Where region settings (`MSAL_FORCE_REGION`, `REGION_NAME`, `MSAL_IMDS_ENDPOINT`) are read.
    pub env: crate::env::EnvLookup,
    /// Also cache on-behalf-of results as the user's own tokens (MSAL Python's hand-off
    /// to `acquire_token_silent`).
    pub obo_silent_handoff: bool,
    /// Persisted HTTP state (discovery, throttling), MSAL Python's `http_cache`.
    pub http_cache: Option<crate::http::HttpCache>,
    /// Whether tracing may record personal data (`enable_pii_log`).
    pub enable_pii_log: bool,
}

/// The shared state behind an application handle.
pub(crate) struct AppState {
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
    /// The cache partition of this app's own app-only tokens (host, client id, the
    /// discovered tenant), built once the tenant is known: a cache hit looks up with it.
    pub(crate) client_partition: std::sync::OnceLock<Partition>,
    /// The cache shard of the app's own tokens, named with the partition (the fast path
    /// asks a shared back-end whether its copy of that shard is current).
    pub(crate) client_shards: std::sync::OnceLock<[String; 1]>,
    /// This app's name in per-thread hit copies (`cache::memo`): unique in the process,
    /// never reused.
    pub(crate) memo_id: u64,
    region: OnceCell<Option<String>>,
    /// The host's aliases (`authority::aliases`), resolved on first need.
    pub(crate) aliases: OnceCell<Vec<String>>,
    inflight: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The signing keys, and when an unknown `kid` last made us fetch them again.
    jwks: tokio::sync::Mutex<Option<(Option<Instant>, Arc<Jwks>)>>,
    used_flows: Mutex<VecDeque<String>>,
}

/// How many redeemed auth-code flow states are remembered to refuse replays.
const USED_FLOWS_KEPT: usize = 4096;
/// A JWKS is fetched again for an unknown key id at most this often (the first fetch does
/// not count: a key rolled over since then is picked up at once).
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(300);

/// Holds a single-flight slot; dropping it lets the next caller in. It owns what it
/// needs, so a background refresh can hold it past the call that started it.
pub(crate) struct FlightGuard {
    inflight: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    key: String,
    slot: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        // The map and this guard hold the only references: nobody else is waiting.
        if Arc::strong_count(&self.slot) == 2 {
            map.remove(&self.key);
        }
    }
}

impl AppState {
    pub(crate) fn new(
        client_id: String,
        authority: Authority,
        credential: ClientCredential,
        cache: TokenCache,
        http: HttpClient,
        opts: AppOptions,
    ) -> Self {
        AppState {
            client_id,
            authority,
            credential,
            assertions: AssertionCache::default(),
            cache,
            http,
            telemetry: Telemetry::default(),
            throttle: if opts.http_cache.is_some() {
                Throttle::persisting()
            } else {
                Throttle::default()
            },
            opts,
            metadata: OnceCell::new(),
            client_partition: std::sync::OnceLock::new(),
            client_shards: std::sync::OnceLock::new(),
            memo_id: crate::cache::memo::new_owner(),
            region: OnceCell::new(),
            aliases: OnceCell::new(),
            inflight: Arc::new(Mutex::new(HashMap::new())),
            jwks: tokio::sync::Mutex::new(None),
            used_flows: Mutex::new(VecDeque::new()),
        }
    }

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
    /// ID token or a web API's incoming access token names a key we do not have (key
    /// rollover).
    pub(crate) async fn jwks(
        &self,
        meta: &AuthorityMetadata,
        kid: Option<&str>,
    ) -> Result<Arc<Jwks>> {
        let mut slot = self.jwks.lock().await;
        let refetch = slot.is_some();
        if let Some((refetched, jwks)) = slot.as_ref() {
            if jwks.has_kid(kid) || refetched.is_some_and(|t| t.elapsed() < JWKS_REFETCH_AFTER) {
                return Ok(jwks.clone());
            }
        }
        // A failed refetch counts too: a token naming a bogus `kid` cannot make every
        // request fetch the keys.
        if let Some((refetched, _)) = slot.as_mut() {
            *refetched = Some(Instant::now());
        }
        let url = meta.jwks_uri.as_deref().ok_or_else(|| Error::Discovery {
            url: self.authority.openid_configuration_url(),
            status: None,
            detail: "the authority advertises no jwks_uri, so tokens cannot be verified".into(),
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
        *slot = Some((refetch.then(Instant::now), jwks.clone()));
        Ok(jwks)
    }

    /// The authority's endpoints, discovered on first use (or taken from another app of
    /// the process on the same client and settings) and kept for the app's life.
    pub(crate) async fn metadata(&self) -> Result<Arc<AuthorityMetadata>> {
        self.metadata
            .get_or_try_init(|| async {
                let discovery = Discovery {
                    http: &self.http,
                    validate_authority: self.opts.validate_authority,
                    instance_discovery: self.opts.instance_discovery,
                    instance_discovery_endpoint: self.opts.instance_discovery_endpoint.as_deref(),
                    http_cache: self.opts.http_cache.as_ref(),
                };
                // Further apps of the process on the same client and settings reuse it.
                let key = format!(
                    "{}|{}|{}|{}",
                    self.authority.as_str(),
                    self.opts.validate_authority,
                    self.opts.instance_discovery,
                    self.opts
                        .instance_discovery_endpoint
                        .as_deref()
                        .unwrap_or("")
                );
                // An app with its own HTTP state (`http_cache`) keeps to it: what it
                // discovers is persisted there, and it neither takes nor offers the
                // process's share.
                let share = self.opts.http_cache.is_none();
                if let Some(m) = share.then(|| self.http.shared_metadata(&key)).flatten() {
                    return Ok(m);
                }
                let started = Instant::now();
                let found = discovery.resolve(&self.authority).await;
                match &found {
                    Ok(meta) => tracing::debug!(
                        kind = "discovery",
                        authority = self.authority.as_str(),
                        token_endpoint = meta.token_endpoint.as_str(),
                        duration_ms = started.elapsed().as_millis() as u64,
                        "authority metadata discovered"
                    ),
                    Err(e) => tracing::warn!(
                        kind = "discovery",
                        authority = self.authority.as_str(),
                        error = %e,
                        "authority discovery failed"
                    ),
                }
                let m = Arc::new(found?);
                if share {
                    self.http.share_metadata(key, m.clone());
                }
                Ok(m)
            })
            .await
            .cloned()
    }

    /// The aliases of the app's host, the host first (`authority::aliases`): resolved on
    /// first need (a look-up that found nothing under the host itself) and kept for the
    /// app's life.
    pub(crate) async fn aliases(&self) -> &[String] {
        self.aliases
            .get_or_init(|| async {
                AliasDiscovery {
                    http: &self.http,
                    validate_authority: self.opts.validate_authority,
                    instance_discovery: self.opts.instance_discovery,
                    instance_discovery_endpoint: self.opts.instance_discovery_endpoint.as_deref(),
                    http_cache: self.opts.http_cache.as_ref(),
                }
                .resolve(&self.authority)
                .await
            })
            .await
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
                    http_cache: self.opts.http_cache.as_ref(),
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
    pub(crate) async fn single_flight(&self, key: &str) -> FlightGuard {
        let slot = {
            let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        FlightGuard {
            inflight: self.inflight.clone(),
            key: key.to_string(),
            slot,
            guard: Some(guard),
        }
    }

    /// The single-flight slot for `key` if nobody holds it, without waiting: a background
    /// refresh starts only when no fetch of the same token is under way.
    pub(crate) fn try_single_flight(&self, key: &str) -> Option<FlightGuard> {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let slot = map.entry(key.to_string()).or_default().clone();
        match slot.clone().try_lock_owned() {
            Ok(guard) => Some(FlightGuard {
                inflight: self.inflight.clone(),
                key: key.to_string(),
                slot,
                guard: Some(guard),
            }),
            Err(_) => {
                // Busy: leave the entry to its holder (it removes it when done).
                None
            }
        }
    }

    /// Runs an acquisition under the configured timeout: one deadline for the whole
    /// call (discovery, the request, its retry and the backoff), not one per attempt.
    pub(crate) async fn within_deadline<T>(
        &self,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(limit) = self.opts.timeout else {
            return call.await;
        };
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::Http {
                url: crate::error::strip_query(self.authority.as_str()),
                status: None,
                kind: crate::error::HttpErrorKind::Timeout,
                detail: format!(
                    "no token within the {} ms timeout (retries included)",
                    limit.as_millis()
                ),
                source: None,
            }),
        }
    }
}
