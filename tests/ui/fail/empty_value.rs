//! E0110: an empty string where a value is needed.
use msal::msal_app;

#[msal_app(config = "empty_value.toml")]
pub struct OrdersDaemon;

fn main() {}
