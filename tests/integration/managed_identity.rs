//! Managed identity and workload identity over real HTTP against msal-testkit on loopback:
//! every source, system- and user-assigned, the cache, refresh ahead of expiry, faults,
//! throttling, retries, the deadline, the default-IMDS guard, MSAL Python sharing the cache.
//!
//! Nothing here contacts 169.254.169.254: every client gets its IMDS host from the test
//! authority, and the guard test proves the default address is refused before any I/O.

use msal_runtime::{
    AzureEnvironment, EnvLookup, Error, ManagedIdentity, ManagedIdentityClient,
    ManagedIdentityErrorKind, ManagedIdentitySource, ManagedIdentityTokenOptions, RetryPolicy,
    TokenCache, TokenSource, Verify,
};
use msal_testkit::managed_identity::{
    APP_SERVICE_PATH, ARC_PATH, CLOUD_SHELL_PATH, IMDS_PATH, MACHINE_LEARNING_PATH,
    SERVICE_FABRIC_PATH, TOKEN_EXCHANGE_AUDIENCE,
};
use msal_testkit::{
    AppRegistration, Fault, FaultKind, FederatedCredential, ManagedIdentityRecord, RecordedRequest,
    TestAuthority,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../../examples/managed_identity.rs"]
#[allow(dead_code)]
mod example;

const VAULT: &str = "https://vault.azure.net";
const ARM: &str = "https://management.azure.com/";

async fn http_authority() -> TestAuthority {
    TestAuthority::builder()
        .https(false)
        .start()
        .await
        .expect("start the test authority")
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .backoff(Duration::from_millis(20))
        .imds_gone_window(Duration::from_millis(200))
}

fn env_of(pairs: &[(&str, String)]) -> EnvLookup {
    EnvLookup::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

fn client(identity: ManagedIdentity, env: EnvLookup) -> ManagedIdentityClient {
    ManagedIdentityClient::builder(identity)
        .env(env)
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(fast_retries())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the client builds")
}

fn imds_env(auth: &TestAuthority) -> EnvLookup {
    env_of(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", auth.imds_host())])
}

fn app_service_env(auth: &TestAuthority) -> EnvLookup {
    env_of(&[
        ("IDENTITY_ENDPOINT", auth.app_service_endpoint()),
        ("IDENTITY_HEADER", auth.managed_identity_secret()),
    ])
}

fn ml_env(auth: &TestAuthority) -> EnvLookup {
    env_of(&[
        ("MSI_ENDPOINT", auth.machine_learning_endpoint()),
        ("MSI_SECRET", auth.managed_identity_secret()),
    ])
}

fn arc_env(auth: &TestAuthority) -> EnvLookup {
    env_of(&[
        ("IDENTITY_ENDPOINT", auth.arc_endpoint()),
        ("IMDS_ENDPOINT", auth.imds_host()),
    ])
}

fn arc_client(auth: &TestAuthority, identity: ManagedIdentity) -> ManagedIdentityClient {
    ManagedIdentityClient::builder(identity)
        .env(arc_env(auth))
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .arc_key_directory(auth.arc_key_directory().unwrap())
        .retry_policy(fast_retries())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn sf_env(auth: &TestAuthority, thumbprint: &str) -> EnvLookup {
    env_of(&[
        ("IDENTITY_ENDPOINT", auth.service_fabric_endpoint()),
        ("IDENTITY_HEADER", auth.managed_identity_secret()),
        ("IDENTITY_SERVER_THUMBPRINT", thumbprint.to_string()),
    ])
}

fn mi_requests(auth: &TestAuthority) -> Vec<RecordedRequest> {
    auth.managed_identity_requests()
}

fn query_names(r: &RecordedRequest) -> Vec<&str> {
    r.query.iter().map(|(k, _)| k.as_str()).collect()
}

fn mi_error(e: &Error) -> &msal_runtime::ManagedIdentityError {
    match e {
        Error::ManagedIdentity(m) => m,
        other => panic!("expected a managed identity error, got {other:?}"),
    }
}

fn claims(auth: &TestAuthority, token: &str) -> serde_json::Value {
    auth.verify_access_token(token)
        .expect("a token signed by the authority")
}

fn sha256_hex(s: &str) -> String {
    openssl::hash::hash(openssl::hash::MessageDigest::sha256(), s.as_bytes())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sets `refresh_on` of every cached access token to the past (a token due for refresh).
fn age_cache(cache: &TokenCache) {
    let mut v: serde_json::Value = serde_json::from_str(&cache.serialize()).unwrap();
    let past = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 10)
        .to_string();
    for (_, e) in v["AccessToken"].as_object_mut().unwrap() {
        e["refresh_on"] = serde_json::json!(past);
    }
    cache.deserialize(&v.to_string()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// IMDS

#[tokio::test]
async fn imds_system_assigned_wire_cache_and_entry() {
    let auth = http_authority().await;
    let mi = client(ManagedIdentity::system_assigned(), imds_env(&auth));
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::DefaultToVm
    );

    let t = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(t.token_type, "Bearer");
    let c = claims(&auth, t.access_token.secret());
    assert_eq!(c["aud"], VAULT);
    assert_eq!(c["oid"], auth.system_assigned_identity().object_id.as_str());

    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", IMDS_PATH));
    assert_eq!(query_names(r), ["api-version", "resource"]);
    assert_eq!(r.query_value("api-version"), Some("2018-02-01"));
    assert_eq!(r.query_value("resource"), Some(VAULT));
    assert_eq!(r.header("metadata"), Some("true"));
    assert_eq!(r.header("x-client-sku"), Some("MSAL.Rust"));
    assert!(r.header("x-client-ver").is_some());
    let id1 = r.header("x-ms-client-request-id").unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id1).is_ok());
    assert!(r.header("x-forwarded-for").is_none());

    // Cache hit: no request.
    let again = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token.secret(), t.access_token.secret());
    assert_eq!(mi_requests(&auth).len(), 1);

    // Another resource: a new request with a fresh request id.
    mi.acquire_token_for_client(ARM).await.unwrap();
    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].query_value("resource"), Some(ARM));
    assert_ne!(reqs[1].header("x-ms-client-request-id").unwrap(), id1);

    // The entries MSAL Python writes.
    let json: serde_json::Value = serde_json::from_str(&mi.token_cache().serialize()).unwrap();
    let key = "-localhost-accesstoken-system_assigned_managed_identity-managed_identity-https://vault.azure.net";
    let e = &json["AccessToken"][key];
    assert_eq!(e["client_id"], "SYSTEM_ASSIGNED_MANAGED_IDENTITY");
    assert_eq!(e["environment"], "localhost");
    assert_eq!(e["realm"], "managed_identity");
    assert_eq!(e["target"], VAULT);
    assert!(e["home_account_id"].is_null());
    assert!(e["expires_on"].is_string() && e["cached_at"].is_string());
    assert!(json["AccessToken"]
        .as_object()
        .unwrap()
        .contains_key("-localhost-accesstoken-system_assigned_managed_identity-managed_identity-https://management.azure.com/"));
}

