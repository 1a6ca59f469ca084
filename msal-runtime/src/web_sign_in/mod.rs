//! What a web app that signs users in needs around the authorization code flow.
//!
//! * [`PendingFlows`]: the sign-ins in progress, kept server-side **by `state`**, each bound
//!   to the browser that started it. A browser can have several at once (two tabs, a double
//!   click); they are bounded in number (per browser and in all) and in age; a callback with
//!   an unknown, forged or foreign `state` consumes nothing and says which
//!   ([`FlowError`]).
//! * [`AuthResponse`]: the authority's answer, from the redirect's query
//!   (`response_mode=query`) or from the POSTed form (`response_mode=form_post`).
//! * [`FlowCookie`]: the cookie that binds pending sign-ins to a browser, with a policy that
//!   also works for `form_post`.
//! * [`sign_out`] and [`SignOutScope`]: where to send the browser when the user signs out
//!   (the authority's end-session URL with `post_logout_redirect_uri`), and whether the
//!   user's other sessions of this app end too.
//!
//! # Cookies and `form_post`
//!
//! With `response_mode=form_post` the authority's page POSTs the code to the app from
//! another site. Browsers do not send `SameSite=Lax` (or `Strict`) cookies on a cross-site
//! POST, so a flow kept in the app's ordinary session is lost. The policy here:
//!
//! * the flows live in [`PendingFlows`], found by the `state` the response carries, so the
//!   app's session cookie is not needed to find them;
//! * the browser binding is a separate, short-lived cookie ([`FlowCookie`]): `HttpOnly;
//!   SameSite=None; Secure`, living as long as the flows do. Chromium
//!   and Firefox accept `Secure` cookies from `http://localhost` and `http://127.0.0.1`, so the
//!   same policy works on a developer's machine; anywhere else serve the app over HTTPS;
//! * after the callback the app starts a new session (a new session id) and can clear the
//!   flow cookie once no sign-in is pending.
//!
//! Without the binding anyone could complete a sign-in they started themselves in a
//! victim's browser (login CSRF): the `state` alone proves only that a flow exists.
//!
//! # Signing out
//!
//! Decision: signing out in one browser ends **that session only**
//! ([`SignOutScope::ThisSession`], the default): the user's tokens stay in the app's token
//! cache, which the app shares between its sessions, so the same user signed in on another
//! device keeps working, as with most web sites. The authority's end-session page still
//! ends the user's single sign-on in this browser. [`SignOutScope::EverySession`] removes
//! the account from the cache ([`ConfidentialClientApplication::remove_account`]), so
//! every session of that user needs a new sign-in before it gets a token again (a
//! "sign out everywhere" button). An app that keeps tokens per user for as long as a session
//! is open should use `EverySession` when the user's last session signs out, so tokens do
//! not outlive every session (the `web_app` example does so).
//!
//! [`ConfidentialClientApplication::remove_account`]: crate::ConfidentialClientApplication::remove_account

mod cookie;
mod flows;
mod sign_out;

pub use cookie::FlowCookie;
pub use flows::{AuthResponse, FlowError, FlowLimits, PendingFlow, PendingFlows};
pub use sign_out::{sign_out, SignOutScope};
