//! Client credentials end to end, over HTTPS, against the in-process test authority.

use crate::support;

use msal_runtime::{
    Certificate, ClientCredential, EnvLookup, Error, ForClientOptions, HttpErrorKind, Region,
    TokenCache, TokenSource, Verify,
};
use msal_testkit::{certs, AppRegistration, Fault, FaultKind};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn secret_gets_a_real_token_and_sends_what_msal_sends() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(t.token_type, "Bearer");
    assert!(t.expires_in() > 3000 && t.expires_in() <= 3600);
    let claims = auth
        .verify_access_token(t.access_token.secret())
        .expect("a token the authority signed");
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["appid"], CLIENT_ID);

    let reqs = auth.requests();
    // Instance discovery (the host is not a Microsoft cloud), tenant discovery, both
    // without library headers, then one token POST.
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths[0], "/common/discovery/instance");
    assert_eq!(reqs[0].query_value("api-version"), Some("1.0"));
    assert_eq!(
        reqs[0].query_value("authorization_endpoint"),
        Some(
            format!(
                "{}/{}/oauth2/v2.0/authorize",
                auth.base_url(),
                auth.tenant_id()
            )
            .as_str()
        )
    );
    assert!(
        paths[1].ends_with("/v2.0/.well-known/openid-configuration"),
        "{paths:?}"
    );
    assert!(reqs[1].header("x-client-sku").is_none());
    assert_eq!(paths.len(), 3);
    let post = &auth.token_requests()[0];
    let names: Vec<&str> = post.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_info",
            "client_secret",
            "scope"
        ]
    );
    assert_eq!(post.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(post.form_value("client_info"), Some("1"));
    assert_eq!(post.form_value("scope"), Some(GRAPH));
    assert_eq!(post.header("accept"), Some("application/json"));
    assert_eq!(post.header("x-client-sku"), Some("MSAL.Rust"));
    assert_eq!(post.header("x-client-ver"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(post.header("x-client-os"), Some(std::env::consts::OS));
    assert_eq!(
        post.header("x-ms-lib-capability"),
        Some("retry-after, h429")
    );
    assert_eq!(post.header("x-client-current-telemetry"), Some("4|730,2|"));
    assert_eq!(post.header("x-client-last-telemetry"), Some("4|0|||"));
    assert!(
        post.header("authorization").is_none(),
        "secrets go in the body, never a header"
    );
    let corr = post.header("client-request-id").unwrap();
    assert_eq!(uuid::Uuid::parse_str(corr).unwrap().get_version_num(), 4);
    assert_eq!(t.correlation_id.as_deref(), Some(corr));
}

#[tokio::test]
async fn app_name_and_version_headers_when_set() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .app_name("orders")
        .app_version("1.2.0")
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let post = &auth.token_requests()[0];
    assert_eq!(post.header("x-app-name"), Some("orders"));
    assert_eq!(post.header("x-app-ver"), Some("1.2.0"));
}

#[tokio::test]
async fn second_call_is_served_from_the_cache() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let second = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(first.access_token.secret(), second.access_token.secret());
    assert_eq!(auth.token_requests().len(), 1, "no second request");
    // Discovery happened once for the app's life.
    let discoveries = auth
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("openid-configuration"))
        .count();
    assert_eq!(discoveries, 1);

    // The cache entry is keyed and shaped as MSAL keys it.
    let at = &app.token_cache().access_tokens()[0];
    assert_eq!(at.home_account_id, None);
    assert_eq!(at.environment, "localhost");
    assert_eq!(at.realm, auth.tenant_id());
    assert_eq!(at.target, GRAPH);
    let json = app.token_cache().serialize();
    let key = format!(
        "-localhost-accesstoken-{}-{}-{}",
        CLIENT_ID,
        auth.tenant_id(),
        GRAPH
    )
    .to_lowercase();
    assert!(json.contains(&key), "{json}");
    assert!(json.contains("\"home_account_id\": null"));
    assert!(json.contains("AppMetadata"));

    // The next request reports the cache hit in its telemetry.
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    let post = &auth.token_requests()[1];
    assert_eq!(post.header("x-client-last-telemetry"), Some("4|1|||"));
}

#[tokio::test]
async fn concurrent_cold_callers_cause_one_request() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.acquire_token_for_client(&[GRAPH]).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(auth.token_requests().len(), 1);
}

