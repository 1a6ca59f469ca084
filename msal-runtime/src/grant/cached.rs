//! What every grant does with the cache: judge a cached access token, serve it, join
//! the single flight of callers that want the same missing token, and turn a response
//! into a cache entry.

use super::pipeline::Issued;
use crate::cache::store::{CacheData, CachedToken, EXPIRY_MARGIN_SECS, MAX_TOKEN_LIFETIME_SECS};
use crate::cache::{key, AccessTokenEntry};
use crate::error::Result;
use crate::http::telemetry::RefreshReason;
use crate::result::{token_type_of, AuthenticationResult, TokenSource};
use crate::scope::Scopes;
use crate::secret::AccessToken;
use crate::state::{AppState, FlightGuard};
use serde_json::Map;
use std::future::Future;
use std::sync::Arc;

/// How a cached token relates to a request.
pub(crate) enum CacheVerdict<E = AccessTokenEntry> {
    /// Good to serve.
    Fresh(E),
    /// Valid, but past `refresh_on`: try to refresh, serve it if that fails.
    Aging(E),
    /// Nothing usable.
    Miss(RefreshReason),
}

/// The times of a cached access token, whichever form it is in.
pub(crate) trait Expiring {
    fn cached_at(&self) -> u64;
    fn expires_on(&self) -> u64;
    fn refresh_on(&self) -> Option<u64>;
}

impl Expiring for AccessTokenEntry {
    fn cached_at(&self) -> u64 {
        self.cached_at
    }
    fn expires_on(&self) -> u64 {
        self.expires_on
    }
    fn refresh_on(&self) -> Option<u64> {
        self.refresh_on
    }
}

impl Expiring for CachedToken {
    fn cached_at(&self) -> u64 {
        self.cached_at
    }
    fn expires_on(&self) -> u64 {
        self.expires_on
    }
    fn refresh_on(&self) -> Option<u64> {
        self.refresh_on
    }
}

impl<T: Expiring> Expiring for &T {
    fn cached_at(&self) -> u64 {
        (**self).cached_at()
    }
    fn expires_on(&self) -> u64 {
        (**self).expires_on()
    }
    fn refresh_on(&self) -> Option<u64> {
        (**self).refresh_on()
    }
}

/// When a cached entry really expires: its `expires_on`, but never more than
/// [`MAX_TOKEN_LIFETIME_SECS`] after it was cached; `None` for an entry cached in the
/// future (a broken clock or a doctored file), which is not trusted at all.
fn effective_expiry(e: &impl Expiring, now: u64) -> Option<u64> {
    if e.cached_at() > now.saturating_add(EXPIRY_MARGIN_SECS) {
        return None;
    }
    Some(
        e.expires_on()
            .min(e.cached_at().saturating_add(MAX_TOKEN_LIFETIME_SECS)),
    )
}

pub(crate) fn judge<E: Expiring>(found: Option<E>, now: u64) -> CacheVerdict<E> {
    match found {
        None => CacheVerdict::Miss(RefreshReason::NoCachedToken),
        Some(e)
            if effective_expiry(&e, now)
                .is_none_or(|exp| exp < now.saturating_add(EXPIRY_MARGIN_SECS)) =>
        {
            CacheVerdict::Miss(RefreshReason::Expired)
        }
        Some(e) if e.refresh_on().is_some_and(|r| r <= now) => CacheVerdict::Aging(e),
        Some(e) => CacheVerdict::Fresh(e),
    }
}

pub(crate) fn from_cache(e: &AccessTokenEntry) -> AuthenticationResult {
    AuthenticationResult {
        access_token: e.secret.clone(),
        token_type: token_type_of(e.token_type.as_deref()),
        expires_on: e.expires_on,
        ext_expires_on: e.extended_expires_on,
        refresh_on: e.refresh_on,
        scopes: Scopes::from_target(&e.target),
        id_token_claims: None,
        id_token: None,
        account: None,
        token_source: TokenSource::Cache,
        correlation_id: None,
        tenant_id: Some(e.realm.as_str().into()),
        raw_response: None,
    }
}

/// A cache hit, sharing the entry's storage: reference counts only, no allocation.
pub(crate) fn from_hit(e: &CachedToken) -> AuthenticationResult {
    e.clone().into_result()
}

