//! # msal
//!
//! The Microsoft Authentication Library's confidential-client features for Rust.
//!
//! This facade re-exports the engine ([`msal_runtime`]) and the `#[msal_app]` attribute
//! macro ([`msal_macros`]). See the README for a tour.
//!
//! ## Apps from `msal.toml`
//!
//! [`macro@msal_app`] turns a unit struct into a client for one `[apps.NAME]` table of
//! an `msal.toml`, checked at compile time: a broken file is a compile error that names
//! `msal.toml:LINE:COL`, a method is usable only for a grant the app enables (calling
//! another names the grant to add, see [`grants`]), and a scope set is a typed value of one
//! app ([`scope::ScopeSet`]).
//!
//! ```no_run
//! use msal::msal_app;
//!
//! /// Gets app-only tokens for the orders back end.
//! #[msal_app(config = "examples/msal.toml")] // relative to this crate's Cargo.toml
//! pub struct OrdersDaemon;
//!
//! # async fn run() -> Result<(), msal::Error> {
//! // Reads the secret named in msal.toml (`ORDERS_DAEMON_SECRET`) at run time.
//! let daemon = OrdersDaemon::from_env()?;
//! let token = daemon.acquire_token_for_client(OrdersDaemon::scopes().graph).await?;
//! println!("{} s left", token.expires_in());
//! # Ok(()) }
//! ```
//!
//! What the attribute generates for `struct OrdersDaemon;` (app `orders_daemon`):
//!
//! * the struct, now wrapping a [`ConfidentialClientApplication`]; `Clone`, a `Debug`
//!   that shows the app name, client id and authority (never a secret), `Send + Sync`;
//! * constructors: `from_env()` (the `msal.toml` embedded at compile time, with the
//!   run-time overlays `MSAL_PROFILE` and `MSAL_ORDERS_DAEMON_<KEY>`, credentials read from
//!   the variables and files it names), `from_env_with(lookup)` (the same with your own
//!   variable lookup), `from_config(path)` (a file read at run time, which must have the
//!   grants and scope sets the program was compiled with), `builder()` +
//!   `from_builder(b)` (adjust any [`ConfidentialClientApplicationBuilder`] option first)
//!   and `from_application(app)`;
//! * `application()`, `into_application()`, `token_cache()`, `scopes()` (an
//!   `OrdersDaemonScopes` struct, one field per scope set), `scopes_of(set)`, and the
//!   consts `APP_NAME` and `CLIENT_ID`;
//! * per grant: `client_credentials` → `acquire_token_for_client(set)`,
//!   `acquire_token_for_client_with(set, options)`, `remove_tokens_for_client()`;
//!   `authorization_code` → `initiate_auth_code_flow(set, options)` (the configured
//!   `redirect_uri` unless `options` has one), `acquire_token_by_auth_code_flow`,
//!   `redirect_uri()`, `sign_out_url`; `on_behalf_of` → `acquire_token_on_behalf_of` (and
//!   `_with_claims`); `refresh_token` → `acquire_token_by_refresh_token`; and with
//!   `authorization_code` or `refresh_token`: `get_accounts`, `acquire_token_silent`,
//!   `acquire_token_silent_with_error`, `remove_account`. The methods of the other grants
//!   exist, hidden, and calling one is a compile error that says which grant to add to
//!   which app.
//!
//! A managed identity app (`credential = { kind = "managed_identity" }`, no client id, no
//! authority) gets a struct wrapping a [`ManagedIdentityClient`] with the app-token methods
//! only (`acquire_token_for_client(set)` asks for the set's resource), `token_cache()`,
//! `client()`, `get_managed_identity_source()` and the same constructors. Relative paths of
//! the embedded file resolve at run time against `MSAL_CONFIG_DIR`, else the working
//! directory, so the binary runs wherever it is copied.
//!
//! See [`macro@msal_app`] for the attribute's arguments and how the file is found.
//!
//! ## Monorepos: one `msal.toml` at the workspace root
//!
//! Without `config = "..."`, `#[msal_app]` looks for `msal.toml` in the crate's directory,
//! then in each parent up to the workspace root (the directory whose `Cargo.toml` has
//! `[workspace]`), and uses the first it finds. Service crates of one workspace share the
//! file at its root with a bare `#[msal_app]`, and a crate may keep its own to override it;
//! `msal check` without a path finds the file the same way. The run time does not care
//! where the file was found: its relative paths resolve against `MSAL_CONFIG_DIR`, else the
//! working directory. `examples/monorepo/` is such a workspace (two services, one file).
//!
//! ## Features
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `native-tls` | yes | HTTPS through the system's OpenSSL (reqwest's `native-tls`). |
//! | `rustls` | no | HTTPS through rustls (reqwest's `rustls`: aws-lc-rs, the platform verifier). Use it with `default-features = false`; `native-tls` wins when both are on, as in reqwest. |
//! | `rustls-ring` | no | HTTPS through rustls on the *ring* provider (no aws-lc-rs), the platform verifier; an application's process-default rustls provider, when installed, is used instead. The fastest first call of a process (docs/performance.md). Use it with `default-features = false`. It turns on rustls's `ring` provider: code elsewhere in the application that calls rustls's `ClientConfig::builder()` while aws-lc-rs is also on must install a process-default provider, and reqwest clients of the application's own that rely on msal's features for TLS need one too. |
//! | `redis` | no | The Redis token-cache back-end: `TokenCache::redis`, `cache = { redis = ... }` in msal.toml (without it, such an app fails to load with an error naming the feature). |
//! | `axum` | no | [`web_api::axum`]: the `AccessTokenLayer` and the `Caller` extractor for web APIs. |
//! | `tower` | no | [`downstream::BearerLayer`]: a tower layer that attaches the bearer token of a scope set to requests for a downstream API and answers a claims challenge once. |
//! | `reqwest-middleware` | no | [`downstream::BearerMiddleware`]: the same for a `reqwest_middleware::ClientWithMiddleware`. |
//! | `azure` | no | `azure_core::credentials::TokenCredential` (azure_core 1.x) for [`ConfidentialClientApplication`] and [`ManagedIdentityClient`], so Azure SDK clients authenticate with msal (see `msal_runtime::azure`). |
//!
//! One TLS feature is required (a build with neither is a compile error naming them).
//! Certificate assertions are signed with OpenSSL whichever feature carries HTTPS, so the
//! system's OpenSSL (`libssl-dev`) is needed in every build.
//!
//! ```toml
//! [dependencies]
//! msal = { version = "0.1", features = ["redis"] }                                 # OpenSSL TLS + Redis
//! # msal = { version = "0.1", default-features = false, features = ["rustls"] }    # rustls TLS
//! ```
//!
//! Always there: [`blocking`] (every grant without an async runtime, in the manner of
//! `reqwest::blocking`) and the `msal.acquire_token` tracing span of every acquisition
//! (fields and events in `docs/observability.md`; no secrets, no personal data unless
//! [`enable_pii_log`](ConfidentialClientApplicationBuilder::enable_pii_log)).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// Turns a unit struct into a typed client for one app of `msal.toml`, checked at compile time.
///
/// ```text
/// #[msal_app(config = "msal.toml")]                       // app `orders_daemon` (snake_case of the name)
/// pub struct OrdersDaemon;
///
/// #[msal_app(config = "../msal.toml", app = "orders_api")] // a workspace-level file, an explicit app
/// pub struct Api;
///
/// #[msal_app]                 // no `config`: msal.toml of this crate's directory or a parent,
/// pub struct BillingService;  // up to the workspace root (monorepos share one file)
/// ```
///
/// See the [crate documentation](crate#apps-from-msaltoml) for what it generates, and
/// [`msal_macros::msal_app`] for the attribute's reference.
pub use msal_macros::msal_app;
// The engine's public API, listed (not globbed) so that this facade is curated: one type
// per concept, `reqwest` and the engine's modules linked rather than inlined.
/// `azure_core`'s `TokenCredential` for applications and managed identity clients.
#[cfg(feature = "azure")]
#[doc(no_inline)]
pub use msal_runtime::azure;
#[doc(no_inline)]
pub use msal_runtime::{blocking, config, reqwest, web_sign_in};
pub use msal_runtime::{
    AccessToken, AccessTokenEntry, Account, AccountEntry, AppMetadataEntry, Assertion,
    AssertionContext, AssertionFuture, AuthCodeFlow, AuthCodeFlowOptions, AuthResponse,
    AuthenticationResult, Authority, AuthorityError, AuthorityKind, AzureCredentialKind,
    AzureEnvironment, BoxError, Certificate, ClientCredential, ClientSecret,
    ConfidentialClientApplication, ConfidentialClientApplicationBuilder, EnvLookup, Error,
    FlowCookie, FlowError, FlowLimits, ForClientOptions, HttpErrorKind, IdTokenEntry,
    IntoAuthority, IntoScopes, ManagedIdentity, ManagedIdentityClient,
    ManagedIdentityClientBuilder, ManagedIdentityError, ManagedIdentityErrorKind,
    ManagedIdentitySource, ManagedIdentityTokenOptions, PendingFlow, PendingFlows, RefreshToken,
    RefreshTokenEntry, Region, Result, RetryPolicy, Scopes, ServerError, SignOutScope,
    SilentOptions, TokenCache, TokenSource, Verify, FORBID_DEFAULT_IMDS_VAR,
    SYSTEM_ASSIGNED_CACHE_ID, WELL_KNOWN_HOSTS,
};
// MSAL Python parity (issue 12).
pub use msal_runtime::{
    AuthorizationCodeOptions, AuthorizationRequestOptions, HttpCache, HttpStateStore,
    OnBehalfOfOptions, RawResponse, StoreFuture,
};

