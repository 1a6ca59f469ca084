//! Silent acquisition (cached access token, else a refresh token), accounts, and
//! `acquire_token_by_refresh_token`.

use super::cached::{judge, CacheVerdict};
use super::extended::{merge_client_claims, Extensions};
use super::refresh::Redemption;
use super::user::{account_to_public, anchor_mailbox, decorate, SaveOptions};
use crate::authority::AuthorityMetadata;
use crate::cache::store::{shard, AtQuery, CacheData, ACCOUNT, AT, IDT, RT};
use crate::cache::{key, AccountEntry};
use crate::error::{Error, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::{Account, AuthenticationResult};
use crate::state::{AppState, FlightGuard};
use serde_json::Value;
use std::sync::Arc;

/// Options of [`acquire_token_silent_with_error`](crate::ConfidentialClientApplication::acquire_token_silent_with_error).
///
/// ```
/// use msal_runtime::SilentOptions;
/// let opts = SilentOptions::default().force_refresh(true);
/// # let _ = opts;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SilentOptions {
    /// Skip the cached access token and use a refresh token.
    pub force_refresh: bool,
    /// A claims challenge from a resource; bypasses the cached access token.
    pub claims_challenge: Option<String>,
    /// Client-originated claims (a JSON object; MSAL Python's `forwarded_client_claims`):
    /// merged into `claims` when refreshing; the tokens obtained with them are cached
    /// under MSAL's extended cache key and served only to calls with the same claims.
    pub forwarded_client_claims: Option<String>,
}

impl std::fmt::Debug for SilentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SilentOptions")
            .field("force_refresh", &self.force_refresh)
            .field("claims_challenge", &self.claims_challenge.is_some())
            .field(
                "forwarded_client_claims",
                &self.forwarded_client_claims.is_some(),
            )
            .finish()
    }
}

impl SilentOptions {
    /// Sets `force_refresh`.
    pub fn force_refresh(mut self, force: bool) -> Self {
        self.force_refresh = force;
        self
    }
    /// Sets a claims challenge.
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

impl AppState {
    pub(crate) async fn account_for(&self, home_account_id: Option<&str>) -> Option<Account> {
        let hid = home_account_id?;
        // The account lives in the user's shard, which an OBO look-up does not load.
        if let Err(e) = self
            .cache
            .load(&[shard::user(self.authority.host(), hid)])
            .await
        {
            tracing::debug!(error = %e, "token cache: the account may be stale");
        }
        let c = self.cache.read();
        c.accounts
            .values()
            .find(|a| {
                a.home_account_id.eq_ignore_ascii_case(hid)
                    && a.environment.eq_ignore_ascii_case(self.authority.host())
            })
            .map(account_to_public)
    }

    pub(crate) async fn get_accounts(&self, username: Option<&str>) -> Result<Vec<Account>> {
        let env = self.authority.host().to_string();
        let found = self
            .accounts_in(std::slice::from_ref(&env), username)
            .await?;
        if !found.is_empty() {
            return Ok(found);
        }
        // As MSAL: none under the app's own host, so look under its aliases too.
        let aliases = self.aliases().await;
        if aliases.len() == 1 {
            return Ok(found);
        }
        self.accounts_in(aliases, username).await
    }

    async fn accounts_in(&self, envs: &[String], username: Option<&str>) -> Result<Vec<Account>> {
        let shards: Vec<String> = envs.iter().map(|e| shard::accounts(e)).collect();
        self.cache.load(&shards).await?;
        let c = self.cache.read();
        let listed = |a: &AccountEntry| {
            matches!(a.authority_type.as_str(), "MSSTS" | "ADFS")
                && username.is_none_or(|u| a.username.eq_ignore_ascii_case(u))
        };
        Ok(c.accounts_per_user(envs, listed)
            .into_iter()
            .map(account_to_public)
            .collect())
    }

