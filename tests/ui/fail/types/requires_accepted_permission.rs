//! `Requires<...>` takes only a permission the app accepts: one not in its `accepts` has no
//! type, and another app's accepted scope does not fit.
use msal::msal_app;
use msal::web_api::{Caller, Requires};

#[msal_app(config = "web_apis.toml")]
pub struct OrdersApi;

#[msal_app(config = "web_apis.toml")]
pub struct BillingApi;

async fn write_orders(_caller: Caller<OrdersApi, Requires<orders_api::scopes::OrdersWrite>>) {}

async fn read_billing(_caller: Caller<OrdersApi, Requires<billing_api::scopes::BillingRead>>) {}

fn main() {
    let _ = (write_orders, read_billing);
}
