//! Authorization code flow with PKCE (S256), state and nonce, as MSAL Python runs it.

use super::extended::{merge_client_claims, Extensions};
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

/// Builder setters for `Option<String>` fields: `field(self, v: impl Into<String>) -> Self`.
macro_rules! option_string_setters {
    ($ty:ident { $($(#[$doc:meta])* $field:ident,)* }) => {
        impl $ty {
            $(
                $(#[$doc])*
                pub fn $field(mut self, v: impl Into<String>) -> Self {
                    self.$field = Some(v.into());
                    self
                }
            )*
        }
    };
}

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
    /// Sets `max_age`.
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }
}

option_string_setters!(AuthCodeFlowOptions {
    /// Sets `state`.
    state,
    /// Sets `prompt`.
    prompt,
    /// Sets `login_hint`.
    login_hint,
    /// Sets `domain_hint`.
    domain_hint,
    /// Sets `response_mode`.
    response_mode,
    /// Sets a claims challenge.
    claims_challenge,
});

/// Options of MSAL Python's older
/// [`get_authorization_request_url`](crate::ConfidentialClientApplication::get_authorization_request_url):
/// nothing is generated for you. `state` and `nonce` go into the URL as given (the nonce
/// raw, as MSAL Python sends it); PKCE is used when you set [`pkce`](Self::pkce) with a
/// verifier you keep for the redemption.
///
/// ```
/// use msal_runtime::AuthorizationRequestOptions;
/// let opts = AuthorizationRequestOptions::new("https://app.example.com/callback")
///     .state("a-random-value-kept-in-the-session")
///     .nonce("another-random-value")
///     .pkce("a-verifier-of-43-to-128-characters-kept-server-side-0123456789");
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizationRequestOptions {
    /// Where the authority sends the user back (must be registered).
    pub redirect_uri: Option<String>,
    /// A CSRF-protection value the redirect echoes (none unless given).
    pub state: Option<String>,
    /// A raw nonce for the ID token (none unless given).
    pub nonce: Option<String>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// `login`, `consent`, `select_account` or `none`.
    pub prompt: Option<String>,
    /// `consumers`, `organizations` or a domain.
    pub domain_hint: Option<String>,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: Option<String>,
    /// A claims challenge from a resource (Conditional Access).
    pub claims_challenge: Option<String>,
    /// The S256 PKCE challenge (set through [`pkce`](Self::pkce)).
    pub code_challenge: Option<String>,
}

impl AuthorizationRequestOptions {
    /// Options with a redirect URI.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        AuthorizationRequestOptions {
            redirect_uri: Some(redirect_uri.into()),
            ..Default::default()
        }
    }
    /// Uses PKCE: the URL carries the S256 challenge of `code_verifier`; pass the same
    /// verifier to [`AuthorizationCodeOptions::code_verifier`] when redeeming the code.
    pub fn pkce(mut self, code_verifier: &str) -> Self {
        self.code_challenge = Some(s256_challenge(code_verifier));
        self
    }
}

option_string_setters!(AuthorizationRequestOptions {
    /// Sets `state`.
    state,
    /// Sets the raw `nonce`.
    nonce,
    /// Sets `login_hint`.
    login_hint,
    /// Sets `prompt`.
    prompt,
    /// Sets `domain_hint`.
    domain_hint,
    /// Sets `response_mode`.
    response_mode,
    /// Sets a claims challenge.
    claims_challenge,
});

/// Options of MSAL Python's older
/// [`acquire_token_by_authorization_code`](crate::ConfidentialClientApplication::acquire_token_by_authorization_code).
/// `Debug` redacts the verifier.
///
/// ```
/// use msal_runtime::AuthorizationCodeOptions;
/// let opts = AuthorizationCodeOptions::new("https://app.example.com/callback")
///     .nonce("another-random-value")
///     .code_verifier("a-verifier-of-43-to-128-characters-kept-server-side-0123456789");
/// assert!(!format!("{opts:?}").contains("0123456789"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct AuthorizationCodeOptions {
    /// The redirect URI the code was sent to (required by Entra when the URL had one).
    pub redirect_uri: Option<String>,
    /// The raw nonce of the authorization URL; the ID token must carry it.
    pub nonce: Option<String>,
    /// The PKCE verifier whose challenge the authorization URL carried.
    pub code_verifier: Option<String>,
    /// A claims challenge from a resource.
    pub claims_challenge: Option<String>,
    /// Client-originated claims (a JSON object; MSAL Python's `forwarded_client_claims`):
    /// merged into `claims` on the wire, and the tokens cached under an extended key, so
    /// only later calls carrying the same claims find them.
    pub forwarded_client_claims: Option<String>,
}