    pub(crate) async fn remove_account(&self, account: &Account) -> Result<()> {
        let hid = account.home_account_id.clone();
        let env = self.authority.host().to_string();
        let cid = self.client_id.clone();
        // The account's entries under the host and its aliases.
        let envs: Vec<String> = self
            .aliases()
            .await
            .iter()
            .map(|e| e.to_ascii_lowercase())
            .collect();
        let mut shards: Vec<String> = envs.iter().map(|e| shard::user(e, &hid)).collect();
        shards.push(shard::META.to_string());
        self.cache.load(&shards).await?;
        self.cache
            .modify(move |c| {
                let family = c
                    .app_metadata
                    .get(&key::app_metadata(&env, &cid))
                    .and_then(|m| m.family_id.clone());
                let field = |v: &Value, k: &str| {
                    v.get(k)
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                };
                let (hid, cid) = (hid.to_ascii_lowercase(), cid.to_ascii_lowercase());
                let same = move |v: &Value| {
                    field(v, "home_account_id").as_deref() == Some(hid.as_str())
                        && field(v, "environment").is_some_and(|e| envs.contains(&e))
                };
                let same_rt = same.clone();
                c.remove_where(RT, move |v| {
                    let ours = field(v, "client_id").as_deref() == Some(cid.as_str())
                        || (family.is_some()
                            && v.get("family_id").and_then(Value::as_str) == family.as_deref());
                    same_rt(v) && ours
                });
                for section in [AT, IDT, ACCOUNT] {
                    c.remove_where(section, &same);
                }
            })
            .await
    }

    /// `Ok(None)`: nothing usable in the cache. `Err`: a refresh was tried and failed.
    pub(crate) async fn acquire_token_silent(
        self: &Arc<Self>,
        scopes: &[String],
        account: &Account,
        opts: SilentOptions,
    ) -> Result<Option<AuthenticationResult>> {
        let ext = Extensions::gather(None, &[], opts.forwarded_client_claims.as_deref())?;
        let (user_scopes, decorated) = decorate(scopes, &self.opts.exclude_scopes)?;
        let meta = self.metadata().await?;
        let claims_challenge = opts.claims_challenge.filter(|c| !c.trim().is_empty());
        let bypass = opts.force_refresh || claims_challenge.is_some();
        // The flight guard is held until this call has refreshed and cached the token.
        let (verdict, _flight) = if bypass {
            // No look-up brings the user's refresh tokens (and app metadata) up to date from
            // a shared back-end (another process's file writes, another instance's Redis
            // writes): load them now.
            self.cache.load(&self.user_shards(account)).await?;
            (CacheVerdict::Miss(RefreshReason::ForceRefresh), None)
        } else {
            self.silent_lookup(&meta, account, &user_scopes, &ext)
                .await?
        };
        let reason = match verdict {
            CacheVerdict::Fresh(e) => return Ok(Some(with_account(self.cache_hit(&e), account))),
            CacheVerdict::Aging(e) => {
                // Served at once; one background task refreshes it.
                self.refresh_silently_in_background(&meta, account, user_scopes, decorated, ext);
                return Ok(Some(with_account(self.cache_hit(&e), account)));
            }
            CacheVerdict::Miss(r) => r,
        };
        let claims = merge_client_claims(
            crate::claims::merge(&self.opts.client_capabilities, claims_challenge.as_deref())?,
            ext.client_claims.as_deref(),
        )?;
        let attempt = SilentRefresh {
            account,
            requested: &user_scopes,
            decorated: &decorated,
            reason,
            claims: claims.as_deref(),
            ext_cache_key: ext.ext_cache_key.clone(),
        };
        self.refresh_silently(&meta, attempt).await
    }

    /// The proactive refresh of an aging token, in the background (single flight). A
    /// refused or failed refresh leaves the cached token to be served until it expires.
    fn refresh_silently_in_background(
        self: &Arc<Self>,
        meta: &AuthorityMetadata,
        account: &Account,
        user_scopes: Vec<String>,
        decorated: Vec<String>,
        ext: Extensions,
    ) {
        let flight_key = format!(
            "{}|{}",
            silent_flight_key(self.authority.host(), account, &user_scopes),
            ext.ext_cache_key.as_deref().unwrap_or_default()
        );
        let account = account.clone();
        let realm = meta.realm.clone();
        self.refresh_in_background(&flight_key, move |state| async move {
            let meta = state.metadata().await?;
            let q = AtQuery {
                home_account_id: Some(&account.home_account_id),
                environment: state.authority.host(),
                client_id: &state.client_id,
                realm: &realm,
                scopes: &user_scopes,
                user_assertion_hash: None,
            };
            let ext_key = ext.ext_cache_key.as_deref();
            let find = |c: &CacheData| {
                judge(
                    c.find_access_token_ext(&q, ext_key, CacheData::now()),
                    CacheData::now(),
                )
            };
            // Another refresh finished between the caller's look-up and this task.
            let shards = state.user_shards(&account);
            if matches!(
                state.cache.lookup(&shards, find).await?,
                CacheVerdict::Fresh(_)
            ) {
                return Ok(());
            }
            let claims = merge_client_claims(None, ext.client_claims.as_deref())?;
            let attempt = SilentRefresh {
                account: &account,
                requested: &user_scopes,
                decorated: &decorated,
                reason: RefreshReason::ProactiveRefresh,
                claims: claims.as_deref(),
                ext_cache_key: ext.ext_cache_key.clone(),
            };
            state.refresh_silently(&meta, attempt).await.map(drop)
        });
    }

