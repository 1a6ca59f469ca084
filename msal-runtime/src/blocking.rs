//! A blocking API for programs without an async runtime, in the manner of
//! `reqwest::blocking`: each call runs the async implementation to completion on a
//! runtime that this module owns (one per process, started on first use, one worker
//! thread named `msal-blocking` that drives connections and background refreshes).
//!
//! Every grant is here: client credentials, on-behalf-of, the authorization code flow,
//! silent acquisition, refresh tokens and managed identity. The clients wrap the async ones
//! and share their cache and connections, so one program can use both.
//!
//! Calling a blocking method from inside an async runtime would stall that runtime's
//! thread; it returns [`Error::InvalidInput`] instead (use the async API there).
//!
//! ```no_run
//! use msal_runtime::blocking::ConfidentialClientApplication;
//! use msal_runtime::ClientCredential;
//!
//! fn main() -> msal_runtime::Result<()> {
//!     let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
//!         .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
//!         .client_credential(ClientCredential::secret(std::env::var("APP_SECRET").unwrap_or_default()))
//!         .build()?;
//!     let token = ConfidentialClientApplication::new(app)
//!         .acquire_token_for_client(&["https://graph.microsoft.com/.default"])?;
//!     println!("{} s left", token.expires_in());
//!     Ok(())
//! }
//! ```

use crate::error::{Error, Result};
use crate::grant::{AuthCodeFlow, AuthCodeFlowOptions, ForClientOptions, SilentOptions};
use crate::managed_identity::{
    ManagedIdentity, ManagedIdentitySource, ManagedIdentityTokenOptions,
};
use crate::result::{Account, AuthenticationResult};
use crate::scope::IntoScopes;
use crate::{Authority, TokenCache};
use std::future::Future;
use std::sync::OnceLock;

/// The process-wide runtime of the blocking API.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("msal-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::InvalidInput(format!("the blocking API could not start its runtime: {e}"))
        })
}

/// Runs `call` to completion on the blocking API's runtime.
fn wait<T>(call: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::InvalidInput(
            "msal's blocking API was called from inside an async runtime, where it would \
             block a worker thread; use the async API there"
                .into(),
        ));
    }
    runtime()?.block_on(call)
}

/// The blocking form of [`crate::ConfidentialClientApplication`]: the same methods,
/// returning when the result is there. Cheap to clone.
///
/// Build the async application as usual (no runtime is needed to build it) and wrap it.
#[derive(Debug, Clone)]
pub struct ConfidentialClientApplication {
    inner: crate::ConfidentialClientApplication,
}

impl From<crate::ConfidentialClientApplication> for ConfidentialClientApplication {
    fn from(inner: crate::ConfidentialClientApplication) -> Self {
        ConfidentialClientApplication { inner }
    }
}

impl ConfidentialClientApplication {
    /// Starts building the (async) application to wrap with [`new`](Self::new).
    pub fn builder(client_id: impl Into<String>) -> crate::ConfidentialClientApplicationBuilder {
        crate::ConfidentialClientApplication::builder(client_id)
    }

    /// Wraps an application; clones of it (async or blocking) share cache and connections.
    pub fn new(app: crate::ConfidentialClientApplication) -> Self {
        app.into()
    }

    /// The async application inside.
    pub fn async_app(&self) -> &crate::ConfidentialClientApplication {
        &self.inner
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.inner.client_id()
    }

    /// The configured authority.
    pub fn authority(&self) -> &Authority {
        self.inner.authority()
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        self.inner.token_cache()
    }

    /// See [`acquire_token_for_client`](crate::ConfidentialClientApplication::acquire_token_for_client).
    pub fn acquire_token_for_client(
        &self,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        wait(self.inner.acquire_token_for_client(scopes))
    }

    /// See [`acquire_token_for_client_with`](crate::ConfidentialClientApplication::acquire_token_for_client_with).
    pub fn acquire_token_for_client_with(
        &self,
        scopes: impl IntoScopes,
        options: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        wait(self.inner.acquire_token_for_client_with(scopes, options))
    }

    /// See [`remove_tokens_for_client`](crate::ConfidentialClientApplication::remove_tokens_for_client).
    pub fn remove_tokens_for_client(&self) -> Result<usize> {
        wait(self.inner.remove_tokens_for_client())
    }

    /// See [`initiate_auth_code_flow`](crate::ConfidentialClientApplication::initiate_auth_code_flow).
    pub fn initiate_auth_code_flow(
        &self,
        scopes: impl IntoScopes,
        options: AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow> {
        wait(self.inner.initiate_auth_code_flow(scopes, options))
    }

    /// See [`acquire_token_by_auth_code_flow`](crate::ConfidentialClientApplication::acquire_token_by_auth_code_flow).
    pub fn acquire_token_by_auth_code_flow<I, K, V>(
        &self,
        flow: &AuthCodeFlow,
        auth_response: I,
    ) -> Result<AuthenticationResult>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        wait(
            self.inner
                .acquire_token_by_auth_code_flow(flow, auth_response),
        )
    }

