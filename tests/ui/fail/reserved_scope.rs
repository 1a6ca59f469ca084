//! E0708: a reserved scope (MSAL adds `openid`, `profile`, `offline_access` itself).
use msal::msal_app;

#[msal_app(config = "reserved_scope.toml")]
pub struct OrdersDaemon;

fn main() {}
