//! E1002: a file cache without a path.
use msal::msal_app;

#[msal_app(config = "empty_cache_path.toml")]
pub struct OrdersDaemon;

fn main() {}
