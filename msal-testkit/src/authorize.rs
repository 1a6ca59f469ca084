//! The authorization endpoint: scripted sign-in (no UI, the user is picked by a hook or by
//! `login_hint`, and the browser is sent straight back with a code) or, when asked, a sign-in
//! page (account picker, consent, cancel) as a person meets it. Also the end-session
//! (sign-out) endpoint.

use std::collections::HashMap;

use crate::discovery::Endpoint;
use crate::grants::{client_info, random_token};
use crate::state::{AuthCode, Shared};
use crate::tokens;
use crate::types::TestUser;
use crate::wire::{EntraError, Reply, Req};

/// Lifetime of authorization codes (Entra: about 10 minutes).
const CODE_LIFETIME: u64 = 600;
/// A sign-in page left open longer than this must be started again.
const PAGE_LIFETIME: u64 = 600;
/// Sign-in pages open at once; more forget the oldest.
const MAX_OPEN_PAGES: usize = 1000;

/// A validated authorization request, waiting for a user (scripted or on the sign-in page).
#[derive(Debug, Clone)]
pub(crate) struct PendingAuthorize {
    client_id: String,
    redirect_uri: String,
    mode: String,
    state: Option<String>,
    challenge: Option<String>,
    method: String,
    nonce: Option<String>,
    scope: String,
    max_age: bool,
    client_info: bool,
    tid: Option<String>,
    login_hint: Option<String>,
    prompt: Option<String>,
    /// When the page was shown (for its lifetime).
    opened: u64,
}

impl PendingAuthorize {
    fn back(&self) -> Back<'_> {
        Back {
            redirect_uri: &self.redirect_uri,
            mode: &self.mode,
            state: self.state.as_deref(),
        }
    }
}

/// `GET .../oauth2/v2.0/authorize`.
pub(crate) fn authorize(shared: &Shared, req: &Req, ep: &Endpoint) -> Reply {
    let resolved = match ep.resolve(shared) {
        Ok(r) => r,
        Err(e) => return error_page(req, &e),
    };
    // Problems with the client or redirect URI are shown to the user, never redirected:
    // redirecting to an unregistered URI would be an open redirector.
    let client_id = req.query_value("client_id").unwrap_or_default();
    let app = shared.lock().apps.get(client_id).cloned();
    let Some(app) = app else {
        return error_page(
            req,
            &EntraError::new(
                400,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            ),
        );
    };
    let redirect_uri = req.query_value("redirect_uri").unwrap_or_default();
    if !app.reg.redirect_uris.iter().any(|u| u == redirect_uri) {
        return error_page(
            req,
            &EntraError::new(
                400,
                "invalid_request",
                50011,
                format!(
                    "The redirect URI '{redirect_uri}' specified in the request does not match the \
                     redirect URIs configured for the application '{client_id}'."
                ),
            ),
        );
    }

    let back = Back {
        redirect_uri,
        mode: req.query_value("response_mode").unwrap_or("query"),
        state: req.query_value("state"),
    };
    if req.query_value("response_type") != Some("code") {
        return back.error(
            "unsupported_response_type",
            "AADSTS700054: Only response_type=code is supported by msal-testkit.",
        );
    }
    let challenge = req.query_value("code_challenge").filter(|c| !c.is_empty());
    let method = req.query_value("code_challenge_method").unwrap_or("plain");
    if challenge.is_some() && method != "S256" && method != "plain" {
        return back.error(
            "invalid_request",
            "AADSTS501491: Invalid code_challenge_method.",
        );
    }
    let Some(scope) = req.query_value("scope").filter(|s| !s.trim().is_empty()) else {
        return back.error(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        );
    };
    let pending = PendingAuthorize {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        mode: back.mode.to_string(),
        state: back.state.map(str::to_string),
        challenge: challenge.map(str::to_string),
        method: method.to_string(),
        nonce: req.query_value("nonce").map(str::to_string),
        scope: scope.to_string(),
        max_age: req.query_value("max_age").is_some(),
        client_info: req.query_value("client_info") == Some("1"),
        tid: resolved.tid.clone(),
        login_hint: req.query_value("login_hint").map(str::to_string),
        prompt: req.query_value("prompt").map(str::to_string),
        opened: tokens::now(),
    };

    let (forced_error, page, once) = {
        let mut state = shared.lock();
        (
            state.next_authorize_error.take(),
            state.sign_in_page,
            state.sign_in_once.take(),
        )
    };
    if let Some(error) = forced_error {
        let description = if error == "access_denied" {
            "AADSTS65004: User declined to consent to access the app.".to_string()
        } else {
            format!("AADSTS50000: Sign-in failed with '{error}' (scripted by msal-testkit).")
        };
        return back.error(&error, &description);
    }
    if page && once.is_none() {
        if pending.prompt.as_deref() == Some("none") {
            return back.error(
                "interaction_required",
                "AADSTS65001: The sign-in page needs the user (prompt=none).",
            );
        }
        return show_sign_in_page(shared, req, pending);
    }

    let user = {
        let state = shared.lock();
        once.as_deref()
            .or(req.query_value("login_hint"))
            .and_then(|name| state.user_by_name(name))
            .or_else(|| {
                state
                    .sign_in_as
                    .as_deref()
                    .and_then(|n| state.user_by_name(n))
            })
            .or_else(|| state.users.first().cloned())
    };
    let Some(user) = user else {
        return back.error(
            "login_required",
            "AADSTS50058: A silent sign-in request was sent but no user is signed in (msal-testkit has no registered users).",
        );
    };
    issue_code(shared, &pending, user)
}

