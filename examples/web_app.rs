//! A web app that signs users in (authorization code flow with PKCE) and calls an API for them.
//!
//! ```text
//! cargo run --example web_app                 # serve on http://localhost:8400, open it in a browser
//! cargo run --example web_app -- --self-test  # drive every page itself and exit 0/1 (CI)
//! ```
//!
//! | page        | what it does |
//! |-------------|--------------|
//! | `/`         | who is signed in |
//! | `/login`    | `initiate_auth_code_flow`; the flow (PKCE verifier, nonce) is kept server-side in [`PendingFlows`] by its `state`, bound to this browser by a short-lived `HttpOnly; SameSite=None; Secure` flow cookie. `?return_to=/profile` comes back there, `?response_mode=form_post` has the authority POST the answer |
//! | `/callback` | GET (query) or POST (`form_post`): the pending flow named by `state`, then `acquire_token_by_auth_code_flow` (PKCE, nonce, ID-token checks), then a new session id. An unknown or forged `state` consumes nothing |
//! | `/profile`  | `acquire_token_silent` for the signed-in account, then the downstream API with that token |
//! | `/logout`   | POST: drop the session (and the account's tokens when it was the user's last session, or with "sign out everywhere"), clear the browser's cache of this site, redirect to the authority's end-session URL, which returns here |
//!
//! Every answer is `Cache-Control: no-store`, so Back after sign-out cannot show a signed-in
//! page from the cache; the sign-out answer also sends `Clear-Site-Data: "cache"` (Chromium
//! otherwise restores the signed-in page from its back/forward cache after the hop to the
//! authority and back). The app lives at `http://localhost:PORT`; opened as
//! `http://127.0.0.1:PORT` it redirects there first (cookies are per host name, and the
//! authority sends the browser back to the registered `localhost` address).
//!
//! By default the authority is msal-testkit, started in-process on loopback (plain HTTP so a
//! browser needs no certificate exception) with this app and two users registered. It shows a
//! sign-in page (pick `alice@contoso.onmicrosoft.com` or `bob@contoso.onmicrosoft.com`, accept
//! or cancel); `--scripted-sign-in` signs in the `login_hint` user (`/login?user=...`, else
//! alice) at once instead. The downstream API is a route of this server (`/downstream/me`)
//! that checks the bearer token with the test authority. Nothing leaves the machine, and no
//! request goes to the instance metadata service.
//!
//! With `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` it signs users in to
//! that tenant instead (register `http://localhost:8400/callback` and `http://localhost:8400/`
//! as web redirect URIs) and calls Microsoft Graph `/me` with the `User.Read` permission.
//! `MSAL_EXAMPLE_PORT` changes the port.

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use msal::web_sign_in::sign_out;
use msal::{
    Account, AuthCodeFlowOptions, AuthResponse, ClientCredential, ConfidentialClientApplication,
    FlowCookie, PendingFlows, SignOutScope, TokenCache, Verify,
};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SESSION_COOKIE: &str = "msal_example_session";
/// The cookie binding pending sign-ins to a browser (see [`FlowCookie`]).
const FLOW_COOKIE: &str = "msal_example_flow";
/// A session not used for this long is forgotten.
const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

const LOCAL_CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000b1";
const LOCAL_SECRET: &str = "web-app-example-secret";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";

