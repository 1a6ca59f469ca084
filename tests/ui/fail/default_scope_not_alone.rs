//! E0706: `.default` mixed with other scopes.
use msal::msal_app;

#[msal_app(config = "default_scope_not_alone.toml")]
pub struct OrdersDaemon;

fn main() {}
