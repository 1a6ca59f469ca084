//! E0307: the `organizations` tenant with on-behalf-of.
use msal::msal_app;

#[msal_app(config = "organizations_tenant_obo.toml")]
pub struct OrdersDaemon;

fn main() {}
