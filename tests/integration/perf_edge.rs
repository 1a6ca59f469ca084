//! Issue 10, the edge of the hit path: what the benchmarks (bench/compare.rs) rely on,
//! checked for behaviour (never for speed).
//!
//! * File: a file-cache hit trusts its copy for a short while; a write by another process
//!   is still seen by a call made 100 ms or more after it.
//! * Redis: hits are served from memory while Redis tracks the prefix (no `HGETALL` per
//!   hit); a change made by another client is seen once Redis reports it.
//! * Fleet: processes sharing Redis, started cold together, make one token request; a
//!   lease left by a holder that died expires and one other instance fetches.

use crate::support::{authority, builder, CLIENT_ID, GRAPH, SECRET};

use msal_runtime::{ClientCredential, ConfidentialClientApplication, TokenCache, TokenSource};
use msal_testkit::TestAuthority;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn app_on(auth: &TestAuthority, cache: &TokenCache) -> ConfidentialClientApplication {
    builder(auth, CLIENT_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .expect("the app builds")
}

// ---------------------------------------------------------------------------------------
// File
// ---------------------------------------------------------------------------------------

/// Replaces the cache file as another process would: every access token's secret becomes
/// `secret`, the file is renamed over the old one.
fn rewrite_as_another_process(path: &Path, secret: &str) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (_, at) in doc["AccessToken"].as_object_mut().unwrap().iter_mut() {
        at["secret"] = Value::String(secret.to_string());
    }
    let tmp = path.with_extension("other-process");
    std::fs::write(&tmp, serde_json::to_string(&doc).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn a_file_written_by_another_process_is_seen_by_a_call_100_ms_later() {
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    let app = app_on(&auth, &TokenCache::file(&path).unwrap());
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(first.token_source, TokenSource::IdentityProvider);
    for round in 0..3 {
        // Hits right before the write (the copy in memory was just checked) ...
        app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        let secret = format!("written-by-another-process-{round}");
        rewrite_as_another_process(&path, &secret);
        // ... do not hide it from a call 100 ms or more later.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        assert_eq!(t.token_source, TokenSource::Cache);
        assert_eq!(t.access_token.secret(), secret, "round {round}");
    }
    assert_eq!(auth.token_requests().len(), 1);
}

#[tokio::test]
async fn a_write_by_another_handle_of_this_process_is_seen_at_once() {
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/../cache.json");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let a = app_on(&auth, &TokenCache::file(&path).unwrap());
    let b = app_on(
        &auth,
        &TokenCache::file(dir.path().join("cache.json")).unwrap(),
    );
    // Both handles looked at the (missing) file when opened: both copies count as fresh.
    let t1 = a.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let t2 = b.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t2.token_source,
        TokenSource::Cache,
        "b sees a's write at once"
    );
    assert_eq!(t1.access_token.secret(), t2.access_token.secret());
    assert_eq!(auth.token_requests().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------

mod redis_server {
    //! A throwaway `redis-server` (installed by scripts/setup.sh) on a free loopback port.
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    pub struct RedisServer {
        child: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl RedisServer {
        pub fn start() -> RedisServer {
            let mut last = String::new();
            for _ in 0..5 {
                let dir = tempfile::tempdir().unwrap();
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
                    .arg("--dir")
                    .arg(dir.path())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server runs (scripts/setup.sh installs it)");
                let mut server = RedisServer {
                    child,
                    port,
                    _dir: dir,
                };
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        last = format!("redis-server exited ({status})");
                        break;
                    }
                    if server.ping() {
                        return server;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            panic!("could not start redis-server: {last}");
        }

        pub fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }

        fn ping(&self) -> bool {
            redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        }

        pub fn conn(&self) -> redis::Connection {
            redis::Client::open(self.url())
                .unwrap()
                .get_connection()
                .unwrap()
        }

        /// How many times a command ran on the server (`INFO commandstats`).
        pub fn calls(&self, command: &str) -> u64 {
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query(&mut self.conn())
                .unwrap();
            let prefix = format!("cmdstat_{command}:calls=");
            info.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|rest| rest.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        }

        pub fn keys(&self, pattern: &str) -> Vec<String> {
            redis::cmd("KEYS")
                .arg(pattern)
                .query(&mut self.conn())
                .unwrap()
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

use redis_server::RedisServer;

/// Waits (bounded) until hits on `app` stop reading Redis: the tracking connection is set
/// up in the background after the first look-up.
async fn until_hits_are_local(app: &ConfidentialClientApplication, server: &RedisServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        let before = server.calls("hgetall");
        for _ in 0..20 {
            let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
            assert_eq!(t.token_source, TokenSource::Cache);
        }
        if server.calls("hgetall") == before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "hits still read Redis 10 s after the first look-up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn redis_hits_are_served_from_memory_until_redis_reports_a_change() {
    let server = RedisServer::start();
    let auth = authority().await;
    let app = app_on(&auth, &TokenCache::redis(&server.url(), "cs:").unwrap());
    let first = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    until_hits_are_local(&app, &server).await;

    // Another process (a plain client here) removes the shard: once Redis reports it,
    // this instance no longer serves the token.
    let shards = server.keys("cs:app:*");
    assert_eq!(shards.len(), 1, "{shards:?}");
    let _: () = redis::cmd("DEL")
        .arg(&shards[0])
        .query(&mut server.conn())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let fresh = loop {
        let t = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        if t.token_source == TokenSource::IdentityProvider {
            break t;
        }
        assert_eq!(t.access_token.secret(), first.access_token.secret());
        assert!(Instant::now() < deadline, "the removal was never seen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_ne!(fresh.access_token.secret(), first.access_token.secret());
    assert_eq!(auth.token_requests().len(), 2);

    // A token another instance writes is picked up the same way.
    let other = app_on(&auth, &TokenCache::redis(&server.url(), "cs:").unwrap());
    until_hits_are_local(&app, &server).await;
    other.remove_tokens_for_client().await.unwrap();
    let third = other.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let seen = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(seen.access_token.secret(), third.access_token.secret());
    assert_eq!(auth.token_requests().len(), 3);
}

// ---------------------------------------------------------------------------------------
// Fleet
// ---------------------------------------------------------------------------------------

/// Set in a copy of this test binary that runs as one process of a fleet:
/// `AUTHORITY|CA|INSTANCE_DISCOVERY|IMDS|REDIS|START_AT_MS`.
const FLEET_ENV: &str = "MSAL_TEST_FLEET_MEMBER";

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One fleet process: 100 concurrent callers at `start_at` on a cold app.
async fn fleet_member(
    app: ConfidentialClientApplication,
    start_at: u64,
) -> Vec<msal_runtime::AuthenticationResult> {
    let app = Arc::new(app);
    tokio::time::sleep(Duration::from_millis(start_at.saturating_sub(epoch_ms()))).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.acquire_token_for_client(&[GRAPH]).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap().expect("a token"));
    }
    out
}

/// A fleet process: this test binary started again with [`FLEET_ENV`] set runs only this
/// test. Run by the suite itself, it checks one member alone.
#[tokio::test]
async fn fleet_member_process() {
    if let Ok(spec) = std::env::var(FLEET_ENV) {
        let p: Vec<&str> = spec.split('|').collect();
        let app = ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(p[0])
            .verify(msal_runtime::Verify::CaBundle(p[1].into()))
            .instance_discovery_endpoint(p[2])
            .imds_endpoint(p[3])
            .client_credential(ClientCredential::secret(SECRET))
            .token_cache(TokenCache::redis(p[4], "fleet:").unwrap())
            .build()
            .unwrap();
        fleet_member(app, p[5].parse().unwrap()).await;
        return;
    }
    let server = RedisServer::start();
    let auth = authority().await;
    let app = app_on(&auth, &TokenCache::redis(&server.url(), "fleet:").unwrap());
    let got = fleet_member(app, epoch_ms()).await;
    assert_eq!(got.len(), 100);
    assert_eq!(auth.token_requests().len(), 1);
    assert!(
        server.keys("fleet:lease:*").is_empty(),
        "the lease is released"
    );
}

fn member_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    if module.is_empty() {
        "fleet_member_process".into()
    } else {
        format!("{module}::fleet_member_process")
    }
}

fn spawn_member(auth: &TestAuthority, redis: &str, start_at: u64) -> Child {
    let spec = [
        auth.authority(auth.tenant_id()),
        auth.ca_path().display().to_string(),
        auth.instance_discovery_url(),
        auth.imds_url(),
        redis.to_string(),
        start_at.to_string(),
    ]
    .join("|");
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &member_test_name(), "--test-threads=1", "-q"])
        .env(FLEET_ENV, spec)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary starts again as a fleet process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_sharing_redis_started_cold_together_make_one_request() {
    let server = RedisServer::start();
    let auth = authority().await;
    let start_at = epoch_ms() + 2000;
    let members: Vec<Child> = (0..8)
        .map(|_| spawn_member(&auth, &server.url(), start_at))
        .collect();
    for m in members {
        let out = tokio::task::spawn_blocking(move || m.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "a fleet process failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        auth.token_requests().len(),
        1,
        "8 processes x 100 callers, one request"
    );
}

#[tokio::test]
async fn a_lease_whose_holder_died_expires_and_one_other_instance_fetches() {
    let server = RedisServer::start();
    let auth = authority().await;
    // The holder: its token request hangs, and it dies holding the lease.
    auth.push_fault(msal_testkit::Fault::once(
        "/oauth2/v2.0/token",
        msal_testkit::FaultKind::Delay(Duration::from_secs(60)),
    ));
    let holder = app_on(&auth, &TokenCache::redis(&server.url(), "lease:").unwrap());
    let task = tokio::spawn(async move { holder.acquire_token_for_client(&[GRAPH]).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while auth.token_requests().is_empty() {
        assert!(Instant::now() < deadline, "the holder never asked");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.keys("lease:lease:*").len(),
        1,
        "the holder took a lease"
    );
    task.abort();

    // Another instance waits for the lease to expire, then fetches; its callers share it.
    let other = Arc::new(app_on(
        &auth,
        &TokenCache::redis(&server.url(), "lease:").unwrap(),
    ));
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let app = other.clone();
            tokio::spawn(async move { app.acquire_token_for_client(&[GRAPH]).await })
        })
        .collect();
    for c in callers {
        let t = c.await.unwrap().unwrap();
        assert!(!t.access_token.secret().is_empty());
    }
    assert_eq!(
        auth.token_requests().len(),
        2,
        "the dead holder's request and one more"
    );
}
