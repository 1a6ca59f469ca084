//! Side-by-side performance of this crate and MSAL Python, in one run, against one local
//! HTTPS authority (msal-testkit, on its own runtime thread in this process).
//!
//! `cargo bench --bench compare` runs every row for this crate; with
//! `-- --python PATH` (what `bench/compare.sh` passes: the project's `.venv`) it runs the
//! same scenarios through MSAL Python (`bench/msal_python.py`) and prints one table with
//! the ratios and the targets of issue 10. `-- --json FILE` also writes the figures.
//! Without `--bench` (as `cargo test --all-targets` runs it) it does nothing.
//!
//! Rows that need a fresh process (the first app of a process, its resident memory) start
//! this binary again (`--child ...`); the fleet row starts eight of them against one
//! `redis-server` (needs `redis-server` on PATH; the rows are skipped without it).

use msal_runtime::{ClientCredential, ConfidentialClientApplication, TokenCache, Verify};
use msal_testkit::{AppRegistration, TestAuthority};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CLIENT_ID: &str = "b3c4c0de-0000-4000-8000-00000000be7c";
const SECRET: &str = "bench~secret-value";
const SCOPE: &str = "https://graph.microsoft.com/.default";

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("compare: a benchmark; run it with `cargo bench --bench compare`");
        return Ok(());
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let python = opt("--python").map(PathBuf::from);
    let json_out = opt("--json").map(PathBuf::from);
    run(python, json_out)
}

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

struct Env {
    auth: TestAuthority,
    authority: String,
    ca: PathBuf,
    dir: tempfile::TempDir,
}

