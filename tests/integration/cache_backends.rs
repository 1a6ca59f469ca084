//! The persistent token-cache back-ends, as several processes or instances use them.
//!
//! * File: two handles on one path (as two processes would hold them) share tokens, a
//!   corrupt file is set aside without loss, concurrent writers lose no entries, and the
//!   file is private to its owner. Writer processes (this binary started again, and MSAL
//!   Python with msal-extensions) share one file under the MSAL extensions' lock.
//! * Redis: a real `redis-server` (started here on a free loopback port, no persistence)
//!   shared by several instances; key prefixes, on-behalf-of partitioning, outages.
//!
//! `redis-server` is installed by `scripts/setup.sh`. These tests fail (they never skip)
//! when it is missing.

use crate::support;

use msal_runtime::{
    ClientCredential, ConfidentialClientApplication, Error, TokenCache, TokenSource,
};
use msal_testkit::{AppRegistration, TestAuthority, TestUser};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::{authority, builder, CLIENT_ID, GRAPH, SECRET};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// An app of the test client in `tenant`, on `cache`.
fn app_on(auth: &TestAuthority, tenant: &str, cache: &TokenCache) -> ConfidentialClientApplication {
    builder(auth, CLIENT_ID, tenant)
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .build()
        .expect("the app builds")
}

/// Like [`app_on`], sharing an HTTP client.
fn app_with_client(
    auth: &TestAuthority,
    tenant: &str,
    cache: &TokenCache,
    http: &reqwest::Client,
) -> ConfidentialClientApplication {
    builder(auth, CLIENT_ID, tenant)
        .client_credential(ClientCredential::secret(SECRET))
        .token_cache(cache.clone())
        .http_client(http.clone())
        .build()
        .expect("the app builds")
}

/// Files in `dir` whose names start with `prefix`.
fn files_starting_with(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

/// Warnings and errors logged by the library, captured for assertions. A minimal
/// `tracing` subscriber, installed once for the whole test binary; each test looks for
/// messages naming its own (unique) paths.
mod logs {
    use std::fmt::Write as _;
    use std::sync::{Mutex, OnceLock};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static INSTALLED: OnceLock<()> = OnceLock::new();

    struct Capture;

    struct Line(String);

    impl Visit for Line {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, m: &Metadata<'_>) -> bool {
            *m.level() <= Level::WARN
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event<'_>) {
            let mut line = Line(format!("{}", e.metadata().level()));
            e.record(&mut line);
            LINES.lock().unwrap().push(line.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    pub fn install() {
        INSTALLED.get_or_init(|| {
            tracing::subscriber::set_global_default(Capture)
                .expect("no other global subscriber in this test binary");
        });
    }

    /// Captured lines containing `needle`.
    pub fn containing(needle: &str) -> Vec<String> {
        LINES
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// File cache
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn file_cache_is_shared_by_two_handles_without_a_second_request() {
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/msal-cache.json");

    // Two handles on one path: what two processes holding the same file see.
    let first = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());
    let second = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());

    let t1 = first.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t1.token_source, TokenSource::IdentityProvider);
    assert!(path.exists(), "the parent directories are created");

    let t2 = second.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t2.token_source,
        TokenSource::Cache,
        "the second handle reads the first one's write"
    );
    assert_eq!(t1.access_token.secret(), t2.access_token.secret());
    assert_eq!(auth.token_requests().len(), 1);

    // A handle opened later (a process started later) loads the file at once.
    let third = TokenCache::file(&path).unwrap();
    assert_eq!(third.access_tokens().len(), 1);
    // The file is MSAL's JSON.
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        json["AccessToken"].as_object().unwrap().len() == 1,
        "{text}"
    );
    assert!(json["AppMetadata"].is_object(), "{text}");
}

#[tokio::test]
async fn a_corrupt_cache_file_is_set_aside_and_tokens_are_still_served() {
    logs::install();
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt-while-running.json");
    let cache = TokenCache::file(&path).unwrap();
    let app = app_on(&auth, auth.tenant_id(), &cache);
    let t1 = app.acquire_token_for_client(&[GRAPH]).await.unwrap();

    // Something (a crashed editor, a full disk, another program) leaves garbage behind.
    let garbage = b"{\"AccessToken\": {\"k\": tru";
    std::fs::write(&path, garbage).unwrap();
    // A write by another process is looked at by calls 100 ms or more after it.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let t2 = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t2.token_source,
        TokenSource::Cache,
        "the in-memory copy keeps being served"
    );
    assert_eq!(t1.access_token.secret(), t2.access_token.secret());
    assert_eq!(auth.token_requests().len(), 1);

    let aside = files_starting_with(dir.path(), "corrupt-while-running.json.corrupt-");
    assert_eq!(aside.len(), 1, "the corrupt file is moved aside: {aside:?}");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        garbage,
        "nothing of it is lost"
    );
    let warned = logs::containing(&path.display().to_string());
    assert!(
        warned
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains("corrupt") && l.contains("moved")),
        "a clear warning names the file and where it went: {warned:?}"
    );

    // The next change writes a whole, valid file again, from what the handle holds.
    app.remove_tokens_for_client().await.unwrap();
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let reopened = TokenCache::file(&path).unwrap();
    assert_eq!(reopened.access_tokens().len(), 1);
}

