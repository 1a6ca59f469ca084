//! axum: a tower layer that validates the bearer token of every request, and the
//! [`Caller`] extractor (feature `axum`).
//!
//! ```no_run
//! # use axum::{routing::get, Router};
//! # use msal::web_api::{axum::AccessTokenLayer, Caller};
//! # #[msal::msal_app(config = "examples/msal.toml", app = "orders_api")]
//! # pub struct OrdersApi;
//! # async fn orders(caller: Caller<OrdersApi>) -> String { caller.scopes().join(" ") }
//! # fn run(api: OrdersApi) -> msal::Result<()> {
//! let app: Router = Router::new()
//!     .route("/api/orders", get(orders))
//!     .layer(AccessTokenLayer::for_app(&api)?)
//!     .with_state(api);
//! # Ok(()) }
//! ```
//!
//! A request without a valid token never reaches the handler: the layer answers 401
//! (`WWW-Authenticate: Bearer` or `Bearer error="invalid_token", ...`), 403
//! (`insufficient_scope`, a token with none of the accepted scopes or roles) or 503 (the
//! authority's keys cannot be had). The extractor then checks the handler's
//! [`Requires`](super::Requires) (403 `insufficient_scope` naming the scope).
//!
//! The layer also leaves the [`ValidatedCaller`] itself in the request's extensions, for
//! middleware that does not know the app type (`req.extensions().get::<ValidatedCaller>()`)
//! and handlers taking `Extension<ValidatedCaller>`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AccessTokenValidator, Caller, Rejection, Requirement, ValidatedCaller, WebApi};
use crate::Result;

/// What the layer leaves in the request's extensions for `A`'s extractor.
struct Validated<A> {
    caller: ValidatedCaller,
    _app: PhantomData<fn() -> A>,
}

impl<A> Clone for Validated<A> {
    fn clone(&self) -> Self {
        Validated {
            caller: self.caller.clone(),
            _app: PhantomData,
        }
    }
}

/// Validates the `Authorization: Bearer` token of every request for web API `A`; see the
/// [module docs](self).
pub struct AccessTokenLayer<A> {
    validator: Arc<AccessTokenValidator>,
    _app: PhantomData<fn() -> A>,
}

impl<A> Clone for AccessTokenLayer<A> {
    fn clone(&self) -> Self {
        AccessTokenLayer {
            validator: self.validator.clone(),
            _app: PhantomData,
        }
    }
}

impl<A: WebApi> AccessTokenLayer<A> {
    /// The layer of `app`, accepting what its `accepts` in msal.toml says.
    pub fn for_app(app: &A) -> Result<Self> {
        Ok(Self::new(app.access_token_validator().build()?))
    }

    /// The layer with a validator of your own making for `A` (e.g. from
    /// [`WebApi::access_token_validator`] with more audiences).
    pub fn new(validator: AccessTokenValidator) -> Self {
        AccessTokenLayer {
            validator: Arc::new(validator),
            _app: PhantomData,
        }
    }
}

impl<A, S> tower::Layer<S> for AccessTokenLayer<A> {
    type Service = AccessTokenService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessTokenService {
            inner,
            validator: self.validator.clone(),
            _app: PhantomData,
        }
    }
}

/// The service [`AccessTokenLayer`] wraps around a router or route.
pub struct AccessTokenService<S, A> {
    inner: S,
    validator: Arc<AccessTokenValidator>,
    _app: PhantomData<fn() -> A>,
}

impl<S: Clone, A> Clone for AccessTokenService<S, A> {
    fn clone(&self) -> Self {
        AccessTokenService {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            _app: PhantomData,
        }
    }
}

impl<S, A, B> tower::Service<Request<B>> for AccessTokenService<S, A>
where
    S: tower::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: WebApi,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual dance).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let validator = self.validator.clone();
        Box::pin(async move {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match validator.validate_header(header).await {
                Ok(caller) => {
                    // Untyped, for other middleware and `Extension<ValidatedCaller>`.
                    req.extensions_mut().insert(caller.clone());
                    req.extensions_mut().insert(Validated::<A> {
                        caller,
                        _app: PhantomData,
                    });
                    inner.call(req).await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

/// Why a [`Caller`] could not be extracted.
#[derive(Debug)]
pub enum CallerRejection {
    /// The token lacks what the handler requires (403 with the challenge).
    Refused(Rejection),
    /// The route is not behind an [`AccessTokenLayer`] for this app: a server bug (500).
    NoLayer(&'static str),
}

impl IntoResponse for CallerRejection {
    fn into_response(self) -> Response {
        match self {
            CallerRejection::Refused(r) => r.into_response(),
            CallerRejection::NoLayer(app) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("this route has no AccessTokenLayer for web API `{app}`"),
            )
                .into_response(),
        }
    }
}

impl<S, A, R> FromRequestParts<S> for Caller<A, R>
where
    S: Send + Sync,
    A: WebApi,
    R: Requirement<A>,
{
    type Rejection = CallerRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let validated = parts
            .extensions
            .get::<Validated<A>>()
            .ok_or(CallerRejection::NoLayer(A::APP_NAME))?;
        Caller::new(validated.caller.clone()).map_err(CallerRejection::Refused)
    }
}
