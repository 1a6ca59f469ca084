//! E0803: an IMDS endpoint that is not an http(s) URL.
use msal::msal_app;

#[msal_app(config = "invalid_imds_endpoint.toml")]
pub struct OrdersDaemon;

fn main() {}
