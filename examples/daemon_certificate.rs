//! A daemon with a certificate credential whose files are found at run time, wherever the
//! binary runs.
//!
//! ```text
//! cargo run --example daemon_certificate
//! # or, with the binary and its certificate files copied anywhere:
//! MSAL_CONFIG_DIR=/etc/orders ./daemon_certificate      # reads /etc/orders/certs/orders_daemon.key
//! cd /etc/orders && ./daemon_certificate                  # the same, from the working directory
//! ```
//!
//! `[apps.orders_cert_daemon]` in `examples/msal.toml` names `certs/orders_daemon.key` and
//! `certs/orders_daemon.crt`, relative. The generated client compiles the file's text in, and
//! resolves relative paths when it starts: against `MSAL_CONFIG_DIR` when set, else the working
//! directory. Nothing it reads at run time depends on where it was built (`tests/relocation.rs`
//! builds it, deletes the build tree, and runs it elsewhere).
//!
//! It runs against msal-testkit, an Entra-like authority started in-process on loopback HTTPS,
//! which is told to trust the demo certificate found next to the key (`examples/certs/`, not
//! a real credential). Under `cargo run` (which sets `CARGO_MANIFEST_DIR` in the environment)
//! and without `MSAL_CONFIG_DIR`, the example uses the `examples/` directory of the checkout.

use msal::{msal_app, Verify};
use msal_testkit::{AppRegistration, TestAuthority};
use std::error::Error;

/// The orders back end's app-only identity with a certificate (`[apps.orders_cert_daemon]`).
#[msal_app(config = "examples/msal.toml")]
pub struct OrdersCertDaemon;

fn main() -> Result<(), Box<dyn Error>> {
    // Before any thread starts. `cargo run` sets CARGO_MANIFEST_DIR for the process it starts
    // (a run-time variable, absent when the binary is run directly).
    if std::env::var_os(msal::config::CONFIG_DIR_VAR).is_none() {
        if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
            std::env::set_var(
                msal::config::CONFIG_DIR_VAR,
                std::path::Path::new(&dir).join("examples"),
            );
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn Error>> {
    let base = msal::config::run_time_base(&|k| std::env::var(k).ok())?;
    println!("relative paths resolve against {}", base.display());

    let authority = TestAuthority::start().await;
    let tenant = authority.authority(authority.tenant_id());

    // The key and certificate are read here, from `base`; a missing file is an error naming it.
    let builder = OrdersCertDaemon::builder()?
        .authority(tenant)
        .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
        .instance_discovery_endpoint(authority.instance_discovery_url());
    let daemon = OrdersCertDaemon::from_builder(builder)?;

    // In production the certificate is uploaded to the app registration; here the test
    // authority is told to trust the one found next to the key.
    let cert = std::fs::read(base.join("certs/orders_daemon.crt"))?;
    authority.register_app(AppRegistration::with_certificate(
        daemon.application().client_id(),
        cert,
    ));

    let t = daemon
        .acquire_token_for_client(OrdersCertDaemon::scopes().graph)
        .await?;
    println!(
        "token from {} for {:?}, expires in {} s",
        t.token_source.as_str(),
        t.scopes,
        t.expires_in()
    );
    let claims = authority
        .verify_access_token(t.access_token.secret())
        .map_err(|e| format!("the token is not signed by the test authority: {e}"))?;
    println!(
        "token issued to app {}",
        claims["appid"].as_str().unwrap_or("?")
    );
    Ok(())
}
