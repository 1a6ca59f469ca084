//! Client credentials: app-only tokens, served from the cache while valid, refreshed
//! ahead of expiry, one request per missing token however many callers ask at once.

use super::cached::{access_token_entry, from_entry, from_hit, judge, CacheVerdict};
use super::extended::{merge_client_claims, Extensions};
use super::pipeline::TokenRequest;
use crate::authority::AuthorityMetadata;
use std::sync::Arc;

use crate::cache::memo;
use crate::cache::store::{shard, CacheData, CachedToken, Partition};
use crate::cache::FleetLease;
use crate::error::Result;
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::scope::{ScopeList, Scopes};
use crate::state::AppState;

/// The outcome of [`AppState::fleet_turn`].
enum FleetTurn {
    /// Another process fetched the token.
    Served(Box<AuthenticationResult>),
    /// This process fetches, holding the lease (release it after).
    Fetch(FleetLease, RefreshReason),
}

/// How long a process waits for another process's fetch (fleet lease) before fetching
/// itself: longer than a lease lives, so a dead holder's lease has expired by then and one
/// waiter has taken it over.
const FLEET_WAIT: std::time::Duration = std::time::Duration::from_secs(12);
/// How often a waiting process looks for the entry (a look-up served from memory until
/// Redis reports a change).
const FLEET_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Per-call options of [`acquire_token_for_client_with`](crate::ConfidentialClientApplication::acquire_token_for_client_with).
///
/// A claims challenge bypasses the cache. `fmi_path`, forwarded client claims and extra
/// body parameters are cached: their tokens are kept under MSAL's extended cache key (a
/// hash of them, as MSAL Python computes it), apart from plain tokens and from each
/// other, so send the same values on every request that should share a token.
///
/// ```
/// use msal_runtime::ForClientOptions;
/// let opts = ForClientOptions::default().claims_challenge(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
/// let fmi = ForClientOptions::default()
///     .fmi_path("SomeFmiPath/FmiCredentialPath")
///     .forwarded_client_claims(r#"{"access_token":{"xms_az_claim":{"value":"x"}}}"#)
///     .extra_body_parameter("slice", "testslice");
/// # let _ = (opts, fmi);
/// ```
/// `Debug` shows the names of extra body parameters, not their values, and whether
/// claims are set, not what they say.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ForClientOptions {
    /// A claims challenge from a resource (CAE); bypasses the cache.
    pub claims_challenge: Option<String>,
    /// The Federated Managed Identity credential path, sent as `fmi_path`.
    pub fmi_path: Option<String>,
    /// Client-originated claims (a JSON object), merged into `claims` on the wire.
    /// Not the builder's `client_claims`, which go into the client assertion.
    pub forwarded_client_claims: Option<String>,
    /// Extra form fields of the token request, in order. Names the library sets itself
    /// (`scope`, `client_secret`, ...) are refused.
    pub extra_body_parameters: Vec<(String, String)>,
}

