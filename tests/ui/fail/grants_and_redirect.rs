//! Grants and redirect URIs (E05xx, E06xx).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0501: an empty `grants`.
#[msal_app(config = "missing_grants.toml", app = "orders_daemon")]
pub struct MissingGrants;

/// E0502: an unknown grant, with "did you mean".
#[msal_app(config = "unknown_grant.toml", app = "orders_daemon")]
pub struct UnknownGrant;

/// E0503: the same grant twice.
#[msal_app(config = "duplicate_grant.toml", app = "orders_daemon")]
pub struct DuplicateGrant;

/// E0504: `refresh_token` without a grant that yields refresh tokens.
#[msal_app(config = "refresh_token_without_source.toml", app = "orders_daemon")]
pub struct RefreshTokenWithoutSource;

/// E0601: `authorization_code` without `redirect_uri`.
#[msal_app(config = "missing_redirect_uri.toml", app = "orders_daemon")]
pub struct MissingRedirectUri;

/// E0602: a `redirect_uri` without `authorization_code`.
#[msal_app(config = "unused_redirect_uri.toml", app = "orders_daemon")]
pub struct UnusedRedirectUri;

/// E0603: a redirect URI with a fragment.
#[msal_app(config = "invalid_redirect_uri.toml", app = "orders_daemon")]
pub struct InvalidRedirectUri;

/// E0604: an `http` redirect URI on a host that is not loopback.
#[msal_app(config = "insecure_redirect_uri.toml", app = "orders_daemon")]
pub struct InsecureRedirectUri;

fn main() {}
