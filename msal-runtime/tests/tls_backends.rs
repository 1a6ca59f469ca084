//! HTTPS to the authority with the TLS back-end this crate was built with: `native-tls`
//! (default), `rustls` or `rustls-ring`. `scripts/test.sh` runs this file three times
//! (with every feature, where native-tls wins; with `--no-default-features --features
//! rustls`; with `--features rustls-ring`), so every back-end is checked against
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

/// A bundle with no certificate in it, or with a certificate block that is not a
/// certificate, is a typed configuration error with every back-end (never a panic, never
/// a client that trusts nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_without_a_usable_certificate_is_a_config_error() {
    let auth = authority().await;
    let dir = std::env::temp_dir().join(format!("msal-tls-backends-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // "hello world", base64: valid PEM armour around bytes that are not DER.
    let cases = [
        (
            "key-only.pem",
            "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
        ),
        (
            "not-der.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        ),
    ];
    for (name, pem) in cases {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        let err = ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(auth.authority(auth.tenant_id()))
            .instance_discovery(false)
            .verify(Verify::CaBundle(path))
            .client_credential(ClientCredential::secret(SECRET))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig { .. }),
            "{name}: {err:?}"
        );
    }
    assert!(auth.token_requests().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
