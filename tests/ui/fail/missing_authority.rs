//! E0301: neither `authority` nor `oidc_authority`.
use msal::msal_app;

#[msal_app(config = "missing_authority.toml")]
pub struct OrdersDaemon;

fn main() {}