fn run(python: Option<PathBuf>, json_out: Option<PathBuf>) -> BoxResult<()> {
    // The authority gets its own runtime (one worker thread), as a separate server would.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let auth = server_rt.block_on(
        TestAuthority::builder()
            .app(AppRegistration::with_secret(CLIENT_ID, SECRET))
            .start(),
    )?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, auth.ca_pem())?;
    let env = Env {
        authority: auth.authority(auth.tenant_id()),
        auth,
        ca,
        dir,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    eprintln!("preparing caches of 10k and 100k tenants ...");
    rt.block_on(write_big_caches(&env))?;

    let mut rust = Map::new();
    eprintln!("this crate ...");
    rust_rows(&env, &rt, &mut rust)?;
    let mut py = Map::new();
    if let Some(python) = &python {
        eprintln!("MSAL Python ...");
        python_rows(&env, python, &mut py)?;
    }
    let table = render(&rust, &py, python.is_some());
    println!("{table}");
    if let Some(p) = rust.get("first_app_tls_profile") {
        println!("first app of a process, TLS set-up (medians, ms): {p}");
    }
    if let Some(path) = json_out {
        let doc = json!({ "rust": rust, "python": py, "machine": machine() });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    drop(server_rt);
    Ok(())
}

fn builder(env: &Env) -> msal_runtime::ConfidentialClientApplicationBuilder {
    ConfidentialClientApplication::builder(CLIENT_ID)
        .authority(env.authority.as_str())
        .client_credential(ClientCredential::secret(SECRET))
        .verify(Verify::CaBundle(env.ca.clone()))
        .instance_discovery(false)
}

fn app_on(env: &Env, cache: &TokenCache) -> ConfidentialClientApplication {
    builder(env)
        .token_cache(cache.clone())
        .build()
        .expect("app")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Medians of `reps` timings of `f` (each awaited alone), in microseconds.
async fn time_hits(app: &ConfidentialClientApplication, reps: usize) -> f64 {
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        let r = app.acquire_token_for_client(&[SCOPE]).await.expect("hit");
        t.push(us(s.elapsed()));
        std::hint::black_box(r);
    }
    median(t)
}

/// 80,000 hits spread over `tasks` tasks; the time until the last is done, in ms.
async fn hits_by_tasks(app: &Arc<ConfidentialClientApplication>, tasks: usize) -> BoxResult<f64> {
    const HITS: usize = 80_000;
    let s = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                for _ in 0..HITS / tasks {
                    let r = app.acquire_token_for_client(&[SCOPE]).await?;
                    std::hint::black_box(r);
                }
                Ok::<_, msal_runtime::Error>(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    Ok(ms(s.elapsed()))
}

const HIT_REPS: usize = 5000;
const FRESH_PROCESS_REPS: usize = 5;
const APP_REPS: usize = 30;

fn rust_rows(
    env: &Env,
    rt: &tokio::runtime::Runtime,
    out: &mut Map<String, Value>,
) -> BoxResult<()> {
    // The first app of a fresh process.
    let mut construct = Vec::new();
    let mut first = Vec::new();
    for _ in 0..FRESH_PROCESS_REPS {
        let v = run_child(&["first-app", &env.authority, &path_str(&env.ca)])?;
        construct.push(v["construct_ms"].as_f64().unwrap_or(f64::NAN));
        first.push(v["first_token_ms"].as_f64().unwrap_or(f64::NAN));
    }
    out.insert("construct_first_ms".into(), median(construct).into());
    out.insert("first_token_first_ms".into(), median(first).into());
    let mut probes: Vec<Value> = Vec::new();
    for _ in 0..FRESH_PROCESS_REPS {
        probes.push(run_child(&[
            "tls-probe",
            &env.authority,
            &path_str(&env.ca),
        ])?);
    }
    let mut profile = Map::new();
    for key in probes[0]
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let v: Vec<f64> = probes.iter().filter_map(|p| p[&key].as_f64()).collect();
        profile.insert(key, median(v).into());
    }
    out.insert("first_app_tls_profile".into(), Value::Object(profile));

    rt.block_on(async {
        // One raw POST on a warm connection.
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(env.auth.ca_pem())?])
            .build()?;
        let endpoint = format!("{}/oauth2/v2.0/token", env.authority);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ];
        let mut t = Vec::new();
        for i in 0..APP_REPS + 3 {
            let s = Instant::now();
            let r = client.post(&endpoint).form(&form).send().await?;
            let body = r.bytes().await?;
            if i >= 3 {
                t.push(ms(s.elapsed()));
            }
            std::hint::black_box(body);
        }
        out.insert("raw_post_warm_ms".into(), median(t).into());

        // A further app in this process: construct, and construct plus first token.
        let warm = app_on(env, &TokenCache::new());
        warm.acquire_token_for_client(&[SCOPE]).await?;
        let mut construct = Vec::new();
        let mut further = Vec::new();
        for _ in 0..APP_REPS {
            let s = Instant::now();
            let app = app_on(env, &TokenCache::new());
            construct.push(ms(s.elapsed()));
            app.acquire_token_for_client(&[SCOPE]).await?;
            further.push(ms(s.elapsed()));
        }
        out.insert("construct_further_ms".into(), median(construct).into());
        out.insert("further_token_ms".into(), median(further).into());

        // Hits in memory: one tenant, then 100k tenants in the cache.
        let app = app_on(env, &TokenCache::new());
        app.acquire_token_for_client(&[SCOPE]).await?;
        out.insert(
            "hit_memory_us".into(),
            time_hits(&app, HIT_REPS).await.into(),
        );
        let big = TokenCache::new();
        big.deserialize(&std::fs::read_to_string(
            env.dir.path().join("cache-100k.json"),
        )?)?;
        let app = app_on(env, &big);
        app.acquire_token_for_client(&[SCOPE]).await?;
        out.insert(
            "hit_memory_100k_us".into(),
            time_hits(&app, HIT_REPS).await.into(),
        );
        drop(app);
        drop(big);

        // How hits scale: 80,000 hits by one task, then spread over 8 tasks, on this
        // runtime's workers (one per core).
        let app = Arc::new(app_on(env, &TokenCache::new()));
        app.acquire_token_for_client(&[SCOPE]).await?;
        let (mut one, mut eight) = (Vec::new(), Vec::new());
        for _ in 0..11 {
            one.push(hits_by_tasks(&app, 1).await?);
            eight.push(hits_by_tasks(&app, 8).await?);
        }
        let (one, eight) = (median(one), median(eight));
        out.insert("hits_80k_1_task_ms".into(), one.into());
        out.insert("hits_80k_8_tasks_ms".into(), eight.into());
        out.insert("hits_8_tasks_speedup".into(), (one / eight).into());
        drop(app);

        // Deserialize and serialize 10k tokens.
        let text = std::fs::read_to_string(env.dir.path().join("cache-10k.json"))?;
        let (mut de, mut ser) = (Vec::new(), Vec::new());
        for _ in 0..15 {
            let c = TokenCache::new();
            let s = Instant::now();
            c.deserialize(&text)?;
            de.push(ms(s.elapsed()));
            let s = Instant::now();
            std::hint::black_box(c.serialize());
            ser.push(ms(s.elapsed()));
        }
        out.insert("deserialize_10k_ms".into(), median(de).into());
        out.insert("serialize_10k_ms".into(), median(ser).into());

        // A file-cache hit (straight after this handle wrote the file).
        let path = env.dir.path().join("file-cache-rust.json");
        let app = app_on(env, &TokenCache::file(&path)?);
        app.acquire_token_for_client(&[SCOPE]).await?;
        out.insert("hit_file_us".into(), time_hits(&app, HIT_REPS).await.into());
        // Another process's write: how long until a call sees it.
        out.insert(
            "file_write_seen_ms".into(),
            file_write_seen(env, &path, &app).await?.into(),
        );

        // 1,000 concurrent cold callers on one app.
        let app = Arc::new(app_on(env, &TokenCache::new()));
        env.auth.clear_requests();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(async move { app.acquire_token_for_client(&[SCOPE]).await })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        out.insert(
            "cold_1000_requests".into(),
            env.auth.token_requests().len().into(),
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;

    match redis::RedisServer::start(env.dir.path()) {
        Some(server) => {
            rt.block_on(redis_rows(env, &server, out))?;
            fleet_row(env, &server, out)?;
        }
        None => eprintln!("redis-server is not on PATH: the Redis rows are skipped"),
    }

    let v = run_child(&[
        "rss",
        &env.authority,
        &path_str(&env.ca),
        &path_str(&env.dir.path().join("cache-100k.json")),
    ])?;
    out.insert("rss_100k_mib".into(), v["rss_mib"].clone());
    Ok(())
}

/// Rewrites the cache file as another process would (a new token under the same key, the
/// file replaced), then times how long the app keeps serving the old token.
async fn file_write_seen(
    env: &Env,
    path: &Path,
    app: &ConfidentialClientApplication,
) -> BoxResult<f64> {
    let mut samples = Vec::new();
    for i in 0..5 {
        let old = app.acquire_token_for_client(&[SCOPE]).await?;
        let marker = format!("rewritten-by-another-process-{i}");
        let text = std::fs::read_to_string(path)?;
        let mut doc: Value = serde_json::from_str(&text)?;
        for (_, at) in doc["AccessToken"].as_object_mut().into_iter().flatten() {
            at["secret"] = Value::String(marker.clone());
        }
        let tmp = env.dir.path().join("other-process.tmp");
        std::fs::write(&tmp, serde_json::to_string(&doc)?)?;
        std::fs::rename(&tmp, path)?;
        let written = Instant::now();
        loop {
            let t = app.acquire_token_for_client(&[SCOPE]).await?;
            if t.access_token.secret() == marker {
                break;
            }
            assert_eq!(t.access_token.secret(), old.access_token.secret());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(ms(written.elapsed()));
        // Back to a real token for the next round.
        app.remove_tokens_for_client().await?;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    Ok(samples.into_iter().fold(0.0, f64::max))
}

async fn redis_rows(
    env: &Env,
    server: &redis::RedisServer,
    out: &mut Map<String, Value>,
) -> BoxResult<()> {
    let app = app_on(env, &TokenCache::redis(&server.url(), "bench:")?);
    app.acquire_token_for_client(&[SCOPE]).await?;
    out.insert(
        "hit_redis_us".into(),
        time_hits(&app, HIT_REPS).await.into(),
    );
    // Another instance removes the token: how long until this one stops serving it.
    let other = app_on(env, &TokenCache::redis(&server.url(), "bench:")?);
    let mut samples = Vec::new();
    for _ in 0..5 {
        let held = app.acquire_token_for_client(&[SCOPE]).await?;
        other.acquire_token_for_client(&[SCOPE]).await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let removed = Instant::now();
        other.remove_tokens_for_client().await?;
        loop {
            let t = app.acquire_token_for_client(&[SCOPE]).await?;
            if t.access_token.secret() != held.access_token.secret() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(ms(removed.elapsed()));
    }
    out.insert(
        "redis_removal_seen_ms".into(),
        samples.into_iter().fold(0.0, f64::max).into(),
    );
    Ok(())
}

/// Eight processes sharing one Redis cache, started cold at one moment, 100 callers each.
fn fleet_row(
    env: &Env,
    server: &redis::RedisServer,
    out: &mut Map<String, Value>,
) -> BoxResult<()> {
    env.auth.clear_requests();
    let start_at = epoch_ms() + 1500;
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(std::env::current_exe()?)
                .args(["--child", "fleet", &env.authority, &path_str(&env.ca)])
                .arg(server.url())
                .arg(start_at.to_string())
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for c in children {
        let o = c.wait_with_output()?;
        if !o.status.success() {
            return Err("a fleet process failed".into());
        }
    }
    out.insert(
        "fleet_8x100_requests".into(),
        env.auth.token_requests().len().into(),
    );
    Ok(())
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn run_child(args: &[&str]) -> BoxResult<Value> {
    let o = Command::new(std::env::current_exe()?)
        .arg("--child")
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    if !o.status.success() {
        return Err(format!("child {args:?} failed").into());
    }
    let line = String::from_utf8_lossy(&o.stdout);
    Ok(serde_json::from_str(line.lines().last().unwrap_or("{}"))?)
}

/// Caches holding one app token in each of 10k and 100k tenants (plus the default tenant's
/// real token), written as MSAL JSON for both libraries to load.
async fn write_big_caches(env: &Env) -> BoxResult<()> {
    let cache = TokenCache::new();
    let app = app_on(env, &cache);
    app.acquire_token_for_client(&[SCOPE]).await?;
    let doc: Value = serde_json::from_str(&cache.serialize())?;
    let tenant = env.auth.tenant_id().to_ascii_lowercase();
    for n in [10_000usize, 100_000] {
        let mut d = doc.clone();
        let ats = d["AccessToken"].as_object_mut().ok_or("no AccessToken")?;
        let (key, entry) = ats
            .iter()
            .next()
            .map(|(k, v)| (k.clone(), v.clone()))
            .ok_or("empty")?;
        for i in 0..n - 1 {
            let realm = format!("{i:08x}-0000-4000-8000-{i:012x}");
            let mut e = entry.clone();
            e["realm"] = Value::String(realm.clone());
            ats.insert(key.replace(&tenant, &realm), e);
        }
        let name = if n == 10_000 {
            "cache-10k.json"
        } else {
            "cache-100k.json"
        };
        std::fs::write(env.dir.path().join(name), serde_json::to_string(&d)?)?;
    }
    env.auth.clear_requests();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

fn child(args: &[String]) -> BoxResult<()> {
    let arg = |i: usize| args.get(i).cloned().ok_or("missing argument");
    let (mode, authority, ca) = (arg(0)?, arg(1)?, PathBuf::from(arg(2)?));
    let child_builder = || {
        ConfidentialClientApplication::builder(CLIENT_ID)
            .authority(authority.as_str())
            .client_credential(ClientCredential::secret(SECRET))
            .verify(Verify::CaBundle(ca.clone()))
            .instance_discovery(false)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let out = match mode.as_str() {
        "first-app" => rt.block_on(async {
            let s = Instant::now();
            let app = child_builder().build()?;
            let constructed = s.elapsed();
            app.acquire_token_for_client(&[SCOPE]).await?;
            let total = s.elapsed();
            Ok::<_, Box<dyn std::error::Error>>(json!({
                "construct_ms": ms(constructed),
                "first_token_ms": ms(total),
            }))
        })?,
        "rss" => rt.block_on(async {
            let cache = TokenCache::new();
            cache.deserialize(&std::fs::read_to_string(arg(3)?)?)?;
            let app = child_builder().token_cache(cache).build()?;
            app.acquire_token_for_client(&[SCOPE]).await?;
            Ok::<_, Box<dyn std::error::Error>>(json!({ "rss_mib": rss_mib() }))
        })?,
        "fleet" => rt.block_on(async {
            let cache = TokenCache::redis(&arg(3)?, "fleet:")?;
            let app = Arc::new(child_builder().token_cache(cache).build()?);
            let start_at: u128 = arg(4)?.parse()?;
            let wait = start_at.saturating_sub(epoch_ms());
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let app = app.clone();
                    tokio::spawn(async move { app.acquire_token_for_client(&[SCOPE]).await })
                })
                .collect();
            for t in tasks {
                t.await??;
            }
            Ok::<_, Box<dyn std::error::Error>>(json!({ "ok": 100 }))
        })?,
        "tls-probe" => tls_probe(&ca)?,
        other => return Err(format!("unknown child mode {other}").into()),
    };
    println!("{out}");
    Ok(())
}

/// Where the construction of the first app of a process goes: one OpenSSL context with
/// the default verify paths (what `SslConnector::builder` does), then reqwest clients
/// (native-tls: that context plus native-tls's own load of the same bundle) with the
/// system roots and with only a custom bundle, then a second identical client.
fn tls_probe(ca: &Path) -> BoxResult<Value> {
    let s = Instant::now();
    let ctx = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())?;
    let openssl_default_paths = ms(s.elapsed());
    drop(ctx);
    let s = Instant::now();
    let ctx = openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls())?;
    let openssl_bare = ms(s.elapsed());
    drop(ctx);
    let s = Instant::now();
    let c = reqwest::Client::builder().build()?;
    let reqwest_system = ms(s.elapsed());
    drop(c);
    let pem = std::fs::read(ca)?;
    let s = Instant::now();
    let c = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?)
        .build()?;
    let reqwest_bundle = ms(s.elapsed());
    drop(c);
    let s = Instant::now();
    let c = reqwest::Client::builder().build()?;
    let reqwest_again = ms(s.elapsed());
    drop(c);
    Ok(json!({
        "openssl_context_with_default_paths_ms": openssl_default_paths,
        "openssl_bare_context_ms": openssl_bare,
        "reqwest_client_system_roots_ms": reqwest_system,
        "reqwest_client_bundle_only_ms": reqwest_bundle,
        "reqwest_client_again_ms": reqwest_again,
    }))
}

/// This process's resident set, MiB (Linux; NaN elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------------------------------
// MSAL Python
// ---------------------------------------------------------------------------------------

fn python_cmd(env: &Env, python: &Path, mode: &str) -> Command {
    let mut c = Command::new(python);
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/msal_python.py"))
        .arg(mode)
        .arg(&env.authority)
        .arg(CLIENT_ID)
        .arg(SECRET)
        .arg(env.dir.path())
        .env("REQUESTS_CA_BUNDLE", &env.ca)
        .env("CURL_CA_BUNDLE", &env.ca)
        .env("NO_PROXY", "*")
        .stderr(Stdio::inherit());
    c
}

fn run_python(env: &Env, python: &Path, mode: &str) -> BoxResult<Value> {
    let o = python_cmd(env, python, mode).output()?;
    if !o.status.success() {
        return Err(format!("MSAL Python ({mode}) failed").into());
    }
    let text = String::from_utf8_lossy(&o.stdout);
    Ok(serde_json::from_str(text.lines().last().unwrap_or("{}"))?)
}

fn python_rows(env: &Env, python: &Path, out: &mut Map<String, Value>) -> BoxResult<()> {
    let mut construct = Vec::new();
    let mut first = Vec::new();
    for _ in 0..FRESH_PROCESS_REPS {
        let v = run_python(env, python, "first-app")?;
        construct.push(v["construct_ms"].as_f64().unwrap_or(f64::NAN));
        first.push(v["first_token_ms"].as_f64().unwrap_or(f64::NAN));
    }
    out.insert("construct_first_ms".into(), median(construct).into());
    out.insert("first_token_first_ms".into(), median(first).into());
    let v = run_python(env, python, "suite")?;
    for (k, v) in v.as_object().into_iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    env.auth.clear_requests();
    run_python(env, python, "cold")?;
    out.insert(
        "cold_1000_requests".into(),
        env.auth.token_requests().len().into(),
    );
    let v = run_python(env, python, "rss")?;
    out.insert("rss_100k_mib".into(), v["rss_mib"].clone());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

struct Row {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        key: "construct_first_ms",
        label: "construct the first app of a process",
        unit: "ms",
    },
    Row {
        key: "first_token_first_ms",
        label: "first app of a process: construct + first token",
        unit: "ms",
    },
    Row {
        key: "construct_further_ms",
        label: "construct a further app",
        unit: "ms",
    },
    Row {
        key: "raw_post_warm_ms",
        label: "one raw token POST, warm connection",
        unit: "ms",
    },
    Row {
        key: "further_token_ms",
        label: "further app: construct + first token",
        unit: "ms",
    },
    Row {
        key: "hit_memory_us",
        label: "memory hit, 1 tenant",
        unit: "µs",
    },
    Row {
        key: "hit_memory_100k_us",
        label: "memory hit, 100k tenants",
        unit: "µs",
    },
    Row {
        key: "hits_8_tasks_speedup",
        label: "80k hits by 8 tasks: speed-up over 1 task",
        unit: "×",
    },
    Row {
        key: "deserialize_10k_ms",
        label: "deserialize 10k tokens",
        unit: "ms",
    },
    Row {
        key: "serialize_10k_ms",
        label: "serialize 10k tokens",
        unit: "ms",
    },
    Row {
        key: "rss_100k_mib",
        label: "RSS holding 100k tenants",
        unit: "MiB",
    },
    Row {
        key: "hit_file_us",
        label: "file-cache hit",
        unit: "µs",
    },
    Row {
        key: "file_write_seen_ms",
        label: "another process's file write seen after (max)",
        unit: "ms",
    },
    Row {
        key: "hit_redis_us",
        label: "Redis hit",
        unit: "µs",
    },
    Row {
        key: "redis_removal_seen_ms",
        label: "another instance's Redis removal seen after (max)",
        unit: "ms",
    },
    Row {
        key: "cold_1000_requests",
        label: "1,000 concurrent cold callers: token requests",
        unit: "",
    },
    Row {
        key: "fleet_8x100_requests",
        label: "8 processes x 100 callers on Redis: token requests",
        unit: "",
    },
];

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64).filter(|v| v.is_finite())
}

