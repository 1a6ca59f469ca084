//! E0202: a `client_id` that is not a GUID.
use msal::msal_app;

#[msal_app(config = "invalid_client_id.toml")]
pub struct OrdersDaemon;

fn main() {}
