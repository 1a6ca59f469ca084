//! The authorization endpoint with scripted sign-in: no UI, the user is picked by a hook or by
//! `login_hint`, and the browser is redirected straight back with a code.

use crate::discovery::Endpoint;
use crate::grants::{client_info, random_token};
use crate::state::{AuthCode, Shared};
use crate::tokens;
use crate::wire::{EntraError, Reply, Req};

/// Lifetime of authorization codes (Entra: about 10 minutes).
const CODE_LIFETIME: u64 = 600;

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

    let (forced_error, user) = {
        let mut state = shared.lock();
        let forced = state.next_authorize_error.take();
        let once = state.sign_in_once.take();
        let user = once
            .as_deref()
            .or(req.query_value("login_hint"))
            .and_then(|name| state.user_by_name(name))
            .or_else(|| {
                state
                    .sign_in_as
                    .as_deref()
                    .and_then(|n| state.user_by_name(n))
            })
            .or_else(|| state.users.first().cloned());
        (forced, user)
    };
    if let Some(error) = forced_error {
        let description = if error == "access_denied" {
            "AADSTS65004: User declined to consent to access the app.".to_string()
        } else {
            format!("AADSTS50000: Sign-in failed with '{error}' (scripted by msal-testkit).")
        };
        return back.error(&error, &description);
    }
    let Some(user) = user else {
        return back.error(
            "login_required",
            "AADSTS50058: A silent sign-in request was sent but no user is signed in (msal-testkit has no registered users).",
        );
    };
    let tid = resolved
        .tid
        .clone()
        .or_else(|| user.tenant_id.clone())
        .unwrap_or_else(|| crate::state::DEFAULT_TENANT_ID.to_string());
    let code = format!("0.A{}", random_token(64));
    let home_tid = user.tenant_id.clone().unwrap_or_else(|| tid.clone());
    let record = AuthCode {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        code_challenge: challenge.map(str::to_string),
        code_challenge_method: method.to_string(),
        nonce: req.query_value("nonce").map(str::to_string),
        scopes: scope.split_whitespace().map(str::to_string).collect(),
        user: user.clone(),
        tid,
        expires_at: tokens::now() + CODE_LIFETIME,
        // Scripted sign-in authenticates the user right now.
        auth_time: req.query_value("max_age").map(|_| tokens::now()),
    };
    shared.lock().codes.insert(code.clone(), record);

    let mut params = vec![("code", code)];
    if req.query_value("client_info") == Some("1") {
        params.push(("client_info", client_info(&user.oid, &home_tid)));
    }
    back.success(params)
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
        "<html><head><title>Working...</title></head><body>\
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
            "<html><head><title>Sign in</title></head><body><h1>Sorry, but we're having trouble \
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
