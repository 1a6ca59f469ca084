//! E0409: a user-assigned managed identity id of the wrong shape.
use msal::msal_app;

#[msal_app(config = "mi_invalid_id.toml")]
pub struct BillingJob;

fn main() {}