    fn user_shards(&self, account: &Account) -> [String; 2] {
        [
            shard::user(self.authority.host(), &account.home_account_id),
            shard::META.to_string(),
        ]
    }

    /// The cached token of this account and scopes; concurrent callers that want the same
    /// missing token wait for the first one's refresh and then find its result.
    async fn silent_lookup(
        &self,
        meta: &AuthorityMetadata,
        account: &Account,
        user_scopes: &[String],
        ext: &Extensions,
    ) -> Result<(CacheVerdict, Option<FlightGuard>)> {
        let env = self.authority.host();
        let q = AtQuery {
            home_account_id: Some(&account.home_account_id),
            environment: env,
            client_id: &self.client_id,
            realm: &meta.realm,
            scopes: user_scopes,
            user_assertion_hash: None,
        };
        let ext_key = ext.ext_cache_key.as_deref();
        let find = |c: &CacheData| {
            judge(
                c.find_access_token_ext(&q, ext_key, CacheData::now()),
                CacheData::now(),
            )
        };
        let flight_key = format!(
            "{}|{}",
            silent_flight_key(env, account, user_scopes),
            ext_key.unwrap_or_default()
        );
        let (mut verdict, flight) = self
            .lookup_or_join_flight(&self.user_shards(account), find, &flight_key)
            .await?;
        // Extended entries are looked for under the app's host only.
        if matches!(verdict, CacheVerdict::Miss(_)) && ext_key.is_none() {
            // Nothing under the app's host: another MSAL app may have used an alias.
            verdict = self.find_under_aliases(&q, verdict).await?;
        }
        Ok((verdict, flight))
    }

    /// A silent look-up that missed under the app's host, repeated under its aliases.
    async fn find_under_aliases(
        &self,
        q: &AtQuery<'_>,
        missed: CacheVerdict,
    ) -> Result<CacheVerdict> {
        let aliases = self.aliases().await;
        if aliases.len() == 1 {
            return Ok(missed);
        }
        let mut shards: Vec<String> = aliases
            .iter()
            .filter_map(|e| q.home_account_id.map(|h| shard::user(e, h)))
            .collect();
        shards.push(shard::META.to_string());
        let now = CacheData::now();
        let found = self
            .cache
            .lookup(&shards, |c| c.find_access_token_among(q, aliases, now))
            .await?;
        Ok(match found {
            Some(e) => judge(Some(e), now),
            None => missed,
        })
    }

    /// Tries the account's refresh tokens in MSAL's order. `Ok(None)`: none to try, or only
    /// speculative family tokens that were refused.
    async fn refresh_silently(
        &self,
        meta: &AuthorityMetadata,
        a: SilentRefresh<'_>,
    ) -> Result<Option<AuthenticationResult>> {
        let hid = &a.account.home_account_id;
        let host = self.authority.host().to_string();
        let mut candidates = self.refresh_token_candidates(hid, std::slice::from_ref(&host));
        if candidates.is_empty() {
            // None under the app's host: look under its aliases.
            let aliases = self.aliases().await;
            if aliases.len() > 1 {
                let shards: Vec<String> = aliases.iter().map(|e| shard::user(e, hid)).collect();
                self.cache.load(&shards).await?;
                candidates = self.refresh_token_candidates(hid, aliases);
            }
        }
        let mut last_err = None;
        let mut skip_speculative = false;
        for (rt_key, secret, attempt) in candidates {
            if attempt == RtAttempt::Speculative && skip_speculative {
                continue;
            }
            let redemption = Redemption {
                api: ApiId::AcquireTokenSilent,
                reason: a.reason,
                refresh_token: secret,
                decorated: a.decorated,
                claims: a.claims,
                extra_headers: anchor_mailbox(&a.account.home_account_id)
                    .into_iter()
                    .collect(),
                throttle_tag: "rt",
                save: SaveOptions {
                    requested: a.requested,
                    account_source: None,
                    used_refresh_token: Some(rt_key),
                    user_assertion_hash: None,
                    id_token_claims: None,
                    known_home_account_id: Some(a.account.home_account_id.clone()),
                    ext_cache_key: a.ext_cache_key.clone(),
                },
            };
            match self.redeem_refresh_token(meta, redemption).await {
                Ok(r) => return Ok(Some(with_account(r, a.account))),
                // A family token may not work for this app; the next candidate may.
                Err(e) if attempt == RtAttempt::Speculative => {
                    tracing::debug!(error = %e, "speculative family refresh token did not work");
                    // MSAL Python: while the app's family membership is unknown, a family
                    // token's refusal is not this app's error, and `client_mismatch` means
                    // no other family token will work either.
                    skip_speculative |= e
                        .server()
                        .is_some_and(|s| s.suberror.as_deref() == Some("client_mismatch"));
                }
                Err(e) => {
                    tracing::debug!(error = %e, ?attempt, "refresh token did not work");
                    last_err = Some(e);
                }
            }
        }
        last_err.map_or(Ok(None), Err)
    }

