//! Client credentials: app-only tokens, served from the cache while valid, refreshed
//! ahead of expiry, one request per missing token however many callers ask at once.

use super::{Issued, TokenRequest};
use crate::app::AppInner;
use crate::cache::store::{shard, AtQuery, CacheData, EXPIRY_MARGIN_SECS};
use crate::cache::{key, AccessTokenEntry};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::{AuthenticationResult, TokenSource};
use crate::secret::AccessToken;
use serde_json::Map;

/// Per-call options of [`acquire_token_for_client_with`](crate::ConfidentialClientApplication::acquire_token_for_client_with).
///
/// ```
/// use msal_runtime::ForClientOptions;
/// let opts = ForClientOptions::default().claims_challenge(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ForClientOptions {
    /// A claims challenge from a resource (CAE); bypasses the cache.
    pub claims_challenge: Option<String>,
}

impl ForClientOptions {
    /// Sets the claims challenge.
    pub fn claims_challenge(mut self, claims: impl Into<String>) -> Self {
        self.claims_challenge = Some(claims.into());
        self
    }
}

pub(crate) fn validate_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>> {
    if scopes.is_empty() {
        return Err(Error::InvalidInput("at least one scope is required".into()));
    }
    let mut out = Vec::with_capacity(scopes.len());
    for s in scopes {
        let s = s.as_ref();
        if s.trim().is_empty() || s.contains(char::is_whitespace) {
            return Err(Error::InvalidInput(format!(
                "`{s}` is not a scope (blank or contains spaces)"
            )));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// How a cached token relates to a request.
pub(crate) enum CacheVerdict {
    /// Good to serve.
    Fresh(AccessTokenEntry),
    /// Valid, but past `refresh_on`: try to refresh, serve it if that fails.
    Aging(AccessTokenEntry),
    /// Nothing usable.
    Miss(RefreshReason),
}

pub(crate) fn judge(found: Option<AccessTokenEntry>, now: u64) -> CacheVerdict {
    match found {
        None => CacheVerdict::Miss(RefreshReason::NoCachedToken),
        Some(e) if e.expires_on < now + EXPIRY_MARGIN_SECS => {
            CacheVerdict::Miss(RefreshReason::Expired)
        }
        Some(e) if e.refresh_on.is_some_and(|r| r <= now) => CacheVerdict::Aging(e),
        Some(e) => CacheVerdict::Fresh(e),
    }
}

pub(crate) fn from_cache(e: &AccessTokenEntry) -> AuthenticationResult {
    AuthenticationResult {
        access_token: AccessToken::new(e.secret.clone()),
        token_type: e.token_type.clone().unwrap_or_else(|| "Bearer".into()),
        expires_on: e.expires_on,
        ext_expires_on: e.extended_expires_on,
        refresh_on: e.refresh_on,
        scopes: e.target.split_whitespace().map(str::to_string).collect(),
        id_token_claims: None,
        id_token: None,
        account: None,
        token_source: TokenSource::Cache,
        correlation_id: None,
        tenant_id: Some(e.realm.clone()),
    }
}

/// The cache entry for a fresh response.
pub(crate) fn access_token_entry(
    issued: &Issued,
    home_account_id: Option<String>,
    environment: &str,
    client_id: &str,
    realm: &str,
    requested: &[String],
    now: u64,
) -> AccessTokenEntry {
    let r = &issued.response;
    let scopes: Vec<&str> = match &r.scope {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().collect(),
        _ => requested.iter().map(String::as_str).collect(),
    };
    AccessTokenEntry {
        credential_type: "AccessToken".into(),
        secret: r.access_token.clone(),
        home_account_id,
        environment: environment.to_string(),
        client_id: client_id.to_string(),
        target: key::target(&scopes),
        realm: realm.to_string(),
        token_type: Some(r.token_type.clone()),
        cached_at: now,
        expires_on: now + r.expires_in,
        extended_expires_on: Some(now + r.ext_expires_in.unwrap_or(r.expires_in)),
        refresh_on: r.refresh_in.map(|s| now + s),
        key_id: None,
        ext_cache_key: None,
        user_assertion_hash: None,
        extra: Map::new(),
    }
}

pub(crate) fn from_entry(e: &AccessTokenEntry, correlation_id: String) -> AuthenticationResult {
    AuthenticationResult {
        token_source: TokenSource::IdentityProvider,
        correlation_id: Some(correlation_id),
        ..from_cache(e)
    }
}

impl AppInner {
    pub(crate) async fn acquire_token_for_client(
        &self,
        scopes: Vec<String>,
        opts: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        let meta = self.metadata().await?;
        let environment = self.authority.host().to_string();
        let query_realm = meta.realm.clone();
        let claims_challenge = opts.claims_challenge.filter(|c| !c.trim().is_empty());
        let shards = [shard::app(&environment, &self.client_id, &query_realm)];

        let lookup = |cache: &mut CacheData| {
            let q = AtQuery {
                home_account_id: None,
                environment: &environment,
                client_id: &self.client_id,
                realm: &query_realm,
                scopes: &scopes,
                user_assertion_hash: None,
            };
            judge(
                cache.find_access_token(&q, CacheData::now()),
                CacheData::now(),
            )
        };

        if claims_challenge.is_none() {
            if let CacheVerdict::Fresh(e) = self.cache.lookup(&shards, lookup).await? {
                self.telemetry.record_cache_hit();
                return Ok(from_cache(&e));
            }
        }

        let flight_key = format!("cc|{}|{}", query_realm, key::target(&scopes));
        let _guard = self.single_flight(&flight_key).await;
        // Another caller may have fetched it while we waited.
        let (reason, aging) = if claims_challenge.is_some() {
            (RefreshReason::ForceRefresh, None)
        } else {
            match self.cache.lookup(&shards, lookup).await? {
                CacheVerdict::Fresh(e) => {
                    self.telemetry.record_cache_hit();
                    return Ok(from_cache(&e));
                }
                CacheVerdict::Aging(e) => (RefreshReason::ProactiveRefresh, Some(e)),
                CacheVerdict::Miss(reason) => (reason, None),
            }
        };

        let mut fields = vec![("scope".to_string(), key::target(&scopes))];
        if let Some(claims) =
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?
        {
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
                "POST {} client_id={} scope={}",
                meta.token_endpoint,
                self.client_id,
                key::target(&scopes)
            ),
        };
        let issued = match self.send_token_request(req).await {
            Ok(issued) => issued,
            Err(err) => {
                if let Some(e) = aging {
                    tracing::warn!(error = %err, "proactive refresh failed; serving the cached token");
                    return Ok(from_cache(&e));
                }
                return Err(err);
            }
        };
        let now = CacheData::now();
        let entry = access_token_entry(
            &issued,
            None,
            &environment,
            &self.client_id,
            &meta.realm,
            &scopes,
            now,
        );
        let result = from_entry(&entry, issued.correlation_id.clone());
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