/// The target of issue 10 for a row, and whether this crate meets it.
fn target(key: &str, rust: &Map<String, Value>, py: &Map<String, Value>) -> (String, Option<bool>) {
    let r = |k: &str| num(rust, k);
    match key {
        "first_token_first_ms" => match (r(key), num(py, key)) {
            (Some(a), Some(b)) => ("≤ MSAL Python".into(), Some(a <= b)),
            _ => ("≤ MSAL Python".into(), None),
        },
        "hit_memory_us" => (
            "≥ 100× faster".into(),
            r(key).zip(num(py, key)).map(|(a, b)| a * 100.0 <= b),
        ),
        "hit_memory_100k_us" => (
            "≥ 100× faster, ≤ 1.5× of 1 tenant".into(),
            r(key)
                .zip(num(py, key))
                .zip(r("hit_memory_us"))
                .map(|((a, b), one)| a * 100.0 <= b && a <= 1.5 * one),
        ),
        "hits_8_tasks_speedup" => ("≥ 1.8×".into(), r(key).map(|a| a >= 1.8)),
        "deserialize_10k_ms" | "serialize_10k_ms" => (
            "≥ 5× faster".into(),
            r(key).zip(num(py, key)).map(|(a, b)| a * 5.0 <= b),
        ),
        "rss_100k_mib" => (
            "≤ ½".into(),
            r(key).zip(num(py, key)).map(|(a, b)| a * 2.0 <= b),
        ),
        "further_token_ms" => (
            "≤ 1.5× raw POST".into(),
            r(key).zip(r("raw_post_warm_ms")).map(|(a, b)| a <= 1.5 * b),
        ),
        "hit_file_us" => (
            "≤ 5× memory hit".into(),
            r(key).zip(r("hit_memory_us")).map(|(a, b)| a <= 5.0 * b),
        ),
        "hit_redis_us" => (
            "≤ 2× memory hit".into(),
            r(key).zip(r("hit_memory_us")).map(|(a, b)| a <= 2.0 * b),
        ),
        "file_write_seen_ms" | "redis_removal_seen_ms" => {
            ("≤ 100 ms".into(), r(key).map(|a| a <= 100.0))
        }
        "cold_1000_requests" | "fleet_8x100_requests" => ("= 1".into(), r(key).map(|a| a == 1.0)),
        _ => (String::new(), None),
    }
}

