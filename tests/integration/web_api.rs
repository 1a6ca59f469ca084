//! Web APIs validating their callers' access tokens, over real HTTP on loopback: the
//! validator against msal-testkit (discovery, JWKS, key rollover, every claim check), and an
//! axum server with `AccessTokenLayer` and `Caller<OrdersApi, Requires<...>>` extractors
//! called with reqwest.

use msal::web_api::axum::AccessTokenLayer;
use msal::web_api::{
    AccessTokenValidator, Caller, Rejection, RejectionKind, Requires, ValidatedCaller, WebApi,
};
use msal::{msal_app, ClientCredential, ConfidentialClientApplication, TokenCache, Verify};
use msal_testkit::{AppRegistration, Fault, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The orders API of `examples/msal.toml`:
/// `accepts = { scopes = ["Orders.Read"], roles = ["Orders.Admin"], audiences = ["api://msal-example-orders"] }`.
#[msal_app(config = "examples/msal.toml", app = "orders_api")]
pub struct OrdersApi;

const SECRET: &str = "web-api-test-secret";
const API_URI: &str = "api://msal-example-orders";
const FRONTEND: &str = "6f1c2d3e-0000-4000-8000-0000000000b2";
const OTHER_TENANT: &str = "22222222-3333-4444-5555-666666666666";
const THIRD_TENANT: &str = "33333333-4444-5555-6666-777777777777";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Env {
    authority: TestAuthority,
    app: ConfidentialClientApplication,
}

async fn env() -> Env {
    let authority = TestAuthority::start().await;
    authority.register_app(
        AppRegistration::with_secret(OrdersApi::CLIENT_ID, SECRET).identifier_uri(API_URI),
    );
    authority.add_user(TestUser::new("alice@contoso.onmicrosoft.com"));
    let app = ConfidentialClientApplication::builder(OrdersApi::CLIENT_ID)
        .authority(authority.authority(authority.tenant_id()))
        .verify(Verify::CaBundle(authority.ca_path().to_path_buf()))
        .instance_discovery_endpoint(authority.instance_discovery_url())
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(TokenCache::new())
        .build()
        .unwrap();
    Env { authority, app }
}

impl Env {
    /// Claims of a good v2 user token for the orders API; tests change what they test.
    fn claims(&self) -> Value {
        let tid = self.authority.tenant_id();
        let now = now();
        json!({
            "iss": self.authority.issuer(tid),
            "aud": API_URI,
            "tid": tid,
            "oid": "00000000-0000-0000-0000-00000000a11c",
            "sub": "alice-pairwise",
            "azp": FRONTEND,
            "scp": "Orders.Read",
            "iat": now, "nbf": now, "exp": now + 3600,
            "ver": "2.0",
        })
    }

    fn token(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = self.claims();
        edit(&mut c);
        self.authority.sign_token(&c)
    }

    fn jwks_fetches(&self) -> usize {
        self.authority
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/discovery/v2.0/keys"))
            .count()
    }

    fn validator(&self) -> AccessTokenValidator {
        AccessTokenValidator::builder(&self.app)
            .audience(API_URI)
            .accept_scopes(["Orders.Read"])
            .accept_roles(["Orders.Admin"])
            .build()
            .unwrap()
    }
}

fn refused(r: Result<ValidatedCaller, Rejection>, what: &str) -> Rejection {
    match r {
        Ok(c) => panic!("{what}: accepted {c:?}"),
        Err(e) => e,
    }
}

fn assert_invalid(r: Result<ValidatedCaller, Rejection>, what: &str, needle: &str) {
    let e = refused(r, what);
    assert_eq!(e.kind(), RejectionKind::InvalidToken, "{what}: {e}");
    assert_eq!(e.status(), 401, "{what}");
    assert!(
        e.www_authenticate()
            .starts_with("Bearer error=\"invalid_token\", error_description=\""),
        "{what}: {}",
        e.www_authenticate()
    );
    assert!(e.description().contains(needle), "{what}: {e}");
}

#[tokio::test]
async fn a_good_token_gives_the_caller_who_gets_an_obo_token() {
    let env = env().await;
    let v = env.validator();
    let token = env.token(|_| {});
    let caller = v
        .validate_header(Some(&format!("Bearer {token}")))
        .await
        .unwrap();
    assert_eq!(
        caller.object_id(),
        Some("00000000-0000-0000-0000-00000000a11c")
    );
    assert_eq!(caller.tenant_id(), Some(env.authority.tenant_id()));
    assert_eq!(caller.client_app_id(), Some(FRONTEND));
    assert_eq!(caller.scopes(), ["Orders.Read"]);
    assert!(caller.has_scope("Orders.Read") && !caller.is_app_only());
    assert_eq!(caller.api_client_id(), OrdersApi::CLIENT_ID);
    let debug = format!("{caller:?}");
    assert!(
        !debug.contains(&token),
        "the token leaked into Debug: {debug}"
    );
    assert_eq!(caller.assertion().secret(), token);

    // The validated caller is the OBO user assertion, as is.
    let user = env.authority.issue_user_token(
        "alice@contoso.onmicrosoft.com",
        FRONTEND,
        API_URI,
        &["Orders.Read"],
    );
    let caller = v.validate(&user.unwrap()).await.unwrap();
    let obo = env
        .app
        .acquire_token_on_behalf_of(&caller, &["api://inventory/Items.Read"])
        .await
        .unwrap();
    let claims = env
        .authority
        .verify_access_token(obo.access_token.secret())
        .unwrap();
    assert_eq!(claims["aud"], "api://inventory");
    assert_eq!(claims["oid"], caller.claims()["oid"]);
    // Discovery and keys were fetched once for both validations.
    assert_eq!(env.jwks_fetches(), 1);
}

#[tokio::test]
async fn v1_and_v2_issuers_and_every_default_audience() {
    let env = env().await;
    let v = env.validator();
    let tid = env.authority.tenant_id().to_string();
    let v1_issuer = format!("{}/{tid}/", env.authority.base_url());
    assert!(env.authority.issuer(&tid).ends_with("/v2.0"));
    for aud in [
        API_URI.to_string(),
        OrdersApi::CLIENT_ID.to_string(),
        format!("api://{}", OrdersApi::CLIENT_ID),
    ] {
        let t = env.token(|c| c["aud"] = json!(aud));
        v.validate(&t)
            .await
            .unwrap_or_else(|e| panic!("{aud}: {e}"));
        let t = env.token(|c| {
            c["aud"] = json!(aud);
            c["iss"] = json!(v1_issuer);
            c["ver"] = json!("1.0");
        });
        v.validate(&t)
            .await
            .unwrap_or_else(|e| panic!("v1 {aud}: {e}"));
    }
}

#[tokio::test]
async fn every_bad_token_is_a_401_invalid_token() {
    let env = env().await;
    let v = env.validator();
    let good = env.token(|_| {});
    v.validate(&good).await.unwrap();
    let now = now();

    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let mut claims = env.claims();
        claims["oid"] = json!("someone-else");
        let body = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims.to_string(),
        );
        format!("{}.{body}.{}", parts[0], parts[2])
    };
    assert_invalid(v.validate(&tampered).await, "tampered", "signature");
    let unsigned = {
        let parts: Vec<&str> = good.split('.').collect();
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"none","typ":"JWT"}"#,
        );
        format!("{header}.{}.", parts[1])
    };
    assert_invalid(v.validate(&unsigned).await, "alg none", "algorithm");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired beyond the skew",
            env.token(|c| c["exp"] = json!(now - 600)),
            "expired",
        ),
        (
            "not valid for ten minutes",
            env.token(|c| c["nbf"] = json!(now + 600)),
            "not valid yet",
        ),
        ("no exp", env.token(|c| c["exp"] = Value::Null), "`exp`"),
        (
            "another audience",
            env.token(|c| c["aud"] = json!("api://someone-else")),
            "audience",
        ),
        (
            "another issuer",
            env.token(|c| c["iss"] = json!("https://evil.example/t/v2.0")),
            "issuer",
        ),
        (
            "another tenant of the same authority",
            env.token(|c| {
                c["tid"] = json!(OTHER_TENANT);
                c["iss"] = json!(env.authority.issuer(OTHER_TENANT));
            }),
            "issuer",
        ),
        ("not a JWT", "not-a-jwt".into(), "not a JWT"),
        ("not base64", "!!.!!.!!".into(), "base64url"),
    ];
    for (what, token, needle) in cases {
        assert_invalid(v.validate(&token).await, what, needle);
    }
    let signed_elsewhere = env.authority.sign_token_with_unpublished_key(&env.claims());
    assert_invalid(
        v.validate(&signed_elsewhere).await,
        "unpublished key",
        "signature",
    );

    // No token, or another scheme: a bare challenge.
    for header in [
        None,
        Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
        Some("Bearer "),
    ] {
        let e = refused(v.validate_header(header).await, "no bearer");
        assert_eq!(e.kind(), RejectionKind::MissingToken);
        assert_eq!((e.status(), e.www_authenticate().as_str()), (401, "Bearer"));
    }
}

