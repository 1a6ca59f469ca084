//! One error type for the whole library.
//!
//! A refusal by the identity provider keeps everything the server said
//! ([`ServerError`]), so code written against MSAL Python's
//! `if result.get("error") == "invalid_client"` maps to a `match` on
//! [`Error::Server`] and [`ServerError::error`].

pub(crate) mod managed_identity;

use std::fmt;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while acquiring a token.
///
/// No variant ever carries a secret, a token or an assertion in its text.
///
/// ```
/// use msal_runtime::Error;
///
/// fn explain(err: &Error) -> &'static str {
///     match err {
///         Error::Server(e) if e.error == "invalid_client" => "check the credential",
///         Error::Server(_) => "the identity provider refused",
///         Error::Http { .. } => "network trouble, try again",
///         _ => "see the message",
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder option or argument has a value this library cannot use.
    #[error("invalid configuration for `{field}`: {reason}")]
    InvalidConfig {
        /// The option or argument at fault, e.g. `authority` or `azure_region`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An `msal.toml` file is unreadable, breaks a rule, or does not match the program
    /// compiled from it. The message holds every diagnostic, rendered as
    /// `PATH:LINE:COL: error: ...`.
    #[error("{0}")]
    ConfigFile(String),
    /// The authority URL is malformed or of a shape this library does not understand
    /// (the same verdict `msal check` and `#[msal_app]` give).
    #[error("invalid authority `{authority}`: {source}")]
    InvalidAuthority {
        /// The authority as given (never contains secrets).
        authority: String,
        /// What is wrong with it.
        source: msal_config::authority::AuthorityError,
    },
    /// Instance discovery does not know the authority's host (Entra's `invalid_instance`).
    #[error(
        "the authority `{authority}` is not known to instance discovery ({detail}); \
         set `validate_authority(false)` or `instance_discovery(false)` if you trust it"
    )]
    AuthorityValidation {
        /// The authority that failed validation.
        authority: String,
        /// What the discovery endpoint said.
        detail: String,
    },
    /// Tenant discovery (the OpenID configuration document) failed.
    #[error("unable to get authority configuration from `{url}`: {detail}")]
    Discovery {
        /// The discovery URL that was fetched.
        url: String,
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// What went wrong.
        detail: String,
    },
    /// A credential could not be loaded or used (bad PEM, wrong passphrase, missing thumbprint).
    #[error("client credential error: {0}")]
    Credential(String),
    /// A caller-supplied argument is not acceptable (e.g. reserved scopes).
    #[error("invalid argument: {0}")]
    InvalidInput(String),
    /// The identity provider refused the request with an OAuth error.
    #[error("{0}")]
    Server(Box<ServerError>),
    /// The request did not complete: timeout, connection refused or reset, TLS failure,
    /// or an HTTP error status without an OAuth error body.
    #[error("HTTP request to `{url}` failed: {detail}")]
    Http {
        /// The URL (without query string) that was requested.
        url: String,
        /// HTTP status, when a response arrived.
        status: Option<u16>,
        /// Classification of the failure.
        kind: HttpErrorKind,
        /// A human readable description.
        detail: String,
    },
    /// The server answered, but not in a form this library can use
    /// (not JSON, no `access_token`, a bad `expires_in`, a body over the size limit).
    #[error("invalid response from `{url}`: {reason}")]
    InvalidResponse {
        /// The URL (without query string) that answered.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The token cache could not be read or written.
    #[error("token cache error: {0}")]
    Cache(String),
    /// The authorization-code flow or ID token failed a security check
    /// (state or nonce mismatch, signature, issuer, audience, expiry).
    #[error("security check failed: {0}")]
    Validation(String),
    /// A managed identity source refused, failed or was misconfigured; keeps the source,
    /// the HTTP status and the (bounded) body.
    #[error("{0}")]
    ManagedIdentity(Box<managed_identity::ManagedIdentityError>),
}

/// How an HTTP exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// No answer within the configured timeout.
    Timeout,
    /// Could not connect (refused, DNS, TLS handshake).
    Connect,
    /// The connection broke while sending or receiving.
    Transport,
    /// An error status without an OAuth error body (e.g. a proxy's 502 page).
    Status,
}

