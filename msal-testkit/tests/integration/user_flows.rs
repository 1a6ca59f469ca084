//! Authorization code (+PKCE), refresh tokens, on-behalf-of, scripted sign-in and hostile hooks.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use openssl::hash::{hash, MessageDigest};
use serde_json::{json, Value};

const REDIRECT: &str = "http://localhost:8400/callback";
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret";
const SCOPES: &str = "User.Read offline_access openid profile";

struct Flow {
    auth_uri: String,
    state: String,
    verifier: String,
    nonce_hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the authorize URL the way MSAL Python does.
fn flow(authority: &TestAuthority, extra: &[(&str, &str)]) -> Flow {
    let verifier = "x".repeat(20) + &uuid::Uuid::new_v4().simple().to_string();
    let challenge =
        URL_SAFE_NO_PAD.encode(hash(MessageDigest::sha256(), verifier.as_bytes()).unwrap());
    let nonce_hash = hex(&hash(MessageDigest::sha256(), b"raw-nonce").unwrap());
    let state = uuid::Uuid::new_v4().to_string();
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPES),
        ("state", &state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("nonce", &nonce_hash),
        ("client_info", "1"),
    ];
    params.extend_from_slice(extra);
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Flow {
        auth_uri: format!(
            "{}/oauth2/v2.0/authorize?{query}",
            authority.authority(authority.tenant_id())
        ),
        state,
        verifier,
        nonce_hash,
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn decode_part(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn alice() -> TestUser {
    TestUser::new("alice@contoso.onmicrosoft.com")
}

async fn setup() -> (TestAuthority, reqwest::Client, TestUser) {
    let user = alice();
    let authority = TestAuthority::builder()
        .app(AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT))
        .app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri("api://orders"))
        .user(user.clone())
        .user(TestUser::new("bob@contoso.onmicrosoft.com"))
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    (authority, client, user)
}

fn token_url(authority: &TestAuthority) -> String {
    format!(
        "{}/oauth2/v2.0/token",
        authority.authority(authority.tenant_id())
    )
}

async fn redeem(
    authority: &TestAuthority,
    client: &reqwest::Client,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    post_form(
        client,
        &token_url(authority),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("client_info", "1"),
            ("client_secret", SECRET),
            ("code_verifier", verifier),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPES),
        ],
    )
    .await
}