impl CachedToken {
    /// The result of a cache hit, made of this hit's own handles (no reference count
    /// bumped).
    pub(crate) fn into_result(self) -> AuthenticationResult {
        AuthenticationResult {
            access_token: self.token,
            token_type: self.token_type,
            expires_on: self.expires_on,
            ext_expires_on: self.extended_expires_on,
            refresh_on: self.refresh_on,
            scopes: self.scopes,
            id_token_claims: None,
            id_token: None,
            account: None,
            token_source: TokenSource::Cache,
            correlation_id: None,
            tenant_id: Some(self.realm),
            raw_response: None,
        }
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
        secret: AccessToken::new(r.access_token.as_str()),
        home_account_id,
        environment: environment.to_string(),
        client_id: client_id.to_string(),
        target: key::target(&scopes),
        realm: realm.to_string(),
        token_type: Some(r.token_type.clone()),
        cached_at: now,
        // The parser clamps lifetimes to a year; the additions saturate all the same.
        expires_on: now.saturating_add(r.expires_in),
        extended_expires_on: Some(now.saturating_add(r.ext_expires_in.unwrap_or(r.expires_in))),
        refresh_on: r.refresh_in.map(|s| now.saturating_add(s)),
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

impl AppState {
    /// Looks the token up; when it is missing or expired, joins the single flight for
    /// `flight_key` and looks again (the caller ahead may have fetched it). The guard, when
    /// returned, is held until the caller has cached its own token. An aging token is
    /// returned without a guard: the caller serves it and refreshes in the background.
    pub(crate) async fn lookup_or_join_flight(
        &self,
        shards: &[String],
        find: impl Fn(&CacheData) -> CacheVerdict,
        flight_key: &str,
    ) -> Result<(CacheVerdict, Option<FlightGuard>)> {
        let verdict = self.cache.lookup(shards, &find).await?;
        if !matches!(verdict, CacheVerdict::Miss(_)) {
            return Ok((verdict, None));
        }
        let guard = self.single_flight(flight_key).await;
        match self.cache.lookup(shards, &find).await? {
            CacheVerdict::Miss(reason) => Ok((CacheVerdict::Miss(reason), Some(guard))),
            found => Ok((found, None)),
        }
    }

    /// Runs `refresh` in a background task, unless a fetch of the same token (`flight_key`)
    /// is under way: callers past `refresh_on` are served the cached token at once while
    /// one refresh runs, as MSAL.NET does. The task runs under the configured timeout; a
    /// failure is logged and the cached token keeps being served until it expires.
    pub(crate) fn refresh_in_background<F, Fut>(self: &Arc<Self>, flight_key: &str, refresh: F)
    where
        F: FnOnce(Arc<AppState>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Not on a tokio runtime: nothing to spawn on. The token is still valid; it
            // is fetched by the first caller that finds it expired.
            tracing::debug!("no tokio runtime; proactive refresh skipped");
            return;
        };
        let Some(guard) = self.try_single_flight(flight_key) else {
            return;
        };
        let state = Arc::clone(self);
        runtime.spawn(async move {
            let _guard = guard;
            let task = refresh(Arc::clone(&state));
            if let Err(err) = state.within_deadline(task).await {
                tracing::warn!(error = %err, "proactive refresh failed; the cached token is served until it expires");
            }
        });
    }

    /// A cache hit, counted for telemetry.
    pub(crate) fn cache_hit(&self, e: &AccessTokenEntry) -> AuthenticationResult {
        self.counted_hit(from_cache(e))
    }

    /// A result served from the cache, counted for telemetry.
    pub(crate) fn counted_hit(&self, r: AuthenticationResult) -> AuthenticationResult {
        self.telemetry.record_cache_hit();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::response::TokenResponse;

    fn issued(expires_in: u64, ext: Option<u64>, refresh_in: Option<u64>) -> Issued {
        Issued {
            response: TokenResponse {
                access_token: "a".into(),
                token_type: "Bearer".into(),
                expires_in,
                ext_expires_in: ext,
                refresh_in,
                scope: None,
                refresh_token: None,
                id_token: None,
                client_info: None,
                foci: None,
                raw: Default::default(),
            },
            correlation_id: "c".into(),
        }
    }

    #[test]
    fn entry_arithmetic_saturates() {
        let m = u64::MAX;
        let e = access_token_entry(
            &issued(m, Some(m), Some(m)),
            None,
            "h",
            "c",
            "r",
            &[],
            m - 1,
        );
        assert_eq!(e.expires_on, m);
        assert_eq!(e.extended_expires_on, Some(m));
        assert_eq!(e.refresh_on, Some(m));
    }

    #[test]
    fn a_cache_entry_lives_at_most_a_year_past_cached_at() {
        let now = 2_000_000_000;
        let mut e = access_token_entry(&issued(3600, None, None), None, "h", "c", "r", &[], now);
        assert!(matches!(
            judge(Some(e.clone()), now),
            CacheVerdict::Fresh(_)
        ));
        e.expires_on = u64::MAX;
        assert!(matches!(
            judge(Some(e.clone()), now),
            CacheVerdict::Fresh(_)
        ));
        let later = now + MAX_TOKEN_LIFETIME_SECS;
        assert!(matches!(
            judge(Some(e.clone()), later),
            CacheVerdict::Miss(_)
        ));
        e.cached_at = 0;
        assert!(matches!(judge(Some(e.clone()), now), CacheVerdict::Miss(_)));
        // Cached in the future: a doctored file or a broken clock; not trusted.
        e.cached_at = u64::MAX;
        assert!(matches!(judge(Some(e), now), CacheVerdict::Miss(_)));
        // No overflow near the end of time.
        assert!(matches!(
            judge::<AccessTokenEntry>(None, u64::MAX),
            CacheVerdict::Miss(_)
        ));
    }
}
