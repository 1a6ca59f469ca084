//! E0305: an authority without a tenant.
use msal::msal_app;

#[msal_app(config = "missing_tenant.toml")]
pub struct OrdersDaemon;

fn main() {}
