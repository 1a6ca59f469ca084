//! E0701: an app without scope sets.
use msal::msal_app;

#[msal_app(config = "no_scope_sets.toml")]
pub struct OrdersDaemon;

fn main() {}
