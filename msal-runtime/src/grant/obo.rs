//! On-behalf-of: a web API trades the user's incoming token for one to a downstream API.
//!
//! Unlike MSAL Python (which always asks the network), tokens are cached per incoming
//! assertion, keyed by its hash as MSAL.NET and msal-node key them, and refreshed with
//! the OBO refresh token when one was issued.

use super::cached::{judge, CacheVerdict};
use super::extended::{merge_client_claims, Extensions};
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

/// Per-call options of
/// [`acquire_token_on_behalf_of_with`](crate::ConfidentialClientApplication::acquire_token_on_behalf_of_with).
/// `Debug` says whether claims are set, not what they say.
///
/// ```
/// use msal_runtime::OnBehalfOfOptions;
/// let opts = OnBehalfOfOptions::default()
///     .forwarded_client_claims(r#"{"access_token":{"xms_az_nwperimid":{"values":["p1"]}}}"#);
/// # let _ = opts;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct OnBehalfOfOptions {
    /// A claims challenge from the downstream API; bypasses the cache.
    pub claims_challenge: Option<String>,
    /// Client-originated claims (a JSON object), merged into `claims` on the wire. Cached:
    /// tokens obtained with them are kept under MSAL's extended cache key, apart from the
    /// assertion's plain tokens.
    pub forwarded_client_claims: Option<String>,
}

impl OnBehalfOfOptions {
    /// Sets the claims challenge.
    pub fn claims_challenge(mut self, claims: impl Into<String>) -> Self {
        self.claims_challenge = Some(claims.into());
        self
    }

    /// Sets the forwarded client claims (a JSON object).
    pub fn forwarded_client_claims(mut self, claims: impl Into<String>) -> Self {
        self.forwarded_client_claims = Some(claims.into());
        self
    }
}

impl std::fmt::Debug for OnBehalfOfOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnBehalfOfOptions")
            .field("claims_challenge", &self.claims_challenge.is_some())
            .field(
                "forwarded_client_claims",
                &self.forwarded_client_claims.is_some(),
            )
            .finish()
    }
}

impl AppState {
    pub(crate) async fn acquire_token_on_behalf_of(
        self: &Arc<Self>,
        user_assertion: &str,
        scopes: &[String],
        claims_challenge: Option<String>,
    ) -> Result<AuthenticationResult> {
        let opts = OnBehalfOfOptions {
            claims_challenge,
            forwarded_client_claims: None,
        };
        self.acquire_token_on_behalf_of_with(user_assertion, scopes, opts)
            .await
    }

