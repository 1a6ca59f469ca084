//! The Azure SDK for Rust: [`azure_core::credentials::TokenCredential`] (azure_core 1.x)
//! for [`ConfidentialClientApplication`] and [`ManagedIdentityClient`] (feature `azure`),
//! so any Azure SDK client authenticates with msal: its tokens come from (and go to)
//! msal's token cache, with its retries, throttling and tracing.
//!
//! An application gets app-only tokens (client credentials) for the scopes the SDK asks
//! for (`https://vault.azure.net/.default`, ...); a managed identity client asks for the
//! resource of the one scope it is given. For a `#[msal_app]` client, pass its
//! `application()` (cloned) or `client()`.
//!
//! ```no_run
//! use azure_core::credentials::TokenCredential;
//! use msal_runtime::{ClientCredential, ConfidentialClientApplication};
//! use std::sync::Arc;
//!
//! # fn run() -> msal_runtime::Result<()> {
//! let app = ConfidentialClientApplication::builder("6f1c2d3e-0000-4000-8000-000000000001")
//!     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
//!     .client_credential(ClientCredential::secret(std::env::var("APP_SECRET").unwrap_or_default()))
//!     .build()?;
//! let credential: Arc<dyn TokenCredential> = Arc::new(app);
//! // e.g. azure_security_keyvault_secrets::SecretClient::new(vault_url, credential, None)
//! # let _ = credential;
//! # Ok(()) }
//! ```

use crate::error::Error;
use crate::result::AuthenticationResult;
use crate::{ConfidentialClientApplication, ManagedIdentityClient};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::time::OffsetDateTime;

fn to_azure(result: AuthenticationResult) -> azure_core::Result<AccessToken> {
    let expires_on = i64::try_from(result.expires_on)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                "the token's expiry is out of range",
            )
        })?;
    Ok(AccessToken::new(
        result.access_token.secret().to_string(),
        expires_on,
    ))
}

fn credential_error(e: Error) -> azure_core::Error {
    azure_core::Error::new(ErrorKind::Credential, e)
}

#[async_trait::async_trait]
impl TokenCredential for ConfidentialClientApplication {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let result = self
            .acquire_token_for_client(scopes)
            .await
            .map_err(credential_error)?;
        to_azure(result)
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentityClient {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(credential_error(Error::InvalidInput(format!(
                "a managed identity token is for one resource; {} scopes were asked for",
                scopes.len()
            ))));
        };
        // MSAL's rule: the resource is the scope without `/.default`.
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let result = self
            .acquire_token_for_client(resource)
            .await
            .map_err(credential_error)?;
        to_azure(result)
    }
}
