//! E0709: a set of named scopes in a client-credentials-only app.
use msal::msal_app;

#[msal_app(config = "client_credentials_needs_default.toml")]
pub struct OrdersDaemon;

fn main() {}
