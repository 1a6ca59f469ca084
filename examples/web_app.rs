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
//! | `/login`    | `initiate_auth_code_flow`; the flow (PKCE verifier, nonce, state) stays in a server-side session, the browser only gets an opaque `HttpOnly; SameSite=Lax` cookie |
//! | `/callback` | `acquire_token_by_auth_code_flow` (state, PKCE, ID-token checks), then a new session id |
//! | `/profile`  | `acquire_token_silent` for the signed-in account, then the downstream API with that token |
//! | `/logout`   | `remove_account`, drop the session, redirect to the authority's `sign_out_url` |
//!
//! By default the authority is msal-testkit, started in-process on loopback (plain HTTP so a
//! browser needs no certificate exception) with this app and two users registered; its
//! scripted sign-in page signs in `alice@contoso.onmicrosoft.com` at once
//! (`/login?user=bob@contoso.onmicrosoft.com` for the other one). The downstream API is a
//! route of this server (`/downstream/me`) that checks the bearer token with the test
//! authority. Nothing leaves the machine, and no request goes to the instance metadata
//! service.
//!
//! With `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` it signs users in to
//! that tenant instead (register `http://localhost:8400/callback` as a web redirect URI)
//! and calls Microsoft Graph `/me` with the `User.Read` permission. `MSAL_EXAMPLE_PORT`
//! changes the port.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use msal::{
    Account, AuthCodeFlow, AuthCodeFlowOptions, ClientCredential, ConfidentialClientApplication,
    TokenCache, Verify,
};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SESSION_COOKIE: &str = "msal_example_session";
/// A sign-in that is not completed within this time is forgotten.
const PENDING_SIGN_IN_LIFETIME: Duration = Duration::from_secs(600);

const LOCAL_CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000b1";
const LOCAL_SECRET: &str = "web-app-example-secret";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";

#[tokio::main]
async fn main() {
    let self_test = std::env::args().any(|a| a == "--self-test")
        || std::env::var("MSAL_EXAMPLE_SELF_TEST").is_ok_and(|v| v == "1");
    let outcome = if self_test {
        self_test_run().await
    } else {
        serve_until_ctrl_c().await
    };
    if let Err(e) = outcome {
        eprintln!("web_app: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// The web app
// ---------------------------------------------------------------------------------------

/// One browser's server-side session.
#[derive(Default)]
struct Session {
    /// A sign-in in progress (holds the PKCE verifier and nonce: never sent to the browser).
    flow: Option<(AuthCodeFlow, Instant)>,
    /// The signed-in user.
    account: Option<Account>,
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
    /// The embedded authority, when there is one (it validates the downstream API's tokens).
    local: Option<Arc<TestAuthority>>,
}

type Shared = Arc<WebApp>;

fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/profile", get(profile))
        .route("/logout", get(logout))
        .route("/downstream/me", get(downstream_me))
        .with_state(app)
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

fn new_session_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).expect("the OS random generator works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie: not readable by scripts, not sent on cross-site sub-requests
/// (Lax still allows the top-level redirect back from the authority). Add `Secure`
/// when serving over HTTPS.
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
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
}

fn error_page(status: StatusCode, what: &str, detail: &str) -> Response {
    (
        status,
        page(
            what,
            &format!("<p>{}</p><p><a href=\"/\">Home</a></p>", escape(detail)),
        ),
    )
        .into_response()
}

impl WebApp {
    fn account_of(&self, headers: &HeaderMap) -> Option<Account> {
        let id = session_id(headers)?;
        self.sessions
            .lock()
            .unwrap()
            .get(&id)
            .and_then(|s| s.account.clone())
    }
}

async fn home(State(app): State<Shared>, headers: HeaderMap) -> Html<String> {
    match app.account_of(&headers) {
        Some(account) => page(
            "msal web app",
            &format!(
                "<p>Signed in as <b>{}</b>.</p>\
                 <p><a href=\"/profile\">Profile (calls the downstream API)</a> · \
                 <a href=\"/logout\">Sign out</a></p>",
                escape(&account.username)
            ),
        ),
        None => page(
            "msal web app",
            "<p>Not signed in.</p><p><a href=\"/login\">Sign in</a></p>",
        ),
    }
}

async fn login(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut options = AuthCodeFlowOptions::new(format!("{}/callback", app.public_url));
    if let Some(user) = query.get("user") {
        options = options.login_hint(user);
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
    let auth_uri = flow.auth_uri.clone();
    let id = session_id(&headers)
        .filter(|id| app.sessions.lock().unwrap().contains_key(id))
        .unwrap_or_else(new_session_id);
    {
        let mut sessions = app.sessions.lock().unwrap();
        // Forget abandoned sign-ins of anonymous sessions.
        sessions.retain(|_, s| {
            s.account.is_some()
                || s.flow
                    .as_ref()
                    .is_some_and(|(_, at)| at.elapsed() < PENDING_SIGN_IN_LIFETIME)
        });
        sessions.entry(id.clone()).or_default().flow = Some((flow, Instant::now()));
    }
    let mut response = Redirect::to(&auth_uri).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&id));
    response
}

async fn callback(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(id) = session_id(&headers) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "no sign-in is in progress in this browser (the session cookie is missing)",
        );
    };
    // The flow is used once: a replayed redirect finds nothing.
    let flow = app
        .sessions
        .lock()
        .unwrap()
        .get_mut(&id)
        .and_then(|s| s.flow.take())
        .filter(|(_, at)| at.elapsed() < PENDING_SIGN_IN_LIFETIME);
    let Some((flow, _)) = flow else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "no sign-in is in progress in this session (expired, or already completed)",
        );
    };
    match app
        .msal
        .acquire_token_by_auth_code_flow(&flow, params)
        .await
    {
        Ok(result) => {
            let Some(account) = result.account else {
                return error_page(
                    StatusCode::BAD_GATEWAY,
                    "Sign-in failed",
                    "the authority returned no account",
                );
            };
            // A new session id after sign-in: an id planted before it (session fixation)
            // is worth nothing.
            let new_id = new_session_id();
            {
                let mut sessions = app.sessions.lock().unwrap();
                sessions.remove(&id);
                sessions.insert(
                    new_id.clone(),
                    Session {
                        flow: None,
                        account: Some(account),
                    },
                );
            }
            let mut response = Redirect::to("/").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&new_id));
            response
        }
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
    let Some(account) = app.account_of(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let token = match app.msal.acquire_token_silent(&app.scopes, &account).await {
        Ok(Some(token)) => token,
        // Nothing usable cached and no refresh possible: the user signs in again.
        Ok(None) => return Redirect::to("/login").into_response(),
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
             <p><a href=\"/\">Home</a> · <a href=\"/logout\">Sign out</a></p>",
            token.token_source.as_str(),
            token.expires_in(),
            escape(&serde_json::to_string_pretty(&body).unwrap_or_default())
        ),
    )
    .into_response()
}

