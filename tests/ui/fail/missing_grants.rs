//! E0501: an empty `grants`.
use msal::msal_app;

#[msal_app(config = "missing_grants.toml")]
pub struct OrdersDaemon;

fn main() {}
