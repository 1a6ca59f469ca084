//! The MSAL Python parity items of issue 12, end to end against the in-process test
//! authority: the older authorization-code API, a redemption for a subset of the flow's
//! scopes, raw response fields, the "on-behalf-of, then silent" hand-off, certificates
//! (thumbprint + public certificate, PKCS#12, ADFS), the extended cache key (`fmi_path`,
//! forwarded client claims, extra body parameters) and persisted HTTP state.

use crate::support;

use msal_runtime::{
    AuthCodeFlowOptions, AuthorizationCodeOptions, AuthorizationRequestOptions, ClientCredential,
    ConfidentialClientApplication, Error, SilentOptions, TokenSource,
};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use support::*;

const REDIRECT: &str = "https://webapp.example.com/auth/callback";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-tests";
const API_URI: &str = "api://orders-api";
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// An authority with a web app (secret + redirect URI), a web API and Alice.
async fn world() -> TestAuthority {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT));
    auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
    auth.add_user(TestUser::new(ALICE));
    auth
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

fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(verifier.as_bytes()))
}

const VERIFIER: &str = "a-verifier-of-43-to-128-characters-kept-server-side-0123456789";

// ---------------------------------------------------------------------------------------
// Item 3: migration helpers
// ---------------------------------------------------------------------------------------

/// MSAL Python's `get_authorization_request_url` + `acquire_token_by_authorization_code`:
/// state and nonce only as given (the nonce raw), no PKCE unless asked; the code is
/// redeemed without a verifier, the ID token's raw nonce checked, the user cached.
#[tokio::test]
async fn older_auth_code_api_without_pkce_signs_the_user_in() {
    let auth = world().await;
    let app = secret_app(&auth);
    let url = app
        .get_authorization_request_url(
            &["User.Read"],
            AuthorizationRequestOptions::new(REDIRECT)
                .state("s-1")
                .nonce("raw-nonce-1")
                .login_hint(ALICE),
        )
        .await
        .unwrap();
    let q = query(&url);
    assert_eq!(param(&q, "state"), Some("s-1"));
    assert_eq!(
        param(&q, "nonce"),
        Some("raw-nonce-1"),
        "raw, as MSAL Python sends it"
    );
    assert_eq!(param(&q, "code_challenge"), None);
    assert_eq!(
        param(&q, "scope"),
        Some("User.Read offline_access openid profile")
    );
    assert_eq!(param(&q, "client_info"), Some("1"));
    assert_eq!(param(&q, "redirect_uri"), Some(REDIRECT));

    let response = auth.sign_in(&url, ALICE).await.unwrap();
    assert_eq!(param(&response, "state"), Some("s-1"));
    let code = param(&response, "code").unwrap().to_string();
    let t = app
        .acquire_token_by_authorization_code(
            &code,
            &["User.Read"],
            AuthorizationCodeOptions::new(REDIRECT).nonce("raw-nonce-1"),
        )
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(t.account.as_ref().unwrap().username, ALICE);
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("grant_type"), Some("authorization_code"));
    assert_eq!(post.form_value("code_verifier"), None);
    assert_eq!(post.form_value("redirect_uri"), Some(REDIRECT));
    assert_eq!(
        post.form_value("scope"),
        Some("User.Read offline_access openid profile")
    );
    // Cached as a sign-in: silent finds it without a request.
    let account = app.get_accounts(None).await.unwrap().pop().unwrap();
    let s = app
        .acquire_token_silent(&["User.Read"], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(auth.token_requests().len(), 1);
}