#[tokio::main]
async fn main() {
    let self_test = std::env::args().any(|a| a == "--self-test")
        || std::env::var("MSAL_EXAMPLE_SELF_TEST").is_ok_and(|v| v == "1");
    let scripted = std::env::args().any(|a| a == "--scripted-sign-in");
    let outcome = if self_test {
        self_test_run().await
    } else {
        serve_until_ctrl_c(!scripted).await
    };
    if let Err(e) = outcome {
        eprintln!("web_app: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// The web app
// ---------------------------------------------------------------------------------------

/// One signed-in browser's server-side session.
struct Session {
    account: Account,
    last_seen: Instant,
}

struct WebApp {
    msal: ConfidentialClientApplication,
    /// Scopes for the downstream API.
    scopes: Vec<String>,
    /// The downstream API's URL.
    downstream: String,
    /// This app's address as the browser sees it, e.g. `http://localhost:8400`.
    public_url: String,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, Session>>,
    /// Sign-ins in progress, by `state`; each keeps the page to return to.
    flows: PendingFlows<String>,
    flow_cookie: FlowCookie,
    /// The embedded authority, when there is one (it validates the downstream API's tokens).
    local: Option<Arc<TestAuthority>>,
}

impl WebApp {
    fn new(
        msal: ConfidentialClientApplication,
        downstream: String,
        public_url: String,
        http: reqwest::Client,
        local: Option<Arc<TestAuthority>>,
    ) -> WebApp {
        WebApp {
            msal,
            scopes: vec!["User.Read".into()],
            downstream,
            public_url,
            http,
            sessions: Mutex::new(HashMap::new()),
            flows: PendingFlows::new(),
            // Path=/: /login must see it too, so a second tab joins the same browser id.
            flow_cookie: FlowCookie::new(FLOW_COOKIE, "/"),
            local,
        }
    }
}

type Shared = Arc<WebApp>;

fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback_query).post(callback_form))
        .route("/profile", get(profile))
        .route("/logout", get(logout_page).post(logout))
        .route("/downstream/me", get(downstream_me))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), canonical_host))
        .layer(middleware::map_response(no_store))
        .with_state(app)
}

/// Nothing this app answers may be kept by the browser or a proxy: pages show user data,
/// redirects carry codes. No referrer leaves it either.
async fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The app has one address (`public_url`, registered with the authority). Opened under
/// another name (`127.0.0.1` for `localhost`), a page is redirected there, so the cookies
/// and the authority's redirect back meet the same host.
async fn canonical_host(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let want = app
        .public_url
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .to_ascii_lowercase();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host.is_empty() || host == want {
        return next.run(req).await;
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        return Redirect::to(&format!("{}{path}", app.public_url)).into_response();
    }
    error_page(
        StatusCode::MISDIRECTED_REQUEST,
        "Wrong address",
        &format!("This app lives at {}/ — open it there.", app.public_url),
    )
}

fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    FlowCookie::new(SESSION_COOKIE, "/")
        .read(cookie_values(headers))
        .map(str::to_string)
}

/// The session cookie: not readable by scripts, not sent on cross-site sub-requests or
/// POSTs. Add `Secure` when serving over HTTPS.
fn session_cookie(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"
    ))
    .expect("a base64url id is a valid header value")
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("msal_example_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · msal web app</title></head>\
         <body><header><nav><a href=\"/\">msal web app</a></nav></header>\
         <main><h1>{t}</h1>{body}</main></body></html>",
        t = escape(title)
    ))
}

fn error_page(status: StatusCode, what: &str, detail: &str) -> Response {
    (
        status,
        page(
            what,
            &format!(
                "<p id=\"detail\">{}</p><p><a href=\"/\">Home</a> · \
                 <a id=\"sign-in\" href=\"/login\">Sign in</a></p>",
                escape(detail)
            ),
        ),
    )
        .into_response()
}

async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address.",
    )
}

/// Only a path of this app is a place to return to after sign-in (no open redirect).
fn safe_return_to(asked: Option<&String>) -> String {
    match asked {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && !["/login", "/callback", "/logout"]
                    .iter()
                    .any(|x| p == x || p.starts_with(&format!("{x}?"))) =>
        {
            p.clone()
        }
        _ => "/".into(),
    }
}

impl WebApp {
    /// The signed-in account of this browser, if its session is alive and the account is
    /// still in the token cache (a "sign out everywhere" elsewhere removes it).
    async fn account_of(&self, headers: &HeaderMap) -> Option<Account> {
        let id = session_id(headers)?;
        let account = {
            let mut sessions = self.sessions.lock().unwrap();
            let session = sessions.get_mut(&id)?;
            if session.last_seen.elapsed() > SESSION_IDLE {
                sessions.remove(&id);
                return None;
            }
            session.last_seen = Instant::now();
            session.account.clone()
        };
        let cached = self.msal.get_accounts(None).await.ok()?;
        if cached
            .iter()
            .any(|a| a.home_account_id == account.home_account_id)
        {
            Some(account)
        } else {
            self.sessions.lock().unwrap().remove(&id);
            None
        }
    }

