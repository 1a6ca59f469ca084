//! Client credentials: app-only tokens, served from the cache while valid, refreshed
//! ahead of expiry, one request per missing token however many callers ask at once.

use super::cached::{access_token_entry, from_entry, judge, serve_aging_or, CacheVerdict};
use super::pipeline::TokenRequest;
use crate::cache::key;
use crate::cache::store::{shard, AtQuery, CacheData};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::state::AppState;

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

impl AppState {
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

        let flight_key = format!("cc|{}|{}", query_realm, key::target(&scopes));
        let (verdict, _flight) = if claims_challenge.is_some() {
            // A claims challenge bypasses the cache; it still queues behind a fetch in flight.
            let guard = self.single_flight(&flight_key).await;
            (CacheVerdict::Miss(RefreshReason::ForceRefresh), Some(guard))
        } else {
            self.lookup_or_join_flight(&shards, lookup, &flight_key)
                .await?
        };
        let (reason, aging) = match verdict {
            CacheVerdict::Fresh(e) => return Ok(self.cache_hit(&e)),
            CacheVerdict::Aging(e) => (RefreshReason::ProactiveRefresh, Some(e)),
            CacheVerdict::Miss(reason) => (reason, None),
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
            Err(err) => return serve_aging_or(aging, err),
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
        let (env, cid) = (self.authority.host().to_string(), self.client_id.clone());
        // Every tenant's shard of this client, not only the configured tenant's.
        let prefix = shard::app(&env, &cid, "");
        self.cache.load_matching(&prefix).await?;
        self.cache
            .modify(move |c| c.remove_app_tokens(&cid, &env))
            .await
    }
}
