//! MSAL Python (1.39.0, from PyPI) and this library share one token cache: each finds the
//! other's tokens without a request. `scripts/setup.sh` installs MSAL Python into `.venv`.

use crate::support;

use msal_runtime::{TokenCache, TokenSource};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use support::*;

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "MSAL Python is not installed: run scripts/setup.sh (it creates .venv with tests/python/requirements.txt)"
    );
    venv
}

/// Runs MSAL Python against the cache file; returns its JSON report.
fn msal_python(
    auth: &msal_testkit::TestAuthority,
    cache: &std::path::Path,
    mode: &str,
    scopes: &[&str],
) -> serde_json::Value {
    msal_python_as(
        auth,
        &auth.authority(auth.tenant_id()),
        (CLIENT_ID, SECRET),
        cache,
        mode,
        scopes,
        &[],
    )
}

/// [`msal_python`] with another authority, app and extra environment variables.
fn msal_python_as(
    auth: &msal_testkit::TestAuthority,
    authority: &str,
    (client_id, secret): (&str, &str),
    cache: &std::path::Path,
    mode: &str,
    scopes: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/cache_peer.py");
    let out = Command::new(python())
        .arg(script)
        .arg(cache)
        .arg(authority)
        .arg(client_id)
        .arg(secret)
        .arg(mode)
        .args(scopes)
        .envs(env.iter().copied())
        // MSAL Python's `requests` takes its CA from these (preset on this machine).
        .env("REQUESTS_CA_BUNDLE", auth.ca_path())
        .env("CURL_CA_BUNDLE", auth.ca_path())
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
async fn app_tokens_cross_between_rust_and_python() {
    let auth = authority().await;
    let dir = tempfile_dir();
    let cache_path = dir.join("shared-cache.json");

    // Rust gets a token and writes the cache.
    let app = secret_app(&auth);
    let rust_token = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    std::fs::write(&cache_path, app.token_cache().serialize()).unwrap();
    let posts_before = auth.token_requests().len();

    // Python finds it, without a token request.
    let report = msal_python(&auth, &cache_path, "app", &[GRAPH]);
    assert_eq!(report["token_source"], "cache", "{report}");
    assert_eq!(report["access_token"], rust_token.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts_before);

    // Python gets a token for another resource and writes the cache; Rust finds it.
    let storage = "https://storage.azure.com/.default";
    let report = msal_python(&auth, &cache_path, "app", &[storage]);
    assert_eq!(report["token_source"], "identity_provider", "{report}");
    let posts_after_python = auth.token_requests().len();
    let shared = TokenCache::new();
    shared
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    let app2 = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(msal_runtime::ClientCredential::secret(SECRET))
        .token_cache(shared.clone())
        .build()
        .unwrap();
    let t = app2.acquire_token_for_client(&[storage]).await.unwrap();
    assert_eq!(t.token_source, TokenSource::Cache);
    assert_eq!(
        Some(t.access_token.secret()),
        report["access_token"].as_str()
    );
    assert_eq!(
        app2.acquire_token_for_client(&[GRAPH])
            .await
            .unwrap()
            .token_source,
        TokenSource::Cache
    );
    assert_eq!(auth.token_requests().len(), posts_after_python);

    // A round trip through Rust keeps what Python wrote, field for field.
    let python_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache_path).unwrap()).unwrap();
    let rust_json: serde_json::Value = serde_json::from_str(&shared.serialize()).unwrap();
    assert_eq!(python_json, rust_json);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msal-interop-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_user_crosses_between_rust_and_python() {
    const REDIRECT: &str = "https://webapp.example.com/auth/callback";
    const ALICE: &str = "alice@contoso.onmicrosoft.com";
    let auth = msal_testkit::TestAuthority::start().await;
    auth.register_app(
        msal_testkit::AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT),
    );
    let alice = msal_testkit::TestUser::new(ALICE);
    auth.add_user(alice.clone());
    let home_account_id = format!("{}.{}", alice.oid, auth.tenant_id());
    let dir = tempfile_dir();
    let cache_path = dir.join("user-cache.json");

    // Rust signs Alice in (authorization code + PKCE) and writes the cache.
    let app = secret_app(&auth);
    let flow = app
        .initiate_auth_code_flow(
            &["User.Read"],
            msal_runtime::AuthCodeFlowOptions::new(REDIRECT),
        )
        .await
        .unwrap();
    let response = auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
    let signed_in = app
        .acquire_token_by_auth_code_flow(&flow, response)
        .await
        .unwrap();
    std::fs::write(&cache_path, app.token_cache().serialize()).unwrap();
    let rust_rt = app.token_cache().refresh_tokens()[0].secret.clone();
    let posts = auth.token_requests().len();

    // MSAL Python finds the account and serves Rust's token from the cache.
    let report = msal_python(&auth, &cache_path, "user", &["User.Read"]);
    assert_eq!(report["accounts"], json!([ALICE]), "{report}");
    assert_eq!(report["home_account_ids"], json!([home_account_id]));
    assert_eq!(report["token_source"], "cache", "{report}");
    assert_eq!(report["access_token"], signed_in.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts, "no request");

    // For a scope it has no token for, Python refreshes with Rust's refresh token and
    // writes the cache back.
    let report = msal_python(&auth, &cache_path, "user", &["Mail.Read"]);
    assert_eq!(report["token_source"], "identity_provider", "{report}");
    let python_at = report["access_token"].as_str().unwrap().to_string();
    let posts = auth.token_requests();
    let refresh = posts.last().unwrap();
    assert_eq!(refresh.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(refresh.form_value("refresh_token"), Some(rust_rt.as_str()));
    assert_eq!(refresh.header("x-client-sku"), Some("MSAL.Python"));
    let claims = auth.verify_access_token(&python_at).unwrap();
    assert_eq!(claims["scp"], "Mail.Read");
    assert_eq!(claims["oid"], alice.oid.as_str());
    let posts = posts.len();

    // Rust reads what Python wrote: the same account, Python's new token from the cache,
    // its own earlier token still there, and the refresh token Python updated in place.
    let python_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache_path).unwrap()).unwrap();
    let shared = TokenCache::new();
    shared
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    let app2 = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(msal_runtime::ClientCredential::secret(SECRET))
        .token_cache(shared.clone())
        .build()
        .unwrap();
    let accounts = app2.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].home_account_id, home_account_id);
    assert_eq!(accounts[0].username, ALICE);
    let mail = app2
        .acquire_token_silent(&["Mail.Read"], &accounts[0])
        .await
        .unwrap()
        .expect("Python's token");
    assert_eq!(mail.token_source, TokenSource::Cache);
    assert_eq!(mail.access_token.secret(), python_at);
    let user = app2
        .acquire_token_silent(&["User.Read"], &accounts[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.token_source, TokenSource::Cache);
    assert_eq!(user.access_token.secret(), signed_in.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts, "no request");

    let rts = shared.refresh_tokens();
    assert_eq!(rts.len(), 1, "Python updated the refresh token in place");
    assert_ne!(rts[0].secret, rust_rt, "with the one its refresh returned");
    app2.acquire_token_silent_with_error(
        &["User.Read"],
        &accounts[0],
        msal_runtime::SilentOptions::default().force_refresh(true),
    )
    .await
    .unwrap()
    .unwrap();
    let refresh = auth.token_requests().pop().unwrap();
    assert_eq!(refresh.header("x-client-sku"), Some("MSAL.Rust"));
    assert_eq!(
        refresh.form_value("refresh_token"),
        Some(rts[0].secret.as_str())
    );

    // What Python wrote survives a Rust round trip unchanged (before Rust's own refresh).
    let reread = TokenCache::new();
    reread
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    let rust_json: serde_json::Value = serde_json::from_str(&reread.serialize()).unwrap();
    assert_eq!(python_json, rust_json);
}