#[tokio::test]
async fn a_corrupt_file_at_start_is_not_a_panic_and_every_copy_is_kept() {
    logs::install();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt-at-start.json");

    // Twice within the same second: both corrupt versions must survive.
    std::fs::write(&path, "first: not json").unwrap();
    let cache = TokenCache::file(&path).expect("a corrupt file does not fail the constructor");
    assert!(cache.access_tokens().is_empty());
    assert!(!path.exists());
    std::fs::write(&path, "[\"second\", \"not an object\"]").unwrap();
    let cache = TokenCache::file(&path).unwrap();
    assert!(cache.access_tokens().is_empty());

    let aside = files_starting_with(dir.path(), "corrupt-at-start.json.corrupt-");
    let mut contents: Vec<String> = aside
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    contents.sort();
    assert_eq!(
        contents,
        vec![
            "[\"second\", \"not an object\"]".to_string(),
            "first: not json".to_string()
        ],
        "each corrupt file is kept under its own name: {aside:?}"
    );
    let warned = logs::containing(&path.display().to_string());
    assert!(warned.len() >= 2, "{warned:?}");
    assert!(
        warned.iter().any(|l| l.contains("not valid JSON")),
        "the warning says why: {warned:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_file_lose_no_entries() {
    let auth = authority().await;
    const TENANTS: usize = 12;
    let tenants: Vec<String> = (0..2 * TENANTS)
        .map(|i| format!("7e57{i:04x}-0000-4000-8000-00000000cafe"))
        .collect();
    for t in &tenants {
        auth.add_tenant(t, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.json");
    let a = TokenCache::file(&path).unwrap();
    let b = TokenCache::file(&path).unwrap();
    // One HTTP client for the 72 apps of this test (building a client per app is slow).
    let http = support::client_resolving(&auth, &[]);

    // Two "processes", each writing tokens for its own tenants, all at the same time.
    let mut tasks = Vec::new();
    for (i, t) in tenants.iter().enumerate() {
        let cache = if i % 2 == 0 { a.clone() } else { b.clone() };
        let app = app_with_client(&auth, t, &cache, &http);
        tasks.push(tokio::spawn(async move {
            app.acquire_token_for_client(&[GRAPH]).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap().expect("every acquisition succeeds");

        assert_eq!(r.token_source, TokenSource::IdentityProvider);
    }
    assert_eq!(auth.token_requests().len(), tenants.len());

    let fresh = TokenCache::file(&path).unwrap();
    let mut realms: Vec<String> = fresh.access_tokens().into_iter().map(|e| e.realm).collect();
    realms.sort();
    let mut want = tenants.clone();
    want.sort();
    assert_eq!(realms, want, "every writer's entry is in the file");

    // And each handle now serves every tenant without a request.
    let mut tasks = Vec::new();
    for t in &tenants {
        for cache in [&a, &b] {
            let app = app_with_client(&auth, t, cache, &http);
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                let r = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
                assert_eq!(r.token_source, TokenSource::Cache, "tenant {t}");
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(auth.token_requests().len(), tenants.len());
}

#[tokio::test]
async fn a_rewrite_with_the_same_size_and_time_is_not_missed() {
    // File systems with coarse timestamps (1 s on HFS+ and ext3, 2 s on FAT, NFS caching,
    // or simply two writes inside one kernel clock tick) give successive versions of the
    // file the same modification time; two token entries of one shape have the same size.
    // A handle that judged "changed?" by size and time alone would keep serving a token
    // another process replaced, and its next write would put the old token back.
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same-size.json");
    let a = TokenCache::file(&path).unwrap();
    let b = TokenCache::file(&path).unwrap();
    let app_a = app_on(&auth, auth.tenant_id(), &a);
    let app_b = app_on(&auth, auth.tenant_id(), &b);

    let old = app_b.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let seen = app_a.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(seen.token_source, TokenSource::Cache);
    assert_eq!(seen.access_token.secret(), old.access_token.secret());
    let before = std::fs::metadata(&path).unwrap();

    // Process B replaces the token (e.g. after the authority revoked it).
    app_b.remove_tokens_for_client().await.unwrap();
    let new = app_b.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(new.token_source, TokenSource::IdentityProvider);
    assert_ne!(new.access_token.secret(), old.access_token.secret());
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(
        after.len(),
        before.len(),
        "test premise: both versions of the file have the same size"
    );
    // ... within the same timestamp tick.
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();

    let served = app_a.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        served.access_token.secret(),
        new.access_token.secret(),
        "A serves the token B wrote, not the one B replaced"
    );
    // A's next write (another resource) keeps B's token.
    app_a
        .acquire_token_for_client(&["https://storage.azure.com/.default"])
        .await
        .unwrap();
    let on_disk: Vec<String> = TokenCache::file(&path)
        .unwrap()
        .access_tokens()
        .into_iter()
        .map(|e| e.secret.secret().to_string())
        .collect();
    assert_eq!(on_disk.len(), 2);
    assert!(on_disk.contains(&new.access_token.secret().to_string()));
    assert!(!on_disk.contains(&old.access_token.secret().to_string()));
}

#[cfg(unix)]
#[tokio::test]
async fn the_cache_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.json");
    // Even a file that already exists with loose permissions is replaced by a private one.
    std::fs::write(&path, "{}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let app = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the cache holds secrets: mode {mode:o}");
    // No temporary file is left behind.
    let leftovers: Vec<PathBuf> = files_starting_with(dir.path(), "private.json.tmp");
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_unusable_cache_path_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a directory is needed.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let err = TokenCache::file(blocker.join("cache.json")).unwrap_err();
    assert!(matches!(err, Error::Cache { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let err = TokenCache::file("").unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// File cache shared by processes, and with MSAL Python (msal-extensions)
// ---------------------------------------------------------------------------------------

/// `{path}.lockfile`: the lock every MSAL extension takes.
fn lockfile_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".lockfile");
    PathBuf::from(s)
}

/// The resources (`api://TAG-I`) of the access tokens in a cache file.
fn resources_in(path: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).expect("the file is valid JSON");
    json["AccessToken"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|e| e["target"].as_str())
                .map(|t| t.trim_end_matches("/.default").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn expected_resources(tag: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("api://{tag}-{i}")).collect()
}

/// Gets `count` app tokens (resources `api://TAG-I`) one after the other into the file
/// cache at `path`, from an authority of its own.
async fn write_app_tokens(path: &Path, tag: &str, count: usize) {
    let auth = authority().await;
    let cache = TokenCache::file(path).unwrap();
    let app = app_on(&auth, auth.tenant_id(), &cache);
    for i in 0..count {
        let scope = format!("api://{tag}-{i}/.default");
        if let Err(e) = app.acquire_token_for_client(&[scope.as_str()]).await {
            panic!("{scope}: {e}");
        }
    }
}

/// Set in a copy of this test binary that runs as a writer process: `COUNT TAG PATH`.
const WRITER_ENV: &str = "MSAL_TEST_CACHE_WRITER";

/// The writer of the multi-process tests: this test binary started again with
/// [`WRITER_ENV`] set runs only this test, which then writes what the variable says. Run
/// by the suite itself, it checks the same writer in this process.
#[tokio::test]
async fn file_cache_writer_process() {
    if let Ok(spec) = std::env::var(WRITER_ENV) {
        let mut parts = spec.splitn(3, ' ');
        let count: usize = parts.next().unwrap().parse().unwrap();
        let tag = parts.next().unwrap().to_string();
        let path = PathBuf::from(parts.next().unwrap());
        write_app_tokens(&path, &tag, count).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one-writer.json");
    write_app_tokens(&path, "solo", 20).await;
    let want: std::collections::BTreeSet<String> =
        expected_resources("solo", 20).into_iter().collect();
    assert_eq!(resources_in(&path), want);
    assert!(!lockfile_of(&path).exists(), "the lock file is removed");
}

/// The writer test's name as the test harness knows it (`cache_backends::file_cache_writer_process`
/// in the integration binary): the module path without the crate name.
fn writer_test_name() -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    if module.is_empty() {
        "file_cache_writer_process".into()
    } else {
        format!("{module}::file_cache_writer_process")
    }
}

fn spawn_rust_writer(path: &Path, tag: &str, count: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &writer_test_name(), "--test-threads=1", "-q"])
        .env(WRITER_ENV, format!("{count} {tag} {}", path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary starts again as a writer")
}

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "MSAL Python is not installed: run scripts/setup.sh (it creates .venv with tests/python/requirements.txt)"
    );
    venv
}

/// MSAL Python with msal-extensions' `PersistedTokenCache(FilePersistence(path))`.
fn spawn_python_writer(auth: &TestAuthority, path: &Path, tag: &str, count: usize) -> Child {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/cache_writer.py");
    Command::new(python())
        .arg(script)
        .arg(path)
        .arg(auth.authority(auth.tenant_id()))
        .arg(CLIENT_ID)
        .arg(SECRET)
        .arg(tag)
        .arg(count.to_string())
        .env("REQUESTS_CA_BUNDLE", auth.ca_path())
        .env("CURL_CA_BUNDLE", auth.ca_path())
        .env("NO_PROXY", "*")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts")
}

/// Waits for every writer; panics with its output if one failed. Returns their stdout.
async fn wait_all(children: Vec<(String, Child)>) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|(name, c)| {
                let out = c.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "writer {name} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                format!("{name}: {}", String::from_utf8_lossy(&out.stdout).trim())
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Set-aside files next to `path`, and whether each was valid JSON (a file moved aside
/// while another process was writing it would be).
fn set_aside(path: &Path) -> Vec<(PathBuf, bool)> {
    let name = path.file_name().unwrap().to_str().unwrap();
    files_starting_with(path.parent().unwrap(), &format!("{name}.corrupt-"))
        .into_iter()
        .map(|p| {
            let valid = std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some();
            (p, valid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_msal_python_processes_share_one_file_without_loss() {
    // 2 Rust processes x 300 app tokens and 2 MSAL Python processes (msal-extensions)
    // x 150 on one file, all at the same time. msal-extensions can lose entries on its
    // own (it truncates and rewrites the file in place, and reads without the lock), so
    // two complete files out of three attempts are asked for; a valid file set aside is
    // never accepted.
    let auth = authority().await;
    let (rust_n, python_n) = (300, 150);
    let mut complete = 0;
    let mut log = Vec::new();
    for attempt in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared-with-python.json");
        let mut children = Vec::new();
        for w in 0..2 {
            let tag = format!("rust{w}");
            children.push((tag.clone(), spawn_rust_writer(&path, &tag, rust_n)));
            let tag = format!("python{w}");
            children.push((
                tag.clone(),
                spawn_python_writer(&auth, &path, &tag, python_n),
            ));
        }
        let outputs = wait_all(children).await;
        let aside = set_aside(&path);
        assert!(
            aside.is_empty(),
            "attempt {attempt}: files were set aside: {aside:?}"
        );
        assert!(!lockfile_of(&path).exists(), "the lock file is removed");
        let present = resources_in(&path);
        let mut missing = Vec::new();
        for w in 0..2 {
            for (tag, n) in [
                (format!("rust{w}"), rust_n),
                (format!("python{w}"), python_n),
            ] {
                missing.extend(
                    expected_resources(&tag, n)
                        .into_iter()
                        .filter(|r| !present.contains(r)),
                );
            }
        }
        log.push(format!(
            "attempt {attempt}: {} of {} present; missing {:?}; {outputs:?}",
            present.len(),
            2 * (rust_n + python_n),
            missing.iter().take(10).collect::<Vec<_>>()
        ));
        eprintln!("{}", log.last().unwrap());
        if missing.is_empty() {
            complete += 1;
        }
        if complete == 2 || attempt - complete == 2 {
            break;
        }
    }
    assert!(complete >= 2, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writer_processes_on_one_file_lose_no_entries() {
    let (writers, n) = (4, 500);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four-processes.json");
    let children = (0..writers)
        .map(|w| {
            let tag = format!("rust{w}");
            let child = spawn_rust_writer(&path, &tag, n);
            (tag, child)
        })
        .collect();
    wait_all(children).await;
    let present = resources_in(&path);
    for w in 0..writers {
        let missing: Vec<String> = expected_resources(&format!("rust{w}"), n)
            .into_iter()
            .filter(|r| !present.contains(r))
            .collect();
        assert!(missing.is_empty(), "writer {w} lost {missing:?}");
    }
    assert_eq!(present.len(), writers * n);
    assert!(set_aside(&path).is_empty());
    assert!(!lockfile_of(&path).exists(), "the lock file is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_in_place_under_the_lock_is_read_again_not_set_aside() {
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in-place.json");
    let cache = TokenCache::file(&path).unwrap();
    let app = app_on(&auth, auth.tenant_id(), &cache);
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let whole = std::fs::read(&path).unwrap();
    // Another handle (another process) on the file.
    let other = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());

    // msal-extensions: create {path}.lockfile exclusively, then truncate the cache file
    // and write it in place. Caught halfway:
    let lockfile = lockfile_of(&path);
    std::fs::write(&lockfile, format!("{} python", std::process::id())).unwrap();
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();

    // The other handle looks the file up meanwhile, and writes.
    let task = tokio::spawn(async move {
        other
            .acquire_token_for_client(&["https://storage.azure.com/.default"])
            .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !task.is_finished(),
        "the reader waits for the writer's lock instead of judging half a file"
    );
    assert!(
        set_aside(&path).is_empty(),
        "nothing is set aside meanwhile"
    );

    // The writer finishes and lets go.
    std::fs::write(&path, &whole).unwrap();
    std::fs::remove_file(&lockfile).unwrap();
    let r = task.await.unwrap().unwrap();
    assert_eq!(r.token_source, TokenSource::IdentityProvider);
    assert!(
        set_aside(&path).is_empty(),
        "the good file was not set aside"
    );
    let present: Vec<String> = TokenCache::file(&path)
        .unwrap()
        .access_tokens()
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(present.len(), 2, "both tokens are in the file: {present:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_waits_for_the_lock_held_as_msal_dotnet_holds_it() {
    // MSAL.NET opens {path}.lockfile without exclusive creation, locks it (flock on
    // unix), and deletes it when done.
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dotnet.json");
    let app = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());
    let lockfile = lockfile_of(&path);
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lockfile)
        .unwrap();
    held.lock().unwrap();
    let task = tokio::spawn(async move { app.acquire_token_for_client(&[GRAPH]).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "the writer waits");
    assert!(!path.exists(), "nothing was written under another's lock");
    std::fs::remove_file(&lockfile).unwrap();
    drop(held);
    task.await.unwrap().unwrap();
    assert_eq!(resources_in(&path).len(), 1);
}

#[cfg(unix)]
#[tokio::test]
async fn a_lock_file_left_by_a_dead_process_is_removed() {
    let auth = authority().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abandoned.json");
    // A process that held the lock and died.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let lockfile = lockfile_of(&path);
    std::fs::write(&lockfile, format!("{pid} python")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lockfile)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let app = app_on(&auth, auth.tenant_id(), &TokenCache::file(&path).unwrap());
    app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(resources_in(&path).len(), 1);
    assert!(!lockfile.exists());

    // A lock file of a live process is respected (this process holds it). Process ids
    // are checked on Linux; elsewhere a lock file nobody locks counts as abandoned after 30 s.
    if !cfg!(target_os = "linux") {
        return;
    }
    std::fs::write(&lockfile, format!("{} python", std::process::id())).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&lockfile)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let task = tokio::spawn(async move {
        app.acquire_token_for_client(&["https://storage.azure.com/.default"])
            .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!task.is_finished(), "a live holder is waited for");
    std::fs::remove_file(&lockfile).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(resources_in(&path).len(), 2);
}

// ---------------------------------------------------------------------------------------
// Redis cache
// ---------------------------------------------------------------------------------------

/// A throw-away `redis-server` on a free loopback port: no persistence, killed on drop.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    fn start() -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir: tempfile::tempdir().unwrap(),
        };
        let mut last_err = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `redis-server` ({e}). The Redis cache tests need a real server: \
                     run scripts/setup.sh (it installs the `redis-server` package) or put \
                     redis-server on PATH."
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!("redis-server exited at start ({status})"));
            }
            if self.ping() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err("redis-server did not answer PING within 10 s".into())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok_and(|p| p == "PONG")
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Every key, sorted.
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut self.conn()).unwrap();
        keys.sort();
        keys
    }

    fn hash_fields(&self, key: &str) -> Vec<String> {
        let mut f: Vec<String> = redis::cmd("HKEYS")
            .arg(key)
            .query(&mut self.conn())
            .unwrap();
        f.sort();
        f
    }

    fn ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL").arg(key).query(&mut self.conn()).unwrap()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A fresh, empty server on the same port (nothing was persisted).
    fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("redis-server restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The tests of one binary start their servers one after another (each is cheap, but
/// starting many at once on a loaded CI machine makes port races likelier).
fn start_redis() -> RedisServer {
    static START: OnceLock<Mutex<()>> = OnceLock::new();
    let _g = START
        .get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    RedisServer::start()
}

/// base64url(SHA-256(assertion)): how the cache names an on-behalf-of partition.
fn assertion_hash(assertion: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(assertion.as_bytes()))
}

#[tokio::test]
async fn redis_instances_share_app_tokens_under_the_prefix() {
    let redis = start_redis();
    let auth = authority().await;
    let prefix = "orders:msal:";
    let one = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), prefix).unwrap(),
    );
    let two = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), prefix).unwrap(),
    );

    let t1 = one.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t1.token_source, TokenSource::IdentityProvider);
    let t2 = two.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t2.token_source,
        TokenSource::Cache,
        "another instance finds it in Redis"
    );
    assert_eq!(t1.access_token.secret(), t2.access_token.secret());
    assert_eq!(auth.token_requests().len(), 1);

    // Key layout, seen with a plain client: everything under the prefix, one hash per
    // client and tenant holding the token, app metadata apart.
    let keys = redis.keys();
    assert!(
        keys.iter().all(|k| k.starts_with(prefix)),
        "every key carries the prefix: {keys:?}"
    );
    let env = two.authority().host().to_lowercase();
    let app_shard = format!(
        "{prefix}app:{env}:{}:{}",
        CLIENT_ID.to_lowercase(),
        auth.tenant_id()
    );
    assert_eq!(
        keys,
        vec![app_shard.clone(), format!("{prefix}appmetadata")],
        "one shard per client+tenant and the app metadata"
    );
    let fields = redis.hash_fields(&app_shard);
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert!(
        fields[0].starts_with("AccessToken|-") && fields[0].ends_with(&GRAPH.to_lowercase()),
        "field = section|MSAL key: {fields:?}"
    );
    let ttl = redis.ttl(&app_shard);
    assert!(
        ttl > 0 && ttl as u64 <= t1.expires_in() + 3600,
        "an app shard expires with its tokens: ttl {ttl}"
    );
    // The stored value is the MSAL entry (its JSON, readable by any instance).
    let raw: String = redis::cmd("HGET")
        .arg(&app_shard)
        .arg(&fields[0])
        .query(&mut redis.conn())
        .unwrap();
    let entry: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(entry["credential_type"], "AccessToken");
    assert_eq!(entry["home_account_id"], serde_json::Value::Null);
}

#[tokio::test]
async fn redis_key_prefixes_are_isolated() {
    let redis = start_redis();
    let auth = authority().await;
    let a = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), "team-a:").unwrap(),
    );
    let b = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), "team-b:").unwrap(),
    );
    let ta = a.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let tb = b.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(ta.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        tb.token_source,
        TokenSource::IdentityProvider,
        "another prefix sees nothing of team-a's tokens"
    );
    assert_ne!(ta.access_token.secret(), tb.access_token.secret());
    assert_eq!(auth.token_requests().len(), 2);

    let keys = redis.keys();
    assert_eq!(keys.iter().filter(|k| k.starts_with("team-a:")).count(), 2);
    assert_eq!(keys.iter().filter(|k| k.starts_with("team-b:")).count(), 2);
    assert_eq!(keys.len(), 4, "{keys:?}");

    // A prefix that is a glob pattern does not reach into other prefixes when removing.
    let glob = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), "team-*").unwrap(),
    );
    glob.remove_tokens_for_client().await.unwrap();
    let again = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&redis.url(), "team-a:").unwrap(),
    )
    .acquire_token_for_client(&[GRAPH])
    .await
    .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(redis.keys().len(), 4, "{:?}", redis.keys());
}

