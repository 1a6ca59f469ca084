//! A web API that checks its callers' tokens and calls another API on their behalf (OBO).
//!
//! ```text
//! cargo run --example web_api_obo                 # serve, and print a curl command to try it
//! cargo run --example web_api_obo -- --self-test  # call it as two users, bad tokens too; exit 0/1
//! ```
//!
//! `GET /api/orders` expects `Authorization: Bearer <user token>`. The token is checked the
//! way any API protected by Entra ID checks it, with nothing but the authority's public
//! metadata: RS256 signature against the authority's JWKS (`jwks_uri` from its OpenID
//! configuration, fetched again when an unknown `kid` shows up, at most once a minute),
//! `iss`, `aud` (the API's identifier URI or client id), `exp`/`nbf` with a minute of clock
//! skew, and the delegated permission `Orders.Read` in `scp`. A missing or bad token gets
//! 401 with a `WWW-Authenticate: Bearer ...` challenge (RFC 6750), a token without the
//! permission 403 `insufficient_scope`.
//!
//! Then the API trades the caller's token for one to the downstream API with
//! `acquire_token_on_behalf_of`. Those tokens are cached per incoming token: a second call
//! with the same token needs no request to the authority.
//!
//! By default the authority is msal-testkit, in-process on loopback HTTPS, with the API
//! registered (`api://msal-example-orders`) and two users; the downstream API is a route of
//! this server (`/inventory/items`, audience `api://msal-example-inventory`) that checks its
//! tokens the same way. Nothing leaves the machine; no request goes to the instance
//! metadata service.
//!
//! With `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` the API is that app
//! registration instead: its tokens must have `aud` = `MSAL_API_AUDIENCE` (default
//! `api://{client id}`, access tokens of version 2) and the permission `MSAL_API_SCOPE`
//! (default `access_as_user`); the downstream API is Microsoft Graph `/me`
//! (`https://graph.microsoft.com/User.Read`). `MSAL_EXAMPLE_PORT` sets the port (8401).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use msal::{ClientCredential, ConfidentialClientApplication, TokenCache, Verify};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const API_CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000c1";
const API_SECRET: &str = "orders-api-example-secret";
const API_URI: &str = "api://msal-example-orders";
const API_SCOPE: &str = "Orders.Read";
/// The app the users signed in to, which calls this API for them.
const FRONTEND_CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000c2";
const INVENTORY_URI: &str = "api://msal-example-inventory";
const INVENTORY_SCOPE: &str = "Items.Read";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// How often an unknown `kid` may make us fetch the JWKS again.
const JWKS_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(60);

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
        eprintln!("web_api_obo: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// Checking incoming tokens
// ---------------------------------------------------------------------------------------

/// Why a request is refused.
#[derive(Debug)]
enum Rejection {
    /// No bearer token at all: a bare challenge (RFC 6750 section 3.1).
    Missing,
    /// A token we cannot accept.
    Invalid(String),
    /// A good token without the permission this API needs.
    InsufficientScope(String),
}

/// Checks the access tokens of one audience against an authority's published keys.
struct TokenValidator {
    /// `iss` as the authority's metadata states it (`{tenantid}` stands for the token's `tid`).
    issuer: String,
    audiences: Vec<String>,
    required_scope: String,
    /// For the challenge: where clients get tokens.
    authorization_uri: String,
    jwks_uri: String,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<Jwks>,
}

#[derive(Default)]
struct Jwks {
    by_kid: HashMap<String, PKey<Public>>,
    fetched_at: Option<Instant>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn b64url_json(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "the token is not base64url".to_string())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("the token is not JSON".into()),
    }
}

