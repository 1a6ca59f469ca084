//! E0503: the same grant twice.
use msal::msal_app;

#[msal_app(config = "duplicate_grant.toml")]
pub struct OrdersDaemon;

fn main() {}
