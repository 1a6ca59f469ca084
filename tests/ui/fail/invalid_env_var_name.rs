//! E0405: a variable name that is not one.
use msal::msal_app;

#[msal_app(config = "invalid_env_var_name.toml")]
pub struct OrdersDaemon;

fn main() {}
