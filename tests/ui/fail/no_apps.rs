//! E0105: a file without any [apps.NAME].
use msal::msal_app;

#[msal_app(config = "no_apps.toml")]
pub struct OrdersDaemon;

fn main() {}
