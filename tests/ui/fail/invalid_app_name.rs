//! E0107: an app name that is not snake_case.
use msal::msal_app;

#[msal_app(config = "invalid_app_name.toml")]
pub struct OrdersDaemon;

fn main() {}
