//! E0502: an unknown grant, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_grant.toml")]
pub struct OrdersDaemon;

fn main() {}
