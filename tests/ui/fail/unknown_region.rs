//! E0802: an unknown region, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_region.toml")]
pub struct OrdersDaemon;

fn main() {}
