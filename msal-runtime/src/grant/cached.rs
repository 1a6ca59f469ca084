//! What every grant does with the cache: judge a cached access token, serve it, join
//! the single flight of callers that want the same missing token, and turn a response
//! into a cache entry.

use super::pipeline::Issued;
use crate::cache::store::{CacheData, EXPIRY_MARGIN_SECS};
use crate::cache::{key, AccessTokenEntry};
use crate::error::{Error, Result};
use crate::http::telemetry::RefreshReason;
use crate::result::{AuthenticationResult, TokenSource};
use crate::secret::AccessToken;
use crate::state::{AppState, FlightGuard};
use serde_json::Map;

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

/// A failed refresh: the still-valid token when there is one (MSAL's proactive refresh
/// never turns a valid token into an error), else the error.
pub(crate) fn serve_aging_or(
    aging: Option<AccessTokenEntry>,
    err: Error,
) -> Result<AuthenticationResult> {
    match aging {
        Some(e) => {
            tracing::warn!(error = %err, "proactive refresh failed; serving the cached token");
            Ok(from_cache(&e))
        }
        None => Err(err),
    }
}

impl AppState {
    /// Looks the token up; when it is not fresh, joins the single flight for `flight_key`
    /// and looks again (the caller ahead may have fetched it). The guard, when returned,
    /// is held until the caller has cached its own token.
    pub(crate) async fn lookup_or_join_flight(
        &self,
        shards: &[String],
        find: impl Fn(&mut CacheData) -> CacheVerdict,
        flight_key: &str,
    ) -> Result<(CacheVerdict, Option<FlightGuard<'_>>)> {
        let verdict = self.cache.lookup(shards, &find).await?;
        if matches!(verdict, CacheVerdict::Fresh(_)) {
            return Ok((verdict, None));
        }
        let guard = self.single_flight(flight_key).await;
        Ok((self.cache.lookup(shards, &find).await?, Some(guard)))
    }

    /// A cache hit, counted for telemetry.
    pub(crate) fn cache_hit(&self, e: &AccessTokenEntry) -> AuthenticationResult {
        self.telemetry.record_cache_hit();
        from_cache(e)
    }
}
