//! E0103: `client_id` in [defaults] (it cannot be shared).
use msal::msal_app;

#[msal_app(config = "not_inheritable.toml")]
pub struct OrdersDaemon;

fn main() {}
