//! Calling a downstream API through `msal::downstream`: the reqwest-middleware middleware
//! and the tower layer attach the token of a scope set (app-only or on behalf of the
//! caller) and answer a claims challenge once. The downstream API is a real axum server on
//! loopback that challenges any token without the `c1` authentication context (`acrs`),
//! and the test authority puts the `acrs` a claims request asks for into the tokens it
//! issues.

use crate::support;

use base64::Engine;
use msal::downstream::{
    app_only, on_behalf_of, BearerLayer, BearerMiddleware, DownstreamApi, UserAssertion,
};
use msal::{ClientCredential, Error};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;
use tower::{Service, ServiceBuilder, ServiceExt};

const ALICE: &str = "alice@contoso.onmicrosoft.com";
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-downstream-tests";
const API_URI: &str = "api://orders-api";
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";
const CHALLENGE: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

#[msal::msal_app(config = "examples/msal.toml")]
pub struct OrdersDaemon;

/// The downstream API: what it saw, and the authority whose tokens it accepts.
struct Api {
    url: String,
    hits: Arc<AtomicUsize>,
    challenged: Arc<AtomicUsize>,
}

async fn start_api(auth: Arc<TestAuthority>) -> Api {
    let hits = Arc::new(AtomicUsize::new(0));
    let challenged = Arc::new(AtomicUsize::new(0));
    let (h, c) = (hits.clone(), challenged.clone());
    let handler = move |headers: http::HeaderMap, body: String| {
        let (auth, hits, challenged) = (auth.clone(), h.clone(), c.clone());
        async move {
            use axum::response::IntoResponse;
            use http::StatusCode;
            hits.fetch_add(1, Ordering::SeqCst);
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let Some(claims) = token.and_then(|t| auth.verify_access_token(t).ok()) else {
                return StatusCode::UNAUTHORIZED.into_response();
            };
            let has_c1 = claims["acrs"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "c1"));
            if !has_c1 {
                challenged.fetch_add(1, Ordering::SeqCst);
                let encoded = base64::engine::general_purpose::STANDARD.encode(CHALLENGE);
                let www = format!(
                    r#"Bearer realm="", authorization_uri="{}/common/oauth2/authorize", error="insufficient_claims", claims="{encoded}""#,
                    auth.base_url()
                );
                return (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", www)],
                    "insufficient claims",
                )
                    .into_response();
            }
            axum::Json(json!({
                "appid": claims["appid"],
                "user": claims.get("preferred_username"),
                "echo": body,
            }))
            .into_response()
        }
    };
    let router = axum::Router::new().route("/orders", axum::routing::any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/orders", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Api {
        url,
        hits,
        challenged,
    }
}

async fn world() -> (Arc<TestAuthority>, Api) {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    auth.register_app(AppRegistration::with_secret(
        OrdersDaemon::CLIENT_ID,
        SECRET,
    ));
    auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
    auth.add_user(TestUser::new(ALICE));
    let auth = Arc::new(auth);
    let api = start_api(auth.clone()).await;
    (auth, api)
}