#[tokio::test]
async fn two_tenants_are_cached_apart() {
    let auth = authority().await;
    auth.add_tenant(
        "22222222-2222-4222-8222-222222222222",
        Some("fabrikam.onmicrosoft.com"),
    );
    let cache = TokenCache::new();
    let a = builder(&auth, CLIENT_ID, auth.tenant_domain())
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let b = builder(&auth, CLIENT_ID, "fabrikam.onmicrosoft.com")
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let ta = a.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let tb = b.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_ne!(ta.access_token.secret(), tb.access_token.secret());
    let mut realms: Vec<String> = cache.access_tokens().into_iter().map(|e| e.realm).collect();
    realms.sort();
    let mut want = vec![
        auth.tenant_id().to_string(),
        "22222222-2222-4222-8222-222222222222".to_string(),
    ];
    want.sort();
    assert_eq!(
        realms, want,
        "the domain resolves to the tenant id, each tenant its own entry"
    );
    assert_eq!(
        a.acquire_token_for_client(&[GRAPH])
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    assert_eq!(
        b.acquire_token_for_client(&[GRAPH])
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    assert_eq!(auth.token_requests().len(), 2);
}

#[tokio::test]
async fn remove_tokens_for_client_empties_the_cache() {
    let auth = authority().await;
    let app = secret_app(&auth);
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(app.remove_tokens_for_client().await.unwrap(), 1);
    assert!(app.token_cache().access_tokens().is_empty());
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(auth.token_requests().len(), 2);
}

/// Threads keep copies of their recent hits; a copy must never outlive a change to the
/// cache, whichever thread made the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_on_every_thread_follow_each_change_to_the_cache() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();

    // A thread of its own that serves hits on request, so its copies persist between them.
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (answer, answers) = std::sync::mpsc::channel();
    let worker = {
        let (app, rt) = (app.clone(), tokio::runtime::Handle::current());
        std::thread::spawn(move || {
            for () in asked {
                let r = rt.block_on(app.acquire_token_for_client(&[GRAPH])).unwrap();
                answer
                    .send((r.access_token.secret().to_string(), r.token_source))
                    .unwrap();
            }
        })
    };
    let hit = || {
        ask.send(()).unwrap();
        answers.recv().unwrap()
    };
    for _ in 0..3 {
        assert_eq!(
            hit(),
            (first.access_token.secret().to_string(), TokenSource::Cache)
        );
    }

    // Another thread replaces the cache's contents: the next hit serves the new token.
    let replaced = app
        .token_cache()
        .serialize()
        .replace(first.access_token.secret(), "replaced-token");
    app.token_cache().deserialize(&replaced).unwrap();
    assert_eq!(hit(), ("replaced-token".to_string(), TokenSource::Cache));
    let here = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(here.access_token.secret(), "replaced-token");

    // Removed: the next call goes to the authority, and the calls after it are hits of
    // that new token.
    assert_eq!(app.remove_tokens_for_client().await.unwrap(), 1);
    let (fetched, source) = hit();
    assert_eq!(source, TokenSource::IdentityProvider);
    assert_ne!(fetched, "replaced-token");
    assert_eq!(hit(), (fetched.clone(), TokenSource::Cache));
    let here = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(here.access_token.secret(), fetched);
    assert_eq!(auth.token_requests().len(), 2);

    drop(ask);
    worker.join().unwrap();
}

#[tokio::test]
async fn wrong_secret_is_a_server_error_with_entra_fields() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret("not-the-secret"))
        .build()
        .unwrap();
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    let Error::Server(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.error, "invalid_client");
    assert_eq!(e.status, 401);
    assert!(e.error_codes.contains(&7000215), "{:?}", e.error_codes);
    let sent = auth.token_requests()[0]
        .header("client-request-id")
        .unwrap()
        .to_string();
    assert_eq!(e.correlation_id.as_deref(), Some(sent.as_str()));
    assert!(!err.to_string().contains("not-the-secret"));
    assert!(!format!("{err:?}").contains("not-the-secret"));

    // The failure is reported in the next request's telemetry.
    let _ = app.acquire_token_for_client(&[GRAPH]).await;
    let next = &auth.token_requests()[1];
    assert_eq!(
        next.header("x-client-last-telemetry"),
        Some(format!("4|0|730,{sent}|invalid_client|").as_str())
    );
}

fn assertion_of(auth: &msal_testkit::TestAuthority) -> String {
    auth.token_requests()[0]
        .form_value("client_assertion")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn certificate_signs_ps256_with_sha256_thumbprint() {
    let auth = authority().await;
    let cert = certs::self_signed("orders-daemon");
    auth.register_app(AppRegistration::with_certificate(
        "11111111-0000-4000-8000-000000000001",
        cert.cert_pem.clone(),
    ));
    let app = builder(
        &auth,
        "11111111-0000-4000-8000-000000000001",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::certificate(
        Certificate::from_pem(&cert.key_pem, &cert.cert_pem, None).unwrap(),
    ))
    .build()
    .unwrap();
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
    let post = &auth.token_requests()[0];
    let names: Vec<&str> = post.form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "grant_type",
            "client_assertion",
            "client_info",
            "client_assertion_type",
            "scope"
        ]
    );
    assert_eq!(
        post.form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let (h, c) = jwt_parts(&assertion_of(&auth));
    assert_eq!(h["alg"], "PS256");
    assert_eq!(h["typ"], "JWT");
    assert!(h.get("x5c").is_none());
    let x5t256 = h["x5t#S256"].as_str().unwrap();
    assert!(x5t256.ends_with('='), "padded, as MSAL sends it");
    assert_eq!(c["iss"], "11111111-0000-4000-8000-000000000001");
    assert_eq!(
        c["aud"],
        format!("{}/{}/oauth2/v2.0/token", auth.base_url(), auth.tenant_id())
    );
}

