//! E0702: a scope set name that is not a snake_case identifier.
use msal::msal_app;

#[msal_app(config = "invalid_scope_set_name.toml")]
pub struct OrdersDaemon;

fn main() {}