    /// Refresh tokens to try, in MSAL's order: family tokens first when the app is (or may
    /// be) in the family, then its own; newest first within each group.
    fn refresh_token_candidates(
        &self,
        home_account_id: &str,
        envs: &[String],
    ) -> Vec<(String, String, RtAttempt)> {
        let c = self.cache.read();
        let meta = envs
            .iter()
            .find_map(|env| c.app_metadata.get(&key::app_metadata(env, &self.client_id)));
        let try_family = meta.is_none() || meta.is_some_and(|m| m.family_id.is_some());
        let family_attempt = if meta.is_none() {
            RtAttempt::Speculative
        } else {
            RtAttempt::Family
        };
        let mut own = Vec::new();
        let mut family = Vec::new();
        for (k, rt) in &c.refresh_tokens {
            if rt
                .home_account_id
                .as_deref()
                .is_none_or(|h| !h.eq_ignore_ascii_case(home_account_id))
                || !envs.iter().any(|e| rt.environment.eq_ignore_ascii_case(e))
                || rt.user_assertion_hash.is_some()
            {
                continue;
            }
            let entry = (
                rt.last_modification_time.unwrap_or(0),
                k.clone(),
                rt.secret.clone(),
            );
            if rt.client_id.eq_ignore_ascii_case(&self.client_id) {
                own.push(entry);
            } else if try_family && rt.family_id.as_deref() == Some("1") {
                family.push(entry);
            }
        }
        // Newest first; between equals, the lower-case key (`key::rank`), never hash order.
        let order = |a: &(u64, String, String), b: &(u64, String, String)| {
            b.0.cmp(&a.0)
                .then_with(|| key::rank(&a.1).cmp(&key::rank(&b.1)))
        };
        own.sort_by(order);
        family.sort_by(order);
        family
            .into_iter()
            .map(|(_, k, s)| (k, s, family_attempt))
            .chain(own.into_iter().map(|(_, k, s)| (k, s, RtAttempt::Own)))
            .collect()
    }

    pub(crate) async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: &[String],
    ) -> Result<AuthenticationResult> {
        if refresh_token.trim().is_empty() {
            return Err(Error::InvalidInput("the refresh token is empty".into()));
        }
        let (user_scopes, decorated) = decorate(scopes, &self.opts.exclude_scopes)?;
        let meta = self.metadata().await?;
        let claims = crate::claims::merge(&self.opts.client_capabilities, None)?;
        let redemption = Redemption {
            api: ApiId::ByRefreshToken,
            reason: RefreshReason::ForceRefresh,
            refresh_token: refresh_token.to_string(),
            decorated: &decorated,
            claims: claims.as_deref(),
            extra_headers: Vec::new(),
            throttle_tag: "rt",
            save: SaveOptions {
                requested: &user_scopes,
                account_source: Some(None),
                used_refresh_token: None,
                user_assertion_hash: None,
                id_token_claims: None,
                known_home_account_id: None,
                ext_cache_key: None,
            },
        };
        self.redeem_refresh_token(&meta, redemption).await
    }
}

/// One silent refresh: whose tokens, which scopes, why.
/// The single-flight key of one user's token.
fn silent_flight_key(env: &str, account: &Account, user_scopes: &[String]) -> String {
    format!(
        "silent|{env}|{}|{}",
        account.home_account_id.to_lowercase(),
        key::target(user_scopes)
    )
}

struct SilentRefresh<'a> {
    account: &'a Account,
    requested: &'a [String],
    decorated: &'a [String],
    reason: RefreshReason,
    claims: Option<&'a str>,
    /// The extended cache key of the tokens to write (forwarded client claims).
    ext_cache_key: Option<String>,
}

/// Whose refresh token a silent attempt uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtAttempt {
    /// A family token, while this app has no app metadata yet (membership unknown).
    Speculative,
    /// A family token of a family this app is known to belong to.
    Family,
    /// The app's own token.
    Own,
}

fn with_account(mut r: AuthenticationResult, account: &Account) -> AuthenticationResult {
    r.account = Some(account.clone());
    r
}
