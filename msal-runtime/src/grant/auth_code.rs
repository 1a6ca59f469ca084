//! Authorization code flow with PKCE (S256), state and nonce, as MSAL Python runs it.

use super::pipeline::TokenRequest;
use super::user::{anchor_mailbox, decorate, home_account_id_from_client_info, SaveOptions};
use crate::cache::key;
use crate::cache::store::CacheData;
use crate::error::{Error, Result, ServerError};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::id_token::{self, Expectations};
use crate::result::AuthenticationResult;
use crate::state::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Options of [`initiate_auth_code_flow`](crate::ConfidentialClientApplication::initiate_auth_code_flow).
///
/// ```
/// use msal_runtime::AuthCodeFlowOptions;
/// let opts = AuthCodeFlowOptions::new("https://app.example.com/callback")
///     .login_hint("alice@contoso.com")
///     .prompt("select_account");
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthCodeFlowOptions {
    /// Where the authority sends the user back (must be registered).
    pub redirect_uri: Option<String>,
    /// Your own state value; a random one is made otherwise.
    pub state: Option<String>,
    /// `login`, `consent`, `select_account` or `none`.
    pub prompt: Option<String>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// `consumers`, `organizations` or a domain.
    pub domain_hint: Option<String>,
    /// Maximum seconds since the user last authenticated.
    pub max_age: Option<u64>,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: Option<String>,
    /// A claims challenge from a resource (Conditional Access).
    pub claims_challenge: Option<String>,
}

impl AuthCodeFlowOptions {
    /// Options with a redirect URI.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        AuthCodeFlowOptions {
            redirect_uri: Some(redirect_uri.into()),
            ..Default::default()
        }
    }
    /// Sets `state`.
    pub fn state(mut self, v: impl Into<String>) -> Self {
        self.state = Some(v.into());
        self
    }
    /// Sets `prompt`.
    pub fn prompt(mut self, v: impl Into<String>) -> Self {
        self.prompt = Some(v.into());
        self
    }
    /// Sets `login_hint`.
    pub fn login_hint(mut self, v: impl Into<String>) -> Self {
        self.login_hint = Some(v.into());
        self
    }
    /// Sets `domain_hint`.
    pub fn domain_hint(mut self, v: impl Into<String>) -> Self {
        self.domain_hint = Some(v.into());
        self
    }
    /// Sets `max_age`.
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }
    /// Sets `response_mode`.
    pub fn response_mode(mut self, v: impl Into<String>) -> Self {
        self.response_mode = Some(v.into());
        self
    }
    /// Sets a claims challenge.
    pub fn claims_challenge(mut self, v: impl Into<String>) -> Self {
        self.claims_challenge = Some(v.into());
        self
    }
}

/// A started sign-in: keep it in the user's (server-side) session until the redirect
/// comes back, then pass it to
/// [`acquire_token_by_auth_code_flow`](crate::ConfidentialClientApplication::acquire_token_by_auth_code_flow).
///
/// It serializes to JSON for session storage. It holds the PKCE verifier and nonce, so
/// never put it in a cookie the browser can read; `Debug` redacts both.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthCodeFlow {
    /// The URL to send the user's browser to.
    pub auth_uri: String,
    /// The `state` value the redirect must echo.
    pub state: String,
    /// The redirect URI.
    pub redirect_uri: Option<String>,
    /// The decorated scopes requested.
    pub scope: Vec<String>,
    /// The PKCE code verifier (a secret of this flow: see [`code_verifier`](Self::code_verifier)).
    pub(crate) code_verifier: String,
    /// The raw nonce (its SHA-256 went into the URL).
    pub(crate) nonce: String,
    /// The claims challenge, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_challenge: Option<String>,
    /// `max_age`, if requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

impl AuthCodeFlow {
    /// The PKCE code verifier, which redeems the code. Keep it server-side: whoever holds it
    /// and the code can redeem the sign-in.
    pub fn code_verifier(&self) -> &str {
        &self.code_verifier
    }

    /// The raw nonce; its SHA-256 went into the authorization URL and comes back in the ID
    /// token.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
}

impl fmt::Debug for AuthCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCodeFlow")
            .field("state", &self.state)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("code_verifier", &"[redacted]")
            .field("nonce", &"[redacted]")
            .finish_non_exhaustive()
    }
}

const VERIFIER_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf)
        .map_err(|e| Error::credential_from("the system random generator failed", e))?;
    Ok(buf)
}