#[tokio::test]
async fn redis_removal_by_one_instance_is_seen_by_the_others() {
    let redis = start_redis();
    let auth = authority().await;
    let url = redis.url();
    let one = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, "rm:").unwrap(),
    );
    let two = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, "rm:").unwrap(),
    );
    let t1 = one.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let t2 = two.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t2.token_source, TokenSource::Cache);

    assert_eq!(one.remove_tokens_for_client().await.unwrap(), 1);
    let t3 = two.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t3.token_source,
        TokenSource::IdentityProvider,
        "the removed token is not served from the other instance's memory"
    );
    assert_ne!(t3.access_token.secret(), t1.access_token.secret());
    assert_eq!(auth.token_requests().len(), 2);
}

#[tokio::test]
async fn redis_remove_tokens_for_client_reaches_every_tenant_whatever_the_prefix() {
    let redis = start_redis();
    let auth = authority().await;
    let other = "7e57aaaa-0000-4000-8000-00000000beef";
    auth.add_tenant(other, None);
    let url = redis.url();
    // Glob characters in a prefix are data, not patterns.
    for prefix in ["plain:", "svc[1]:", "what?*:"] {
        let writer = app_on(&auth, other, &TokenCache::redis(&url, prefix).unwrap());
        writer.acquire_token_for_client(&[GRAPH]).await.unwrap();
        let before = auth.token_requests().len();

        // A fresh instance configured for the default tenant holds nothing in memory.
        let remover = app_on(
            &auth,
            auth.tenant_id(),
            &TokenCache::redis(&url, prefix).unwrap(),
        );
        assert_eq!(
            remover.remove_tokens_for_client().await.unwrap(),
            1,
            "prefix {prefix}: the other tenant's token is found in Redis and removed"
        );
        let again = app_on(&auth, other, &TokenCache::redis(&url, prefix).unwrap())
            .acquire_token_for_client(&[GRAPH])
            .await
            .unwrap();
        assert_eq!(
            again.token_source,
            TokenSource::IdentityProvider,
            "prefix {prefix}"
        );
        assert_eq!(auth.token_requests().len(), before + 1);
    }
}

