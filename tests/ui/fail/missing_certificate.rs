//! E0408: a certificate credential with neither certificate nor thumbprint.
use msal::msal_app;

#[msal_app(config = "missing_certificate.toml")]
pub struct OrdersDaemon;

fn main() {}
