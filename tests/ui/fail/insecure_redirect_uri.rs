//! E0604: an `http` redirect URI on a host that is not loopback.
use msal::msal_app;

#[msal_app(config = "insecure_redirect_uri.toml")]
pub struct OrdersDaemon;

fn main() {}
