//! A web API that checks its callers' tokens and calls another API on their behalf (OBO).
//!
//! ```text
//! cargo run --example web_api_obo                 # serve, and print a curl command to try it
//! cargo run --example web_api_obo -- --self-test  # call it as two users, bad tokens too; exit 0/1
//! ```
//!
//! The API is app `orders_api` of `examples/msal.toml`, whose
//! `accepts = { scopes = ["Orders.Read"], roles = ["Orders.Admin"], audiences = [...] }` makes
//! the types `orders_api::scopes::OrdersRead` and `orders_api::roles::OrdersAdmin`.
//! `GET /api/orders` takes a `Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>`:
//! msal's `AccessTokenLayer` has checked the bearer token against the authority's published
//! keys and metadata (RS256 signature from the JWKS, refetched on an unknown `kid`; `iss`;
//! `aud`; `exp`/`nbf`; an accepted scope or role) and answered 401/403 with an RFC 6750
//! `WWW-Authenticate` challenge otherwise. A handler needing a permission the app does not
//! accept would not compile.
//!
//! Then the API trades the caller's token for one to the downstream API with
//! `acquire_token_on_behalf_of(&caller, ..)`. Those tokens are cached per incoming token: a
//! second call with the same token needs no request to the authority.
//!
//! By default the authority is msal-testkit, in-process on loopback HTTPS, with the API
//! registered (`api://msal-example-orders`) and two users; the downstream API is a route of
//! this server (`/inventory/items`, its own app registration) that checks its tokens with a
//! plain `AccessTokenValidator`. Nothing leaves the machine; no request goes to the instance
//! metadata service.
//!
//! With `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` the API is that app
//! registration instead: it must expose the permission `Orders.Read`, and its tokens have
//! `aud` = `MSAL_API_AUDIENCE` (default `api://{client id}`); the downstream API is Microsoft
//! Graph `/me` (`https://graph.microsoft.com/User.Read`). `MSAL_EXAMPLE_PORT` sets the port
//! (8401).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use msal::web_api::{axum::AccessTokenLayer, AccessTokenValidator, Caller, Requires, WebApi};
use msal::{msal_app, ClientCredential, ConfidentialClientApplication, TokenCache, Verify};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The orders web API: `[apps.orders_api]` of examples/msal.toml.
#[msal_app(config = "examples/msal.toml", app = "orders_api")]
pub struct OrdersApi;

