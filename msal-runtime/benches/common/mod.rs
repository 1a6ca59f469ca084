//! Fixtures of the benchmarks: a test authority on loopback, an app pointed at it, and
//! MSAL-format caches of realistic app-only tokens (about 2 KB an entry, as Entra issues).
#![allow(dead_code)]

use msal_runtime::{ClientCredential, ConfidentialClientApplication, Verify};
use msal_testkit::{AppRegistration, TestAuthority};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub const CLIENT_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c11e";
pub const SECRET: &str = "s3cr3t-value-for-benches";
pub const GRAPH: &str = "https://graph.microsoft.com/.default";

/// Under `cargo bench` the sizes asked; under `cargo test` (which builds and runs each
/// benchmark once, so they cannot rot) at most 1,000, to keep the test suite quick.
pub fn size(n: usize) -> usize {
    if std::env::args().any(|a| a == "--bench") {
        n
    } else {
        n.min(1_000)
    }
}

/// A multi-thread runtime with two workers (the machine the targets were set on).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A started authority and an app whose cache holds its own token plus app tokens of
/// `tenants - 1` other tenants of the same client (one partition each).
pub fn app_with_tenants(
    rt: &tokio::runtime::Runtime,
    tenants: usize,
) -> (TestAuthority, ConfidentialClientApplication) {
    rt.block_on(async {
        let auth = TestAuthority::start().await;
        auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
        let app = ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(auth.authority(auth.tenant_id()))
            .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
            .instance_discovery_endpoint(auth.instance_discovery_url())
            .imds_endpoint(auth.imds_url())
            .client_credential(ClientCredential::secret(SECRET))
            .build()
            .expect("the app builds");
        let host = url::Url::parse(&auth.base_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        app.token_cache()
            .deserialize(&cache_json(tenants.saturating_sub(1), &host))
            .expect("the fixture parses");
        app.acquire_token_for_client(&[GRAPH])
            .await
            .expect("the first token");
        (auth, app)
    })
}

/// Polls `f` once (a cache hit completes without waiting); drives it on `rt` otherwise.
/// Call it inside `rt.enter()` (a call that leaves starts its deadline timer).
pub fn run<F: Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => rt.block_on(f),
    }
}

/// A deterministic JWT-sized secret (about 1,650 characters of base64url).
fn secret(i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = String::with_capacity(1650);
    s.push_str("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.");
    while s.len() < 1650 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(ALPHABET[(x % 64) as usize] as char);
    }
    s
}

/// An MSAL cache (MSAL Python's layout) of `n` app-only access tokens, one tenant each,
/// under `environment`, with an unknown field on every entry and an unknown section.
pub fn cache_json(n: usize, environment: &str) -> String {
    let mut at = serde_json::Map::new();
    for i in 0..n {
        let realm = format!("{:08x}-0000-4000-8000-{:012x}", i, i);
        let key = format!("-{environment}-accesstoken-{CLIENT_ID}-{realm}-{GRAPH}");
        at.insert(
            key,
            serde_json::json!({
                "credential_type": "AccessToken",
                "secret": secret(i),
                "home_account_id": null,
                "environment": environment,
                "client_id": CLIENT_ID,
                "target": GRAPH,
                "realm": realm,
                "token_type": "Bearer",
                "cached_at": "1764543600",
                "expires_on": "4102444800",
                "extended_expires_on": "4102444800",
                "x_vendor_note": "kept",
            }),
        );
    }
    let root = serde_json::json!({
        "AccessToken": at,
        "AppMetadata": {
            format!("appmetadata-{environment}-{CLIENT_ID}"): {
                "client_id": CLIENT_ID, "environment": environment
            }
        },
        "FutureSection": {"k": {"v": 1}},
    });
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&root, &mut ser).expect("to memory");
    String::from_utf8(buf).expect("UTF-8")
}
