//! Calling downstream APIs with the right bearer token: what the
//! [tower layer](BearerLayer) (feature `tower`) and the
//! [reqwest-middleware middleware](BearerMiddleware) (feature `reqwest-middleware`) share.
//!
//! A [`DownstreamApi`] knows which token a downstream API takes: app-only (client
//! credentials), on behalf of the caller of your web API (the caller's token travels with
//! each request as a [`UserAssertion`] extension), or a managed identity's. Both
//! integrations attach `Authorization: Bearer <token>` and, when the API answers 401 with a
//! claims challenge (`WWW-Authenticate: Bearer error="insufficient_claims",
//! claims="..."`), acquire a new token that answers it and send the request once more.
//!
//! ```
//! use msal_runtime::downstream::{claims_challenge, DownstreamApi};
//! use msal_runtime::{ClientCredential, ConfidentialClientApplication};
//!
//! # fn run() -> msal_runtime::Result<()> {
//! let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
//!     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
//!     .client_credential(ClientCredential::secret("from a vault"))
//!     .build()?;
//! let graph = DownstreamApi::app_only(app, &["https://graph.microsoft.com/.default"])?;
//! # let _ = graph;
//! // What the middleware reads from a 401:
//! let header = r#"Bearer realm="", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19""#;
//! assert_eq!(
//!     claims_challenge(header).as_deref(),
//!     Some(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#)
//! );
//! # Ok(()) }
//! ```

#[cfg(feature = "reqwest-middleware")]
mod reqwest_mw;
#[cfg(feature = "tower")]
mod tower_layer;

#[cfg(feature = "reqwest-middleware")]
pub use reqwest_mw::BearerMiddleware;
#[cfg(feature = "tower")]
pub use tower_layer::{Bearer, BearerLayer};

use crate::error::{Error, Result};
use crate::grant::ForClientOptions;
use crate::managed_identity::{ManagedIdentityClient, ManagedIdentityTokenOptions};
use crate::result::AuthenticationResult;
use crate::scope::{IntoScopes, Scopes};
use crate::ConfidentialClientApplication;
use base64::Engine;
use std::fmt;
use std::sync::Arc;

/// The token your web API received from its caller, for on-behalf-of calls: put it in the
/// request's extensions (`http::Request::extensions_mut().insert(..)`, or
/// `reqwest_middleware::RequestBuilder::with_extension(..)`).
///
/// A plain string newtype: convert whatever validated the incoming token into it.
/// `Debug` never shows the token.
///
/// ```
/// let caller = msal_runtime::downstream::UserAssertion::new("eyJ0eXAi...");
/// assert_eq!(format!("{caller:?}"), "UserAssertion([redacted])");
/// ```
#[derive(Clone)]
pub struct UserAssertion(Arc<str>);

impl UserAssertion {
    /// Wraps the caller's access token (without the `Bearer ` prefix).
    pub fn new(token: impl Into<String>) -> Self {
        UserAssertion(Arc::from(token.into()))
    }

    /// The token.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

/// The token a web API validated (`web_api::ValidatedCaller`), for calls made on its
/// caller's behalf: `.with_extension(UserAssertion::from(&caller))`.
impl From<&crate::web_api::ValidatedCaller> for UserAssertion {
    fn from(caller: &crate::web_api::ValidatedCaller) -> Self {
        UserAssertion::new(caller.assertion().secret())
    }
}

impl fmt::Debug for UserAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserAssertion([redacted])")
    }
}

#[derive(Clone)]
enum Source {
    AppOnly(ConfidentialClientApplication),
    OnBehalfOf(ConfidentialClientApplication),
    ManagedIdentity(ManagedIdentityClient, Arc<str>),
}

/// Which token a downstream API takes, and how to get it. Cheap to clone.
#[derive(Clone)]
pub struct DownstreamApi {
    source: Source,
    scopes: Scopes,
}

impl fmt::Debug for DownstreamApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.source {
            Source::AppOnly(_) => "app_only",
            Source::OnBehalfOf(_) => "on_behalf_of",
            Source::ManagedIdentity(..) => "managed_identity",
        };
        f.debug_struct("DownstreamApi")
            .field("kind", &kind)
            .field("scopes", &self.scopes.as_slice())
            .finish()
    }
}

impl DownstreamApi {
    /// App-only tokens (client credentials) for `scopes` (`{resource}/.default`).
    pub fn app_only(app: ConfidentialClientApplication, scopes: impl IntoScopes) -> Result<Self> {
        Ok(DownstreamApi {
            source: Source::AppOnly(app),
            scopes: scopes.into_scopes()?,
        })
    }

    /// Tokens on behalf of the caller whose token each request carries as a
    /// [`UserAssertion`] extension.
    pub fn on_behalf_of(
        app: ConfidentialClientApplication,
        scopes: impl IntoScopes,
    ) -> Result<Self> {
        Ok(DownstreamApi {
            source: Source::OnBehalfOf(app),
            scopes: scopes.into_scopes()?,
        })
    }

    /// A managed identity's tokens for `resource` (e.g. `https://vault.azure.net`).
    pub fn managed_identity(client: ManagedIdentityClient, resource: &str) -> Result<Self> {
        Ok(DownstreamApi {
            scopes: [resource].into_scopes()?,
            source: Source::ManagedIdentity(client, Arc::from(resource)),
        })
    }

    /// The scopes requested.
    pub fn scopes(&self) -> &[String] {
        self.scopes.as_slice()
    }

