//! E0303: an authority that is not a URL.
use msal::msal_app;

#[msal_app(config = "invalid_authority.toml")]
pub struct OrdersDaemon;

fn main() {}
