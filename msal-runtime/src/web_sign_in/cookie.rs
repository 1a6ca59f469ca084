//! The cookie that binds pending sign-ins to a browser.

use std::time::Duration;

/// The flow cookie: it carries a browser id ([`PendingFlows::new_browser_id`]) so that
/// [`PendingFlows::take`] hands a sign-in back only to the browser that started it.
///
/// Its attributes are chosen so that it reaches the callback in every response mode:
/// `HttpOnly` (no script reads it), `SameSite=None; Secure` (sent on the authority's
/// cross-site `form_post` POST as well as on the redirect of `query` mode), and `Max-Age`
/// the flows' lifetime. Its `Path` must cover both the page that starts a sign-in and the
/// callback (usually `/`): a second tab starting a sign-in must find the browser id of the
/// first, or it would replace the cookie and the first tab's callback would come back
/// from "another browser". The value is only an identifier, never a credential: sent
/// with a cross-site request, it lets nobody complete a sign-in without the `state` and
/// code, which only the authority's redirect carries. `Secure` cookies are accepted over
/// HTTPS and, by Chromium and Firefox, from `http://localhost` and `http://127.0.0.1`.
/// Browsers that block third-party cookies do not block this one: it is sent on a
/// top-level navigation to the app's own site.
///
/// ```
/// use msal_runtime::FlowCookie;
/// use std::time::Duration;
/// let cookie = FlowCookie::new("app_flow", "/");
/// let set = cookie.set("b1d", Duration::from_secs(600));
/// assert_eq!(set, "app_flow=b1d; Path=/; Max-Age=600; HttpOnly; SameSite=None; Secure");
/// assert_eq!(cookie.read(["a=1; app_flow=b1d"]), Some("b1d"));
/// assert!(cookie.clear().contains("Max-Age=0"));
/// ```
///
/// [`PendingFlows::new_browser_id`]: crate::PendingFlows::new_browser_id
/// [`PendingFlows::take`]: crate::PendingFlows::take
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCookie {
    name: String,
    path: String,
}

impl FlowCookie {
    /// A cookie named `name` (a cookie token: letters, digits, `_`, `-`), sent to `path`
    /// (one covering the sign-in start and the callback, usually `/`).
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> Self {
        FlowCookie {
            name: name.into(),
            path: path.into(),
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Set-Cookie` value that stores `browser_id` for `max_age`.
    pub fn set(&self, browser_id: &str, max_age: Duration) -> String {
        format!(
            "{}={browser_id}; Path={}; Max-Age={}; HttpOnly; SameSite=None; Secure",
            self.name,
            self.path,
            max_age.as_secs()
        )
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub fn clear(&self) -> String {
        format!(
            "{}=; Path={}; Max-Age=0; HttpOnly; SameSite=None; Secure",
            self.name, self.path
        )
    }

    /// The browser id from a request's `Cookie` header values, if present and non-empty.
    pub fn read<'a, I>(&self, cookie_headers: I) -> Option<&'a str>
    where
        I: IntoIterator<Item = &'a str>,
    {
        cookie_headers
            .into_iter()
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, v)| *k == self.name && !v.is_empty())
            .map(|(_, v)| v)
    }
}