impl AuthorizationCodeOptions {
    /// Options with a redirect URI.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        AuthorizationCodeOptions {
            redirect_uri: Some(redirect_uri.into()),
            ..Default::default()
        }
    }
    /// Sets the raw nonce to check the ID token against.
    pub fn nonce(mut self, v: impl Into<String>) -> Self {
        self.nonce = Some(v.into());
        self
    }
    /// Sets the PKCE verifier.
    pub fn code_verifier(mut self, v: impl Into<String>) -> Self {
        self.code_verifier = Some(v.into());
        self
    }
    /// Sets forwarded client claims (see the field).
    pub fn forwarded_client_claims(mut self, claims: impl Into<String>) -> Self {
        self.forwarded_client_claims = Some(claims.into());
        self
    }
    /// Sets a claims challenge.
    pub fn claims_challenge(mut self, v: impl Into<String>) -> Self {
        self.claims_challenge = Some(v.into());
        self
    }
}

impl fmt::Debug for AuthorizationCodeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeOptions")
            .field("redirect_uri", &self.redirect_uri)
            .field("nonce", &self.nonce)
            .field(
                "code_verifier",
                &self.code_verifier.as_ref().map(|_| "[redacted]"),
            )
            .field("claims_challenge", &self.claims_challenge)
            .field(
                "forwarded_client_claims",
                &self.forwarded_client_claims.is_some(),
            )
            .finish()
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

/// The per-flow values that go into the authorization URL, in their URL form: `state` as
/// is, the S256 challenge of the verifier, the nonce (hashed by the flow API, raw from the
/// older API, as MSAL Python sends each).
struct Pkce<'a> {
    state: Option<&'a str>,
    challenge: Option<String>,
    nonce: Option<String>,
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

/// A code redemption's form fields, in MSAL's order.
fn code_fields(
    code_verifier: Option<&str>,
    code: &str,
    redirect_uri: Option<&str>,
    scopes: &[String],
    claims: Option<String>,
) -> Vec<(String, String)> {
    let mut fields = Vec::with_capacity(5);
    if let Some(v) = code_verifier {
        fields.push(("code_verifier".to_string(), v.to_string()));
    }
    fields.push(("code".into(), code.to_string()));
    if let Some(r) = redirect_uri {
        fields.push(("redirect_uri".into(), r.to_string()));
    }
    fields.push(("scope".into(), key::target(scopes)));
    if let Some(c) = claims {
        fields.push(("claims".into(), c));
    }
    fields
}

