//! E0102: a value of the wrong TOML type.
use msal::msal_app;

#[msal_app(config = "wrong_type.toml")]
pub struct OrdersDaemon;

fn main() {}
