//! E0410: a managed identity named twice.
use msal::msal_app;

#[msal_app(config = "mi_conflicting_id.toml")]
pub struct BillingJob;

fn main() {}