/// Instance metadata (`api-version=1.1`) makes `127.0.0.1` an alias of `localhost` on the
/// test authority, as it makes `login.windows.net` one of `login.microsoftonline.com`:
/// what MSAL Python cached under the alias is found by `get_accounts`, served by silent
/// acquisition, refreshed with its refresh token, and removed by `remove_account`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_msal_python_cached_under_an_alias_host_is_found_refreshed_and_removed() {
    const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
    const API_SECRET: &str = "api-secret-for-tests";
    const API_URI: &str = "api://orders-api";
    const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
    const ALICE: &str = "alice@contoso.onmicrosoft.com";
    const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";
    let auth = msal_testkit::TestAuthority::start().await;
    auth.register_app(
        msal_testkit::AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI),
    );
    let alice = msal_testkit::TestUser::new(ALICE);
    auth.add_user(alice.clone());
    let home_account_id = format!("{}.{}", alice.oid, auth.tenant_id());
    let cache_path = tempfile_dir().join("alias-cache.json");
    std::fs::write(&cache_path, "{}").unwrap();

    // MSAL Python, talking to the authority as 127.0.0.1, caches Alice's tokens (OBO).
    let incoming = auth
        .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
        .unwrap();
    let alias_authority = auth
        .authority(auth.tenant_id())
        .replace("://localhost:", "://127.0.0.1:");
    assert!(alias_authority.contains("127.0.0.1"), "{alias_authority}");
    let report = msal_python_as(
        &auth,
        &alias_authority,
        (API_ID, API_SECRET),
        &cache_path,
        "obo",
        &[GRAPH_USER_READ],
        &[("MSAL_TEST_USER_ASSERTION", incoming.as_str())],
    );
    assert_eq!(report["token_source"], "identity_provider", "{report}");
    let python_at = report["access_token"].as_str().unwrap().to_string();
    let python_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache_path).unwrap()).unwrap();
    for section in ["AccessToken", "RefreshToken", "IdToken", "Account"] {
        let entries = python_json[section].as_object().unwrap();
        assert_eq!(entries.len(), 1, "{section}: {python_json}");
        let entry = entries.values().next().unwrap();
        assert_eq!(entry["environment"], "127.0.0.1", "{section}");
        assert_eq!(entry["home_account_id"], home_account_id.as_str());
    }

    // A Rust app of the same client at `localhost` reads that cache.
    let cache = TokenCache::new();
    cache
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    let app = builder(&auth, API_ID, auth.tenant_id())
        .client_credential(msal_runtime::ClientCredential::secret(API_SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    auth.clear_requests();
    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1, "found under the alias");
    assert_eq!(accounts[0].home_account_id, home_account_id);
    assert_eq!(accounts[0].username, ALICE);
    assert_eq!(accounts[0].environment, "127.0.0.1");
    // The aliases came from the instance metadata, asked once, as MSAL asks for them.
    let metadata: Vec<_> = auth
        .requests()
        .into_iter()
        .filter(|r| r.path == "/common/discovery/instance")
        .collect();
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0].query_value("api-version"), Some("1.1"));
    assert_eq!(
        metadata[0].query_value("authorization_endpoint"),
        Some("https://localhost/common/oauth2/authorize")
    );
    assert_eq!(metadata[0].header("accept"), Some("application/json"));

    // Silent acquisition serves Python's access token without a request...
    let posts = auth.token_requests().len();
    let t = app
        .acquire_token_silent(&[GRAPH_USER_READ], &accounts[0])
        .await
        .unwrap()
        .expect("Python's token");
    assert_eq!(t.token_source, TokenSource::Cache);
    assert_eq!(t.access_token.secret(), python_at);
    assert_eq!(auth.token_requests().len(), posts);

    // ...and refreshes with Python's refresh token, updating it in place.
    let python_rt = cache.refresh_tokens()[0].secret.clone();
    let fresh = app
        .acquire_token_silent_with_error(
            &[GRAPH_USER_READ],
            &accounts[0],
            msal_runtime::SilentOptions::default().force_refresh(true),
        )
        .await
        .unwrap()
        .expect("a refreshed token");
    assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
    let post = auth.token_requests().pop().unwrap();
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.form_value("refresh_token"), Some(python_rt.as_str()));
    let rts = cache.refresh_tokens();
    assert_eq!(rts.len(), 1);
    assert_eq!(rts[0].environment, "127.0.0.1");
    assert_ne!(rts[0].secret, python_rt);
    assert_eq!(
        auth.requests()
            .iter()
            .filter(|r| r.path == "/common/discovery/instance"
                && r.query_value("api-version") == Some("1.1"))
            .count(),
        1,
        "the aliases are remembered"
    );

    // remove_account removes Alice's entries under both hosts; app metadata stays.
    app.remove_account(&accounts[0]).await.unwrap();
    assert!(cache.access_tokens().is_empty(), "{cache:?}");
    assert!(cache.refresh_tokens().is_empty());
    assert!(cache.id_tokens().is_empty());
    assert!(cache.accounts().is_empty());
    assert!(!cache.app_metadata().is_empty());
    assert!(app.get_accounts(None).await.unwrap().is_empty());
}

