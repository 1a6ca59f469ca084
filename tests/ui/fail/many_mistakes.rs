//! all: a file with ten mistakes: every one is reported, in file order.
use msal::msal_app;

#[msal_app(config = "many_mistakes.toml")]
pub struct OrdersDaemon;

fn main() {}
