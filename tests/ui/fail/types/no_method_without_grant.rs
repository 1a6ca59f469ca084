//! A method exists only for a grant the app enables: `orders_web` has no
//! `client_credentials`, `orders_daemon` no `on_behalf_of`.
use msal::msal_app;

#[msal_app(config = "apps.toml")]
pub struct OrdersWeb;

#[msal_app(config = "apps.toml")]
pub struct OrdersDaemon;

async fn run(web: OrdersWeb, daemon: OrdersDaemon) {
    let _ = web.acquire_token_for_client(OrdersWeb::scopes().user).await;
    let _ = daemon
        .acquire_token_on_behalf_of("user-token", OrdersDaemon::scopes().graph)
        .await;
}

fn main() {
    let _ = run;
}
