//! A web app: sign-in, silent and refresh-token methods; user scope sets; the configured
//! redirect URI.
#![deny(warnings)]

use msal::msal_app;
use msal::scope::{ScopeSet, UserScopes};
use msal::{Account, AuthCodeFlowOptions, SilentOptions};

#[msal_app(config = "web_app.toml")]
pub(crate) struct OrdersWeb;

#[allow(dead_code)]
async fn calls(web: &OrdersWeb, account: &Account) -> msal::Result<()> {
    let flow = web
        .initiate_auth_code_flow(OrdersWeb::scopes().user, AuthCodeFlowOptions::default())
        .await?;
    let query = vec![("code", "x".to_string()), ("state", flow.state.clone())];
    let _t = web.acquire_token_by_auth_code_flow(&flow, query).await?;
    let _accounts: Vec<Account> = web.get_accounts(Some("alice@contoso.com")).await?;
    let _t = web
        .acquire_token_silent(OrdersWeb::scopes().mail, account)
        .await?;
    let _t = web
        .acquire_token_silent_with_error(
            OrdersWeb::scopes().user,
            account,
            SilentOptions::default(),
        )
        .await?;
    let _t = web
        .acquire_token_by_refresh_token("rt", OrdersWeb::scopes().user)
        .await?;
    let _url: Option<String> = web
        .sign_out_url(Some("https://orders.example.com/"))
        .await?;
    web.remove_account(account).await?;
    Ok(())
}

fn main() {
    let mail: ScopeSet<OrdersWeb, UserScopes> = OrdersWeb::scopes().mail;
    assert_eq!(mail.compiled_scopes().len(), 2);
    let web = OrdersWeb::from_env_with(|k| {
        (k == "ORDERS_WEB_SECRET").then(|| "pass-case-secret".to_string())
    })
    .unwrap();
    assert_eq!(
        web.redirect_uri(),
        "https://orders.example.com/auth/callback"
    );
    // A run-time override of the redirect URI (MSAL_ORDERS_WEB_REDIRECT_URI).
    let web = OrdersWeb::from_env_with(|k| match k {
        "ORDERS_WEB_SECRET" => Some("pass-case-secret".into()),
        "MSAL_ORDERS_WEB_REDIRECT_URI" => Some("http://localhost:8400/cb".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(web.redirect_uri(), "http://localhost:8400/cb");
}