/// 43 characters from the RFC 7636 alphabet (rejection sampling keeps it uniform).
fn code_verifier() -> Result<String> {
    let mut out = String::with_capacity(43);
    while out.len() < 43 {
        for b in random_bytes(64)? {
            if (b as usize) < VERIFIER_CHARS.len() * 3 && out.len() < 43 {
                out.push(VERIFIER_CHARS[b as usize % VERIFIER_CHARS.len()] as char);
            }
        }
    }
    Ok(out)
}

fn token_urlsafe() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(16)?))
}

pub(crate) fn sha256_hex(s: &str) -> String {
    openssl::sha::sha256(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

/// The per-flow secrets that go into the authorization URL (state as is, the verifier as
/// its S256 challenge, the nonce as its SHA-256).
struct Pkce<'a> {
    state: &'a str,
    verifier: &'a str,
    nonce: &'a str,
}

fn check_flow_options(o: &AuthCodeFlowOptions) -> Result<()> {
    if let Some(r) = &o.redirect_uri {
        url::Url::parse(r)
            .map_err(|e| Error::InvalidInput(format!("redirect_uri is not a URL ({e})")))?;
    }
    if o.response_mode
        .as_deref()
        .is_some_and(|m| !matches!(m, "query" | "fragment" | "form_post"))
    {
        return Err(Error::InvalidInput(
            "response_mode must be query, fragment or form_post".into(),
        ));
    }
    Ok(())
}

/// The code of a redirect that belongs to `flow`; the authority's error passed through
/// (only its error fields: nothing else from a redirect is trusted).
fn code_of<'r>(flow: &AuthCodeFlow, response: &'r HashMap<String, String>) -> Result<&'r String> {
    if flow.state.is_empty() {
        return Err(Error::Validation(
            "the flow has no state; start it with initiate_auth_code_flow".into(),
        ));
    }
    match response.get("state") {
        Some(s) if s == &flow.state => {}
        Some(_) => {
            return Err(Error::Validation(
                "state mismatch: the response belongs to another sign-in".into(),
            ))
        }
        None => return Err(Error::Validation("the response carries no state".into())),
    }
    if let Some(error) = response.get("error") {
        return Err(ServerError {
            status: 0,
            error: error.clone(),
            error_description: response.get("error_description").cloned(),
            error_uri: response.get("error_uri").cloned(),
            ..Default::default()
        }
        .into());
    }
    response
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::Validation("the response has neither a code nor an error".into()))
}

/// The code redemption's form fields, in MSAL's order.
fn redemption_fields(
    flow: &AuthCodeFlow,
    code: &str,
    claims: Option<String>,
) -> Vec<(String, String)> {
    let mut fields = vec![
        ("code_verifier".to_string(), flow.code_verifier.clone()),
        ("code".into(), code.to_string()),
    ];
    if let Some(r) = &flow.redirect_uri {
        fields.push(("redirect_uri".into(), r.clone()));
    }
    fields.push(("scope".into(), key::target(&flow.scope)));
    if let Some(c) = claims {
        fields.push(("claims".into(), c));
    }
    fields
}