const API_ID: &str = "a0b1c2d3-0000-4000-8000-0000000000a9";
const API_SECRET: &str = "api-secret-for-obo-tests";
const API_URI: &str = "api://orders-api";
const DOWNSTREAM: &str = "api://inventory/Items.Read";

fn obo_app(auth: &TestAuthority, cache: &TokenCache) -> ConfidentialClientApplication {
    builder(auth, API_ID, auth.tenant_id())
        .client_credential(ClientCredential::secret(API_SECRET))
        .token_cache(cache.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn redis_obo_tokens_are_partitioned_per_assertion() {
    let redis = start_redis();
    let auth = authority().await;
    auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
    auth.add_user(TestUser::new("alice@contoso.onmicrosoft.com"));
    auth.add_user(TestUser::new("bob@contoso.onmicrosoft.com"));
    let incoming = |user: &str| {
        auth.issue_user_token(user, CLIENT_ID, API_URI, &["Orders.Read"])
            .unwrap()
    };
    let alice = incoming("alice@contoso.onmicrosoft.com");
    let bob = incoming("bob@contoso.onmicrosoft.com");
    let prefix = "api:";
    let one = obo_app(&auth, &TokenCache::redis(&redis.url(), prefix).unwrap());
    let two = obo_app(&auth, &TokenCache::redis(&redis.url(), prefix).unwrap());

    let user_of = |t: &msal_runtime::AuthenticationResult| {
        let claims = auth.verify_access_token(t.access_token.secret()).unwrap();
        assert_eq!(claims["aud"], "api://inventory");
        claims["preferred_username"].as_str().unwrap().to_string()
    };

    let a1 = one
        .acquire_token_on_behalf_of(&alice, &[DOWNSTREAM])
        .await
        .unwrap();
    assert_eq!(a1.token_source, TokenSource::IdentityProvider);
    assert_eq!(user_of(&a1), "alice@contoso.onmicrosoft.com");

    let a2 = two
        .acquire_token_on_behalf_of(&alice, &[DOWNSTREAM])
        .await
        .unwrap();
    assert_eq!(
        a2.token_source,
        TokenSource::Cache,
        "the other instance serves alice's OBO token from Redis"
    );
    assert_eq!(a1.access_token.secret(), a2.access_token.secret());

    let b1 = two
        .acquire_token_on_behalf_of(&bob, &[DOWNSTREAM])
        .await
        .unwrap();
    assert_eq!(
        b1.token_source,
        TokenSource::IdentityProvider,
        "bob's assertion never gets alice's token"
    );
    assert_eq!(user_of(&b1), "bob@contoso.onmicrosoft.com");
    let b2 = one
        .acquire_token_on_behalf_of(&bob, &[DOWNSTREAM])
        .await
        .unwrap();
    assert_eq!(b2.token_source, TokenSource::Cache);
    assert_eq!(user_of(&b2), "bob@contoso.onmicrosoft.com");
    assert_eq!(auth.token_requests().len(), 2);

    // One shard per incoming assertion, holding that assertion's access token.
    let env = one.authority().host().to_lowercase();
    let keys = redis.keys();
    for (who, assertion) in [("alice", &alice), ("bob", &bob)] {
        let shard = format!("{prefix}obo:{env}:{}", assertion_hash(assertion));
        assert!(keys.contains(&shard), "{who}: {shard} not in {keys:?}");
        let fields = redis.hash_fields(&shard);
        assert!(
            fields.iter().any(|f| f.starts_with("AccessToken|")),
            "{who}: {fields:?}"
        );
        assert!(redis.ttl(&shard) > 0, "{who}: the OBO shard expires");
    }
    assert!(keys.iter().all(|k| k.starts_with(prefix)), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_and_restart_are_survived() {
    let mut redis = start_redis();
    let auth = authority().await;
    let url = redis.url();
    let prefix = format!("outage-{}:", redis.port);
    let one = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, &prefix).unwrap(),
    );
    let t1 = one.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t1.token_source, TokenSource::IdentityProvider);

    // Redis goes away.
    redis.stop();
    let started = Instant::now();
    let t2 = one
        .acquire_token_for_client(&[GRAPH])
        .await
        .expect("an outage of the shared cache is not an error");
    assert_eq!(
        t2.token_source,
        TokenSource::Cache,
        "what the instance holds is still served"
    );
    assert_eq!(t1.access_token.secret(), t2.access_token.secret());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the outage costs a bounded delay, took {:?}",
        started.elapsed()
    );
    // An instance that starts during the outage works too (it asks the authority).
    let late = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, &prefix).unwrap(),
    );
    let t3 = late.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t3.token_source, TokenSource::IdentityProvider);
    let t4 = late.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(
        t4.token_source,
        TokenSource::Cache,
        "kept in memory meanwhile"
    );
    let during = auth.token_requests().len();
    assert_eq!(during, 2);

    // Redis comes back, empty (nothing was persisted). The token `late` obtained during
    // the outage is still served without a request, and reaches Redis as soon as Redis
    // answers again (the instance reconnects by itself).
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = late
            .acquire_token_for_client(&[GRAPH])
            .await
            .expect("no error after the restart");
        assert_eq!(r.token_source, TokenSource::Cache);
        assert_eq!(r.access_token.secret(), t3.access_token.secret());
        if !redis.keys().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the token obtained during the outage never reached the restarted Redis"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every instance shares it again, old and new.
    let fresh = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, &prefix).unwrap(),
    );
    let r = fresh.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(r.token_source, TokenSource::Cache);
    assert_eq!(r.access_token.secret(), t3.access_token.secret());
    // `one` serves its own copy until its connection is re-established (its first
    // command after the restart may fail), then what Redis holds; never a request.
    loop {
        let r = one.acquire_token_for_client(&[GRAPH]).await.unwrap();
        assert_eq!(r.token_source, TokenSource::Cache);
        if r.access_token.secret() == t3.access_token.secret() {
            break;
        }
        assert_eq!(r.access_token.secret(), t1.access_token.secret());
        assert!(Instant::now() < deadline, "`one` never reconnected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(auth.token_requests().len(), during);
}

#[tokio::test]
async fn redis_unreachable_from_the_start_and_bad_urls() {
    let auth = authority().await;
    // Nothing listens there: construction is lazy, acquisition falls back to memory.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let app = app_on(
        &auth,
        auth.tenant_id(),
        &TokenCache::redis(&url, "x:").unwrap(),
    );
    let started = Instant::now();
    let t1 = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    let t2 = app.acquire_token_for_client(&[GRAPH]).await.unwrap();
    assert_eq!(t1.token_source, TokenSource::IdentityProvider);
    assert_eq!(t2.token_source, TokenSource::Cache);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    for bad in ["not a url", "http://127.0.0.1:6379", ""] {
        let err = TokenCache::redis(bad, "x:").unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{bad}: {err:?}");
    }
    // A URL with a password never shows it.
    let c = TokenCache::redis("redis://:hunter2-password@127.0.0.1:1/0", "x:").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
}