#[tokio::test]
async fn a_validator_from_an_accepts_table_loaded_at_run_time() {
    let env = env().await;
    let cfg = msal_config::Config::load(std::path::Path::new("examples/msal.toml")).unwrap();
    let accepts = cfg.app("orders_api").unwrap().accepts.clone().unwrap();
    let v = AccessTokenValidator::builder(&env.app)
        .accepts(&accepts)
        .build()
        .unwrap();
    v.validate(&env.token(|_| {})).await.unwrap();
    let e = refused(
        v.validate(&env.token(|c| c["scp"] = json!("Orders.Write")))
            .await,
        "write",
    );
    assert_eq!(e.kind(), RejectionKind::InsufficientScope);
}

#[tokio::test]
async fn clock_skew_is_five_minutes_unless_set() {
    let env = env().await;
    let two_minutes_ago = env.token(|c| c["exp"] = json!(now() - 120));
    env.validator().validate(&two_minutes_ago).await.unwrap();
    let strict = AccessTokenValidator::builder(&env.app)
        .audience(API_URI)
        .clock_skew(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    assert_invalid(strict.validate(&two_minutes_ago).await, "strict", "expired");
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_once_then_refetches_are_rate_limited() {
    let env = env().await;
    let v = env.validator();
    v.validate(&env.token(|_| {})).await.unwrap();
    assert_eq!(env.jwks_fetches(), 1);
    // The authority rolls over to a new key: the first token signed with it makes the
    // validator fetch the keys again, and it is accepted.
    let kid = env.authority.publish_new_signing_key();
    let rolled = env
        .authority
        .sign_token_with_key(&kid, &env.claims())
        .unwrap();
    v.validate(&rolled).await.unwrap();
    assert_eq!(env.jwks_fetches(), 2);
    v.validate(&rolled).await.unwrap();
    assert_eq!(env.jwks_fetches(), 2, "a known kid needs no fetch");
    // A forged kid right after: no new fetch (rate limit), refused.
    for _ in 0..3 {
        let forged = env.authority.sign_token_with_unpublished_key(&env.claims());
        assert_invalid(v.validate(&forged).await, "forged kid", "signature");
    }
    assert_eq!(env.jwks_fetches(), 2, "refetches are rate-limited");
}

#[tokio::test]
async fn tenants_single_listed_and_any() {
    let env = env().await;
    let from = |tid: &str| {
        env.token(|c| {
            c["tid"] = json!(tid);
            c["iss"] = json!(env.authority.issuer(tid));
        })
    };
    let home = env.authority.tenant_id().to_string();
    let single = env.validator();
    single.validate(&from(&home)).await.unwrap();
    assert_invalid(
        single.validate(&from(OTHER_TENANT)).await,
        "other",
        "issuer",
    );

    let listed = AccessTokenValidator::builder(&env.app)
        .audience(API_URI)
        .tenants([OTHER_TENANT])
        .build()
        .unwrap();
    listed.validate(&from(OTHER_TENANT)).await.unwrap();
    assert_invalid(
        listed.validate(&from(THIRD_TENANT)).await,
        "unlisted",
        "tenant this API does not accept",
    );
    // A listed tid with another tenant's issuer is still refused.
    let mixed = env.token(|c| {
        c["tid"] = json!(OTHER_TENANT);
        c["iss"] = json!(env.authority.issuer(THIRD_TENANT));
    });
    assert_invalid(listed.validate(&mixed).await, "mixed", "issuer");

    let any = AccessTokenValidator::builder(&env.app)
        .audience(API_URI)
        .any_tenant()
        .build()
        .unwrap();
    for tid in [home.as_str(), OTHER_TENANT, THIRD_TENANT] {
        any.validate(&from(tid)).await.unwrap();
    }
    let no_tid = env.token(|c| c["tid"] = Value::Null);
    assert_invalid(any.validate(&no_tid).await, "no tid", "tid");

    assert!(AccessTokenValidator::builder(&env.app)
        .tenants(Vec::<String>::new())
        .build()
        .is_err());
}

#[tokio::test]
async fn scopes_and_roles_missing_scope_is_a_403_with_the_challenge() {
    let env = env().await;
    let v = env.validator();
    let write_only = env.token(|c| c["scp"] = json!("Orders.Write"));
    let e = refused(v.validate(&write_only).await, "write only");
    assert_eq!(e.kind(), RejectionKind::InsufficientScope);
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.www_authenticate(),
        "Bearer error=\"insufficient_scope\", error_description=\"the access token lacks a permission: scope Orders.Read or role Orders.Admin\", scope=\"Orders.Read\""
    );
    // An app-only token with an accepted role.
    let app_only = env.token(|c| {
        c.as_object_mut().unwrap().remove("scp");
        c["roles"] = json!(["Orders.Admin"]);
        c["idtyp"] = json!("app");
    });
    let caller = v.validate(&app_only).await.unwrap();
    assert!(caller.is_app_only() && caller.has_role("Orders.Admin"));
    assert_eq!(
        caller.require_scope("Orders.Read").unwrap_err().status(),
        403
    );
    // Nothing declared: nothing required.
    let open = AccessTokenValidator::builder(&env.app)
        .audience(API_URI)
        .build()
        .unwrap();
    open.validate(&write_only).await.unwrap();
}

#[tokio::test]
async fn keys_that_cannot_be_had_are_a_503_not_the_tokens_fault() {
    let env = env().await;
    env.authority
        .push_fault(Fault::status("/discovery/v2.0/keys", 500, "{}").times(10));
    let e = refused(
        env.validator().validate(&env.token(|_| {})).await,
        "no keys",
    );
    assert_eq!(e.kind(), RejectionKind::Unavailable);
    assert_eq!((e.status(), e.www_authenticate().as_str()), (503, "Bearer"));
}

// ---- axum: a real server on loopback ------------------------------------------------

mod orders_handlers {
    use super::{orders_api, OrdersApi};
    use axum::extract::State;
    use axum::Json;
    use msal::web_api::{Caller, Requires};
    use serde_json::{json, Value};

    pub async fn orders(
        State(api): State<OrdersApi>,
        caller: Caller<OrdersApi, Requires<orders_api::scopes::OrdersRead>>,
    ) -> Result<Json<Value>, String> {
        let downstream = api
            .acquire_token_on_behalf_of(&caller, OrdersApi::scopes().inventory)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Json(json!({
            "oid": caller.object_id(),
            "obo_source": downstream.token_source.as_str(),
        })))
    }

    pub async fn admin(
        caller: Caller<OrdersApi, Requires<orders_api::roles::OrdersAdmin>>,
    ) -> Json<Value> {
        Json(json!({ "roles": caller.roles() }))
    }

    pub async fn anyone(caller: Caller<OrdersApi>) -> Json<Value> {
        Json(json!({ "scopes": caller.scopes(), "roles": caller.roles() }))
    }

    /// Untyped: what other middleware sees.
    pub async fn untyped(
        axum::Extension(caller): axum::Extension<msal::web_api::ValidatedCaller>,
    ) -> Json<Value> {
        Json(json!({ "oid": caller.object_id() }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_layer_and_extractors_over_loopback() {
    use axum::routing::get;
    let env = env().await;
    env.authority.register_app(
        AppRegistration::with_secret("6f1c2d3e-0000-4000-8000-0000000000d4", "inventory")
            .identifier_uri("api://6f1c2d3e-0000-4000-8000-0000000000d4"),
    );
    let api = OrdersApi::from_application(env.app.clone()).unwrap();
    assert_eq!(
        <OrdersApi as WebApi>::ACCEPTS.scopes,
        ["Orders.Read"],
        "accepts compiled in from examples/msal.toml"
    );
    let layer = AccessTokenLayer::for_app(&api).unwrap();
    let app = axum::Router::new()
        .route("/orders", get(orders_handlers::orders))
        .route("/admin", get(orders_handlers::admin))
        .route("/anyone", get(orders_handlers::anyone))
        .route("/untyped", get(orders_handlers::untyped))
        .layer(layer)
        .route("/unprotected", get(orders_handlers::anyone))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("http://{addr}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let challenge = |r: &reqwest::Response| {
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };

    let alice = env
        .authority
        .issue_user_token(
            "alice@contoso.onmicrosoft.com",
            FRONTEND,
            API_URI,
            &["Orders.Read"],
        )
        .unwrap();
    // A reader: orders yes (with an OBO token, then from the cache), admin no.
    for source in ["identity_provider", "cache"] {
        let r = call("/orders", Some(&alice)).await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["obo_source"], source);
        assert!(body["oid"].is_string());
    }
    let r = call("/admin", Some(&alice)).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        challenge(&r),
        "Bearer error=\"insufficient_scope\", error_description=\"the access token lacks a permission: role Orders.Admin\""
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(call("/anyone", Some(&alice)).await.unwrap().status(), 200);
    let r = call("/untyped", Some(&alice)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["oid"].is_string());

    // An admin app: admin yes, orders no (403 naming the scope).
    let admin = env.token(|c| {
        c.as_object_mut().unwrap().remove("scp");
        c["roles"] = json!(["Orders.Admin"]);
    });
    assert_eq!(call("/admin", Some(&admin)).await.unwrap().status(), 200);
    let r = call("/orders", Some(&admin)).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        challenge(&r).ends_with("scope=\"Orders.Read\""),
        "{}",
        challenge(&r)
    );

    // The layer answers before any handler: no token, bad token, nothing accepted.
    let r = call("/orders", None).await.unwrap();
    assert_eq!((r.status().as_u16(), challenge(&r)), (401, "Bearer".into()));
    let expired = env.token(|c| c["exp"] = json!(now() - 3600));
    let r = call("/anyone", Some(&expired)).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("Bearer error=\"invalid_token\""));
    let nothing = env.token(|c| c["scp"] = json!("Orders.Write"));
    let r = call("/anyone", Some(&nothing)).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(challenge(&r).contains("scope=\"Orders.Read\""));

    // A Caller on a route the layer does not cover is a server bug, not a pass.
    let r = call("/unprotected", Some(&alice)).await.unwrap();
    assert_eq!(r.status(), 500);
    // Refused calls never reached the authority's token endpoint.
    let obo = env
        .authority
        .token_requests()
        .iter()
        .filter(|r| r.form_value("requested_token_use") == Some("on_behalf_of"))
        .count();
    assert_eq!(obo, 1);
    server.abort();
}

#[test]
fn caller_type_checks_the_requirement() {
    // Compile-time: these types exist only for what `accepts` lists (trybuild covers the
    // failures); at run time `Caller::new` applies the requirement.
    fn assert_caller<A: WebApi, R: msal::web_api::Requirement<A>>() {}
    assert_caller::<OrdersApi, Requires<orders_api::scopes::OrdersRead>>();
    assert_caller::<
        OrdersApi,
        Requires<(
            orders_api::scopes::OrdersRead,
            orders_api::roles::OrdersAdmin,
        )>,
    >();
    let _: fn(ValidatedCaller) -> Result<Caller<OrdersApi>, Rejection> = Caller::new;
}