#[tokio::test]
async fn imds_user_assigned_by_client_object_and_resource_id() {
    let auth = http_authority().await;
    let uai = ManagedIdentityRecord::new("orders");
    auth.add_user_assigned_identity(uai.clone());
    let cache = TokenCache::new();
    for (identity, param, value) in [
        (
            ManagedIdentity::user_assigned_client_id(&uai.client_id),
            "client_id",
            &uai.client_id,
        ),
        (
            ManagedIdentity::user_assigned_object_id(&uai.object_id),
            "object_id",
            &uai.object_id,
        ),
        (
            ManagedIdentity::user_assigned_resource_id(&uai.resource_id),
            "msi_res_id",
            &uai.resource_id,
        ),
    ] {
        auth.clear_requests();
        let mi = ManagedIdentityClient::builder(identity)
            .env(imds_env(&auth))
            .token_cache(cache.clone())
            .arc_himds_path("/nonexistent/msal-tests/himds")
            .build()
            .unwrap();
        let t = mi.acquire_token_for_client(VAULT).await.unwrap();
        assert_eq!(t.token_source, TokenSource::IdentityProvider, "{param}");
        assert_eq!(
            claims(&auth, t.access_token.secret())["oid"],
            uai.object_id.as_str()
        );
        let r = &mi_requests(&auth)[0];
        assert_eq!(query_names(r), ["api-version", "resource", param]);
        assert_eq!(r.query_value(param), Some(value.as_str()));
        // cached under the id as given
        let hit = mi.acquire_token_for_client(VAULT).await.unwrap();
        assert_eq!(hit.token_source, TokenSource::Cache);
        assert_eq!(mi_requests(&auth).len(), 1);
    }
    let keys: Vec<String> = cache
        .access_tokens()
        .iter()
        .map(|e| e.client_id.clone())
        .collect();
    assert!(keys.contains(&uai.client_id) && keys.contains(&uai.object_id));
    assert!(keys.contains(&uai.resource_id));

    // An identity the VM does not have: the source's error, typed.
    let unknown = client(
        ManagedIdentity::user_assigned_client_id("00000000-0000-0000-0000-00000000dead"),
        imds_env(&auth),
    );
    let e = unknown.acquire_token_for_client(VAULT).await.unwrap_err();
    let m = mi_error(&e);
    assert_eq!(m.kind, ManagedIdentityErrorKind::Source);
    assert_eq!(m.status, Some(400));
    assert_eq!(m.error.as_deref(), Some("invalid_request"));
    assert!(m.body.as_deref().unwrap().contains("Identity not found"));
}

#[tokio::test]
async fn imds_endpoint_builder_option_wins_and_guard_refuses_default_address() {
    let auth = http_authority().await;
    // Builder option instead of the variable.
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(env_of(&[("MSAL_FORBID_DEFAULT_IMDS", "1".into())]))
        .imds_endpoint(auth.imds_host())
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .build()
        .unwrap();
    mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(mi_requests(&auth).len(), 1);

    // No IMDS host configured: the default address would be used; the guard refuses before
    // any I/O (a connection attempt to 169.254.169.254 would not return this error kind).
    let guarded = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(env_of(&[("MSAL_FORBID_DEFAULT_IMDS", "1".into())]))
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(RetryPolicy::none())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert_eq!(
        guarded.get_managed_identity_source(),
        ManagedIdentitySource::DefaultToVm
    );
    let e = guarded.acquire_token_for_client(VAULT).await.unwrap_err();
    let m = mi_error(&e);
    assert_eq!(m.kind, ManagedIdentityErrorKind::ForbiddenEndpoint);
    assert!(m.status.is_none());
    assert!(e.to_string().contains("169.254.169.254"));
    // The same through AZURE_POD_IDENTITY_AUTHORITY_HOST naming the address explicitly.
    let explicit = client(
        ManagedIdentity::system_assigned(),
        env_of(&[
            ("MSAL_FORBID_DEFAULT_IMDS", "1".into()),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                "http://169.254.169.254/".into(),
            ),
        ]),
    );
    let e = explicit.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(
        mi_error(&e).kind,
        ManagedIdentityErrorKind::ForbiddenEndpoint
    );
}

