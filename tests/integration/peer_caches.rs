//! Caches written by the other MSAL libraries (MSAL.NET, MSAL Java, msal-node, MSAL Go,
//! MSAL Python; their own test data, copied into `tests/fixtures/peer-caches/` with their
//! origins in its SOURCES.md): every file loads (the two with trailing commas are refused
//! with a clear error), comes back out of a round trip without losing anything, and answers
//! the account look-ups those libraries' own tests make on it. No network: the apps'
//! authorities are Microsoft clouds, whose aliases are built in, or ADFS.

use crate::support;

use msal_runtime::{ClientCredential, ConfidentialClientApplication, TokenCache};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peer-caches")
}

/// Every cache file under the fixtures directory, relative to it.
fn all_files() -> Vec<String> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir()).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            let rel = f.strip_prefix(dir()).unwrap().to_string_lossy().to_string();
            out.push(rel);
        }
    }
    out.sort();
    out
}

fn read(rel: &str) -> String {
    String::from_utf8(std::fs::read(dir().join(rel)).unwrap()).unwrap()
}

/// The two MSAL.NET files with trailing commas (not JSON); their `derived/` copies without
/// the commas are loaded instead.
const NOT_JSON: [&str; 2] = [
    "dotnet/CacheFromTheFuture.json",
    "dotnet/ExpectedTokenCache.json",
];

#[test]
fn every_file_loads_and_round_trips_without_loss() {
    let files = all_files();
    assert_eq!(files.len(), 30, "{files:?}");
    let mut loaded = 0;
    for rel in &files {
        let text = read(rel);
        let cache = TokenCache::new();
        let outcome = cache.deserialize(&text);
        if NOT_JSON.contains(&rel.as_str()) {
            let err = outcome.expect_err(rel).to_string();
            assert!(err.contains("not valid JSON"), "{rel}: {err}");
            assert!(err.contains("trailing comma"), "{rel}: {err}");
            continue;
        }
        outcome.unwrap_or_else(|e| panic!("{rel}: {e}"));
        loaded += 1;

        let out = cache.serialize();
        let back: Value = serde_json::from_str(&out).unwrap();
        let body = text.trim_start_matches('\u{feff}');
        let original: Value = if body.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(body).unwrap()
        };
        assert_eq!(back, original, "{rel}: the round trip changed the cache");

        // Stable: a second round trip writes the same text.
        let again = TokenCache::new();
        again.deserialize(&out).unwrap();
        assert_eq!(again.serialize(), out, "{rel}: not stable");
    }
    assert_eq!(loaded, 28);
}

#[test]
fn entries_are_read_not_just_kept() {
    // .NET's ADFS cache: no `realm`, extended expiry at .NET's minimum date.
    let adfs = load("dotnet/token_cache_adfs.json");
    assert_eq!(adfs.access_tokens().len(), 1);
    let at = &adfs.access_tokens()[0];
    assert_eq!(at.realm, "");
    assert_eq!(at.extended_expires_on, None);
    assert_eq!(at.expires_on, 1613063610);
    assert_eq!(adfs.accounts().len(), 1);
    assert_eq!(adfs.id_tokens().len(), 1);
    assert_eq!(adfs.refresh_tokens().len(), 1);

    // Pre-1.0 MSAL Python: `target` a JSON list, float times.
    let py = load("dotnet/cachecompat_python.bin");
    let at = &py.access_tokens()[0];
    assert_eq!(
        at.target,
        "email https://graph.microsoft.com/.default https://graph.microsoft.com/User.Read \
         https://graph.microsoft.com/User.ReadBasic.All openid profile"
    );
    assert_eq!(at.expires_on, 1548847834);
    assert_eq!(
        py.refresh_tokens()[0].target.as_deref(),
        Some(at.target.as_str())
    );

    // Every entry of the MSAL.NET, Go, Java and msal-node files fits the schema, except
    // Java's template of placeholders and the entries that are not tokens on purpose.
    for (rel, at, rt, idt, acct) in [
        ("dotnet/SingleCloudTokenCache.json", 2, 2, 2, 2),
        ("dotnet/MultiCloudTokenCache.json", 3, 3, 3, 3),
        ("dotnet/MultiTenantTokenCache.json", 3, 2, 3, 3),
        ("dotnet/TokenCacheWithWamId.json", 3, 0, 3, 3),
        ("go/v1.0_v1.1_cache.json", 2, 2, 2, 2),
        (
            "java/cache_data-multi-tenant-account-cache.json",
            0,
            0,
            5,
            5,
        ),
        ("js/default-cache.json", 3, 2, 1, 1),
    ] {
        let c = load(rel);
        assert_eq!(
            (
                c.access_tokens().len(),
                c.refresh_tokens().len(),
                c.id_tokens().len(),
                c.accounts().len()
            ),
            (at, rt, idt, acct),
            "{rel}"
        );
    }
}