const API_SECRET: &str = "orders-api-example-secret";
const API_URI: &str = "api://msal-example-orders";
const API_SCOPE: &str = "Orders.Read";
/// The app the users signed in to, which calls this API for them.
const FRONTEND_CLIENT_ID: &str = "5f0c2d3e-0000-4000-8000-0000000000c2";
/// The downstream API (`scopes.inventory` of the orders API asks for `Items.Read` on it).
const INVENTORY_CLIENT_ID: &str = "6f1c2d3e-0000-4000-8000-0000000000d4";
const INVENTORY_URI: &str = "api://6f1c2d3e-0000-4000-8000-0000000000d4";
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
        eprintln!("web_api_obo: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// The web API and the downstream API
// ---------------------------------------------------------------------------------------

struct Api {
    orders: OrdersApi,
    downstream_scopes: Vec<String>,
    downstream_url: String,
    http: reqwest::Client,
    /// The local downstream API's own checks (local set-up only).
    inventory: Option<AccessTokenValidator>,
}

type Shared = Arc<Api>;

fn router(api: Shared, incoming: AccessTokenLayer<OrdersApi>) -> Router {
    Router::new()
        .route("/api/orders", get(orders))
        .layer(incoming)
        .route("/inventory/items", get(inventory_items))
        .with_state(api)
}

fn bad_gateway(why: String) -> Response {
    (StatusCode::BAD_GATEWAY, Json(json!({ "error": why }))).into_response()
}

async fn orders(
    State(api): State<Shared>,
    caller: Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>,
) -> Response {
    let app = api.orders.application();
    let obo = match app
        .acquire_token_on_behalf_of(&caller, &api.downstream_scopes)
        .await
    {
        Ok(t) => t,
        // The authority will not exchange this token (e.g. revoked, or Conditional Access
        // wants more): the caller must get a new one, and learns what is needed.
        Err(msal::Error::Server(e))
            if e.error == "invalid_grant" || e.error == "interaction_required" =>
        {
            let mut challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"the token cannot be used on behalf of the user ({})\"",
                e.error
            );
            if let Some(c) = e.claims.as_deref() {
                challenge.push_str(&format!(", claims=\"{}\"", URL_SAFE_NO_PAD.encode(c)));
            }
            let status = StatusCode::UNAUTHORIZED;
            return (status, [(header::WWW_AUTHENTICATE, challenge)]).into_response();
        }
        Err(e) => return bad_gateway(format!("no token for the downstream API: {e}")),
    };
    let downstream = api
        .http
        .get(&api.downstream_url)
        .bearer_auth(obo.access_token.secret())
        .send()
        .await;
    let inventory = match downstream {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or(Value::Null),
        Ok(r) => return bad_gateway(format!("the downstream API answered {}", r.status())),
        Err(e) => return bad_gateway(format!("the downstream API is unreachable: {e}")),
    };
    Json(json!({
        "user": caller.claims().get("preferred_username"),
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
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match validator.validate_header(authorization).await {
        Ok(caller) => Json(json!({
            "for": caller.claims().get("preferred_username"),
            "items": ["keyboard", "monitor", "cable"],
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
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
    incoming: AccessTokenLayer<OrdersApi>,
    listener: tokio::net::TcpListener,
    local: Option<Arc<TestAuthority>>,
) -> Result<Running, BoxError> {
    let addr = listener.local_addr()?;
    let api = Arc::new(api);
    let routes = router(api.clone(), incoming);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, routes).await {
            eprintln!("web_api_obo: server error: {e}");
        }
    });
    Ok(Running {
        api,
        addr,
        local,
        server,
    })
}

/// The API against a fresh embedded authority.
async fn start_local(listener: tokio::net::TcpListener) -> Result<Running, BoxError> {
    let base = format!("http://{}", listener.local_addr()?);
    let authority = Arc::new(TestAuthority::start().await);
    authority.register_app(
        AppRegistration::with_secret(OrdersApi::CLIENT_ID, API_SECRET).identifier_uri(API_URI),
    );
    authority.add_user(TestUser::new(ALICE));
    authority.add_user(TestUser::new(BOB));
    let local = |client_id: &str, secret: &str| {
        ConfidentialClientApplication::builder(client_id)
            .authority(authority.authority(authority.tenant_id()))
            .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
            .instance_discovery_endpoint(authority.instance_discovery_url())
            .client_credential(ClientCredential::secret(secret))
    };
    // OBO tokens are cached per incoming token; one cache serves every caller.
    let app = local(OrdersApi::CLIENT_ID, API_SECRET)
        .token_cache(TokenCache::new())
        .app_name("msal-web-api-example")
        .build()?;
    let orders = OrdersApi::from_application(app)?;
    let incoming = AccessTokenLayer::for_app(&orders)?;
    let inventory_app = local(INVENTORY_CLIENT_ID, "inventory-example-secret").build()?;
    let inventory = AccessTokenValidator::builder(&inventory_app)
        .accept_scopes(["Items.Read"])
        .build()?;
    let api = Api {
        downstream_scopes: orders.scopes_of(OrdersApi::scopes().inventory).to_vec(),
        orders,
        downstream_url: format!("{base}/inventory/items"),
        http: reqwest::Client::builder().no_proxy().build()?,
        inventory: Some(inventory),
    };
    start(api, incoming, listener, Some(authority)).await
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
    let run = async {
        let app = ConfidentialClientApplication::builder(&client_id)
            .authority(format!("{}/{tenant}", host.trim_end_matches('/')))
            .client_credential(ClientCredential::secret(secret))
            .app_name("msal-web-api-example")
            .build()?;
        let orders = OrdersApi::from_application(app)?;
        let incoming =
            AccessTokenLayer::new(orders.access_token_validator().audience(audience).build()?);
        let api = Api {
            orders,
            downstream_scopes: vec!["https://graph.microsoft.com/User.Read".into()],
            downstream_url: "https://graph.microsoft.com/v1.0/me".into(),
            http: reqwest::Client::new(),
            inventory: None,
        };
        start(api, incoming, listener, None).await
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
        r.status() == StatusCode::UNAUTHORIZED && c == "Bearer",
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
        running.api.orders.token_cache().access_tokens().len() == 2,
        "two OBO tokens cached, one per incoming token",
    )?;
    println!("web_api_obo self-test passed");
    Ok(())
}