#[tokio::test]
async fn imds_faults_retries_throttle_and_deadline() {
    let auth = http_authority().await;

    // 503 twice, then success: retried with backoff.
    auth.push_fault(Fault::status(IMDS_PATH, 503, r#"{"error":"unknown"}"#).times(2));
    let mi = client(ManagedIdentity::system_assigned(), imds_env(&auth));
    let t = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    assert_eq!(mi_requests(&auth).len(), 3);

    // 404 and 410 are retried too.
    auth.clear_requests();
    auth.push_fault(Fault::status(IMDS_PATH, 404, "{}"));
    auth.push_fault(Fault::status(IMDS_PATH, 410, "{}"));
    mi.acquire_token_for_client(ARM).await.unwrap();
    assert_eq!(mi_requests(&auth).len(), 3);

    // 500 on every try: 1 + 3 retries, then the error is replayed for identical requests.
    auth.clear_requests();
    auth.push_fault(
        Fault::status(
            IMDS_PATH,
            500,
            r#"{"error":"unknown","error_description":"boom"}"#,
        )
        .times(4),
    );
    let e = mi
        .acquire_token_for_client("https://storage.azure.com")
        .await
        .unwrap_err();
    let m = mi_error(&e);
    assert_eq!(
        (m.kind, m.status),
        (ManagedIdentityErrorKind::Source, Some(500))
    );
    assert_eq!(m.error.as_deref(), Some("unknown"));
    assert!(m.body.as_deref().unwrap().contains("boom"));
    assert_eq!(mi_requests(&auth).len(), 4);
    let e = mi
        .acquire_token_for_client("https://storage.azure.com")
        .await
        .unwrap_err();
    let m = mi_error(&e);
    assert_eq!(
        (m.kind, m.status),
        (ManagedIdentityErrorKind::Throttled, Some(500))
    );
    assert_eq!(mi_requests(&auth).len(), 4, "a replay sends nothing");

    // 400 is neither retried nor replayed; the OAuth error passes through.
    auth.clear_requests();
    auth.push_fault(Fault::status(
        IMDS_PATH,
        400,
        r#"{"error":"invalid_resource","error_description":"AADSTS500011: no such resource"}"#,
    ));
    let e = mi
        .acquire_token_for_client("https://nope.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).error.as_deref(), Some("invalid_resource"));
    assert_eq!(mi_error(&e).message, "AADSTS500011: no such resource");
    mi.acquire_token_for_client("https://nope.example")
        .await
        .unwrap();
    assert_eq!(mi_requests(&auth).len(), 2);

    // Malformed 200, HTML, dropped connection: errors, never tokens.
    for (fault, kind) in [
        (
            Fault::status(IMDS_PATH, 200, "{not json"),
            Some(ManagedIdentityErrorKind::InvalidResponse),
        ),
        (
            Fault::status(IMDS_PATH, 200, "<html>hi</html>"),
            Some(ManagedIdentityErrorKind::InvalidResponse),
        ),
        (
            Fault::status(IMDS_PATH, 200, r#"{"foo":1}"#),
            Some(ManagedIdentityErrorKind::InvalidResponse),
        ),
        (Fault::once(IMDS_PATH, FaultKind::DropConnection), None),
    ] {
        auth.push_fault(fault);
        let e = mi
            .acquire_token_for_client("https://fault.example")
            .await
            .unwrap_err();
        match kind {
            Some(k) => assert_eq!(mi_error(&e).kind, k, "{e}"),
            None => assert!(matches!(e, Error::Http { .. }), "{e:?}"),
        }
    }

    // 410 ("IMDS is updating") is retried for its window even with no other retries left;
    // 404 then is not.
    let gone = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(imds_env(&auth))
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(
            RetryPolicy::default()
                .max_retries(0)
                .backoff(Duration::from_millis(100))
                .imds_gone_window(Duration::from_millis(1000)),
        )
        .build()
        .unwrap();
    auth.clear_requests();
    auth.push_fault(Fault::status(IMDS_PATH, 410, "{}").times(10));
    let e = gone
        .acquire_token_for_client("https://gone.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).status, Some(410));
    // delays 100, 200, 400 ms fit in 1 s, 800 more would not
    assert_eq!(mi_requests(&auth).len(), 4);
    auth.clear_faults();
    auth.clear_requests();
    auth.push_fault(Fault::status(IMDS_PATH, 404, "{}"));
    assert!(gone
        .acquire_token_for_client("https://gone.example")
        .await
        .is_err());
    assert_eq!(mi_requests(&auth).len(), 1);

    // Retries stop where the next wait would cross the deadline: 1 s fits in 2.5 s, 2 s more
    // would not.
    let bounded = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(imds_env(&auth))
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(
            RetryPolicy::default()
                .max_retries(5)
                .backoff(Duration::from_secs(1)),
        )
        .timeout(Duration::from_millis(2500))
        .build()
        .unwrap();
    auth.clear_requests();
    auth.push_fault(Fault::status(IMDS_PATH, 503, "{}").times(10));
    let e = bounded
        .acquire_token_for_client("https://busy.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).status, Some(503));
    assert_eq!(mi_requests(&auth).len(), 2);
    auth.clear_faults();

    // A slow source past the overall deadline.
    auth.push_fault(Fault::once(
        IMDS_PATH,
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let impatient = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(imds_env(&auth))
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let e = impatient
        .acquire_token_for_client("https://slow.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::Deadline, "{e}");
}

#[tokio::test]
async fn refresh_ahead_of_expiry_with_fallback_and_short_lifetimes() {
    let auth = http_authority().await;
    auth.set_managed_identity_token_lifetime(Some(86399));
    let cache = TokenCache::new();
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(imds_env(&auth))
        .token_cache(cache.clone())
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let first = mi.acquire_token_for_client(VAULT).await.unwrap();
    let refresh_on = first
        .refresh_on
        .expect("half-life refresh for a 24 h token");
    assert!((refresh_on as i64 - first.expires_on as i64 + 43199).abs() <= 2);
    let hit = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        (hit.token_source, hit.refresh_on),
        (TokenSource::Cache, Some(refresh_on))
    );

    // Due for refresh: the source is asked, a new token replaces the old one.
    age_cache(&cache);
    let refreshed = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    assert_ne!(refreshed.access_token.secret(), first.access_token.secret());
    assert_eq!(cache.access_tokens().len(), 1);
    assert_eq!(mi_requests(&auth).len(), 2);

    // Due again, and the source fails (500, then a dropped connection): the cached token.
    for fault in [
        Fault::once(IMDS_PATH, FaultKind::DropConnection),
        Fault::status(IMDS_PATH, 500, "{}"),
    ] {
        age_cache(&cache);
        auth.push_fault(fault);
        let fallback = mi.acquire_token_for_client(VAULT).await.unwrap();
        assert_eq!(fallback.token_source, TokenSource::Cache);
        assert_eq!(
            fallback.access_token.secret(),
            refreshed.access_token.secret()
        );
    }

    // Under 2 h: no refresh_on. Under 5 min: never served from the cache.
    auth.set_managed_identity_token_lifetime(Some(3599));
    let t = mi.acquire_token_for_client(ARM).await.unwrap();
    assert!(t.refresh_on.is_none());
    auth.set_managed_identity_token_lifetime(Some(240));
    auth.clear_requests();
    for _ in 0..2 {
        let t = mi
            .acquire_token_for_client("https://short.example")
            .await
            .unwrap();
        assert_eq!(t.token_source, TokenSource::IdentityProvider);
    }
    assert_eq!(mi_requests(&auth).len(), 2);
}

#[tokio::test]
async fn claims_challenge_bypasses_the_cache_without_fallback() {
    let auth = http_authority().await;
    let mi = client(ManagedIdentity::system_assigned(), imds_env(&auth));
    let first = mi.acquire_token_for_client(VAULT).await.unwrap();
    let opts = ManagedIdentityTokenOptions::new()
        .claims_challenge(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#);
    let second = mi
        .acquire_token_for_client_with(VAULT, opts.clone())
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::IdentityProvider);
    assert_ne!(second.access_token.secret(), first.access_token.secret());
    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 2);
    // The claims are not sent to IMDS (no source accepts them).
    assert_eq!(query_names(&reqs[1]), ["api-version", "resource"]);
    // With a claims challenge a failure is an error, not the cached token.
    auth.push_fault(Fault::status(
        IMDS_PATH,
        400,
        r#"{"error":"invalid_request"}"#,
    ));
    assert!(mi.acquire_token_for_client_with(VAULT, opts).await.is_err());
}

#[tokio::test]
async fn detection_is_evaluated_per_request() {
    let auth = http_authority().await;
    let vars: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(HashMap::new()));
    {
        let mut v = vars.lock().unwrap();
        v.insert("IDENTITY_ENDPOINT".into(), auth.app_service_endpoint());
        v.insert("IDENTITY_HEADER".into(), auth.managed_identity_secret());
        v.insert("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), auth.imds_host());
    }
    let lookup = {
        let vars = vars.clone();
        EnvLookup::from_fn(move |k| vars.lock().unwrap().get(k).cloned())
    };
    let mi = client(ManagedIdentity::system_assigned(), lookup);
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::AppService
    );
    mi.acquire_token_for_client(VAULT).await.unwrap();
    vars.lock().unwrap().remove("IDENTITY_HEADER");
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::DefaultToVm
    );
    mi.acquire_token_for_client(ARM).await.unwrap();
    let paths: Vec<String> = mi_requests(&auth).into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [APP_SERVICE_PATH, IMDS_PATH]);
}

// ---------------------------------------------------------------------------------------------
// App Service, Azure Machine Learning, Cloud Shell

#[tokio::test]
async fn app_service_system_user_assigned_and_errors() {
    let auth = http_authority().await;
    let uai = ManagedIdentityRecord::new("web");
    auth.add_user_assigned_identity(uai.clone());
    let mi = client(ManagedIdentity::system_assigned(), app_service_env(&auth));
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::AppService
    );
    let t = mi.acquire_token_for_client(VAULT).await.unwrap();
    // lifetime from the string `expires_on`
    assert!(
        (3590..=3600).contains(&t.expires_in()),
        "{}",
        t.expires_in()
    );
    assert_eq!(
        mi.acquire_token_for_client(VAULT)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    let r = &mi_requests(&auth)[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", APP_SERVICE_PATH)
    );
    assert_eq!(query_names(r), ["api-version", "resource"]);
    assert_eq!(r.query_value("api-version"), Some("2019-08-01"));
    assert_eq!(
        r.header("x-identity-header"),
        Some(auth.managed_identity_secret().as_str())
    );
    assert_eq!(r.header("metadata"), Some("true"));
    assert!(r.header("x-client-sku").is_none());

    for (identity, param) in [
        (
            ManagedIdentity::user_assigned_client_id(&uai.client_id),
            "client_id",
        ),
        (
            ManagedIdentity::user_assigned_object_id(&uai.object_id),
            "object_id",
        ),
        (
            ManagedIdentity::user_assigned_resource_id(&uai.resource_id),
            "mi_res_id",
        ),
    ] {
        auth.clear_requests();
        let t = client(identity, app_service_env(&auth))
            .acquire_token_for_client(VAULT)
            .await
            .unwrap();
        assert_eq!(
            claims(&auth, t.access_token.secret())["oid"],
            uai.object_id.as_str()
        );
        assert_eq!(
            query_names(&mi_requests(&auth)[0]),
            ["api-version", "resource", param]
        );
    }

    // Wrong X-IDENTITY-HEADER: MSAL's `invalid_scope`, with status and body kept.
    let wrong = client(
        ManagedIdentity::system_assigned(),
        env_of(&[
            ("IDENTITY_ENDPOINT", auth.app_service_endpoint()),
            ("IDENTITY_HEADER", "not-the-header".into()),
        ]),
    );
    let e = wrong.acquire_token_for_client(VAULT).await.unwrap_err();
    let m = mi_error(&e);
    assert_eq!(
        (m.kind, m.status),
        (ManagedIdentityErrorKind::Source, Some(401))
    );
    assert_eq!(m.error.as_deref(), Some("invalid_scope"));
    assert!(m.message.starts_with("401, "), "{}", m.message);
    assert!(!e.to_string().contains("not-the-header"));

    // 500: not retried, then replayed; malformed body: an error.
    auth.clear_requests();
    auth.push_fault(Fault::status(
        APP_SERVICE_PATH,
        500,
        r#"{"statusCode":500,"message":"down"}"#,
    ));
    let e = mi.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).status, Some(500));
    let e = mi.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::Throttled);
    assert_eq!(mi_requests(&auth).len(), 1);
    auth.push_fault(Fault::status(APP_SERVICE_PATH, 200, "<html/>"));
    let e = mi
        .acquire_token_for_client("https://x.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::InvalidResponse);
    auth.push_fault(Fault::once(APP_SERVICE_PATH, FaultKind::DropConnection));
    assert!(matches!(
        mi.acquire_token_for_client("https://y.example")
            .await
            .unwrap_err(),
        Error::Http { .. }
    ));
}

#[tokio::test]
async fn machine_learning_uses_secret_header_and_clientid() {
    let auth = http_authority().await;
    let uai = ManagedIdentityRecord::new("ml");
    auth.add_user_assigned_identity(uai.clone());
    let mi = client(ManagedIdentity::system_assigned(), ml_env(&auth));
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::MachineLearning
    );
    mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        mi.acquire_token_for_client(VAULT)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    let r = &mi_requests(&auth)[0];
    assert_eq!(r.path, MACHINE_LEARNING_PATH);
    assert_eq!(r.query_value("api-version"), Some("2017-09-01"));
    assert_eq!(
        r.header("secret"),
        Some(auth.managed_identity_secret().as_str())
    );

    auth.clear_requests();
    let by_client = client(
        ManagedIdentity::user_assigned_client_id(&uai.client_id),
        ml_env(&auth),
    );
    let t = by_client.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        claims(&auth, t.access_token.secret())["appid"],
        uai.client_id.as_str()
    );
    assert_eq!(
        query_names(&mi_requests(&auth)[0]),
        ["api-version", "resource", "clientid"]
    );

    auth.push_fault(Fault::status(MACHINE_LEARNING_PATH, 503, "{}"));
    let e = mi.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).error.as_deref(), Some("invalid_scope"));
    assert_eq!(mi_error(&e).status, Some(503));
}

