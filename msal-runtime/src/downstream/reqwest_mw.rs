//! The reqwest-middleware integration.

use super::{claims_challenge, DownstreamApi, UserAssertion};
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

/// A [`reqwest_middleware::Middleware`] that adds the bearer token of a
/// [`DownstreamApi`] to each request, and answers one claims challenge per request by
/// retrying with a new token (when the request's body can be cloned; a streaming body's
/// 401 is returned as is).
///
/// For on-behalf-of, each request carries the caller's token:
/// `client.get(url).with_extension(UserAssertion::new(token))`.
///
/// ```
/// use msal_runtime::downstream::{BearerMiddleware, DownstreamApi};
/// use msal_runtime::{ClientCredential, ConfidentialClientApplication};
///
/// # fn run() -> msal_runtime::Result<()> {
/// let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
///     .client_credential(ClientCredential::secret("from a vault"))
///     .build()?;
/// let api = DownstreamApi::app_only(app, &["api://orders/.default"])?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(api))
///     .build();
/// # let _ = client;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BearerMiddleware {
    api: DownstreamApi,
}

impl BearerMiddleware {
    /// A middleware for this downstream API.
    pub fn new(api: DownstreamApi) -> Self {
        BearerMiddleware { api }
    }
}

fn challenge_of(resp: &reqwest::Response) -> Option<String> {
    if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
        return None;
    }
    resp.headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(claims_challenge)
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let user = extensions.get::<UserAssertion>().cloned();
        let auth = self
            .api
            .authorization(user.as_ref(), None)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut().insert(http::header::AUTHORIZATION, auth);
        let again = req.try_clone();
        let resp = next.clone().run(req, extensions).await?;
        let (Some(claims), Some(mut req)) = (challenge_of(&resp), again) else {
            return Ok(resp);
        };
        tracing::info!(
            kind = "claims_challenge",
            "the downstream API asked for more claims; retrying once with a new token"
        );
        let auth = self
            .api
            .authorization(user.as_ref(), Some(&claims))
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut().insert(http::header::AUTHORIZATION, auth);
        next.run(req, extensions).await
    }
}
