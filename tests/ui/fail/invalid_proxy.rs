//! E0902: a proxy that is not an http/https/socks5 URL.
use msal::msal_app;

#[msal_app(config = "invalid_proxy.toml")]
pub struct OrdersDaemon;

fn main() {}
