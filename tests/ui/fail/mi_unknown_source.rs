//! E0411: an unknown managed identity source.
use msal::msal_app;

#[msal_app(config = "mi_unknown_source.toml")]
pub struct BillingJob;

fn main() {}
