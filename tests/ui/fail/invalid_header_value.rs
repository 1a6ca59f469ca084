//! E0903: an `app_name` that cannot be an HTTP header.
use msal::msal_app;

#[msal_app(config = "invalid_header_value.toml")]
pub struct OrdersDaemon;

fn main() {}
