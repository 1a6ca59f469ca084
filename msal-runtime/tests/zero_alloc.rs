//! A cached `acquire_token_for_client` allocates nothing: counted by a global allocator
//! that tallies every allocation of the process, over many hits through the typed
//! (`Scopes`) and the dynamic (`&[&str]`) paths. The returned token is the cache entry's
//! own (the same storage), not a copy.
//!
//! Everything runs on a current-thread runtime that is idle while hits are counted, so no
//! other thread allocates during the count.

use msal_runtime::{ClientCredential, ConfidentialClientApplication, Scopes, TokenSource, Verify};
use msal_testkit::{AppRegistration, TestAuthority};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CLIENT_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c11e";
const SECRET: &str = "s3cr3t-value-for-tests";
const GRAPH: &str = "https://graph.microsoft.com/.default";
const HITS: usize = 1_000;

/// Polls once: a hit completes without waiting for anything.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cache hit waited for something"),
    }
}

#[test]
fn a_cache_hit_allocates_nothing_on_either_path() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_auth, app) = rt.block_on(async {
        let auth = TestAuthority::start().await;
        auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET));
        let app = ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(auth.authority(auth.tenant_id()))
            .verify(Verify::CaBundle(auth.ca_path().to_path_buf()))
            .instance_discovery_endpoint(auth.instance_discovery_url())
            .imds_endpoint(auth.imds_url())
            .client_credential(ClientCredential::secret(SECRET))
            .build()
            .unwrap();
        let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        assert_eq!(first.token_source, TokenSource::IdentityProvider);
        (auth, app)
    });
    // In the runtime's context (a call that must leave would start its deadline timer),
    // though nothing runs on it while hits are counted.
    let _enter = rt.enter();
    let scopes = Scopes::new([GRAPH]).unwrap();
    // Warm: the first hits build what is built once (the app's cache partition).
    let a = now(app.acquire_token_for_client(&scopes)).unwrap();
    let b = now(app.acquire_token_for_client(&[GRAPH])).unwrap();
    assert_eq!(a.token_source, TokenSource::Cache);
    assert!(std::ptr::eq(
        a.access_token.secret(),
        b.access_token.secret()
    ));

    let region = Region::new(GLOBAL);
    for _ in 0..HITS {
        let r = now(app.acquire_token_for_client(&scopes)).unwrap();
        assert_eq!(r.token_source, TokenSource::Cache);
    }
    let typed = region.change();
    let region = Region::new(GLOBAL);
    for _ in 0..HITS {
        let r = now(app.acquire_token_for_client(&[GRAPH])).unwrap();
        assert_eq!(r.token_source, TokenSource::Cache);
    }
    let dynamic = region.change();
    assert_eq!(
        (typed.allocations, typed.reallocations),
        (0, 0),
        "typed path, {HITS} hits: {typed:?}"
    );
    assert_eq!(
        (dynamic.allocations, dynamic.reallocations),
        (0, 0),
        "dynamic path, {HITS} hits: {dynamic:?}"
    );
    // Invalid scopes are still refused on the fast path's way.
    assert!(now(app.acquire_token_for_client(&["two words"])).is_err());
}
