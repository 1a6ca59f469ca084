//! E1003: a Redis URL that is not redis:// or rediss://.
use msal::msal_app;

#[msal_app(config = "invalid_redis_url.toml")]
pub struct OrdersDaemon;

fn main() {}