/// PKCE is optional in the older API: with a verifier the URL carries its S256 challenge
/// and only the same verifier redeems the code; a wrong raw nonce is refused and nothing
/// is cached.
#[tokio::test]
async fn older_auth_code_api_with_pkce_and_the_nonce_check() {
    let auth = world().await;
    let app = secret_app(&auth);
    let url_with = |nonce: &str| {
        let app = app.clone();
        let nonce = nonce.to_string();
        async move {
            app.get_authorization_request_url(
                &["User.Read"],
                AuthorizationRequestOptions::new(REDIRECT)
                    .nonce(nonce)
                    .pkce(VERIFIER),
            )
            .await
            .unwrap()
        }
    };
    let url = url_with("n-1").await;
    let q = query(&url);
    assert_eq!(param(&q, "code_challenge"), Some(s256(VERIFIER).as_str()));
    assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
    assert_eq!(param(&q, "state"), None, "no state unless given");

    // Without the verifier the authority refuses the code.
    let code = |r: Vec<(String, String)>| param(&r, "code").unwrap().to_string();
    let c1 = code(auth.sign_in(&url, ALICE).await.unwrap());
    let err = app
        .acquire_token_by_authorization_code(
            &c1,
            &["User.Read"],
            AuthorizationCodeOptions::new(REDIRECT),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.server().map(|s| s.error.as_str()),
        Some("invalid_grant")
    );

    // With it, the sign-in completes; the verifier is on the wire.
    let c2 = code(auth.sign_in(&url_with("n-2").await, ALICE).await.unwrap());
    app.acquire_token_by_authorization_code(
        &c2,
        &["User.Read"],
        AuthorizationCodeOptions::new(REDIRECT)
            .nonce("n-2")
            .code_verifier(VERIFIER),
    )
    .await
    .unwrap();
    assert_eq!(
        auth.token_requests()
            .pop()
            .unwrap()
            .form_value("code_verifier"),
        Some(VERIFIER)
    );

    // A nonce that is not the URL's: refused, nothing cached.
    let fresh = secret_app(&auth);
    let c3 = code(auth.sign_in(&url_with("n-3").await, ALICE).await.unwrap());
    let err = fresh
        .acquire_token_by_authorization_code(
            &c3,
            &["User.Read"],
            AuthorizationCodeOptions::new(REDIRECT)
                .nonce("not-n-3")
                .code_verifier(VERIFIER),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(fresh.token_cache().access_tokens().is_empty());
    // An empty code is refused before any request.
    let before = auth.token_requests().len();
    assert!(matches!(
        fresh
            .acquire_token_by_authorization_code(
                " ",
                &["User.Read"],
                AuthorizationCodeOptions::default()
            )
            .await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(auth.token_requests().len(), before);
}

/// MSAL Python's `scopes` argument of `acquire_token_by_auth_code_flow`: a subset of the
/// flow's scopes is what the redemption asks for; a scope the flow never asked for is
/// refused before any request.
#[tokio::test]
async fn a_flow_is_redeemed_for_a_subset_of_its_scopes() {
    let auth = world().await;
    let app = secret_app(&auth);
    let flow = app
        .initiate_auth_code_flow(
            &["User.Read", "Mail.Read"],
            AuthCodeFlowOptions::new(REDIRECT),
        )
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let err = app
        .acquire_token_by_auth_code_flow_with_scopes(&flow, response.clone(), &["Files.Read"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(err.to_string().contains("Files.Read"), "{err}");
    assert!(auth.token_requests().is_empty());

    let t = app
        .acquire_token_by_auth_code_flow_with_scopes(&flow, response, &["User.Read"])
        .await
        .unwrap();
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(
        post.form_value("scope"),
        Some("User.Read offline_access openid profile")
    );
    assert!(post.form_value("code_verifier").is_some());
    assert!(t.scopes.contains(&"User.Read".to_string()));
    assert!(!t.scopes.contains(&"Mail.Read".to_string()));
}

/// The raw fields a Python user reads from the result dictionary are reachable; none of
/// their secret values shows in `Debug`; a cache hit has none (as in MSAL Python).
#[tokio::test]
async fn raw_response_fields_are_reachable_and_never_printed() {
    let auth = world().await;
    let app = secret_app(&auth);
    let flow = app
        .initiate_auth_code_flow(&["User.Read"], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let t = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    let raw = t.raw_response.as_ref().expect("fields of the IdP's answer");
    let rt = t.refresh_token().expect("a refresh token");
    assert_eq!(
        rt.secret(),
        app.token_cache().refresh_tokens()[0].secret,
        "the refresh token the cache holds"
    );
    assert!(raw.scope().unwrap().contains("User.Read"));
    assert!(raw.client_info().is_some());
    assert!(raw.get_str("id_token").is_some());
    assert!(raw.get("expires_in").is_some());
    let names: Vec<&str> = raw.names().collect();
    for n in [
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
        "scope",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert_eq!(raw.to_json()["refresh_token"], rt.secret());
    assert!(t
        .id_token_claims
        .as_ref()
        .unwrap()
        .contains_key("preferred_username"));

    let shown = format!("{t:?} {raw:?}");
    for secret in [
        rt.secret(),
        t.access_token.secret(),
        raw.get_str("id_token").unwrap(),
        raw.client_info().unwrap(),
    ] {
        assert!(!shown.contains(secret), "a secret in {shown}");
    }
    assert!(shown.contains("refresh_token"), "names are listed: {shown}");

    // App tokens: the raw answer from the IdP, nothing from the cache.
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(first.refresh_token().is_none());
    assert!(first.raw_response.unwrap().get("expires_in").is_some());
    let hit = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert!(hit.raw_response.is_none());
}

fn api_app(auth: &TestAuthority, handoff: bool) -> ConfidentialClientApplication {
    builder(auth, API_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(API_SECRET))
        .on_behalf_of_silent_handoff(handoff)
        .build()
        .unwrap()
}

/// Code ported from MSAL Python calls `acquire_token_silent` after on-behalf-of. Opted in,
/// the OBO result is also the user's own token: silent serves it from the cache, and
/// refreshes it with the OBO refresh token. Not opted in (the default), OBO tokens stay
/// with their assertion and silent finds nothing.
#[tokio::test]
async fn obo_then_silent_hand_off_works_when_opted_in() {
    let auth = world().await;
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();

    let plain = api_app(&auth, false);
    plain
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    let account = plain.get_accounts(None).await.unwrap().pop().unwrap();
    assert!(plain
        .acquire_token_silent(&[GRAPH_USER_READ], &account)
        .await
        .unwrap()
        .is_none());

    let api = api_app(&auth, true);
    let obo = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    let posts = auth.token_requests().len();
    let account = api.get_accounts(None).await.unwrap().pop().unwrap();
    assert_eq!(account.username, ALICE);
    let s = api
        .acquire_token_silent(&[GRAPH_USER_READ], &account)
        .await
        .unwrap()
        .expect("the OBO token, handed to silent");
    assert_eq!(s.token_source, TokenSource::Cache);
    assert_eq!(s.access_token.secret(), obo.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts, "no request");

    // The OBO refresh token refreshes it, as in MSAL Python.
    let refreshed = api
        .acquire_token_silent_with_error(
            &[GRAPH_USER_READ],
            &account,
            SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.form_value("client_id"), Some(API_ID));
    // The per-assertion entry is still there: the same assertion is still served from it.
    let again = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
}

// ---------------------------------------------------------------------------------------
// Item 4: certificates
// ---------------------------------------------------------------------------------------

fn assertion_header(auth: &TestAuthority) -> serde_json::Value {
    let post = auth.token_requests().pop().expect("a token request");
    jwt_parts(post.form_value("client_assertion").expect("an assertion")).0
}

fn b64url_padded(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn b64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// MSAL Python's `thumbprint` + `public_certificate` form: RS256, `x5t` from the given
/// SHA-1 thumbprint, and `x5c` with every certificate of the PEM in file order; the
/// authority accepts it by subject name and issuer.
#[tokio::test]
async fn thumbprint_with_public_certificate_sends_rs256_x5t_and_the_x5c_chain() {
    const ID: &str = "11111111-0000-4000-8000-0000000000f1";
    let auth = authority().await;
    let ca = msal_testkit::certs::ca("Contoso Issuing CA");
    let leaf = msal_testkit::certs::issued_by(&ca, "sni.contoso.com");
    auth.register_app(AppRegistration {
        client_id: ID.into(),
        trusted_issuers: vec![("sni.contoso.com".into(), ca.cert_pem.clone())],
        ..Default::default()
    });
    let cert = msal_runtime::Certificate::from_pem_with_thumbprint_and_certificate(
        &leaf.key_pem,
        &leaf.sha1_thumbprint_hex,
        &leaf.chain_pem(&ca),
        None,
    )
    .unwrap();
    let app = builder(&auth, ID, auth.tenant_id())
        .client_credential(ClientCredential::certificate(cert))
        .build()
        .unwrap();
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
    let h = assertion_header(&auth);
    assert_eq!(h["alg"], "RS256");
    let sha1 = leaf
        .x509()
        .digest(openssl::hash::MessageDigest::sha1())
        .unwrap();
    assert_eq!(h["x5t"], b64url_padded(&sha1));
    assert!(h.get("x5t#S256").is_none());
    let x5c: Vec<&str> = h["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        x5c,
        [
            b64_std(&leaf.x509().to_der().unwrap()),
            b64_std(&ca.x509().to_der().unwrap())
        ],
        "leaf first, then the chain, as the file has them"
    );

    // A key that is not the certificate's is refused when the credential is built.
    let other = msal_testkit::certs::self_signed("other");
    let err = msal_runtime::Certificate::from_pem_with_thumbprint_and_certificate(
        &other.key_pem,
        &leaf.sha1_thumbprint_hex,
        &leaf.cert_pem,
        None,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("does not belong"), "{err}");
    let err = msal_runtime::Certificate::from_pem_with_thumbprint_and_certificate(
        &leaf.key_pem,
        &leaf.sha1_thumbprint_hex,
        b"not a certificate",
        None,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("public certificate"), "{err}");
}

/// A PKCS#12 archive signs PS256 with `x5t#S256` (and `x5c` on request); a wrong
/// passphrase is a clear credential error.
#[tokio::test]
async fn pkcs12_certificate_gets_a_token() {
    const ID: &str = "11111111-0000-4000-8000-0000000000f2";
    let auth = authority().await;
    let cert = msal_testkit::certs::self_signed("pfx-daemon");
    auth.register_app(AppRegistration::with_certificate(ID, cert.cert_pem.clone()));
    let pfx = cert.to_pkcs12_der("pfx-pass");
    let loaded = msal_runtime::Certificate::from_pkcs12(&pfx, "pfx-pass").unwrap();
    assert_eq!(loaded.thumbprint(), cert.sha1_thumbprint_hex.to_uppercase());
    for (x5c, want_posts) in [(false, 1), (true, 2)] {
        let app = builder(&auth, ID, auth.tenant_id())
            .client_credential(ClientCredential::certificate(loaded.clone().send_x5c(x5c)))
            .build()
            .unwrap();
        let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
        assert_eq!(auth.token_requests().len(), want_posts);
        let h = assertion_header(&auth);
        assert_eq!(h["alg"], "PS256");
        let sha256 = cert
            .x509()
            .digest(openssl::hash::MessageDigest::sha256())
            .unwrap();
        assert_eq!(h["x5t#S256"], b64url_padded(&sha256));
        assert!(h.get("x5t").is_none());
        assert_eq!(h.get("x5c").is_some(), x5c);
    }
    let err = msal_runtime::Certificate::from_pkcs12(&pfx, "wrong")
        .err()
        .unwrap();
    assert!(matches!(err, Error::Credential { .. }), "{err:?}");
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(msal_runtime::Certificate::from_pkcs12(b"garbage", "x").is_err());
}

/// ADFS knows SHA-1 thumbprints only: a certificate whose SHA-256 thumbprint is known
/// still signs RS256 with `x5t` for an ADFS authority, as MSAL Python does.
#[tokio::test]
async fn adfs_authority_makes_a_full_certificate_sign_rs256_with_x5t() {
    const ID: &str = "11111111-0000-4000-8000-0000000000f3";
    let auth = authority().await;
    let cert = msal_testkit::certs::self_signed("adfs-daemon");
    auth.register_app(AppRegistration::with_certificate(ID, cert.cert_pem.clone()));
    let app = builder(&auth, ID, "adfs")
        .client_credential(ClientCredential::certificate(
            msal_runtime::Certificate::from_pem(&cert.key_pem, &cert.cert_pem, None).unwrap(),
        ))
        .build()
        .unwrap();
    assert_eq!(app.authority().kind(), msal_runtime::AuthorityKind::Adfs);
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.path, "/adfs/oauth2/token");
    let (h, c) = jwt_parts(post.form_value("client_assertion").unwrap());
    assert_eq!(h["alg"], "RS256");
    let sha1 = cert
        .x509()
        .digest(openssl::hash::MessageDigest::sha1())
        .unwrap();
    assert_eq!(h["x5t"], b64url_padded(&sha1));
    assert!(h.get("x5t#S256").is_none());
    assert!(c["aud"].as_str().unwrap().ends_with("/adfs/oauth2/token"));
}

// ---------------------------------------------------------------------------------------
// Item 2: extended cache key and request extensibility
// ---------------------------------------------------------------------------------------

/// The extended key of `fmi_path=SomeFmiPath/FmiCredentialPath`, recorded against MSAL
/// Python 1.39 (protocol reference, section 7.8).
const FMI_PATH: &str = "SomeFmiPath/FmiCredentialPath";
const FMI_EXT_KEY: &str = "cojvfy5tzae3njpkvcebguvvx5vvmnj8hphqrbogjoi";

/// `fmi_path` goes on the wire and its token is cached under MSAL's `atext` key with the
/// hash MSAL Python computes: it never serves a plain request, a plain token never serves
/// it, and another path is another token.
#[tokio::test]
async fn fmi_path_tokens_are_cached_apart_from_plain_ones() {
    use msal_runtime::ForClientOptions;
    let auth = authority().await;
    let app = secret_app(&auth);
    let fmi = |p: &str| ForClientOptions::default().fmi_path(p);

    let plain = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let a = app
        .acquire_token_for_client_with(&[GRAPH], fmi(FMI_PATH))
        .await
        .unwrap();
    assert_eq!(
        a.token_source,
        TokenSource::IdentityProvider,
        "not the plain token"
    );
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("fmi_path"), Some(FMI_PATH));
    assert_eq!(auth.token_requests().len(), 2);

    let a2 = app
        .acquire_token_for_client_with(&[GRAPH], fmi(FMI_PATH))
        .await
        .unwrap();
    assert_eq!(a2.token_source, TokenSource::Cache);
    assert_eq!(a2.access_token.secret(), a.access_token.secret());
    let p2 = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(p2.token_source, TokenSource::Cache);
    assert_eq!(p2.access_token.secret(), plain.access_token.secret());
    let b = app
        .acquire_token_for_client_with(&[GRAPH], fmi("Other/Path"))
        .await
        .unwrap();
    assert_eq!(b.token_source, TokenSource::IdentityProvider);
    assert_eq!(auth.token_requests().len(), 3);

    // The entry as MSAL Python writes it: `atext` key ending with the hash, the hash in
    // `ext_cache_key`, `credential_type` still AccessToken.
    let json: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    let ats = json["AccessToken"].as_object().unwrap();
    let want_key = format!(
        "-localhost-atext-{CLIENT_ID}-{}-{GRAPH}-{FMI_EXT_KEY}",
        auth.tenant_id()
    );
    let entry = &ats[&want_key];
    assert_eq!(entry["ext_cache_key"], FMI_EXT_KEY);
    assert_eq!(entry["credential_type"], "AccessToken");
    assert_eq!(entry["secret"], a.access_token.secret());
    assert_eq!(ats.len(), 3);
}

/// Forwarded client claims are merged into `claims` on the wire (never sent as a field
/// of their own) and key the cache; extra body parameters go on the wire and key the
/// cache; names the library sets are refused before any request.
#[tokio::test]
async fn forwarded_client_claims_and_extra_body_parameters_key_the_cache() {
    use msal_runtime::ForClientOptions;
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .client_capabilities(["cp1"])
        .build()
        .unwrap();
    let cc = r#"{"access_token": {"xms_az_nwperimid": {"values": ["p1"]}}}"#;
    let with_cc = || ForClientOptions::default().forwarded_client_claims(cc);
    let t = app
        .acquire_token_for_client_with(&[GRAPH], with_cc())
        .await
        .unwrap();
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(
        post.form_value("claims"),
        Some(
            r#"{"access_token": {"xms_cc": {"values": ["cp1"]}, "xms_az_nwperimid": {"values": ["p1"]}}}"#
        )
    );
    assert_eq!(post.form_value("client_claims"), None);
    let again = app
        .acquire_token_for_client_with(&[GRAPH], with_cc())
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), t.access_token.secret());
    let plain = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(plain.token_source, TokenSource::IdentityProvider);
    assert_eq!(auth.token_requests().len(), 2);

    let slice = || ForClientOptions::default().extra_body_parameter("slice", "testslice");
    app.acquire_token_for_client_with(&[GRAPH], slice())
        .await
        .unwrap();
    assert_eq!(
        auth.token_requests().pop().unwrap().form_value("slice"),
        Some("testslice")
    );
    let hit = app
        .acquire_token_for_client_with(&[GRAPH], slice())
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(auth.token_requests().len(), 3);
    let keys: Vec<String> = app
        .token_cache()
        .access_tokens()
        .into_iter()
        .filter_map(|e| e.ext_cache_key)
        .collect();
    assert_eq!(keys.len(), 2, "two extended entries: {keys:?}");
    assert_ne!(keys[0], keys[1]);

    for bad in [
        ForClientOptions::default().extra_body_parameter("client_secret", "x"),
        ForClientOptions::default().extra_body_parameter("scope", "x"),
        ForClientOptions::default().fmi_path(""),
        ForClientOptions::default().forwarded_client_claims("not json"),
        ForClientOptions::default().forwarded_client_claims("[1]"),
    ] {
        let err = app
            .acquire_token_for_client_with(&[GRAPH], bad.clone())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{bad:?}: {err:?}");
        assert!(
            !err.to_string().contains("not json"),
            "the value is not quoted"
        );
    }
    assert_eq!(auth.token_requests().len(), 3);
}

// ---------------------------------------------------------------------------------------
// Item 6: persisted HTTP state (MSAL Python's `http_cache`)
// ---------------------------------------------------------------------------------------

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("msal-parity-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn discovery_gets(auth: &TestAuthority) -> usize {
    auth.requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("openid-configuration") || r.path.ends_with("/discovery/instance")
        })
        .count()
}

/// A new application instance (a restart, another process) given the same file back-end
/// finds the discovery result and the throttling decision of the first: no discovery
/// GET, and the throttled request is not sent, as the testkit's request log shows.
#[tokio::test]
async fn discovery_and_throttling_survive_a_new_instance_on_the_file_back_end() {
    use msal_runtime::{HttpCache, TokenCache};
    let auth = authority().await;
    let dir = temp_dir();
    let instance = || {
        let tokens = TokenCache::file(dir.join("msal.json")).unwrap();
        let http = HttpCache::beside(&tokens).unwrap();
        builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .token_cache(tokens)
            .http_cache(http)
            .build()
            .unwrap()
    };

    let first = instance();
    first.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        discovery_gets(&auth),
        2,
        "instance + tenant discovery, once"
    );
    assert!(dir.join("msal.json.http.json").exists());

    // The authority throttles the next request for a minute.
    let storage = "https://storage.azure.com/.default";
    auth.push_fault(msal_testkit::Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 1,
        kind: msal_testkit::FaultKind::Status {
            status: 429,
            body: r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: throttled","error_codes":[50196]}"#.into(),
            headers: vec![("Retry-After".into(), "60".into())],
        },
    });
    let err = first
        .acquire_token_for_client(&[storage])
        .await
        .unwrap_err();
    assert_eq!(err.server().unwrap().status, 429);
    let posts = auth.token_requests().len();
    drop(first);

    // A new instance: no discovery, the throttled request replayed without a request,
    // other requests unaffected.
    let second = instance();
    let replayed = second
        .acquire_token_for_client(&[storage])
        .await
        .unwrap_err();
    let s = replayed.server().expect("the persisted refusal");
    assert_eq!(
        (s.status, s.error.as_str()),
        (429, "temporarily_unavailable")
    );
    assert_eq!(s.error_codes, vec![50196]);
    assert_eq!(auth.token_requests().len(), posts, "not sent");
    assert_eq!(discovery_gets(&auth), 2, "no discovery");
    let cached = second.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    // Shared by another process-like instance on a fresh token cache as well.
    let third = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .http_cache(HttpCache::file(dir.join("msal.json.http.json")).unwrap())
        .build()
        .unwrap();
    assert!(third.acquire_token_for_client(&[storage]).await.is_err());
    assert_eq!(auth.token_requests().len(), posts);
    third.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(discovery_gets(&auth), 2);
    assert_eq!(auth.token_requests().len(), posts + 1);

    // Without the HTTP state, a new instance discovers and asks again.
    let plain = secret_app(&auth);
    plain.acquire_token_for_client(&[storage]).await.unwrap();
    assert_eq!(discovery_gets(&auth), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 400 is replayed for 60 s to an identical request, across instances sharing memory
/// state too; a corrupt state file is ignored, never an error.
#[tokio::test]
async fn a_bad_request_is_replayed_across_instances_and_a_corrupt_state_file_is_ignored() {
    use msal_runtime::HttpCache;
    let auth = authority().await;
    let shared = HttpCache::memory();
    let app = |http: HttpCache| {
        builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .http_cache(http)
            .build()
            .unwrap()
    };
    let bad = "api://unknown-resource/.default";
    auth.push_fault(msal_testkit::Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 1,
        kind: msal_testkit::FaultKind::Status {
            status: 400,
            body: r#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for scope is not valid.","error_codes":[70011]}"#.into(),
            headers: vec![],
        },
    });
    let err = app(shared.clone())
        .acquire_token_for_client(&[bad])
        .await
        .unwrap_err();
    let status = err.server().map(|s| s.status);
    assert_eq!(status, Some(400), "{err:?}");
    let posts = auth.token_requests().len();
    let again = app(shared.clone())
        .acquire_token_for_client(&[bad])
        .await
        .unwrap_err();
    assert_eq!(
        again.server().map(|s| s.error.as_str()),
        Some("invalid_scope")
    );
    assert_eq!(auth.token_requests().len(), posts, "replayed, not sent");
    // An instance without the shared state sends it (and gets a token: the fault is gone).
    let fresh = app(HttpCache::memory());
    fresh.acquire_token_for_client(&[bad]).await.unwrap();
    assert_eq!(auth.token_requests().len(), posts + 1);

    let dir = temp_dir();
    let path = dir.join("state.json");
    std::fs::write(&path, "{ not json").unwrap();
    let t = app(HttpCache::file(&path).unwrap())
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(written
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("discovery|")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Forwarded client claims on on-behalf-of (MSAL Python's `forwarded_client_claims`):
/// merged into `claims`, and the token cached under the extended key: the same claims
/// are served from the cache, the assertion's plain token is another entry, and neither
/// serves the other.
#[tokio::test]
async fn obo_forwarded_client_claims_key_the_cache_apart_from_plain_obo() {
    use msal_runtime::OnBehalfOfOptions;
    let auth = world().await;
    let api = api_app(&auth, false);
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();
    let cc = r#"{"access_token": {"xms_az_nwperimid": {"values": ["p1"]}}}"#;
    let with_cc = || OnBehalfOfOptions::default().forwarded_client_claims(cc);

    let plain = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    let ext = api
        .acquire_token_on_behalf_of_with(&incoming, &[GRAPH_USER_READ], with_cc())
        .await
        .unwrap();
    assert_eq!(ext.token_source, TokenSource::IdentityProvider);
    assert_ne!(ext.access_token.secret(), plain.access_token.secret());
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("claims"), Some(cc));
    assert_eq!(post.form_value("client_claims"), None);
    let posts = auth.token_requests().len();

    let again = api
        .acquire_token_on_behalf_of_with(&incoming, &[GRAPH_USER_READ], with_cc())
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), ext.access_token.secret());
    let plain_again = api
        .acquire_token_on_behalf_of(&incoming, &[GRAPH_USER_READ])
        .await
        .unwrap();
    assert_eq!(
        plain_again.access_token.secret(),
        plain.access_token.secret()
    );
    assert_eq!(auth.token_requests().len(), posts);
    let ext_entries = api
        .token_cache()
        .access_tokens()
        .into_iter()
        .filter(|e| e.ext_cache_key.is_some() && e.user_assertion_hash.is_some())
        .count();
    assert_eq!(ext_entries, 1);
    assert!(matches!(
        api.acquire_token_on_behalf_of_with(
            &incoming,
            &[GRAPH_USER_READ],
            OnBehalfOfOptions::default().forwarded_client_claims("nope")
        )
        .await,
        Err(Error::InvalidInput(_))
    ));
}

/// Forwarded client claims on silent calls: the refresh carries them in `claims`, its
/// token is cached under the extended key, served again to the same claims only; the
/// plain token of the account is untouched.
#[tokio::test]
async fn silent_forwarded_client_claims_key_the_cache() {
    let auth = world().await;
    let app = secret_app(&auth);
    let flow = app
        .initiate_auth_code_flow(&["User.Read"], AuthCodeFlowOptions::new(REDIRECT))
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    let account = signed_in.account.clone().unwrap();
    let cc = r#"{"access_token": {"xms_az_nwperimid": {"values": ["p1"]}}}"#;
    let with_cc = || SilentOptions::default().forwarded_client_claims(cc);

    let ext = app
        .acquire_token_silent_with_error(&["User.Read"], &account, with_cc())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ext.token_source, TokenSource::IdentityProvider);
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.form_value("claims"), Some(cc));
    let posts = auth.token_requests().len();

    let again = app
        .acquire_token_silent_with_error(&["User.Read"], &account, with_cc())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), ext.access_token.secret());
    let plain = app
        .acquire_token_silent(&["User.Read"], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.access_token.secret(), signed_in.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts);
    assert!(format!("{:?}", with_cc()).contains("forwarded_client_claims: true"));
    assert!(!format!("{:?}", with_cc()).contains("p1"));
}