#[tokio::test]
async fn certificate_with_thumbprint_signs_rs256_with_x5t() {
    let auth = authority().await;
    let cert = certs::self_signed("legacy");
    auth.register_app(AppRegistration::with_certificate(
        "11111111-0000-4000-8000-000000000002",
        cert.cert_pem.clone(),
    ));
    let app = builder(
        &auth,
        "11111111-0000-4000-8000-000000000002",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::certificate(
        Certificate::from_pem_with_thumbprint(&cert.key_pem, &cert.sha1_thumbprint_hex, None)
            .unwrap(),
    ))
    .build()
    .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let (h, _) = jwt_parts(&assertion_of(&auth));
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["x5t"].as_str().unwrap().len(), 28);
    assert!(h.get("x5t#S256").is_none());
}

#[tokio::test]
async fn certificate_with_x5c_uses_subject_name_and_issuer() {
    let auth = authority().await;
    let ca = certs::ca("Contoso Issuing CA");
    let leaf = certs::issued_by(&ca, "orders.contoso.com");
    // Registered by subject name and issuer only: the certificate itself is unknown.
    let reg = AppRegistration {
        client_id: "11111111-0000-4000-8000-000000000003".into(),
        trusted_issuers: vec![("orders.contoso.com".into(), ca.cert_pem.clone())],
        ..Default::default()
    };
    auth.register_app(reg);
    let make = |x5c: bool| {
        let c = Certificate::from_pem(&leaf.key_pem, &leaf.cert_pem, None).unwrap();
        builder(
            &auth,
            "11111111-0000-4000-8000-000000000003",
            auth.tenant_id(),
        )
        .client_credential(if x5c {
            ClientCredential::certificate_with_x5c(c)
        } else {
            ClientCredential::certificate(c)
        })
        .build()
        .unwrap()
    };
    let err = make(false)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap_err();
    assert_eq!(
        err.server().map(|s| s.error.as_str()),
        Some("invalid_client")
    );
    make(true).acquire_token_for_client(&[GRAPH]).await.unwrap();
    let last = auth
        .token_requests()
        .last()
        .unwrap()
        .form_value("client_assertion")
        .unwrap()
        .to_string();
    let (h, _) = jwt_parts(&last);
    assert_eq!(h["x5c"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn encrypted_key_needs_the_right_passphrase() {
    let auth = authority().await;
    let cert = certs::self_signed("encrypted");
    let encrypted = certs::encrypted_key_pem(&cert.key_pem, "correct horse");
    auth.register_app(AppRegistration::with_certificate(
        "11111111-0000-4000-8000-000000000004",
        cert.cert_pem.clone(),
    ));
    let good = Certificate::from_pem(&encrypted, &cert.cert_pem, Some("correct horse")).unwrap();
    let app = builder(
        &auth,
        "11111111-0000-4000-8000-000000000004",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::certificate(good))
    .build()
    .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();

    let wrong =
        Certificate::from_pem(&encrypted, &cert.cert_pem, Some("battery staple")).unwrap_err();
    assert!(matches!(wrong, Error::Credential { .. }));
    assert!(wrong.to_string().contains("wrong passphrase"), "{wrong}");
    assert!(!wrong.to_string().contains("battery"));
    let missing = Certificate::from_pem(&encrypted, &cert.cert_pem, None).unwrap_err();
    assert!(
        missing.to_string().contains("passphrase is required"),
        "{missing}"
    );
    let other = certs::self_signed("other");
    let mismatch = Certificate::from_pem(&cert.key_pem, &other.cert_pem, None).unwrap_err();
    assert!(
        mismatch.to_string().contains("does not belong"),
        "{mismatch}"
    );
}

#[tokio::test]
async fn assertion_callback_is_called_for_each_request() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let auth = authority().await;
    let cert = certs::self_signed("federated");
    auth.register_app(AppRegistration::with_certificate(
        "11111111-0000-4000-8000-000000000005",
        cert.cert_pem.clone(),
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let key = cert.key_pem.clone();
    let thumb = cert.sha1_thumbprint_hex.clone();
    let app = builder(
        &auth,
        "11111111-0000-4000-8000-000000000005",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::assertion_callback(move |ctx| {
        seen.fetch_add(1, Ordering::SeqCst);
        Ok(sign_rs256(
            &key,
            &thumb,
            &ctx.client_id,
            &ctx.token_endpoint,
        ))
    }))
    .build()
    .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let failing = builder(
        &auth,
        "11111111-0000-4000-8000-000000000005",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::assertion_callback(|_| {
        Err(Error::credential("the token file is missing"))
    }))
    .build()
    .unwrap();
    let err = failing
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("token file is missing"));
}

/// An RS256 client assertion made independently of the library (what a sidecar would do).
pub(crate) fn sign_rs256(key_pem: &[u8], sha1_hex: &str, client_id: &str, aud: &str) -> String {
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let sha1: Vec<u8> = (0..sha1_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&sha1_hex[i..i + 2], 16).unwrap())
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE.encode(sha1)});
    let claims = serde_json::json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 600});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = openssl::pkey::PKey::private_key_from_pem(key_pem).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    let sig = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn unknown_authority_fails_instance_discovery() {
    let auth = authority().await;
    let app = msal_runtime::ConfidentialClientApplication::builder(CLIENT_ID)
        .authority("https://login.evil.example/contoso.onmicrosoft.com")
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .unwrap();
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert!(matches!(err, Error::AuthorityValidation { .. }), "{err:?}");
    assert!(err.to_string().contains("validate_authority(false)"));
    // Only the discovery service was asked; nothing was sent to the unknown host.
    assert!(auth
        .requests()
        .iter()
        .all(|r| r.path.contains("discovery/instance")));
}

