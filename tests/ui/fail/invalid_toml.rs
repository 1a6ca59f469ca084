//! E0002: the file is not valid TOML (toml's own message).
use msal::msal_app;

#[msal_app(config = "invalid_toml.toml")]
pub struct OrdersDaemon;

fn main() {}
