//! E0709: a managed identity asks for a resource: only `.default` sets.
use msal::msal_app;

#[msal_app(config = "mi_named_scopes.toml")]
pub struct BillingJob;

fn main() {}
