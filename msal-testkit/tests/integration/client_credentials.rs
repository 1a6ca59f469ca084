//! Discovery, client credentials with secrets and assertions, faults, IMDS, recording.

use crate::common;

use std::time::Duration;

use common::*;
use msal_testkit::{certs, AppRegistration, Fault, FaultKind, TestAuthority};
use serde_json::{json, Value};

async fn with_secret_app() -> (TestAuthority, reqwest::Client) {
    let authority = TestAuthority::builder()
        .app(AppRegistration::with_secret(CLIENT_ID, SECRET))
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    (authority, client)
}

fn token_url(authority: &TestAuthority) -> String {
    format!(
        "{}/oauth2/v2.0/token",
        authority.authority(authority.tenant_id())
    )
}

#[tokio::test]
async fn discovery_document_by_guid_domain_and_common() {
    let (authority, client) = with_secret_app().await;
    let base = authority.base_url();
    let tid = authority.tenant_id().to_string();

    for tenant in [tid.as_str(), authority.tenant_domain()] {
        let url = format!("{base}/{tenant}/v2.0/.well-known/openid-configuration");
        let doc: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(doc["issuer"], format!("{base}/{tid}/v2.0"));
        assert_eq!(
            doc["token_endpoint"],
            format!("{base}/{tid}/oauth2/v2.0/token")
        );
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{base}/{tid}/oauth2/v2.0/authorize")
        );
        assert_eq!(doc["jwks_uri"], format!("{base}/{tid}/discovery/v2.0/keys"));
        assert!(doc["device_authorization_endpoint"].is_string());
    }

    let doc: Value = client
        .get(format!(
            "{base}/common/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/common/oauth2/v2.0/token")
    );
    assert_eq!(doc["issuer"], format!("{base}/{{tenantid}}/v2.0"));

    let resp = client
        .get(format!(
            "{base}/nope.example/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(error_code(&body), 90002);

    let jwks: Value = client
        .get(format!("{base}/{tid}/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert!(key["n"].is_string() && key["e"].is_string() && key["kid"].is_string());
}

#[tokio::test]
async fn adfs_and_b2c_metadata() {
    let (authority, client) = with_secret_app().await;
    let base = authority.base_url();
    let doc: Value = client
        .get(format!("{base}/adfs/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["token_endpoint"], format!("{base}/adfs/oauth2/token"));
    assert_eq!(doc["issuer"], format!("{base}/adfs"));

    let doc: Value = client
        .get(format!(
            "{base}/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/contoso.onmicrosoft.com/b2c_1_signin/oauth2/v2.0/token")
    );

    // The ADFS token endpoint works with the same registrations.
    let (status, body) = post_form(
        &client,
        &format!("{base}/adfs/oauth2/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["iss"], format!("{base}/adfs"));
}

#[tokio::test]
async fn client_secret_success_and_failures() {
    let (authority, client) = with_secret_app().await;
    let url = token_url(&authority);
    let resp = client
        .post(&url)
        .header("client-request-id", "11111111-2222-4333-8444-555555555555")
        .form(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_info", "1"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["ext_expires_in"], 3600);
    assert!(body.get("refresh_in").is_none());
    assert!(body.get("refresh_token").is_none());
    let claims = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["tid"], authority.tenant_id());
    assert_eq!(claims["appid"], CLIENT_ID);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], json!([]));
    assert_eq!(
        claims["iss"],
        format!("{}/{}/v2.0", authority.base_url(), authority.tenant_id())
    );
    assert!(claims["uti"].is_string());
    assert_eq!(claims["oid"], claims["sub"]);

    // Wrong secret: 401 invalid_client, correlation id echoed.
    let resp = client
        .post(&url)
        .header("client-request-id", "corr-123")
        .form(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", "wrong"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(error_code(&body), 7000215);
    assert_eq!(body["correlation_id"], "corr-123");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with("AADSTS7000215: "), "{desc}");
    assert!(desc.contains("Correlation ID: corr-123"));
    for field in ["timestamp", "trace_id", "error_uri"] {
        assert!(body[field].is_string(), "{field}");
    }

    // Unknown client.
    let (status, body) = post_form(
        &client,
        &url,
        &[
            ("client_id", "00000000-0000-0000-0000-000000000000"),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert_eq!(error_code(&body), 700016);

    // Scope without /.default, and two scopes.
    for (scope, code) in [
        ("https://graph.microsoft.com/User.Read", 1002012),
        (
            "https://graph.microsoft.com/.default https://x/.default",
            70011,
        ),
    ] {
        let (status, body) = post_form(
            &client,
            &url,
            &[
                ("client_id", CLIENT_ID),
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET),
                ("scope", scope),
            ],
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope"))
        );
        assert_eq!(error_code(&body), code);
    }

    // No credential at all.
    let (status, body) = post_form(
        &client,
        &url,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Unknown tenant on the token endpoint.
    let (status, body) = post_form(
        &client,
        &format!("{}/unknown.example/oauth2/v2.0/token", authority.base_url()),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), 90002);
}

#[tokio::test]
async fn token_lifetime_refresh_in_and_string_expiry() {
    let mut app = AppRegistration::with_secret(CLIENT_ID, SECRET);
    app.expires_in_as_string = true;
    let authority = TestAuthority::builder()
        .app(app)
        .token_lifetime(120)
        .refresh_in(Some(60))
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    let form = [
        ("client_id", CLIENT_ID),
        ("grant_type", "client_credentials"),
        ("client_secret", SECRET),
        ("scope", "api://orders/.default"),
    ];
    let (status, body) = post_form(&client, &token_url(&authority), &form).await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], "120");
    assert_eq!(body["refresh_in"], "60");
    let claims = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["aud"], "api://orders");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        120
    );

    authority.set_token_lifetime(7);
    let (_, body) = post_form(&client, &token_url(&authority), &form).await;
    assert_eq!(body["expires_in"], "7");
}

#[tokio::test]
async fn certificate_assertions_are_really_verified() {
    let cert = certs::self_signed("daemon");
    let authority = TestAuthority::builder()
        .app(AppRegistration::with_certificate(
            CLIENT_ID,
            cert.cert_pem.clone(),
        ))
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    let url = token_url(&authority);
    let send = |assertion: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            post_form(
                &client,
                &url,
                &[
                    ("client_id", CLIENT_ID),
                    ("grant_type", "client_credentials"),
                    ("client_assertion", &assertion),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("scope", GRAPH_DEFAULT),
                ],
            )
            .await
        }
    };

    // RS256 + padded x5t (MSAL Python's thumbprint form), float times.
    let (status, body) = send(assertion(&cert, KeyRef::X5t, &standard_claims(&url))).await;
    assert_eq!(status, 200, "{body}");
    // PS256 + unpadded x5t#S256, integer times as strings (MSAL.NET style) and an nbf.
    let mut claims = standard_claims(&url);
    claims["exp"] = json!((now() + 600).to_string());
    claims["nbf"] = json!(now().to_string());
    let (status, body) = send(assertion(&cert, KeyRef::X5tS256, &claims)).await;
    assert_eq!(status, 200, "{body}");
    // PS256 + x5c (leaf equals the registered certificate).
    let (status, body) = send(assertion(
        &cert,
        KeyRef::X5c(vec![cert.cert_pem.clone()]),
        &standard_claims(&url),
    ))
    .await;
    assert_eq!(status, 200, "{body}");

    // The domain form of the token endpoint is an accepted audience too.
    let domain_aud = format!(
        "{}/oauth2/v2.0/token",
        authority.authority(authority.tenant_domain())
    );
    let (status, _) = send(assertion(&cert, KeyRef::X5t, &standard_claims(&domain_aud))).await;
    assert_eq!(status, 200);

    // Tampered signature.
    let jwt = assertion(&cert, KeyRef::X5t, &standard_claims(&url));
    let mid = jwt.rfind('.').unwrap() + 20;
    let flipped = if &jwt[mid..=mid] == "A" { "B" } else { "A" };
    let jwt = format!("{}{flipped}{}", &jwt[..mid], &jwt[mid + 1..]);
    let (status, body) = send(jwt).await;
    assert_eq!((status, error_code(&body)), (401, 700027), "{body}");

    // Signed by a key whose certificate is not registered.
    let stranger = certs::self_signed("stranger");
    let (status, body) = send(assertion(&stranger, KeyRef::X5t, &standard_claims(&url))).await;
    assert_eq!((status, error_code(&body)), (401, 700027), "{body}");
    assert_eq!(body["error"], "invalid_client");

    // Wrong audience (another tenant's endpoint; another host; the issuer URL).
    for aud in [
        format!("{}/other-tenant/oauth2/v2.0/token", authority.base_url()),
        url.replace("localhost", "127.0.0.1"),
        format!("{}/{}/v2.0", authority.base_url(), authority.tenant_id()),
    ] {
        let (status, body) = send(assertion(&cert, KeyRef::X5t, &standard_claims(&aud))).await;
        assert_eq!((status, error_code(&body)), (401, 700023), "{aud}: {body}");
    }

    // Expired, and not yet valid beyond the skew.
    let mut expired = standard_claims(&url);
    expired["exp"] = json!(now() - 10);
    let (status, body) = send(assertion(&cert, KeyRef::X5t, &expired)).await;
    assert_eq!((status, error_code(&body)), (401, 700024), "{body}");
    let mut future = standard_claims(&url);
    future["nbf"] = json!(now() + 3600);
    future["exp"] = json!(now() + 4000);
    let (status, body) = send(assertion(&cert, KeyRef::X5t, &future)).await;
    assert_eq!((status, error_code(&body)), (401, 700024), "{body}");

    // iss/sub not the client id; missing jti.
    let mut wrong_iss = standard_claims(&url);
    wrong_iss["iss"] = json!("someone-else");
    let (status, _) = send(assertion(&cert, KeyRef::X5t, &wrong_iss)).await;
    assert_eq!(status, 401);
    let mut no_jti = standard_claims(&url);
    no_jti.as_object_mut().unwrap().remove("jti");
    let (status, _) = send(assertion(&cert, KeyRef::X5t, &no_jti)).await;
    assert_eq!(status, 401);

    // alg none is refused.
    let none = format!(
        "{}.{}.",
        base64_url(&json!({"alg": "none"}).to_string()),
        base64_url(&standard_claims(&url).to_string())
    );
    let (status, _) = send(none).await;
    assert_eq!(status, 401);
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn subject_name_issuer_via_x5c() {
    let ca = certs::ca("Contoso Issuing CA");
    let leaf = certs::issued_by(&ca, "daemon.contoso.test");
    let mut app = AppRegistration {
        client_id: CLIENT_ID.into(),
        ..Default::default()
    };
    app.trusted_issuers
        .push(("daemon.contoso.test".into(), ca.cert_pem.clone()));
    let authority = TestAuthority::builder().app(app).start().await.unwrap();
    let client = authority.http_client();
    let url = token_url(&authority);
    let form = |a: &str| {
        vec![
            ("client_id".to_string(), CLIENT_ID.to_string()),
            ("grant_type".into(), "client_credentials".into()),
            ("client_assertion".into(), a.to_string()),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("scope".into(), GRAPH_DEFAULT.into()),
        ]
    };
    // Leaf + CA chain, PEM bodies with embedded newlines.
    let jwt = assertion(
        &leaf,
        KeyRef::X5c(vec![leaf.cert_pem.clone(), ca.cert_pem.clone()]),
        &standard_claims(&url),
    );
    let resp = client.post(&url).form(&form(&jwt)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Same CN but issued by another CA: refused.
    let rogue_ca = certs::ca("Rogue CA");
    let rogue = certs::issued_by(&rogue_ca, "daemon.contoso.test");
    let jwt = assertion(
        &rogue,
        KeyRef::X5c(vec![rogue.cert_pem.clone(), rogue_ca.cert_pem.clone()]),
        &standard_claims(&url),
    );
    let resp = client.post(&url).form(&form(&jwt)).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // Trusted CA but another subject: refused.
    let other = certs::issued_by(&ca, "other.contoso.test");
    let jwt = assertion(
        &other,
        KeyRef::X5c(vec![other.cert_pem.clone()]),
        &standard_claims(&url),
    );
    let resp = client.post(&url).form(&form(&jwt)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn regional_host_gets_regional_endpoints_and_global_audience() {
    let cert = certs::self_signed("daemon");
    let authority = TestAuthority::builder()
        .app(AppRegistration::with_certificate(
            CLIENT_ID,
            cert.cert_pem.clone(),
        ))
        .start()
        .await
        .unwrap();
    let client = authority.http_client();
    let tid = authority.tenant_id();
    let regional = authority.regional_base_url("eastus");
    let doc: Value = client
        .get(format!(
            "{regional}/{tid}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_endpoint = doc["token_endpoint"].as_str().unwrap();
    assert_eq!(
        token_endpoint,
        format!("{regional}/{tid}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["issuer"],
        format!("{}/{tid}/v2.0", authority.base_url())
    );

    let global_aud = token_url(&authority);
    let jwt = assertion(&cert, KeyRef::X5tS256, &standard_claims(&global_aud));
    let (status, body) = post_form(
        &client,
        token_endpoint,
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_assertion", &jwt),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = authority
        .verify_access_token(body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        claims["iss"],
        format!("{}/{tid}/v2.0", authority.base_url())
    );
    let recorded = authority.token_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].host, "eastus.localhost");
}

#[tokio::test]
async fn faults_status_delay_and_drop() {
    let (authority, client) = with_secret_app().await;
    let url = token_url(&authority);
    let form = [
        ("client_id", CLIENT_ID),
        ("grant_type", "client_credentials"),
        ("client_secret", SECRET),
        ("scope", GRAPH_DEFAULT),
    ];
    authority.push_fault(Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 2,
        kind: FaultKind::Status {
            status: 429,
            body: r#"{"error":"temporarily_unavailable"}"#.into(),
            headers: vec![("Retry-After".into(), "3".into())],
        },
    });
    for _ in 0..2 {
        let resp = client.post(&url).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
    }
    let resp = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // Drop: no HTTP response at all, and the next request works.
    authority.push_fault(Fault::once("/token", FaultKind::DropConnection));
    let err = client.post(&url).form(&form).send().await.unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let resp = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // Delay: a short client timeout trips; the request is still recorded.
    authority.push_fault(Fault::once(
        "/token",
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let err = client
        .post(&url)
        .form(&form)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // Faults only hit matching paths.
    authority.push_fault(Fault::status("/discovery/v2.0/keys", 500, "boom"));
    let resp = client.post(&url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client
        .get(format!(
            "{}/discovery/v2.0/keys",
            authority.authority(authority.tenant_id())
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(authority.token_requests().len(), 7);
}

#[tokio::test]
async fn imds_region_probe() {
    let authority = TestAuthority::start().await;
    let client = authority.http_client();
    let url = format!("{}?api-version=2021-02-01", authority.imds_url());

    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400, "Metadata header is required");

    let resp = client
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "default region is None");

    authority.set_imds_region(Some("westus2"));
    let body: Value = client
        .get(&url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["location"], "westus2");

    authority.set_imds_delay(Duration::from_secs(2));
    let err = client
        .get(&url)
        .header("Metadata", "true")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn instance_discovery() {
    let authority = TestAuthority::start().await;
    let client = authority.http_client();
    let port = authority.port();
    let tid = authority.tenant_id();
    let body: Value = client
        .get(authority.instance_discovery_url())
        .query(&[
            (
                "authorization_endpoint",
                format!("https://localhost:{port}/{tid}/oauth2/v2.0/authorize"),
            ),
            ("api-version", "1.0".into()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["tenant_discovery_endpoint"],
        format!("https://localhost:{port}/{tid}/v2.0/.well-known/openid-configuration")
    );
    // Every name of the server is an alias of one instance, the requested one first.
    assert_eq!(
        body["metadata"][0]["aliases"],
        json!(["localhost", "127.0.0.1"])
    );

    let resp = client
        .get(authority.instance_discovery_url())
        .query(&[
            (
                "authorization_endpoint",
                "https://login.example.com/common/oauth2/authorize",
            ),
            ("api-version", "1.1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_instance");
    assert_eq!(body["error_codes"], json!([50049]));
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50049: Unknown or invalid instance."));
}

#[tokio::test]
async fn requests_are_recorded_in_order() {
    let (authority, client) = with_secret_app().await;
    let url = token_url(&authority);
    client
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            authority.authority(authority.tenant_id())
        ))
        .send()
        .await
        .unwrap();
    client
        .post(&url)
        .header("x-client-sku", "MSAL.Python")
        .header("client-request-id", "abc")
        .form(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    let all = authority.requests();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].method, "GET");
    assert!(all[0]
        .path
        .ends_with("/v2.0/.well-known/openid-configuration"));
    assert_eq!(all[0].host, "localhost");
    let t = &authority.token_requests()[0];
    assert_eq!(t.header("X-Client-SKU"), Some("MSAL.Python"));
    assert!(t.headers.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));
    assert_eq!(t.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(t.form_value("scope"), Some(GRAPH_DEFAULT));
    assert_eq!(t.header("client-request-id"), Some("abc"));
    authority.clear_requests();
    assert!(authority.requests().is_empty());
}

#[tokio::test]
async fn plain_http_mode() {
    let authority = TestAuthority::builder()
        .https(false)
        .app(AppRegistration::with_secret(CLIENT_ID, SECRET))
        .start()
        .await
        .unwrap();
    assert!(authority.base_url().starts_with("http://127.0.0.1:"));
    assert!(authority.ca_pem().is_empty());
    let client = reqwest::Client::new();
    let (status, body) = post_form(
        &client,
        &token_url(&authority),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn ca_file_and_drop_stops_server() {
    let authority = TestAuthority::start().await;
    let path = authority.ca_path().to_path_buf();
    assert_eq!(std::fs::read(&path).unwrap(), authority.ca_pem());
    let url = authority.base_url();
    let client = authority.http_client();
    drop(authority);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!path.exists());
    assert!(client.get(&url).send().await.is_err());
}

#[tokio::test]
async fn unique_signing_key_isolates_authorities() {
    let shared_a = with_secret_app().await.0;
    let unique = TestAuthority::builder()
        .unique_signing_key(true)
        .app(AppRegistration::with_secret(CLIENT_ID, SECRET))
        .start()
        .await
        .unwrap();
    let client = unique.http_client();
    let (_, body) = post_form(
        &client,
        &token_url(&unique),
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    let token = body["access_token"].as_str().unwrap();
    assert!(unique.verify_access_token(token).is_ok());
    assert!(shared_a.verify_access_token(token).is_err());
}