pub mod web_api;

pub mod scope {
    //! Typed scope sets of [`#[msal_app]`](macro@crate::msal_app) apps.
    //!
    //! Each `scopes.NAME = [...]` of an app becomes a [`ScopeSet<App, Kind>`](ScopeSet)
    //! value, reached through the app's `scopes()`. The first parameter is the app's type,
    //! so a set of one app cannot be passed to another; the second is its kind:
    //! [`AppScopes`] for a `{resource}/.default` set (the only kind
    //! `acquire_token_for_client` accepts), [`UserScopes`] for named delegated scopes.
    //! User flows (auth code, on-behalf-of, silent, refresh) accept both.
    //!
    //! ```
    //! use msal::scope::{AppScopes, ScopeSet};
    //!
    //! #[msal::msal_app(config = "examples/msal.toml")]
    //! pub struct OrdersDaemon;
    //!
    //! let graph: ScopeSet<OrdersDaemon, AppScopes> = OrdersDaemon::scopes().graph;
    //! assert_eq!(graph.name(), "graph");
    //! assert_eq!(graph.compiled_scopes(), ["https://graph.microsoft.com/.default"]);
    //! ```

    use std::fmt;
    use std::hash::{Hash, Hasher};
    use std::marker::PhantomData;

    /// One named scope set of app `A`, of kind `K` ([`AppScopes`] or [`UserScopes`]).
    ///
    /// A small `Copy` handle: the scopes sent are those of the app's configuration as
    /// loaded at run time (a profile may point a set at another resource, never change
    /// its kind); [`compiled_scopes`](Self::compiled_scopes) are the ones in the file the
    /// program was compiled with.
    pub struct ScopeSet<A, K> {
        name: &'static str,
        index: usize,
        compiled: &'static [&'static str],
        marker: PhantomData<fn() -> (A, K)>,
    }

    impl<A, K> ScopeSet<A, K> {
        /// Used by `#[msal_app]`'s generated code only.
        #[doc(hidden)]
        pub const fn __new(
            name: &'static str,
            index: usize,
            compiled: &'static [&'static str],
        ) -> Self {
            ScopeSet {
                name,
                index,
                compiled,
                marker: PhantomData,
            }
        }

        /// Used by `#[msal_app]`'s generated code only.
        #[doc(hidden)]
        pub const fn __index(&self) -> usize {
            self.index
        }

        /// The set's name (`graph` for `scopes.graph = [...]`).
        pub const fn name(&self) -> &'static str {
            self.name
        }

        /// The scopes as written in the `msal.toml` the program was compiled with.
        pub const fn compiled_scopes(&self) -> &'static [&'static str] {
            self.compiled
        }
    }

    impl<A, K> Clone for ScopeSet<A, K> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<A, K> Copy for ScopeSet<A, K> {}

    impl<A, K> PartialEq for ScopeSet<A, K> {
        fn eq(&self, other: &Self) -> bool {
            self.index == other.index && self.name == other.name
        }
    }

    impl<A, K> Eq for ScopeSet<A, K> {}

    impl<A, K> Hash for ScopeSet<A, K> {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.name.hash(state);
        }
    }

    impl<A, K: ScopeKind> fmt::Debug for ScopeSet<A, K> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("ScopeSet")
                .field("app", &std::any::type_name::<A>())
                .field("name", &self.name)
                .field("kind", &K::NAME)
                .field("scopes", &self.compiled)
                .finish()
        }
    }

    /// The kind of a `{resource}/.default` set: usable for app-only tokens
    /// (`acquire_token_for_client`) as well as in user flows.
    #[derive(Debug)]
    pub enum AppScopes {}

    /// The kind of a set of named (delegated) scopes such as `User.Read`: usable only in
    /// flows that act for a user (auth code, on-behalf-of, silent, refresh).
    #[derive(Debug)]
    pub enum UserScopes {}

    mod sealed {
        pub trait Sealed {}
        impl Sealed for super::AppScopes {}
        impl Sealed for super::UserScopes {}
    }

    /// [`AppScopes`] or [`UserScopes`] (sealed).
    pub trait ScopeKind: sealed::Sealed + 'static {
        /// `"AppScopes"` or `"UserScopes"`.
        const NAME: &'static str;
        /// `true` for a `{resource}/.default` set.
        const IS_DEFAULT: bool;
    }

    impl ScopeKind for AppScopes {
        const NAME: &'static str = "AppScopes";
        const IS_DEFAULT: bool = true;
    }

    impl ScopeKind for UserScopes {
        const NAME: &'static str = "UserScopes";
        const IS_DEFAULT: bool = false;
    }
}

