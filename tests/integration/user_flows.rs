//! User flows end to end, over HTTPS, against the in-process test authority: sign-in with
//! the authorization code flow (PKCE, state, nonce), on-behalf-of, silent acquisition with
//! refresh tokens, accounts, claims and client capabilities, family refresh tokens.
//!
//! Each test states a rule of MSAL (see the protocol reference, sections 4.5, 5.2-5.6, 7)
//! and checks it on the wire (the authority's request log) and in the cache.

use crate::support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use msal_runtime::{
    Account, AuthCodeFlow, AuthCodeFlowOptions, AuthenticationResult, ClientCredential,
    ConfidentialClientApplication, Error, SilentOptions, TokenCache, TokenSource,
};
use msal_testkit::{AppRegistration, RecordedRequest, TestAuthority, TestUser};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

const REDIRECT: &str = "https://webapp.example.com/auth/callback";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const BOB: &str = "bob@contoso.onmicrosoft.com";
const USER_READ: &str = "User.Read";
const MAIL_READ: &str = "Mail.Read";
/// What `client_capabilities(["cp1"])` alone sends (MSAL Python's `json.dumps` form).
const CP1_CLAIMS: &str = r#"{"access_token": {"xms_cc": {"values": ["cp1"]}}}"#;

/// A web API that calls Graph on behalf of its callers.
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-tests";
const API_URI: &str = "api://orders-api";
/// The single-page app whose tokens the web API receives.
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// An authority with the web app (secret + redirect URI), the web API, and two users.
struct World {
    auth: TestAuthority,
    alice: TestUser,
    bob: TestUser,
}

impl World {
    async fn start() -> World {
        let auth = TestAuthority::start().await;
        auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT));
        auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
        let (alice, bob) = (TestUser::new(ALICE), TestUser::new(BOB));
        auth.add_user(alice.clone());
        auth.add_user(bob.clone());
        World { auth, alice, bob }
    }

    /// `{uid}.{utid}` as Entra's `client_info` gives it.
    fn home_account_id(&self, user: &TestUser) -> String {
        format!("{}.{}", user.oid, self.auth.tenant_id())
    }

    fn web_app(&self) -> ConfidentialClientApplication {
        secret_app(&self.auth)
    }

    fn api_app(&self) -> ConfidentialClientApplication {
        builder(&self.auth, API_ID, self.auth.tenant_id())
            .client_credential(ClientCredential::secret(API_SECRET))
            .build()
            .unwrap()
    }

    /// The token a caller presents to the web API (the OBO user assertion).
    fn incoming_token(&self, username: &str) -> String {
        self.auth
            .issue_user_token(username, SPA_ID, API_URI, &["access_as_user"])
            .unwrap()
    }

    /// Signs `username` in to `app` through the authorize endpoint and redeems the code.
    async fn sign_in(
        &self,
        app: &ConfidentialClientApplication,
        username: &str,
        scopes: &[&str],
    ) -> AuthenticationResult {
        let flow = app
            .initiate_auth_code_flow(scopes, AuthCodeFlowOptions::new(REDIRECT))
            .await
            .unwrap();
        let response = self.auth.sign_in(&flow.auth_uri, username).await.unwrap();
        app.acquire_token_by_auth_code_flow(&flow, response)
            .await
            .unwrap()
    }

    fn posts(&self) -> usize {
        self.auth.token_requests().len()
    }

    fn last_post(&self) -> RecordedRequest {
        self.auth.token_requests().pop().expect("a token request")
    }
}

fn query(uri: &str) -> Vec<(String, String)> {
    url::Url::parse(uri)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn sha256_hex(s: &str) -> String {
    openssl::sha::sha256(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()))
}

fn account_of(r: &AuthenticationResult) -> Account {
    r.account.clone().expect("a user flow returns the account")
}

fn server_error(e: Error) -> msal_runtime::ServerError {
    match e {
        Error::Server(s) => *s,
        other => panic!("expected the server's error, got {other:?}"),
    }
}

/// Every cache entry of one user, section by section, as JSON (to compare snapshots).
fn entries_of(cache: &TokenCache, home_account_id: &str) -> BTreeMap<&'static str, Vec<Value>> {
    let mine = |entries: Vec<Value>| {
        let mut v: Vec<Value> = entries
            .into_iter()
            .filter(|e| e["home_account_id"] == home_account_id)
            .collect();
        v.sort_by_key(|e| e.to_string());
        v
    };
    macro_rules! json_of {
        ($entries:expr) => {
            $entries
                .into_iter()
                .map(|e| serde_json::to_value(e).unwrap())
                .collect::<Vec<Value>>()
        };
    }
    BTreeMap::from([
        ("AccessToken", mine(json_of!(cache.access_tokens()))),
        ("RefreshToken", mine(json_of!(cache.refresh_tokens()))),
        ("IdToken", mine(json_of!(cache.id_tokens()))),
        ("Account", mine(json_of!(cache.accounts()))),
    ])
}

// ---------------------------------------------------------------------------------------
// Authorization code flow
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn auth_uri_carries_pkce_state_nonce_and_client_info_in_msal_order() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();

    let uri = url::Url::parse(&flow.auth_uri).unwrap();
    assert_eq!(
        format!("{}{}", uri.origin().ascii_serialization(), uri.path()),
        format!(
            "{}/oauth2/v2.0/authorize",
            w.auth.authority(w.auth.tenant_id())
        )
    );
    let q = query(&flow.auth_uri);
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "nonce",
            "client_info"
        ],
        "MSAL Python's order, and nothing optional when no option is given"
    );
    assert_eq!(param(&q, "client_id"), Some(CLIENT_ID));
    assert_eq!(param(&q, "response_type"), Some("code"));
    assert_eq!(param(&q, "redirect_uri"), Some(REDIRECT));
    // Decorated with the reserved scopes, ASCII-sorted.
    assert_eq!(
        param(&q, "scope"),
        Some("User.Read offline_access openid profile")
    );
    assert_eq!(param(&q, "state"), Some(flow.state.as_str()));
    assert_eq!(flow.state.len(), 22, "token_urlsafe(16)");
    // PKCE S256 over a 43-character verifier the flow keeps.
    assert_eq!(flow.code_verifier().len(), 43);
    assert!(flow
        .code_verifier()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    assert_eq!(
        param(&q, "code_challenge"),
        Some(s256(flow.code_verifier()).as_str())
    );
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    // The URL carries the hex SHA-256 of the nonce, never the raw nonce.
    assert_eq!(param(&q, "nonce"), Some(sha256_hex(flow.nonce()).as_str()));
    assert!(!flow.auth_uri.contains(flow.nonce()));
    assert!(!flow.auth_uri.contains(flow.code_verifier()));
    assert_eq!(param(&q, "client_info"), Some("1"));

    let mut scope = flow.scope.clone();
    scope.sort();
    assert_eq!(scope, ["User.Read", "offline_access", "openid", "profile"]);
    assert_eq!(flow.redirect_uri.as_deref(), Some(REDIRECT));

    // Two flows never share state, nonce or verifier.
    let other = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    assert_ne!(other.state, flow.state);
    assert_ne!(other.nonce(), flow.nonce());
    assert_ne!(other.code_verifier(), flow.code_verifier());

    // Reserved scopes are the library's to add.
    for reserved in ["openid", "profile", "offline_access"] {
        let err = app
            .initiate_auth_code_flow(&[USER_READ, reserved], AuthCodeFlowOptions::new(REDIRECT))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{reserved}: {err:?}");
    }
    assert_eq!(
        w.posts(),
        0,
        "initiating a flow asks nothing of the token endpoint"
    );
}

