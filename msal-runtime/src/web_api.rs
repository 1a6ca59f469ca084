//! Web APIs: validating the access tokens callers send (`Authorization: Bearer ...`).
//!
//! An [`AccessTokenValidator`] is made from the API's own
//! [`ConfidentialClientApplication`] and checks, with nothing but the authority's public
//! metadata:
//!
//! * the RS256 signature, against the keys of the authority's JWKS (`jwks_uri` of its
//!   OpenID configuration; fetched once, cached with the app's ID-token keys, fetched again
//!   when a token names an unknown `kid` (key rollover), at most once every five minutes);
//! * `iss`: the authority's issuer, v2 (`https://login.microsoftonline.com/{tid}/v2.0`) or
//!   v1 (`https://sts.windows.net/{tid}/`); a multi-tenant API accepts any tenant
//!   ([`any_tenant`](AccessTokenValidatorBuilder::any_tenant)) or the ones it lists
//!   ([`tenants`](AccessTokenValidatorBuilder::tenants));
//! * `aud`: the client id or `api://{client id}`, plus any
//!   [`audience`](AccessTokenValidatorBuilder::audience) you add (an App ID URI);
//! * `exp` / `nbf` / `iat`, with five minutes of clock skew;
//! * `scp` / `roles`: when the API declares the scopes or app roles it accepts, a token
//!   must carry at least one of them (else 403 `insufficient_scope`).
//!
//! A refusal is a [`Rejection`] that knows its RFC 6750 answer: the status (401, 403, or
//! 503 when the authority's keys cannot be had) and the `WWW-Authenticate` challenge.
//! A success is a [`ValidatedCaller`], whose [`assertion`](ValidatedCaller::assertion) goes
//! straight into
//! [`acquire_token_on_behalf_of`](ConfidentialClientApplication::acquire_token_on_behalf_of).
//!
//! ```no_run
//! use msal_runtime::web_api::AccessTokenValidator;
//! use msal_runtime::{ClientCredential, ConfidentialClientApplication};
//!
//! # async fn run(authorization_header: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
//! let app = ConfidentialClientApplication::builder("5f0c2d3e-0000-4000-8000-0000000000c1")
//!     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
//!     .client_credential(ClientCredential::secret(std::env::var("API_SECRET")?))
//!     .build()?;
//! let validator = AccessTokenValidator::builder(&app)
//!     .audience("api://orders")
//!     .accept_scopes(["Orders.Read"])
//!     .build()?;
//! match validator.validate_header(authorization_header).await {
//!     Ok(caller) => {
//!         let downstream = app
//!             .acquire_token_on_behalf_of(&caller, &["api://inventory/Items.Read"])
//!             .await?;
//!         println!("{:?} may read orders", caller.object_id());
//!     }
//!     Err(refusal) => {
//!         // Answer with refusal.status() and `WWW-Authenticate: {refusal.www_authenticate()}`.
//!         println!("{} {}", refusal.status(), refusal.www_authenticate());
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::app::ConfidentialClientApplication;
use crate::error::{Error, Result};
use crate::id_token::{self, TokenKind, SKEW_SECS};
use crate::secret::Assertion;
pub use crate::secret::UserAssertion;
use crate::state::AppState;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which tenants' tokens a validator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tenants {
    /// The authority's own: its issuer as discovered (any tenant when the authority is
    /// `common` / `organizations`, whose issuer has a `{tenantid}` placeholder).
    Authority,
    /// Any tenant's tokens (a multi-tenant API).
    Any,
    /// The tokens of these tenants (ids, compared case-insensitively).
    Listed(Vec<String>),
}

/// Builds an [`AccessTokenValidator`]; made by [`AccessTokenValidator::builder`].
#[derive(Clone)]
pub struct AccessTokenValidatorBuilder {
    state: Arc<AppState>,
    audiences: Vec<String>,
    issuers: Vec<String>,
    tenants: Tenants,
    scopes: Vec<String>,
    roles: Vec<String>,
    skew: Duration,
}

impl fmt::Debug for AccessTokenValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenValidator")
            .field("client_id", &self.state.client_id)
            .field("authority", &self.state.authority.as_str())
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .field("tenants", &self.tenants)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("skew", &self.skew)
            .finish()
    }
}