    /// Whether requests must carry a [`UserAssertion`].
    pub fn needs_user_assertion(&self) -> bool {
        matches!(self.source, Source::OnBehalfOf(_))
    }

    /// A token for one request: from the cache unless `claims` (a claims challenge, JSON)
    /// asks for a new one.
    pub async fn acquire(
        &self,
        user: Option<&UserAssertion>,
        claims: Option<&str>,
    ) -> Result<AuthenticationResult> {
        match &self.source {
            Source::AppOnly(app) => {
                let mut options = ForClientOptions::default();
                if let Some(c) = claims {
                    options = options.claims_challenge(c);
                }
                app.acquire_token_for_client_with(&self.scopes, options)
                    .await
            }
            Source::OnBehalfOf(app) => {
                let user = user.ok_or_else(|| {
                    Error::InvalidInput(
                        "an on-behalf-of call needs the caller's token: insert a \
                         msal::downstream::UserAssertion into the request's extensions"
                            .into(),
                    )
                })?;
                match claims {
                    Some(c) => {
                        app.acquire_token_on_behalf_of_with_claims(user.secret(), &self.scopes, c)
                            .await
                    }
                    None => {
                        app.acquire_token_on_behalf_of(user.secret(), &self.scopes)
                            .await
                    }
                }
            }
            Source::ManagedIdentity(client, resource) => {
                let mut options = ManagedIdentityTokenOptions::default();
                if let Some(c) = claims {
                    options = options.claims_challenge(c);
                }
                client
                    .acquire_token_for_client_with(resource, options)
                    .await
            }
        }
    }

    /// The `Authorization` header value for one request.
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    pub(crate) async fn authorization(
        &self,
        user: Option<&UserAssertion>,
        claims: Option<&str>,
    ) -> Result<http::HeaderValue> {
        let token = self.acquire(user, claims).await?;
        let mut value =
            http::HeaderValue::try_from(format!("Bearer {}", token.access_token.secret()))
                .map_err(|_| {
                    Error::invalid_response(
                        "token endpoint",
                        "the access token is not a valid header value",
                    )
                })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The claims challenge of a `WWW-Authenticate` header, as JSON: the `claims` parameter of
/// a `Bearer` challenge whose `error` is `insufficient_claims`. Entra sends it base64
/// encoded; a value that is JSON already is taken as is. `None` when the header holds no
/// such challenge or the claims are neither.
pub fn claims_challenge(www_authenticate: &str) -> Option<String> {
    let params = bearer_params(www_authenticate)?;
    let error = params.iter().find(|(k, _)| k.eq_ignore_ascii_case("error"));
    if error.is_none_or(|(_, v)| v != "insufficient_claims") {
        return None;
    }
    let raw = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("claims"))
        .map(|(_, v)| v.trim())?;
    let is_object =
        |s: &str| serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_object());
    if is_object(raw) {
        return Some(raw.to_string());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .filter_map(|e| e.decode(raw).ok())
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .find(|s| is_object(s))
}

/// The auth-params of the first `Bearer` challenge (RFC 9110 section 11.6.1): `name=token`
/// or `name="quoted \" string"`, comma separated.
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let mut rest = header.trim_start();
    // Find "Bearer" as a scheme (at the start or after a comma).
    loop {
        let (scheme, after) = match rest.find(|c: char| c.is_whitespace() || c == ',') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            rest = after;
            break;
        }
        let next = rest.find(',')?;
        rest = rest[next + 1..].trim_start();
    }
    let mut params = Vec::new();
    let mut s = rest.trim_start();
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let Some(eq) = s.find('=') else { break };
        let name = s[..eq].trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            // The next challenge's scheme: this one's parameters are done.
            break;
        }
        s = s[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = s.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end?;
            value = out;
            s = &quoted[end..];
        } else {
            let end = s.find(',').unwrap_or(s.len());
            value = s[..end].trim().to_string();
            s = &s[end..];
        }
        params.push((name.to_string(), value));
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn entra_challenge_base64() {
        let h = format!(
            r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="{}""#,
            b64(JSON)
        );
        assert_eq!(claims_challenge(&h).as_deref(), Some(JSON));
    }

    #[test]
    fn raw_json_quoted_with_escapes() {
        let h = format!(
            r#"Bearer error="insufficient_claims", claims="{}""#,
            JSON.replace('"', "\\\"")
        );
        assert_eq!(claims_challenge(&h).as_deref(), Some(JSON));
    }

    #[test]
    fn other_errors_and_schemes_are_not_challenges() {
        let claims = b64(JSON);
        assert_eq!(
            claims_challenge(&format!(
                r#"Bearer error="invalid_token", claims="{claims}""#
            )),
            None
        );
        assert_eq!(
            claims_challenge(&format!(
                r#"Basic error="insufficient_claims", claims="{claims}""#
            )),
            None
        );
        assert_eq!(
            claims_challenge(r#"Bearer error="insufficient_claims""#),
            None
        );
        assert_eq!(
            claims_challenge(r#"Bearer error="insufficient_claims", claims="bm90IGpzb24=""#),
            None,
            "base64 of something that is not a JSON object"
        );
        assert_eq!(
            claims_challenge(r#"Bearer error="insufficient_claims", claims="unterminated"#),
            None
        );
        assert_eq!(claims_challenge(""), None);
    }

    #[test]
    fn bearer_after_another_challenge() {
        let h = format!(
            r#"Basic realm="x", Bearer error=insufficient_claims, claims="{}""#,
            b64(JSON)
        );
        assert_eq!(claims_challenge(&h).as_deref(), Some(JSON));
    }
}
