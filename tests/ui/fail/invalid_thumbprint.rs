//! E0406: a thumbprint that is not 40 hex digits.
use msal::msal_app;

#[msal_app(config = "invalid_thumbprint.toml")]
pub struct OrdersDaemon;

fn main() {}
