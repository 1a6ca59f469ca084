//! The orders service: app-only tokens from `[apps.orders_service]` of the workspace's
//! `msal.toml` (two directories up), found by `#[msal_app]` without `config`.
//!
//! ```text
//! ORDERS_SERVICE_SECRET=... cargo run -p orders-service
//! ```

use msal::msal_app;

/// The orders service's own identity (`[apps.orders_service]`).
#[msal_app]
pub struct OrdersService;

#[tokio::main]
async fn main() -> Result<(), msal::Error> {
    // The secret from `ORDERS_SERVICE_SECRET`; `MSAL_ORDERS_SERVICE_*` overrides apply.
    let service = OrdersService::from_env()?;
    println!("{service:?}");
    let billing = service
        .acquire_token_for_client(OrdersService::scopes().billing)
        .await?;
    println!(
        "billing token for {:?} from {}, {} s left",
        billing.scopes,
        billing.token_source.as_str(),
        billing.expires_in()
    );
    // The second request is served by the cache.
    let again = service
        .acquire_token_for_client(OrdersService::scopes().billing)
        .await?;
    println!("again from {}", again.token_source.as_str());
    Ok(())
}
