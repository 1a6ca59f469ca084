//! E0401: no `credential`.
use msal::msal_app;

#[msal_app(config = "missing_credential.toml")]
pub struct OrdersDaemon;

fn main() {}
