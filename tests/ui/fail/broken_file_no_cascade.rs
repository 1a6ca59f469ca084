//! A broken msal.toml yields its own errors only: the client is generated anyway (every
//! method, the scope sets that can still be read), so the code using it, including a
//! method of the misspelled grant, adds no "no function `from_env`" or "no field" errors.
use msal::msal_app;

#[msal_app(config = "broken_file_no_cascade.toml")]
pub struct OrdersWeb;

async fn run() -> msal::Result<()> {
    let web = OrdersWeb::from_env()?;
    let flow = web
        .initiate_auth_code_flow(OrdersWeb::scopes().user, Default::default())
        .await?;
    let _token = web
        .acquire_token_by_auth_code_flow(&flow, [("code", "c"), ("state", "s")])
        .await?;
    for account in web.get_accounts(None).await? {
        let _ = web
            .acquire_token_silent(OrdersWeb::scopes().graph, &account)
            .await?;
    }
    let _: &str = web.redirect_uri();
    // Not enabled, and a set of named scopes: with a valid file, two errors; here none,
    // since the file says neither what is enabled nor, for sure, what kind a set is.
    let _ = web
        .acquire_token_for_client(OrdersWeb::scopes().user)
        .await?;
    let _ = OrdersWeb::APP_NAME;
    Ok(())
}

fn main() {
    let _ = run;
}