#[tokio::test]
async fn auth_code_flow_with_pkce_then_refresh() {
    let (authority, client, user) = setup().await;
    let f = flow(
        &authority,
        &[("login_hint", "alice@contoso.onmicrosoft.com")],
    );
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    assert_eq!(param(&back, "state"), Some(f.state.as_str()));
    assert!(param(&back, "session_state").is_some());
    let code = param(&back, "code").unwrap().to_string();
    let ci: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(param(&back, "client_info").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ci, json!({"uid": user.oid, "utid": authority.tenant_id()}));

    let (status, body) = redeem(&authority, &client, &code, &f.verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "User.Read openid profile");
    assert!(body["refresh_token"].is_string());
    assert!(body["client_info"].is_string());

    let at = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["oid"], user.oid);
    assert_eq!(at["tid"], authority.tenant_id());
    assert_eq!(at["idtyp"], "user");
    assert_eq!(at["azp"], CLIENT_ID);

    let id = authority
        .verify_access_token(body["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["nonce"], f.nonce_hash);
    assert_eq!(id["preferred_username"], user.username);
    assert_eq!(id["name"], "Alice");
    assert_eq!(id["oid"], user.oid);
    assert_eq!(id["ver"], "2.0");
    assert_eq!(
        id["iss"],
        format!("{}/{}/v2.0", authority.base_url(), authority.tenant_id())
    );

    // Codes are single use.
    let (status, again) = redeem(&authority, &client, &code, &f.verifier).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(error_code(&again), 54005);

    // Refresh: a new access token and a new refresh token.
    let rt = body["refresh_token"].as_str().unwrap();
    let refresh_form = |rt: String| {
        vec![
            ("client_id", CLIENT_ID.to_string()),
            ("grant_type", "refresh_token".into()),
            ("client_info", "1".into()),
            ("client_secret", SECRET.into()),
            ("refresh_token", rt),
            ("scope", SCOPES.into()),
        ]
    };
    let resp = client
        .post(token_url(&authority))
        .form(&refresh_form(rt.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refreshed: Value = resp.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], body["refresh_token"]);
    assert!(refreshed["id_token"].is_string());
    assert!(decode_part(refreshed["id_token"].as_str().unwrap())
        .get("nonce")
        .is_none());

    // Revoked: invalid_grant / bad_token.
    authority.revoke_refresh_tokens_for(&user.username);
    let resp = client
        .post(token_url(&authority))
        .form(&refresh_form(rt.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    assert_eq!(err["suberror"], "bad_token");
    assert_eq!(error_code(&err), 70043);
}

#[tokio::test]
async fn refresh_token_expiry_and_garbage() {
    let (authority, client, user) = setup().await;
    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    let (_, body) = redeem(
        &authority,
        &client,
        param(&back, "code").unwrap(),
        &f.verifier,
    )
    .await;
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    authority.expire_refresh_tokens();
    for (token, code) in [(rt.as_str(), 700082), ("not-a-refresh-token", 70043)] {
        let (status, err) = post_form(
            &client,
            &token_url(&authority),
            &[
                ("client_id", CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("client_secret", SECRET),
                ("refresh_token", token),
                ("scope", SCOPES),
            ],
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(err["error"], "invalid_grant");
        assert_eq!(err["suberror"], "bad_token");
        assert_eq!(error_code(&err), code);
    }
}

#[tokio::test]
async fn pkce_and_redirect_uri_are_enforced() {
    let (authority, client, user) = setup().await;
    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    let code = param(&back, "code").unwrap();
    let (status, err) = redeem(
        &authority,
        &client,
        code,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, 501481), "{err}");

    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    let (status, err) = post_form(
        &client,
        &token_url(&authority),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("client_secret", SECRET),
            ("code_verifier", &f.verifier),
            ("code", param(&back, "code").unwrap()),
            ("redirect_uri", "http://localhost:9999/other"),
            ("scope", SCOPES),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // An unregistered redirect URI is refused on the authorization page itself.
    let bad = f.auth_uri.replace("8400", "8401");
    let err = authority.sign_in(&bad, &user.username).await.unwrap_err();
    assert!(err.contains("400") && err.contains("AADSTS50011"), "{err}");
}

#[tokio::test]
async fn scripted_sign_in_hooks_and_response_modes() {
    let (authority, client, _) = setup().await;
    // login_hint picks the user when the browser GETs the URL directly.
    let f = flow(&authority, &[("login_hint", "bob@contoso.onmicrosoft.com")]);
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(authority.ca_pem()).unwrap()])
        .build()
        .unwrap();
    let resp = no_redirect.get(&f.auth_uri).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (_, body) = redeem(&authority, &client, &code, &f.verifier).await;
    let id = decode_part(body["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], "bob@contoso.onmicrosoft.com");

    // sign_in_as applies without a hint.
    authority.sign_in_as("bob@contoso.onmicrosoft.com");
    let f = flow(&authority, &[]);
    let resp = no_redirect.get(&f.auth_uri).send().await.unwrap();
    assert_eq!(resp.status(), 302);

    // Scripted refusal, with state echoed.
    authority.set_next_authorize_error(Some("access_denied"));
    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, "alice@contoso.onmicrosoft.com")
        .await
        .unwrap();
    assert_eq!(param(&back, "error"), Some("access_denied"));
    assert_eq!(param(&back, "state"), Some(f.state.as_str()));
    assert!(param(&back, "code").is_none());

    // form_post mode returns an auto-submitting form.
    let f = flow(&authority, &[("response_mode", "form_post")]);
    let back = authority
        .sign_in(&f.auth_uri, "alice@contoso.onmicrosoft.com")
        .await
        .unwrap();
    assert!(param(&back, "code").is_some());
    assert_eq!(param(&back, "state"), Some(f.state.as_str()));

    // Unknown user for sign_in.
    assert!(authority.sign_in(&f.auth_uri, "nobody@x").await.is_err());
}

#[tokio::test]
async fn hostile_id_token_hooks() {
    let (authority, client, user) = setup().await;
    authority.sign_id_tokens_with_wrong_key(true);
    authority.set_id_token_nonce_override(Some("evil".into()));
    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    let (_, body) = redeem(
        &authority,
        &client,
        param(&back, "code").unwrap(),
        &f.verifier,
    )
    .await;
    let id_token = body["id_token"].as_str().unwrap();
    assert!(authority.verify_access_token(id_token).is_err());
    assert_eq!(decode_part(id_token)["nonce"], "evil");
    // Access tokens are unaffected.
    assert!(authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .is_ok());
}

#[tokio::test]
async fn on_behalf_of() {
    let (authority, client, user) = setup().await;
    let incoming = authority
        .issue_user_token(
            &user.username,
            CLIENT_ID,
            "api://orders",
            &["access_as_user"],
        )
        .unwrap();
    let obo = |assertion: String, client_id: &'static str, secret: &'static str| {
        let client = client.clone();
        let url = token_url(&authority);
        async move {
            post_form(
                &client,
                &url,
                &[
                    ("client_id", client_id),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("client_info", "1"),
                    ("client_secret", secret),
                    ("requested_token_use", "on_behalf_of"),
                    (
                        "scope",
                        "https://graph.microsoft.com/User.Read offline_access openid profile",
                    ),
                    ("assertion", &assertion),
                ],
            )
            .await
        }
    };
    let (status, body) = obo(incoming.clone(), API_ID, API_SECRET).await;
    assert_eq!(status, 200, "{body}");
    let at = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(at["oid"], user.oid);
    assert_eq!(at["tid"], authority.tenant_id());
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    assert_eq!(at["azp"], API_ID);
    assert!(body["refresh_token"].is_string());
    let id = decode_part(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], API_ID);
    assert!(body["client_info"].is_string());

    // The assertion's audience is another app: refused.
    let (status, err) = obo(incoming, CLIENT_ID, SECRET).await;
    assert_eq!((status, error_code(&err)), (400, 500131), "{err}");

    // An app-only token is not a user assertion.
    let (_, app_token) = post_form(
        &client,
        &token_url(&authority),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", "api://orders/.default"),
        ],
    )
    .await;
    let (status, err) = obo(
        app_token["access_token"].as_str().unwrap().to_string(),
        API_ID,
        API_SECRET,
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A forged token (not signed by the authority) is refused.
    let forged = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(json!({"aud": "api://orders", "exp": now() + 60}).to_string())
    );
    let (status, err) = obo(forged, API_ID, API_SECRET).await;
    assert_eq!((status, error_code(&err)), (400, 50013));

    // Expired incoming token.
    authority.set_token_lifetime(0);
    let stale = authority
        .issue_user_token(&user.username, CLIENT_ID, API_ID, &["access_as_user"])
        .unwrap();
    authority.set_token_lifetime(3600);
    let (status, err) = obo(stale, API_ID, API_SECRET).await;
    assert_eq!((status, error_code(&err)), (400, 500133), "{err}");
}

#[tokio::test]
async fn foci_family_refresh_tokens() {
    let user = alice();
    let mut a = AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT);
    a.foci = Some("1".into());
    let mut b = AppRegistration::with_secret(API_ID, API_SECRET);
    b.foci = Some("1".into());
    let c = AppRegistration::with_secret("c0000000-0000-4000-8000-00000000000c", "c");
    let authority = TestAuthority::builder()
        .app(a)
        .app(b)
        .app(c)
        .user(user.clone())
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    let f = flow(&authority, &[]);
    let back = authority
        .sign_in(&f.auth_uri, &user.username)
        .await
        .unwrap();
    let (_, body) = redeem(
        &authority,
        &client,
        param(&back, "code").unwrap(),
        &f.verifier,
    )
    .await;
    assert_eq!(body["foci"], "1");
    let rt = body["refresh_token"].as_str().unwrap();
    let refresh = |id: &'static str, secret: &'static str| {
        let client = client.clone();
        let url = token_url(&authority);
        let rt = rt.to_string();
        async move {
            post_form(
                &client,
                &url,
                &[
                    ("client_id", id),
                    ("grant_type", "refresh_token"),
                    ("client_secret", secret),
                    ("refresh_token", &rt),
                    ("scope", SCOPES),
                ],
            )
            .await
        }
    };
    let (status, _) = refresh(API_ID, API_SECRET).await;
    assert_eq!(status, 200);
    let (status, err) = refresh("c0000000-0000-4000-8000-00000000000c", "c").await;
    assert_eq!(status, 400);
    assert_eq!(err["suberror"], "client_mismatch");
}
