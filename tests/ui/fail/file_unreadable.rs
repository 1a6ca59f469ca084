//! E0001: the file does not exist (neither next to the crate's Cargo.toml nor next to
//! this source file).
use msal::msal_app;

#[msal_app(config = "does_not_exist.toml")]
pub struct OrdersDaemon;

fn main() {}