impl AppState {
    pub(crate) async fn initiate_auth_code_flow(
        &self,
        user_scopes: &[String],
        o: AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow> {
        let (_, decorated) = decorate(user_scopes, &self.opts.exclude_scopes)?;
        check_flow_options(&o)?;
        let meta = self.metadata().await?;
        if meta.authorization_endpoint.is_empty() {
            return Err(Error::Discovery {
                url: self.authority.openid_configuration_url(),
                status: None,
                detail: "the authority advertises no authorization_endpoint".into(),
            });
        }
        let state = match o.state.as_deref() {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => token_urlsafe()?,
        };
        let nonce = token_urlsafe()?;
        let verifier = code_verifier()?;
        let claims = crate::claims::merge(
            &self.opts.client_capabilities,
            o.claims_challenge.as_deref(),
        )?;
        let pkce = Pkce {
            state: &state,
            verifier: &verifier,
            nonce: &nonce,
        };
        let url =
            self.authorization_url(&meta.authorization_endpoint, &decorated, &o, &pkce, claims)?;
        Ok(AuthCodeFlow {
            auth_uri: url,
            state,
            redirect_uri: o.redirect_uri,
            scope: decorated,
            code_verifier: verifier,
            nonce,
            claims_challenge: o.claims_challenge,
            max_age: o.max_age,
        })
    }

    pub(crate) async fn acquire_token_by_auth_code_flow(
        &self,
        flow: &AuthCodeFlow,
        response: HashMap<String, String>,
    ) -> Result<AuthenticationResult> {
        let code = code_of(flow, &response)?;
        // One flow, one redemption: a replayed response is refused before any request.
        if !self.mark_flow_used(&flow.state) {
            return Err(Error::Validation(
                "this sign-in response was already redeemed (replay)".into(),
            ));
        }
        let meta = self.metadata().await?;
        let claims = crate::claims::merge(
            &self.opts.client_capabilities,
            flow.claims_challenge.as_deref(),
        )?;
        let fields = redemption_fields(flow, code, claims);
        let extra_headers = response
            .get("client_info")
            .and_then(|ci| home_account_id_from_client_info(ci))
            .and_then(|hid| anchor_mailbox(&hid))
            .into_iter()
            .collect();
        let issued = self
            .send_token_request(TokenRequest {
                api: ApiId::ByAuthCode,
                reason: RefreshReason::NotApplicable,
                endpoint: meta.token_endpoint.clone(),
                global_endpoint: meta.token_endpoint.clone(),
                grant_type: "authorization_code",
                fields,
                extra_headers,
                throttle_key: format!(
                    "POST {} client_id={} code={}",
                    meta.token_endpoint,
                    self.client_id,
                    sha256_hex(code)
                ),
            })
            .await?;
        let id_token = issued.response.id_token.clone().ok_or_else(|| {
            Error::Validation("the authority returned no ID token for an openid sign-in".into())
        })?;
        let claims = self
            .validate_id_token(
                &meta,
                &id_token,
                Expectations {
                    issuer: &meta.issuer,
                    client_id: &self.client_id,
                    nonce: Some(&sha256_hex(&flow.nonce)),
                    max_age: flow.max_age,
                    now: CacheData::now(),
                },
            )
            .await?;
        let requested: Vec<String> = flow.scope.clone();
        self.save_user_tokens(
            &meta,
            issued,
            SaveOptions {
                requested: &requested,
                account_source: Some(Some("authorization_code")),
                used_refresh_token: None,
                user_assertion_hash: None,
                id_token_claims: Some(claims),
                known_home_account_id: None,
            },
        )
        .await
    }

    /// The authorization URL, parameters in MSAL's order.
    fn authorization_url(
        &self,
        endpoint: &str,
        decorated: &[String],
        o: &AuthCodeFlowOptions,
        pkce: &Pkce<'_>,
        claims: Option<String>,
    ) -> Result<String> {
        let mut url = url::Url::parse(endpoint).map_err(|_| Error::Discovery {
            url: self.authority.openid_configuration_url(),
            status: None,
            detail: "authorization_endpoint is not a URL".into(),
        })?;
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code");
        if let Some(r) = &o.redirect_uri {
            q.append_pair("redirect_uri", r);
        }
        q.append_pair("scope", &key::target(decorated))
            .append_pair("state", pkce.state);
        if let Some(m) = &o.response_mode {
            q.append_pair("response_mode", m);
        }
        q.append_pair("code_challenge", &s256_challenge(pkce.verifier))
            .append_pair("code_challenge_method", "S256")
            .append_pair("nonce", &sha256_hex(pkce.nonce))
            .append_pair("client_info", "1");
        for (k, v) in [
            ("login_hint", &o.login_hint),
            ("prompt", &o.prompt),
            ("domain_hint", &o.domain_hint),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        if let Some(c) = &claims {
            q.append_pair("claims", c);
        }
        if let Some(m) = o.max_age {
            q.append_pair("max_age", &m.to_string());
        }
        if let Some(h) = &o.login_hint {
            q.append_pair("X-AnchorMailbox", &format!("UPN:{h}"));
        }
        drop(q);
        Ok(url.to_string())
    }

    /// Verifies an ID token's signature against the authority's JWKS (fetched once,
    /// fetched again when a new key id appears) and its claims.
    pub(crate) async fn validate_id_token(
        &self,
        meta: &crate::authority::AuthorityMetadata,
        jwt: &str,
        want: Expectations<'_>,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let (header, claims) = id_token::decode(jwt)?;
        let kid = header.get("kid").and_then(|v| v.as_str());
        let jwks = self.jwks(meta, kid).await?;
        jwks.verify(jwt, &header)?;
        id_token::check_claims(&claims, &want)?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_verifier_and_challenge() {
        let v = code_verifier().unwrap();
        assert_eq!(v.len(), 43);
        assert!(v.bytes().all(|b| VERIFIER_CHARS.contains(&b)));
        // Reference value computed independently with Python hashlib + base64.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mJ0kn_lRc6rhiIWCjxBrYe1jpwX5xg"),
            "8lTZXXPaSnT7n_W5cz8GmV2S3pNKY1pUAG0en3l7ab8"
        );
        assert_eq!(token_urlsafe().unwrap().len(), 22);
    }
}