    fn new_session(&self, account: Account) -> String {
        let id = PendingFlows::<()>::new_browser_id().expect("the OS random generator works");
        let mut sessions = self.sessions.lock().unwrap();
        sessions.retain(|_, s| s.last_seen.elapsed() < SESSION_IDLE);
        sessions.insert(
            id.clone(),
            Session {
                account,
                last_seen: Instant::now(),
            },
        );
        id
    }
}

async fn home(State(app): State<Shared>, headers: HeaderMap) -> Html<String> {
    match app.account_of(&headers).await {
        Some(account) => page(
            "Home",
            &format!(
                "<p id=\"who\">Signed in as <b>{}</b>.</p>\
                 <p><a id=\"profile-link\" href=\"/profile\">Profile (calls the downstream API)</a></p>\
                 <form method=\"post\" action=\"/logout\">\
                 <button id=\"sign-out\" type=\"submit\">Sign out</button> \
                 <button id=\"sign-out-everywhere\" type=\"submit\" name=\"scope\" value=\"everywhere\">\
                 Sign out everywhere</button></form>",
                escape(&account.username)
            ),
        ),
        None => page(
            "Home",
            "<p id=\"who\">Not signed in.</p>\
             <p><a id=\"sign-in\" href=\"/login\">Sign in</a> · \
             <a id=\"sign-in-form-post\" href=\"/login?response_mode=form_post\">Sign in (form_post)</a></p>",
        ),
    }
}

async fn login(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let return_to = safe_return_to(query.get("return_to"));
    let mut options = AuthCodeFlowOptions::new(format!("{}/callback", app.public_url));
    if let Some(user) = query.get("user") {
        options = options.login_hint(user);
    }
    match query.get("response_mode").map(String::as_str) {
        None | Some("query") => {}
        Some("form_post") => options = options.response_mode("form_post"),
        Some(other) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in could not start",
                &format!("response_mode={other} is not supported here (query or form_post)"),
            )
        }
    }
    let flow = match app.msal.initiate_auth_code_flow(&app.scopes, options).await {
        Ok(flow) => flow,
        Err(e) => {
            return error_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in could not start",
                &e.to_string(),
            )
        }
    };
    let browser = match app.flow_cookie.read(cookie_values(&headers)) {
        Some(b) => b.to_string(),
        None => match PendingFlows::<()>::new_browser_id() {
            Ok(b) => b,
            Err(e) => {
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in could not start",
                    &e.to_string(),
                )
            }
        },
    };
    let auth_uri = flow.auth_uri.clone();
    app.flows.insert(&browser, flow, return_to);
    let mut response = Redirect::to(&auth_uri).into_response();
    let cookie = app.flow_cookie.set(&browser, app.flows.limits().max_age);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `response_mode=query`: the authority redirects the browser here with the answer.
async fn callback_query(
    State(app): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    complete_sign_in(
        &app,
        &headers,
        AuthResponse::from_query(&query.unwrap_or_default()),
    )
    .await
}

/// `response_mode=form_post`: the authority's page POSTs the answer here from its own
/// site, so the `SameSite=Lax` session cookie is absent; the flow cookie is not.
async fn callback_form(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    complete_sign_in(&app, &headers, AuthResponse::from_form(&body)).await
}

