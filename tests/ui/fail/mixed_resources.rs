//! E0707: scopes of two resources in one set.
use msal::msal_app;

#[msal_app(config = "mixed_resources.toml")]
pub struct OrdersDaemon;

fn main() {}
