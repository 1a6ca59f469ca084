//! E0404: a secret from both a variable and a file.
use msal::msal_app;

#[msal_app(config = "invalid_credential_source.toml")]
pub struct OrdersDaemon;

fn main() {}