#[tokio::test]
async fn system_trust_store_rejects_the_test_ca_and_a_bundle_accepts_it() {
    let auth = authority().await;
    let untrusting = msal_runtime::ConfidentialClientApplication::builder(CLIENT_ID)
        .authority(auth.authority(auth.tenant_id()))
        .instance_discovery(false)
        .client_credential(ClientCredential::secret(SECRET))
        .build()
        .unwrap();
    let err = untrusting
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Discovery { .. } | Error::Http { .. }),
        "{err:?}"
    );
    secret_app(&auth)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap();

    let missing = msal_runtime::ConfidentialClientApplication::builder(CLIENT_ID)
        .client_credential(ClientCredential::secret(SECRET))
        .verify(Verify::CaBundle("/nonexistent/ca.pem".into()))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            missing,
            Error::InvalidConfig {
                field: "verify",
                ..
            }
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn named_region_goes_regional_without_asking_imds() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::named("eastus").unwrap())
        .http_client(client_resolving(&auth, &["localhost", "eastus.localhost"]))
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let post = &auth.token_requests()[0];
    assert!(post.host.starts_with("eastus.localhost"), "{}", post.host);
    assert!(
        auth.requests()
            .iter()
            .all(|r| !r.path.starts_with("/metadata")),
        "no IMDS probe"
    );
    // Cached under the global environment.
    assert_eq!(
        app.token_cache().access_tokens()[0].environment,
        "localhost"
    );
    // The assertion audience would be the global endpoint: checked in the certificate test.
}

#[tokio::test]
async fn discovered_region_comes_from_imds() {
    let auth = authority().await;
    auth.set_imds_region(Some("westus2"));
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::Discover)
        .http_client(client_resolving(&auth, &["localhost", "westus2.localhost"]))
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let imds = auth
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/metadata"))
        .expect("IMDS asked");
    assert_eq!(imds.header("metadata"), Some("true"));
    assert_eq!(imds.query_value("api-version"), Some("2021-02-01"));
    assert!(auth.token_requests()[0]
        .host
        .starts_with("westus2.localhost"));
}

#[tokio::test]
async fn imds_timing_out_falls_back_to_global_quickly() {
    let auth = authority().await;
    auth.set_imds_region(Some("westus2"));
    auth.set_imds_delay(Duration::from_secs(30));
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::Discover)
        .imds_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    // A functional bound (the IMDS answer would take 30 s), not a performance measurement.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(auth.token_requests()[0].host.starts_with("localhost"));
}

#[tokio::test]
async fn unreachable_regional_endpoint_falls_back_to_global() {
    let auth = authority().await;
    // eastus.localhost resolves to a loopback address nobody listens on (reqwest keeps
    // the URL's port, so the address is what makes it unreachable).
    let url = url::Url::parse(&auth.base_url()).unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(auth.ca_pem()).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], url.port().unwrap())),
        )
        .resolve(
            "eastus.localhost",
            std::net::SocketAddr::from(([127, 0, 0, 2], url.port().unwrap())),
        )
        .build()
        .unwrap();
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::named("eastus").unwrap())
        .http_client(client)
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let hosts: Vec<String> = auth
        .token_requests()
        .iter()
        .map(|r| r.host.clone())
        .collect();
    assert!(
        hosts.len() == 1 && hosts[0].starts_with("localhost"),
        "{hosts:?}"
    );
}

#[tokio::test]
async fn client_capabilities_and_claims_challenge() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .client_capabilities(["cp1"])
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        auth.token_requests()[0].form_value("claims"),
        Some(r#"{"access_token": {"xms_cc": {"values": ["cp1"]}}}"#)
    );
    // A claims challenge bypasses the cache (refresh reason 1).
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let t = app
        .acquire_token_for_client_with(
            &[GRAPH],
            ForClientOptions::default().claims_challenge(challenge),
        )
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let second = &auth.token_requests()[1];
    assert_eq!(
        second.header("x-client-current-telemetry"),
        Some("4|730,1|")
    );
    assert!(second.form_value("claims").unwrap().contains("\"nbf\""));
    assert!(second.form_value("claims").unwrap().contains("xms_cc"));
}

#[tokio::test]
async fn expires_in_as_a_string_is_accepted() {
    let auth = authority().await;
    let mut reg = AppRegistration::with_secret("11111111-0000-4000-8000-000000000006", SECRET);
    reg.expires_in_as_string = true;
    auth.register_app(reg);
    let app = builder(
        &auth,
        "11111111-0000-4000-8000-000000000006",
        auth.tenant_id(),
    )
    .client_credential(ClientCredential::secret(SECRET))
    .build()
    .unwrap();
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(t.expires_in() > 3000);
}

