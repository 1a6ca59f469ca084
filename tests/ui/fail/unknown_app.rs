//! E0106: the struct's name (snake_case) maps to an app the file does not declare; the
//! error is on the struct's name, with "did you mean".
use msal::msal_app;

#[msal_app(config = "unknown_app.toml")]
pub struct OrdersDeamon;

fn main() {}