pub mod downstream {
    //! Calling downstream APIs with the bearer token of a typed scope set: the tower
    //! layer [`BearerLayer`] (feature `tower`) and the reqwest-middleware middleware
    //! [`BearerMiddleware`] (feature `reqwest-middleware`), both of which answer a claims
    //! challenge by acquiring a new token and retrying once. Everything of
    //! [`msal_runtime::downstream`] plus constructors from a
    //! [`#[msal_app]`](macro@crate::msal_app) client and one of its scope sets.
    //!
    //! ```
    //! use msal::downstream::{app_only, DownstreamApi};
    //!
    //! #[msal::msal_app(config = "examples/msal.toml")]
    //! pub struct OrdersDaemon;
    //!
    //! # fn run() -> msal::Result<()> {
    //! # let daemon = OrdersDaemon::from_application(
    //! #     msal::ConfidentialClientApplication::builder(OrdersDaemon::CLIENT_ID)
    //! #         .client_credential(msal::ClientCredential::secret("s3cret"))
    //! #         .build()?)?;
    //! // An app-only token for the `graph` set (a `.default` set; a user set is refused at
    //! // compile time).
    //! let graph: DownstreamApi = app_only(&daemon, OrdersDaemon::scopes().graph)?;
    //! assert_eq!(graph.scopes(), ["https://graph.microsoft.com/.default"]);
    //! # Ok(()) }
    //! ```

