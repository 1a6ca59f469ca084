//! The `msal.toml` schema and its validation rules.
//!
//! `msal.toml` declares confidential-client apps; this crate parses it with source
//! spans and checks every rule, reporting **all** problems of a file at once as
//! [`Diagnostics`] that render like rustc (`msal.toml:LINE:COL: error: ...`, the line,
//! a caret underline, `help:`). It is shared by the `#[msal_app]` macro (compile
//! time), the runtime and the CLI (run time), and has no network or async code.
//!
//! ```
//! use msal_config::{Config, CredentialSpec, Grant, Source};
//! use std::path::Path;
//!
//! let cfg = Config::parse(Path::new("/srv/app/msal.toml"), r#"
//! [defaults]
//! authority = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555"
//!
//! [apps.orders_daemon]
//! client_id  = "00000000-0000-0000-0000-000000000001"
//! credential = { kind = "certificate", private_key_file = "certs/orders.key", certificate_file = "certs/orders.crt" }
//! grants     = ["client_credentials"]
//! scopes.graph = ["https://graph.microsoft.com/.default"]
//! "#).unwrap();
//!
//! let app = cfg.app("orders_daemon").unwrap();
//! assert!(app.has_grant(Grant::ClientCredentials));
//! let CredentialSpec::Certificate { private_key, .. } = &app.credential else { unreachable!() };
//! assert_eq!(private_key, &Source::File("/srv/app/certs/orders.key".into()));
//! ```
//!
//! The annotated reference configuration is in [`mod@reference`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accepts;
pub mod authority;
mod checks;
mod config;
mod ctx;
mod diagnostic;
mod discover;
mod env;
mod layer;
mod model;
mod outline;
mod regions;
mod resolve;
mod suggest;
mod values;

#[cfg(test)]
mod tests;

pub use accepts::{accepted_type_name, AcceptedTenants, Accepts};
pub use authority::{Authority, AuthorityError, AuthorityKind, WELL_KNOWN_HOSTS};

/// The app key for a Rust type name, as `#[msal_app]` derives it when no `app = "..."`
/// is given: `snake_case`.
///
/// ```
/// assert_eq!(msal_config::app_key_for("OrdersDaemon"), "orders_daemon");
/// assert_eq!(msal_config::app_key_for("WebAPI"), "web_api");
/// ```
pub fn app_key_for(type_name: &str) -> String {
    checks::to_snake(type_name)
}
pub use config::Config;
pub use ctx::resolve_relative;
pub use diagnostic::{line_col, Code, Diagnostic, Diagnostics, SourceSpan};
pub use discover::{discover, workspace_root, Discovered, NotDiscovered, CONFIG_FILE_NAME};
pub use env::{env_override_name, ENV_OVERRIDABLE_KEYS, PROFILE_VAR};
pub use model::{
    AppConfig, CacheSpec, CredentialSpec, Grant, ManagedIdentityId, ManagedIdentitySourceKind,
    RedisUrl, RegionSpec, ScopeSet, Source,
};
pub use outline::scope_set_outline;
pub use regions::KNOWN_REGIONS;
pub use suggest::did_you_mean;

pub mod reference {
    //! The annotated reference `msal.toml` (a daemon, a web app and a web API). A test
    //! parses it, so it cannot rot.
    //!
    //! ```toml
    #![doc = include_str!("../reference.toml")]
    //! ```
}