/// Forwarded client claims on MSAL Python's older code redemption: the redemption carries
/// them in `claims`, and its access token is cached under the extended key, found by a
/// silent call with the same claims and by no plain one.
#[tokio::test]
async fn older_code_redemption_forwarded_client_claims_key_the_cache() {
    let auth = world().await;
    let app = secret_app(&auth);
    let url = app
        .get_authorization_request_url(
            &["User.Read"],
            AuthorizationRequestOptions::new(REDIRECT).pkce(VERIFIER),
        )
        .await
        .unwrap();
    let response = auth.sign_in(&url, ALICE).await.unwrap();
    let code = param(&response, "code").unwrap().to_string();
    let cc = r#"{"access_token": {"xms_az_nwperimid": {"values": ["p1"]}}}"#;
    let options = AuthorizationCodeOptions::new(REDIRECT)
        .code_verifier(VERIFIER)
        .forwarded_client_claims(cc);
    assert!(format!("{options:?}").contains("forwarded_client_claims: true"));
    assert!(!format!("{options:?}").contains("p1"));
    let redeemed = app
        .acquire_token_by_authorization_code(&code, &["User.Read"], options)
        .await
        .unwrap();
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("grant_type"), Some("authorization_code"));
    assert_eq!(post.form_value("claims"), Some(cc));

    // Stored under the extended key.
    let json = app.token_cache().serialize();
    assert!(json.contains("\"ext_cache_key\""), "{json}");
    assert!(json.contains("-atext-"), "{json}");

    // The same claims find it; a plain silent call does not (it refreshes instead).
    let account = redeemed.account.clone().unwrap();
    let posts = auth.token_requests().len();
    let again = app
        .acquire_token_silent_with_error(
            &["User.Read"],
            &account,
            SilentOptions::default().forwarded_client_claims(cc),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), redeemed.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts);
    let plain = app
        .acquire_token_silent(&["User.Read"], &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.token_source, TokenSource::IdentityProvider);
    assert_ne!(plain.access_token.secret(), redeemed.access_token.secret());
    let refresh = auth.token_requests().pop().unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(refresh.form_value("claims"), None);
}

