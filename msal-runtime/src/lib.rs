//! # msal-runtime
//!
//! The engine of `msal`: the confidential-client features of the Microsoft Authentication
//! Library (MSAL) for Rust, with MSAL Python's names where Rust allows.
//!
//! * Client credentials with a secret, a certificate (PS256 / `x5t#S256`, or RS256 / `x5t`
//!   for ADFS), a certificate with `x5c` (Subject Name + Issuer), or an assertion callback.
//! * Authorities of every kind: Entra ID in every cloud, B2C, CIAM, ADFS, any OpenID
//!   Connect issuer; tenant and instance discovery; regional endpoints.
//! * The MSAL token cache (the same JSON as every MSAL library), in memory or in a locked
//!   file.
//! * Typed errors that keep the server's `error`, `error_description`, `error_codes` and
//!   `correlation_id`.
//!
//! ```no_run
//! use msal_runtime::{ClientCredential, ConfidentialClientApplication, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
//!     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
//!     .client_credential(ClientCredential::secret(std::env::var("APP_SECRET").unwrap_or_default()))
//!     .build()?;
//! match app.acquire_token_for_client(&["https://graph.microsoft.com/.default"]).await {
//!     Ok(token) => println!("got a token, {} s left", token.expires_in()),
//!     Err(Error::Server(e)) if e.error == "invalid_client" => eprintln!("bad credential: {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! ## Tracing
//!
//! Every acquisition runs in one `msal.acquire_token` span (`INFO`) with the fields
//! `client_id`, `grant`, `tenant`, `scopes`, `outcome` (`cache_hit`, `identity_provider`,
//! `refreshed`, `no_token`, `failed`), `correlation_id`, `duration_ms`, `error` (a code,
//! on failure) and, only with
//! [`enable_pii_log(true)`](ConfidentialClientApplicationBuilder::enable_pii_log),
//! `account`. Discovery, retries, client-side throttling and cache back-end failures are
//! events with a `kind` field (`discovery`, `retry`, `throttled`, `regional_fallback`,
//! `cache_error`). Tokens, secrets and assertions are never recorded. With no subscriber
//! the span allocates nothing. The full field reference is `docs/observability.md`.
//!
//! ## Features
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `native-tls` | yes | HTTPS through the system's OpenSSL (reqwest's `native-tls`) |
//! | `rustls` | no | HTTPS through rustls (reqwest's `rustls`); with `default-features = false` |
//! | `rustls-ring` | no | HTTPS through rustls on the ring provider (no aws-lc-rs: a faster first connection per process); with `default-features = false` |
//! | `redis` | no | the Redis token-cache back-end (`TokenCache::redis`, `cache = { redis = ... }` in msal.toml) |
//! | `axum` | no | `web_api::Rejection` as an axum response |
//! | `tower` | no | `downstream::BearerLayer` |
//! | `reqwest-middleware` | no | `downstream::BearerMiddleware` |
//! | `azure` | no | `azure::` `TokenCredential` (azure_core 1.x) for applications and managed identity clients |
//!
//! One TLS feature is required; `native-tls` wins when several are on, then `rustls-ring`. Certificate
//! assertions are signed with OpenSSL whichever carries HTTPS.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "native-tls", feature = "rustls", feature = "rustls-ring")))]
compile_error!(
    "msal-runtime needs a TLS back-end: enable its `native-tls` feature (the default), `rustls` or `rustls-ring`"
);

mod app;
mod authority;
#[cfg(feature = "azure")]
pub mod azure;
pub mod blocking;
mod cache;
mod claims;
pub mod config;
mod credential;
pub mod downstream;
mod env;
mod error;
mod grant;
mod http;
mod id_token;
mod managed_identity;
mod migration;
mod observability;
mod result;
mod scope;
mod secret;
mod state;
#[doc(hidden)]
pub mod untrusted_input;
pub mod web_api;
pub mod web_sign_in;

pub use app::{ConfidentialClientApplication, ConfidentialClientApplicationBuilder};
pub use authority::{
    Authority, AuthorityError, AuthorityKind, IntoAuthority, Region, WELL_KNOWN_HOSTS,
};
pub use cache::{
    AccessTokenEntry, AccountEntry, AppMetadataEntry, IdTokenEntry, RefreshTokenEntry, TokenCache,
};
pub use credential::{
    AssertionContext, AssertionFuture, AzureCredentialKind, AzureEnvironment, Certificate,
    ClientCredential,
};
pub use error::{BoxError, Error, HttpErrorKind, Result, ServerError};
pub use grant::{
    AuthCodeFlow, AuthCodeFlowOptions, AuthorizationCodeOptions, AuthorizationRequestOptions,
    ForClientOptions, OnBehalfOfOptions, SilentOptions,
};
pub use http::{HttpCache, HttpStateStore, StoreFuture, Verify};
pub use managed_identity::{
    EnvLookup, ManagedIdentity, ManagedIdentityClient, ManagedIdentityClientBuilder,
    ManagedIdentityError, ManagedIdentityErrorKind, ManagedIdentitySource,
    ManagedIdentityTokenOptions, RetryPolicy, FORBID_DEFAULT_IMDS_VAR, SYSTEM_ASSIGNED_CACHE_ID,
};
pub use result::{Account, AuthenticationResult, RawResponse, TokenSource};
pub use scope::{IntoScopes, ScopeList, ScopeStrs, Scopes};
pub use secret::{AccessToken, Assertion, ClientSecret, RefreshToken};
pub use web_sign_in::{
    AuthResponse, FlowCookie, FlowError, FlowLimits, PendingFlow, PendingFlows, SignOutScope,
};

/// The re-exported reqwest, so a client passed to
/// [`http_client`](ConfidentialClientApplicationBuilder::http_client) is always the same version.
#[doc(no_inline)]
pub use reqwest;

/// The SKU this library reports in `x-client-sku`.
pub(crate) const SKU: &str = "MSAL.Rust";