impl AccessTokenValidatorBuilder {
    /// Accepts tokens whose `aud` is this value too (an App ID URI such as
    /// `api://orders` or `https://contoso.com/orders`). The client id and
    /// `api://{client id}` are always accepted.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens of these tenants (a multi-tenant API open to listed customers).
    /// Tenant ids, as in the tokens' `tid`.
    pub fn tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants = Tenants::Listed(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts tokens of any tenant (a multi-tenant API open to every organization).
    pub fn any_tenant(mut self) -> Self {
        self.tenants = Tenants::Any;
        self
    }

    /// Accepts tokens with this exact `iss` too (an issuer the authority's metadata does
    /// not state, such as a custom domain).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// The delegated permissions (`scp`) this API accepts; a token must carry one of them or
    /// one of the accepted [roles](Self::accept_roles). Nothing declared: no such check.
    pub fn accept_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The app roles (`roles`) this API accepts (app-only callers, or users assigned roles).
    pub fn accept_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Everything an msal.toml `accepts` table declares (scopes, roles, audiences,
    /// tenants), for apps loaded at run time (`config::load`).
    pub fn accepts(mut self, accepts: &msal_config::Accepts) -> Self {
        self = self
            .accept_scopes(accepts.scopes.iter().cloned())
            .accept_roles(accepts.roles.iter().cloned());
        for a in &accepts.audiences {
            self = self.audience(a.clone());
        }
        match &accepts.tenants {
            msal_config::AcceptedTenants::Authority => self,
            msal_config::AcceptedTenants::Any => self.any_tenant(),
            msal_config::AcceptedTenants::Listed(t) => self.tenants(t.iter().cloned()),
        }
    }

    /// The clock skew tolerated on `exp`, `nbf` and `iat` (five minutes by default).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The validator; a blank audience, issuer, tenant, scope or role is a
    /// [`Error::Config`].
    pub fn build(self) -> Result<AccessTokenValidator> {
        for (name, values) in [
            ("audience", &self.audiences),
            ("issuer", &self.issuers),
            ("accept_scopes", &self.scopes),
            ("accept_roles", &self.roles),
        ] {
            if values
                .iter()
                .any(|v| v.trim().is_empty() || v.contains(' '))
            {
                return Err(Error::config(name, "a value is blank or has a space"));
            }
        }
        if let Tenants::Listed(t) = &self.tenants {
            if t.is_empty() || t.iter().any(|t| t.trim().is_empty() || t.contains('/')) {
                return Err(Error::config(
                    "tenants",
                    "list at least one tenant id, none blank",
                ));
            }
        }
        Ok(AccessTokenValidator {
            inner: Arc::new(self),
        })
    }
}

/// Validates the access tokens a web API receives; cheap to clone (one shared key cache).
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct AccessTokenValidator {
    inner: Arc<AccessTokenValidatorBuilder>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// `https://host/{tenant}/v2.0` with its tenant segment replaced by `{tenantid}`.
fn tenant_template(issuer: &str) -> String {
    if issuer.contains("{tenantid}") {
        return issuer.to_string();
    }
    let Some((scheme, rest)) = issuer.split_once("://") else {
        return issuer.to_string();
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    if parts.len() >= 2 && !parts[1].is_empty() {
        parts[1] = "{tenantid}";
    }
    format!("{scheme}://{}", parts.join("/"))
}

/// The issuers a v2 issuer template implies: itself, and the v1 forms of an Entra
/// authority (`https://sts.windows.net/{tenantid}/` in the public cloud, the same host's
/// `/{tenantid}/` elsewhere).
fn issuer_forms(template: &str) -> Vec<String> {
    let mut out = vec![template.to_string()];
    if let Some(base) = template.strip_suffix("/v2.0") {
        out.push(format!("{base}/"));
        if let Some((_, rest)) = base.split_once("://") {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let sts = match host.to_ascii_lowercase().as_str() {
                "login.microsoftonline.com" | "login.windows.net" | "login.microsoft.com" => {
                    Some("sts.windows.net")
                }
                "login.chinacloudapi.cn" | "login.partner.microsoftonline.cn" => {
                    Some("sts.chinacloudapi.cn")
                }
                _ => None,
            };
            if let Some(sts) = sts {
                out.push(format!("https://{sts}/{path}/"));
            }
        }
    }
    out
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl AccessTokenValidator {
    /// Starts a validator for the API registered as `app` (its client id, authority, HTTP
    /// client and signing-key cache).
    pub fn builder(app: &ConfidentialClientApplication) -> AccessTokenValidatorBuilder {
        let state = app.state().clone();
        let client_id = state.client_id.clone();
        AccessTokenValidatorBuilder {
            audiences: vec![client_id.clone(), format!("api://{client_id}")],
            state,
            issuers: Vec::new(),
            tenants: Tenants::Authority,
            scopes: Vec::new(),
            roles: Vec::new(),
            skew: Duration::from_secs(SKEW_SECS),
        }
    }

    /// The client id of the API whose tokens this validator accepts.
    pub fn client_id(&self) -> &str {
        &self.inner.state.client_id
    }

    /// The scopes this API accepts (empty: not checked).
    pub fn accepted_scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The app roles this API accepts (empty: not checked).
    pub fn accepted_roles(&self) -> &[String] {
        &self.inner.roles
    }

    /// Validates the value of an `Authorization` header (`Bearer <token>`); `None` or
    /// another scheme is a [`RejectionKind::MissingToken`].
    pub async fn validate_header(
        &self,
        authorization: Option<&str>,
    ) -> std::result::Result<ValidatedCaller, Rejection> {
        match authorization.and_then(bearer_token) {
            Some(token) => self.validate(token).await,
            None => Err(Rejection::missing()),
        }
    }

    /// Validates a bearer token (the part after `Bearer `).
    pub async fn validate(&self, token: &str) -> std::result::Result<ValidatedCaller, Rejection> {
        let me = &*self.inner;
        let invalid = |e: Error| Rejection::invalid(validation_detail(&e));
        let (header, claims) =
            id_token::decode_as(token.trim(), TokenKind::Access).map_err(invalid)?;
        let meta = me
            .state
            .metadata()
            .await
            .map_err(|e| Rejection::unavailable(&e))?;
        let kid = header.get("kid").and_then(Value::as_str);
        let keys = me
            .state
            .jwks(&meta, kid)
            .await
            .map_err(|e| Rejection::unavailable(&e))?;
        keys.verify_as(token.trim(), &header, TokenKind::Access)
            .map_err(invalid)?;
        id_token::check_lifetime(&claims, now(), me.skew.as_secs(), TokenKind::Access)
            .map_err(invalid)?;
        self.check_issuer(&meta.issuer, &claims)?;
        self.check_audience(&claims)?;
        let caller = ValidatedCaller::new(token.trim(), claims, me.state.client_id.clone());
        let declared = !(me.scopes.is_empty() && me.roles.is_empty());
        let carried = me.scopes.iter().any(|s| caller.has_scope(s))
            || me.roles.iter().any(|r| caller.has_role(r));
        if declared && !carried {
            return Err(Rejection::insufficient(&me.scopes, &me.roles));
        }
        Ok(caller)
    }

    fn check_issuer(
        &self,
        discovered: &str,
        claims: &Map<String, Value>,
    ) -> std::result::Result<(), Rejection> {
        let me = &*self.inner;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if me.issuers.iter().any(|i| same_issuer(i, iss)) {
            return Ok(());
        }
        let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
        let template = match &me.tenants {
            Tenants::Authority => discovered.to_string(),
            Tenants::Any => tenant_template(discovered),
            Tenants::Listed(list) => {
                if tid.is_empty() || !list.iter().any(|t| t.eq_ignore_ascii_case(tid)) {
                    return Err(Rejection::invalid(
                        "the access token is from a tenant this API does not accept".into(),
                    ));
                }
                tenant_template(discovered)
            }
        };
        // A `{tenantid}` issuer stands for the token's own tenant, which must be a real one.
        if template.contains("{tenantid}") && (tid.is_empty() || tid.contains('/')) {
            return Err(Rejection::invalid(
                "the access token has no usable `tid`".into(),
            ));
        }
        let ok = issuer_forms(&template)
            .iter()
            .any(|form| same_issuer(&form.replace("{tenantid}", tid), iss));
        if ok {
            Ok(())
        } else {
            Err(Rejection::invalid(
                "the access token is from another issuer".into(),
            ))
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> std::result::Result<(), Rejection> {
        let accepted = |a: &str| {
            self.inner
                .audiences
                .iter()
                .any(|x| x.eq_ignore_ascii_case(a))
        };
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => accepted(a),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(accepted),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Rejection::invalid(
                "the access token was issued for another audience".into(),
            ))
        }
    }
}

/// The token of a `Bearer` credential (scheme case-insensitive), if that is what it is.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

fn validation_detail(e: &Error) -> String {
    match e {
        Error::Validation(d) => d.clone(),
        other => other.to_string(),
    }
}

/// The caller of a web API, whose access token passed every check of an
/// [`AccessTokenValidator`]. `Debug` shows who it is, never the token.
#[derive(Clone)]
pub struct ValidatedCaller {
    assertion: Assertion,
    claims: Map<String, Value>,
    scopes: Vec<String>,
    roles: Vec<String>,
    api_client_id: String,
}

impl fmt::Debug for ValidatedCaller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedCaller")
            .field("object_id", &self.object_id())
            .field("tenant_id", &self.tenant_id())
            .field("client_app_id", &self.client_app_id())
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl ValidatedCaller {
    fn new(token: &str, claims: Map<String, Value>, api_client_id: String) -> Self {
        let scopes = claims
            .get("scp")
            .and_then(Value::as_str)
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let roles = claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        ValidatedCaller {
            assertion: Assertion::new(token),
            claims,
            scopes,
            roles,
            api_client_id,
        }
    }

    /// The incoming access token itself, for
    /// [`acquire_token_on_behalf_of`](ConfidentialClientApplication::acquire_token_on_behalf_of)
    /// (which also takes `&ValidatedCaller` directly). Redacted in `Debug`.
    pub fn assertion(&self) -> &Assertion {
        &self.assertion
    }

    /// All claims of the token.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `oid`: the user's (or the calling app's service principal's) object id.
    pub fn object_id(&self) -> Option<&str> {
        self.claim("oid")
    }

    /// `tid`: the caller's tenant.
    pub fn tenant_id(&self) -> Option<&str> {
        self.claim("tid")
    }

    /// `sub`: the subject, pairwise per API.
    pub fn subject(&self) -> Option<&str> {
        self.claim("sub")
    }

    /// The client id of the app that asked for the token (`azp` in v2 tokens, `appid` in v1).
    pub fn client_app_id(&self) -> Option<&str> {
        self.claim("azp").or_else(|| self.claim("appid"))
    }

    /// The client id of the API the token was validated for.
    pub fn api_client_id(&self) -> &str {
        &self.api_client_id
    }

    /// The delegated permissions (`scp`); empty for an app-only token.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The app roles (`roles`).
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether `scp` has this permission.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `roles` has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether this is an app-only token (no user: `idtyp` = `app`, or no `scp`).
    pub fn is_app_only(&self) -> bool {
        self.claim("idtyp") == Some("app") || !self.claims.contains_key("scp")
    }

    /// `Ok` when the token has the scope, else a 403 `insufficient_scope` naming it.
    pub fn require_scope(&self, scope: &str) -> std::result::Result<(), Rejection> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Rejection::insufficient(&[scope.to_string()], &[]))
        }
    }

    /// `Ok` when the token has the app role, else a 403 `insufficient_scope` naming it.
    pub fn require_role(&self, role: &str) -> std::result::Result<(), Rejection> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(Rejection::insufficient(&[], &[role.to_string()]))
        }
    }
}

