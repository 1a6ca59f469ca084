//! E0403: a secret written into the file (it would be compiled into the binary).
use msal::msal_app;

#[msal_app(config = "inline_secret.toml")]
pub struct OrdersDaemon;

fn main() {}
