//! E0109: a profile name with a space.
use msal::msal_app;

#[msal_app(config = "invalid_profile_name.toml")]
pub struct OrdersDaemon;

fn main() {}
