//! A web API with `accepts`: axum handlers take `Caller<OrdersApi, Requires<...>>` for the
//! accepted scopes and roles (one, or two at once), the caller feeds on-behalf-of, and the
//! router is built behind `AccessTokenLayer` (no request is sent).
#![deny(warnings)]

use axum::extract::State;
use axum::routing::get;
use msal::msal_app;
use msal::web_api::axum::AccessTokenLayer;
use msal::web_api::{AcceptedTenantsSpec, Caller, Permission, PermissionKind, Requires, WebApi};

#[msal_app(config = "web_api_accepts.toml")]
struct OrdersApi;

async fn read(
    State(api): State<OrdersApi>,
    caller: Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>,
) -> String {
    match api
        .acquire_token_on_behalf_of(&caller, OrdersApi::scopes().inventory)
        .await
    {
        Ok(t) => format!("{} s", t.expires_in()),
        Err(e) => e.to_string(),
    }
}

async fn admin(
    caller: Caller<
        OrdersApi,
        Requires<(orders_api::roles::OrdersAdmin, orders_api::scopes::AccessAsUser)>,
    >,
) -> String {
    format!("{:?}", caller.object_id())
}

async fn anyone(caller: Caller<OrdersApi>) -> String {
    caller.scopes().join(" ")
}

fn main() {
    assert_eq!(<orders_api::scopes::OrdersRead as Permission>::VALUE, "Orders.Read");
    assert_eq!(<orders_api::roles::OrdersAdmin as Permission>::KIND, PermissionKind::Role);
    let spec = <OrdersApi as WebApi>::ACCEPTS;
    assert_eq!(spec.scopes, ["Orders.Read", "access_as_user"]);
    assert_eq!(spec.audiences, ["api://orders"]);
    assert_eq!(spec.tenants, AcceptedTenantsSpec::Any);
    let api = OrdersApi::from_env_with(|k| (k == "ORDERS_API_SECRET").then(|| "s".to_string()))
        .unwrap();
    let layer = AccessTokenLayer::for_app(&api).unwrap();
    let _router: axum::Router = axum::Router::new()
        .route("/orders", get(read))
        .route("/admin", get(admin))
        .route("/", get(anyone))
        .layer(layer)
        .with_state(api);
}