    /// See [`acquire_token_on_behalf_of`](crate::ConfidentialClientApplication::acquire_token_on_behalf_of).
    pub fn acquire_token_on_behalf_of(
        &self,
        user_assertion: &str,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        wait(
            self.inner
                .acquire_token_on_behalf_of(user_assertion, scopes),
        )
    }

    /// See [`acquire_token_on_behalf_of_with_claims`](crate::ConfidentialClientApplication::acquire_token_on_behalf_of_with_claims).
    pub fn acquire_token_on_behalf_of_with_claims(
        &self,
        user_assertion: &str,
        scopes: impl IntoScopes,
        claims_challenge: &str,
    ) -> Result<AuthenticationResult> {
        wait(self.inner.acquire_token_on_behalf_of_with_claims(
            user_assertion,
            scopes,
            claims_challenge,
        ))
    }

    /// See [`get_accounts`](crate::ConfidentialClientApplication::get_accounts).
    pub fn get_accounts(&self, username: Option<&str>) -> Result<Vec<Account>> {
        wait(self.inner.get_accounts(username))
    }

    /// See [`acquire_token_silent`](crate::ConfidentialClientApplication::acquire_token_silent).
    pub fn acquire_token_silent(
        &self,
        scopes: impl IntoScopes,
        account: &Account,
    ) -> Result<Option<AuthenticationResult>> {
        wait(self.inner.acquire_token_silent(scopes, account))
    }

    /// See [`acquire_token_silent_with_error`](crate::ConfidentialClientApplication::acquire_token_silent_with_error).
    pub fn acquire_token_silent_with_error(
        &self,
        scopes: impl IntoScopes,
        account: &Account,
        options: SilentOptions,
    ) -> Result<Option<AuthenticationResult>> {
        wait(
            self.inner
                .acquire_token_silent_with_error(scopes, account, options),
        )
    }

    /// See [`acquire_token_by_refresh_token`](crate::ConfidentialClientApplication::acquire_token_by_refresh_token).
    pub fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult> {
        wait(
            self.inner
                .acquire_token_by_refresh_token(refresh_token, scopes),
        )
    }

    /// See [`sign_out_url`](crate::ConfidentialClientApplication::sign_out_url).
    pub fn sign_out_url(&self, post_logout_redirect_uri: Option<&str>) -> Result<Option<String>> {
        wait(self.inner.sign_out_url(post_logout_redirect_uri))
    }

    /// See [`remove_account`](crate::ConfidentialClientApplication::remove_account).
    pub fn remove_account(&self, account: &Account) -> Result<()> {
        wait(self.inner.remove_account(account))
    }
}

/// The blocking form of [`crate::ManagedIdentityClient`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ManagedIdentityClient {
    inner: crate::ManagedIdentityClient,
}

impl From<crate::ManagedIdentityClient> for ManagedIdentityClient {
    fn from(inner: crate::ManagedIdentityClient) -> Self {
        ManagedIdentityClient { inner }
    }
}

impl ManagedIdentityClient {
    /// Starts building the (async) client to wrap with [`new`](Self::new).
    pub fn builder(identity: ManagedIdentity) -> crate::ManagedIdentityClientBuilder {
        crate::ManagedIdentityClient::builder(identity)
    }

    /// Wraps a managed identity client.
    pub fn new(client: crate::ManagedIdentityClient) -> Self {
        client.into()
    }

    /// The async client inside.
    pub fn async_client(&self) -> &crate::ManagedIdentityClient {
        &self.inner
    }

    /// The identity this client acquires tokens for.
    pub fn identity(&self) -> &ManagedIdentity {
        self.inner.identity()
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        self.inner.token_cache()
    }

    /// See [`get_managed_identity_source`](crate::ManagedIdentityClient::get_managed_identity_source).
    pub fn get_managed_identity_source(&self) -> ManagedIdentitySource {
        self.inner.get_managed_identity_source()
    }

    /// See [`acquire_token_for_client`](crate::ManagedIdentityClient::acquire_token_for_client).
    pub fn acquire_token_for_client(&self, resource: &str) -> Result<AuthenticationResult> {
        wait(self.inner.acquire_token_for_client(resource))
    }

    /// See [`acquire_token_for_client_with`](crate::ManagedIdentityClient::acquire_token_for_client_with).
    pub fn acquire_token_for_client_with(
        &self,
        resource: &str,
        options: ManagedIdentityTokenOptions,
    ) -> Result<AuthenticationResult> {
        wait(self.inner.acquire_token_for_client_with(resource, options))
    }
}