#[tokio::test]
async fn cloud_shell_posts_the_resource() {
    let auth = http_authority().await;
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(env_of(&[(
            "AZUREPS_HOST_ENVIRONMENT",
            "cloud-shell/1.0".into(),
        )]))
        .cloud_shell_endpoint(auth.cloud_shell_endpoint())
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .build()
        .unwrap();
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::CloudShell
    );
    let t = mi.acquire_token_for_client(ARM).await.unwrap();
    assert_eq!(claims(&auth, t.access_token.secret())["aud"], ARM);
    assert_eq!(
        mi.acquire_token_for_client(ARM).await.unwrap().token_source,
        TokenSource::Cache
    );
    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", CLOUD_SHELL_PATH)
    );
    assert_eq!(reqs[0].header("metadata"), Some("true"));
    assert_eq!(reqs[0].form, [("resource".to_string(), ARM.to_string())]);

    auth.push_fault(Fault::status(
        CLOUD_SHELL_PATH,
        400,
        r#"{"error":{"code":"BadRequest","message":"nope"}}"#,
    ));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    let m = mi_error(&e);
    assert_eq!(
        (m.error.as_deref(), m.message.as_str()),
        (Some("BadRequest"), "nope")
    );
}

// ---------------------------------------------------------------------------------------------
// Azure Arc