#[tokio::test]
async fn options_appear_on_the_auth_uri_and_the_sign_in_completes_with_them() {
    let w = World::start().await;
    let app = w.web_app();
    let challenge = r#"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let flow = app
        .initiate_auth_code_flow(
            &[USER_READ],
            AuthCodeFlowOptions::new(REDIRECT)
                .prompt("login")
                .login_hint(ALICE)
                .domain_hint("contoso.onmicrosoft.com")
                .max_age(600)
                .response_mode("form_post")
                .claims_challenge(challenge),
        )
        .await
        .unwrap();
    let q = query(&flow.auth_uri);
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "response_mode",
            "code_challenge",
            "code_challenge_method",
            "nonce",
            "client_info",
            "login_hint",
            "prompt",
            "domain_hint",
            "claims",
            "max_age",
            "X-AnchorMailbox"
        ]
    );
    assert_eq!(param(&q, "prompt"), Some("login"));
    assert_eq!(param(&q, "login_hint"), Some(ALICE));
    assert_eq!(param(&q, "domain_hint"), Some("contoso.onmicrosoft.com"));
    assert_eq!(param(&q, "max_age"), Some("600"));
    assert_eq!(param(&q, "response_mode"), Some("form_post"));
    // Without client capabilities the challenge goes out verbatim.
    assert_eq!(param(&q, "claims"), Some(challenge));
    assert_eq!(
        param(&q, "X-AnchorMailbox"),
        Some(format!("UPN:{ALICE}").as_str())
    );
    assert_eq!(flow.max_age, Some(600));

    // The authority answers with a form post; the redemption repeats the challenge and
    // checks `auth_time` against max_age.
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    assert!(param(&response, "code").is_some(), "{response:?}");
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    let claims = t.id_token_claims.as_ref().unwrap();
    assert!(claims.contains_key("auth_time"), "{claims:?}");
    assert_eq!(claims["preferred_username"], ALICE);
    assert_eq!(w.last_post().form_value("claims"), Some(challenge));

    // A bad option is refused before anything is sent.
    let err = app
        .initiate_auth_code_flow(
            &[USER_READ],
            AuthCodeFlowOptions::new(REDIRECT).response_mode("popup"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

#[tokio::test]
async fn sign_in_redeems_the_code_with_the_verifier_and_caches_the_user() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    assert_eq!(param(&response, "state"), Some(flow.state.as_str()));
    let code = param(&response, "code").unwrap().to_string();
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response.clone())
        .await
        .unwrap();

    // The result: a token the authority signed for Alice, her account, her ID token.
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let at = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(at["oid"], w.alice.oid.as_str());
    assert_eq!(at["scp"], "User.Read");
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    let hid = w.home_account_id(&w.alice);
    let account = account_of(&t);
    assert_eq!(account.home_account_id, hid, "uid.utid from client_info");
    assert_eq!(account.username, ALICE);
    assert_eq!(account.local_account_id, w.alice.oid);
    assert_eq!(account.realm, w.auth.tenant_id());
    assert_eq!(account.authority_type, "MSSTS");
    assert_eq!(
        account.account_source.as_deref(),
        Some("authorization_code")
    );
    let idc = t.id_token_claims.as_ref().unwrap();
    assert_eq!(idc["nonce"], sha256_hex(flow.nonce()).as_str());
    assert_eq!(idc["aud"], CLIENT_ID);
    assert_eq!(t.tenant_id.as_deref(), Some(w.auth.tenant_id()));
    let mut scopes = t.scopes.to_vec();
    scopes.sort();
    assert_eq!(scopes, ["User.Read", "openid", "profile"]);

    // The wire: one POST with the code, the verifier, the flow's redirect URI and scopes.
    let posts = w.auth.token_requests();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p.form_value("grant_type"), Some("authorization_code"));
    assert_eq!(p.form_value("code"), Some(code.as_str()));
    assert_eq!(p.form_value("code_verifier"), Some(flow.code_verifier()));
    assert_eq!(p.form_value("redirect_uri"), Some(REDIRECT));
    assert_eq!(
        p.form_value("scope"),
        Some("User.Read offline_access openid profile")
    );
    assert_eq!(p.form_value("client_info"), Some("1"));
    assert_eq!(p.form_value("client_id"), Some(CLIENT_ID));
    assert_eq!(p.form_value("client_secret"), Some(SECRET));
    assert_eq!(p.form_value("claims"), None);
    assert_eq!(
        p.header("x-anchormailbox"),
        Some(format!("Oid:{}@{}", w.alice.oid, w.auth.tenant_id()).as_str())
    );
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|832,0|"));

    // The cache: AT, RT, IdToken, Account, AppMetadata, all keyed to Alice's home account.
    let cache = app.token_cache();
    let ats = cache.access_tokens();
    assert_eq!(ats.len(), 1);
    assert_eq!(ats[0].home_account_id.as_deref(), Some(hid.as_str()));
    assert_eq!(ats[0].secret, t.access_token.secret());
    assert_eq!(ats[0].client_id, CLIENT_ID);
    assert_eq!(ats[0].realm, w.auth.tenant_id());
    assert_eq!(ats[0].environment, "localhost");
    assert_eq!(ats[0].target, "User.Read openid profile");
    let rts = cache.refresh_tokens();
    assert_eq!(rts.len(), 1);
    assert_eq!(rts[0].home_account_id.as_deref(), Some(hid.as_str()));
    assert_eq!(rts[0].client_id, CLIENT_ID);
    assert!(rts[0].last_modification_time.is_some());
    assert_eq!(rts[0].family_id, None);
    let idts = cache.id_tokens();
    assert_eq!(idts.len(), 1);
    assert_eq!(Some(&idts[0].secret), t.id_token.as_ref());
    assert_eq!(idts[0].realm, w.auth.tenant_id());
    let accounts = cache.accounts();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].home_account_id, hid);
    assert_eq!(
        accounts[0].account_source.as_deref(),
        Some("authorization_code")
    );
    let meta = cache.app_metadata();
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].client_id, CLIENT_ID);
    assert_eq!(meta[0].family_id, None);

    // And the keys are MSAL's (what MSAL Python would look for).
    let json: Value = serde_json::from_str(&cache.serialize()).unwrap();
    let env = "localhost";
    let tid = w.auth.tenant_id();
    assert!(json["AccessToken"]
        .get(format!(
            "{hid}-{env}-accesstoken-{CLIENT_ID}-{tid}-user.read openid profile"
        ))
        .is_some());
    assert!(json["RefreshToken"]
        .get(format!(
            "{hid}-{env}-refreshtoken-{CLIENT_ID}--user.read openid profile"
        ))
        .is_some());
    assert!(json["IdToken"]
        .get(format!("{hid}-{env}-idtoken-{CLIENT_ID}-{tid}-"))
        .is_some());
    assert!(json["Account"].get(format!("{hid}-{env}-{tid}")).is_some());
    assert!(json["AppMetadata"]
        .get(format!("appmetadata-{env}-{CLIENT_ID}"))
        .is_some());
}

#[tokio::test]
async fn flow_survives_a_json_round_trip_through_session_storage() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    // Debug output is safe to log: neither the verifier nor the nonce shows.
    let debug = format!("{flow:?}");
    assert!(!debug.contains(flow.code_verifier()) && !debug.contains(flow.nonce()));

    let stored = serde_json::to_string(&flow).unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    // Another instance of the web app, sharing only the session store, completes it.
    let restored: AuthCodeFlow = serde_json::from_str(&stored).unwrap();
    assert_eq!(restored, flow);
    let other_instance = w.web_app();
    let t = other_instance
        .acquire_token_by_auth_code_flow(&restored, response)
        .await
        .unwrap();
    assert_eq!(account_of(&t).username, ALICE);
    assert_eq!(
        w.last_post().form_value("code_verifier"),
        Some(flow.code_verifier())
    );
}

#[tokio::test]
async fn state_mismatch_is_refused_before_any_token_request() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();

    let tampered: Vec<(String, String)> = response
        .iter()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let err = app
        .acquire_token_by_auth_code_flow(&flow, tampered)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(err.to_string().contains("state"), "{err}");

    let without_state: Vec<(String, String)> = response
        .iter()
        .filter(|(k, _)| k != "state")
        .cloned()
        .collect();
    let err = app
        .acquire_token_by_auth_code_flow(&flow, without_state)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");

    assert_eq!(w.posts(), 0, "no code was sent to the token endpoint");
    assert!(app.token_cache().access_tokens().is_empty());
    assert!(app.token_cache().accounts().is_empty());

    // The refusals did not burn the flow: the genuine response still works.
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    assert_eq!(account_of(&t).username, ALICE);
}

