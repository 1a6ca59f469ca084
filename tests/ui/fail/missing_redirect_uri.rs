//! E0601: `authorization_code` without `redirect_uri`.
use msal::msal_app;

#[msal_app(config = "missing_redirect_uri.toml")]
pub struct OrdersDaemon;

fn main() {}
