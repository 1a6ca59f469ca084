//! `msal::blocking`: every grant from plain threads with no async runtime, against the
//! in-process authority over loopback (which runs on a runtime of its own thread pool),
//! and the async assertion callback.

use crate::support;

use crate::client_credentials::sign_rs256;
use msal::blocking::{ConfidentialClientApplication, ManagedIdentityClient};
use msal::{
    AuthCodeFlowOptions, ClientCredential, EnvLookup, Error, ManagedIdentity, SilentOptions,
    TokenSource,
};
use msal_testkit::{certs, AppRegistration, TestAuthority, TestUser};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;

const REDIRECT: &str = "https://webapp.example.com/auth/callback";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-blocking-tests";
const API_URI: &str = "api://orders-api";
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const USER_READ: &str = "User.Read";
const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// The test authority on a runtime of its own; the test thread stays runtime-free.
struct World {
    rt: tokio::runtime::Runtime,
    auth: TestAuthority,
}

impl World {
    fn start(https: bool) -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let auth = rt.block_on(async {
            let auth = TestAuthority::builder().https(https).start().await.unwrap();
            auth.register_app(
                AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT),
            );
            auth.register_app(
                AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI),
            );
            auth.add_user(TestUser::new(ALICE));
            auth
        });
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "the calling thread has no runtime"
        );
        World { rt, auth }
    }

    fn app(&self, client_id: &str, credential: ClientCredential) -> ConfidentialClientApplication {
        ConfidentialClientApplication::new(
            builder(&self.auth, client_id, self.auth.tenant_id())
                .client_credential(credential)
                .build()
                .unwrap(),
        )
    }
}

#[test]
fn client_credentials_from_the_provider_then_the_cache_from_many_threads() {
    let w = World::start(true);
    let app = w.app(CLIENT_ID, ClientCredential::secret(SECRET));
    let t = app.acquire_token_for_client([GRAPH]).unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let claims = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(claims["appid"], CLIENT_ID);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            std::thread::spawn(move || app.acquire_token_for_client([GRAPH]).unwrap())
        })
        .collect();
    for th in threads {
        let hit = th.join().unwrap();
        assert_eq!(hit.token_source, TokenSource::Cache);
        assert_eq!(hit.access_token.secret(), t.access_token.secret());
    }
    assert_eq!(w.auth.token_requests().len(), 1);
    assert_eq!(app.remove_tokens_for_client().unwrap(), 1);
}

#[test]
fn auth_code_silent_refresh_token_and_sign_out() {
    let w = World::start(true);
    let app = w.app(CLIENT_ID, ClientCredential::secret(SECRET));
    let flow = app
        .initiate_auth_code_flow([USER_READ], AuthCodeFlowOptions::new(REDIRECT))
        .unwrap();
    // The browser's part, driven on the authority's runtime.
    let response =
        w.rt.block_on(w.auth.sign_in(&flow.auth_uri, ALICE))
            .unwrap();
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .unwrap();
    assert_eq!(signed_in.token_source, TokenSource::IdentityProvider);
    let account = app.get_accounts(Some(ALICE)).unwrap().pop().unwrap();

    let silent = app
        .acquire_token_silent([USER_READ], &account)
        .unwrap()
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    let refreshed = app
        .acquire_token_silent_with_error(
            [USER_READ],
            &account,
            SilentOptions::default().force_refresh(true),
        )
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let last = w.auth.token_requests().pop().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));

    let rt = app.token_cache().refresh_tokens()[0].secret.clone();
    let other = w.app(CLIENT_ID, ClientCredential::secret(SECRET));
    let migrated = other
        .acquire_token_by_refresh_token(&rt, [USER_READ])
        .unwrap();
    assert_eq!(
        w.auth
            .verify_access_token(migrated.access_token.secret())
            .unwrap()["preferred_username"],
        ALICE
    );
    assert_eq!(other.get_accounts(None).unwrap().len(), 1);

    assert!(app.sign_out_url(Some(REDIRECT)).unwrap().is_some());
    app.remove_account(&account).unwrap();
    assert!(app.get_accounts(None).unwrap().is_empty());
    assert!(app
        .acquire_token_silent([USER_READ], &account)
        .unwrap()
        .is_none());
}

