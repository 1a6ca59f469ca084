//! `acquire_token_for_client` takes only `.default` sets (`AppScopes`): a set of named
//! delegated scopes (`UserScopes`) of the same app does not compile.
use msal::msal_app;

#[msal_app(config = "apps.toml")]
pub struct OrdersApi;

async fn run(api: OrdersApi) {
    let _ = api
        .acquire_token_for_client(OrdersApi::scopes().inventory)
        .await;
}

fn main() {
    let _ = run;
}