/// Issues a code for `user` and sends the browser back with it.
fn issue_code(shared: &Shared, p: &PendingAuthorize, user: TestUser) -> Reply {
    let tid = p
        .tid
        .clone()
        .or_else(|| user.tenant_id.clone())
        .unwrap_or_else(|| crate::state::DEFAULT_TENANT_ID.to_string());
    let code = format!("0.A{}", random_token(64));
    let home_tid = user.tenant_id.clone().unwrap_or_else(|| tid.clone());
    let record = AuthCode {
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        code_challenge: p.challenge.clone(),
        code_challenge_method: p.method.clone(),
        nonce: p.nonce.clone(),
        scopes: p.scope.split_whitespace().map(str::to_string).collect(),
        user: user.clone(),
        tid,
        expires_at: tokens::now() + CODE_LIFETIME,
        // The user authenticates right now (scripted, or on the page just submitted).
        auth_time: p.max_age.then(tokens::now),
    };
    shared.lock().codes.insert(code.clone(), record);

    let mut params = vec![("code", code)];
    if p.client_info {
        params.push(("client_info", client_info(&user.oid, &home_tid)));
    }
    p.back().success(params)
}

/// Keeps the request under a random id and shows the sign-in page for it.
fn show_sign_in_page(shared: &Shared, req: &Req, pending: PendingAuthorize) -> Reply {
    let id = random_token(24);
    let users = {
        let mut state = shared.lock();
        let now = tokens::now();
        let open = &mut state.sign_in_pages;
        open.retain(|_, p| now.saturating_sub(p.opened) < PAGE_LIFETIME);
        while open.len() >= MAX_OPEN_PAGES {
            let Some(oldest) = open
                .iter()
                .min_by_key(|(_, p)| p.opened)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            open.remove(&oldest);
        }
        open.insert(id.clone(), pending.clone());
        state.users.clone()
    };
    Reply::html(200, sign_in_page(&req.path, &id, &pending, &users, None))
        .with_header("cache-control", "no-store")
}