impl Error {
    /// The server's OAuth error, when the identity provider refused the request.
    pub fn server(&self) -> Option<&ServerError> {
        match self {
            Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The correlation id of the failed request, when known.
    pub fn correlation_id(&self) -> Option<&str> {
        self.server().and_then(|e| e.correlation_id.as_deref())
    }

    /// Whether trying again later may succeed (timeouts, resets, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { kind, status, .. } => {
                !matches!(kind, HttpErrorKind::Status)
                    || status.is_some_and(|s| s == 429 || s >= 500)
            }
            Error::Server(e) => {
                e.status == 429 || e.status >= 500 || e.error == "temporarily_unavailable"
            }
            Error::ManagedIdentity(e) => {
                use managed_identity::ManagedIdentityErrorKind as K;
                matches!(e.kind, K::Throttled | K::Deadline)
                    || e.status.is_some_and(|s| s == 429 || s >= 500)
            }
            _ => false,
        }
    }

    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn authority(
        authority: &str,
        source: msal_config::authority::AuthorityError,
    ) -> Self {
        Error::InvalidAuthority {
            authority: authority.to_string(),
            source,
        }
    }

    pub(crate) fn invalid_response(url: &str, reason: impl Into<String>) -> Self {
        Error::InvalidResponse {
            url: strip_query(url),
            reason: reason.into(),
        }
    }
}

/// Removes the query string of a URL before it goes into an error message.
pub(crate) fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

/// An OAuth 2.0 error response from the identity provider, with Entra's extra fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerError {
    /// HTTP status of the response.
    pub status: u16,
    /// The OAuth `error` code, e.g. `invalid_client`, `invalid_grant`.
    pub error: String,
    /// `error_description`, e.g. `AADSTS7000215: Invalid client secret provided. ...`.
    pub error_description: Option<String>,
    /// Entra's numeric `error_codes` (the AADSTS numbers).
    pub error_codes: Vec<i64>,
    /// The correlation id the server logged the request under.
    pub correlation_id: Option<String>,
    /// Entra's `trace_id`.
    pub trace_id: Option<String>,
    /// Entra's `timestamp`.
    pub timestamp: Option<String>,
    /// `suberror`, e.g. `basic_action`, `bad_token`.
    pub suberror: Option<String>,
    /// A claims challenge to pass back as `claims_challenge` (Conditional Access, CAE).
    pub claims: Option<String>,
    /// `error_uri`, when given.
    pub error_uri: Option<String>,
    /// How long the server asked us to wait (`Retry-After`), in seconds.
    pub retry_after: Option<u64>,
}

impl ServerError {
    /// Builds an error from a parsed OAuth error body.
    pub(crate) fn from_json(status: u16, body: &serde_json::Value) -> Option<Self> {
        let obj = body.as_object()?;
        let error = obj.get("error")?.as_str()?.to_string();
        let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let error_codes = obj
            .get("error_codes")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|c| c.as_i64()).collect())
            .unwrap_or_default();
        Some(ServerError {
            status,
            error,
            error_description: s("error_description"),
            error_codes,
            correlation_id: s("correlation_id"),
            trace_id: s("trace_id"),
            timestamp: s("timestamp"),
            suberror: s("suberror"),
            claims: s("claims"),
            error_uri: s("error_uri"),
            retry_after: None,
        })
    }

    /// A short classification like MSAL Python's `classification` (empty for suppressed suberrors).
    pub fn classification(&self) -> Option<&str> {
        match self.suberror.as_deref() {
            None => None,
            Some(
                "bad_token"
                | "token_expired"
                | "protection_policy_required"
                | "client_mismatch"
                | "device_authentication_failed",
            ) => Some(""),
            Some(other) => Some(other),
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the identity provider refused the request (HTTP {}): {}",
            self.status, self.error
        )?;
        if let Some(d) = &self.error_description {
            // Entra descriptions are multi-line; the first line carries the AADSTS message.
            write!(f, ": {}", d.lines().next().unwrap_or(d))?;
        }
        if let Some(c) = &self.correlation_id {
            write!(f, " (correlation id {c})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(Box::new(e))
    }
}