impl TokenValidator {
    /// Reads the authority's OpenID configuration (issuer, JWKS location).
    async fn discover(
        authority: &str,
        http: reqwest::Client,
        audiences: Vec<String>,
        required_scope: &str,
    ) -> Result<Self, BoxError> {
        let url = format!("{authority}/v2.0/.well-known/openid-configuration");
        let meta: Value = http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |name: &str| {
            meta[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{url} has no {name}"))
        };
        Ok(TokenValidator {
            issuer: field("issuer")?,
            authorization_uri: field("authorization_endpoint")?,
            jwks_uri: field("jwks_uri")?,
            audiences,
            required_scope: required_scope.to_string(),
            http,
            keys: tokio::sync::Mutex::new(Jwks::default()),
        })
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, PKey<Public>>, String> {
        let jwks: Value = async {
            self.http
                .get(&self.jwks_uri)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await
        .map_err(|e| format!("cannot fetch the signing keys: {e}"))?;
        let mut keys = HashMap::new();
        for k in jwks["keys"].as_array().into_iter().flatten() {
            let (Some("RSA"), Some(kid), Some(n), Some(e)) = (
                k["kty"].as_str(),
                k["kid"].as_str(),
                k["n"].as_str(),
                k["e"].as_str(),
            ) else {
                continue;
            };
            let component = |s: &str| {
                URL_SAFE_NO_PAD
                    .decode(s)
                    .ok()
                    .and_then(|b| BigNum::from_slice(&b).ok())
            };
            let (Some(n), Some(e)) = (component(n), component(e)) else {
                continue;
            };
            if let Ok(key) = Rsa::from_public_components(n, e).and_then(PKey::from_rsa) {
                keys.insert(kid.to_string(), key);
            }
        }
        Ok(keys)
    }

    /// The key named `kid`; the JWKS is fetched again (rate-limited) when it is unknown,
    /// which is how signing-key rollover reaches us.
    async fn key(&self, kid: &str) -> Result<PKey<Public>, Rejection> {
        let mut jwks = self.keys.lock().await;
        if let Some(k) = jwks.by_kid.get(kid) {
            return Ok(k.clone());
        }
        let may_refresh = jwks
            .fetched_at
            .is_none_or(|at| at.elapsed() >= JWKS_REFRESH_MIN_INTERVAL);
        if may_refresh {
            jwks.by_kid = self.fetch_keys().await.map_err(Rejection::Invalid)?;
            jwks.fetched_at = Some(Instant::now());
        }
        jwks.by_kid.get(kid).cloned().ok_or_else(|| {
            Rejection::Invalid("the token is not signed by a key of the authority".into())
        })
    }

    /// The claims of a token that passes every check.
    async fn validate(&self, token: &str) -> Result<Map<String, Value>, Rejection> {
        let invalid = |why: &str| Rejection::Invalid(why.to_string());
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("the token is not a JWT"));
        };
        let header = b64url_json(h).map_err(Rejection::Invalid)?;
        // Only what the authority signs with: never `none`, never a symmetric algorithm.
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(invalid("the token is not signed with RS256"));
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the token names no signing key"))?;
        let key = self.key(kid).await?;
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| invalid("the signature is not base64url"))?;
        let signed = &token[..h.len() + 1 + p.len()];
        let good = openssl::sign::Verifier::new(MessageDigest::sha256(), &key)
            .and_then(|mut v| {
                v.update(signed.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false);
        if !good {
            return Err(invalid("the token signature is invalid"));
        }
        let claims = b64url_json(p).map_err(Rejection::Invalid)?;
        let str_claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();

        let expected_issuer = self.issuer.replace("{tenantid}", str_claim("tid"));
        if str_claim("iss") != expected_issuer {
            return Err(invalid("the token is from another issuer"));
        }
        if !self.audiences.iter().any(|a| a == str_claim("aud")) {
            return Err(invalid("the token is for another audience"));
        }
        let time = |name: &str| claims.get(name).and_then(Value::as_u64);
        let now = now();
        match time("exp") {
            Some(exp) if now <= exp + LEEWAY_SECS => {}
            Some(_) => return Err(invalid("the token has expired")),
            None => return Err(invalid("the token has no expiry")),
        }
        if time("nbf").is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(invalid("the token is not valid yet"));
        }
        if !str_claim("scp")
            .split(' ')
            .any(|s| s == self.required_scope)
        {
            return Err(Rejection::InsufficientScope(self.required_scope.clone()));
        }
        Ok(claims)
    }

    /// The 401/403 answer, with the challenge a client can act on.
    fn reject(&self, why: Rejection) -> Response {
        let clean = |s: &str| s.replace(['"', '\\'], "'");
        let base = format!(
            "Bearer realm=\"{}\", authorization_uri=\"{}\"",
            clean(&self.audiences[0]),
            clean(&self.authorization_uri)
        );
        let (status, challenge) = match &why {
            Rejection::Missing => (StatusCode::UNAUTHORIZED, base),
            Rejection::Invalid(d) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "{base}, error=\"invalid_token\", error_description=\"{}\"",
                    clean(d)
                ),
            ),
            Rejection::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                format!(
                    "{base}, error=\"insufficient_scope\", scope=\"{}\"",
                    clean(scope)
                ),
            ),
        };
        let description = match why {
            Rejection::Missing => "a bearer token is required".to_string(),
            Rejection::Invalid(d) => d,
            Rejection::InsufficientScope(s) => format!("the token lacks the permission {s}"),
        };
        (
            status,
            [(header::WWW_AUTHENTICATE, challenge)],
            Json(json!({ "error": description })),
        )
            .into_response()
    }

    /// The bearer token of a request, checked.
    async fn check(&self, headers: &HeaderMap) -> Result<(String, Map<String, Value>), Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(self.reject(Rejection::Missing));
        };
        match self.validate(token).await {
            Ok(claims) => Ok((token.to_string(), claims)),
            Err(why) => Err(self.reject(why)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The web API and the downstream API
// ---------------------------------------------------------------------------------------

struct Api {
    msal: ConfidentialClientApplication,
    /// Checks this API's incoming tokens.
    incoming: TokenValidator,
    downstream_scopes: Vec<String>,
    downstream_url: String,
    http: reqwest::Client,
    /// The local downstream API's own checks (local set-up only).
    inventory: Option<TokenValidator>,
}

type Shared = Arc<Api>;

fn router(api: Shared) -> Router {
    Router::new()
        .route("/api/orders", get(orders))
        .route("/inventory/items", get(inventory_items))
        .with_state(api)
}

async fn orders(State(api): State<Shared>, headers: HeaderMap) -> Response {
    let (token, claims) = match api.incoming.check(&headers).await {
        Ok(ok) => ok,
        Err(refusal) => return refusal,
    };
    let obo = match api
        .msal
        .acquire_token_on_behalf_of(&token, &api.downstream_scopes)
        .await
    {
        Ok(t) => t,
        // The authority will not exchange this token (e.g. revoked, or Conditional Access
        // wants more): the caller must get a new one, and learns what is needed.
        Err(msal::Error::Server(e))
            if e.error == "invalid_grant" || e.error == "interaction_required" =>
        {
            let mut challenge = format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"the token cannot be used on behalf of the user ({})\"",
                api.incoming.audiences[0], e.error
            );
            if let Some(c) = e.claims.as_deref() {
                challenge.push_str(&format!(", claims=\"{}\"", URL_SAFE_NO_PAD.encode(c)));
            }
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": format!("no token for the downstream API: {e}") })),
            )
                .into_response()
        }
    };
    let downstream = api
        .http
        .get(&api.downstream_url)
        .bearer_auth(obo.access_token.secret())
        .send()
        .await;
    let inventory = match downstream {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or(Value::Null),
        Ok(r) => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": format!("the downstream API answered {}", r.status()) })),
            )
                .into_response()
        }
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": format!("the downstream API is unreachable: {e}") })),
            )
                .into_response()
        }
    };
    Json(json!({
        "user": claims.get("preferred_username"),
        "orders": [{"id": 1, "item": "keyboard"}, {"id": 2, "item": "monitor"}],
        "downstream": inventory,
        "downstream_token_source": obo.token_source.as_str(),
    }))
    .into_response()
}

