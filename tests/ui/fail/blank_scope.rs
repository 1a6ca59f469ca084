//! E0704: a blank scope.
use msal::msal_app;

#[msal_app(config = "blank_scope.toml")]
pub struct OrdersDaemon;

fn main() {}