impl std::fmt::Debug for ForClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForClientOptions")
            .field("claims_challenge", &self.claims_challenge.is_some())
            .field("fmi_path", &self.fmi_path)
            .field(
                "forwarded_client_claims",
                &self.forwarded_client_claims.is_some(),
            )
            .field(
                "extra_body_parameters",
                &self
                    .extra_body_parameters
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ForClientOptions {
    /// Sets the claims challenge.
    pub fn claims_challenge(mut self, claims: impl Into<String>) -> Self {
        self.claims_challenge = Some(claims.into());
        self
    }

    /// Sets `fmi_path`.
    pub fn fmi_path(mut self, path: impl Into<String>) -> Self {
        self.fmi_path = Some(path.into());
        self
    }

    /// Sets the forwarded client claims (a JSON object).
    pub fn forwarded_client_claims(mut self, claims: impl Into<String>) -> Self {
        self.forwarded_client_claims = Some(claims.into());
        self
    }

    /// Adds an extra form field to the token request.
    pub fn extra_body_parameter(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extra_body_parameters.push((name.into(), value.into()));
        self
    }
}

impl AppState {
    /// Where this app's app-only tokens live in the cache (its partition, and the shard a
    /// shared back-end keeps them in), built once discovery has named the tenant.
    fn client_place(&self, meta: &AuthorityMetadata) -> (&Partition, &[String; 1]) {
        let shards = self.client_shards.get_or_init(|| {
            [shard::app(
                self.authority.host(),
                &self.client_id,
                &meta.realm,
            )]
        });
        let partition = self.client_partition.get_or_init(|| {
            Partition::new(
                None,
                None,
                self.authority.host(),
                &self.client_id,
                &meta.realm,
            )
        });
        (partition, shards)
    }

    /// A fresh cached app-only token (what the result is made of), served at once: no
    /// await, no allocation, no lock, one clock read. `None` when the full path must run (discovery not
    /// done yet, a shared back-end to consult, scopes to reject, a token missing, aging
    /// or expired).
    pub(crate) fn client_token_from_memory(&self, scopes: ScopeList<'_>) -> Option<CachedToken> {
        let partition = self.client_partition.get()?;
        let shards = self.client_shards.get()?;
        let now = CacheData::now();
        let fresh = |e: &CachedToken| match judge(Some(e), now) {
            CacheVerdict::Fresh(e) => Some(e.clone()),
            _ => None,
        };
        // This thread's copy of the hit, while nothing was written since it was made.
        let generation = self.cache.generation_in_memory(shards)?;
        if let Some(hit) = memo::serve(self.memo_id, generation, &scopes, fresh) {
            self.telemetry.record_cache_hit();
            return Some(hit);
        }
        if !scopes.valid() {
            return None;
        }
        let hit = self.cache.lookup_in_memory(shards, |c, generation| {
            let e = c.find_hit(partition, scopes, None, now)?;
            let hit = fresh(e)?;
            memo::keep(self.memo_id, generation, &scopes, e);
            Some(hit)
        })??;
        self.telemetry.record_cache_hit();
        Some(hit)
    }

    /// An app-only token. A cached token past its `refresh_on` is served at once while one
    /// background task refreshes it (as MSAL.NET does); only a missing or expired token
    /// makes the caller wait, and then for a single request per token however many
    /// callers ask.
    pub(crate) async fn acquire_token_for_client(
        self: &Arc<Self>,
        scopes: &Scopes,
        opts: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        let ext = Extensions::gather(
            opts.fmi_path.as_deref(),
            &opts.extra_body_parameters,
            opts.forwarded_client_claims.as_deref(),
        )?;
        let meta = self.metadata().await?;
        let claims_challenge = opts.claims_challenge.filter(|c| !c.trim().is_empty());
        let ext_key = ext.ext_cache_key.as_deref();
        let (partition, shards) = self.client_place(&meta);

        let lookup = |cache: &CacheData| {
            let now = CacheData::now();
            let found = cache.find_hit_ext(partition, ScopeList::Set(scopes), None, ext_key, now);
            match judge(found, now) {
                CacheVerdict::Fresh(e) => CacheVerdict::Fresh(from_hit(e)),
                CacheVerdict::Aging(e) => CacheVerdict::Aging(from_hit(e)),
                CacheVerdict::Miss(reason) => CacheVerdict::Miss(reason),
            }
        };

        let flight_key = format!(
            "cc|{}|{}|{}",
            meta.realm,
            scopes.target(),
            ext_key.unwrap_or_default()
        );
        let _flight = if claims_challenge.is_some() {
            // A claims challenge bypasses the cache; it still queues behind a fetch in flight.
            self.single_flight(&flight_key).await
        } else {
            match self.cache.lookup(shards, &lookup).await? {
                CacheVerdict::Fresh(r) => return Ok(self.counted_hit(r)),
                CacheVerdict::Aging(r) => {
                    self.refresh_for_client_in_background(scopes, &ext, &flight_key);
                    return Ok(self.counted_hit(r));
                }
                CacheVerdict::Miss(_) => {}
            }
            let guard = self.single_flight(&flight_key).await;
            // The caller ahead may have fetched it.
            match self.cache.lookup(shards, &lookup).await? {
                CacheVerdict::Fresh(r) => return Ok(self.counted_hit(r)),
                CacheVerdict::Aging(r) => {
                    drop(guard);
                    self.refresh_for_client_in_background(scopes, &ext, &flight_key);
                    return Ok(self.counted_hit(r));
                }
                CacheVerdict::Miss(reason) => {
                    let lease_name = format!(
                        "{}|{}|{}",
                        shards[0],
                        scopes.target(),
                        ext_key.unwrap_or_default()
                    );
                    return match self
                        .fleet_turn(shards, &lease_name, &lookup, reason)
                        .await?
                    {
                        FleetTurn::Served(e) => Ok(self.counted_hit(*e)),
                        FleetTurn::Fetch(lease, reason) => {
                            let fetched = self
                                .fetch_for_client(scopes, &meta, reason, claims_challenge, &ext)
                                .await;
                            self.cache.release_lease(lease).await;
                            drop(guard);
                            fetched
                        }
                    };
                }
            }
        };
        self.fetch_for_client(
            scopes,
            &meta,
            RefreshReason::ForceRefresh,
            claims_challenge,
            &ext,
        )
        .await
    }

    /// On a miss, when a fleet of processes shares the cache (Redis): one process fetches,
    /// the others wait for its entry. Waits while another process holds the lease named
    /// `lease_name` (polling the cache), and is served if the entry appears; takes the
    /// lease once it is free or expired (a dead holder's expires) or after `FLEET_WAIT`,
    /// and then fetches, unless the previous holder wrote the entry just before letting go.
    /// Without a shared back-end the lease is always this process's.
    async fn fleet_turn(
        &self,
        shards: &[String],
        lease_name: &str,
        lookup: &(impl Fn(&CacheData) -> CacheVerdict<AuthenticationResult> + Sync),
        mut reason: RefreshReason,
    ) -> Result<FleetTurn> {
        let give_up = std::time::Instant::now() + FLEET_WAIT;
        loop {
            let lease = self.cache.fleet_lease(lease_name).await;
            if matches!(lease, FleetLease::Theirs) && std::time::Instant::now() < give_up {
                tokio::time::sleep(FLEET_POLL).await;
                match self.cache.lookup(shards, lookup).await? {
                    CacheVerdict::Fresh(e) | CacheVerdict::Aging(e) => {
                        return Ok(FleetTurn::Served(Box::new(e)))
                    }
                    CacheVerdict::Miss(r) => reason = r,
                }
                continue;
            }
            // The previous holder may have written it just before letting go of the
            // lease this process now holds.
            if matches!(lease, FleetLease::Mine(Some(_))) {
                if let Ok(CacheVerdict::Fresh(e) | CacheVerdict::Aging(e)) =
                    self.cache.lookup_uncached(shards, lookup).await
                {
                    self.cache.release_lease(lease).await;
                    return Ok(FleetTurn::Served(Box::new(e)));
                }
            }
            return Ok(FleetTurn::Fetch(lease, reason));
        }
    }

    /// Starts the proactive refresh of an aging token (see
    /// [`refresh_in_background`](AppState::refresh_in_background)).
    fn refresh_for_client_in_background(
        self: &Arc<Self>,
        scopes: &Scopes,
        ext: &Extensions,
        flight_key: &str,
    ) {
        let scopes = scopes.clone();
        let ext = ext.clone();
        self.refresh_in_background(flight_key, move |state| async move {
            let meta = state.metadata().await?;
            let (partition, shards) = state.client_place(&meta);
            let now_aging = state
                .cache
                .lookup(shards, |cache: &CacheData| {
                    let now = CacheData::now();
                    let found = cache.find_hit_ext(
                        partition,
                        ScopeList::Set(&scopes),
                        None,
                        ext.ext_cache_key.as_deref(),
                        now,
                    );
                    matches!(judge(found, now), CacheVerdict::Aging(_))
                })
                .await?;
            // Another refresh finished between the caller's look-up and this task.
            if !now_aging {
                return Ok(());
            }
            state
                .fetch_for_client(&scopes, &meta, RefreshReason::ProactiveRefresh, None, &ext)
                .await
                .map(drop)
        });
    }

    /// Asks the authority for the token and caches it.
    async fn fetch_for_client(
        &self,
        scopes: &Scopes,
        meta: &AuthorityMetadata,
        reason: RefreshReason,
        claims_challenge: Option<String>,
        ext: &Extensions,
    ) -> Result<AuthenticationResult> {
        let environment = self.authority.host().to_string();
        let mut fields = vec![("scope".to_string(), scopes.target().to_string())];
        fields.extend(ext.body.iter().cloned());
        let claims =
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?;
        if let Some(claims) = merge_client_claims(claims, ext.client_claims.as_deref())? {
            fields.push(("claims".into(), claims));
        }
        let endpoint = self.regional_token_endpoint(&meta.token_endpoint).await;
        let req = TokenRequest {
            api: ApiId::ForClient,
            reason,
            endpoint,
            global_endpoint: meta.token_endpoint.clone(),
            grant_type: "client_credentials",
            fields,
            extra_headers: Vec::new(),
            throttle_key: format!(
                "POST {} client_id={} scope={} ext={}",
                meta.token_endpoint,
                self.client_id,
                scopes.target(),
                ext.ext_cache_key.as_deref().unwrap_or_default()
            ),
        };
        let issued = self.send_token_request(req).await?;
        let now = CacheData::now();
        let mut entry = access_token_entry(
            &issued,
            None,
            &environment,
            &self.client_id,
            &meta.realm,
            scopes.as_slice(),
            now,
        );
        entry.ext_cache_key = ext.ext_cache_key.clone();
        let mut result = from_entry(&entry, issued.correlation_id.clone());
        result.raw_response = Some(issued.response.raw.clone());
        let (env, cid) = (environment.clone(), self.client_id.clone());
        self.cache
            .modify(move |c| {
                c.insert_access_token(entry);
                c.upsert_app_metadata(&env, &cid, None);
            })
            .await?;
        Ok(result)
    }

    pub(crate) async fn remove_tokens_for_client(&self) -> Result<usize> {
        let cid = self.client_id.clone();
        // Under the host and its aliases (another MSAL app may have used an alias), in
        // every tenant's shard of this client, not only the configured tenant's.
        let envs = self.aliases().await.to_vec();
        for env in &envs {
            self.cache.load_matching(&shard::app(env, &cid, "")).await?;
        }
        self.cache
            .modify(move |c| envs.iter().map(|env| c.remove_app_tokens(&cid, env)).sum())
            .await
    }
}
