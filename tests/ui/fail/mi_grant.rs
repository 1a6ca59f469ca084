//! E0505: a managed identity only gets app tokens: no auth code, no on-behalf-of.
use msal::msal_app;

#[msal_app(config = "mi_grant.toml")]
pub struct BillingJob;

fn main() {}
