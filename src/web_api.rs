//! Web APIs: callers' access tokens, validated; and, for an `#[msal_app]` app with
//! `accepts` in msal.toml, the accepted scopes and roles as types.
//!
//! ```toml
//! [apps.orders_api]
//! # client_id, authority, credential, grants, scopes as for any app, then:
//! accepts = { scopes = ["Orders.Read"], roles = ["Orders.Admin"], audiences = ["api://orders"] }
//! ```
//!
//! `#[msal_app] struct OrdersApi;` then implements [`WebApi`] and generates the module
//! `orders_api` (the struct's name in snake case) with one type per accepted permission:
//! `orders_api::scopes::OrdersRead`, `orders_api::roles::OrdersAdmin`. A handler states what
//! it needs as a type, [`Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>`](Caller);
//! a permission the app does not accept has no type, and another app's does not fit
//! ([`AcceptedBy`]): both are compile errors.
//!
//! With the `axum` feature, [`axum::AccessTokenLayer`] validates every request of a router
//! (answering 401/403 with an RFC 6750 `WWW-Authenticate` challenge) and `Caller` is an
//! extractor; the caller goes straight into `acquire_token_on_behalf_of`:
//!
//! ```no_run
//! use axum::{extract::State, routing::get, Router};
//! use msal::web_api::{axum::AccessTokenLayer, Caller, Requires};
//!
//! #[msal::msal_app(config = "examples/msal.toml", app = "orders_api")]
//! pub struct OrdersApi;
//!
//! async fn orders(
//!     State(api): State<OrdersApi>,
//!     caller: Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>,
//! ) -> Result<String, String> {
//!     let inventory = api
//!         .acquire_token_on_behalf_of(&caller, OrdersApi::scopes().inventory)
//!         .await
//!         .map_err(|e| e.to_string())?;
//!     Ok(format!("{:?}: {} s", caller.object_id(), inventory.expires_in()))
//! }
//!
//! # fn run() -> msal::Result<()> {
//! let api = OrdersApi::from_env()?;
//! let routes: Router = Router::new()
//!     .route("/api/orders", get(orders))
//!     .layer(AccessTokenLayer::for_app(&api)?)
//!     .with_state(api);
//! # Ok(()) }
//! ```
//!
//! Without axum, [`AccessTokenValidator`] does the same checks for any server.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

pub use msal_runtime::web_api::{
    bearer_token, AccessTokenValidator, AccessTokenValidatorBuilder, Rejection, RejectionKind,
    UserAssertion, ValidatedCaller,
};

use crate::{ConfidentialClientApplication, Result};

#[cfg(feature = "axum")]
pub mod axum;

/// Whether a [`Permission`] is a delegated scope or an app role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionKind {
    /// A delegated permission, in the token's `scp`.
    Scope,
    /// An app role, in the token's `roles`.
    Role,
}

/// A scope or app role as a type; `#[msal_app]` makes one per entry of `accepts`.
pub trait Permission: 'static {
    /// The permission as tokens carry it (`Orders.Read`).
    const VALUE: &'static str;
    /// Scope or role.
    const KIND: PermissionKind;
}

/// A [`Permission`] that web API `A` accepts (it is in `A`'s `accepts` in msal.toml).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a permission that `{A}` accepts",
    label = "not in the `accepts` of `{A}` in msal.toml",
    note = "`Requires<...>` takes the types #[msal_app] generated from `accepts.scopes` / `accepts.roles` of this app; add the permission there"
)]
pub trait AcceptedBy<A>: Permission {}

/// `accepts.tenants` as compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptedTenantsSpec {
    /// The authority's tenant.
    Authority,
    /// Any tenant.
    Any,
    /// These tenant ids.
    Listed(&'static [&'static str]),
}

/// `accepts` of a web API app, as compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptsSpec {
    /// `accepts.scopes`.
    pub scopes: &'static [&'static str],
    /// `accepts.roles`.
    pub roles: &'static [&'static str],
    /// `accepts.audiences` (besides the client id and `api://{client id}`).
    pub audiences: &'static [&'static str],
    /// `accepts.tenants`.
    pub tenants: AcceptedTenantsSpec,
}

