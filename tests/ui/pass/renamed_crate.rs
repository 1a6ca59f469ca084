//! `crate = "..."`: generated code names the `msal` crate by the given path, for a
//! renamed dependency (`my_msal = { package = "msal", ... }`) or a re-export.
#![deny(warnings)]

extern crate msal as my_msal;

/// The facade re-exported by another crate or module.
pub mod deps {
    pub use ::msal as auth;
}

/// Through the renamed crate.
#[my_msal::msal_app(config = "daemon.toml", app = "orders_daemon", crate = "my_msal")]
pub struct Renamed;

/// Through a re-export.
#[deps::auth::msal_app(config = "daemon.toml", app = "orders_daemon", crate = "crate::deps::auth")]
pub struct ReExported;

fn main() {
    let a: my_msal::scope::ScopeSet<Renamed, my_msal::scope::AppScopes> = Renamed::scopes().graph;
    assert_eq!(a.name(), "graph");
    let b = ReExported::scopes().storage;
    assert_eq!(b.compiled_scopes(), ["https://storage.azure.com/.default"]);
    let lookup = |k: &str| (k == "ORDERS_DAEMON_SECRET").then(|| "pass-case-secret".to_string());
    let r = Renamed::from_env_with(lookup).unwrap();
    let _ = ReExported::from_env_with(lookup).unwrap();
    assert_eq!(r.scopes_of(a), ["https://graph.microsoft.com/.default"]);
}
