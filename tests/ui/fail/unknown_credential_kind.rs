//! E0402: an unknown credential kind, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_credential_kind.toml")]
pub struct OrdersDaemon;

fn main() {}
