//! Several #[msal_app] structs naming one broken file: the first reports every problem,
//! the others say so in one error (with the first problem) instead of repeating them all.
use msal::msal_app;

#[msal_app(config = "shared_broken_file.toml")]
pub struct OrdersDaemon;

#[msal_app(config = "shared_broken_file.toml")]
pub struct OrdersApi;

fn main() {}
