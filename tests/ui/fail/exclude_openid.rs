//! E0904: `openid` in `exclude_scopes`.
use msal::msal_app;

#[msal_app(config = "exclude_openid.toml")]
pub struct OrdersDaemon;

fn main() {}
