//! E0602: a `redirect_uri` without `authorization_code`.
use msal::msal_app;

#[msal_app(config = "unused_redirect_uri.toml")]
pub struct OrdersDaemon;

fn main() {}