/// A credential whose assertion comes from an async source (here: a short await, then a
/// signature with the registered certificate's key), counting its calls.
fn async_assertion(cert: &certs::TestCert, calls: Arc<AtomicUsize>) -> ClientCredential {
    let key = cert.key_pem.clone();
    let thumb = cert.sha1_thumbprint_hex.clone();
    ClientCredential::assertion_callback_async(move |ctx| {
        let (key, thumb, calls) = (key.clone(), thumb.clone(), calls.clone());
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(sign_rs256(
                &key,
                &thumb,
                &ctx.client_id,
                &ctx.token_endpoint,
            ))
        }
    })
}

#[test]
fn on_behalf_of_with_an_async_assertion_callback() {
    let w = World::start(true);
    const CERT_API: &str = "d0d1d2d3-0000-4000-8000-0000000000ce";
    const CERT_API_URI: &str = "api://cert-api";
    let cert = certs::self_signed("cert-api");
    w.auth.register_app(
        AppRegistration::with_certificate(CERT_API, cert.cert_pem.clone())
            .identifier_uri(CERT_API_URI),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let api = w.app(CERT_API, async_assertion(&cert, calls.clone()));
    let incoming = w
        .auth
        .issue_user_token(ALICE, SPA_ID, CERT_API_URI, &["access_as_user"])
        .unwrap();
    let t = api
        .acquire_token_on_behalf_of(&incoming, [GRAPH_USER_READ])
        .unwrap();
    let c = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(c["preferred_username"], ALICE);
    assert_eq!(c["appid"], CERT_API);
    let post = w.auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("requested_token_use"), Some("on_behalf_of"));
    assert!(post.form_value("client_assertion").is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let again = api
        .acquire_token_on_behalf_of(&incoming, [GRAPH_USER_READ])
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a cache hit signs nothing");
}

#[tokio::test]
async fn async_assertion_callback_in_the_async_api_and_its_failures() {
    let auth = authority().await;
    const CERT_APP: &str = "d0d1d2d3-0000-4000-8000-0000000000cf";
    let cert = certs::self_signed("cert-app");
    auth.register_app(AppRegistration::with_certificate(
        CERT_APP,
        cert.cert_pem.clone(),
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let app = builder(&auth, CERT_APP, auth.tenant_id())
        .client_credential(async_assertion(&cert, calls.clone()))
        .build()
        .unwrap();
    app.acquire_token_for_client([GRAPH]).await.unwrap();
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one assertion per request");

    let failing = builder(&auth, CERT_APP, auth.tenant_id())
        .client_credential(ClientCredential::assertion_callback_async(|_| async {
            Err(Error::credential("the token service is unreachable"))
        }))
        .build()
        .unwrap();
    let err = failing.acquire_token_for_client([GRAPH]).await.unwrap_err();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    assert!(err.to_string().contains("token service is unreachable"));

    let empty = builder(&auth, CERT_APP, auth.tenant_id())
        .client_credential(ClientCredential::assertion_callback_async(|_| async {
            Ok("  ".to_string())
        }))
        .build()
        .unwrap();
    let err = empty.acquire_token_for_client([GRAPH]).await.unwrap_err();
    assert!(err.to_string().contains("empty assertion"), "{err}");
    // Neither failure reached the authority.
    assert_eq!(auth.token_requests().len(), 2);
}

#[test]
fn managed_identity_from_a_plain_thread() {
    let w = World::start(false);
    let mi = ManagedIdentityClient::new(
        ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
            .env(EnvLookup::from_pairs([
                (
                    "IDENTITY_ENDPOINT".to_string(),
                    w.auth.app_service_endpoint(),
                ),
                (
                    "IDENTITY_HEADER".to_string(),
                    w.auth.managed_identity_secret(),
                ),
            ]))
            .build()
            .unwrap(),
    );
    let t = mi
        .acquire_token_for_client("https://vault.azure.net")
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let c = w.auth.verify_access_token(t.access_token.secret()).unwrap();
    assert_eq!(c["aud"], "https://vault.azure.net");
    let hit = mi
        .acquire_token_for_client("https://vault.azure.net")
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
}

#[test]
fn called_inside_a_runtime_it_is_a_typed_error_not_a_panic() {
    let w = World::start(true);
    let app = w.app(CLIENT_ID, ClientCredential::secret(SECRET));
    let err =
        w.rt.block_on(async { app.acquire_token_for_client([GRAPH]) })
            .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("async runtime")),
        "{err}"
    );
    assert!(w.auth.token_requests().is_empty());
    // Outside it works.
    app.acquire_token_for_client([GRAPH]).unwrap();
}