#[tokio::test]
async fn nonce_mismatch_is_refused_and_nothing_is_cached() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    // A token minted for another sign-in (its nonce is the hash of another raw nonce).
    w.auth
        .set_id_token_nonce_override(Some(sha256_hex("someone else's nonce")));
    let err = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(err.to_string().contains("nonce"), "{err}");
    assert_eq!(w.posts(), 1);
    let cache = app.token_cache();
    assert!(cache.access_tokens().is_empty());
    assert!(cache.refresh_tokens().is_empty());
    assert!(cache.id_tokens().is_empty());
    assert!(cache.accounts().is_empty());
    assert!(app.get_accounts(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn id_token_signed_with_an_unpublished_key_is_refused() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    w.auth.sign_id_tokens_with_wrong_key(true);
    let err = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(err.to_string().contains("signature"), "{err}");
    assert!(app.token_cache().access_tokens().is_empty());
    assert!(app.token_cache().accounts().is_empty());
}

#[tokio::test]
async fn replayed_response_is_refused() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    app.acquire_token_by_auth_code_flow(&flow, response.clone())
        .await
        .unwrap();
    assert_eq!(w.posts(), 1);

    // Same instance: refused locally, the code is not sent again.
    let err = app
        .acquire_token_by_auth_code_flow(&flow, response.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(err.to_string().contains("redeemed"), "{err}");
    assert_eq!(w.posts(), 1);

    // Another instance (it cannot know): the authority refuses the used code.
    let err = w
        .web_app()
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap_err();
    let e = server_error(err);
    assert_eq!(e.error, "invalid_grant");
    assert_eq!(e.error_codes, [54005]);
}

#[tokio::test]
async fn response_of_another_flow_is_refused() {
    let w = World::start().await;
    let app = w.web_app();
    let opts = || AuthCodeFlowOptions::new(REDIRECT);
    let flow_a = app
        .initiate_auth_code_flow(&[USER_READ], opts())
        .await
        .unwrap();
    let flow_b = app
        .initiate_auth_code_flow(&[USER_READ], opts())
        .await
        .unwrap();
    let response_a = w.auth.sign_in(&flow_a.auth_uri, ALICE).await.unwrap();

    let err = app
        .acquire_token_by_auth_code_flow(&flow_b, response_a.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(w.posts(), 0);
    assert!(app.token_cache().access_tokens().is_empty());

    // The response still belongs to flow A and completes it.
    let t = app
        .acquire_token_by_auth_code_flow(&flow_a, response_a)
        .await
        .unwrap();
    assert_eq!(account_of(&t).username, ALICE);
}

#[tokio::test]
async fn error_redirect_is_passed_through_as_the_servers_error() {
    let w = World::start().await;
    let app = w.web_app();
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    w.auth.set_next_authorize_error(Some("access_denied"));
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    assert_eq!(param(&response, "error"), Some("access_denied"));
    assert_eq!(param(&response, "code"), None);

    let e = server_error(
        app.acquire_token_by_auth_code_flow(&flow, response)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.error, "access_denied");
    assert!(
        e.error_description
            .as_deref()
            .is_some_and(|d| d.starts_with("AADSTS65004")),
        "{e:?}"
    );
    assert_eq!(w.posts(), 0);

    // Injected fields next to the error are never trusted or echoed.
    let forged = vec![
        ("state", flow.state.as_str()),
        ("error", "server_error"),
        ("access_token", "forged-token"),
    ];
    let err = app
        .acquire_token_by_auth_code_flow(&flow, forged)
        .await
        .unwrap_err();
    assert!(!format!("{err:?}").contains("forged-token"));

    // Neither a code nor an error: refused.
    let err = app
        .acquire_token_by_auth_code_flow(&flow, [("state", flow.state.as_str())])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(w.posts(), 0);
    assert!(app.token_cache().access_tokens().is_empty());
}

// ---------------------------------------------------------------------------------------
// On-behalf-of
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn obo_sends_jwt_bearer_and_is_cached_per_user_assertion() {
    let w = World::start().await;
    let api = w.api_app();
    let alice_in = w.incoming_token(ALICE);
    let bob_in = w.incoming_token(BOB);

    let t = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(claims["oid"], w.alice.oid.as_str());
    assert_eq!(claims["azp"], API_ID);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");

    let posts = w.auth.token_requests();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(
        p.form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(p.form_value("requested_token_use"), Some("on_behalf_of"));
    assert_eq!(p.form_value("assertion"), Some(alice_in.as_str()));
    assert_eq!(
        p.form_value("scope"),
        Some("https://graph.microsoft.com/User.Read offline_access openid profile")
    );
    assert_eq!(p.form_value("client_info"), Some("1"));
    assert_eq!(p.form_value("client_id"), Some(API_ID));
    assert_eq!(p.header("x-anchormailbox"), None);
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|523,2|"));

    // The same assertion again: from the cache, no request.
    for _ in 0..3 {
        let again = api
            .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
            .await
            .unwrap();
        assert_eq!(again.token_source, TokenSource::Cache);
        assert_eq!(again.access_token.secret(), t.access_token.secret());
    }
    assert_eq!(w.posts(), 1);

    // Another user's assertion never gets Alice's token.
    let b = api
        .acquire_token_on_behalf_of(&bob_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(b.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(b.access_token.secret()).unwrap();
    assert_eq!(claims["oid"], w.bob.oid.as_str());
    assert_eq!(w.posts(), 2);
    assert_eq!(w.last_post().form_value("assertion"), Some(bob_in.as_str()));

    // Alice's token is still there for her.
    let again = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), t.access_token.secret());
    assert_eq!(w.posts(), 2);

    // A new token of the same user is a new assertion: MSAL.NET's per-assertion cache.
    let alice_new = w.incoming_token(ALICE);
    assert_ne!(alice_new, alice_in);
    api.acquire_token_on_behalf_of(&alice_new, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(w.posts(), 3);
}

/// One client that signs users in (a web app) and calls downstream on their behalf (its
/// API): the sign-in tokens and the OBO tokens of one user for the same scopes are separate
/// entries, neither overwriting the other (item 5 of the parity issue).
#[tokio::test]
async fn sign_in_and_obo_tokens_of_one_user_and_scopes_live_side_by_side() {
    const BOTH_ID: &str = "d0d1d2d3-0000-4000-8000-0000000000b0";
    const BOTH_SECRET: &str = "web-app-and-api-secret";
    const BOTH_URI: &str = "api://web-app-and-api";
    let w = World::start().await;
    w.auth.register_app(
        AppRegistration::with_secret(BOTH_ID, BOTH_SECRET)
            .redirect_uri(REDIRECT)
            .identifier_uri(BOTH_URI),
    );
    let app = builder(&w.auth, BOTH_ID, w.auth.tenant_id())
        .client_credential(ClientCredential::secret(BOTH_SECRET))
        .build()
        .unwrap();
    let hid = w.home_account_id(&w.alice);

    let signed_in = w.sign_in(&app, ALICE, &[GRAPH_USER_READ]).await;
    let incoming = w
        .auth
        .issue_user_token(ALICE, SPA_ID, BOTH_URI, &["access_as_user"])
        .unwrap();
    let obo = app
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(obo.token_source, TokenSource::IdentityProvider);
    assert_ne!(obo.access_token.secret(), signed_in.access_token.secret());

    let cache = app.token_cache();
    let ats = cache.access_tokens();
    assert_eq!(ats.len(), 2, "{ats:?}");
    assert!(ats
        .iter()
        .all(|e| e.home_account_id.as_deref() == Some(hid.as_str())));
    assert_eq!(
        ats.iter()
            .filter(|e| e.user_assertion_hash.is_some())
            .count(),
        1
    );
    let rts = cache.refresh_tokens();
    assert_eq!(rts.len(), 2, "{rts:?}");
    let sign_in_rt = rts
        .iter()
        .find(|e| e.user_assertion_hash.is_none())
        .expect("the sign-in refresh token survived the OBO call")
        .secret
        .clone();
    let posts = w.posts();

    // Both are served from the cache, each to its own caller.
    let account = app.get_accounts(None).await.unwrap().remove(0);
    let silent = app
        .acquire_token_silent(&[GRAPH_USER_READ], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(
        silent.access_token.secret(),
        signed_in.access_token.secret()
    );
    let again = app
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), obo.access_token.secret());
    assert_eq!(w.posts(), posts);

    // A silent refresh uses the sign-in refresh token, and the OBO entries are untouched.
    let refreshed = app
        .acquire_token_silent_with_error(
            &[GRAPH_USER_READ],
            &account,
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let post = w.last_post();
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.form_value("refresh_token"), Some(sign_in_rt.as_str()));
    assert_eq!(cache.access_tokens().len(), 2);
    assert_eq!(cache.refresh_tokens().len(), 2);
    let again = app
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), obo.access_token.secret());
    let silent = app
        .acquire_token_silent(&[GRAPH_USER_READ], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(
        silent.access_token.secret(),
        refreshed.access_token.secret()
    );
}

#[tokio::test]
async fn obo_refreshes_with_its_refresh_token_when_the_access_token_expired() {
    let w = World::start().await;
    let api = w.api_app();
    let alice_in = w.incoming_token(ALICE);
    // Tokens that are within MSAL's five-minute margin as soon as they arrive.
    w.auth.set_token_lifetime(120);
    let first = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    let rts = api.token_cache().refresh_tokens();
    assert_eq!(rts.len(), 1);
    let obo_rt = rts[0].secret.clone();

    let second = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::IdentityProvider);
    assert_ne!(second.access_token.secret(), first.access_token.secret());
    let p = w.last_post();
    assert_eq!(w.posts(), 2);
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.form_value("refresh_token"), Some(obo_rt.as_str()));
    assert_eq!(p.form_value("assertion"), None);
    assert_eq!(
        p.form_value("scope"),
        Some("https://graph.microsoft.com/User.Read offline_access openid profile")
    );
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|523,3|"));
    // The refresh token was rotated in place, not duplicated.
    let rts = api.token_cache().refresh_tokens();
    assert_eq!(rts.len(), 1);
    assert_ne!(rts[0].secret, obo_rt);

    // When the OBO refresh token no longer works, the assertion is presented again.
    w.auth.revoke_refresh_tokens_for(ALICE);
    let third = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(third.token_source, TokenSource::IdentityProvider);
    let posts = w.auth.token_requests();
    assert_eq!(posts.len(), 4);
    assert_eq!(posts[2].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        posts[3].form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(posts[3].form_value("assertion"), Some(alice_in.as_str()));
}

/// Waits (up to 15 s) until `cache` holds no access token with secret `old` and at least one.
async fn cached_token_replaced(cache: &TokenCache, old: &str) {
    let start = std::time::Instant::now();
    loop {
        let ats = cache.access_tokens();
        if !ats.is_empty() && ats.iter().all(|e| e.secret != old) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the background refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (up to 15 s) until the authority has seen `n` token POSTs, then a moment more.
async fn posts_reach(w: &World, n: usize) {
    let start = std::time::Instant::now();
    while w.posts() < n {
        assert!(start.elapsed() < Duration::from_secs(15), "no refresh sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// An OBO token past `refresh_on` is served at once while one background task refreshes it
/// (with the OBO refresh token); the next call after that gets the new token.
#[tokio::test]
async fn obo_past_refresh_on_is_served_at_once_and_refreshed_in_the_background() {
    let w = World::start().await;
    let api = w.api_app();
    let alice_in = w.incoming_token(ALICE);
    w.auth.set_refresh_in(Some(0));
    let first = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert!(first.refresh_on.is_some());

    // A slow authority; its next token needs no early refresh.
    w.auth.set_refresh_in(None);
    w.auth.push_fault(msal_testkit::Fault::once(
        "/oauth2/v2.0/token",
        msal_testkit::FaultKind::Delay(Duration::from_secs(3)),
    ));
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let t = api
            .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
            .await
            .unwrap();
        assert_eq!(t.token_source, TokenSource::Cache);
        assert_eq!(t.access_token.secret(), first.access_token.secret());
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "{waited:?}");

    cached_token_replaced(api.token_cache(), first.access_token.secret()).await;
    let next = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(next.token_source, TokenSource::Cache);
    assert_ne!(next.access_token.secret(), first.access_token.secret());
    assert_eq!(w.posts(), 2, "one refresh for both callers");
    let p = w.last_post();
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|523,4|"));
}

/// A failed background OBO refresh (transport errors for the refresh token and then the
/// assertion, each with its retry) leaves the valid cached token in place.
#[tokio::test]
async fn obo_keeps_the_cached_token_when_the_background_refresh_fails() {
    let w = World::start().await;
    let api = w.api_app();
    let alice_in = w.incoming_token(ALICE);
    w.auth.set_refresh_in(Some(0));
    let first = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    w.auth.push_fault(msal_testkit::Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 4,
        kind: msal_testkit::FaultKind::DropConnection,
    });
    let second = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(second.access_token.secret(), first.access_token.secret());
    posts_reach(&w, 5).await;
    let third = api
        .acquire_token_on_behalf_of(&alice_in, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(third.token_source, TokenSource::Cache);
    assert_eq!(third.access_token.secret(), first.access_token.secret());
}

/// Only client credentials go to the regional endpoint; sign-in, silent refresh and OBO
/// of the same (regional) app go to the global one (MSAL Python's rule).
#[tokio::test]
async fn only_client_credentials_go_regional() {
    let w = World::start().await;
    let app = builder(&w.auth, CLIENT_ID, w.auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(msal_runtime::Region::named("eastus").unwrap())
        .http_client(client_resolving(
            &w.auth,
            &["localhost", "eastus.localhost"],
        ))
        .build()
        .unwrap();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    app.acquire_token_silent_with_error(
        &[USER_READ],
        &alice,
        SilentOptions::default().force_refresh(true),
    )
    .await
    .unwrap()
    .unwrap();
    let api = builder(&w.auth, API_ID, w.auth.tenant_id())
        .client_credential(ClientCredential::secret(API_SECRET))
        .azure_region(msal_runtime::Region::named("eastus").unwrap())
        .http_client(client_resolving(
            &w.auth,
            &["localhost", "eastus.localhost"],
        ))
        .build()
        .unwrap();
    api.acquire_token_on_behalf_of(&w.incoming_token(ALICE), &[GRAPH_USER_READ])
        .await
        .unwrap();
    let user_posts = w.auth.token_requests();
    assert_eq!(user_posts.len(), 3);
    for p in &user_posts {
        assert!(
            p.host.starts_with("localhost"),
            "{} {:?}",
            p.host,
            p.form_value("grant_type")
        );
    }
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let cc = w.last_post();
    assert_eq!(cc.form_value("grant_type"), Some("client_credentials"));
    assert!(cc.host.starts_with("eastus.localhost"), "{}", cc.host);
}

#[tokio::test]
async fn obo_refuses_bad_input_and_passes_the_servers_refusal_through() {
    let w = World::start().await;
    let api = w.api_app();
    let err = api
        .acquire_token_on_behalf_of("  ", &[GRAPH_USER_READ])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let err = api
        .acquire_token_on_behalf_of(&w.incoming_token(ALICE), &["openid"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert_eq!(w.posts(), 0);

    // A token for another API is not an assertion this API may exchange.
    let foreign = w
        .auth
        .issue_user_token(ALICE, SPA_ID, "api://someone-else", &["x"])
        .unwrap();
    let e = server_error(
        api.acquire_token_on_behalf_of(&foreign, &[GRAPH_USER_READ])
            .await
            .unwrap_err(),
    );
    assert_eq!(e.error, "invalid_grant");
    assert_eq!(e.error_codes, [500131]);
    assert!(e.correlation_id.is_some());
    assert!(api.token_cache().access_tokens().is_empty());
}

// ---------------------------------------------------------------------------------------
// Silent acquisition and accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn silent_is_none_when_nothing_is_usable() {
    let w = World::start().await;
    let app = w.web_app();
    assert!(app.get_accounts(None).await.unwrap().is_empty());
    // An account this cache has never seen.
    let stranger: Account = serde_json::from_value(json!({
        "home_account_id": "00000000-0000-0000-0000-000000000000.00000000-0000-0000-0000-000000000000",
        "environment": "localhost",
        "username": "nobody@contoso.onmicrosoft.com",
        "local_account_id": "00000000-0000-0000-0000-000000000000",
        "realm": w.auth.tenant_id(),
        "authority_type": "MSSTS",
        "account_source": null
    }))
    .unwrap();
    assert!(app
        .acquire_token_silent(&[USER_READ], &stranger)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .acquire_token_silent_with_error(&[USER_READ], &stranger, SilentOptions::default())
        .await
        .unwrap()
        .is_none());
    assert!(app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &stranger,
            SilentOptions::default().force_refresh(true)
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(w.posts(), 0, "nothing to refresh with, so nothing is sent");

    // App-only tokens are not a user's.
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(app.get_accounts(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn silent_serves_the_cached_token_then_refreshes_for_new_scopes() {
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let alice = &accounts[0];
    assert_eq!(alice, &account_of(&t));

    let s = app
        .acquire_token_silent(&[USER_READ], alice)
        .await
        .unwrap()
        .expect("cached");
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(s.access_token.secret(), t.access_token.secret());
    assert_eq!(s.account.as_ref(), Some(alice));
    assert_eq!(w.posts(), 1, "served without a request");

    // A scope the cached token lacks: the refresh token gets one.
    let rt = app.token_cache().refresh_tokens()[0].secret.clone();
    let m = app
        .acquire_token_silent(&[MAIL_READ], alice)
        .await
        .unwrap()
        .expect("refreshed");
    assert_eq!(m.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(m.access_token.secret()).unwrap();
    assert_eq!(claims["scp"], "Mail.Read");
    assert_eq!(claims["oid"], w.alice.oid.as_str());
    let p = w.last_post();
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.form_value("refresh_token"), Some(rt.as_str()));
    assert_eq!(
        p.form_value("scope"),
        Some("Mail.Read offline_access openid profile")
    );
    assert_eq!(p.form_value("client_info"), Some("1"));
    assert_eq!(
        p.header("x-anchormailbox"),
        Some(format!("Oid:{}@{}", w.alice.oid, w.auth.tenant_id()).as_str())
    );
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|84,2|"));

    // Both tokens are now served from the cache; the silent refresh created no new account.
    for (scope, token) in [(USER_READ, &t), (MAIL_READ, &m)] {
        let c = app
            .acquire_token_silent(&[scope], alice)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.token_source, TokenSource::Cache);
        assert_eq!(c.access_token.secret(), token.access_token.secret());
    }
    assert_eq!(w.posts(), 2);
    assert_eq!(app.token_cache().access_tokens().len(), 2);
    assert_eq!(app.token_cache().refresh_tokens().len(), 1);
    assert_eq!(app.token_cache().accounts().len(), 1);
}

#[tokio::test]
async fn force_refresh_uses_the_refresh_token_and_updates_it_in_place() {
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    let before = app.token_cache().refresh_tokens();

    let f = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &alice,
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .expect("refreshed");
    assert_eq!(f.token_source, TokenSource::IdentityProvider);
    assert_ne!(f.access_token.secret(), t.access_token.secret());
    let p = w.last_post();
    assert_eq!(w.posts(), 2);
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        p.form_value("refresh_token"),
        Some(before[0].secret.as_str())
    );
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|84,1|"));

    let after = app.token_cache().refresh_tokens();
    assert_eq!(after.len(), 1, "the used entry is updated, not duplicated");
    assert_ne!(after[0].secret, before[0].secret);
    assert_eq!(after[0].target, before[0].target);
    // The new access token replaced the old one under the same key.
    let ats = app.token_cache().access_tokens();
    assert_eq!(ats.len(), 1);
    assert_eq!(ats[0].secret, f.access_token.secret());
    let c = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.access_token.secret(), f.access_token.secret());
    assert_eq!(c.token_source, TokenSource::Cache);
}

/// ADFS: no `client_info`, so the account is the ID token's `sub`; the username comes from
/// `upn` (ADFS sends no `preferred_username`); `authority_type` is `ADFS` and the realm
/// `adfs`. The account is listed, served silently and refreshed.
#[tokio::test]
async fn adfs_sign_in_makes_an_adfs_account_named_by_upn() {
    let w = World::start().await;
    let app = builder(&w.auth, CLIENT_ID, "adfs")
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .unwrap();
    assert_eq!(app.authority().kind(), msal_runtime::AuthorityKind::Adfs);
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let claims = t.id_token_claims.clone().expect("an ID token");
    assert!(claims.get("preferred_username").is_none(), "{claims:?}");
    assert_eq!(claims["upn"], ALICE);
    let sub = claims["sub"].as_str().unwrap().to_string();
    let post = w.last_post();
    assert_eq!(post.path, "/adfs/oauth2/token");

    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!(a.home_account_id, sub, "no client_info: the sub");
    assert_eq!(a.username, ALICE, "the upn");
    assert_eq!(a.authority_type, "ADFS");
    assert_eq!(a.realm, "adfs");
    assert_eq!(a.account_source.as_deref(), Some("authorization_code"));
    let cached = app.token_cache().accounts();
    assert_eq!(cached[0].authority_type, "ADFS");
    assert_eq!(app.get_accounts(Some(ALICE)).await.unwrap().len(), 1);

    let s = app
        .acquire_token_silent(&[USER_READ], a)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(s.access_token.secret(), t.access_token.secret());
    let r = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            a,
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.token_source, TokenSource::IdentityProvider);
    let post = w.last_post();
    assert_eq!(post.path, "/adfs/oauth2/token");
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    // No `uid.utid` home account id, so no X-AnchorMailbox hint.
    assert_eq!(post.header("x-anchormailbox"), None);
}

#[tokio::test]
async fn token_past_refresh_on_is_served_at_once_and_refreshed_in_the_background() {
    let w = World::start().await;
    let app = w.web_app();
    // The server asks for a refresh right away, of tokens valid for an hour.
    w.auth.set_refresh_in(Some(0));
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    assert!(t.refresh_on.is_some());
    assert!(t.expires_in() > 3000);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A slow authority; its next token needs no early refresh.
    w.auth.set_refresh_in(None);
    w.auth.push_fault(msal_testkit::Fault::once(
        "/oauth2/v2.0/token",
        msal_testkit::FaultKind::Delay(Duration::from_secs(3)),
    ));
    let posts = w.posts();
    let started = std::time::Instant::now();
    let r = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(r.token_source, TokenSource::Cache);
    assert_eq!(r.access_token.secret(), t.access_token.secret());
    assert!(waited < Duration::from_secs(2), "{waited:?}");

    cached_token_replaced(app.token_cache(), t.access_token.secret()).await;
    let next = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.token_source, TokenSource::Cache);
    assert_ne!(next.access_token.secret(), t.access_token.secret());
    assert_eq!(w.posts(), posts + 1);
    let p = w.last_post();
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|84,4|"));
}

#[tokio::test]
async fn a_refused_background_refresh_keeps_the_cached_token() {
    let w = World::start().await;
    let app = w.web_app();
    w.auth.set_refresh_in(Some(0));
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    w.auth.revoke_refresh_tokens_for(ALICE);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let posts = w.posts();
    let s = app
        .acquire_token_silent_with_error(&[USER_READ], &alice, SilentOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(s.access_token.secret(), t.access_token.secret());
    posts_reach(&w, posts + 1).await;
    let again = app
        .acquire_token_silent_with_error(&[USER_READ], &alice, SilentOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), t.access_token.secret());
}

#[tokio::test]
async fn expired_refresh_token_is_invalid_grant_with_its_suberror() {
    let w = World::start().await;
    let app = w.web_app();
    // The access token is unusable (inside the five-minute margin) from the start.
    w.auth.set_token_lifetime(200);
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    w.auth.expire_refresh_tokens();

    let e = server_error(
        app.acquire_token_silent_with_error(&[USER_READ], &alice, SilentOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.error, "invalid_grant");
    assert_eq!(e.suberror.as_deref(), Some("bad_token"));
    assert_eq!(
        e.classification(),
        Some(""),
        "bad_token is a suppressed suberror"
    );
    assert_eq!(e.error_codes, [700082]);
    assert!(e.correlation_id.is_some());
    assert_eq!(
        w.last_post().form_value("grant_type"),
        Some("refresh_token")
    );
    assert_eq!(
        w.last_post().header("x-client-current-telemetry"),
        Some("4|84,3|")
    );

    // acquire_token_silent maps the refusal to "nothing usable", as MSAL Python does.
    assert!(app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .is_none());
    // invalid_grant does not delete the refresh token (MSAL >= 1.10).
    assert_eq!(app.token_cache().refresh_tokens().len(), 1);
    assert_eq!(app.get_accounts(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn get_accounts_lists_one_per_user_and_filters_by_username() {
    let w = World::start().await;
    let app = w.web_app();
    w.sign_in(&app, ALICE, &[USER_READ]).await;
    w.sign_in(&app, BOB, &[USER_READ]).await;
    // Signing in again (another scope) does not make a second account.
    w.sign_in(&app, ALICE, &[MAIL_READ]).await;

    let all = app.get_accounts(None).await.unwrap();
    let mut names: Vec<&str> = all.iter().map(|a| a.username.as_str()).collect();
    names.sort();
    assert_eq!(names, [ALICE, BOB]);

    let only = app.get_accounts(Some(&ALICE.to_uppercase())).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].username, ALICE);
    assert_eq!(only[0].home_account_id, w.home_account_id(&w.alice));
    assert!(app
        .get_accounts(Some("carol@contoso.onmicrosoft.com"))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn remove_account_removes_exactly_that_users_entries() {
    let w = World::start().await;
    let app = w.web_app();
    let a = w.sign_in(&app, ALICE, &[USER_READ]).await;
    w.sign_in(&app, ALICE, &[MAIL_READ]).await;
    let b = w.sign_in(&app, BOB, &[USER_READ]).await;
    let cache = app.token_cache();
    let (alice_hid, bob_hid) = (w.home_account_id(&w.alice), w.home_account_id(&w.bob));
    let alice_before = entries_of(cache, &alice_hid);
    assert_eq!(alice_before["AccessToken"].len(), 2);
    assert_eq!(alice_before["RefreshToken"].len(), 2);
    let bob_before = entries_of(cache, &bob_hid);
    assert!(bob_before.values().all(|v| v.len() == 1), "{bob_before:?}");

    app.remove_account(&account_of(&a)).await.unwrap();

    let alice_after = entries_of(cache, &alice_hid);
    assert!(
        alice_after.values().all(Vec::is_empty),
        "Alice's entries remain: {alice_after:?}"
    );
    assert_eq!(
        entries_of(cache, &bob_hid),
        bob_before,
        "Bob's entries changed"
    );
    assert_eq!(cache.app_metadata().len(), 1, "app metadata stays");

    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username, BOB);
    assert!(app
        .acquire_token_silent(&[USER_READ], &account_of(&a))
        .await
        .unwrap()
        .is_none());
    let posts = w.posts();
    let still = app
        .acquire_token_silent(&[USER_READ], &account_of(&b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.token_source, TokenSource::Cache);
    assert_eq!(still.access_token.secret(), b.access_token.secret());
    assert_eq!(w.posts(), posts);
}

#[tokio::test]
async fn refresh_token_from_elsewhere_is_redeemed_and_cached() {
    let w = World::start().await;
    let legacy = w.web_app();
    w.sign_in(&legacy, ALICE, &[USER_READ]).await;
    let rt = legacy.token_cache().refresh_tokens()[0].secret.clone();

    // A fresh app migrating the user's refresh token from another library.
    let app = w.web_app();
    let t = app
        .acquire_token_by_refresh_token(&rt, &[MAIL_READ])
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(claims["scp"], "Mail.Read");
    let p = w.last_post();
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.form_value("refresh_token"), Some(rt.as_str()));
    assert_eq!(
        p.form_value("scope"),
        Some("Mail.Read offline_access openid profile")
    );
    assert_eq!(p.header("x-anchormailbox"), None);
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|85,1|"));

    // The result is cached like a sign-in: the user can be served silently from now on.
    let cache = app.token_cache();
    assert_eq!(cache.refresh_tokens().len(), 1);
    assert_eq!(cache.id_tokens().len(), 1);
    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].home_account_id, w.home_account_id(&w.alice));
    assert_eq!(accounts[0].username, ALICE);
    let s = app
        .acquire_token_silent(&[MAIL_READ], &accounts[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(s.access_token.secret(), t.access_token.secret());

    let err = app
        .acquire_token_by_refresh_token("", &[MAIL_READ])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let e = server_error(
        app.acquire_token_by_refresh_token("not-a-refresh-token", &[MAIL_READ])
            .await
            .unwrap_err(),
    );
    assert_eq!(e.error, "invalid_grant");
}

// ---------------------------------------------------------------------------------------
// Claims challenges and client capabilities
// ---------------------------------------------------------------------------------------

fn cp1_app(w: &World, client_id: &str, secret: &str) -> ConfidentialClientApplication {
    builder(&w.auth, client_id, w.auth.tenant_id())
        .client_credential(ClientCredential::secret(secret))
        .client_capabilities(["cp1"])
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_capabilities_alone_go_in_claims_of_every_user_request() {
    let w = World::start().await;
    let app = cp1_app(&w, CLIENT_ID, SECRET);

    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    assert_eq!(param(&query(&flow.auth_uri), "claims"), Some(CP1_CLAIMS));
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CP1_CLAIMS));
    let alice = account_of(&t);

    // Capabilities alone do not bypass the cache.
    let c = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.token_source, TokenSource::Cache);
    assert_eq!(w.posts(), 1);

    app.acquire_token_silent_with_error(
        &[USER_READ],
        &alice,
        SilentOptions::default().force_refresh(true),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        w.last_post().form_value("grant_type"),
        Some("refresh_token")
    );
    assert_eq!(w.last_post().form_value("claims"), Some(CP1_CLAIMS));

    let rt = app.token_cache().refresh_tokens()[0].secret.clone();
    app.acquire_token_by_refresh_token(&rt, &[MAIL_READ])
        .await
        .unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CP1_CLAIMS));

    let api = cp1_app(&w, API_ID, API_SECRET);
    api.acquire_token_on_behalf_of(&w.incoming_token(ALICE), &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(
        w.last_post().form_value("requested_token_use"),
        Some("on_behalf_of")
    );
    assert_eq!(w.last_post().form_value("claims"), Some(CP1_CLAIMS));

    // App-only tokens carry them too.
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CP1_CLAIMS));
    assert_eq!(w.posts(), 5);
}

/// A Conditional Access challenge with both an ID token and an access token request, and
/// a non-ASCII value, in the order the resource sent it.
const CHALLENGE: &str = r#"{"id_token":{"auth_time":{"essential":true}},"access_token":{"nbf":{"essential":true,"value":"1700000000"},"acrs":{"essential":true,"value":"Zürich"}}}"#;
/// MSAL Python 1.39: `_merge_claims_challenge_and_capabilities(["cp1"], CHALLENGE)`.
const CHALLENGE_WITH_CP1: &str = r#"{"id_token": {"auth_time": {"essential": true}}, "access_token": {"nbf": {"essential": true, "value": "1700000000"}, "acrs": {"essential": true, "value": "Z\u00fcrich"}, "xms_cc": {"values": ["cp1"]}}}"#;

#[tokio::test]
async fn claims_challenge_is_merged_with_capabilities_as_msal_python_merges() {
    let w = World::start().await;
    let app = cp1_app(&w, CLIENT_ID, SECRET);
    let flow = app
        .initiate_auth_code_flow(
            &[USER_READ],
            AuthCodeFlowOptions::new(REDIRECT).claims_challenge(CHALLENGE),
        )
        .await
        .unwrap();
    assert_eq!(
        param(&query(&flow.auth_uri), "claims"),
        Some(CHALLENGE_WITH_CP1)
    );
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CHALLENGE_WITH_CP1));

    app.acquire_token_silent_with_error(
        &[USER_READ],
        &account_of(&t),
        SilentOptions::default().claims_challenge(CHALLENGE),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CHALLENGE_WITH_CP1));

    // Without capabilities the challenge is sent exactly as the resource wrote it.
    let plain = w.web_app();
    let t = w.sign_in(&plain, BOB, &[USER_READ]).await;
    plain
        .acquire_token_silent_with_error(
            &[USER_READ],
            &account_of(&t),
            SilentOptions::default().claims_challenge(CHALLENGE),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.last_post().form_value("claims"), Some(CHALLENGE));

    // A challenge that is not JSON is refused before anything is sent.
    let posts = w.posts();
    let err = plain
        .acquire_token_silent_with_error(
            &[USER_READ],
            &account_of(&t),
            SilentOptions::default().claims_challenge("not json"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert_eq!(w.posts(), posts);
}

#[tokio::test]
async fn claims_challenge_bypasses_the_cache() {
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    assert_eq!(
        app.acquire_token_silent(&[USER_READ], &alice)
            .await
            .unwrap()
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    assert_eq!(w.posts(), 1);

    let c = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &alice,
            SilentOptions::default().claims_challenge(CHALLENGE),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.token_source, TokenSource::IdentityProvider);
    assert_ne!(c.access_token.secret(), t.access_token.secret());
    assert_eq!(
        w.posts(),
        2,
        "a request even though a valid token was cached"
    );
    let p = w.last_post();
    assert_eq!(p.form_value("claims"), Some(CHALLENGE));
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|84,1|"));

    // On-behalf-of: the same rule.
    let api = w.api_app();
    let incoming = w.incoming_token(ALICE);
    let o = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    let again = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(w.posts(), 3);
    let challenged = api
        .acquire_token_on_behalf_of_with_claims(&incoming, &[GRAPH_USER_READ], CHALLENGE)
        .await
        .unwrap();
    assert_eq!(challenged.token_source, TokenSource::IdentityProvider);
    assert_ne!(challenged.access_token.secret(), o.access_token.secret());
    assert_eq!(w.posts(), 4);
    let p = w.last_post();
    assert_eq!(p.form_value("claims"), Some(CHALLENGE));
    assert_eq!(p.form_value("assertion"), Some(incoming.as_str()));
    assert_eq!(p.header("x-client-current-telemetry"), Some("4|523,1|"));
}

// ---------------------------------------------------------------------------------------
// Family refresh tokens (FOCI)
// ---------------------------------------------------------------------------------------

const FAMILY_A: &str = "f0f1c2d3-0000-4000-8000-00000000fa01";
const FAMILY_B: &str = "f0f1c2d3-0000-4000-8000-00000000fb02";
const OUTSIDER: &str = "f0f1c2d3-0000-4000-8000-00000000cc03";

fn family_registration(client_id: &str, foci: Option<&str>) -> AppRegistration {
    let mut reg = AppRegistration::with_secret(client_id, SECRET).redirect_uri(REDIRECT);
    reg.foci = foci.map(str::to_string);
    reg
}

fn app_on_cache(w: &World, client_id: &str, cache: &TokenCache) -> ConfidentialClientApplication {
    builder(&w.auth, client_id, w.auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn family_member_redeems_the_family_refresh_token_silently() {
    let w = World::start().await;
    w.auth
        .register_app(family_registration(FAMILY_A, Some("1")));
    w.auth
        .register_app(family_registration(FAMILY_B, Some("1")));
    w.auth.register_app(family_registration(OUTSIDER, None));
    let cache = TokenCache::new();
    let app_a = app_on_cache(&w, FAMILY_A, &cache);
    let app_b = app_on_cache(&w, FAMILY_B, &cache);
    let outsider = app_on_cache(&w, OUTSIDER, &cache);

    w.sign_in(&app_a, ALICE, &[USER_READ]).await;
    let rts = cache.refresh_tokens();
    assert_eq!(rts.len(), 1);
    assert_eq!(rts[0].family_id.as_deref(), Some("1"));
    assert_eq!(rts[0].client_id, FAMILY_A);
    let family_rt = rts[0].secret.clone();
    let meta = cache.app_metadata();
    assert_eq!(meta.len(), 1);
    assert_eq!(meta[0].family_id.as_deref(), Some("1"));

    // B has never signed anyone in, yet finds Alice and gets a token with A's family RT.
    let accounts = app_b.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let t = app_b
        .acquire_token_silent_with_error(&[USER_READ], &accounts[0], SilentOptions::default())
        .await
        .unwrap()
        .expect("the family refresh token works for B");
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(claims["azp"], FAMILY_B);
    assert_eq!(claims["oid"], w.alice.oid.as_str());
    let p = w.last_post();
    assert_eq!(p.form_value("client_id"), Some(FAMILY_B));
    assert_eq!(p.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(p.form_value("refresh_token"), Some(family_rt.as_str()));
    // B now knows it is in the family, and has its own access token.
    let b_meta = cache
        .app_metadata()
        .into_iter()
        .find(|m| m.client_id == FAMILY_B)
        .expect("B's app metadata");
    assert_eq!(b_meta.family_id.as_deref(), Some("1"));
    assert!(cache
        .access_tokens()
        .iter()
        .any(|a| a.client_id == FAMILY_B && a.secret == t.access_token.secret()));
    let posts = w.posts();
    let c = app_b
        .acquire_token_silent(&[USER_READ], &accounts[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.token_source, TokenSource::Cache);
    assert_eq!(w.posts(), posts);

    // An app outside the family tries the family token (it cannot know), is refused
    // with client_mismatch, and has nothing of its own: "nothing usable", as in MSAL Python.
    let r = outsider
        .acquire_token_silent_with_error(&[USER_READ], &accounts[0], SilentOptions::default())
        .await
        .unwrap();
    assert!(r.is_none(), "{r:?}");
    assert_eq!(w.posts(), posts + 1);
    assert_eq!(w.last_post().form_value("client_id"), Some(OUTSIDER));
    assert!(cache.app_metadata().iter().all(|m| m.client_id != OUTSIDER));
    assert_eq!(cache.refresh_tokens().len(), 1, "the family token is kept");

    // A can still refresh with the (rotated) family token.
    let a_accounts = app_a.get_accounts(None).await.unwrap();
    app_a
        .acquire_token_silent_with_error(
            &[USER_READ],
            &a_accounts[0],
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.last_post().form_value("client_id"), Some(FAMILY_A));

    // Signing Alice out of B removes the family's refresh token too (B is a member), and
    // every app's access tokens of hers; app metadata stays.
    app_b.remove_account(&accounts[0]).await.unwrap();
    assert!(cache.refresh_tokens().is_empty());
    assert!(cache.access_tokens().is_empty());
    assert!(cache.accounts().is_empty());
    assert_eq!(cache.app_metadata().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Concurrency and throttling
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_obo_calls_for_one_assertion_make_one_request() {
    let w = World::start().await;
    let api = w.api_app();
    let incoming = w.incoming_token(ALICE);
    // Discovery first, so the race is only about the token.
    api.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let posts = w.posts();

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (api, incoming) = (api.clone(), incoming.clone());
            tokio::spawn(async move {
                api.acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().access_token.secret().to_string());
    }
    assert_eq!(
        w.posts(),
        posts + 1,
        "one request for eight concurrent callers"
    );
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_silent_refreshes_for_one_account_make_one_request() {
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    let posts = w.posts();

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move {
                app.acquire_token_silent(&[MAIL_READ], &alice)
                    .await
                    .unwrap()
                    .expect("refreshed or cached")
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().access_token.secret().to_string());
    }
    assert_eq!(
        w.posts(),
        posts + 1,
        "one refresh for eight concurrent callers"
    );
    tokens.dedup();
    assert_eq!(tokens.len(), 1);
    assert_eq!(app.token_cache().refresh_tokens().len(), 1);
}

#[tokio::test]
async fn throttled_refresh_blocks_only_the_same_request() {
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    w.auth.push_fault(msal_testkit::Fault::once(
        "/oauth2/v2.0/token",
        msal_testkit::FaultKind::Status {
            status: 429,
            body: r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: busy"}"#
                .into(),
            headers: vec![("Retry-After".into(), "60".into())],
        },
    ));
    let e = server_error(
        app.acquire_token_silent_with_error(&[MAIL_READ], &alice, SilentOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.status, 429);
    assert_eq!(w.posts(), 2);

    // The same request again is answered from memory while the server's wait lasts...
    let e = server_error(
        app.acquire_token_silent_with_error(&[MAIL_READ], &alice, SilentOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.status, 429);
    assert_eq!(w.posts(), 2);

    // ...but another scope is another request (MSAL Python keys by scope and token).
    let c = app
        .acquire_token_silent(&["Calendars.Read"], &alice)
        .await
        .unwrap()
        .expect("not throttled");
    assert_eq!(c.token_source, TokenSource::IdentityProvider);
    assert_eq!(w.posts(), 3);

    // And a fresh sign-in brings a new refresh token: a new request too.
    w.sign_in(&app, ALICE, &[USER_READ]).await;
    let m = app
        .acquire_token_silent(&[MAIL_READ], &alice)
        .await
        .unwrap()
        .expect("the new refresh token is not throttled");
    assert_eq!(m.token_source, TokenSource::IdentityProvider);
}

#[tokio::test]
async fn silent_reports_outages_but_maps_refusals_to_none_like_msal_python() {
    use msal_testkit::{Fault, FaultKind};
    let w = World::start().await;
    let app = w.web_app();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);

    // The authority is down (a 503 and the one retry): that is not "sign in again".
    w.auth.push_fault(
        Fault::status(
            "/oauth2/v2.0/token",
            503,
            r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033: down"}"#,
        )
        .times(2),
    );
    let err = app
        .acquire_token_silent(&[MAIL_READ], &alice)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // (The 503 is replayed to the same request for a few seconds: ask for another scope.)
    w.auth
        .push_fault(Fault::once("/oauth2/v2.0/token", FaultKind::DropConnection));
    w.auth
        .push_fault(Fault::once("/oauth2/v2.0/token", FaultKind::DropConnection));
    let err = app
        .acquire_token_silent(&["Calendars.Read"], &alice)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");

    // A refusal (the user must sign in again) is "nothing usable".
    w.auth.revoke_refresh_tokens_for(ALICE);
    assert!(app
        .acquire_token_silent(&["Files.Read"], &alice)
        .await
        .unwrap()
        .is_none());
    // And the cached token is still served whatever happens to refreshes.
    let c = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.token_source, TokenSource::Cache);
}

#[tokio::test]
async fn multi_tenant_web_app_signs_in_through_organizations() {
    let w = World::start().await;
    let app = builder(&w.auth, CLIENT_ID, "organizations")
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .unwrap();
    let t = w.sign_in(&app, ALICE, &[USER_READ]).await;
    let alice = account_of(&t);
    assert_eq!(alice.home_account_id, w.home_account_id(&w.alice));
    // The ID token's issuer is the user's tenant, matched against `{tenantid}`.
    let idc = t.id_token_claims.as_ref().unwrap();
    assert_eq!(idc["tid"], w.auth.tenant_id());
    // MSAL Python's realm for such apps is the literal path segment.
    let ats = app.token_cache().access_tokens();
    assert_eq!(ats[0].realm, "organizations");
    let s = app
        .acquire_token_silent(&[USER_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.token_source, TokenSource::Cache);
    let m = app
        .acquire_token_silent(&[MAIL_READ], &alice)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.token_source, TokenSource::IdentityProvider);
    assert!(w
        .last_post()
        .path
        .starts_with("/organizations/oauth2/v2.0/token"));
}

#[tokio::test]
async fn force_refresh_sees_refresh_tokens_another_process_wrote() {
    let w = World::start().await;
    let dir = std::env::temp_dir().join(format!("msal-user-flows-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cache.json");
    // Two processes of one web app share a cache file; the second started first.
    let second = app_on_cache(&w, CLIENT_ID, &TokenCache::file(&path).unwrap());
    let first = app_on_cache(&w, CLIENT_ID, &TokenCache::file(&path).unwrap());
    let t = w.sign_in(&first, ALICE, &[USER_READ]).await;
    let rt = first.token_cache().refresh_tokens()[0].secret.clone();

    // The second process is asked to bypass its cached access token for this user.
    for options in [
        SilentOptions::default().force_refresh(true),
        SilentOptions::default().claims_challenge(CHALLENGE),
    ] {
        let r = second
            .acquire_token_silent_with_error(&[USER_READ], &account_of(&t), options)
            .await
            .unwrap()
            .expect("the refresh token the first process wrote");
        assert_eq!(r.token_source, TokenSource::IdentityProvider);
        assert_eq!(
            w.last_post().form_value("grant_type"),
            Some("refresh_token")
        );
    }
    assert_eq!(
        w.auth.token_requests()[1].form_value("refresh_token"),
        Some(rt.as_str())
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------
// Nothing secret in Debug or Display
// ---------------------------------------------------------------------------------------

/// Everything a sign-in, silent calls, on-behalf-of and their failures hand back, formatted
/// with `{:?}` (and `{}` where the type has it): none of the raw tokens the authority
/// issued, the secrets, the code or the PKCE verifier may appear.
#[tokio::test]
async fn no_token_or_secret_appears_in_debug_or_display_of_anything_returned() {
    let w = World::start().await;
    let app = w.web_app();
    let mut secrets: Vec<String> = vec![SECRET.into(), API_SECRET.into()];
    let mut printed: Vec<String> = Vec::new();
    fn both<T: std::fmt::Debug + std::fmt::Display>(out: &mut Vec<String>, v: &T) {
        out.push(format!("{v:?}"));
        out.push(format!("{v:#?}"));
        out.push(format!("{v}"));
    }
    fn debug<T: std::fmt::Debug>(out: &mut Vec<String>, v: &T) {
        out.push(format!("{v:?}"));
        out.push(format!("{v:#?}"));
    }

    // Sign-in.
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    secrets.push(flow.code_verifier().to_string());
    debug(&mut printed, &flow);
    let response = w.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    secrets.push(param(&response, "code").unwrap().to_string());
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, response.clone())
        .await
        .unwrap();
    secrets.push(signed_in.access_token.secret().to_string());
    secrets.push(signed_in.id_token.clone().expect("an ID token"));
    debug(&mut printed, &signed_in);
    debug(&mut printed, &signed_in.account);
    // The same response again: refused.
    let replay = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap_err();
    both(&mut printed, &replay);

    // Silent: from the cache, then a refresh for another scope, then a forced refresh.
    let accounts = app.get_accounts(None).await.unwrap();
    debug(&mut printed, &accounts);
    let cached = app
        .acquire_token_silent(&[USER_READ], &accounts[0])
        .await
        .unwrap()
        .unwrap();
    debug(&mut printed, &cached);
    let mail = app
        .acquire_token_silent(&[MAIL_READ], &accounts[0])
        .await
        .unwrap()
        .unwrap();
    secrets.push(mail.access_token.secret().to_string());
    debug(&mut printed, &mail);
    let forced = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &accounts[0],
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    secrets.push(forced.access_token.secret().to_string());
    debug(&mut printed, &forced);

    // The cache and its entries.
    let cache = app.token_cache();
    for e in cache.access_tokens() {
        secrets.push(e.secret.secret().to_string());
        debug(&mut printed, &e);
    }
    for e in cache.refresh_tokens() {
        secrets.push(e.secret.clone());
        debug(&mut printed, &e);
    }
    for e in cache.id_tokens() {
        secrets.push(e.secret.clone());
        debug(&mut printed, &e);
    }
    debug(&mut printed, &cache.accounts());
    debug(&mut printed, cache);
    debug(&mut printed, &app);

    // A revoked refresh token: the server's refusal.
    w.auth.revoke_refresh_tokens_for(ALICE);
    let refused = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &accounts[0],
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap_err();
    both(&mut printed, &refused);
    if let Some(s) = refused.server() {
        both(&mut printed, s);
    }

    // On behalf of: the incoming token is a raw JWT too.
    let api = w.api_app();
    let incoming = w.incoming_token(ALICE);
    secrets.push(incoming.clone());
    let obo = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    secrets.push(obo.access_token.secret().to_string());
    debug(&mut printed, &obo);
    let tampered = format!("{incoming}x");
    secrets.push(tampered.clone());
    if let Err(e) = api
        .acquire_token_on_behalf_of(&tampered, &[GRAPH_USER_READ])
        .await
    {
        both(&mut printed, &e);
    }
    // A wrong client secret.
    let wrong = builder(&w.auth, CLIENT_ID, w.auth.tenant_id())
        .client_credential(ClientCredential::secret("wrong-secret-value-1234"))
        .build()
        .unwrap();
    secrets.push("wrong-secret-value-1234".into());
    let e = wrong
        .acquire_token_for_client(&["https://graph.microsoft.com/.default"])
        .await
        .unwrap_err();
    both(&mut printed, &e);
    debug(&mut printed, &wrong);

    for s in &secrets {
        assert!(s.len() >= 8, "test premise: {s:?} is a real secret");
        // JWTs: neither whole nor any of their three parts.
        let parts: Vec<&str> = std::iter::once(s.as_str())
            .chain(s.split('.').filter(|p| p.len() >= 16))
            .collect();
        for text in &printed {
            for p in &parts {
                assert!(
                    !text.contains(p),
                    "a secret ({}...) appears in: {text}",
                    &p[..8]
                );
            }
        }
    }
}
