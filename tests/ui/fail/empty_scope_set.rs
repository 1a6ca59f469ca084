//! E0703: an empty scope set.
use msal::msal_app;

#[msal_app(config = "empty_scope_set.toml")]
pub struct OrdersDaemon;

fn main() {}
