//! E0504: `refresh_token` without a grant that yields refresh tokens.
use msal::msal_app;

#[msal_app(config = "refresh_token_without_source.toml")]
pub struct OrdersDaemon;

fn main() {}
