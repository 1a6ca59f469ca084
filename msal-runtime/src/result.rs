//! What a successful acquisition returns.

use crate::scope::Scopes;
use crate::secret::{AccessToken, RefreshToken};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// Served from the token cache without a request.
    Cache,
    /// Issued by the identity provider for this call.
    IdentityProvider,
    /// Issued by a broker (not used by confidential clients; kept for parity with MSAL).
    Broker,
}

impl TokenSource {
    /// MSAL's string for it: `cache`, `identity_provider`, `broker`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenSource::Cache => "cache",
            TokenSource::IdentityProvider => "identity_provider",
            TokenSource::Broker => "broker",
        }
    }
}

/// A signed-in user known to the cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// `{uid}.{utid}`: the user's id across tenants.
    pub home_account_id: String,
    /// The authority host.
    pub environment: String,
    /// `preferred_username` (or `upn`).
    pub username: String,
    /// The object id in the account's tenant.
    pub local_account_id: String,
    /// The tenant of this profile.
    pub realm: String,
    /// `MSSTS` or `ADFS`.
    pub authority_type: String,
    /// The grant that created the account entry, when known.
    pub account_source: Option<String>,
}

/// A token and what is known about it.
///
/// A token served from the cache shares its storage with the cache entry: the access
/// token, the scopes and the tenant are reference-counted, so a cache hit allocates
/// nothing.
///
/// `Debug` never shows the access token or the raw ID token, and lists only the names
/// of the ID token's claims (their values are personal data).
///
/// ```
/// # fn show(result: &msal_runtime::AuthenticationResult) {
/// tracing::info!(?result, "token acquired");   // safe to log
/// # }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthenticationResult {
    /// The access token.
    pub access_token: AccessToken,
    /// Usually `Bearer`.
    pub token_type: Cow<'static, str>,
    /// Expiry, epoch seconds.
    pub expires_on: u64,
    /// Entra's extended expiry, epoch seconds, when known.
    pub ext_expires_on: Option<u64>,
    /// When the library will refresh it proactively, epoch seconds, when the server said.
    pub refresh_on: Option<u64>,
    /// The scopes the token carries (a slice of strings through `Deref`); empty when
    /// the server named none.
    pub scopes: Scopes,
    /// The claims of the ID token (user flows only).
    pub id_token_claims: Option<Map<String, Value>>,
    /// The raw ID token (user flows only).
    pub id_token: Option<String>,
    /// The signed-in user (user flows only).
    pub account: Option<Account>,
    /// Whether it came from the cache or the identity provider.
    pub token_source: TokenSource,
    /// The correlation id of the request that issued it (None when served from cache).
    pub correlation_id: Option<String>,
    /// The tenant that issued the token.
    pub tenant_id: Option<Arc<str>>,
    /// The token endpoint's answer, every field as it came (`refresh_token`, `scope`,
    /// `client_info`, `foci`, ...): what MSAL Python returns as the result dictionary.
    /// `None` when the token was served from the cache (MSAL Python's cache hits carry
    /// no raw fields either).
    pub raw_response: Option<RawResponse>,
}

/// The fields of a token response, for code ported from MSAL Python that reads
/// `result["refresh_token"]`, `result["scope"]` or `result["client_info"]`.
///
/// `Debug` lists the field names only: several values are secrets.
///
/// ```
/// # fn show(result: &msal_runtime::AuthenticationResult) {
/// if let Some(raw) = &result.raw_response {
///     println!("granted: {:?}", raw.scope());
///     if let Some(rt) = raw.refresh_token() {
///         // hand it to code that still manages refresh tokens itself
///         let _ = rt.secret();
///     }
///     println!("{raw:?}"); // RawResponse { fields: ["access_token", "expires_in", ...] }
/// }
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RawResponse(Arc<Map<String, Value>>);

impl RawResponse {
    pub(crate) fn new(fields: Map<String, Value>) -> Self {
        RawResponse(Arc::new(fields))
    }

    /// A field as JSON, e.g. `get("ext_expires_in")`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string field.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// The field names, in the order the server sent them.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// `refresh_token`, wrapped so it is not printed by accident.
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.get_str("refresh_token").map(RefreshToken::new)
    }

    /// `scope`: the granted scopes, space-separated, as the server wrote them.
    pub fn scope(&self) -> Option<&str> {
        self.get_str("scope")
    }

    /// `client_info`: base64url JSON with the user's `uid` and `utid`.
    pub fn client_info(&self) -> Option<&str> {
        self.get_str("client_info")
    }

    /// The whole response as a JSON object, secrets included (MSAL Python's dictionary).
    pub fn to_json(&self) -> Value {
        Value::Object((*self.0).clone())
    }
}

impl fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawResponse")
            .field("fields", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `Bearer` without an allocation; another token type as given.
pub(crate) fn token_type_of(t: Option<&str>) -> Cow<'static, str> {
    match t {
        None | Some("Bearer") => Cow::Borrowed("Bearer"),
        Some(other) => Cow::Owned(other.to_string()),
    }
}

impl AuthenticationResult {
    /// The refresh token the server issued with this token (user flows), as MSAL
    /// Python's `result["refresh_token"]`; `None` from the cache or for app tokens.
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.raw_response.as_ref()?.refresh_token()
    }

    /// Seconds until expiry, counted from now.
    pub fn expires_in(&self) -> u64 {
        self.expires_on
            .saturating_sub(crate::cache::store::CacheData::now())
    }
}

impl fmt::Debug for AuthenticationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticationResult")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("expires_on", &self.expires_on)
            .field("ext_expires_on", &self.ext_expires_on)
            .field("refresh_on", &self.refresh_on)
            .field("scopes", &self.scopes)
            .field(
                "id_token_claims",
                &self
                    .id_token_claims
                    .as_ref()
                    .map(|c| c.keys().collect::<Vec<_>>()),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("account", &self.account)
            .field("token_source", &self.token_source)
            .field("correlation_id", &self.correlation_id)
            .field("tenant_id", &self.tenant_id)
            .field("raw_response", &self.raw_response)
            .finish()
    }
}
