//! A method exists only for a grant the app enables: calling another says which grant to
//! add to which app. `orders_web` has no `client_credentials`, `orders_daemon` no
//! `on_behalf_of` and no signed-in accounts (neither `authorization_code` nor
//! `refresh_token`).
use msal::msal_app;

#[msal_app(config = "apps.toml")]
pub struct OrdersWeb;

#[msal_app(config = "apps.toml")]
pub struct OrdersDaemon;

async fn run(web: OrdersWeb, daemon: OrdersDaemon) {
    let _ = web.remove_tokens_for_client().await;
    let _ = daemon
        .acquire_token_on_behalf_of("user-token", OrdersDaemon::scopes().graph)
        .await;
    let _ = daemon.get_accounts(None).await;
}

fn main() {
    let _ = run;
}
