//! MSAL Python's older and lower-level entry points, for code ported from Python: the
//! authorization URL and code redemption without the flow object, a redemption asking for
//! a subset of the flow's scopes, and the "on-behalf-of, then silent" hand-off.

use crate::app::{ConfidentialClientApplication, ConfidentialClientApplicationBuilder};
use crate::error::Result;
use crate::grant::{
    AuthCodeFlow, AuthorizationCodeOptions, AuthorizationRequestOptions, OnBehalfOfOptions,
};
use crate::result::AuthenticationResult;
use crate::scope::IntoScopes;
use std::collections::HashMap;

impl ConfidentialClientApplication {
    /// MSAL Python's `get_authorization_request_url`: the URL to send the user to, built
    /// from what you give and nothing more (no generated state, nonce or verifier; PKCE
    /// when [`AuthorizationRequestOptions::pkce`] is set). Redeem the code with
    /// [`acquire_token_by_authorization_code`](Self::acquire_token_by_authorization_code).
    /// New code should prefer [`initiate_auth_code_flow`](Self::initiate_auth_code_flow),
    /// which keeps state, nonce and PKCE for you.
    ///
    /// ```no_run
    /// use msal_runtime::{AuthorizationRequestOptions, ConfidentialClientApplication};
    ///
    /// # async fn run(app: &ConfidentialClientApplication) -> msal_runtime::Result<()> {
    /// let url = app
    ///     .get_authorization_request_url(
    ///         &["User.Read"],
    ///         AuthorizationRequestOptions::new("https://app.example.com/callback")
    ///             .state("kept-in-the-session"),
    ///     )
    ///     .await?;
    /// println!("sign in at {url}");
    /// # Ok(()) }
    /// ```
    pub async fn get_authorization_request_url(
        &self,
        scopes: impl IntoScopes,
        options: AuthorizationRequestOptions,
    ) -> Result<String> {
        let scopes = scopes.into_scopes()?;
        let state = self.state();
        state
            .within_deadline(state.authorization_request_url(scopes.as_slice(), options))
            .await
    }

    /// MSAL Python's `acquire_token_by_authorization_code`: redeems a code from a URL made by
    /// [`get_authorization_request_url`](Self::get_authorization_request_url). Checking
    /// the redirect's `state` is yours to do; the ID token is validated (signature, issuer,
    /// audience, expiry, and the raw nonce when given), and the user's tokens are cached.
    ///
    /// ```no_run
    /// use msal_runtime::{AuthorizationCodeOptions, ConfidentialClientApplication};
    ///
    /// # async fn run(app: &ConfidentialClientApplication, code: &str) -> msal_runtime::Result<()> {
    /// let result = app
    ///     .acquire_token_by_authorization_code(
    ///         code,
    ///         &["User.Read"],
    ///         AuthorizationCodeOptions::new("https://app.example.com/callback"),
    ///     )
    ///     .await?;
    /// println!("signed in: {:?}", result.account.map(|a| a.username));
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_by_authorization_code(
        &self,
        code: &str,
        scopes: impl IntoScopes,
        options: AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult> {
        let scopes = scopes.into_scopes()?;
        let state = self.state();
        state
            .within_deadline(state.acquire_token_by_authorization_code(
                code,
                scopes.as_slice(),
                options,
            ))
            .await
    }

    /// [`acquire_token_by_auth_code_flow`](Self::acquire_token_by_auth_code_flow) asking
    /// for `scopes`, a subset of the scopes the flow started with (MSAL Python's `scopes`
    /// argument); a scope the flow did not request is refused before any request.
    ///
    /// ```no_run
    /// # async fn run(
    /// #     app: &msal_runtime::ConfidentialClientApplication,
    /// #     flow: &msal_runtime::AuthCodeFlow,
    /// #     query: Vec<(String, String)>,
    /// # ) -> msal_runtime::Result<()> {
    /// // The flow asked for User.Read and Mail.Read; redeem the code for User.Read only.
    /// let result = app
    ///     .acquire_token_by_auth_code_flow_with_scopes(flow, query, &["User.Read"])
    ///     .await?;
    /// # let _ = result; Ok(()) }
    /// ```
    pub async fn acquire_token_by_auth_code_flow_with_scopes<I, K, V>(
        &self,
        flow: &AuthCodeFlow,
        auth_response: I,
        scopes: impl IntoScopes,
    ) -> Result<AuthenticationResult>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let scopes = scopes.into_scopes()?;
        let response: HashMap<String, String> = auth_response
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let state = self.state();
        state
            .within_deadline(state.acquire_token_by_auth_code_flow_scoped(
                flow,
                response,
                Some(scopes.as_slice()),
            ))
            .await
    }
}

impl ConfidentialClientApplication {
    /// [`acquire_token_on_behalf_of`](Self::acquire_token_on_behalf_of) with per-call
    /// options: a claims challenge (bypasses the cache) or forwarded client claims (MSAL
    /// Python's `forwarded_client_claims`: merged into `claims`, and their tokens cached
    /// under MSAL's extended cache key, apart from the assertion's plain tokens).
    ///
    /// ```no_run
    /// use msal_runtime::{ConfidentialClientApplication, OnBehalfOfOptions};
    ///
    /// # async fn run(api: &ConfidentialClientApplication, incoming: &str) -> msal_runtime::Result<()> {
    /// let opts = OnBehalfOfOptions::default()
    ///     .forwarded_client_claims(r#"{"access_token":{"xms_az_nwperimid":{"values":["p1"]}}}"#);
    /// let t = api
    ///     .acquire_token_on_behalf_of_with(incoming, &["https://graph.microsoft.com/User.Read"], opts)
    ///     .await?;
    /// # let _ = t; Ok(()) }
    /// ```
    pub async fn acquire_token_on_behalf_of_with(
        &self,
        user_assertion: &str,
        scopes: impl IntoScopes,
        options: OnBehalfOfOptions,
    ) -> Result<AuthenticationResult> {
        let scopes = scopes.into_scopes()?;
        let state = self.state();
        state
            .within_deadline(state.acquire_token_on_behalf_of_with(
                user_assertion,
                scopes.as_slice(),
                options,
            ))
            .await
    }
}

impl ConfidentialClientApplicationBuilder {
    /// MSAL Python's "on-behalf-of, then silent" hand-off (default off). MSAL Python caches
    /// an on-behalf-of result as an ordinary sign-in of the user, so code ported from it
    /// calls `get_accounts` and `acquire_token_silent` after `acquire_token_on_behalf_of`.
    /// This library keeps on-behalf-of tokens per incoming assertion, apart from sign-in
    /// tokens (as MSAL.NET and msal-node do); with this option on, each on-behalf-of
    /// result is *also* cached as the user's own access and refresh token, so that pattern
    /// keeps working. Leave it off unless you need it: any code holding the account can
    /// then use the downstream token without presenting the user's assertion.
    ///
    /// ```
    /// use msal_runtime::{ClientCredential, ConfidentialClientApplication};
    ///
    /// let api = ConfidentialClientApplication::builder("my-api-client-id")
    ///     .client_credential(ClientCredential::secret("s3cret"))
    ///     .on_behalf_of_silent_handoff(true)
    ///     .build();
    /// assert!(api.is_ok());
    /// ```
    pub fn on_behalf_of_silent_handoff(mut self, enabled: bool) -> Self {
        self.options_mut().obo_silent_handoff = enabled;
        self
    }
}
