//! On-behalf-of: a web API trades the user's incoming token for one to a downstream API.
//!
//! Unlike MSAL Python (which always asks the network), tokens are cached per incoming
//! assertion, keyed by its hash as MSAL.NET and msal-node key them, and refreshed with
//! the OBO refresh token when one was issued.

use super::cached::{judge, CacheVerdict};
use super::pipeline::TokenRequest;
use super::refresh::Redemption;
use super::user::{decorate, SaveOptions};
use crate::authority::AuthorityMetadata;
use crate::cache::key;
use crate::cache::store::{shard, AtQuery, CacheData};
use crate::cache::AccessTokenEntry;
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::state::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::Arc;

/// base64url (no padding) SHA-256 of the user assertion: MSAL's `user_assertion_hash`.
pub(crate) fn assertion_hash(assertion: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(assertion.as_bytes()))
}

impl AppState {
    pub(crate) async fn acquire_token_on_behalf_of(
        self: &Arc<Self>,
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
        let hash = assertion_hash(user_assertion);
        let claims_challenge = claims_challenge.filter(|c| !c.trim().is_empty());
        let flight_key = obo_flight_key(self.authority.host(), &hash, &user_scopes);
        // The flight guard is held until this call has cached its token.
        let (verdict, _flight) = match claims_challenge {
            Some(_) => (CacheVerdict::Miss(RefreshReason::ForceRefresh), None),
            None => {
                let find = self.obo_find(&meta, &hash, &user_scopes);
                self.lookup_or_join_flight(
                    &[shard::obo(self.authority.host(), &hash)],
                    find,
                    &flight_key,
                )
                .await?
            }
        };
        let reason = match verdict {
            CacheVerdict::Fresh(e) => return Ok(self.obo_hit(&e).await),
            CacheVerdict::Aging(e) => {
                // Served at once; one background task refreshes it.
                let assertion = user_assertion.to_string();
                self.refresh_in_background(&flight_key, move |state| async move {
                    let meta = state.metadata().await?;
                    let find = state.obo_find(&meta, &hash, &user_scopes);
                    let shards = [shard::obo(state.authority.host(), &hash)];
                    if !matches!(
                        state.cache.lookup(&shards, find).await?,
                        CacheVerdict::Aging(_)
                    ) {
                        return Ok(());
                    }
                    let ask = OboAsk {
                        assertion: &assertion,
                        hash: &hash,
                        user_scopes: &user_scopes,
                        decorated: &decorated,
                    };
                    state
                        .obo_fetch(&meta, ask, RefreshReason::ProactiveRefresh, None)
                        .await
                        .map(drop)
                });
                return Ok(self.obo_hit(&e).await);
            }
            CacheVerdict::Miss(r) => r,
        };
        let ask = OboAsk {
            assertion: user_assertion,
            hash: &hash,
            user_scopes: &user_scopes,
            decorated: &decorated,
        };
        self.obo_fetch(&meta, ask, reason, claims_challenge).await
    }

    /// A cached OBO token, with its account.
    async fn obo_hit(&self, e: &AccessTokenEntry) -> AuthenticationResult {
        let mut r = self.cache_hit(e);
        r.account = self.account_for(e.home_account_id.as_deref()).await;
        r
    }

