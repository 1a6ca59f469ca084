//! Client credentials: a secret, a certificate (client assertion signed with OpenSSL),
//! or an assertion supplied by the application.

mod assertion;
mod certificate;
mod workload;

pub(crate) use assertion::AssertionCache;
pub use certificate::Certificate;
pub use workload::{AzureCredentialKind, AzureEnvironment};

use crate::error::Result;
use crate::secret::{Assertion, ClientSecret};
use std::fmt;
use std::sync::Arc;

/// The JWT bearer client-assertion type.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What an assertion callback is told about the request it signs for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AssertionContext {
    /// The application's client id.
    pub client_id: String,
    /// The token endpoint the assertion will be sent to (its `aud`).
    pub token_endpoint: String,
}

type AssertionFn = dyn Fn(&AssertionContext) -> Result<String> + Send + Sync;
pub use assertion::AssertionFuture;
pub(crate) use assertion::AsyncAssertionFn;

/// How the application proves its identity to the authority.
///
/// ```
/// use msal_runtime::ClientCredential;
///
/// let by_secret = ClientCredential::secret("s3cr3t");
/// let by_callback = ClientCredential::assertion_callback(|ctx| {
///     // e.g. read a federated token file that a sidecar refreshes
///     Ok(format!("assertion-for-{}", ctx.client_id))
/// });
/// assert_eq!(format!("{by_secret:?}"), "ClientCredential::Secret([redacted])");
/// # let _ = by_callback;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret, sent as `client_secret` in the request body.
    Secret(ClientSecret),
    /// A certificate: each request carries a signed client assertion.
    Certificate(Certificate),
    /// A fixed client assertion (it will eventually expire; prefer a callback).
    Assertion(Assertion),
    /// A callback that returns a fresh assertion; called for every token request.
    AssertionCallback(Arc<AssertionFn>),
    /// An async callback that returns a fresh assertion (e.g. fetched from another
    /// service); awaited for every token request.
    AsyncAssertionCallback(Arc<AsyncAssertionFn>),
}

impl ClientCredential {
    /// A client secret.
    pub fn secret(secret: impl Into<String>) -> Self {
        ClientCredential::Secret(ClientSecret::new(secret))
    }

    /// A certificate; the assertion header carries its thumbprint.
    pub fn certificate(certificate: Certificate) -> Self {
        ClientCredential::Certificate(certificate)
    }

    /// A certificate that also sends its chain (`x5c`) for Subject Name + Issuer
    /// authentication, so it can be rotated without re-registering the app.
    pub fn certificate_with_x5c(certificate: Certificate) -> Self {
        ClientCredential::Certificate(certificate.send_x5c(true))
    }

    /// A fixed, pre-signed client assertion.
    pub fn assertion(assertion: impl Into<String>) -> Self {
        ClientCredential::Assertion(Assertion::new(assertion))
    }

    /// A callback producing a client assertion for each token request.
    pub fn assertion_callback<F>(callback: F) -> Self
    where
        F: Fn(&AssertionContext) -> Result<String> + Send + Sync + 'static,
    {
        ClientCredential::AssertionCallback(Arc::new(callback))
    }

    /// An async callback producing a client assertion for each token request: for an
    /// assertion that takes I/O to get (a token service, a secret store), without blocking
    /// a runtime thread. The context is passed by value so the future can own it.
    ///
    /// ```
    /// use msal_runtime::ClientCredential;
    ///
    /// let credential = ClientCredential::assertion_callback_async(|ctx| async move {
    ///     // e.g. ask a token service for a federated credential
    ///     Ok(format!("assertion-for-{}", ctx.client_id))
    /// });
    /// assert_eq!(
    ///     format!("{credential:?}"),
    ///     "ClientCredential::AsyncAssertionCallback(..)"
    /// );
    /// ```
    pub fn assertion_callback_async<F, Fut>(callback: F) -> Self
    where
        F: Fn(AssertionContext) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<String>> + Send + 'static,
    {
        ClientCredential::AsyncAssertionCallback(Arc::new(move |ctx| Box::pin(callback(ctx))))
    }

    /// A short name for logs and errors.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ClientCredential::Secret(_) => "secret",
            ClientCredential::Certificate(_) => "certificate",
            ClientCredential::Assertion(_) => "assertion",
            ClientCredential::AssertionCallback(_) => "assertion callback",
            ClientCredential::AsyncAssertionCallback(_) => "async assertion callback",
        }
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCredential::Secret(_) => f.write_str("ClientCredential::Secret([redacted])"),
            ClientCredential::Certificate(c) => write!(f, "ClientCredential::Certificate({c:?})"),
            ClientCredential::Assertion(_) => {
                f.write_str("ClientCredential::Assertion([redacted])")
            }
            ClientCredential::AssertionCallback(_) => {
                f.write_str("ClientCredential::AssertionCallback(..)")
            }
            ClientCredential::AsyncAssertionCallback(_) => {
                f.write_str("ClientCredential::AsyncAssertionCallback(..)")
            }
        }
    }
}