/// The downstream API of the local set-up; it accepts only tokens issued for it.
async fn inventory_items(State(api): State<Shared>, headers: HeaderMap) -> Response {
    let Some(validator) = &api.inventory else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match validator.check(&headers).await {
        Ok((_, claims)) => Json(json!({
            "for": claims.get("preferred_username"),
            "items": ["keyboard", "monitor", "cable"],
        }))
        .into_response(),
        Err(refusal) => refusal,
    }
}

// ---------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------

/// A running API.
pub struct Running {
    api: Shared,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The embedded authority (local set-up).
    local: Option<Arc<TestAuthority>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start(
    api: Api,
    listener: tokio::net::TcpListener,
    local: Option<Arc<TestAuthority>>,
) -> Running {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let api = Arc::new(api);
    let routes = router(api.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, routes).await {
            eprintln!("web_api_obo: server error: {e}");
        }
    });
    Running {
        api,
        addr,
        local,
        server,
    }
}

/// The API against a fresh embedded authority.
async fn start_local(listener: tokio::net::TcpListener) -> Result<Running, BoxError> {
    let base = format!("http://{}", listener.local_addr()?);
    let authority = Arc::new(TestAuthority::start().await);
    authority.register_app(
        AppRegistration::with_secret(API_CLIENT_ID, API_SECRET).identifier_uri(API_URI),
    );
    authority.add_user(TestUser::new(ALICE));
    authority.add_user(TestUser::new(BOB));
    let tenant_authority = authority.authority(authority.tenant_id());

    let msal = ConfidentialClientApplication::builder(API_CLIENT_ID)
        .authority(&tenant_authority)
        .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
        .instance_discovery_endpoint(authority.instance_discovery_url())
        .client_credential(ClientCredential::secret(API_SECRET))
        // OBO tokens are cached per incoming token; one cache serves every caller.
        .token_cache(TokenCache::new())
        .app_name("msal-web-api-example")
        .build()?;
    // Plain reqwest, trusting the embedded authority's CA (a real API uses the system's).
    let http = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(authority.ca_pem())?)
        .build()?;
    let incoming = TokenValidator::discover(
        &tenant_authority,
        http.clone(),
        vec![API_URI.into(), API_CLIENT_ID.into()],
        API_SCOPE,
    )
    .await?;
    let inventory = TokenValidator::discover(
        &tenant_authority,
        http.clone(),
        vec![INVENTORY_URI.into()],
        INVENTORY_SCOPE,
    )
    .await?;
    let api = Api {
        msal,
        incoming,
        downstream_scopes: vec![format!("{INVENTORY_URI}/{INVENTORY_SCOPE}")],
        downstream_url: format!("{base}/inventory/items"),
        http,
        inventory: Some(inventory),
    };
    Ok(start(api, listener, Some(authority)).await)
}

