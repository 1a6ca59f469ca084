//! E0603: a redirect URI with a fragment.
use msal::msal_app;

#[msal_app(config = "invalid_redirect_uri.toml")]
pub struct OrdersDaemon;

fn main() {}