fn fault(status: u16, body: &str, headers: Vec<(String, String)>, times: usize) -> Fault {
    Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times,
        kind: FaultKind::Status {
            status,
            body: body.into(),
            headers,
        },
    }
}

#[tokio::test]
async fn malformed_token_responses_are_typed_errors() {
    for (body, needle) in [
        (
            r#"{"token_type":"Bearer","expires_in":3600}"#,
            "access_token",
        ),
        (
            r#"{"access_token":"abc","token_type":"Bearer"}"#,
            "expires_in",
        ),
        (
            r#"{"access_token":"abc","expires_in":"soon"}"#,
            "expires_in",
        ),
        ("<html><body>proxy error</body></html>", "not a JSON object"),
        ("", "empty"),
    ] {
        let auth = authority().await;
        auth.push_fault(fault(200, body, vec![], 1));
        let err = secret_app(&auth)
            .acquire_token_for_client(&[GRAPH])
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { .. }),
            "{body}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{body}: {err}");
    }
}

#[tokio::test]
async fn a_5xx_is_retried_once() {
    let auth = authority().await;
    auth.push_fault(fault(
        503,
        r#"{"error":"temporarily_unavailable"}"#,
        vec![],
        1,
    ));
    let t = secret_app(&auth)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let posts = auth.token_requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[0].header("client-request-id"),
        posts[1].header("client-request-id")
    );

    let auth = authority().await;
    auth.push_fault(fault(500, "<html>down</html>", vec![], 2));
    let err = secret_app(&auth)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Http {
                status: Some(500),
                kind: HttpErrorKind::Status,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(auth.token_requests().len(), 2, "bounded: one retry");
}

#[tokio::test]
async fn a_dropped_connection_is_retried_once() {
    let auth = authority().await;
    auth.push_fault(Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 1,
        kind: FaultKind::DropConnection,
    });
    secret_app(&auth)
        .acquire_token_for_client(&[GRAPH])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_429_is_remembered_until_retry_after() {
    let auth = authority().await;
    let body = r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: throttled","error_codes":[50196]}"#;
    auth.push_fault(fault(
        429,
        body,
        vec![("Retry-After".into(), "30".into())],
        1,
    ));
    let app = secret_app(&auth);
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    let s = err.server().expect("the server's refusal");
    assert_eq!(s.status, 429);
    assert_eq!(s.retry_after, Some(30));
    assert!(err.is_retryable());
    // The same request is answered from memory, without troubling the authority.
    let again = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert_eq!(again.server().unwrap().error, "temporarily_unavailable");
    assert_eq!(auth.token_requests().len(), 1);
}