fn sign_in_page(
    action: &str,
    id: &str,
    p: &PendingAuthorize,
    users: &[TestUser],
    problem: Option<&str>,
) -> String {
    let hint = p.login_hint.as_deref().unwrap_or_default();
    let preselected = users
        .iter()
        .position(|u| u.username.eq_ignore_ascii_case(hint))
        .unwrap_or(0);
    let accounts: String = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            format!(
                "<li><label><input type=\"radio\" name=\"username\" value=\"{name}\"{checked}> \
                 <span class=\"display\">{display}</span> &lt;{name}&gt;</label></li>",
                name = html_escape(&u.username),
                display = html_escape(&u.name),
                checked = if i == preselected { " checked" } else { "" },
            )
        })
        .collect();
    let scopes: String = p
        .scope
        .split_whitespace()
        .map(|s| format!("<li><code>{}</code></li>", html_escape(s)))
        .collect();
    let problem = problem
        .map(|m| format!("<p id=\"problem\" role=\"alert\">{}</p>", html_escape(m)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Sign in to your account</title></head><body>\
         <h1>Sign in to your account</h1>{problem}\
         <form method=\"POST\" action=\"{action}\" id=\"sign-in\">\
         <input type=\"hidden\" name=\"ctx\" value=\"{id}\">\
         <fieldset><legend>Pick an account</legend><ul id=\"accounts\">{accounts}</ul></fieldset>\
         <fieldset><legend>Permissions requested</legend>\
         <p>The application <code id=\"client\">{client}</code> wants to:</p>\
         <ul id=\"scopes\">{scopes}</ul></fieldset>\
         <p><button type=\"submit\" name=\"action\" value=\"accept\" id=\"accept\">Accept</button> \
         <button type=\"submit\" name=\"action\" value=\"cancel\" id=\"cancel\">Cancel</button></p>\
         </form><p><small>msal-testkit: a test authority on loopback.</small></p></body></html>",
        action = html_escape(action),
        id = html_escape(id),
        client = html_escape(&p.client_id),
    )
}

/// `POST .../oauth2/v2.0/authorize`: the sign-in page's answer.
pub(crate) fn sign_in_page_answer(shared: &Shared, req: &Req) -> Reply {
    let id = req.form_value("ctx").unwrap_or_default();
    let pending = shared.lock().sign_in_pages.remove(id);
    let Some(pending) = pending.filter(|p| tokens::now().saturating_sub(p.opened) < PAGE_LIFETIME)
    else {
        return error_page(
            req,
            &EntraError::new(
                400,
                "invalid_request",
                90014,
                "This sign-in page has expired or was already used. Go back to the application \
                 and sign in again.",
            ),
        );
    };
    match req.form_value("action") {
        Some("cancel") => pending.back().error(
            "access_denied",
            "AADSTS65004: User declined to consent to access the app.",
        ),
        Some("accept") => {
            let name = req.form_value("username").unwrap_or_default();
            let (user, users) = {
                let state = shared.lock();
                (state.user_by_name(name), state.users.clone())
            };
            match user {
                Some(user) => issue_code(shared, &pending, user),
                None => {
                    // Show the page again (a new id: each one is answered once).
                    let id = random_token(24);
                    let page = sign_in_page(
                        &req.path,
                        &id,
                        &pending,
                        &users,
                        Some("Pick one of the accounts."),
                    );
                    shared.lock().sign_in_pages.insert(id, pending);
                    Reply::html(200, page).with_header("cache-control", "no-store")
                }
            }
        }
        _ => error_page(
            req,
            &EntraError::new(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'action'.",
            ),
        ),
    }
}

