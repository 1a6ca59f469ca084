//! The billing service: a web API that exchanges its callers' tokens for Graph tokens
//! (on-behalf-of), configured by `[apps.billing_service]` of the workspace's `msal.toml`,
//! found by `#[msal_app]` without `config`.
//!
//! ```text
//! BILLING_SERVICE_SECRET=... cargo run -p billing-service -- <incoming access token>
//! ```

use msal::msal_app;

/// The billing API's identity (`[apps.billing_service]`).
#[msal_app]
pub struct BillingService;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = BillingService::from_env()?;
    println!("{api:?}");
    let Some(incoming) = std::env::args().nth(1) else {
        println!("usage: billing-service <incoming access token>");
        return Ok(());
    };
    let graph = api
        .acquire_token_on_behalf_of(&incoming, BillingService::scopes().graph)
        .await?;
    println!("graph token for the caller, {} s left", graph.expires_in());
    Ok(())
}