/// The API as a real app registration, from `AZURE_*` variables; `None` when unset.
async fn start_real(listener: tokio::net::TcpListener) -> Option<Result<Running, BoxError>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (tenant, client_id, secret) = (
        var("AZURE_TENANT_ID")?,
        var("AZURE_CLIENT_ID")?,
        var("AZURE_CLIENT_SECRET")?,
    );
    let host =
        var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| "https://login.microsoftonline.com".into());
    let audience = var("MSAL_API_AUDIENCE").unwrap_or_else(|| format!("api://{client_id}"));
    let scope = var("MSAL_API_SCOPE").unwrap_or_else(|| "access_as_user".into());
    let authority = format!("{}/{tenant}", host.trim_end_matches('/'));
    let run = async {
        let msal = ConfidentialClientApplication::builder(&client_id)
            .authority(&authority)
            .client_credential(ClientCredential::secret(secret))
            .app_name("msal-web-api-example")
            .build()?;
        let http = reqwest::Client::new();
        let incoming =
            TokenValidator::discover(&authority, http.clone(), vec![audience, client_id], &scope)
                .await?;
        let api = Api {
            msal,
            incoming,
            downstream_scopes: vec!["https://graph.microsoft.com/User.Read".into()],
            downstream_url: "https://graph.microsoft.com/v1.0/me".into(),
            http,
            inventory: None,
        };
        Ok(start(api, listener, None).await)
    };
    Some(run.await)
}

