//! The tower integration: [`BearerLayer`] wraps any `Service<http::Request<B>>` (a hyper
//! client, an axum router, a `tower::ServiceBuilder` stack).

use super::{claims_challenge, DownstreamApi, UserAssertion};
use crate::error::BoxError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A [`tower_layer::Layer`] that adds the bearer token of a [`DownstreamApi`] to each
/// request, and answers one claims challenge per request by retrying with a new token.
///
/// The request body must be `Clone` (e.g. `String`, `Bytes`, `Full<Bytes>`) so the
/// request can be sent again after a challenge. For on-behalf-of, each request carries
/// the caller's token as a [`UserAssertion`] extension.
///
/// ```
/// use msal_runtime::downstream::{BearerLayer, DownstreamApi};
/// use msal_runtime::{ClientCredential, ConfidentialClientApplication};
///
/// # fn run() -> msal_runtime::Result<()> {
/// let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
///     .client_credential(ClientCredential::secret("from a vault"))
///     .build()?;
/// let layer = BearerLayer::new(DownstreamApi::app_only(app, &["api://orders/.default"])?);
/// // tower::ServiceBuilder::new().layer(layer).service(http_client)
/// # let _ = layer;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BearerLayer {
    api: DownstreamApi,
}

impl BearerLayer {
    /// A layer for this downstream API.
    pub fn new(api: DownstreamApi) -> Self {
        BearerLayer { api }
    }
}

impl<S> tower_layer::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            api: self.api.clone(),
        }
    }
}

/// The service [`BearerLayer`] makes.
#[derive(Debug, Clone)]
pub struct Bearer<S> {
    inner: S,
    api: DownstreamApi,
}

fn copy_request<B: Clone>(req: &http::Request<B>) -> http::Request<B> {
    let mut copy = http::Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    copy
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for Bearer<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>
        + Clone
        + Send
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Clone + Send + 'static,
    RB: Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The ready service answers this call; a clone waits for the retry.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut spare = self.inner.clone();
        let api = self.api.clone();
        Box::pin(async move {
            let user = req.extensions().get::<UserAssertion>().cloned();
            let auth = api.authorization(user.as_ref(), None).await?;
            req.headers_mut().insert(http::header::AUTHORIZATION, auth);
            let again = copy_request(&req);
            let resp = inner.call(req).await.map_err(Into::into)?;
            let Some(claims) = challenge_of(&resp) else {
                return Ok(resp);
            };
            tracing::info!(
                kind = "claims_challenge",
                "the downstream API asked for more claims; retrying once with a new token"
            );
            drop(resp);
            let mut req = again;
            let auth = api.authorization(user.as_ref(), Some(&claims)).await?;
            req.headers_mut().insert(http::header::AUTHORIZATION, auth);
            std::future::poll_fn(|cx| spare.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            spare.call(req).await.map_err(Into::into)
        })
    }
}

/// The claims challenge of a 401 response, if it has one.
pub(super) fn challenge_of<RB>(resp: &http::Response<RB>) -> Option<String> {
    if resp.status() != http::StatusCode::UNAUTHORIZED {
        return None;
    }
    resp.headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(claims_challenge)
}