/// `remove_tokens_for_client` also removes the app tokens another MSAL app cached under an
/// alias of the host (MSAL Python at `127.0.0.1`, this app at `localhost`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_tokens_for_client_reaches_app_tokens_cached_under_an_alias() {
    let auth = authority().await;
    let cache_path = tempfile_dir().join("alias-app-cache.json");
    std::fs::write(&cache_path, "{}").unwrap();
    let alias_authority = auth
        .authority(auth.tenant_id())
        .replace("://localhost:", "://127.0.0.1:");
    let report = msal_python_as(
        &auth,
        &alias_authority,
        (CLIENT_ID, SECRET),
        &cache_path,
        "app",
        &[GRAPH],
        &[],
    );
    assert_eq!(report["token_source"], "identity_provider", "{report}");

    let cache = TokenCache::new();
    cache
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    assert_eq!(cache.access_tokens()[0].environment, "127.0.0.1");
    let app = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(msal_runtime::ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    // This app's own token, under `localhost`.
    app.acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    assert_eq!(cache.access_tokens().len(), 2);
    assert_eq!(app.remove_tokens_for_client().await.unwrap(), 2);
    assert!(cache.access_tokens().is_empty());
    assert!(auth.requests().iter().any(|r| {
        r.path == "/common/discovery/instance" && r.query_value("api-version") == Some("1.1")
    }));
}