#[tokio::test]
async fn a_slow_authority_times_out() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // Discovery first (fast), then the token endpoint stalls twice (the retry too).
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    app.remove_tokens_for_client().await.unwrap();
    auth.push_fault(Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 2,
        kind: FaultKind::Delay(Duration::from_secs(5)),
    });
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Http {
                kind: HttpErrorKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_builder_values_are_clear_errors() {
    use msal_runtime::ConfidentialClientApplication as App;
    let secret = || ClientCredential::secret(SECRET);
    let cases: Vec<(Error, &str)> = vec![
        (
            App::builder(CLIENT_ID)
                .authority("http://login.microsoftonline.com/t")
                .client_credential(secret())
                .build()
                .unwrap_err(),
            "https",
        ),
        (
            App::builder(CLIENT_ID)
                .authority("https://login.microsoftonline.com")
                .client_credential(secret())
                .build()
                .unwrap_err(),
            "tenant",
        ),
        (
            App::builder(CLIENT_ID)
                .authority("::not a url")
                .client_credential(secret())
                .build()
                .unwrap_err(),
            "not a URL",
        ),
        (
            App::builder(CLIENT_ID)
                .authority("https://login.microsoftonline.com/t")
                .build()
                .unwrap_err(),
            "client_credential",
        ),
        (
            App::builder("")
                .client_credential(secret())
                .build()
                .unwrap_err(),
            "client_id",
        ),
        (
            App::builder(CLIENT_ID)
                .client_credential(ClientCredential::secret(""))
                .build()
                .unwrap_err(),
            "empty",
        ),
        (
            App::builder(CLIENT_ID)
                .authority("https://a.b/t")
                .oidc_authority("https://a.b/t")
                .client_credential(secret())
                .build()
                .unwrap_err(),
            "not both",
        ),
        (
            App::builder(CLIENT_ID)
                .client_credential(secret())
                .exclude_scopes(["openid"])
                .build()
                .unwrap_err(),
            "openid",
        ),
        (
            App::builder(CLIENT_ID)
                .client_credential(secret())
                .timeout(Duration::ZERO)
                .build()
                .unwrap_err(),
            "timeout",
        ),
        (
            App::builder(CLIENT_ID)
                .client_credential(secret())
                .proxies("not a url")
                .build()
                .unwrap_err(),
            "proxies",
        ),
    ];
    for (err, needle) in cases {
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
    assert!(Region::named("East US").is_err());
}

#[tokio::test]
async fn unknown_host_without_validation_is_a_typed_network_error() {
    let app = msal_runtime::ConfidentialClientApplication::builder(CLIENT_ID)
        .authority("https://no-such-host.invalid/contoso.onmicrosoft.com")
        .validate_authority(false)
        .client_credential(ClientCredential::secret(SECRET))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert!(
        matches!(err, Error::Discovery { status: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let dump = format!(
        "{app:?} {t:?} {:?} {:?}",
        app.token_cache(),
        app.token_cache().access_tokens()
    );
    assert!(!dump.contains(SECRET));
    assert!(!dump.contains(t.access_token.secret()));
}

#[tokio::test]
async fn invalid_scopes_are_rejected_before_any_request() {
    let auth = authority().await;
    let app = secret_app(&auth);
    let none: [&str; 0] = [];
    assert!(matches!(
        app.acquire_token_for_client(&none).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        app.acquire_token_for_client(&["a b"]).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(auth.token_requests().is_empty());
}

#[tokio::test]
async fn a_400_is_replayed_to_an_identical_request_for_a_minute() {
    let auth = authority().await;
    let body = r#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for scope is not valid.","error_codes":[70011]}"#;
    auth.push_fault(fault(400, body, vec![], 1));
    let app = secret_app(&auth);
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert_eq!(auth.token_requests().len(), 1);

    // The same request again: answered from memory, with the same server error.
    let again = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    assert_eq!(auth.token_requests().len(), 1, "no second request");
    for err in [&first, &again] {
        let Error::Server(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!((e.status, e.error.as_str()), (400, "invalid_scope"));
        assert_eq!(e.error_codes, [70011]);
    }

    // Another request (another scope) goes out and succeeds.
    let storage = "https://storage.azure.com/.default";
    let t = app.acquire_token_for_client(&[storage]).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(auth.token_requests().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Regions: the environment (through an injected look-up, so no test touches the process
// environment), precedence, the assertion audience. IMDS is always the test authority.
// ---------------------------------------------------------------------------------------

fn no_imds_asked(auth: &msal_testkit::TestAuthority) -> bool {
    auth.requests()
        .iter()
        .all(|r| !r.path.starts_with("/metadata"))
}

#[tokio::test]
async fn msal_force_region_applies_when_the_app_made_no_choice() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .env(EnvLookup::from_pairs([("MSAL_FORCE_REGION", "eastus")]))
        .http_client(client_resolving(&auth, &["localhost", "eastus.localhost"]))
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let post = &auth.token_requests()[0];
    assert!(post.host.starts_with("eastus.localhost"), "{}", post.host);
    assert!(no_imds_asked(&auth));
    assert_eq!(
        app.token_cache().access_tokens()[0].environment,
        "localhost",
        "cached under the global environment"
    );

    // Unset or empty: the global endpoint.
    for env in [
        EnvLookup::from_pairs(Vec::<(String, String)>::new()),
        EnvLookup::from_pairs([("MSAL_FORCE_REGION", "")]),
    ] {
        let auth = authority().await;
        let app = builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .env(env)
            .build()
            .unwrap();
        app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        assert!(auth.token_requests()[0].host.starts_with("localhost"));
        assert!(no_imds_asked(&auth));
    }
}

#[tokio::test]
async fn an_invalid_msal_force_region_is_refused_when_the_app_is_built() {
    let auth = authority().await;
    for bad in ["East US", "eastus.", "-eastus", "EASTUS"] {
        let err = builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .env(EnvLookup::from_pairs([("MSAL_FORCE_REGION", bad)]))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
        assert!(msg.contains("MSAL_FORCE_REGION"), "{msg}");
    }
    // Only consulted when the app made no choice: an explicit choice is not affected.
    for region in [Region::Disabled, Region::named("westus2").unwrap()] {
        assert!(builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .azure_region(region)
            .env(EnvLookup::from_pairs([("MSAL_FORCE_REGION", "East US")]))
            .build()
            .is_ok());
    }
    assert!(auth.requests().is_empty(), "no network I/O");
}

#[tokio::test]
async fn region_disabled_ignores_msal_force_region() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::Disabled)
        .env(EnvLookup::from_pairs([
            ("MSAL_FORCE_REGION", "eastus"),
            ("REGION_NAME", "eastus"),
        ]))
        .http_client(client_resolving(&auth, &["localhost", "eastus.localhost"]))
        .build()
        .unwrap();
    auth.set_imds_region(Some("eastus"));
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.token_requests()[0].host.starts_with("localhost"));
    assert!(no_imds_asked(&auth));
}

#[tokio::test]
async fn region_name_comes_before_imds_and_an_invalid_one_is_skipped() {
    let auth = authority().await;
    auth.set_imds_region(Some("westus2"));
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::Discover)
        .env(EnvLookup::from_pairs([("REGION_NAME", "westus3")]))
        .http_client(client_resolving(
            &auth,
            &["localhost", "westus2.localhost", "westus3.localhost"],
        ))
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.token_requests()[0]
        .host
        .starts_with("westus3.localhost"));
    assert!(no_imds_asked(&auth), "REGION_NAME answered first");

    let auth = authority().await;
    auth.set_imds_region(Some("westus2"));
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .azure_region(Region::Discover)
        .env(EnvLookup::from_pairs([("REGION_NAME", "West US 3")]))
        .http_client(client_resolving(
            &auth,
            &["localhost", "westus2.localhost", "westus3.localhost"],
        ))
        .build()
        .unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.token_requests()[0]
        .host
        .starts_with("westus2.localhost"));
    assert!(
        !no_imds_asked(&auth),
        "IMDS asked after an invalid REGION_NAME"
    );
}

#[tokio::test]
async fn an_assertion_sent_to_a_regional_endpoint_keeps_the_global_audience() {
    let auth = authority().await;
    let cert = certs::self_signed("regional-daemon");
    let id = "11111111-0000-4000-8000-0000000000e5";
    auth.register_app(AppRegistration::with_certificate(id, cert.cert_pem.clone()));
    let app = builder(&auth, id, auth.tenant_id())
        .client_credential(ClientCredential::certificate(
            Certificate::from_pem(&cert.key_pem, &cert.cert_pem, None).unwrap(),
        ))
        .azure_region(Region::named("eastus").unwrap())
        .http_client(client_resolving(&auth, &["localhost", "eastus.localhost"]))
        .build()
        .unwrap();
    let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(auth.verify_access_token(t.access_token.secret()).is_ok());
    let post = &auth.token_requests()[0];
    assert!(post.host.starts_with("eastus.localhost"), "{}", post.host);
    let (_, c) = jwt_parts(&assertion_of(&auth));
    assert_eq!(
        c["aud"],
        format!("{}/{}/oauth2/v2.0/token", auth.base_url(), auth.tenant_id()),
        "the global token endpoint"
    );
}

// ---------------------------------------------------------------------------------------
// Proactive refresh (a token past `refresh_on`): a refresh that works replaces it; one
// that fails (5xx, transport error) leaves the caller with the still-valid cached token.
// ---------------------------------------------------------------------------------------

/// Waits (up to 15 s) until the app's cache holds an access token other than `old`.
async fn cached_token_changes_from(app: &msal_runtime::ConfidentialClientApplication, old: &str) {
    let start = Instant::now();
    while app
        .token_cache()
        .access_tokens()
        .iter()
        .all(|e| e.secret == old)
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the background refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn past_refresh_on_the_cached_token_is_served_while_one_background_refresh_runs() {
    let auth = authority().await;
    // Tokens valid for an hour that the server wants refreshed right away.
    auth.set_refresh_in(Some(0));
    let app = secret_app(&auth);
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    assert!(first.refresh_on.is_some());

    // The authority is slow now; its next token needs no early refresh.
    auth.set_refresh_in(None);
    auth.push_fault(Fault::once(
        "/oauth2/v2.0/token",
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let started = Instant::now();
    let second = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let third = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let waited = started.elapsed();
    for t in [&second, &third] {
        assert_eq!(t.token_source, TokenSource::Cache);
        assert_eq!(t.access_token.secret(), first.access_token.secret());
    }
    assert!(
        waited < Duration::from_secs(2),
        "callers past refresh_on wait for nobody ({waited:?}; the authority takes 3 s)"
    );

    cached_token_changes_from(&app, first.access_token.secret()).await;
    let fourth = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(fourth.token_source, TokenSource::Cache);
    assert_ne!(fourth.access_token.secret(), first.access_token.secret());
    assert_eq!(fourth.refresh_on, None);
    // One refresh for both aging callers, sent with the proactive-refresh reason.
    let posts = auth.token_requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].header("x-client-current-telemetry"),
        Some("4|730,4|")
    );
    assert_eq!(app.token_cache().access_tokens().len(), 1);
}

#[tokio::test]
async fn a_failed_background_refresh_keeps_the_cached_token() {
    let auth = authority().await;
    auth.set_refresh_in(Some(0));
    let app = secret_app(&auth);
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();

    // Transport errors (the request and its one retry): the cached token all along.
    auth.push_fault(Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 2,
        kind: FaultKind::DropConnection,
    });
    let second = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(second.token_source, TokenSource::Cache);
    assert_eq!(second.access_token.secret(), first.access_token.secret());
    let start = Instant::now();
    while auth.token_requests().len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(15), "no refresh sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cached = app.token_cache().access_tokens();
    assert_eq!(cached.len(), 1);
    assert_eq!(cached[0].secret, first.access_token.secret());
    let third = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(third.token_source, TokenSource::Cache);
    assert_eq!(third.access_token.secret(), first.access_token.secret());
}

#[tokio::test]
async fn the_timeout_bounds_the_whole_call_retries_included() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    // Discovery first, then the token endpoint answers after 5 s (the retry too).
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    app.remove_tokens_for_client().await.unwrap();
    auth.push_fault(Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 2,
        kind: FaultKind::Delay(Duration::from_secs(5)),
    });
    let started = Instant::now();
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took <= Duration::from_millis(3500),
        "a 3 s timeout took {took:?}"
    );
}

#[tokio::test]
async fn the_timeout_covers_discovery_and_the_token_request_together() {
    let auth = authority().await;
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    // Each exchange fits in 3 s; both together do not.
    auth.push_fault(Fault::once(
        "openid-configuration",
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    auth.push_fault(Fault::once(
        "/oauth2/v2.0/token",
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let started = Instant::now();
    let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took <= Duration::from_millis(3500),
        "a 3 s timeout took {took:?}"
    );
}

#[tokio::test]
async fn gateway_errors_without_an_oauth_body_are_throttled() {
    for (status, body, headers, wait) in [
        (502, "<html><body>Bad Gateway</body></html>", vec![], None),
        (503, "", vec![], None),
        (
            429,
            "<html>slow down</html>",
            vec![("Retry-After".to_string(), "30".to_string())],
            Some(30),
        ),
    ] {
        let auth = authority().await;
        let app = secret_app(&auth);
        app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        app.remove_tokens_for_client().await.unwrap();
        auth.clear_requests();
        auth.push_fault(fault(status, body, headers, 2));
        let err = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
        assert!(
            matches!(err, Error::Http { status: Some(s), kind: HttpErrorKind::Status, .. } if s == status),
            "{status}: {err:?}"
        );
        let sent = auth.token_requests().len();
        assert!(sent >= 1, "{status}");
        // During the outage the same request is answered from memory: no POST at all.
        let again = app.acquire_token_for_client(&[GRAPH]).await.unwrap_err();
        assert!(
            matches!(again, Error::Http { status: Some(s), .. } if s == status),
            "{status}: {again:?}"
        );
        assert!(again.is_retryable());
        assert_eq!(auth.token_requests().len(), sent, "{status}: replayed");
        if wait.is_none() {
            // MSAL's 5 s for confidential clients, then the authority is asked again.
            tokio::time::sleep(Duration::from_millis(5200)).await;
            app.acquire_token_for_client(&[GRAPH]).await.unwrap();
            assert_eq!(auth.token_requests().len(), sent + 1, "{status}");
        }
    }
}

#[tokio::test]
async fn hostile_lifetimes_are_clamped_to_a_year_not_a_panic() {
    const YEAR: u64 = 365 * 24 * 3600;
    for field in ["expires_in", "ext_expires_in", "refresh_in"] {
        for raw in [
            "18446744073709551615",
            "1e300",
            "\"18446744073709551615\"",
            "\"1e300\"",
            "3599.5",
            "\"3599.5\"",
            "-1",
            "\"-1\"",
        ] {
            let auth = authority().await;
            let base = if field == "expires_in" {
                String::new()
            } else {
                r#","expires_in":3600"#.to_string()
            };
            let body = format!(
                r#"{{"access_token":"opaque","token_type":"Bearer"{base},"{field}":{raw}}}"#
            );
            auth.push_fault(fault(200, &body, vec![], 1));
            let app = secret_app(&auth);
            let got = app.acquire_token_for_client(&[GRAPH]).await;
            if raw.contains('-') {
                let err = got.unwrap_err();
                assert!(
                    matches!(err, Error::InvalidResponse { .. }),
                    "{field}={raw}: {err:?}"
                );
                assert!(err.to_string().contains(field), "{field}={raw}: {err}");
                continue;
            }
            let t = got.unwrap_or_else(|e| panic!("{field}={raw}: {e}"));
            let e = &app.token_cache().access_tokens()[0];
            let life = |at: u64| at - e.cached_at;
            let huge = !raw.contains("3599");
            let want = if huge { YEAR } else { 3599 };
            match field {
                "expires_in" => {
                    assert_eq!(life(e.expires_on), want, "{raw}");
                    assert!(t.expires_in() <= YEAR);
                }
                "ext_expires_in" => {
                    assert_eq!(life(e.extended_expires_on.unwrap()), want, "{raw}")
                }
                _ => assert_eq!(life(e.refresh_on.unwrap()), want, "{raw}"),
            }
        }
    }
}

#[tokio::test]
async fn has_state_changed_follows_writes_serialize_and_deserialize() {
    let auth = authority().await;
    let cache = TokenCache::new();
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    assert!(!cache.has_state_changed());
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert!(cache.has_state_changed(), "a token was written");
    let saved = cache.serialize();
    assert!(!cache.has_state_changed(), "serialize resets it");
    let hit = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert!(!cache.has_state_changed(), "a cache hit writes nothing");
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    assert!(cache.has_state_changed());
    cache.deserialize(&saved).unwrap();
    assert!(!cache.has_state_changed(), "deserialize resets it");
    assert_eq!(cache.access_tokens().len(), 1);
    assert_eq!(app.remove_tokens_for_client().await.unwrap(), 1);
    assert!(cache.has_state_changed(), "a removal is a change");
    assert!(cache.deserialize("{not json").is_err());
    assert!(
        cache.has_state_changed(),
        "a refused deserialize changes nothing"
    );
}
