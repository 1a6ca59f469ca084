//! E0801: a region that is not a DNS label.
use msal::msal_app;

#[msal_app(config = "invalid_region.toml")]
pub struct OrdersDaemon;

fn main() {}