/// A web API app: an `#[msal_app]` app whose msal.toml table has `accepts`.
pub trait WebApi: Send + Sync + 'static {
    /// The app's name in msal.toml.
    const APP_NAME: &'static str;
    /// What it accepts.
    const ACCEPTS: AcceptsSpec;

    /// The app (its client id, authority and signing-key cache are the validator's).
    fn application(&self) -> &ConfidentialClientApplication;

    /// A validator builder set up from `accepts` (adjust it, then `build()`).
    fn access_token_validator(&self) -> AccessTokenValidatorBuilder {
        let spec = Self::ACCEPTS;
        let mut b = AccessTokenValidator::builder(self.application())
            .accept_scopes(spec.scopes.iter().copied())
            .accept_roles(spec.roles.iter().copied());
        for a in spec.audiences {
            b = b.audience(*a);
        }
        match spec.tenants {
            AcceptedTenantsSpec::Authority => b,
            AcceptedTenantsSpec::Any => b.any_tenant(),
            AcceptedTenantsSpec::Listed(t) => b.tenants(t.iter().copied()),
        }
    }
}

/// What a [`Caller`] must carry beyond what the app accepts: [`Accepted`] (nothing more)
/// or [`Requires<P>`](Requires).
pub trait Requirement<A> {
    /// `Ok` when `caller` meets it, else the 403 to answer.
    fn check(caller: &ValidatedCaller) -> std::result::Result<(), Rejection>;
}

/// Any caller the app accepts (one of its accepted scopes or roles; the validator checks).
#[derive(Debug, Clone, Copy)]
pub struct Accepted;

impl<A> Requirement<A> for Accepted {
    fn check(_: &ValidatedCaller) -> std::result::Result<(), Rejection> {
        Ok(())
    }
}

/// A caller whose token carries permission `P` (or, for a pair `(P, Q)`, both).
pub struct Requires<P>(PhantomData<fn() -> P>);

fn require<P: Permission>(caller: &ValidatedCaller) -> std::result::Result<(), Rejection> {
    match P::KIND {
        PermissionKind::Scope => caller.require_scope(P::VALUE),
        PermissionKind::Role => caller.require_role(P::VALUE),
    }
}

impl<A, P: AcceptedBy<A>> Requirement<A> for Requires<P> {
    fn check(caller: &ValidatedCaller) -> std::result::Result<(), Rejection> {
        require::<P>(caller)
    }
}

impl<A, P: AcceptedBy<A>, Q: AcceptedBy<A>> Requirement<A> for Requires<(P, Q)> {
    fn check(caller: &ValidatedCaller) -> std::result::Result<(), Rejection> {
        require::<P>(caller).and_then(|()| require::<Q>(caller))
    }
}

/// The validated caller of web API `A`, meeting requirement `R`. Derefs to
/// [`ValidatedCaller`] (claims, scopes, roles), and is the user assertion of
/// `acquire_token_on_behalf_of`. `Debug` never shows the token.
pub struct Caller<A: WebApi, R: Requirement<A> = Accepted> {
    caller: ValidatedCaller,
    _marker: PhantomData<fn() -> (A, R)>,
}

impl<A: WebApi, R: Requirement<A>> Caller<A, R> {
    /// Checks `R` against a caller validated by `A`'s validator.
    pub fn new(caller: ValidatedCaller) -> std::result::Result<Self, Rejection> {
        R::check(&caller)?;
        Ok(Caller {
            caller,
            _marker: PhantomData,
        })
    }

    /// The validated caller.
    pub fn into_inner(self) -> ValidatedCaller {
        self.caller
    }
}

impl<A: WebApi, R: Requirement<A>> Deref for Caller<A, R> {
    type Target = ValidatedCaller;
    fn deref(&self) -> &ValidatedCaller {
        &self.caller
    }
}

impl<A: WebApi, R: Requirement<A>> Clone for Caller<A, R> {
    fn clone(&self) -> Self {
        Caller {
            caller: self.caller.clone(),
            _marker: PhantomData,
        }
    }
}

impl<A: WebApi, R: Requirement<A>> fmt::Debug for Caller<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Caller")
            .field(&A::APP_NAME)
            .field(&self.caller)
            .finish()
    }
}

impl<A: WebApi, R: Requirement<A>> UserAssertion for Caller<A, R> {
    fn user_assertion(&self) -> &str {
        self.caller.user_assertion()
    }
}

/// Builds `A`'s validator from its `accepts` (for servers other than axum).
pub fn validator_for<A: WebApi>(app: &A) -> Result<AccessTokenValidator> {
    app.access_token_validator().build()
}