async fn serve_until_ctrl_c() -> Result<(), BoxError> {
    let port: u16 = match std::env::var("MSAL_EXAMPLE_PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("MSAL_EXAMPLE_PORT={p} is not a port"))?,
        Err(_) => 8401,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/api/orders");
    let running = if std::env::var("AZURE_CLIENT_SECRET").is_ok_and(|v| !v.is_empty()) {
        match start_real(listener).await {
            Some(r) => r?,
            None => {
                return Err("set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into())
            }
        }
    } else {
        start_local(listener).await?
    };
    println!("web API: {url}  (Ctrl-C to stop)");
    if let Some(authority) = &running.local {
        let token = authority.issue_user_token(ALICE, FRONTEND_CLIENT_ID, API_URI, &[API_SCOPE])?;
        println!("authority: msal-testkit at {}", authority.base_url());
        println!("try it as {ALICE} (the token is valid for an hour):\n");
        println!("  curl -s -H 'Authorization: Bearer {token}' {url}\n");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Self-test
// ---------------------------------------------------------------------------------------

fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok {
        println!("  ok  {what}");
        Ok(())
    } else {
        Err(format!("FAILED: {what}").into())
    }
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Calls the API as two users and with bad tokens; an error names the failed check.
pub async fn self_test_run() -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let running = start_local(listener).await?;
    let authority = running.local.clone().expect("local set-up");
    let url = format!("http://{}/api/orders", running.addr);
    println!("web API {url}, authority {}", authority.base_url());
    let client = reqwest::Client::builder().no_proxy().build()?;
    let call = |token: Option<String>| {
        let mut req = client.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let user_token = |user: &str, audience: &str, scope: &str| {
        authority.issue_user_token(user, FRONTEND_CLIENT_ID, audience, &[scope])
    };
    let obo_requests = || {
        authority
            .token_requests()
            .iter()
            .filter(|r| r.form_value("requested_token_use") == Some("on_behalf_of"))
            .count()
    };

    let alice = user_token(ALICE, API_URI, API_SCOPE)?;
    let bob = user_token(BOB, API_URI, API_SCOPE)?;
    for (round, (who, token, source, requests)) in [
        (ALICE, &alice, "identity_provider", 1),
        (ALICE, &alice, "cache", 1),
        (BOB, &bob, "identity_provider", 2),
        (BOB, &bob, "cache", 2),
    ]
    .into_iter()
    .enumerate()
    {
        let r = call(Some(token.clone())).await?;
        let status = r.status();
        let body: Value = r.json().await?;
        check(
            status == StatusCode::OK && body["user"] == who && body["downstream"]["for"] == who,
            &format!(
                "call {}: {who} gets their orders and inventory ({status})",
                round + 1
            ),
        )?;
        check(
            body["downstream_token_source"] == source && obo_requests() == requests,
            &format!(
                "call {}: the downstream token comes from the {source} ({} OBO requests so far)",
                round + 1,
                obo_requests()
            ),
        )?;
    }

    // Refusals.
    let r = call(None).await?;
    let c = challenge(&r);
    check(
        r.status() == StatusCode::UNAUTHORIZED
            && c.starts_with("Bearer realm=")
            && !c.contains("error="),
        &format!("no token: 401 with a bare Bearer challenge ({c})"),
    )?;
    // Alice's token, claiming to be Bob's: the signature no longer matches.
    let tampered = {
        let parts: Vec<&str> = alice.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1])?)?;
        claims["preferred_username"] = json!(BOB);
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?);
        format!("{}.{claims}.{}", parts[0], parts[2])
    };
    let forgeries = [
        ("a tampered token", tampered),
        (
            "a token for another audience",
            user_token(ALICE, "api://someone-else", API_SCOPE)?,
        ),
        (
            "the downstream API's token audience",
            user_token(ALICE, INVENTORY_URI, API_SCOPE)?,
        ),
        ("an unsigned token (alg none)", {
            let parts: Vec<&str> = alice.split('.').collect();
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
                parts[1]
            )
        }),
        ("a token from another issuer (same signing key)", {
            // msal-testkit authorities share one signing key unless told otherwise: only
            // the issuer check tells this token apart.
            let other = TestAuthority::start().await;
            other.add_user(TestUser::new(ALICE));
            other.issue_user_token(ALICE, FRONTEND_CLIENT_ID, API_URI, &[API_SCOPE])?
        }),
        ("a token from another authority", {
            let other = TestAuthority::builder()
                .unique_signing_key(true)
                .start()
                .await?;
            other.add_user(TestUser::new(ALICE));
            other.issue_user_token(ALICE, FRONTEND_CLIENT_ID, API_URI, &[API_SCOPE])?
        }),
        ("garbage", "not-a-jwt".to_string()),
    ];
    for (what, token) in forgeries {
        let r = call(Some(token)).await?;
        let c = challenge(&r);
        check(
            r.status() == StatusCode::UNAUTHORIZED && c.contains("error=\"invalid_token\""),
            &format!("{what}: 401 invalid_token ({c})"),
        )?;
    }
    let r = call(Some(user_token(ALICE, API_URI, "Orders.Write")?)).await?;
    let c = challenge(&r);
    check(
        r.status() == StatusCode::FORBIDDEN && c.contains("error=\"insufficient_scope\""),
        &format!("a token without {API_SCOPE}: 403 insufficient_scope ({c})"),
    )?;
    // The caller's token is not good for the downstream API: only the OBO token is.
    let r = client
        .get(format!("http://{}/inventory/items", running.addr))
        .bearer_auth(&alice)
        .send()
        .await?;
    check(
        r.status() == StatusCode::UNAUTHORIZED,
        "the downstream API refuses the caller's own token",
    )?;
    check(
        obo_requests() == 2,
        "refused calls never reach the authority",
    )?;
    check(
        running.api.msal.token_cache().access_tokens().len() == 2,
        "two OBO tokens cached, one per incoming token",
    )?;
    println!("web_api_obo self-test passed");
    Ok(())
}
