//! `accepts` of a web API (E11xx).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file).
use msal::msal_app;

/// E1101: an accepted scope written with its resource (tokens carry bare names in `scp`).
#[msal_app(config = "accepts_invalid.toml", app = "orders_api")]
pub struct AcceptsInvalid;

/// E1102: two accepted roles that make the same type name.
#[msal_app(config = "accepts_duplicate.toml", app = "orders_api")]
pub struct AcceptsDuplicate;

/// E1103: `accepts` without any scope or role.
#[msal_app(config = "accepts_empty.toml", app = "orders_api")]
pub struct AcceptsEmpty;

/// E1104: `accepts` on a managed identity app.
#[msal_app(config = "accepts_managed_identity.toml", app = "billing_job")]
pub struct AcceptsManagedIdentity;

fn main() {}
