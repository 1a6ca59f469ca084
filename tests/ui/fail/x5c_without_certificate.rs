//! E0407: `send_x5c` without a certificate to send.
use msal::msal_app;

#[msal_app(config = "x5c_without_certificate.toml")]
pub struct OrdersDaemon;

fn main() {}