#[tokio::test]
async fn arc_challenge_key_file_and_user_assigned_echo() {
    let auth = http_authority().await;
    let uai = ManagedIdentityRecord::new("arc");
    auth.add_user_assigned_identity(uai.clone());
    let mi = arc_client(&auth, ManagedIdentity::system_assigned());
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::AzureArc
    );
    let t = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(claims(&auth, t.access_token.secret())["aud"], VAULT);
    assert_eq!(
        mi.acquire_token_for_client(VAULT)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", ARC_PATH));
        assert_eq!(query_names(r), ["api-version", "resource"]);
        assert_eq!(r.query_value("api-version"), Some("2020-06-01"));
        assert_eq!(r.header("metadata"), Some("true"));
    }
    assert!(reqs[0].header("authorization").is_none());
    assert!(reqs[1]
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert_eq!(reqs[0].query, reqs[1].query);

    // User-assigned: selectors, and the echo is required.
    for (identity, param) in [
        (
            ManagedIdentity::user_assigned_client_id(&uai.client_id),
            "client_id",
        ),
        (
            ManagedIdentity::user_assigned_object_id(&uai.object_id),
            "object_id",
        ),
        (
            ManagedIdentity::user_assigned_resource_id(&uai.resource_id),
            "msi_res_id",
        ),
    ] {
        auth.clear_requests();
        let t = arc_client(&auth, identity)
            .acquire_token_for_client(VAULT)
            .await
            .unwrap();
        assert_eq!(
            claims(&auth, t.access_token.secret())["oid"],
            uai.object_id.as_str()
        );
        assert_eq!(
            query_names(&mi_requests(&auth)[1]),
            ["api-version", "resource", param]
        );
    }
    auth.set_arc_echoes_user_assigned(false);
    let legacy = arc_client(
        &auth,
        ManagedIdentity::user_assigned_client_id(&uai.client_id),
    );
    let e = legacy.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::InvalidResponse);
    assert!(e.to_string().contains("did not confirm"));
    assert!(legacy.token_cache().access_tokens().is_empty());
}

#[tokio::test]
async fn arc_refuses_anything_but_a_proper_challenge() {
    let auth = http_authority().await;
    let key_dir = auth.arc_key_directory().unwrap();
    let mi = arc_client(&auth, ManagedIdentity::system_assigned());

    // A 200 on the first GET is an error, never a token.
    auth.push_fault(Fault::status(
        ARC_PATH,
        200,
        r#"{"access_token":"x","expires_in":"3600"}"#,
    ));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    let m = mi_error(&e);
    assert_eq!(
        (m.error.as_deref(), m.status),
        (Some("invalid_request"), Some(200))
    );
    assert!(m.body.is_none(), "a body holding a token is not kept");

    // 401 without WWW-Authenticate, or with another scheme.
    auth.push_fault(Fault::status(ARC_PATH, 401, "{}"));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::ArcChallenge);
    let challenge = |value: String| {
        Fault::once(
            ARC_PATH,
            FaultKind::Status {
                status: 401,
                body: "{}".into(),
                headers: vec![("WWW-Authenticate".into(), value)],
            },
        )
    };
    auth.push_fault(challenge("Bearer realm=/x/y.key".into()));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::ArcChallenge);

    // A key file over 4096 bytes is refused before reading; the realm's folder is ignored.
    std::fs::write(key_dir.join("big.key"), vec![b'a'; 4097]).unwrap();
    auth.clear_requests();
    auth.push_fault(challenge("Basic realm=/somewhere/else/big.key".into()));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::ArcChallenge);
    assert!(e.to_string().contains("4096"), "{e}");
    assert_eq!(mi_requests(&auth).len(), 1, "no authorised GET");

    // A wrong key: the source's 401 on the second GET.
    std::fs::write(key_dir.join("forged.key"), "forged").unwrap();
    auth.push_fault(challenge(format!(
        "Basic realm={}",
        key_dir.join("forged.key").display()
    )));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).status, Some(401));

    // 500 on the authorised GET (the challenge GET passes untouched): an error; the next
    // identical call sends its challenge again (the two GETs are throttled separately) and
    // gets the authorised GET's failure replayed.
    auth.clear_requests();
    auth.push_fault(Fault::once(ARC_PATH, FaultKind::Delay(Duration::ZERO)));
    auth.push_fault(Fault::status(ARC_PATH, 500, "{}"));
    let e = mi.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).status, Some(500));
    assert_eq!(mi_requests(&auth).len(), 2);
    let e = mi.acquire_token_for_client(ARM).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::Throttled);
    assert_eq!(mi_requests(&auth).len(), 3, "only the challenge went out");
    let t = mi
        .acquire_token_for_client("https://other.example")
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
}

// ---------------------------------------------------------------------------------------------
// Service Fabric

