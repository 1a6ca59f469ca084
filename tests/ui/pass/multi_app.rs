//! Several apps from one msal.toml, in modules, with different visibilities; a missing
//! credential file is named (relative to the file's directory); profiles apply.
#![deny(warnings)]

mod daemon {
    /// The daemon.
    #[msal::msal_app(config = "multi_app.toml")]
    pub struct OrdersDaemon;
}

mod web {
    #[msal::msal_app(config = "multi_app.toml")]
    pub(crate) struct OrdersWeb;
}

#[msal::msal_app(config = "multi_app.toml")]
struct OrdersApi;

fn main() {
    use daemon::OrdersDaemon;
    use web::OrdersWeb;

    assert_eq!(
        [
            OrdersDaemon::APP_NAME,
            OrdersWeb::APP_NAME,
            OrdersApi::APP_NAME
        ],
        ["orders_daemon", "orders_web", "orders_api"]
    );
    let _ = (
        OrdersDaemon::scopes().graph,
        OrdersWeb::scopes().user,
        OrdersApi::scopes().inventory,
    );

    // Credential files are resolved against msal.toml's directory and named in errors.
    let err = OrdersDaemon::from_env_with(|_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("certs/orders.key"), "{err}");
    let err = OrdersWeb::from_env_with(|_| None).unwrap_err().to_string();
    assert!(err.contains("secrets/web.txt"), "{err}");

    let env = |profile: Option<&'static str>| {
        move |k: &str| match k {
            "ORDERS_API_SECRET" => Some("pass-case-secret".to_string()),
            "MSAL_PROFILE" => profile.map(str::to_string),
            _ => None,
        }
    };
    let api = OrdersApi::from_env_with(env(None)).unwrap();
    assert_eq!(api.application().client_id(), OrdersApi::CLIENT_ID);
    let staging = OrdersApi::from_env_with(env(Some("staging"))).unwrap();
    assert_eq!(
        staging.application().client_id(),
        "6f1c2d3e-0000-4000-8000-0000000000e5"
    );
}
