//! A web API: on-behalf-of with user and `.default` sets, client credentials with the
//! `.default` set only; a struct with an explicit app name.
#![deny(warnings)]

use msal::msal_app;
use msal::scope::{AppScopes, ScopeSet, UserScopes};

#[msal_app(config = "web_api_obo.toml", app = "orders_api")]
struct Api;

#[allow(dead_code)]
async fn calls(api: &Api, incoming: &str) -> msal::Result<()> {
    let _t = api
        .acquire_token_on_behalf_of(incoming, Api::scopes().inventory)
        .await?;
    let _t = api
        .acquire_token_on_behalf_of(incoming, Api::scopes().inventory_app)
        .await?;
    let _t = api
        .acquire_token_on_behalf_of_with_claims(incoming, Api::scopes().inventory, "{}")
        .await?;
    let _t = api
        .acquire_token_for_client(Api::scopes().inventory_app)
        .await?;
    Ok(())
}

fn main() {
    let _user: ScopeSet<Api, UserScopes> = Api::scopes().inventory;
    let _app: ScopeSet<Api, AppScopes> = Api::scopes().inventory_app;
    assert_eq!(Api::APP_NAME, "orders_api");
    let err = Api::from_env_with(|_| None).unwrap_err();
    assert!(err.to_string().contains("ORDERS_API_ASSERTION"), "{err}");
    let api = Api::from_env_with(|k| {
        (k == "ORDERS_API_ASSERTION").then(|| "eyJhbGciOi.federated.token".to_string())
    })
    .unwrap();
    assert!(!format!("{api:?}").contains("federated"));
}
