//! E0201: no `client_id`.
use msal::msal_app;

#[msal_app(config = "missing_client_id.toml")]
pub struct OrdersDaemon;

fn main() {}