fn load(rel: &str) -> TokenCache {
    let cache = TokenCache::new();
    cache.deserialize(&read(rel)).unwrap();
    cache
}

fn app(authority: &str, client_id: &str, cache: &TokenCache) -> ConfidentialClientApplication {
    ConfidentialClientApplication::builder(client_id)
        .authority(authority)
        .client_credential(ClientCredential::secret("unused"))
        .token_cache(cache.clone())
        .build()
        .unwrap()
}

/// `get_accounts` of an app at `authority` over the file: the usernames, sorted.
async fn usernames(rel: &str, authority: &str, client_id: &str) -> Vec<String> {
    let cache = load(rel);
    let app = app(authority, client_id, &cache);
    let mut names: Vec<String> = app
        .get_accounts(None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    names.sort();
    names
}

const PUBLIC: &str = "https://login.microsoftonline.com/common";
const NET_CLIENT: &str = "0615b6ca-88d4-4884-8729-b178178f7c27";
const NET_MT_CLIENT: &str = "1d18b3b0-251b-4714-a02a-9956cec86c2d";

#[tokio::test]
async fn accounts_the_peers_own_tests_expect() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // MSAL.NET AccountTests: accounts cached under login.windows.net and
        // login.microsoft.com are the accounts of a login.microsoftonline.com app.
        (
            "dotnet/SingleCloudTokenCache.json",
            PUBLIC,
            NET_CLIENT,
            &["user1@microsoft.com", "user2@bogavrilLTD.onmicrosoft.com"],
        ),
        (
            "dotnet/MultiCloudTokenCache.json",
            PUBLIC,
            NET_CLIENT,
            &["user@cloud.onmicrosoft.com"],
        ),
        (
            "dotnet/MultiCloudTokenCache.json",
            "https://login.chinacloudapi.cn/common",
            NET_CLIENT,
            &["usercn@cloudcn.partner.onmschina.cn"],
        ),
        (
            "dotnet/MultiCloudTokenCache.json",
            "https://login.microsoftonline.de/common",
            NET_CLIENT,
            &["userde@cloudde.onmicrosoft.de"],
        ),
        // MSAL.NET PublicClientApplicationTests / OnBehalfOfTests: one user in two tenants
        // is one account.
        (
            "dotnet/MultiTenantTokenCache.json",
            PUBLIC,
            NET_MT_CLIENT,
            &["someone_else@domain.com", "user@domain.com"],
        ),
        (
            "dotnet/MultiTenantOBOTokenCache.json",
            PUBLIC,
            NET_MT_CLIENT,
            &["someone_else@domain.com", "user@domain.com"],
        ),
        (
            "dotnet/TokenCacheWithWamId.json",
            PUBLIC,
            NET_MT_CLIENT,
            &["someone_else@domain.com", "user@domain.com"],
        ),
        // MSAL.NET MsalCacheHelperTests.CacheWorksWithAdfsAsync: one ADFS account.
        (
            "dotnet/token_cache_adfs.json",
            "https://fs.msidlab8.com/adfs",
            "PublicClientId",
            &["fidlab@msidlab8.com"],
        ),
        (
            "dotnet/token_cache_one_acc_seed.json",
            PUBLIC,
            NET_MT_CLIENT,
            &["liu.kang@bogavrilLTD.onmicrosoft.com"],
        ),
        // Pre-1.0 MSAL Python wrote `authority_type: AAD`, which MSAL Python's
        // get_accounts no longer lists (only MSSTS and ADFS); nor does this library.
        (
            "dotnet/cachecompat_python.bin",
            "https://login.microsoftonline.com/organizations",
            "52d50834-b9a0-4948-9f62-1a3d283003d6",
            &[],
        ),
        // MSAL Go: login.windows.net caches, read by a login.windows.net app and by a
        // login.microsoftonline.com app.
        (
            "go/v1.0_v1.1_cache.json",
            "https://login.windows.net/contoso",
            "my_client_id",
            &["John Doe"],
        ),
        (
            "go/test_serialized_cache.json",
            PUBLIC,
            "my_client_id",
            &["John Doe"],
        ),
        ("go/v1.0_cache.json", PUBLIC, "my_client_id", &["John Doe"]),
        (
            "go/devapps-serialized_cache.json",
            PUBLIC,
            "my_client_id",
            &["John Doe"],
        ),
        (
            "go/integration-serialized_cache_1.1.1.json",
            "https://login.microsoftonline.com/organizations",
            "4b0db8c2-9f26-4417-8bde-3f0e3656f8e0",
            &["idlab1@msidlab4.onmicrosoft.com"],
        ),
        // MSAL Java AccountTest: one account per cloud; per user across tenants, named
        // by the home tenant's profile.
        (
            "java/cache_data-multi-cloud-account-cache.json",
            PUBLIC,
            "client_id",
            &["MultiCloudAccount"],
        ),
        (
            "java/cache_data-multi-cloud-account-cache.json",
            "https://login.microsoftonline.de/common",
            "client_id",
            &["MultiCloudAccount"],
        ),
        (
            "java/cache_data-multi-tenant-account-cache.json",
            PUBLIC,
            "client_id",
            &[
                "MultiTenantAccount",
                "SingleTenantAccount",
                "TenantProfileNoHome",
            ],
        ),
        (
            "java/sample_cache.json",
            "https://login.windows.net/contoso",
            "my_client_id",
            &["John Doe"],
        ),
        (
            "java/cache_data-serialized_cache.json",
            PUBLIC,
            "my_client_id",
            &["John Doe"],
        ),
        (
            "java/cache_data-remove-account-test-cache.json",
            PUBLIC,
            "c",
            &[],
        ),
        // msal-node's test and sample caches.
        (
            "js/default-cache.json",
            PUBLIC,
            "mock_client_id",
            &["John Doe"],
        ),
        (
            "js/msal-node-cache.json",
            PUBLIC,
            "mock_client_id",
            &["John Doe"],
        ),
        (
            "js/cache-unrecognized-entities.json",
            PUBLIC,
            "mock_client_id",
            &["John Doe"],
        ),
        (
            "js/serializer-cache.json",
            PUBLIC,
            "mock_client_id",
            &["johndoe@microsoft.com"],
        ),
        (
            "js/serializer-Account.json",
            PUBLIC,
            "mock_client_id",
            &["John Doe"],
        ),
        ("js/samples-cacheTemplate.json", PUBLIC, "c", &[]),
    ];
    for (rel, authority, client_id, expected) in cases {
        assert_eq!(
            usernames(rel, authority, client_id).await,
            *expected,
            "{rel} at {authority}"
        );
    }
}

