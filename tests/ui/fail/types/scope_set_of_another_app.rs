//! A scope set of one app cannot be passed to another, even with the same scopes.
use msal::msal_app;

#[msal_app(config = "apps.toml")]
pub struct OrdersDaemon;

#[msal_app(config = "apps.toml")]
pub struct OrdersApi;

async fn run(api: OrdersApi) {
    let _ = api
        .acquire_token_for_client(OrdersDaemon::scopes().graph)
        .await;
}

fn main() {
    let _ = run;
}
