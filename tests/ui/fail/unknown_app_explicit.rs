//! E0106: `app = "..."` names an app the file does not declare; the error is on that
//! string, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_app_explicit.toml", app = "orders_apj")]
pub struct Api;

fn main() {}