#[tokio::test]
async fn service_fabric_pinned_tls_wire_and_claims() {
    let auth = TestAuthority::start().await; // HTTPS
    let thumbprint = auth.server_cert_sha1_thumbprint().unwrap();
    // Upper case with colons, as certificate tools print it.
    let pretty: String = thumbprint
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let mi = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(sf_env(&auth, &pretty))
        .client_capabilities(["CP1", "cp2"])
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    assert_eq!(
        mi.get_managed_identity_source(),
        ManagedIdentitySource::ServiceFabric
    );
    let first = mi.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        mi.acquire_token_for_client(VAULT)
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    let reqs = mi_requests(&auth);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", SERVICE_FABRIC_PATH)
    );
    assert_eq!(query_names(r), ["api-version", "resource", "xms_cc"]);
    assert_eq!(r.query_value("api-version"), Some("2019-07-01-preview"));
    assert_eq!(r.query_value("xms_cc"), Some("CP1,cp2"));
    assert_eq!(
        r.header("secret"),
        Some(auth.managed_identity_secret().as_str())
    );

    // Claims challenge: the source learns which token to replace.
    let opts = ManagedIdentityTokenOptions::new().claims_challenge("{}");
    let second = mi.acquire_token_for_client_with(VAULT, opts).await.unwrap();
    assert_ne!(second.access_token.secret(), first.access_token.secret());
    let r = &mi_requests(&auth)[1];
    assert_eq!(
        r.query_value("token_sha256_to_refresh"),
        Some(sha256_hex(first.access_token.secret()).as_str())
    );

    // User-assigned selection is ignored (as MSAL): no selector on the wire.
    auth.clear_requests();
    let uai = client(
        ManagedIdentity::user_assigned_client_id("11111111-2222-3333-4444-555555555555"),
        sf_env(&auth, &thumbprint),
    );
    uai.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(
        query_names(&mi_requests(&auth)[0]),
        ["api-version", "resource"]
    );

    // 429 is retried; 500 is neither retried nor throttled; error codes mapped.
    auth.clear_requests();
    auth.push_fault(Fault::status(SERVICE_FABRIC_PATH, 429, "{}"));
    mi.acquire_token_for_client(ARM).await.unwrap();
    assert_eq!(mi_requests(&auth).len(), 2);
    auth.clear_requests();
    auth.push_fault(Fault::status(
        SERVICE_FABRIC_PATH,
        500,
        r#"{"error":{"code":"InternalServerError","message":"x"}}"#,
    ));
    let e = mi
        .acquire_token_for_client("https://a.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).error.as_deref(), Some("invalid_request"));
    mi.acquire_token_for_client("https://a.example")
        .await
        .unwrap();
    assert_eq!(mi_requests(&auth).len(), 2);
    auth.push_fault(Fault::status(
        SERVICE_FABRIC_PATH,
        404,
        r#"{"error":{"code":"ManagedIdentityNotFound","message":"none"}}"#,
    ));
    let e = mi
        .acquire_token_for_client("https://b.example")
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).error.as_deref(), Some("invalid_client"));
    let wrong_secret = client(
        ManagedIdentity::system_assigned(),
        env_of(&[
            ("IDENTITY_ENDPOINT", auth.service_fabric_endpoint()),
            ("IDENTITY_HEADER", "wrong".into()),
            ("IDENTITY_SERVER_THUMBPRINT", thumbprint.clone()),
        ]),
    );
    let e = wrong_secret
        .acquire_token_for_client(VAULT)
        .await
        .unwrap_err();
    assert_eq!(mi_error(&e).error.as_deref(), Some("unauthorized_client"));
}

#[tokio::test]
async fn service_fabric_refuses_other_certificates_and_plain_http() {
    let auth = TestAuthority::start().await;
    let other = "0123456789abcdef0123456789abcdef01234567";
    let mi = client(ManagedIdentity::system_assigned(), sf_env(&auth, other));
    let e = mi.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(
        mi_error(&e).kind,
        ManagedIdentityErrorKind::CertificateMismatch
    );
    assert!(
        mi_requests(&auth).is_empty(),
        "no HTTP request after a mismatch"
    );

    let bad = client(
        ManagedIdentity::system_assigned(),
        sf_env(&auth, "not-a-thumbprint"),
    );
    let e = bad.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::Config);

    let http = http_authority().await;
    let plain = client(
        ManagedIdentity::system_assigned(),
        env_of(&[
            ("IDENTITY_ENDPOINT", http.service_fabric_endpoint()),
            ("IDENTITY_HEADER", http.managed_identity_secret()),
            ("IDENTITY_SERVER_THUMBPRINT", other.into()),
        ]),
    );
    let e = plain.acquire_token_for_client(VAULT).await.unwrap_err();
    assert_eq!(mi_error(&e).kind, ManagedIdentityErrorKind::Config);
    assert!(e.to_string().contains("HTTPS"));
    assert!(mi_requests(&http).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Workload identity federation

const K8S_ISSUER: &str = "https://oidc.prod-aks.example/cluster-1/";
const K8S_SUBJECT: &str = "system:serviceaccount:orders:orders-sa";
const WI_CLIENT: &str = "7d0c1d2e-0000-4000-8000-0000000f1d01";

fn token_file(dir: &std::path::Path, content: &str) -> PathBuf {
    let p = dir.join("azure-identity-token");
    std::fs::write(&p, content).unwrap();
    p
}

#[tokio::test]
async fn workload_identity_reads_the_file_per_request_on_the_wire() {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration {
        client_id: WI_CLIENT.into(),
        ..Default::default()
    });
    auth.add_federated_credential(WI_CLIENT, FederatedCredential::new(K8S_ISSUER, K8S_SUBJECT));
    let dir = tempfile::tempdir().unwrap();
    let first = auth.issue_federated_token(K8S_ISSUER, K8S_SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 3600);
    let path = token_file(dir.path(), &first);
    let env = env_of(&[
        ("AZURE_CLIENT_ID", WI_CLIENT.into()),
        ("AZURE_TENANT_ID", auth.tenant_id().into()),
        ("AZURE_AUTHORITY_HOST", format!("{}/", auth.base_url())),
        ("AZURE_FEDERATED_TOKEN_FILE", path.display().to_string()),
    ]);
    let azure = AzureEnvironment::workload_identity(&env).unwrap();
    assert_eq!(azure.authority(), auth.authority(auth.tenant_id()));
    let app = azure
        .application_builder()
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .build()
        .unwrap();

    let scope = ["https://vault.azure.net/.default"];
    let t = app.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
    let reqs = auth.token_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].form_value("client_assertion"), Some(first.as_str()));
    assert_eq!(
        reqs[0].form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(reqs[0].form_value("grant_type"), Some("client_credentials"));
    assert_eq!(reqs[0].form_value("client_id"), Some(WI_CLIENT));

    // Cache hit: the file is not read (it is gone).
    std::fs::remove_file(&path).unwrap();
    let hit = app.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(auth.token_requests().len(), 1);

    // The platform rotates the file: the next request on the wire sends the new token.
    let rotated =
        auth.issue_federated_token(K8S_ISSUER, K8S_SUBJECT, TOKEN_EXCHANGE_AUDIENCE, 3600);
    token_file(dir.path(), &format!("{rotated}\n"));
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    let reqs = auth.token_requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].form_value("client_assertion"),
        Some(rotated.as_str())
    );

    // Expired, unknown subject, wrong audience: refused by the authority like Entra.
    let cases = [
        (
            auth.issue_federated_token(K8S_ISSUER, K8S_SUBJECT, TOKEN_EXCHANGE_AUDIENCE, -60),
            "invalid_client",
            700024,
        ),
        (
            auth.issue_federated_token(
                K8S_ISSUER,
                "system:serviceaccount:x:y",
                TOKEN_EXCHANGE_AUDIENCE,
                3600,
            ),
            "invalid_request",
            70021,
        ),
        (
            auth.issue_federated_token(K8S_ISSUER, K8S_SUBJECT, "api://wrong", 3600),
            "invalid_request",
            700212,
        ),
    ];
    for (i, (token, error, code)) in cases.into_iter().enumerate() {
        token_file(dir.path(), &token);
        let e = app
            .acquire_token_for_client(&[format!("https://r{i}.example/.default").as_str()])
            .await
            .unwrap_err();
        let s = e
            .server()
            .unwrap_or_else(|| panic!("server error expected: {e:?}"));
        assert_eq!(
            (s.error.as_str(), s.error_codes.as_slice()),
            (error, &[code][..]),
            "{s}"
        );
    }

    // A missing file: a credential error naming it, no request.
    std::fs::remove_file(dir.path().join("azure-identity-token")).unwrap();
    let before = auth.token_requests().len();
    let e = app
        .acquire_token_for_client(&["https://gone.example/.default"])
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Credential { ref message, .. } if message.contains("azure-identity-token")),
        "{e:?}"
    );
    assert_eq!(auth.token_requests().len(), before);
}