/// MSAL Python and this library compute the same extended cache key (`fmi_path`,
/// forwarded client claims): each serves the other's `atext` token without a request,
/// and neither serves it to a plain request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_cache_key_tokens_cross_between_rust_and_python() {
    use msal_runtime::ForClientOptions;
    let auth = authority().await;
    let dir = tempfile_dir();
    let cache_path = dir.join("shared-cache.json");
    let run_python = |env: &[(&str, &str)]| {
        msal_python_as(
            &auth,
            &auth.authority(auth.tenant_id()),
            (CLIENT_ID, SECRET),
            &cache_path,
            "app",
            &[GRAPH],
            env,
        )
    };

    // Rust: a token for an FMI path.
    let app = secret_app(&auth);
    let fmi = app
        .acquire_token_for_client_with(&[GRAPH], ForClientOptions::default().fmi_path("A/B"))
        .await
        .unwrap();
    std::fs::write(&cache_path, app.token_cache().serialize()).unwrap();
    let posts = auth.token_requests().len();

    // Python with the same path: from the cache, the same token.
    let r = run_python(&[("MSAL_TEST_FMI_PATH", "A/B")]);
    assert_eq!(r["token_source"], "cache", "{r}");
    assert_eq!(r["access_token"], fmi.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts);
    // Python without it: not the FMI token.
    let r = run_python(&[]);
    assert_eq!(r["token_source"], "identity_provider", "{r}");
    assert_ne!(r["access_token"], fmi.access_token.secret());
    // Python with forwarded client claims writes an `atext` entry that Rust then finds.
    let cc = r#"{"access_token": {"xms_az_nwperimid": {"values": ["p1"]}}}"#;
    let r = run_python(&[("MSAL_TEST_FORWARDED_CLIENT_CLAIMS", cc)]);
    assert_eq!(r["token_source"], "identity_provider", "{r}");
    let posts = auth.token_requests().len();

    let shared = TokenCache::new();
    shared
        .deserialize(&std::fs::read_to_string(&cache_path).unwrap())
        .unwrap();
    let app2 = builder(&auth, CLIENT_ID, auth.tenant_id())
        .client_credential(msal_runtime::ClientCredential::secret(SECRET))
        .token_cache(shared)
        .build()
        .unwrap();
    let t = app2
        .acquire_token_for_client_with(
            &[GRAPH],
            ForClientOptions::default().forwarded_client_claims(cc),
        )
        .await
        .unwrap();
    assert_eq!(t.token_source, TokenSource::Cache);
    assert_eq!(Some(t.access_token.secret()), r["access_token"].as_str());
    let t = app2
        .acquire_token_for_client_with(&[GRAPH], ForClientOptions::default().fmi_path("A/B"))
        .await
        .unwrap();
    assert_eq!(t.access_token.secret(), fmi.access_token.secret());
    assert_eq!(auth.token_requests().len(), posts);
}