impl UserAssertion for ValidatedCaller {
    fn user_assertion(&self) -> &str {
        self.assertion.secret()
    }
}

/// Why a request was refused, as RFC 6750 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No bearer token (401, a challenge without an error code).
    MissingToken,
    /// A token that fails a check (401 `invalid_token`).
    InvalidToken,
    /// A good token without a permission the API needs (403 `insufficient_scope`).
    InsufficientScope,
    /// The authority's metadata or keys cannot be had, so no token can be checked (503).
    Unavailable,
}

/// A refused request: what to answer (status and `WWW-Authenticate`), and why.
/// Its text never holds the token.
///
/// ```
/// use msal_runtime::web_api::{Rejection, RejectionKind};
/// let r = Rejection::insufficient(&["Orders.Read".to_string()], &[]);
/// assert_eq!(r.kind(), RejectionKind::InsufficientScope);
/// assert_eq!(r.status(), 403);
/// assert!(r.www_authenticate().contains(r#"error="insufficient_scope""#));
/// assert!(r.www_authenticate().contains(r#"scope="Orders.Read""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    description: String,
    scopes: Vec<String>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl std::error::Error for Rejection {}

/// A quoted-string value: no quotes, backslashes or control characters (RFC 6750 3).
fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// The answer to send: the status, `WWW-Authenticate`, and a JSON body with `error` and
/// `error_description` (feature `axum`).
#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, StatusCode};
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error": self.error_code(),
            "error_description": self.description,
        });
        (
            status,
            [
                (header::WWW_AUTHENTICATE, self.www_authenticate()),
                (header::CONTENT_TYPE, "application/json".to_string()),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

impl Rejection {
    /// The RFC 6750 error code (`invalid_token`, `insufficient_scope`), or what stands in
    /// for one (`missing_token`, `temporarily_unavailable`).
    pub fn error_code(&self) -> &'static str {
        match self.kind {
            RejectionKind::MissingToken => "missing_token",
            RejectionKind::InvalidToken => "invalid_token",
            RejectionKind::InsufficientScope => "insufficient_scope",
            RejectionKind::Unavailable => "temporarily_unavailable",
        }
    }

    /// No bearer token in the request.
    pub fn missing() -> Self {
        Rejection {
            kind: RejectionKind::MissingToken,
            description: "a bearer token is required".into(),
            scopes: Vec::new(),
        }
    }

    /// A token that fails a check; `description` says which (never the token).
    pub fn invalid(description: String) -> Self {
        Rejection {
            kind: RejectionKind::InvalidToken,
            description,
            scopes: Vec::new(),
        }
    }

    /// A token without the scopes or roles needed: one of these would do.
    pub fn insufficient(scopes: &[String], roles: &[String]) -> Self {
        let mut wanted: Vec<String> = scopes.iter().map(|s| format!("scope {s}")).collect();
        wanted.extend(roles.iter().map(|r| format!("role {r}")));
        Rejection {
            kind: RejectionKind::InsufficientScope,
            description: format!(
                "the access token lacks a permission: {}",
                wanted.join(" or ")
            ),
            scopes: scopes.to_vec(),
        }
    }

    fn unavailable(e: &Error) -> Self {
        tracing::warn!(error = %e, "cannot get the authority's metadata or signing keys");
        Rejection {
            kind: RejectionKind::Unavailable,
            description: "the authority's signing keys are unavailable".into(),
            scopes: Vec::new(),
        }
    }

    /// Which refusal this is.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// Why, in words (never the token).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The HTTP status to answer with: 401, 403, or 503.
    pub fn status(&self) -> u16 {
        match self.kind {
            RejectionKind::MissingToken | RejectionKind::InvalidToken => 401,
            RejectionKind::InsufficientScope => 403,
            RejectionKind::Unavailable => 503,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 section 3): `Bearer` alone for a missing
    /// token, else with `error`, `error_description` and, for `insufficient_scope`, `scope`.
    pub fn www_authenticate(&self) -> String {
        let error = match self.kind {
            RejectionKind::MissingToken => return "Bearer".into(),
            RejectionKind::InvalidToken => "invalid_token",
            RejectionKind::InsufficientScope => "insufficient_scope",
            // Not the token's fault: no error code blames it.
            RejectionKind::Unavailable => return "Bearer".into(),
        };
        let mut c = format!(
            "Bearer error=\"{error}\", error_description=\"{}\"",
            quoted(&self.description)
        );
        if !self.scopes.is_empty() {
            c.push_str(&format!(", scope=\"{}\"", quoted(&self.scopes.join(" "))));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_forms_cover_v1_and_v2() {
        let t = tenant_template("https://login.microsoftonline.com/t1/v2.0");
        assert_eq!(t, "https://login.microsoftonline.com/{tenantid}/v2.0");
        let forms = issuer_forms(&t);
        assert!(forms.contains(&"https://sts.windows.net/{tenantid}/".to_string()));
        assert!(forms.contains(&"https://login.microsoftonline.com/{tenantid}/".to_string()));
        let china = issuer_forms("https://login.chinacloudapi.cn/t/v2.0");
        assert!(china.contains(&"https://sts.chinacloudapi.cn/t/".to_string()));
        // Not Entra-shaped: only itself.
        assert_eq!(issuer_forms("https://idp.example/realms/x").len(), 1);
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }

    #[test]
    fn challenges_are_rfc6750_and_quoted() {
        assert_eq!(Rejection::missing().www_authenticate(), "Bearer");
        let r = Rejection::invalid("bad \"quote\"\n".into());
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.www_authenticate(),
            "Bearer error=\"invalid_token\", error_description=\"bad 'quote''\""
        );
        let r = Rejection::insufficient(&["A.Read".into(), "A.Write".into()], &["Admin".into()]);
        assert_eq!(r.status(), 403);
        assert!(r.www_authenticate().ends_with("scope=\"A.Read A.Write\""));
        assert!(r.description().contains("role Admin"));
    }

    #[test]
    fn caller_debug_hides_the_token() {
        let mut claims = Map::new();
        claims.insert("oid".into(), "o1".into());
        claims.insert("scp".into(), "A B".into());
        let c = ValidatedCaller::new("secret.jwt.value", claims, "api".into());
        let d = format!("{c:?}");
        assert!(!d.contains("secret.jwt.value"), "{d}");
        assert!(d.contains("o1"));
        assert_eq!(c.scopes(), ["A", "B"]);
        assert_eq!(c.user_assertion(), "secret.jwt.value");
        assert!(c.require_scope("A").is_ok());
        assert_eq!(c.require_role("X").unwrap_err().status(), 403);
    }
}
