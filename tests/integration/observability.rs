//! Tracing of acquisitions (docs/observability.md): one `msal.acquire_token` span per
//! public acquisition with its documented fields, events for retries and throttling, and
//! nothing secret or personal in any span, field or message unless PII logging is enabled.
//! A capturing subscriber records everything at every level while every flow runs against
//! the in-process authority over loopback.

use crate::capture::Capture;
use crate::support;

use msal_runtime::{
    AuthCodeFlowOptions, ClientCredential, ConfidentialClientApplication, EnvLookup,
    ManagedIdentity, ManagedIdentityClient, SilentOptions, TokenSource,
};
use msal_testkit::{AppRegistration, Fault, TestAuthority, TestUser};
use support::*;

const REDIRECT: &str = "https://webapp.example.com/auth/callback";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-observability-tests";
const API_URI: &str = "api://orders-api";
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const USER_READ: &str = "User.Read";
const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";
const SPAN: &str = "msal.acquire_token";

async fn world() -> (TestAuthority, TestUser) {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT));
    auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
    let alice = TestUser::new(ALICE);
    auth.add_user(alice.clone());
    (auth, alice)
}

fn web_app(auth: &TestAuthority, pii: bool) -> ConfidentialClientApplication {
    builder(auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .enable_pii_log(pii)
        .build()
        .unwrap()
}

fn api_app(auth: &TestAuthority) -> ConfidentialClientApplication {
    builder(auth, API_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(API_SECRET))
        .build()
        .unwrap()
}

/// The last acquisition span, with the fields every span has checked.
fn last_span(capture: &Capture, grant: &str) -> crate::capture::CapturedSpan {
    let span = capture
        .spans_named(SPAN)
        .into_iter()
        .rev()
        .find(|s| s.field("grant") == Some(grant))
        .unwrap_or_else(|| panic!("no {SPAN} span of grant {grant}: {:#?}", capture.spans()));
    assert_eq!(span.target, "msal_runtime::observability");
    assert!(span.field("duration_ms").is_some(), "{span:?}");
    assert!(span.field("outcome").is_some(), "{span:?}");
    span
}

#[tokio::test]
async fn every_flow_gets_one_span_with_its_fields_and_no_secret_or_pii_anywhere() {
    let capture = Capture::default();
    let _installed = tracing::subscriber::set_default(capture.clone());
    let (auth, alice) = world().await;
    let app = web_app(&auth, false);
    let mut secrets: Vec<String> = vec![SECRET.into(), API_SECRET.into()];

    // Client credentials: from the identity provider, then from the cache.
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    secrets.push(t.access_token.secret().to_string());
    let s = last_span(&capture, "client_credentials");
    assert_eq!(s.field("client_id"), Some(CLIENT_ID));
    assert_eq!(s.field("tenant"), Some(auth.tenant_id()));
    assert_eq!(s.field("scopes"), Some(GRAPH));
    assert_eq!(s.field("outcome"), Some("identity_provider"));
    assert_eq!(s.field("correlation_id"), t.correlation_id.as_deref());
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let s = last_span(&capture, "client_credentials");
    assert_eq!(s.field("outcome"), Some("cache_hit"));
    assert_eq!(s.field("correlation_id"), None);
    assert_eq!(capture.spans_named(SPAN).len(), 2, "one span per call");

    // Authorization code: sign-in as Alice.
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    for (k, v) in &response {
        if k == "code" {
            secrets.push(v.clone());
        }
    }
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    secrets.push(signed_in.access_token.secret().to_string());
    secrets.push(signed_in.id_token.clone().unwrap());
    let s = last_span(&capture, "authorization_code");
    assert_eq!(s.field("outcome"), Some("identity_provider"));
    assert!(s.field("scopes").unwrap().contains(USER_READ), "{s:?}");
    assert_eq!(s.field("account"), None, "PII is off");

    // Silent: from the cache, then refreshed with the refresh token.
    let account = signed_in.account.clone().unwrap();
    app.acquire_token_silent(&[USER_READ], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        last_span(&capture, "silent").field("outcome"),
        Some("cache_hit")
    );
    let refreshed = app
        .acquire_token_silent_with_error(
            &[USER_READ],
            &account,
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    secrets.push(refreshed.access_token.secret().to_string());
    assert_eq!(
        last_span(&capture, "silent").field("outcome"),
        Some("refreshed")
    );

    // By refresh token (migration).
    let rt = app.token_cache().refresh_tokens()[0].secret.clone();
    secrets.push(rt.clone());
    let by_rt = app
        .acquire_token_by_refresh_token(&rt, &[USER_READ])
        .await
        .unwrap();
    secrets.push(by_rt.access_token.secret().to_string());
    assert_eq!(
        last_span(&capture, "refresh_token").field("outcome"),
        Some("identity_provider")
    );

    // On behalf of: the incoming assertion is a secret too.
    let api = api_app(&auth);
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();
    secrets.push(incoming.clone());
    let obo = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    secrets.push(obo.access_token.secret().to_string());
    let s = last_span(&capture, "on_behalf_of");
    assert_eq!(s.field("client_id"), Some(API_ID));
    assert_eq!(s.field("outcome"), Some("identity_provider"));
    for rt in api.token_cache().refresh_tokens() {
        secrets.push(rt.secret);
    }
    for rt in app.token_cache().refresh_tokens() {
        secrets.push(rt.secret);
    }

    // A refusal: a failed span with the server's error code and correlation id, no secret.
    let wrong = "wrong-secret-must-not-be-logged";
    secrets.push(wrong.into());
    let bad = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(wrong))
        .build()
        .unwrap();
    let err = bad.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    let s = last_span(&capture, "client_credentials");
    assert_eq!(s.field("outcome"), Some("failed"));
    assert_eq!(s.field("error"), Some("invalid_client"));
    assert_eq!(s.field("correlation_id"), err.correlation_id());

    // A retry after a 503: an event of kind "retry" inside the span.
    auth.push_fault(Fault::status(
        format!("/{}/oauth2/v2.0/token", auth.tenant_id()),
        503,
        "{}",
    ));
    let retried = api.acquire_token_for_client(&[GRAPH]).await.unwrap();
    secrets.push(retried.access_token.secret().to_string());
    assert!(
        capture
            .events()
            .iter()
            .any(|e| e.field("kind") == Some("retry") && e.target.starts_with("msal_runtime")),
        "{:#?}",
        capture.events()
    );

    // Managed identity (App Service, over plain HTTP as on Azure: its IDENTITY_HEADER is a
    // secret).
    let auth = TestAuthority::builder().https(false).start().await.unwrap();
    let mi_secret = auth.managed_identity_secret();
    secrets.push(mi_secret.clone());
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(EnvLookup::from_pairs([
            ("IDENTITY_ENDPOINT".to_string(), auth.app_service_endpoint()),
            ("IDENTITY_HEADER".to_string(), mi_secret),
        ]))
        .build()
        .unwrap();
    let mt = mi
        .acquire_token_for_client("https://vault.azure.net")
        .await
        .unwrap();
    assert_eq!(mt.token_source, TokenSource::IdentityProvider);
    secrets.push(mt.access_token.secret().to_string());
    let s = last_span(&capture, "managed_identity");
    assert_eq!(s.field("scopes"), Some("https://vault.azure.net"));
    assert_eq!(s.field("outcome"), Some("identity_provider"));

    // Discovery was reported once per application.
    assert!(capture
        .events()
        .iter()
        .any(|e| e.field("kind") == Some("discovery")));

    // Nothing secret, nothing personal, at any level.
    let text = capture.all_text();
    for s in &secrets {
        assert!(s.len() > 8, "a real secret value");
        assert!(!text.contains(s.as_str()), "a secret was logged: {s}");
    }
    for pii in [ALICE, alice.oid.as_str(), alice.name.as_str()] {
        assert!(!text.contains(pii), "personal data was logged: {pii}");
    }
}

#[tokio::test]
async fn pii_opt_in_records_the_account_and_still_no_token() {
    let capture = Capture::default();
    let _installed = tracing::subscriber::set_default(capture.clone());
    let (auth, _alice) = world().await;
    let app = web_app(&auth, true);
    let flow = app
        .initiate_auth_code_flow(&[USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    let s = last_span(&capture, "authorization_code");
    assert_eq!(s.field("account"), Some(ALICE));
    let text = capture.all_text();
    assert!(!text.contains(t.access_token.secret()));
    assert!(!text.contains(SECRET));
}
