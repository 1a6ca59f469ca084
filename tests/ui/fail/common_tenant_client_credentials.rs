//! E0307: the `common` tenant with client credentials.
use msal::msal_app;

#[msal_app(config = "common_tenant_client_credentials.toml")]
pub struct OrdersDaemon;

fn main() {}