#[tokio::test]
async fn of_two_entries_differing_by_key_case_the_lower_case_one_wins() {
    // MSAL Go's v1.0 + v1.1 cache: each entry twice, once under a v1.0 mixed-case key
    // with "wrong value"s; the lower-case (v1.1) entries must be the ones used.
    let cache = load("go/v1.0_v1.1_cache.json");
    let app = app("https://login.windows.net/contoso", "my_client_id", &cache);
    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].local_account_id, "object1234");
    assert_eq!(accounts[0].realm, "contoso");
}

#[tokio::test]
async fn an_account_cached_under_an_alias_is_removed_with_its_tokens() {
    // MSAL.NET's single-cloud cache: a user whose account sits under login.microsoft.com
    // and refresh token under sts.windows.net, removed through a login.microsoftonline.com app.
    let cache = load("dotnet/SingleCloudTokenCache.json");
    let app = app(PUBLIC, NET_CLIENT, &cache);
    let accounts = app.get_accounts(Some("user1@microsoft.com")).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let hid = accounts[0].home_account_id.clone();
    app.remove_account(&accounts[0]).await.unwrap();
    let left = |n: usize, what: &str, hids: Vec<Option<String>>| {
        assert!(
            hids.iter().all(|h| h.as_deref() != Some(hid.as_str())),
            "{what} of the removed user left"
        );
        assert_eq!(hids.len(), n, "{what} of the other user kept");
    };
    // The other user's access token expired in 2019: the removal is a write, and every
    // write purges the expired access tokens of all partitions.
    left(
        0,
        "access tokens",
        cache
            .access_tokens()
            .into_iter()
            .map(|e| e.home_account_id)
            .collect(),
    );
    left(
        1,
        "refresh tokens",
        cache
            .refresh_tokens()
            .into_iter()
            .map(|e| e.home_account_id)
            .collect(),
    );
    left(
        1,
        "ID tokens",
        cache
            .id_tokens()
            .into_iter()
            .map(|e| e.home_account_id)
            .collect(),
    );
    left(
        1,
        "accounts",
        cache
            .accounts()
            .into_iter()
            .map(|e| Some(e.home_account_id))
            .collect(),
    );
    assert_eq!(
        app.get_accounts(None).await.unwrap()[0].username,
        "user2@bogavrilLTD.onmicrosoft.com"
    );
    assert_eq!(cache.app_metadata().len(), 1, "app metadata stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_refresh_tokens_differing_by_key_case_the_lower_case_one_is_redeemed() {
    // MSAL Go's v1.0 + v1.1 cache again, this time redeemed: a test authority that answers
    // as `login.windows.net` (the cache's environment) receives the refresh token of the
    // lower-case key ("a refresh token") first, never the v1.0 "wrong value" first.
    let auth = msal_testkit::TestAuthority::builder()
        .extra_host_names(["login.windows.net"])
        .start()
        .await
        .unwrap();
    auth.register_app(msal_testkit::AppRegistration::with_secret(
        "my_client_id",
        support::SECRET,
    ));
    let cache = load("go/v1.0_v1.1_cache.json");
    let app = ConfidentialClientApplication::builder("my_client_id")
        .authority(format!(
            "https://login.windows.net:{}/{}",
            auth.port(),
            auth.tenant_id()
        ))
        .client_credential(ClientCredential::secret(support::SECRET))
        .http_client(support::client_resolving(&auth, &["login.windows.net"]))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let account = app.get_accounts(None).await.unwrap().remove(0);
    // The refresh tokens are the fixture's, unknown to this authority: both are refused.
    let err = app
        .acquire_token_silent_with_error(&["s1"], &account, msal_runtime::SilentOptions::default())
        .await;
    assert!(err.is_err(), "{err:?}");
    let sent: Vec<String> = auth
        .token_requests()
        .iter()
        .filter_map(|r| r.form_value("refresh_token").map(str::to_string))
        .collect();
    assert_eq!(
        sent.first().map(String::as_str),
        Some("a refresh token"),
        "{sent:?}"
    );
    assert!(auth
        .requests()
        .iter()
        .all(|r| r.host.starts_with("login.windows.net")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_token_of_the_realm_less_adfs_cache_is_redeemed() {
    // MSAL.NET's ADFS cache (no `realm` anywhere): its account is found and its refresh
    // token is the one presented, at the ADFS token endpoint, by a silent call.
    let auth = msal_testkit::TestAuthority::builder()
        .extra_host_names(["fs.msidlab8.com"])
        .start()
        .await
        .unwrap();
    auth.register_app(msal_testkit::AppRegistration::with_secret(
        "PublicClientId",
        support::SECRET,
    ));
    let cache = load("dotnet/token_cache_adfs.json");
    let app = ConfidentialClientApplication::builder("PublicClientId")
        .authority(format!("https://fs.msidlab8.com:{}/adfs", auth.port()))
        .client_credential(ClientCredential::secret(support::SECRET))
        .http_client(support::client_resolving(&auth, &["fs.msidlab8.com"]))
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let accounts = app.get_accounts(None).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username, "fidlab@msidlab8.com");
    // The fixture's refresh token is unknown to this authority: refused, but presented.
    let outcome = app
        .acquire_token_silent_with_error(
            &["User.Read"],
            &accounts[0],
            msal_runtime::SilentOptions::default(),
        )
        .await;
    assert!(outcome.is_err(), "{outcome:?}");
    let post = auth.token_requests().pop().expect("a refresh request");
    assert_eq!(post.path, "/adfs/oauth2/token");
    assert_eq!(post.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(post.form_value("refresh_token"), Some("secret"));
}
