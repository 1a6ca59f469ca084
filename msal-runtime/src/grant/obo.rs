//! On-behalf-of: a web API trades the user's incoming token for one to a downstream API.
//!
//! Unlike MSAL Python (which always asks the network), tokens are cached per incoming
//! assertion, keyed by its hash as MSAL.NET and msal-node key them, and refreshed with
//! the OBO refresh token when one was issued.

use super::client_credentials::{from_cache, judge, CacheVerdict};
use super::user::{decorate, SaveOptions};
use super::TokenRequest;
use crate::app::AppInner;
use crate::cache::key;
use crate::cache::store::{shard, AtQuery, CacheData};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// base64url (no padding) SHA-256 of the user assertion: MSAL's `user_assertion_hash`.
pub(crate) fn assertion_hash(assertion: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(assertion.as_bytes()))
}

impl AppInner {
    pub(crate) async fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &str,
        scopes: &[String],
        claims_challenge: Option<String>,
    ) -> Result<AuthenticationResult> {
        let user_assertion = user_assertion.trim();
        if user_assertion.is_empty() {
            return Err(Error::InvalidInput("the user assertion is empty".into()));
        }
        let (user_scopes, decorated) = decorate(scopes, &self.opts.exclude_scopes)?;
        let meta = self.metadata().await?;
        let env = self.authority.host().to_string();
        let hash = assertion_hash(user_assertion);
        let claims_challenge = claims_challenge.filter(|c| !c.trim().is_empty());

        let mut reason = RefreshReason::ForceRefresh;
        let mut aging = None;
        // Held until this call has cached its token (see below).
        let mut _flight = None;
        if claims_challenge.is_none() {
            let shards = [shard::obo(&env, &hash)];
            let q = AtQuery {
                home_account_id: None,
                environment: &env,
                client_id: &self.client_id,
                realm: &meta.realm,
                scopes: &user_scopes,
                user_assertion_hash: Some(&hash),
            };
            let find = |c: &mut CacheData| {
                judge(c.find_access_token(&q, CacheData::now()), CacheData::now())
            };
            let mut found = self.cache.lookup(&shards, find).await?;
            if !matches!(found, CacheVerdict::Fresh(_)) {
                // A web API often gets several calls of one user at once: the first asks
                // the authority, the others wait and find its token in the cache.
                let flight_key = format!(
                    "obo|{}|{hash}|{}",
                    env.to_lowercase(),
                    key::target(&user_scopes)
                );
                _flight = Some(self.single_flight(&flight_key).await);
                found = self.cache.lookup(&shards, find).await?;
            }
            match found {
                CacheVerdict::Fresh(e) => {
                    self.telemetry.record_cache_hit();
                    let mut r = from_cache(&e);
                    r.account = self.account_for(e.home_account_id.as_deref()).await;
                    return Ok(r);
                }
                CacheVerdict::Aging(e) => {
                    reason = RefreshReason::ProactiveRefresh;
                    aging = Some(e);
                }
                CacheVerdict::Miss(r) => reason = r,
            }
        }
        let claims =
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?;

        // An OBO refresh token for this assertion saves re-presenting the user's token.
        if claims_challenge.is_none() {
            let rt = {
                let c = self.cache.read();
                c.refresh_tokens
                    .iter()
                    .filter(|(_, rt)| {
                        rt.user_assertion_hash.as_deref() == Some(hash.as_str())
                            && rt.client_id.eq_ignore_ascii_case(&self.client_id)
                            && rt.environment.eq_ignore_ascii_case(&env)
                    })
                    .max_by_key(|(_, rt)| rt.last_modification_time)
                    .map(|(k, rt)| (k.clone(), rt.secret.clone(), rt.home_account_id.clone()))
            };
            if let Some((rt_key, secret, hid)) = rt {
                let throttle_rt = super::auth_code::sha256_hex(&secret);
                let mut fields = vec![
                    ("refresh_token".to_string(), secret),
                    ("scope".into(), key::target(&decorated)),
                ];
                if let Some(c) = &claims {
                    fields.push(("claims".into(), c.clone()));
                }
                let req = TokenRequest {
                    api: ApiId::OnBehalfOf,
                    reason,
                    endpoint: meta.token_endpoint.clone(),
                    global_endpoint: meta.token_endpoint.clone(),
                    grant_type: "refresh_token",
                    fields,
                    extra_headers: Vec::new(),
                    throttle_key: format!(
                        "POST {} client_id={} scope={} obo-rt={}",
                        meta.token_endpoint,
                        self.client_id,
                        key::target(&decorated),
                        throttle_rt
                    ),
                };
                match self.send_token_request(req).await {
                    Ok(issued) => {
                        let claims_map = issued
                            .response
                            .id_token
                            .as_deref()
                            .and_then(|t| crate::id_token::decode(t).ok())
                            .map(|(_, c)| c);
                        return self
                            .save_user_tokens(
                                &meta,
                                issued,
                                SaveOptions {
                                    requested: &user_scopes,
                                    account_source: None,
                                    used_refresh_token: Some(rt_key),
                                    user_assertion_hash: Some(hash.clone()),
                                    id_token_claims: claims_map,
                                    known_home_account_id: hid,
                                },
                            )
                            .await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "OBO refresh token failed; presenting the assertion again")
                    }
                }
            }
        }

        let mut fields = vec![
            (
                "requested_token_use".to_string(),
                "on_behalf_of".to_string(),
            ),
            ("scope".into(), key::target(&decorated)),
            ("assertion".into(), user_assertion.to_string()),
        ];
        if let Some(c) = claims {
            fields.push(("claims".into(), c));
        }
        let req = TokenRequest {
            api: ApiId::OnBehalfOf,
            reason,
            endpoint: meta.token_endpoint.clone(),
            global_endpoint: meta.token_endpoint.clone(),
            grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
            fields,
            extra_headers: Vec::new(),
            throttle_key: format!(
                "POST {} client_id={} scope={} obo={}",
                meta.token_endpoint,
                self.client_id,
                key::target(&decorated),
                hash
            ),
        };
        let issued = match self.send_token_request(req).await {
            Ok(i) => i,
            Err(err) => {
                if let Some(e) = aging {
                    tracing::warn!(error = %err, "proactive OBO refresh failed; serving the cached token");
                    return Ok(from_cache(&e));
                }
                return Err(err);
            }
        };
        let claims_map = issued
            .response
            .id_token
            .as_deref()
            .and_then(|t| crate::id_token::decode(t).ok())
            .map(|(_, c)| c);
        self.save_user_tokens(
            &meta,
            issued,
            SaveOptions {
                requested: &user_scopes,
                account_source: Some(None),
                used_refresh_token: None,
                user_assertion_hash: Some(hash),
                id_token_claims: claims_map,
                known_home_account_id: None,
            },
        )
        .await
    }
}
