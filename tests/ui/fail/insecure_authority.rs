//! E0304: an `http` authority on a host that is not loopback.
use msal::msal_app;

#[msal_app(config = "insecure_authority.toml")]
pub struct OrdersDaemon;

fn main() {}