/// Persisted HTTP state on the token cache's Redis (`HttpCache::beside`): a new instance
/// finds the discovery result and a throttling decision of another, under the cache's
/// prefix, each key expiring with its entry.
#[tokio::test]
async fn redis_http_state_is_shared_by_instances() {
    use msal_runtime::HttpCache;
    let redis = start_redis();
    let auth = authority().await;
    let prefix = "svc:msal:";
    let instance = || {
        let tokens = TokenCache::redis(&redis.url(), prefix).unwrap();
        builder(&auth, CLIENT_ID, auth.tenant_id())
            .client_credential(ClientCredential::secret(SECRET))
            .http_cache(HttpCache::beside(&tokens).unwrap())
            .token_cache(tokens)
            .build()
            .unwrap()
    };
    let discoveries = || auth.requests().iter().filter(|r| r.method == "GET").count();
    instance().acquire_token_for_client(&[GRAPH]).await.unwrap();
    let gets = discoveries();
    assert!(gets >= 1);
    let state_keys: Vec<String> = redis
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&format!("{prefix}http:")))
        .collect();
    assert_eq!(state_keys.len(), 1, "{state_keys:?}");
    assert!(state_keys[0].starts_with(&format!("{prefix}http:discovery|")));
    let ttl = redis.ttl(&state_keys[0]);
    assert!(ttl > 0 && ttl <= 24 * 3600, "ttl {ttl}");

    let storage = "https://storage.azure.com/.default";
    auth.push_fault(msal_testkit::Fault {
        path_contains: "/oauth2/v2.0/token".into(),
        times: 1,
        kind: msal_testkit::FaultKind::Status {
            status: 503,
            body: "<html>busy</html>".into(),
            headers: vec![("Retry-After".into(), "120".into())],
        },
    });
    assert!(instance()
        .acquire_token_for_client(&[storage])
        .await
        .is_err());
    let posts = auth.token_requests().len();
    let other = instance();
    let replayed = other
        .acquire_token_for_client(&[storage])
        .await
        .unwrap_err();
    assert!(
        matches!(
            replayed,
            Error::Http {
                status: Some(503),
                ..
            }
        ),
        "{replayed:?}"
    );
    assert_eq!(auth.token_requests().len(), posts, "not sent");
    assert_eq!(discoveries(), gets, "no discovery by the new instances");
}
