//! HTTPS to the authority with the TLS back-end this crate was built with: `native-tls`
//! (default) or `rustls`. `scripts/test.sh` runs this file twice, the second time with
//! `--no-default-features --features rustls`, so both back-ends are checked against
//! msal-testkit's HTTPS server (a per-authority CA): trusted through `Verify::CaBundle`,
//! refused by the system store, accepted with verification disabled.
//!
//! The refusal's error chain shows which library did the handshake (OpenSSL says
//! "certificate verify failed", rustls "UnknownIssuer"), so the test also proves the
//! back-end the features select is the one in use, even when another crate of the build
//! (here msal-testkit) turns on reqwest's other back-end.

use msal_runtime::{ClientCredential, ConfidentialClientApplication, Error, Verify};
use msal_testkit::{AppRegistration, TestAuthority};

const CLIENT_ID: &str = "6f1c2d3e-0000-4000-8000-00000000a7e5";
const SECRET: &str = "tls-backend-test-secret";
const GRAPH: &str = "https://graph.microsoft.com/.default";

async fn authority() -> TestAuthority {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
    auth
}

fn app(auth: &TestAuthority, verify: Verify) -> ConfidentialClientApplication {
    ConfidentialClientApplication::builder(CLIENT_ID)
        .authority(auth.authority(auth.tenant_id()))
        .instance_discovery(false)
        .verify(verify)
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .expect("the app builds")
}

/// The error and its sources, as one string.
fn chain(e: &Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(" / ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authority_ca_is_trusted_through_a_bundle() {
    let auth = authority().await;
    assert!(auth.base_url().starts_with("https://"));
    let app = app(&auth, Verify::CaBundle(auth.ca_path().to_path_buf()));
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
    assert_eq!(auth.token_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_store_refuses_the_test_ca_with_the_selected_backend() {
    let auth = authority().await;
    let err = app(&auth, Verify::System)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Http { .. } | Error::Discovery { .. }),
        "{err:?}"
    );
    let text = chain(&err);
    // Which library refused the certificate.
    #[cfg(feature = "native-tls")]
    assert!(text.contains("certificate verify failed"), "{text}");
    #[cfg(all(
        any(feature = "rustls", feature = "rustls-ring"),
        not(feature = "native-tls")
    ))]
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(auth.token_requests().is_empty(), "no request got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_can_be_disabled() {
    let auth = authority().await;
    let t = app(&auth, Verify::Disabled)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap();
    assert!(!t.access_token.secret().is_empty());
}
