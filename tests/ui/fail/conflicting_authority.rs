//! E0302: both `authority` and `oidc_authority`.
use msal::msal_app;

#[msal_app(config = "conflicting_authority.toml")]
pub struct OrdersDaemon;

fn main() {}
