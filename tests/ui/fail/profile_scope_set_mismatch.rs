//! E0710: a profile adding a scope set.
use msal::msal_app;

#[msal_app(config = "profile_scope_set_mismatch.toml")]
pub struct OrdersDaemon;

fn main() {}
