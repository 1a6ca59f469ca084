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
//!
//! The first app of a process depends on the TLS back-end the crate was built with. The
//! table's first-app rows name this build's back-end; with `-- --other-tls-child PATH`
//! (repeatable: `bench/compare.sh` builds this bench again for each other back-end and
//! passes those binaries) the first app is also timed through each other back-end, one
//! more row each. `-- --first-app-only` runs only the first-app rows (both sides).

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
    let opts = Opts {
        python: opt("--python").map(PathBuf::from),
        json_out: opt("--json").map(PathBuf::from),
        other_tls_children: args
            .iter()
            .zip(args.iter().skip(1))
            .filter(|(a, _)| *a == "--other-tls-child")
            .map(|(_, p)| PathBuf::from(p))
            .collect(),
        first_app_only: args.iter().any(|a| a == "--first-app-only"),
    };
    run(&opts)
}

struct Opts {
    python: Option<PathBuf>,
    json_out: Option<PathBuf>,
    /// This bench built with other TLS back-ends (their `--child` modes are used).
    other_tls_children: Vec<PathBuf>,
    first_app_only: bool,
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

fn run(opts: &Opts) -> BoxResult<()> {
    let python = &opts.python;
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

    let mut rust = Map::new();
    let mut py = Map::new();
    eprintln!("this crate: the first app of a process ...");
    first_app_rows(&env, &opts.other_tls_children, &mut rust)?;
    if !opts.first_app_only {
        eprintln!("preparing caches of 10k and 100k tenants ...");
        rt.block_on(write_big_caches(&env))?;
        eprintln!("this crate ...");
        rust_rows(&env, &rt, &mut rust)?;
    }
    if let Some(python) = python {
        eprintln!("MSAL Python ...");
        python_rows(&env, python, opts.first_app_only, &mut py)?;
    }
    let table = render(&rust, &py, python.is_some());
    println!("{table}");
    if let Some(p) = rust.get("first_app_tls_profile") {
        println!("first app of a process, TLS set-up (medians, ms): {p}");
    }
    if let Some(path) = &opts.json_out {
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

/// The first app of a fresh process, through this build's TLS back-end and through each
/// other build given (processes take turns, so every back-end sees the same load), then
/// the TLS set-up probe (in a build that has reqwest's own rustls, when one is given).
fn first_app_rows(env: &Env, others: &[PathBuf], out: &mut Map<String, Value>) -> BoxResult<()> {
    let this = std::env::current_exe()?;
    let args = ["first-app", &env.authority, &path_str(&env.ca)];
    let bins: Vec<&Path> = std::iter::once(this.as_path())
        .chain(others.iter().map(PathBuf::as_path))
        .collect();
    // Per binary: its back-end, construct times, construct + first token times.
    let mut runs: Vec<(String, Vec<f64>, Vec<f64>)> =
        vec![(String::new(), Vec::new(), Vec::new()); bins.len()];
    for _ in 0..FRESH_PROCESS_REPS {
        for (bin, run) in bins.iter().zip(runs.iter_mut()) {
            let v = run_child_of(bin, &args)?;
            run.0 = v["tls"].as_str().unwrap_or("?").to_string();
            run.1.push(v["construct_ms"].as_f64().unwrap_or(f64::NAN));
            run.2.push(v["first_token_ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    // The probe times reqwest's own rustls only in a build with `rustls`: prefer one.
    let probe_bin = bins
        .iter()
        .zip(&runs)
        .find(|(_, run)| run.0 == "rustls")
        .map_or(this.clone(), |(bin, _)| bin.to_path_buf());
    let mut runs = runs.into_iter();
    if let Some((tls, construct, first)) = runs.next() {
        out.insert("tls".into(), tls.into());
        out.insert("construct_first_ms".into(), median(construct).into());
        out.insert("first_token_first_ms".into(), median(first).into());
    }
    let others: Vec<Value> = runs
        .map(|(tls, construct, first)| {
            json!({
                "tls": tls,
                "construct_ms": median(construct),
                "first_token_ms": median(first),
            })
        })
        .collect();
    if !others.is_empty() {
        out.insert("first_app_other_tls".into(), others.into());
    }
    let mut probes: Vec<Value> = Vec::new();
    for _ in 0..FRESH_PROCESS_REPS {
        probes.push(run_child_of(
            &probe_bin,
            &["tls-probe", &env.authority, &path_str(&env.ca)],
        )?);
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
    Ok(())
}

fn rust_rows(
    env: &Env,
    rt: &tokio::runtime::Runtime,
    out: &mut Map<String, Value>,
) -> BoxResult<()> {
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
        for _ in 0..21 {
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
    run_child_of(&std::env::current_exe()?, args)
}

/// Runs `bin --child args...` (this bench, or its build with the other TLS back-end) and
/// parses the last line it prints.
fn run_child_of(bin: &Path, args: &[&str]) -> BoxResult<Value> {
    let o = Command::new(bin)
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
                "tls": TLS_BACKEND,
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

/// The TLS back-end this build of the crate uses (the root crate's features mirror
/// msal-runtime's, and so does the order in which they win).
const TLS_BACKEND: &str = if cfg!(feature = "native-tls") {
    "native-tls"
} else if cfg!(feature = "rustls-ring") {
    "rustls-ring"
} else {
    "rustls"
};

/// Where the construction of the first app of a process goes, step by step in one fresh
/// process. rustls first (when this build has it), so its one-time set-up is in its first
/// figure; then OpenSSL's initialization alone, an OpenSSL context with the default verify
/// paths (what `SslConnector::builder` does: one parse of the system bundle), a bare context,
/// a bare context trusting only the bundle, then reqwest clients over native-tls (that
/// context plus native-tls's own load of the same system bundle) with the system roots and
/// with only the bundle, then a second identical client.
fn tls_probe(ca: &Path) -> BoxResult<Value> {
    let pem = std::fs::read(ca)?;
    let mut out = Map::new();
    let mut step = |name: &str, f: &mut dyn FnMut() -> BoxResult<()>| -> BoxResult<()> {
        let s = Instant::now();
        f()?;
        out.insert(format!("{name}_ms"), ms(s.elapsed()).into());
        Ok(())
    };
    #[cfg(feature = "rustls")]
    {
        step("rustls_client_bundle_only", &mut || {
            let c = reqwest::Client::builder()
                .tls_backend_rustls()
                .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?)
                .build()?;
            drop(c);
            Ok(())
        })?;
        step("rustls_client_system_roots", &mut || {
            drop(reqwest::Client::builder().tls_backend_rustls().build()?);
            Ok(())
        })?;
    }
    step("openssl_init", &mut || {
        openssl::init();
        Ok(())
    })?;
    step("openssl_context_with_default_paths", &mut || {
        drop(openssl::ssl::SslConnector::builder(
            openssl::ssl::SslMethod::tls(),
        )?);
        Ok(())
    })?;
    step("openssl_bare_context", &mut || {
        drop(openssl::ssl::SslContext::builder(
            openssl::ssl::SslMethod::tls(),
        )?);
        Ok(())
    })?;
    step("openssl_bare_context_bundle_only", &mut || {
        let mut b = openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls())?;
        b.set_ca_file(ca)?;
        drop(b.build());
        Ok(())
    })?;
    step("native_tls_client_system_roots", &mut || {
        drop(reqwest::Client::builder().tls_backend_native().build()?);
        Ok(())
    })?;
    step("native_tls_client_bundle_only", &mut || {
        let c = reqwest::Client::builder()
            .tls_backend_native()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem)?)
            .build()?;
        drop(c);
        Ok(())
    })?;
    step("native_tls_client_again", &mut || {
        drop(reqwest::Client::builder().tls_backend_native().build()?);
        Ok(())
    })?;
    Ok(Value::Object(out))
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

fn python_rows(
    env: &Env,
    python: &Path,
    first_app_only: bool,
    out: &mut Map<String, Value>,
) -> BoxResult<()> {
    let mut construct = Vec::new();
    let mut first = Vec::new();
    for _ in 0..FRESH_PROCESS_REPS {
        let v = run_python(env, python, "first-app")?;
        construct.push(v["construct_ms"].as_f64().unwrap_or(f64::NAN));
        first.push(v["first_token_ms"].as_f64().unwrap_or(f64::NAN));
    }
    out.insert("construct_first_ms".into(), median(construct).into());
    out.insert("first_token_first_ms".into(), median(first).into());
    if first_app_only {
        return Ok(());
    }
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
        key: "first_token_first_other_tls_ms",
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

/// A row's label; the first-app rows name the TLS back-end they went through.
fn label(row: &Row, rust: &Map<String, Value>) -> String {
    let tls = match row.key {
        "construct_first_ms" | "first_token_first_ms" => rust.get("tls"),
        _ => None,
    };
    match tls.and_then(Value::as_str) {
        Some(t) => format!("{} ({t})", row.label),
        None => row.label.to_string(),
    }
}

/// The target of issue 10 for a row, and whether this crate meets it (the first-app
/// rows, one per TLS back-end, are judged in `render`).
fn target(key: &str, rust: &Map<String, Value>, py: &Map<String, Value>) -> (String, Option<bool>) {
    let r = |k: &str| num(rust, k);
    match key {
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
    // (label, this crate, MSAL Python, unit, key judged by)
    type Line<'a> = (String, Option<f64>, Option<f64>, &'a str, &'a str);
    let mut rows: Vec<Line<'_>> = Vec::new();
    for row in ROWS {
        if row.key == "first_token_first_other_tls_ms" {
            // One row per other TLS back-end, each against the same MSAL Python first app.
            let py_first = num(py, "first_token_first_ms");
            for o in rust
                .get("first_app_other_tls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let tls = o["tls"].as_str().unwrap_or("?");
                rows.push((
                    format!("{} ({tls})", row.label),
                    o["first_token_ms"].as_f64(),
                    py_first,
                    row.unit,
                    "first_token_first_ms",
                ));
            }
            continue;
        }
        rows.push((
            label(row, rust),
            num(rust, row.key),
            num(py, row.key),
            row.unit,
            row.key,
        ));
    }
    for (label, r, p, unit, key) in rows {
        if r.is_none() && p.is_none() {
            continue;
        }
        let ratio = match (r, p) {
            (Some(r), Some(p)) if p > 0.0 => format!("{:.2}×", r / p),
            _ => "n/a".into(),
        };
        let (goal, met) = match key {
            "first_token_first_ms" => ("≤ MSAL Python".to_string(), r.zip(p).map(|(a, b)| a <= b)),
            k => target(k, rust, py),
        };
        let met = match met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let p = if with_python {
            fmt(p, unit)
        } else {
            "not run".into()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            label,
            p,
            fmt(r, unit),
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
