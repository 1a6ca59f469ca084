//! A daemon whose client is generated from `examples/msal.toml` by `#[msal_app]`.
//!
//! ```text
//! cargo run --example daemon
//! ```
//!
//! `[apps.orders_daemon]` in `examples/msal.toml` is checked at compile time (a typo there is
//! a compile error naming `msal.toml:LINE:COL`); this program gets app-only tokens for its
//! typed scope sets. It runs against msal-testkit, an Entra-like authority started
//! in-process on loopback HTTPS: the generated builder is pointed at it and trusts its CA.
//! Nothing leaves this machine, and no region discovery (IMDS) request is made.
//!
//! The secret is read from `ORDERS_DAEMON_SECRET`, the variable msal.toml names; when it is
//! unset, the example puts a demo value there and registers the same value with the test
//! authority. `MSAL_ORDERS_DAEMON_CLIENT_ID` and the other `MSAL_ORDERS_DAEMON_*` overrides
//! apply as they would in production.

use msal::{msal_app, AuthenticationResult, Verify};
use msal_testkit::{AppRegistration, TestAuthority};
use std::error::Error;

/// The orders back end's app-only identity (`[apps.orders_daemon]`).
#[msal_app(config = "examples/msal.toml")]
pub struct OrdersDaemon;

const SECRET_VAR: &str = "ORDERS_DAEMON_SECRET";

fn main() -> Result<(), Box<dyn Error>> {
    // Before any thread starts: a demo secret for the in-process authority.
    if std::env::var_os(SECRET_VAR).is_none() {
        std::env::set_var(SECRET_VAR, "demo-daemon-secret");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

fn show(label: &str, t: &AuthenticationResult) {
    println!(
        "{label:<28} source={:<17} expires_in={:>4}s scopes={:?}",
        t.token_source.as_str(),
        t.expires_in(),
        t.scopes
    );
}

async fn run() -> Result<(), Box<dyn Error>> {
    let authority = TestAuthority::start().await;
    let tenant = authority.authority(authority.tenant_id());
    println!("test authority: {tenant}");

    // The builder has everything msal.toml says (credential read from its variable,
    // timeout, app name, no region); the example only redirects it to the test authority.
    let builder = OrdersDaemon::builder()?
        .authority(tenant)
        .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
        .instance_discovery_endpoint(authority.instance_discovery_url());
    let daemon = OrdersDaemon::from_builder(builder)?;
    println!("{daemon:?}"); // app, client id, authority; never the secret

    let secret = std::env::var(SECRET_VAR)?;
    authority.register_app(AppRegistration::with_secret(
        daemon.application().client_id(),
        secret,
    ));

    let scopes = OrdersDaemon::scopes();
    show(
        "graph:",
        &daemon.acquire_token_for_client(scopes.graph).await?,
    );
    show(
        "storage:",
        &daemon.acquire_token_for_client(scopes.storage).await?,
    );
    show(
        "graph again (cached):",
        &daemon.acquire_token_for_client(scopes.graph).await?,
    );
    println!(
        "token requests sent: {}, cached access tokens: {}",
        authority.token_requests().len(),
        daemon.token_cache().access_tokens().len()
    );
    Ok(())
}