    /// Asks the authority: the OBO refresh token first, else the assertion again.
    async fn obo_fetch(
        &self,
        meta: &AuthorityMetadata,
        ask: OboAsk<'_>,
        reason: RefreshReason,
        claims_challenge: Option<String>,
    ) -> Result<AuthenticationResult> {
        let OboAsk {
            assertion,
            hash,
            user_scopes,
            decorated,
        } = ask;
        let claims =
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?;
        let scopes = (user_scopes, decorated);
        // An OBO refresh token for this assertion saves re-presenting the user's token.
        if claims_challenge.is_none() {
            if let Some(done) = self
                .obo_refresh(meta, hash, scopes, reason, claims.as_deref())
                .await
            {
                return Ok(done);
            }
        }
        let req = TokenRequest {
            api: ApiId::OnBehalfOf,
            reason,
            endpoint: meta.token_endpoint.clone(),
            global_endpoint: meta.token_endpoint.clone(),
            grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
            fields: obo_fields(assertion, decorated, claims),
            extra_headers: Vec::new(),
            throttle_key: format!(
                "POST {} client_id={} scope={} obo={hash}",
                meta.token_endpoint,
                self.client_id,
                key::target(decorated),
            ),
        };
        let issued = self.send_token_request(req).await?;
        let save = SaveOptions {
            requested: user_scopes,
            account_source: Some(None),
            used_refresh_token: None,
            user_assertion_hash: Some(hash.to_string()),
            id_token_claims: None,
            known_home_account_id: None,
        };
        self.save_user_tokens(meta, issued, save).await
    }

    /// The judge of the cached OBO token of this assertion and scopes.
    fn obo_find<'a>(
        &'a self,
        meta: &'a AuthorityMetadata,
        hash: &'a str,
        user_scopes: &'a [String],
    ) -> impl Fn(&CacheData) -> CacheVerdict + 'a {
        move |c: &CacheData| {
            let q = AtQuery {
                home_account_id: None,
                environment: self.authority.host(),
                client_id: &self.client_id,
                realm: &meta.realm,
                scopes: user_scopes,
                user_assertion_hash: Some(hash),
            };
            judge(c.find_access_token(&q, CacheData::now()), CacheData::now())
        }
    }

    /// Redeems the newest OBO refresh token of this assertion; `None` when there is none or
    /// it did not work (the caller then presents the assertion again).
    async fn obo_refresh(
        &self,
        meta: &AuthorityMetadata,
        hash: &str,
        (requested, decorated): (&[String], &[String]),
        reason: RefreshReason,
        claims: Option<&str>,
    ) -> Option<AuthenticationResult> {
        let env = self.authority.host();
        let (rt_key, secret, hid) = {
            let c = self.cache.read();
            c.refresh_tokens
                .iter()
                .filter(|(_, rt)| {
                    rt.user_assertion_hash.as_deref() == Some(hash)
                        && rt.client_id.eq_ignore_ascii_case(&self.client_id)
                        && rt.environment.eq_ignore_ascii_case(env)
                })
                .max_by_key(|(_, rt)| rt.last_modification_time)
                .map(|(k, rt)| (k.clone(), rt.secret.clone(), rt.home_account_id.clone()))?
        };
        let redemption = Redemption {
            api: ApiId::OnBehalfOf,
            reason,
            refresh_token: secret,
            decorated,
            claims,
            extra_headers: Vec::new(),
            throttle_tag: "obo-rt",
            save: SaveOptions {
                requested,
                account_source: None,
                used_refresh_token: Some(rt_key),
                user_assertion_hash: Some(hash.to_string()),
                id_token_claims: None,
                known_home_account_id: hid,
            },
        };
        match self.redeem_refresh_token(meta, redemption).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, "OBO refresh token failed; presenting the assertion again");
                None
            }
        }
    }
}

/// What one OBO exchange asks for.
struct OboAsk<'a> {
    assertion: &'a str,
    hash: &'a str,
    user_scopes: &'a [String],
    decorated: &'a [String],
}

/// The single-flight key of one OBO token: a web API often gets several calls of one
/// user at once.
fn obo_flight_key(env: &str, hash: &str, user_scopes: &[String]) -> String {
    format!("obo|{env}|{hash}|{}", key::target(user_scopes))
}

/// The on-behalf-of form fields, in MSAL's order.
fn obo_fields(
    assertion: &str,
    decorated: &[String],
    claims: Option<String>,
) -> Vec<(String, String)> {
    let mut fields = vec![
        (
            "requested_token_use".to_string(),
            "on_behalf_of".to_string(),
        ),
        ("scope".into(), key::target(decorated)),
        ("assertion".into(), assertion.to_string()),
    ];
    if let Some(c) = claims {
        fields.push(("claims".into(), c));
    }
    fields
}
