//! Signing a user out of a web app.

use crate::{Account, ConfidentialClientApplication, Result};

/// Which of the user's sessions of this app end when they sign out in one browser.
/// The module documentation ([`web_sign_in`](crate::web_sign_in)) explains the default.
///
/// ```
/// use msal_runtime::SignOutScope;
/// assert_eq!(SignOutScope::default(), SignOutScope::ThisSession);
/// assert!(SignOutScope::EverySession.removes_account());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignOutScope {
    /// Only the session of this browser: the account's tokens stay in the app's cache for
    /// the user's other sessions.
    #[default]
    ThisSession,
    /// Every session of the user: the account and its tokens leave the app's cache, so no
    /// session of the user gets a token without signing in again.
    EverySession,
}

impl SignOutScope {
    /// Whether signing out removes the account from the token cache.
    pub fn removes_account(self) -> bool {
        matches!(self, SignOutScope::EverySession)
    }
}

/// Signs `account` out of the app as `scope` says and returns where to send the browser:
/// the authority's end-session URL with `post_logout_redirect_uri` (which must be
/// registered with the app, usually as one of its redirect URIs), or
/// `post_logout_redirect_uri` itself when the authority advertises no end-session endpoint.
///
/// The app forgets its own session (cookie, server-side state) itself. Send the redirect
/// with `Clear-Site-Data: "cache"` so the browser's Back button cannot show pages of the
/// signed-out session from its caches.
///
/// ```no_run
/// use msal_runtime::{web_sign_in::sign_out, Account, ConfidentialClientApplication, SignOutScope};
/// # async fn logout(app: &ConfidentialClientApplication, account: Account) -> msal_runtime::Result<()> {
/// let target = sign_out(app, Some(&account), SignOutScope::ThisSession, "https://app.example.com/").await?;
/// // respond: 302 Location: {target}, Clear-Site-Data: "cache"
/// # let _ = target; Ok(()) }
/// ```
pub async fn sign_out(
    app: &ConfidentialClientApplication,
    account: Option<&Account>,
    scope: SignOutScope,
    post_logout_redirect_uri: &str,
) -> Result<String> {
    if let (Some(account), true) = (account, scope.removes_account()) {
        app.remove_account(account).await?;
    }
    Ok(app
        .sign_out_url(Some(post_logout_redirect_uri))
        .await?
        .unwrap_or_else(|| post_logout_redirect_uri.to_string()))
}