async fn logout(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers) {
        let session = app.sessions.lock().unwrap().remove(&id);
        if let Some(account) = session.and_then(|s| s.account) {
            if let Err(e) = app.msal.remove_account(&account).await {
                eprintln!("web_app: could not remove the account from the cache: {e}");
            }
        }
    }
    let back = format!("{}/", app.public_url);
    let target = match app.msal.sign_out_url(Some(&back)).await {
        Ok(Some(url)) => url,
        _ => "/".to_string(),
    };
    let mut response = Redirect::to(&target).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    response
}

/// The downstream API of the local setup: Microsoft Graph's `/me`, played by a route that
/// checks the bearer token with the embedded authority.
async fn downstream_me(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(authority) = &app.local else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let unauthorized = |error: &str, description: &str| {
        let challenge = if error.is_empty() {
            "Bearer".to_string()
        } else {
            format!("Bearer error=\"{error}\", error_description=\"{description}\"")
        };
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response()
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized("", "");
    };
    let claims = match authority.verify_access_token(token) {
        Ok(c) => c,
        Err(_) => return unauthorized("invalid_token", "the token is invalid or expired"),
    };
    if claims["aud"] != "https://graph.microsoft.com" {
        return unauthorized("invalid_token", "the token is for another audience");
    }
    let scp = claims["scp"].as_str().unwrap_or_default();
    if !scp.split(' ').any(|s| s == "User.Read") {
        return (
            StatusCode::FORBIDDEN,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer error=\"insufficient_scope\", scope=\"User.Read\"",
            )],
        )
            .into_response();
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

/// The web app against a fresh embedded authority, listening on `listener`.
async fn start_local(listener: tokio::net::TcpListener) -> Result<Running, BoxError> {
    let port = listener.local_addr()?.port();
    let public_url = format!("http://localhost:{port}");
    let authority = TestAuthority::builder().https(false).start().await?;
    authority.register_app(
        AppRegistration::with_secret(LOCAL_CLIENT_ID, LOCAL_SECRET)
            .redirect_uri(format!("{public_url}/callback")),
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
    let app = WebApp {
        msal,
        scopes: vec!["User.Read".into()],
        downstream: format!("{public_url}/downstream/me"),
        public_url,
        http: reqwest::Client::builder().no_proxy().build()?,
        sessions: Mutex::new(HashMap::new()),
        local: Some(Arc::new(authority)),
    };
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
        Ok(WebApp {
            msal,
            scopes: vec!["User.Read".into()],
            downstream: "https://graph.microsoft.com/v1.0/me".into(),
            public_url: format!("http://localhost:{port}"),
            http: reqwest::Client::new(),
            sessions: Mutex::new(HashMap::new()),
            local: None,
        })
    };
    Some(build())
}

async fn serve_until_ctrl_c() -> Result<(), BoxError> {
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
            let running = start_local(listener).await?;
            let local = running.app.local.as_ref().expect("local set-up");
            println!(
                "authority: msal-testkit at {} (users {ALICE}, {BOB})",
                local.authority(local.tenant_id())
            );
            running
        }
    };
    println!("web app: {}/  (Ctrl-C to stop)", running.app.public_url);
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

