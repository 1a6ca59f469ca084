//! E0412: a user-assigned identity forced onto a source that cannot select one.
use msal::msal_app;

#[msal_app(config = "mi_user_assigned_not_supported.toml")]
pub struct BillingJob;

fn main() {}