/// `GET|POST .../oauth2/v2.0/logout` (end_session_endpoint): signs the browser out and sends
/// it to `post_logout_redirect_uri` when that is registered (as a redirect URI of the app
/// named by `client_id`, or of any app), else shows a signed-out page.
pub(crate) fn logout(shared: &Shared, req: &Req, ep: &Endpoint) -> Reply {
    if let Err(e) = ep.resolve(shared) {
        return error_page(req, &e);
    }
    let param = |name: &str| {
        req.query_value(name)
            .or_else(|| req.form_value(name))
            .filter(|v| !v.is_empty())
    };
    let signed_out = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Signed out</title></head><body><h1 id=\"signed-out\">You signed out of your \
         account</h1><p>It's a good idea to close all browser windows.</p></body></html>";
    let Some(target) = param("post_logout_redirect_uri") else {
        return Reply::html(200, signed_out.to_string()).with_header("cache-control", "no-store");
    };
    let registered = {
        let state = shared.lock();
        let apps: Vec<_> = match param("client_id") {
            Some(id) => state.apps.get(id).into_iter().collect(),
            None => state.apps.values().collect(),
        };
        apps.iter()
            .any(|a| a.reg.redirect_uris.iter().any(|u| u == target))
    };
    if !registered {
        return error_page(
            req,
            &EntraError::new(
                400,
                "invalid_request",
                50011,
                format!(
                    "The post_logout_redirect_uri '{target}' is not registered as a redirect URI \
                     of the application."
                ),
            ),
        );
    }
    let location = match param("state") {
        Some(s) => {
            let sep = if target.contains('?') { '&' } else { '?' };
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("state", s)
                .finish();
            format!("{target}{sep}{q}")
        }
        None => target.to_string(),
    };
    Reply::redirect(location)
}

/// Where and how to send the browser back.
struct Back<'a> {
    redirect_uri: &'a str,
    mode: &'a str,
    state: Option<&'a str>,
}

impl Back<'_> {
    fn error(&self, error: &str, description: &str) -> Reply {
        self.send(vec![
            ("error", error.to_string()),
            ("error_description", description.to_string()),
        ])
    }

    fn success(&self, mut params: Vec<(&'static str, String)>) -> Reply {
        params.push(("session_state", uuid::Uuid::new_v4().to_string()));
        self.send(params)
    }

    fn send(&self, mut params: Vec<(&'static str, String)>) -> Reply {
        if let Some(s) = self.state {
            // Entra puts `state` before `session_state`.
            let pos = params
                .iter()
                .position(|(k, _)| *k == "session_state")
                .unwrap_or(params.len());
            params.insert(pos, ("state", s.to_string()));
        }
        if self.mode == "form_post" {
            return Reply::html(200, form_post_page(self.redirect_uri, &params));
        }
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let sep = if self.mode == "fragment" {
            '#'
        } else if self.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        Reply::redirect(format!("{}{sep}{encoded}", self.redirect_uri))
    }
}

/// Open sign-in pages by id.
pub(crate) type OpenPages = HashMap<String, PendingAuthorize>;

fn form_post_page(action: &str, params: &[(&'static str, String)]) -> String {
    let inputs: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\" />",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Working...</title></head><body>\
         <form method=\"POST\" name=\"hiddenform\" action=\"{}\">{inputs}\
         <noscript><p>Script is disabled. Click Submit to continue.</p>\
         <input type=\"submit\" value=\"Submit\" /></noscript></form>\
         <script language=\"javascript\">document.forms[0].submit();</script></body></html>",
        html_escape(action)
    )
}

fn error_page(req: &Req, err: &EntraError) -> Reply {
    let body = err.body(req);
    let description = body["error_description"].as_str().unwrap_or_default();
    Reply::html(
        err.status,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in</title></head><body><h1>Sorry, but we're having trouble \
             signing you in.</h1><p id=\"error\">{}</p><pre id=\"error_description\">{}</pre>\
             </body></html>",
            html_escape(err.error),
            html_escape(description)
        ),
    )
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Extracts `name`/`value` pairs of the hidden inputs of a form_post page.
pub(crate) fn parse_form_post(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|chunk| {
            let tag = chunk.split('>').next()?;
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attr(tag, "name")?, attr(tag, "value")?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_round_trip() {
        let page = form_post_page(
            "https://app/cb",
            &[("code", "a&b\"c".into()), ("state", "s".into())],
        );
        assert_eq!(
            parse_form_post(&page),
            vec![
                ("code".to_string(), "a&b\"c".to_string()),
                ("state".to_string(), "s".to_string())
            ]
        );
    }
}