    pub use msal_runtime::downstream::*;

    use crate::scope::{AppScopes, ScopeKind, ScopeSet};
    use msal_runtime::{ConfidentialClientApplication, Result};

    /// A client generated by [`#[msal_app]`](macro@crate::msal_app) for an app with a
    /// credential; the attribute implements it.
    pub trait TypedApp {
        /// The application inside.
        fn application(&self) -> &ConfidentialClientApplication;
        /// The scopes of the set at `index`, as loaded at run time.
        #[doc(hidden)]
        fn __scopes_at(&self, index: usize) -> &[String];
    }

    /// App-only tokens (client credentials) for one `.default` scope set of `app`.
    pub fn app_only<A: TypedApp>(app: &A, set: ScopeSet<A, AppScopes>) -> Result<DownstreamApi> {
        DownstreamApi::app_only(app.application().clone(), app.__scopes_at(set.__index()))
    }

    /// Tokens on behalf of each request's caller (a [`UserAssertion`] extension) for one
    /// scope set of `app`.
    pub fn on_behalf_of<A: TypedApp, K: ScopeKind>(
        app: &A,
        set: ScopeSet<A, K>,
    ) -> Result<DownstreamApi> {
        DownstreamApi::on_behalf_of(app.application().clone(), app.__scopes_at(set.__index()))
    }
}