fn set_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
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
    let running = start_local(listener).await?;
    let authority = running.app.local.clone().expect("local set-up");
    let base = running.app.public_url.clone();
    println!("web app {base}, authority {}", authority.base_url());
    // A browser without a cookie jar: the test carries the session cookie itself.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .resolve("localhost", running.addr)
        .build()?;
    let get = |url: String, cookie: Option<&str>| {
        let mut req = browser.get(url);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, format!("{SESSION_COOKIE}={c}"));
        }
        req.send()
    };

    let r = get(format!("{base}/"), None).await?;
    check(
        r.status() == StatusCode::OK && r.text().await?.contains("Not signed in"),
        "/ shows the anonymous page",
    )?;
    let r = get(format!("{base}/profile"), None).await?;
    check(
        r.status().is_redirection() && location(&r) == "/login",
        "/profile without a session redirects to /login",
    )?;

    // Sign-in starts: a cookie for the session, a redirect to the authority.
    let r = get(format!("{base}/login"), None).await?;
    let cookie = set_cookie(&r).unwrap_or_default();
    let auth_uri = location(&r);
    check(r.status().is_redirection(), "/login redirects")?;
    check(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        &format!("the session cookie is HttpOnly, SameSite=Lax ({cookie})"),
    )?;
    let pre_login_session = cookie_value(&cookie);
    check(
        auth_uri.starts_with(&format!(
            "{}/oauth2/v2.0/authorize?",
            authority.authority(authority.tenant_id())
        )) && auth_uri.contains("code_challenge_method=S256")
            && !auth_uri.contains(&pre_login_session),
        "the authorization request carries PKCE and nothing of the session",
    )?;

    // The "browser" at the authority: it signs the user in and sends it back.
    let r = get(auth_uri.clone(), None).await?;
    let back = location(&r);
    check(
        r.status().is_redirection() && back.starts_with(&format!("{base}/callback?code=")),
        "the authority redirects back to /callback with a code",
    )?;

    // The redirect without the session cookie (another browser) is refused.
    let r = get(back.clone(), None).await?;
    check(
        r.status() == StatusCode::BAD_REQUEST,
        "/callback without the session cookie is refused",
    )?;
    // A forged state is refused (tried on a separate sign-in: each flow is used once).
    {
        let r = get(format!("{base}/login"), None).await?;
        let other = cookie_value(&set_cookie(&r).unwrap_or_default());
        let r = get(location(&r), None).await?;
        let mut forged = url::Url::parse(&location(&r))?;
        let pairs: Vec<(String, String)> = forged
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "forged".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        forged.query_pairs_mut().clear().extend_pairs(pairs);
        let r = get(forged.to_string(), Some(&other)).await?;
        check(
            r.status() == StatusCode::BAD_REQUEST && r.text().await?.contains("state"),
            "/callback with a forged state is refused",
        )?;
    }

    let r = get(back.clone(), Some(&pre_login_session)).await?;
    let cookie = set_cookie(&r).unwrap_or_default();
    let session = cookie_value(&cookie);
    check(
        r.status().is_redirection() && location(&r) == "/",
        "/callback completes the sign-in",
    )?;
    check(
        !session.is_empty() && session != pre_login_session,
        "the session id changes at sign-in",
    )?;
    let r = get(back.clone(), Some(&session)).await?;
    check(
        r.status() == StatusCode::BAD_REQUEST,
        "replaying the redirect is refused",
    )?;
    let r = get(format!("{base}/"), Some(&pre_login_session)).await?;
    check(
        r.text().await?.contains("Not signed in"),
        "the pre-sign-in session id is worth nothing",
    )?;
    let r = get(format!("{base}/"), Some(&session)).await?;
    check(
        r.text().await?.contains(ALICE),
        "/ shows the signed-in user",
    )?;

    // The API, twice: the token from the sign-in is served from the cache both times.
    let requests_after_sign_in = authority.token_requests().len();
    for round in 1..=2 {
        let r = get(format!("{base}/profile"), Some(&session)).await?;
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
                .is_some_and(|v| v.contains("invalid_token")),
        "the downstream API refuses a bad token with WWW-Authenticate",
    )?;

    // Sign-out: the account leaves the cache, the cookie is cleared, the browser goes to
    // the authority's sign-out page and comes back here.
    check(
        running.app.msal.get_accounts(None).await?.len() == 1,
        "one account in the cache",
    )?;
    let r = get(format!("{base}/logout"), Some(&session)).await?;
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
        set_cookie(&r).is_some_and(|c| c.contains("Max-Age=0")),
        "/logout clears the cookie",
    )?;
    check(
        running.app.msal.get_accounts(None).await?.is_empty(),
        "the account is removed from the cache",
    )?;
    let r = get(format!("{base}/"), Some(&session)).await?;
    check(
        r.text().await?.contains("Not signed in"),
        "the old session is signed out",
    )?;
    let r = get(format!("{base}/profile"), Some(&session)).await?;
    check(
        location(&r) == "/login",
        "/profile after sign-out redirects to /login",
    )?;
    println!("web_app self-test passed");
    Ok(())
}