/// The instance-metadata (alias) GET and the region IMDS names are kept in persisted HTTP
/// state, as MSAL Python's `http_cache` keeps its GETs: a new instance given the same state
/// asks neither again; an instance without it asks both.
#[tokio::test]
async fn aliases_and_the_imds_region_survive_a_new_instance() {
    use msal_runtime::{HttpCache, Region};
    let auth = authority().await;
    auth.set_imds_region(Some("westus2"));
    let shared = HttpCache::memory();
    let instance = |http: Option<&HttpCache>| {
        let b = builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .azure_region(Region::Discover)
            .http_client(client_resolving(&auth, &["localhost", "westus2.localhost"]));
        match http {
            Some(h) => b.http_cache(h.clone()),
            None => b,
        }
        .build()
        .unwrap()
    };
    let count = |f: &dyn Fn(&msal_testkit::RecordedRequest) -> bool| {
        auth.requests().iter().filter(|r| f(r)).count()
    };
    let imds = |r: &msal_testkit::RecordedRequest| r.path.starts_with("/metadata");
    let alias_get = |r: &msal_testkit::RecordedRequest| {
        r.path == "/common/discovery/instance" && r.query_value("api-version") == Some("1.1")
    };

    let first = instance(Some(&shared));
    first.acquire_token_for_client(&[GRAPH]).await.unwrap();
    first.remove_tokens_for_client().await.unwrap();
    assert_eq!((count(&imds), count(&alias_get)), (1, 1));

    let second = instance(Some(&shared));
    second.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth
        .token_requests()
        .last()
        .unwrap()
        .host
        .starts_with("westus2.localhost"));
    second.remove_tokens_for_client().await.unwrap();
    assert_eq!(
        (count(&imds), count(&alias_get)),
        (1, 1),
        "the region and the aliases came from the HTTP state"
    );

    let plain = instance(None);
    plain.acquire_token_for_client(&[GRAPH]).await.unwrap();
    plain.remove_tokens_for_client().await.unwrap();
    assert_eq!((count(&imds), count(&alias_get)), (2, 2));
}
