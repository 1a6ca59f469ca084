//! E0104: a profile changing `grants` (that would change the generated methods).
use msal::msal_app;

#[msal_app(config = "not_overridable.toml")]
pub struct OrdersDaemon;

fn main() {}