/// One code redemption: its form, and what the ID token must satisfy.
struct CodeRedemption<'a> {
    code: &'a str,
    fields: Vec<(String, String)>,
    /// The redirect's `client_info`, for the `X-AnchorMailbox` routing hint.
    client_info: Option<&'a str>,
    /// The `nonce` claim the ID token must carry, in its URL form.
    nonce: Option<String>,
    max_age: Option<u64>,
    id_token_required: bool,
    requested: &'a [String],
    /// The extended cache key of the request's extras (forwarded client claims).
    ext_cache_key: Option<String>,
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
            state: Some(&state),
            challenge: Some(s256_challenge(&verifier)),
            nonce: Some(sha256_hex(&nonce)),
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
        self.acquire_token_by_auth_code_flow_scoped(flow, response, None)
            .await
    }

    /// [`acquire_token_by_auth_code_flow`](Self::acquire_token_by_auth_code_flow) asking
    /// for `scopes` (a subset of the flow's, as MSAL Python allows) instead of all the
    /// flow's scopes.
    pub(crate) async fn acquire_token_by_auth_code_flow_scoped(
        &self,
        flow: &AuthCodeFlow,
        response: HashMap<String, String>,
        scopes: Option<&[String]>,
    ) -> Result<AuthenticationResult> {
        let code = code_of(flow, &response)?;
        let requested = match scopes {
            None => flow.scope.clone(),
            Some(s) => {
                let (_, decorated) = decorate(s, &self.opts.exclude_scopes)?;
                if let Some(extra) = decorated.iter().find(|d| !flow.scope.contains(d)) {
                    return Err(Error::InvalidInput(format!(
                        "`{extra}` was not requested when the flow started; the scopes of a \
                         redemption must be a subset of the flow's"
                    )));
                }
                decorated
            }
        };
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
        let fields = code_fields(
            Some(&flow.code_verifier),
            code,
            flow.redirect_uri.as_deref(),
            &requested,
            claims,
        );
        let redemption = CodeRedemption {
            code,
            fields,
            client_info: response.get("client_info").map(String::as_str),
            nonce: Some(sha256_hex(&flow.nonce)),
            max_age: flow.max_age,
            id_token_required: true,
            requested: &requested,
            ext_cache_key: None,
        };
        self.redeem_code(&meta, redemption).await
    }

    /// MSAL Python's older `acquire_token_by_authorization_code`: redeems a code obtained
    /// with [`authorization_request_url`](Self::authorization_request_url), without the
    /// flow's state bookkeeping. PKCE when the caller kept a verifier; the ID token (when
    /// one comes back) is validated, its nonce compared with the raw nonce given.
    pub(crate) async fn acquire_token_by_authorization_code(
        &self,
        code: &str,
        scopes: &[String],
        o: AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult> {
        let code = code.trim();
        if code.is_empty() {
            return Err(Error::InvalidInput(
                "the authorization code is empty".into(),
            ));
        }
        let (_, decorated) = decorate(scopes, &self.opts.exclude_scopes)?;
        let ext = Extensions::gather(None, &[], o.forwarded_client_claims.as_deref())?;
        let meta = self.metadata().await?;
        let claims = merge_client_claims(
            crate::claims::merge(
                &self.opts.client_capabilities,
                o.claims_challenge.as_deref(),
            )?,
            ext.client_claims.as_deref(),
        )?;
        let fields = code_fields(
            o.code_verifier.as_deref(),
            code,
            o.redirect_uri.as_deref(),
            &decorated,
            claims,
        );
        let redemption = CodeRedemption {
            code,
            fields,
            client_info: None,
            nonce: o.nonce.clone(),
            max_age: None,
            id_token_required: false,
            requested: &decorated,
            ext_cache_key: ext.ext_cache_key,
        };
        self.redeem_code(&meta, redemption).await
    }

    /// The authorization URL of MSAL Python's older `get_authorization_request_url`: no
    /// state or nonce unless given (the nonce goes in raw), PKCE only when the options
    /// carry a verifier's challenge.
    pub(crate) async fn authorization_request_url(
        &self,
        user_scopes: &[String],
        o: AuthorizationRequestOptions,
    ) -> Result<String> {
        let (_, decorated) = decorate(user_scopes, &self.opts.exclude_scopes)?;
        let flow_options = AuthCodeFlowOptions {
            redirect_uri: o.redirect_uri,
            state: None,
            prompt: o.prompt,
            login_hint: o.login_hint,
            domain_hint: o.domain_hint,
            max_age: None,
            response_mode: o.response_mode,
            claims_challenge: o.claims_challenge,
        };
        check_flow_options(&flow_options)?;
        let meta = self.metadata().await?;
        if meta.authorization_endpoint.is_empty() {
            return Err(Error::Discovery {
                url: self.authority.openid_configuration_url(),
                status: None,
                detail: "the authority advertises no authorization_endpoint".into(),
            });
        }
        let claims = crate::claims::merge(
            &self.opts.client_capabilities,
            flow_options.claims_challenge.as_deref(),
        )?;
        let pkce = Pkce {
            state: o.state.as_deref().filter(|s| !s.is_empty()),
            challenge: o.code_challenge,
            nonce: o.nonce,
        };
        self.authorization_url(
            &meta.authorization_endpoint,
            &decorated,
            &flow_options,
            &pkce,
            claims,
        )
    }

    /// Sends a code redemption, validates the ID token and caches the user's tokens.
    async fn redeem_code(
        &self,
        meta: &crate::authority::AuthorityMetadata,
        r: CodeRedemption<'_>,
    ) -> Result<AuthenticationResult> {
        let extra_headers = r
            .client_info
            .and_then(home_account_id_from_client_info)
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
                fields: r.fields,
                extra_headers,
                throttle_key: format!(
                    "POST {} client_id={} code={}",
                    meta.token_endpoint,
                    self.client_id,
                    sha256_hex(r.code)
                ),
            })
            .await?;
        let claims = match issued.response.id_token.clone() {
            Some(id_token) => Some(
                self.validate_id_token(
                    meta,
                    &id_token,
                    Expectations {
                        issuer: &meta.issuer,
                        client_id: &self.client_id,
                        nonce: r.nonce.as_deref(),
                        max_age: r.max_age,
                        now: CacheData::now(),
                    },
                )
                .await?,
            ),
            None if r.id_token_required => {
                return Err(Error::Validation(
                    "the authority returned no ID token for an openid sign-in".into(),
                ))
            }
            None => None,
        };
        self.save_user_tokens(
            meta,
            issued,
            SaveOptions {
                requested: r.requested,
                account_source: Some(Some("authorization_code")),
                used_refresh_token: None,
                user_assertion_hash: None,
                id_token_claims: claims,
                known_home_account_id: None,
                ext_cache_key: r.ext_cache_key,
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
        q.append_pair("scope", &key::target(decorated));
        if let Some(state) = pkce.state {
            q.append_pair("state", state);
        }
        if let Some(m) = &o.response_mode {
            q.append_pair("response_mode", m);
        }
        if let Some(challenge) = &pkce.challenge {
            q.append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        if let Some(nonce) = &pkce.nonce {
            q.append_pair("nonce", nonce);
        }
        q.append_pair("client_info", "1");
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