async fn complete_sign_in(app: &WebApp, headers: &HeaderMap, response: AuthResponse) -> Response {
    let browser = app.flow_cookie.read(cookie_values(headers));
    // Only the flow this response names, and only for the browser that started it: a
    // forged or stray callback takes nothing away from a sign-in in progress.
    let pending = match app.flows.take(browser, response.state()) {
        Ok(p) => p,
        Err(e) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                &format!("{e} (state)."),
            )
        }
    };
    let result = app
        .msal
        .acquire_token_by_auth_code_flow(&pending.flow, response.pairs())
        .await;
    match result {
        Ok(result) => {
            let Some(account) = result.account else {
                return error_page(
                    StatusCode::BAD_GATEWAY,
                    "Sign-in failed",
                    "the authority returned no account",
                );
            };
            // A new session id after sign-in: an id planted before it (session fixation)
            // is worth nothing; the browser's previous session (if its cookie came) ends.
            if let Some(old) = session_id(headers) {
                app.sessions.lock().unwrap().remove(&old);
            }
            let id = app.new_session(account);
            let mut response = Redirect::to(&pending.data).into_response();
            let h = response.headers_mut();
            h.append(header::SET_COOKIE, session_cookie(&id));
            if browser.is_some_and(|b| app.flows.pending_for(b) == 0) {
                if let Ok(v) = HeaderValue::from_str(&app.flow_cookie.clear()) {
                    h.append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Err(msal::Error::Server(e)) if e.error == "access_denied" => error_page(
            StatusCode::UNAUTHORIZED,
            "Sign-in cancelled",
            "You cancelled the sign-in. Nothing was shared with this app.",
        ),
        Err(msal::Error::Server(e)) => error_page(
            StatusCode::UNAUTHORIZED,
            "Sign-in failed",
            &format!(
                "{}: {}",
                e.error,
                e.error_description.as_deref().unwrap_or_default()
            ),
        ),
        Err(e) => error_page(StatusCode::BAD_REQUEST, "Sign-in failed", &e.to_string()),
    }
}

async fn profile(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let sign_in = || Redirect::to("/login?return_to=%2Fprofile").into_response();
    let Some(account) = app.account_of(&headers).await else {
        return sign_in();
    };
    let token = match app.msal.acquire_token_silent(&app.scopes, &account).await {
        Ok(Some(token)) => token,
        // Nothing usable cached and no refresh possible: the user signs in again.
        Ok(None) => return sign_in(),
        Err(e) => return error_page(StatusCode::BAD_GATEWAY, "Token error", &e.to_string()),
    };
    let answer = app
        .http
        .get(&app.downstream)
        .bearer_auth(token.access_token.secret())
        .send()
        .await;
    let (status, body) = match answer {
        Ok(r) => {
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
        Err(e) => {
            return error_page(
                StatusCode::BAD_GATEWAY,
                "The downstream API is unreachable",
                &e.to_string(),
            )
        }
    };
    if !status.is_success() {
        return error_page(
            StatusCode::BAD_GATEWAY,
            "The downstream API refused",
            &format!("{status}: {body}"),
        );
    }
    page(
        "Profile",
        &format!(
            "<p>Token for the API: {} (expires in {} s).</p><pre id=\"profile\">{}</pre>\
             <p><a href=\"/\">Home</a></p>\
             <form method=\"post\" action=\"/logout\">\
             <button id=\"sign-out\" type=\"submit\">Sign out</button></form>",
            token.token_source.as_str(),
            token.expires_in(),
            escape(&serde_json::to_string_pretty(&body).unwrap_or_default())
        ),
    )
    .into_response()
}

/// `GET /logout` (a bookmark, an old link): sign-out changes state, so it asks first.
async fn logout_page() -> Html<String> {
    page(
        "Sign out",
        "<form method=\"post\" action=\"/logout\">\
         <button id=\"sign-out\" type=\"submit\">Sign out</button> \
         <button id=\"sign-out-everywhere\" type=\"submit\" name=\"scope\" value=\"everywhere\">\
         Sign out everywhere</button></form><p><a href=\"/\">Home</a></p>",
    )
}

/// `POST /logout`. Signing out ends this browser's session; the account's tokens leave the
/// shared cache when this was the user's last session here, or with "sign out everywhere"
/// (every session of the user ends). See `msal::web_sign_in` for the reasoning.
async fn logout(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let everywhere = AuthResponse::from_form(&body).get("scope") == Some("everywhere");
    let account = session_id(&headers).and_then(|id| {
        let mut sessions = app.sessions.lock().unwrap();
        sessions.remove(&id).map(|s| s.account)
    });
    let last_session = account.as_ref().is_some_and(|a| {
        !app.sessions
            .lock()
            .unwrap()
            .values()
            .any(|s| s.account.home_account_id == a.home_account_id)
    });
    let scope = if everywhere || last_session {
        SignOutScope::EverySession
    } else {
        SignOutScope::ThisSession
    };
    let back = format!("{}/", app.public_url);
    let target = match sign_out(&app.msal, account.as_ref(), scope, &back).await {
        Ok(url) => url,
        Err(e) => {
            eprintln!("web_app: sign-out: {e}");
            sign_out(&app.msal, None, SignOutScope::ThisSession, &back)
                .await
                .unwrap_or(back)
        }
    };
    let mut response = Redirect::to(&target).into_response();
    let h = response.headers_mut();
    h.insert(header::SET_COOKIE, clear_cookie());
    // Back must not bring the signed-in pages back from the browser's caches.
    h.insert("clear-site-data", HeaderValue::from_static("\"cache\""));
    response
}

/// The downstream API of the local setup: Microsoft Graph's `/me`, played by a route that
/// checks the bearer token with the embedded authority.
async fn downstream_me(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(authority) = &app.local else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "error_description": "the local downstream API runs only with the embedded authority"})),
        )
            .into_response();
    };
    // Every refusal has a body a person can read, besides the RFC 6750 challenge.
    let refuse = |status: StatusCode, error: &str, description: &str| {
        let challenge = if error.is_empty() {
            "Bearer".to_string()
        } else {
            format!("Bearer error=\"{error}\", error_description=\"{description}\"")
        };
        let error = if error.is_empty() {
            "unauthorized"
        } else {
            error
        };
        (
            status,
            [(header::WWW_AUTHENTICATE, challenge)],
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "",
            "this API needs a bearer token (Authorization: Bearer ...)",
        );
    };
    let claims = match authority.verify_access_token(token) {
        Ok(c) => c,
        Err(_) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the token is invalid or expired",
            )
        }
    };
    if claims["aud"] != "https://graph.microsoft.com" {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the token is for another audience",
        );
    }
    let scp = claims["scp"].as_str().unwrap_or_default();
    if !scp.split(' ').any(|s| s == "User.Read") {
        return refuse(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token lacks the User.Read scope",
        );
    }
    Json(json!({
        "displayName": claims["name"],
        "userPrincipalName": claims["preferred_username"],
        "id": claims["oid"],
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------
// Set-up: the embedded authority or a real tenant
// ---------------------------------------------------------------------------------------

/// A running web app.
pub struct Running {
    app: Shared,
    /// Where it listens.
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The app's address, `http://localhost:PORT`.
    pub fn public_url(&self) -> &str {
        &self.app.public_url
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start(app: WebApp, listener: tokio::net::TcpListener) -> Running {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = Arc::new(app);
    let routes = router(app.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, routes).await {
            eprintln!("web_app: server error: {e}");
        }
    });
    Running { app, addr, server }
}

/// The web app against a fresh embedded authority, listening on `listener`. With
/// `sign_in_page` the authority shows its sign-in page (pick a user, accept or cancel);
/// without, it signs the `login_hint` user (else alice) in at once.
pub async fn start_local(
    listener: tokio::net::TcpListener,
    sign_in_page: bool,
) -> Result<Running, BoxError> {
    let port = listener.local_addr()?.port();
    let public_url = format!("http://localhost:{port}");
    let authority = TestAuthority::builder()
        .https(false)
        .sign_in_page(sign_in_page)
        .start()
        .await?;
    authority.register_app(
        AppRegistration::with_secret(LOCAL_CLIENT_ID, LOCAL_SECRET)
            .redirect_uri(format!("{public_url}/callback"))
            // Where sign-out returns (post_logout_redirect_uri must be registered).
            .redirect_uri(format!("{public_url}/")),
    );
    authority.add_user(TestUser::new(ALICE));
    authority.add_user(TestUser::new(BOB));

    let mut builder = ConfidentialClientApplication::builder(LOCAL_CLIENT_ID)
        .authority(authority.authority(authority.tenant_id()))
        .instance_discovery_endpoint(authority.instance_discovery_url())
        .client_credential(ClientCredential::secret(LOCAL_SECRET))
        // One cache for every user of this process; each session names its own account.
        .token_cache(TokenCache::new())
        .app_name("msal-web-app-example");
    if !authority.ca_pem().is_empty() {
        builder = builder.verify(Verify::CaBundle(authority.ca_path().to_path_buf()));
    }
    let msal = builder.build()?;
    let app = WebApp::new(
        msal,
        format!("{public_url}/downstream/me"),
        public_url,
        reqwest::Client::builder().no_proxy().build()?,
        Some(Arc::new(authority)),
    );
    Ok(start(app, listener).await)
}

/// The web app against a real tenant, from `AZURE_*` variables; `None` when they are unset.
fn real_tenant(port: u16) -> Option<Result<WebApp, BoxError>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (tenant, client_id, secret) = (
        var("AZURE_TENANT_ID")?,
        var("AZURE_CLIENT_ID")?,
        var("AZURE_CLIENT_SECRET")?,
    );
    let host =
        var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| "https://login.microsoftonline.com".into());
    let build = || -> Result<WebApp, BoxError> {
        let msal = ConfidentialClientApplication::builder(client_id)
            .authority(format!("{}/{tenant}", host.trim_end_matches('/')))
            .client_credential(ClientCredential::secret(secret))
            .app_name("msal-web-app-example")
            .build()?;
        Ok(WebApp::new(
            msal,
            "https://graph.microsoft.com/v1.0/me".into(),
            format!("http://localhost:{port}"),
            reqwest::Client::new(),
            None,
        ))
    };
    Some(build())
}

async fn serve_until_ctrl_c(sign_in_page: bool) -> Result<(), BoxError> {
    let port: u16 = match std::env::var("MSAL_EXAMPLE_PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("MSAL_EXAMPLE_PORT={p} is not a port"))?,
        Err(_) => 8400,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let running = match real_tenant(port) {
        Some(app) => {
            println!("authority: the tenant in AZURE_TENANT_ID");
            start(app?, listener).await
        }
        None => {
            let running = start_local(listener, sign_in_page).await?;
            let local = running.app.local.as_ref().expect("local set-up");
            println!(
                "authority: msal-testkit at {} (users {ALICE}, {BOB})",
                local.authority(local.tenant_id())
            );
            running
        }
    };
    println!(
        "web app: {}/  (open this address; 127.0.0.1 redirects to it. Ctrl-C to stop)",
        running.app.public_url
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Self-test: every page, driven like a browser would, against the embedded authority
// ---------------------------------------------------------------------------------------

fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok {
        println!("  ok  {what}");
        Ok(())
    } else {
        Err(format!("FAILED: {what}").into())
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Every `Set-Cookie` of a response.
fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// The `Set-Cookie` of cookie `name`.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// Runs the whole sign-in / API / sign-out journey; an error names the step that failed.
pub async fn self_test_run() -> Result<(), BoxError> {
    if std::env::var("AZURE_CLIENT_SECRET").is_ok_and(|v| !v.is_empty()) {
        println!("(the self-test always uses the embedded authority, not AZURE_* settings)");
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let running = start_local(listener, false).await?;
    let authority = running.app.local.clone().expect("local set-up");
    let base = running.app.public_url.clone();
    println!("web app {base}, authority {}", authority.base_url());
    // A browser without a cookie jar: the test carries the cookies itself.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve("localhost", running.addr)
        .build()?;
    let get = |url: String, cookies: &[(&str, &str)]| {
        let mut req = browser.get(url);
        if !cookies.is_empty() {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, header.join("; "));
        }
        req.send()
    };
    let post = |url: String, cookies: &[(&str, &str)], form: &[(&str, &str)]| {
        let mut req = browser.post(url).form(form);
        if !cookies.is_empty() {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, header.join("; "));
        }
        req.send()
    };

    let r = get(format!("{base}/"), &[]).await?;
    check(
        r.status() == StatusCode::OK
            && r.headers()
                .get(header::CACHE_CONTROL)
                .is_some_and(|v| v == "no-store"),
        "/ is sent with Cache-Control: no-store",
    )?;
    let text = r.text().await?;
    check(
        text.contains("Not signed in") && text.contains("<html lang=\"en\">"),
        "/ shows the anonymous page, with lang",
    )?;
    let r = get(format!("{base}/nowhere"), &[]).await?;
    check(
        r.status() == StatusCode::NOT_FOUND && r.text().await?.contains("Page not found"),
        "an unknown page is a readable 404",
    )?;
    let r = browser
        .get(format!(
            "http://127.0.0.1:{}/profile?x=1",
            running.addr.port()
        ))
        .send()
        .await?;
    check(
        r.status().is_redirection() && location(&r) == format!("{base}/profile?x=1"),
        "opened as 127.0.0.1, a page redirects to the localhost address",
    )?;
    let r = get(format!("{base}/profile"), &[]).await?;
    check(
        r.status().is_redirection() && location(&r) == "/login?return_to=%2Fprofile",
        "/profile without a session redirects to /login, to come back",
    )?;

    // Sign-in starts: a flow cookie for this browser, a redirect to the authority.
    let r = get(format!("{base}/login?return_to=/profile"), &[]).await?;
    let cookie = set_cookie(&r, FLOW_COOKIE).unwrap_or_default();
    let auth_uri = location(&r);
    check(r.status().is_redirection(), "/login redirects")?;
    check(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=None")
            && cookie.contains("Secure")
            && cookie.contains("Path=/;")
            && cookie.contains("Max-Age=600"),
        &format!("the flow cookie is HttpOnly, SameSite=None, Secure, short-lived ({cookie})"),
    )?;
    let flow_browser = cookie_value(&cookie);
    check(
        auth_uri.starts_with(&format!(
            "{}/oauth2/v2.0/authorize?",
            authority.authority(authority.tenant_id())
        )) && auth_uri.contains("code_challenge_method=S256")
            && !auth_uri.contains(&flow_browser),
        "the authorization request carries PKCE and nothing of the flow cookie",
    )?;
    // A second sign-in of the same browser (another tab) while the first is pending.
    let r = get(format!("{base}/login"), &[(FLOW_COOKIE, &flow_browser)]).await?;
    check(
        set_cookie(&r, FLOW_COOKIE).is_some_and(|c| cookie_value(&c) == flow_browser),
        "a second sign-in in the same browser keeps its flow cookie",
    )?;
    let second_auth_uri = location(&r);

    // The "browser" at the authority: it signs the user in and sends it back.
    let r = get(auth_uri.clone(), &[]).await?;
    let back = location(&r);
    check(
        r.status().is_redirection() && back.starts_with(&format!("{base}/callback?code=")),
        "the authority redirects back to /callback with a code",
    )?;

    // Refusals that must not consume the pending sign-in.
    let r = get(back.clone(), &[]).await?;
    check(
        r.status() == StatusCode::BAD_REQUEST && r.text().await?.contains("another browser"),
        "/callback without the flow cookie (another browser) is refused",
    )?;
    let r = get(
        format!("{base}/callback?code=junk&state=junk"),
        &[(FLOW_COOKIE, &flow_browser)],
    )
    .await?;
    check(
        r.status() == StatusCode::BAD_REQUEST && r.text().await?.contains("state"),
        "/callback with a forged state is refused",
    )?;

    let r = get(back.clone(), &[(FLOW_COOKIE, &flow_browser)]).await?;
    let session = cookie_value(&set_cookie(&r, SESSION_COOKIE).unwrap_or_default());
    check(
        r.status().is_redirection() && location(&r) == "/profile",
        "/callback completes the sign-in after those refusals, back on the page asked for",
    )?;
    check(
        set_cookie(&r, SESSION_COOKIE)
            .is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "the session cookie is HttpOnly, SameSite=Lax",
    )?;
    check(
        set_cookie(&r, FLOW_COOKIE).is_none(),
        "the flow cookie stays while the other tab's sign-in is pending",
    )?;
    let r = get(back.clone(), &[(FLOW_COOKIE, &flow_browser)]).await?;
    check(
        r.status() == StatusCode::BAD_REQUEST,
        "replaying the redirect is refused",
    )?;
    let r = get(format!("{base}/"), &[(SESSION_COOKIE, &session)]).await?;
    check(
        r.text().await?.contains(ALICE),
        "/ shows the signed-in user",
    )?;

    // The other tab completes too, with response_mode=query; then a form_post sign-in.
    let params = authority.sign_in(&second_auth_uri, BOB).await?;
    let r = get(
        format!("{base}/callback?{}", serde_urlencoded_pairs(&params)),
        &[(FLOW_COOKIE, &flow_browser)],
    )
    .await?;
    check(
        r.status().is_redirection()
            && location(&r) == "/"
            && set_cookie(&r, FLOW_COOKIE).is_some_and(|c| c.contains("Max-Age=0")),
        "the second tab's sign-in completes as well, and the flow cookie is cleared",
    )?;
    let r = get(format!("{base}/login?response_mode=form_post"), &[]).await?;
    let fp_browser = cookie_value(&set_cookie(&r, FLOW_COOKIE).unwrap_or_default());
    let fp_auth_uri = location(&r);
    check(
        fp_auth_uri.contains("response_mode=form_post"),
        "/login?response_mode=form_post asks for form_post",
    )?;
    let fields = authority.sign_in(&fp_auth_uri, BOB).await?;
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = post(
        format!("{base}/callback"),
        &[(FLOW_COOKIE, &fp_browser)],
        &form,
    )
    .await?;
    let bob_session = cookie_value(&set_cookie(&r, SESSION_COOKIE).unwrap_or_default());
    check(
        r.status() == StatusCode::SEE_OTHER && location(&r) == "/",
        "a form_post answer POSTed to /callback completes the sign-in",
    )?;
    let r = get(format!("{base}/"), &[(SESSION_COOKIE, &bob_session)]).await?;
    check(r.text().await?.contains(BOB), "/ shows bob in his session")?;

    // The API, twice: the token from the sign-in is served from the cache both times.
    let requests_after_sign_in = authority.token_requests().len();
    for round in 1..=2 {
        let r = get(format!("{base}/profile"), &[(SESSION_COOKIE, &session)]).await?;
        let status = r.status();
        let body = r.text().await?;
        check(
            status == StatusCode::OK && body.contains("Alice") && body.contains(ALICE),
            &format!("/profile ({round}) shows what the downstream API says about alice"),
        )?;
        check(
            body.contains("Token for the API: cache"),
            &format!("/profile ({round}) uses the cached token"),
        )?;
    }
    check(
        authority.token_requests().len() == requests_after_sign_in,
        "no token request after the sign-in",
    )?;
    let r = browser
        .get(format!("{base}/downstream/me"))
        .bearer_auth("not-a-token")
        .send()
        .await?;
    check(
        r.status() == StatusCode::UNAUTHORIZED
            && r.headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("invalid_token"))
            && r.text().await?.contains("invalid or expired"),
        "the downstream API refuses a bad token with WWW-Authenticate and a body",
    )?;

    // Sign-out: alice's last session ends, so her account leaves the cache; bob stays. The
    // browser goes to the authority's sign-out page and comes back here.
    check(
        running.app.msal.get_accounts(None).await?.len() == 2,
        "two accounts in the cache",
    )?;
    let r = get(format!("{base}/logout"), &[(SESSION_COOKIE, &session)]).await?;
    check(
        r.status() == StatusCode::OK && r.text().await?.contains("id=\"sign-out\""),
        "GET /logout asks (signing out is a POST)",
    )?;
    let r = post(format!("{base}/logout"), &[(SESSION_COOKIE, &session)], &[]).await?;
    let target = location(&r);
    check(
        r.status().is_redirection()
            && target.starts_with(&format!(
                "{}/oauth2/v2.0/logout",
                authority.authority(authority.tenant_id())
            ))
            && url::Url::parse(&target)?
                .query_pairs()
                .any(|(k, v)| k == "post_logout_redirect_uri" && v == format!("{base}/")),
        "/logout redirects to the authority's sign-out URL, returning here",
    )?;
    check(
        set_cookie(&r, SESSION_COOKIE).is_some_and(|c| c.contains("Max-Age=0"))
            && r.headers()
                .get("clear-site-data")
                .is_some_and(|v| v == "\"cache\""),
        "/logout clears the cookie and the browser's cache of this site",
    )?;
    let r = get(target, &[]).await?;
    check(
        r.status().is_redirection() && location(&r) == format!("{base}/"),
        "the authority's sign-out page sends the browser back to the app",
    )?;
    let accounts = running.app.msal.get_accounts(None).await?;
    check(
        accounts.len() == 1 && accounts[0].username == BOB,
        "alice's account left the cache (her last session), bob's stayed",
    )?;
    let r = get(format!("{base}/"), &[(SESSION_COOKIE, &session)]).await?;
    check(
        r.text().await?.contains("Not signed in"),
        "the old session is signed out",
    )?;
    let r = get(format!("{base}/profile"), &[(SESSION_COOKIE, &session)]).await?;
    check(
        location(&r) == "/login?return_to=%2Fprofile",
        "/profile after sign-out redirects to /login",
    )?;
    let r = get(format!("{base}/"), &[(SESSION_COOKIE, &bob_session)]).await?;
    check(r.text().await?.contains(BOB), "bob's session is untouched")?;
    println!("web_app self-test passed");
    Ok(())
}

fn serde_urlencoded_pairs(params: &[(String, String)]) -> String {
    form_urlencoded_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn form_urlencoded_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut url = url::Url::parse("http://x/").expect("a fixed URL parses");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_string()
}