#[allow(non_camel_case_types)]
pub mod grants {
    //! The grants of `msal.toml` as types, named as in the file.
    //!
    //! A client generated by [`#[msal_app]`](macro@crate::msal_app) has the methods of
    //! every grant, but those of a grant its app does not enable require a trait that is
    //! never implemented, parameterized by one of these types: calling one is a compile
    //! error that names the grant to add and the app to add it to, e.g.
    //!
    //! ```text
    //! error[E0277]: `OrdersDaemon` cannot do this: app `orders_daemon` does not enable the `on_behalf_of` grant
    //!    = note: add "on_behalf_of" to the `grants` of [apps.orders_daemon] in msal.toml:5 (its grants: "client_credentials")
    //! ```
    //!
    //! They have no values; they exist for these messages.
    //!
    //! ```
    //! assert_eq!(std::any::type_name::<msal::grants::on_behalf_of>(), "msal::grants::on_behalf_of");
    //! ```

    /// `client_credentials`: app-only tokens.
    #[derive(Debug)]
    pub enum client_credentials {}
    /// `authorization_code`: users sign in.
    #[derive(Debug)]
    pub enum authorization_code {}
    /// `on_behalf_of`: a web API calls another API as its caller.
    #[derive(Debug)]
    pub enum on_behalf_of {}
    /// `refresh_token`: redeem refresh tokens obtained elsewhere.
    #[derive(Debug)]
    pub enum refresh_token {}
}

