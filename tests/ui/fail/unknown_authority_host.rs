//! E0306: an unknown authority host without `validate_authority = false`.
use msal::msal_app;

#[msal_app(config = "unknown_authority_host.toml")]
pub struct OrdersDaemon;

fn main() {}
