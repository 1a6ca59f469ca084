//! E0413: a managed identity app has no authority (nor client_id, nor region).
use msal::msal_app;

#[msal_app(config = "mi_authority.toml")]
pub struct BillingJob;

fn main() {}