#[tokio::test]
async fn azure_environment_secret_and_certificate() {
    let auth = TestAuthority::start().await;
    auth.register_app(AppRegistration::with_secret(WI_CLIENT, "env-secret"));
    let env = env_of(&[
        ("AZURE_CLIENT_ID", WI_CLIENT.into()),
        ("AZURE_TENANT_ID", auth.tenant_id().into()),
        ("AZURE_AUTHORITY_HOST", auth.base_url()),
        ("AZURE_CLIENT_SECRET", "env-secret".into()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            "/nonexistent/ignored-because-secret-wins".into(),
        ),
    ]);
    let app = AzureEnvironment::from_env(&env)
        .unwrap()
        .application_builder()
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .build()
        .unwrap();
    app.acquire_token_for_client(&["https://vault.azure.net/.default"])
        .await
        .unwrap();
    assert_eq!(
        auth.token_requests()[0].form_value("client_secret"),
        Some("env-secret")
    );

    // A PEM file holding key and certificate, with the chain sent.
    let cert = msal_testkit::certs::self_signed("env-cert");
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("cert.pem");
    let mut pem = cert.private_key().private_key_to_pem_pkcs8().unwrap();
    pem.extend(cert.x509().to_pem().unwrap());
    std::fs::write(&pem_path, &pem).unwrap();
    let cert_client = "7d0c1d2e-0000-4000-8000-0000000ce271";
    auth.register_app(AppRegistration::with_certificate(
        cert_client,
        cert.x509().to_pem().unwrap(),
    ));
    let env = env_of(&[
        ("AZURE_CLIENT_ID", cert_client.into()),
        ("AZURE_TENANT_ID", auth.tenant_id().into()),
        ("AZURE_AUTHORITY_HOST", auth.base_url()),
        (
            "AZURE_CLIENT_CERTIFICATE_PATH",
            pem_path.display().to_string(),
        ),
        ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true".into()),
    ]);
    let azure = AzureEnvironment::from_env(&env).unwrap();
    assert_eq!(azure.kind, msal_runtime::AzureCredentialKind::Certificate);
    let app = azure
        .application_builder()
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .build()
        .unwrap();
    app.acquire_token_for_client(&["https://vault.azure.net/.default"])
        .await
        .unwrap();
    let assertion = auth.token_requests()[1]
        .form_value("client_assertion")
        .unwrap()
        .to_string();
    let header = assertion.split('.').next().unwrap();
    use base64::Engine as _;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert!(header.get("x5c").is_some(), "{header}");

    // PKCS#12 with a password; a wrong password is a credential error.
    let pfx_path = dir.path().join("cert.pfx");
    std::fs::write(&pfx_path, cert.to_pkcs12_der("pfx-pass")).unwrap();
    let pfx_env = |password: &str| {
        env_of(&[
            ("AZURE_CLIENT_ID", cert_client.into()),
            ("AZURE_TENANT_ID", auth.tenant_id().into()),
            ("AZURE_AUTHORITY_HOST", auth.base_url()),
            (
                "AZURE_CLIENT_CERTIFICATE_PATH",
                pfx_path.display().to_string(),
            ),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", password.into()),
        ])
    };
    let app = AzureEnvironment::from_env(&pfx_env("pfx-pass"))
        .unwrap()
        .application_builder()
        .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
        .instance_discovery_endpoint(auth.instance_discovery_url())
        .build()
        .unwrap();
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    let assertion = auth.token_requests()[2]
        .form_value("client_assertion")
        .unwrap()
        .to_string();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(assertion.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        header.get("x5c").is_none(),
        "no chain unless asked: {header}"
    );
    assert!(matches!(
        AzureEnvironment::from_env(&pfx_env("wrong")).unwrap_err(),
        Error::Credential { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// MSAL Python shares the cache

fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    venv.exists().then_some(venv)
}

fn msal_python_mi(
    auth: &TestAuthority,
    cache: &std::path::Path,
    identity: &str,
) -> serde_json::Value {
    let python = python().expect("MSAL Python is not installed: run scripts/setup.sh");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/mi_cache_peer.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(cache)
        .arg(identity)
        .arg(VAULT)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", auth.imds_host())
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER")
        .env_remove("MSI_ENDPOINT")
        .env_remove("MSI_SECRET")
        .env_remove("IMDS_ENDPOINT")
        .env("NO_PROXY", "*")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "MSAL Python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("unexpected output: {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_finds_rust_managed_identity_tokens_and_back() {
    let auth = http_authority().await;
    let uai = ManagedIdentityRecord::new("shared");
    auth.add_user_assigned_identity(uai.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mi-cache.json");

    // Rust writes (user-assigned and system-assigned), Python reads without a request.
    let cache = TokenCache::file(&path).unwrap();
    let by_id =
        ManagedIdentityClient::builder(ManagedIdentity::user_assigned_client_id(&uai.client_id))
            .env(imds_env(&auth))
            .token_cache(cache.clone())
            .arc_himds_path("/nonexistent/msal-tests/himds")
            .build()
            .unwrap();
    let rust_uai = by_id.acquire_token_for_client(VAULT).await.unwrap();
    let system = ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
        .env(imds_env(&auth))
        .token_cache(cache.clone())
        .arc_himds_path("/nonexistent/msal-tests/himds")
        .build()
        .unwrap();
    let rust_sys = system.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(mi_requests(&auth).len(), 2);

    let py = msal_python_mi(&auth, &path, &format!("client_id:{}", uai.client_id));
    assert_eq!(py["token_source"], "cache", "{py}");
    assert_eq!(py["access_token"], rust_uai.access_token.secret());
    let py = msal_python_mi(&auth, &path, "system");
    assert_eq!(py["token_source"], "cache", "{py}");
    assert_eq!(py["access_token"], rust_sys.access_token.secret());
    assert_eq!(mi_requests(&auth).len(), 2, "Python made no request");

    // Python writes (another identity), Rust reads without a request.
    let other = ManagedIdentityRecord::new("python-side");
    auth.add_user_assigned_identity(other.clone());
    let py = msal_python_mi(&auth, &path, &format!("client_id:{}", other.client_id));
    assert_eq!(py["token_source"], "identity_provider", "{py}");
    assert_eq!(mi_requests(&auth).len(), 3);
    let reread = TokenCache::file(&path).unwrap();
    let rust =
        ManagedIdentityClient::builder(ManagedIdentity::user_assigned_client_id(&other.client_id))
            .env(imds_env(&auth))
            .token_cache(reread)
            .arc_himds_path("/nonexistent/msal-tests/himds")
            .build()
            .unwrap();
    let t = rust.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(t.token_source, TokenSource::Cache);
    assert_eq!(
        t.access_token.secret(),
        py["access_token"].as_str().unwrap()
    );
    assert_eq!(mi_requests(&auth).len(), 3);
}

// ---------------------------------------------------------------------------------------------
// The example's local mode (what `cargo run --example managed_identity` runs)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_local_mode_runs() {
    match tokio::time::timeout(Duration::from_secs(60), example::local()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the managed_identity example failed: {e}"),
        Err(_) => panic!("the managed_identity example did not finish within 60 s"),
    }
}

// ---------------------------------------------------------------------------------------------
// The wire, side by side with MSAL Python's

/// Runs MSAL Python's `ManagedIdentityClient` once with `vars` as its whole MI environment.
fn msal_python_with_env(identity: &str, vars: &[(&str, String)]) -> serde_json::Value {
    let python = python().expect("MSAL Python is not installed: run scripts/setup.sh");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/mi_cache_peer.py");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("empty.json");
    std::fs::write(&cache, "").unwrap();
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script).arg(&cache).arg(identity).arg(VAULT);
    for v in [
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IDENTITY_SERVER_THUMBPRINT",
        "IMDS_ENDPOINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "AZUREPS_HOST_ENVIRONMENT",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.env("NO_PROXY", "*").output().expect("python runs");
    assert!(
        out.status.success(),
        "MSAL Python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    serde_json::from_str(&line).unwrap()
}

type Pairs = Vec<(String, String)>;
/// A source under test: its name, the authority serving it, its environment.
type SourceCase<'a> = (&'a str, &'a TestAuthority, Vec<(&'a str, String)>);

/// Method, path, query and the headers that carry meaning (transport defaults of `requests`
/// and reqwest, and the per-request id's value, left out).
fn wire_shape(r: &RecordedRequest) -> (String, String, Pairs, Pairs) {
    const TRANSPORT: &[&str] = &[
        "user-agent",
        "accept-encoding",
        "accept",
        "connection",
        "host",
        "content-length",
    ];
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| !TRANSPORT.contains(&k.as_str()))
        .map(|(k, v)| {
            let v = match k.as_str() {
                // deliberate: another SKU and version; a fresh id per request either way
                "x-client-sku" | "x-client-ver" | "x-ms-client-request-id" => "<varies>".into(),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    headers.sort();
    (r.method.clone(), r.path.clone(), r.query.clone(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_requests_match_msal_python_per_source() {
    let http = http_authority().await;
    let https = TestAuthority::start().await;
    let uai = ManagedIdentityRecord::new("wire");
    http.add_user_assigned_identity(uai.clone());
    https.add_user_assigned_identity(uai.clone());
    let thumbprint = https.server_cert_sha1_thumbprint().unwrap();
    let sources: Vec<SourceCase<'_>> = vec![
        (
            "imds",
            &http,
            vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", http.imds_host())],
        ),
        (
            "app service",
            &http,
            vec![
                ("IDENTITY_ENDPOINT", http.app_service_endpoint()),
                ("IDENTITY_HEADER", http.managed_identity_secret()),
            ],
        ),
        (
            "machine learning",
            &http,
            vec![
                ("MSI_ENDPOINT", http.machine_learning_endpoint()),
                ("MSI_SECRET", http.managed_identity_secret()),
            ],
        ),
        (
            "service fabric",
            &https,
            vec![
                ("IDENTITY_ENDPOINT", https.service_fabric_endpoint()),
                ("IDENTITY_HEADER", https.managed_identity_secret()),
                ("IDENTITY_SERVER_THUMBPRINT", thumbprint.clone()),
            ],
        ),
    ];
    for (name, auth, vars) in &sources {
        for (py_identity, identity) in [
            ("system".to_string(), ManagedIdentity::system_assigned()),
            (
                format!("client_id:{}", uai.client_id),
                ManagedIdentity::user_assigned_client_id(&uai.client_id),
            ),
        ] {
            auth.clear_requests();
            let py = msal_python_with_env(&py_identity, vars);
            assert!(py["access_token"].is_string(), "{name}: {py}");
            let py_reqs = auth.managed_identity_requests();
            auth.clear_requests();
            client(identity, env_of(vars))
                .acquire_token_for_client(VAULT)
                .await
                .unwrap();
            let rs_reqs = auth.managed_identity_requests();
            assert_eq!(py_reqs.len(), 1, "{name}");
            assert_eq!(rs_reqs.len(), 1, "{name}");
            assert_eq!(
                wire_shape(&rs_reqs[0]),
                wire_shape(&py_reqs[0]),
                "{name}, {py_identity}: Rust (left) and MSAL Python (right) differ"
            );
        }
    }
}