fn daemon(auth: &TestAuthority) -> OrdersDaemon {
    OrdersDaemon::from_application(
        builder(auth, OrdersDaemon::CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
async fn middleware_app_only_answers_the_claims_challenge_once_then_uses_the_cache() {
    let (auth, api) = world().await;
    let daemon = daemon(&auth);
    let graph = app_only(&daemon, OrdersDaemon::scopes().graph).unwrap();
    let client = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(BearerMiddleware::new(graph))
        .build();

    // A POST with a body: challenged, then sent again with the same body and a new token.
    let resp = client.post(&api.url).body("order #1").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["appid"], OrdersDaemon::CLIENT_ID);
    assert_eq!(body["echo"], "order #1");
    assert_eq!(api.hits.load(Ordering::SeqCst), 2);
    assert_eq!(api.challenged.load(Ordering::SeqCst), 1);
    let posts = auth.token_requests();
    assert_eq!(
        posts.len(),
        2,
        "the first token, then one answering the challenge"
    );
    assert_eq!(posts[0].form_value("claims"), None);
    assert_eq!(posts[1].form_value("claims"), Some(CHALLENGE));
    assert_eq!(
        posts[1].form_value("scope"),
        Some("https://graph.microsoft.com/.default")
    );

    // The token that answered the challenge is cached: no challenge, no token request.
    let resp = client.get(&api.url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(api.hits.load(Ordering::SeqCst), 3);
    assert_eq!(auth.token_requests().len(), 2);
}

#[tokio::test]
async fn middleware_retries_only_once_and_passes_other_401s_through() {
    let (auth, api) = world().await;
    // An API that challenges every token: the second 401 is returned, not looped on.
    let always = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            let encoded = base64::engine::general_purpose::STANDARD.encode(CHALLENGE);
            (
                http::StatusCode::UNAUTHORIZED,
                [(
                    "www-authenticate",
                    format!(r#"Bearer error="insufficient_claims", claims="{encoded}""#),
                )],
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, always).await.unwrap() });
    let app = secret_app(&auth);
    let client = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(BearerMiddleware::new(
            DownstreamApi::app_only(app, [GRAPH]).unwrap(),
        ))
        .build();
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(auth.token_requests().len(), 2, "one retry, not a loop");

    // A 401 without a claims challenge is the caller's to handle: no new token.
    let before = auth.token_requests().len();
    let resp = client
        .get(api.url.replace("/orders", "/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let plain_401 = plain_client().get(&api.url).send().await.unwrap();
    assert_eq!(plain_401.status(), 401, "the API wants a token");
    assert_eq!(auth.token_requests().len(), before);
}

#[tokio::test]
async fn middleware_on_behalf_of_takes_the_caller_from_the_request() {
    let (auth, api) = world().await;
    let web_api = builder(&auth, API_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(API_SECRET))
        .build()
        .unwrap();
    let graph = DownstreamApi::on_behalf_of(web_api, [GRAPH_USER_READ]).unwrap();
    assert!(graph.needs_user_assertion());
    let client = reqwest_middleware::ClientBuilder::new(plain_client())
        .with(BearerMiddleware::new(graph))
        .build();
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();
    let resp = client
        .get(&api.url)
        .with_extension(UserAssertion::new(incoming.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"], ALICE);
    assert_eq!(body["appid"], API_ID);
    let posts = auth.token_requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].form_value("assertion"), Some(incoming.as_str()));
    assert_eq!(posts[1].form_value("claims"), Some(CHALLENGE));

    // Without the caller's token: a clear error, nothing sent.
    let err = client.get(&api.url).send().await.unwrap_err();
    assert!(err.to_string().contains("UserAssertion"), "{err}");
    assert_eq!(auth.token_requests().len(), 2);
}

/// A real HTTP client as a tower service (reqwest underneath), bodies as `String`.
fn http_service() -> impl Service<
    http::Request<String>,
    Response = http::Response<bytes::Bytes>,
    Error = reqwest::Error,
    Future = impl Send,
> + Clone
       + Send {
    let client = plain_client();
    tower::service_fn(move |req: http::Request<String>| {
        let client = client.clone();
        async move {
            let req = reqwest::Request::try_from(req)?;
            let resp = client.execute(req).await?;
            let mut out = http::Response::builder().status(resp.status());
            for (k, v) in resp.headers() {
                out = out.header(k, v);
            }
            let body = resp.bytes().await?;
            Ok(out.body(body).unwrap())
        }
    })
}

#[tokio::test]
async fn tower_layer_on_behalf_of_with_a_typed_scope_set_and_a_challenge() {
    let (auth, api) = world().await;
    auth.register_app(
        AppRegistration::with_secret(OrdersDaemon::CLIENT_ID, SECRET).identifier_uri(API_URI),
    );
    let daemon = daemon(&auth);
    let downstream = on_behalf_of(&daemon, OrdersDaemon::scopes().graph).unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(BearerLayer::new(downstream))
        .service(http_service());
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();
    let mut req = http::Request::post(&api.url)
        .body("through tower".to_string())
        .unwrap();
    req.extensions_mut()
        .insert(UserAssertion::new(incoming.clone()));
    let resp = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(body["user"], ALICE);
    assert_eq!(body["echo"], "through tower");
    assert_eq!(api.challenged.load(Ordering::SeqCst), 1);
    let posts = auth.token_requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].form_value("requested_token_use"),
        Some("on_behalf_of")
    );
    assert_eq!(posts[1].form_value("claims"), Some(CHALLENGE));

    // The next call is served from the cache and not challenged.
    let mut req = http::Request::get(&api.url).body(String::new()).unwrap();
    req.extensions_mut().insert(UserAssertion::new(incoming));
    let resp = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(auth.token_requests().len(), 2);

    // Missing caller: the layer's error names what to add.
    let req = http::Request::get(&api.url).body(String::new()).unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    let err = err.downcast::<Error>().expect("an msal error");
    assert!(matches!(*err, Error::InvalidInput(_)), "{err}");
}
