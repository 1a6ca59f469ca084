//! E1001: an unknown token cache kind, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_cache_kind.toml")]
pub struct OrdersDaemon;

fn main() {}
