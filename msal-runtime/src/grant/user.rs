//! What the user flows share: scope decoration, `client_info`, and writing a user's
//! tokens and account into the cache.

use super::cached::{access_token_entry, from_entry};
use super::pipeline::Issued;
use crate::authority::AuthorityMetadata;
use crate::cache::store::CacheData;
use crate::cache::{key, AccessTokenEntry, AccountEntry, IdTokenEntry, RefreshTokenEntry};
use crate::error::{Error, Result};
use crate::result::{Account, AuthenticationResult};
use crate::state::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// Scopes MSAL adds to every user flow itself.
pub(crate) const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Refuses the reserved scopes in a (validated) user scope set and adds them (minus
/// `exclude_scopes`).
pub(crate) fn decorate<S: AsRef<str>>(
    scopes: &[S],
    exclude: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    let mut user = Vec::with_capacity(scopes.len());
    for s in scopes {
        let s = s.as_ref();
        if RESERVED_SCOPES.contains(&s) {
            return Err(Error::InvalidInput(format!(
                "`{s}` is reserved: the library adds openid, profile and offline_access itself"
            )));
        }
        user.push(s.to_string());
    }
    let mut decorated = user.clone();
    for r in RESERVED_SCOPES {
        if !exclude.iter().any(|e| e == r) {
            decorated.push(r.to_string());
        }
    }
    Ok((user, decorated))
}

/// `client_info`: base64url JSON with the user's `uid` and home tenant `utid`.
pub(crate) fn home_account_id_from_client_info(client_info: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(client_info.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let uid = v.get("uid")?.as_str()?;
    let utid = v.get("utid")?.as_str()?;
    Some(format!("{uid}.{utid}"))
}

/// `X-AnchorMailbox` routing hint for a home account id.
pub(crate) fn anchor_mailbox(home_account_id: &str) -> Option<(String, String)> {
    home_account_id
        .split_once('.')
        .map(|(uid, utid)| ("x-anchormailbox".to_string(), format!("Oid:{uid}@{utid}")))
}

/// How a response is written to the cache.
pub(crate) struct SaveOptions<'a> {
    pub requested: &'a [String],
    /// `Some` for grants that create accounts; `None` for silent refresh (MSAL does not
    /// re-create an account a concurrent `remove_account` may have just removed).
    pub account_source: Option<Option<&'a str>>,
    /// For a silent refresh: the key of the refresh token that was used, updated in place.
    pub used_refresh_token: Option<String>,
    /// For on-behalf-of: the hash of the incoming assertion.
    pub user_assertion_hash: Option<String>,
    /// The ID token claims, already validated when the flow requires it; `None` decodes
    /// the response's ID token, if any.
    pub id_token_claims: Option<Map<String, Value>>,
    /// The home account id when known from the request side (silent refresh).
    pub known_home_account_id: Option<String>,
    /// The extended cache key of a request with extensions (forwarded client claims).
    pub ext_cache_key: Option<String>,
}

impl AppState {
    /// Writes AT, RT, IdToken, Account and AppMetadata for a user flow and builds the result.
    pub(crate) async fn save_user_tokens(
        &self,
        meta: &AuthorityMetadata,
        issued: Issued,
        opts: SaveOptions<'_>,
    ) -> Result<AuthenticationResult> {
        let r = &issued.response;
        let id_token_claims = opts.id_token_claims.clone().or_else(|| {
            let token = r.id_token.as_deref()?;
            crate::id_token::decode(token).ok().map(|(_, c)| c)
        });
        let claims = id_token_claims.clone().unwrap_or_default();
        let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let home_account_id = r
            .client_info
            .as_deref()
            .and_then(home_account_id_from_client_info)
            .or(opts.known_home_account_id.clone())
            .or_else(|| claim("sub"))
            .ok_or_else(|| {
                Error::invalid_response(
                    &meta.token_endpoint,
                    "the response identifies no user (no client_info, no ID token)",
                )
            })?;
        let entries = self.user_entries(meta, &issued, &opts, home_account_id, &claims);
        let mut result = from_entry(&entries.at, issued.correlation_id.clone());
        result.account = Some(account_to_public(&entries.account));
        result.id_token = r.id_token.clone();
        result.id_token_claims = id_token_claims;
        result.raw_response = Some(r.raw.clone());
        result.tenant_id = Some(claim("tid").unwrap_or_else(|| meta.realm.clone()).into());

        let write_account = opts.account_source.is_some();
        let used_rt = opts.used_refresh_token;
        let (env, cid, foci) = (
            self.authority.host().to_string(),
            self.client_id.clone(),
            r.foci.clone(),
        );
        self.cache
            .modify(move |c| {
                entries.write(c, used_rt, write_account);
                c.upsert_app_metadata(&env, &cid, foci);
            })
            .await?;
        Ok(result)
    }

    /// The cache entries one response yields.
    fn user_entries(
        &self,
        meta: &AuthorityMetadata,
        issued: &Issued,
        opts: &SaveOptions<'_>,
        home_account_id: String,
        claims: &Map<String, Value>,
    ) -> UserEntries {
        let r = &issued.response;
        let env = self.authority.host().to_string();
        let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let now = CacheData::now();
        let mut at = access_token_entry(
            issued,
            Some(home_account_id.clone()),
            &env,
            &self.client_id,
            &meta.realm,
            opts.requested,
            now,
        );
        at.user_assertion_hash = opts.user_assertion_hash.clone();
        at.ext_cache_key = opts.ext_cache_key.clone();
        let id_token = r.id_token.clone().map(|secret| IdTokenEntry {
            credential_type: "IdToken".into(),
            secret,
            home_account_id: Some(home_account_id.clone()),
            environment: env.clone(),
            realm: meta.realm.clone(),
            client_id: self.client_id.clone(),
            extra: Map::new(),
        });
        let refresh = r.refresh_token.clone().map(|secret| RefreshTokenEntry {
            credential_type: "RefreshToken".into(),
            secret,
            home_account_id: Some(home_account_id.clone()),
            environment: env.clone(),
            client_id: self.client_id.clone(),
            target: Some(at.target.clone()),
            last_modification_time: Some(now),
            family_id: r.foci.clone(),
            user_assertion_hash: opts.user_assertion_hash.clone(),
            extra: Map::new(),
        });
        let account = AccountEntry {
            home_account_id,
            environment: env,
            realm: meta.realm.clone(),
            local_account_id: claim("oid").or_else(|| claim("sub")).unwrap_or_default(),
            username: claim("preferred_username")
                .or_else(|| claim("upn"))
                .unwrap_or_default(),
            authority_type: if meta.realm.eq_ignore_ascii_case("adfs") {
                "ADFS".into()
            } else {
                "MSSTS".into()
            },
            account_source: opts.account_source.flatten().map(str::to_string),
            extra: Map::new(),
        };
        UserEntries {
            at,
            id_token,
            refresh,
            account,
        }
    }
}

/// What one user-flow response writes to the cache.
struct UserEntries {
    at: AccessTokenEntry,
    id_token: Option<IdTokenEntry>,
    refresh: Option<RefreshTokenEntry>,
    account: AccountEntry,
}

impl UserEntries {
    /// Writes the entries; `used_rt` (a silent refresh) is updated in place; the account
    /// only when the grant creates accounts.
    fn write(self, c: &mut CacheData, used_rt: Option<String>, write_account: bool) {
        let target = self.at.target.clone();
        c.insert_access_token(self.at);
        if let Some(idt) = self.id_token {
            let k = key::id_token(
                idt.home_account_id.as_deref(),
                &idt.environment,
                &idt.client_id,
                &idt.realm,
            );
            c.put_id_token(k, idt);
        }
        if let Some(rt) = self.refresh {
            let used = used_rt.and_then(|k| c.refresh_tokens.get(&k).cloned().map(|e| (k, e)));
            match used {
                // A silent refresh updates the token it used, in place.
                Some((k, mut existing)) => {
                    existing.secret = rt.secret;
                    existing.last_modification_time = rt.last_modification_time;
                    if rt.family_id.is_some() {
                        existing.family_id = rt.family_id;
                    }
                    c.put_refresh_token(k, existing);
                }
                None => {
                    let k = key::refresh_token(
                        rt.home_account_id.as_deref(),
                        &rt.environment,
                        &rt.client_id,
                        &target,
                        rt.user_assertion_hash.as_deref(),
                    );
                    c.put_refresh_token(k, rt);
                }
            }
        }
        if write_account {
            let a = &self.account;
            let k = key::account(&a.home_account_id, &a.environment, &a.realm);
            c.put_account(k, self.account);
        }
    }
}

pub(crate) fn account_to_public(a: &AccountEntry) -> Account {
    Account {
        home_account_id: a.home_account_id.clone(),
        environment: a.environment.clone(),
        username: a.username.clone(),
        local_account_id: a.local_account_id.clone(),
        realm: a.realm.clone(),
        authority_type: a.authority_type.clone(),
        account_source: a.account_source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoration_adds_reserved_minus_excluded() {
        let (user, dec) = decorate(&["User.Read"], &["offline_access".to_string()]).unwrap();
        assert_eq!(user, vec!["User.Read"]);
        assert_eq!(dec, vec!["User.Read", "openid", "profile"]);
        assert!(decorate(&["openid"], &[]).is_err());
        // Blanks and white space are refused earlier, by `Scopes::new`.
        assert!(crate::Scopes::new(["a b"]).is_err());
    }

    #[test]
    fn client_info() {
        let ci = URL_SAFE_NO_PAD.encode(r#"{"uid":"u1","utid":"t1"}"#);
        assert_eq!(
            home_account_id_from_client_info(&ci).as_deref(),
            Some("u1.t1")
        );
        assert_eq!(home_account_id_from_client_info("garbage!"), None);
        assert_eq!(anchor_mailbox("u1.t1").unwrap().1, "Oid:u1@t1");
    }
}