    pub(crate) async fn acquire_token_on_behalf_of_with(
        self: &Arc<Self>,
        user_assertion: &str,
        scopes: &[String],
        opts: OnBehalfOfOptions,
    ) -> Result<AuthenticationResult> {
        let ext = Extensions::gather(None, &[], opts.forwarded_client_claims.as_deref())?;
        let claims_challenge = opts.claims_challenge;
        let user_assertion = user_assertion.trim();
        if user_assertion.is_empty() {
            return Err(Error::InvalidInput("the user assertion is empty".into()));
        }
        let (user_scopes, decorated) = decorate(scopes, &self.opts.exclude_scopes)?;
        let meta = self.metadata().await?;
        let hash = assertion_hash(user_assertion);
        let claims_challenge = claims_challenge.filter(|c| !c.trim().is_empty());
        let ext_key = ext.ext_cache_key.clone();
        let flight_key = format!(
            "{}|{}",
            obo_flight_key(self.authority.host(), &hash, &user_scopes),
            ext_key.as_deref().unwrap_or_default()
        );
        // The flight guard is held until this call has cached its token.
        let (verdict, _flight) = match claims_challenge {
            Some(_) => (CacheVerdict::Miss(RefreshReason::ForceRefresh), None),
            None => {
                let find = self.obo_find(&meta, &hash, &user_scopes, ext_key.as_deref());
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
                let ext = ext.clone();
                self.refresh_in_background(&flight_key, move |state| async move {
                    let meta = state.metadata().await?;
                    let find =
                        state.obo_find(&meta, &hash, &user_scopes, ext.ext_cache_key.as_deref());
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
                        ext: &ext,
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
            ext: &ext,
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
            ext,
        } = ask;
        let claims = merge_client_claims(
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?,
            ext.client_claims.as_deref(),
        )?;
        let ext_key = ext.ext_cache_key.clone();
        let scopes = (user_scopes, decorated);
        // An OBO refresh token for this assertion saves re-presenting the user's token.
        if claims_challenge.is_none() {
            if let Some(done) = self
                .obo_refresh(
                    meta,
                    hash,
                    scopes,
                    reason,
                    claims.as_deref(),
                    ext_key.clone(),
                )
                .await
            {
                self.hand_off_to_silent(meta, hash, &done).await?;
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
                "POST {} client_id={} scope={} obo={hash} ext={}",
                meta.token_endpoint,
                self.client_id,
                key::target(decorated),
                ext_key.as_deref().unwrap_or_default(),
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
            ext_cache_key: ext_key,
        };
        let result = self.save_user_tokens(meta, issued, save).await?;
        self.hand_off_to_silent(meta, hash, &result).await?;
        Ok(result)
    }

    /// With [`on_behalf_of_silent_handoff`](crate::ConfidentialClientApplicationBuilder::on_behalf_of_silent_handoff):
    /// copies the access token just cached for this assertion, and the assertion's newest
    /// refresh token, to the user's own entries (no `user_assertion_hash`), where MSAL
    /// Python caches OBO results and where `acquire_token_silent` looks.
    async fn hand_off_to_silent(
        &self,
        meta: &AuthorityMetadata,
        hash: &str,
        result: &AuthenticationResult,
    ) -> Result<()> {
        if !self.opts.obo_silent_handoff {
            return Ok(());
        }
        let Some(hid) = result.account.as_ref().map(|a| a.home_account_id.clone()) else {
            return Ok(());
        };
        let env = self.authority.host().to_string();
        let at_key = key::access_token(
            Some(&hid),
            &env,
            &self.client_id,
            &meta.realm,
            &key::target(&result.scopes),
            None,
            Some(hash),
        );
        let (cid, hash) = (self.client_id.clone(), hash.to_string());
        self.cache
            .modify(move |c| {
                if let Some(mut at) = c.access_tokens.get(at_key.as_str()).cloned() {
                    at.user_assertion_hash = None;
                    c.insert_access_token(at);
                }
                let newest_rt = c
                    .refresh_tokens
                    .values()
                    .filter(|rt| {
                        rt.user_assertion_hash.as_deref() == Some(hash.as_str())
                            && rt.client_id.eq_ignore_ascii_case(&cid)
                            && rt.environment.eq_ignore_ascii_case(&env)
                    })
                    .max_by_key(|rt| rt.last_modification_time)
                    .cloned();
                if let Some(mut rt) = newest_rt {
                    rt.user_assertion_hash = None;
                    let k = key::refresh_token(
                        rt.home_account_id.as_deref(),
                        &rt.environment,
                        &rt.client_id,
                        rt.target.as_deref().unwrap_or_default(),
                        None,
                    );
                    c.put_refresh_token(k, rt);
                }
            })
            .await
    }

    /// The judge of the cached OBO token of this assertion and scopes.
    fn obo_find<'a>(
        &'a self,
        meta: &'a AuthorityMetadata,
        hash: &'a str,
        user_scopes: &'a [String],
        ext_cache_key: Option<&'a str>,
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
            judge(
                c.find_access_token_ext(&q, ext_cache_key, CacheData::now()),
                CacheData::now(),
            )
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
        ext_cache_key: Option<String>,
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
                ext_cache_key,
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
    ext: &'a Extensions,
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
