//! A daemon: client-credential methods, typed `.default` sets, consts, a secret-free
//! `Debug`, `Send + Sync + Clone`. Generated code is clean under strict lints.
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused_qualifications
)]
#![deny(clippy::all)]

use msal::msal_app;
use msal::scope::{AppScopes, ScopeSet};

/// Gets app-only tokens for the orders back end.
#[msal_app(config = "daemon.toml")]
pub struct OrdersDaemon;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[allow(dead_code)]
async fn calls(d: &OrdersDaemon) -> msal::Result<()> {
    let _t: msal::AuthenticationResult = d
        .acquire_token_for_client(OrdersDaemon::scopes().graph)
        .await?;
    let _t = d
        .acquire_token_for_client_with(
            OrdersDaemon::scopes().storage,
            msal::ForClientOptions::default(),
        )
        .await?;
    let _n: usize = d.remove_tokens_for_client().await?;
    Ok(())
}

fn main() {
    assert_send_sync_clone::<OrdersDaemon>();
    assert_eq!(OrdersDaemon::APP_NAME, "orders_daemon");
    assert_eq!(
        OrdersDaemon::CLIENT_ID,
        "6f1c2d3e-0000-4000-8000-0000000000a1"
    );
    let graph: ScopeSet<OrdersDaemon, AppScopes> = OrdersDaemon::scopes().graph;
    assert_eq!(
        graph.compiled_scopes(),
        ["https://graph.microsoft.com/.default"]
    );

    // Building does no network I/O; the secret comes from the lookup.
    let daemon = OrdersDaemon::from_env_with(|k| {
        (k == "ORDERS_DAEMON_SECRET").then(|| "pass-case-secret".to_string())
    })
    .unwrap();
    let dbg = format!("{daemon:?}");
    assert!(
        dbg.starts_with("OrdersDaemon { app: \"orders_daemon\""),
        "{dbg}"
    );
    assert!(!dbg.contains("pass-case-secret"));
    assert_eq!(
        daemon.scopes_of(graph),
        ["https://graph.microsoft.com/.default"]
    );
    let _copy = daemon.clone();
}
