//! msal-testkit's integration tests, in one test binary (each test binary links the whole
//! dependency tree). Each file is a module, so its constants, helpers and test names stay
//! its own. `cargo test -p msal-testkit --test integration <module>::` runs one.

#[path = "../common/mod.rs"]
mod common;

mod client_credentials;
mod sign_in_page;
mod user_flows;