/// What code generated by `#[msal_app]` refers to. Not a public API: it may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use msal_runtime::config::{self, msal_config};

    use msal_config::{AppConfig, Grant};
    use msal_runtime::{
        Account, AuthCodeFlow, AuthCodeFlowOptions, AuthenticationResult,
        ConfidentialClientApplication, ConfidentialClientApplicationBuilder, EnvLookup, Error,
        ForClientOptions, ManagedIdentityClient, ManagedIdentityClientBuilder,
        ManagedIdentityTokenOptions, Result, Scopes, SilentOptions,
    };
    use std::fmt;
    use std::path::Path;
    use std::sync::Arc;

    /// A compile-time check that generated types are `Send + Sync`.
    pub const fn assert_send_sync<T: Send + Sync>() {}

    /// What the macro knows about one app at compile time.
    #[derive(Debug)]
    pub struct AppSpec {
        /// The app key (`orders_daemon`).
        pub name: &'static str,
        /// `msal.toml` as the attribute names it, for messages only: relative paths in it
        /// resolve at run time against `MSAL_CONFIG_DIR`, else the working directory
        /// ([`config::run_time_base`]), never against where the program was built.
        pub config_path: &'static str,
        /// The file's text at compile time, parsed at run time only when an overlay
        /// (`MSAL_PROFILE`, `MSAL_<APP>_<KEY>`) applies.
        pub config_text: &'static str,
        /// The grants methods were generated for.
        pub grants: &'static [Grant],
        /// The scope sets, in the order of the `scopes()` indices: `(name, is_default)`.
        pub scope_sets: &'static [(&'static str, bool)],
        /// `true` when compiled for `credential = { kind = "managed_identity" }` (the client
        /// wraps a [`ManagedIdentityClient`] and has only the app-token methods).
        pub managed_identity: bool,
        /// The app as the macro validated it (relative paths as written), built without
        /// parsing: used whenever no run-time overlay applies ([`config::overlay_applies`]).
        pub compiled: Option<fn() -> Result<AppConfig>>,
    }

    /// An authority of a compiled model, from the canonical string the macro validated
    /// (so it does not fail; if it ever did, the error names it).
    pub fn authority(canonical: &str, oidc: bool) -> Result<msal_config::Authority> {
        let parsed = if oidc {
            msal_config::Authority::oidc(canonical)
        } else {
            msal_config::Authority::parse(canonical)
        };
        parsed.map_err(|e| {
            Error::ConfigFile(format!(
                "the compiled-in authority `{canonical}` is not valid: {e}"
            ))
        })
    }

    fn process_env(k: &str) -> Option<String> {
        std::env::var(k).ok()
    }

    impl AppSpec {
        /// The embedded app, with the run-time overlays looked up through `env`.
        /// Without an overlay, that is the compiled model, its relative paths resolved
        /// like the embedded file's: nothing is parsed.
        fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<AppConfig> {
            if let Some(compiled) = self.compiled {
                if !config::overlay_applies(self.name, env) {
                    return config::rebase_embedded(compiled()?, env);
                }
            }
            let app = config::resolve_embedded(self.config_path, self.config_text, self.name, env)?;
            self.check(&app, Path::new(self.config_path))?;
            Ok(app)
        }

        fn check(&self, app: &AppConfig, path: &Path) -> Result<()> {
            let fail = |m: String| Error::ConfigFile(format!("{}: {m}", path.display()));
            if app.credential.is_managed_identity() != self.managed_identity {
                return Err(fail(format!(
                    "app `{}` has a `{}` credential but this program was compiled for {}",
                    self.name,
                    app.credential.kind(),
                    if self.managed_identity {
                        "a managed identity"
                    } else {
                        "an app registration (not a managed identity)"
                    }
                )));
            }
            app.check_shape(self.grants, self.scope_sets).map_err(fail)
        }

        /// `builder()` of a managed identity app: the embedded file, the process
        /// environment (read again on each request to detect the source).
        pub fn mi_builder(&self) -> Result<ManagedIdentityClientBuilder> {
            let app = self.resolve(&process_env)?;
            config::managed_identity_builder(&app, &process_env, EnvLookup::process())
        }

        /// `from_env()` of a managed identity app.
        pub fn mi_from_env(&'static self) -> Result<MiState> {
            self.mi_from_env_with(EnvLookup::process())
        }

        /// `from_env_with(lookup)` of a managed identity app: `env` serves the overlays and
        /// the source's variables.
        pub fn mi_from_env_with(&'static self, env: EnvLookup) -> Result<MiState> {
            let lookup = |k: &str| env.get(k);
            let app = self.resolve(&lookup)?;
            let client = config::managed_identity_builder(&app, &lookup, env.clone())?.build()?;
            self.mi_state(client, &app)
        }

        /// `from_config(path)` of a managed identity app.
        pub fn mi_from_config(&'static self, path: &Path) -> Result<MiState> {
            let source = std::fs::read_to_string(path)
                .map_err(|e| Error::ConfigFile(format!("cannot read {}: {e}", path.display())))?;
            let app = config::resolve_app(path, &source, self.name, &process_env)?;
            self.check(&app, path)?;
            let client =
                config::managed_identity_builder(&app, &process_env, EnvLookup::process())?
                    .build()?;
            self.mi_state(client, &app)
        }

        /// `from_client(client)` of a managed identity app.
        pub fn mi_from_client(&'static self, client: ManagedIdentityClient) -> Result<MiState> {
            let app = self.resolve(&process_env)?;
            self.mi_state(client, &app)
        }

        /// Each compiled scope set in canonical form, built once here so that no token
        /// call validates or sorts scopes again.
        fn set_scopes(&self, app: &AppConfig) -> Result<Arc<[Scopes]>> {
            self.scope_sets
                .iter()
                .map(|(name, _)| {
                    // `check` guarantees every compiled set exists.
                    let set = app.scopes.get(*name).map_or(&[][..], |s| &s.scopes[..]);
                    Scopes::new(set)
                })
                .collect()
        }

        fn mi_state(
            &'static self,
            client: ManagedIdentityClient,
            app: &AppConfig,
        ) -> Result<MiState> {
            Ok(MiState {
                spec: self,
                client,
                scopes: self.set_scopes(app)?,
            })
        }

        /// `builder()`: the embedded file, the process environment.
        pub fn builder(&self) -> Result<ConfidentialClientApplicationBuilder> {
            self.builder_with(&process_env)
        }

        /// The embedded file, variables looked up through `env`.
        pub fn builder_with(
            &self,
            env: &dyn Fn(&str) -> Option<String>,
        ) -> Result<ConfidentialClientApplicationBuilder> {
            let app = self.resolve(env)?;
            config::builder(&app, env)
        }

        /// `from_env()`.
        pub fn from_env(&'static self) -> Result<State> {
            self.from_env_with(&process_env)
        }

        /// `from_env_with(lookup)`.
        pub fn from_env_with(&'static self, env: &dyn Fn(&str) -> Option<String>) -> Result<State> {
            let app = self.resolve(env)?;
            let built = config::builder(&app, env)?.build()?;
            self.state(built, &app)
        }

        /// `from_config(path)`: a file read now, which must match the compiled shape.
        pub fn from_config(&'static self, path: &Path) -> Result<State> {
            let source = std::fs::read_to_string(path)
                .map_err(|e| Error::ConfigFile(format!("cannot read {}: {e}", path.display())))?;
            let app = config::resolve_app(path, &source, self.name, &process_env)?;
            self.check(&app, path)?;
            let built = config::builder(&app, &process_env)?.build()?;
            self.state(built, &app)
        }

        /// `from_application(app)`: scope sets and redirect URI from the embedded file
        /// with the process environment's overlays.
        pub fn from_application(
            &'static self,
            application: ConfidentialClientApplication,
        ) -> Result<State> {
            let app = self.resolve(&process_env)?;
            self.state(application, &app)
        }

        fn state(
            &'static self,
            application: ConfidentialClientApplication,
            app: &AppConfig,
        ) -> Result<State> {
            Ok(State {
                spec: self,
                app: application,
                scopes: self.set_scopes(app)?,
                redirect_uri: app.redirect_uri.as_deref().map(Arc::from),
            })
        }
    }

    /// The data behind a generated managed identity client.
    #[derive(Clone)]
    pub struct MiState {
        spec: &'static AppSpec,
        client: ManagedIdentityClient,
        scopes: Arc<[Scopes]>,
    }

    impl MiState {
        /// The managed identity client.
        pub fn client(&self) -> &ManagedIdentityClient {
            &self.client
        }

        /// The managed identity client, by value.
        pub fn into_client(self) -> ManagedIdentityClient {
            self.client
        }

        /// The run-time scopes of set `index`.
        pub fn scopes(&self, index: usize) -> &[String] {
            self.scopes.get(index).map_or(&[], Scopes::as_slice)
        }

        /// `Debug` without secrets.
        pub fn debug(&self, type_name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct(type_name)
                .field("app", &self.spec.name)
                .field("managed_identity", self.client.identity())
                .finish()
        }

        /// An app token for set `index`: the managed identity asks for its resource.
        pub async fn for_client(
            &self,
            set: usize,
            options: ForClientOptions,
        ) -> Result<AuthenticationResult> {
            let resource = config::resource_of(self.scopes(set))?;
            let mut o = ManagedIdentityTokenOptions::new();
            if let Some(c) = options.claims_challenge {
                o = o.claims_challenge(c);
            }
            self.client
                .acquire_token_for_client_with(&resource, o)
                .await
        }
    }

    /// The data behind a generated client.
    #[derive(Clone)]
    pub struct State {
        spec: &'static AppSpec,
        app: ConfidentialClientApplication,
        scopes: Arc<[Scopes]>,
        redirect_uri: Option<Arc<str>>,
    }

    impl State {
        /// The application.
        pub fn app(&self) -> &ConfidentialClientApplication {
            &self.app
        }

        /// The application, by value.
        pub fn into_app(self) -> ConfidentialClientApplication {
            self.app
        }

        /// The run-time scopes of set `index`.
        pub fn scopes(&self, index: usize) -> &[String] {
            self.scopes.get(index).map_or(&[], Scopes::as_slice)
        }

        /// Set `index` in canonical form (validated when the client was built).
        fn set(&self, index: usize) -> Result<&Scopes> {
            // Generated code only passes indices of its own sets, which `state` built.
            self.scopes
                .get(index)
                .ok_or_else(|| Error::InvalidInput(format!("no scope set #{index}")))
        }

        /// The configured redirect URI (auth code apps).
        pub fn redirect_uri(&self) -> &str {
            self.redirect_uri.as_deref().unwrap_or_default()
        }

        /// `Debug` without secrets.
        pub fn debug(&self, type_name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct(type_name)
                .field("app", &self.spec.name)
                .field("client_id", &self.app.client_id())
                .field("authority", &self.app.authority().as_str())
                .finish()
        }

        /// Client credentials.
        pub async fn for_client(
            &self,
            set: usize,
            options: ForClientOptions,
        ) -> Result<AuthenticationResult> {
            self.app
                .acquire_token_for_client_with(self.set(set)?, options)
                .await
        }

        /// Auth code: start, with the configured redirect URI by default.
        pub async fn initiate_auth_code_flow(
            &self,
            set: usize,
            mut options: AuthCodeFlowOptions,
        ) -> Result<AuthCodeFlow> {
            if options.redirect_uri.is_none() {
                options.redirect_uri = self.redirect_uri.as_deref().map(str::to_string);
            }
            self.app
                .initiate_auth_code_flow(self.set(set)?, options)
                .await
        }

        /// On-behalf-of.
        pub async fn on_behalf_of(
            &self,
            user_assertion: &str,
            set: usize,
            claims_challenge: Option<&str>,
        ) -> Result<AuthenticationResult> {
            match claims_challenge {
                None => {
                    self.app
                        .acquire_token_on_behalf_of(user_assertion, self.set(set)?)
                        .await
                }
                Some(c) => {
                    self.app
                        .acquire_token_on_behalf_of_with_claims(user_assertion, self.set(set)?, c)
                        .await
                }
            }
        }

        /// Silent, errors swallowed like `acquire_token_silent`.
        pub async fn silent(
            &self,
            set: usize,
            account: &Account,
        ) -> Result<Option<AuthenticationResult>> {
            self.app.acquire_token_silent(self.set(set)?, account).await
        }

        /// Silent with options and errors.
        pub async fn silent_with_error(
            &self,
            set: usize,
            account: &Account,
            options: SilentOptions,
        ) -> Result<Option<AuthenticationResult>> {
            self.app
                .acquire_token_silent_with_error(self.set(set)?, account, options)
                .await
        }

        /// Refresh token redemption.
        pub async fn by_refresh_token(
            &self,
            refresh_token: &str,
            set: usize,
        ) -> Result<AuthenticationResult> {
            self.app
                .acquire_token_by_refresh_token(refresh_token, self.set(set)?)
                .await
        }
    }
}
