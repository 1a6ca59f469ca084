//! E0705: the same scope twice in a set.
use msal::msal_app;

#[msal_app(config = "duplicate_scope.toml")]
pub struct OrdersDaemon;

fn main() {}
