//! E1004: a Redis cache with both `url` and `url_env`.
use msal::msal_app;

#[msal_app(config = "invalid_cache_source.toml")]
pub struct OrdersDaemon;

fn main() {}
