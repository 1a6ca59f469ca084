//! E0901: a timeout outside 1..=600 seconds.
use msal::msal_app;

#[msal_app(config = "invalid_timeout.toml")]
pub struct OrdersDaemon;

fn main() {}