fn fmt(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if unit.is_empty() => format!("{v:.0}"),
        Some(v) if v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) if v >= 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

fn render(rust: &Map<String, Value>, py: &Map<String, Value>, with_python: bool) -> String {
    let mut s = String::new();
    s.push_str("| scenario | MSAL Python | this crate | crate / Python | target | met |\n");
    s.push_str("|---|---:|---:|---:|---|---|\n");
    for row in ROWS {
        let (r, p) = (num(rust, row.key), num(py, row.key));
        let ratio = match (r, p) {
            (Some(r), Some(p)) if p > 0.0 => format!("{:.2}×", r / p),
            _ => "n/a".into(),
        };
        let (goal, met) = target(row.key, rust, py);
        let met = match met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let p = if with_python {
            fmt(p, row.unit)
        } else {
            "not run".into()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.label,
            p,
            fmt(r, row.unit),
            ratio,
            goal,
            met
        ));
    }
    s
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "os": std::env::consts::OS,
    })
}

mod redis {
    //! A throwaway `redis-server` on a free loopback port, no persistence.
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    pub(crate) struct RedisServer {
        child: Child,
        port: u16,
    }

    impl RedisServer {
        pub(crate) fn start(dir: &Path) -> Option<RedisServer> {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let server = RedisServer { child, port };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let pong = ::redis::Client::open(server.url())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
                    .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c));
                if pong.is_ok() {
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        }

        pub(crate) fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
