//! E0101: a key the schema does not know, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_key.toml")]
pub struct OrdersDaemon;

fn main() {}
