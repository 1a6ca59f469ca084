//! Persisted HTTP state: MSAL Python's `http_cache`. What the library learns from the
//! network besides tokens (the authority's discovered endpoints, and the throttling
//! decisions of section 9 of the protocol reference) can outlive the application
//! instance and be shared by processes, through the same kinds of back-end as the token
//! cache: memory, a locked file, Redis, or your own [`HttpStateStore`].
//!
//! The state is an optimisation and a courtesy to the authority, never a dependency: a
//! back-end that fails is logged and treated as empty.

use crate::cache::TokenCache;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A boxed future of an [`HttpStateStore`] method.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// At most this many entries are kept (MSAL Python's capacity); when full, expired
/// entries go first, then those expiring soonest.
const CAPACITY: usize = 1024;
/// How long the lock of a file back-end is waited for.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where persisted HTTP state lives: string values under string keys, each with a time
/// to live. Implement it to keep the state somewhere else; the library's own are behind
/// [`HttpCache::memory`], [`HttpCache::file`] and [`HttpCache::redis`].
///
/// ```
/// use msal_runtime::{HttpCache, HttpStateStore, StoreFuture};
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// #[derive(Default)]
/// struct Mine(Mutex<HashMap<String, String>>);
///
/// impl HttpStateStore for Mine {
///     fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
///         Box::pin(async move { Ok(self.0.lock().unwrap().get(key).cloned()) })
///     }
///     fn put<'a>(&'a self, key: &'a str, value: String, _ttl: Duration) -> StoreFuture<'a, ()> {
///         Box::pin(async move {
///             self.0.lock().unwrap().insert(key.to_string(), value);
///             Ok(())
///         })
///     }
/// }
/// let cache = HttpCache::custom(Mine::default());
/// # let _ = cache;
/// ```
pub trait HttpStateStore: Send + Sync + 'static {
    /// The value under `key`, unless it expired.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;
    /// Stores `value` under `key` for `ttl`.
    fn put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> StoreFuture<'a, ()>;
}

/// A handle on persisted HTTP state, given to
/// [`http_cache`](crate::ConfidentialClientApplicationBuilder::http_cache). Clones share it.
///
/// ```
/// use msal_runtime::{ClientCredential, ConfidentialClientApplication, HttpCache, TokenCache};
///
/// # fn run() -> msal_runtime::Result<()> {
/// let dir = std::env::temp_dir().join(format!("msal-doc-http-{}", std::process::id()));
/// let tokens = TokenCache::file(dir.join("msal.json"))?;
/// let http = HttpCache::beside(&tokens)?;          // dir/msal.json.http.json
/// let app = ConfidentialClientApplication::builder("my-client-id")
///     .client_credential(ClientCredential::secret("s3cret"))
///     .token_cache(tokens)
///     .http_cache(http)
///     .build()?;
/// # let _ = app; Ok(()) }
/// # run().unwrap();
/// ```
#[derive(Clone)]
pub struct HttpCache {
    store: Arc<dyn HttpStateStore>,
    kind: &'static str,
}

impl fmt::Debug for HttpCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCache")
            .field("backend", &self.kind)
            .finish()
    }
}

impl HttpCache {
    /// State in this process's memory, shared by the applications given this handle.
    pub fn memory() -> Self {
        HttpCache {
            store: Arc::new(MemoryStore::default()),
            kind: "memory",
        }
    }

    /// State in a JSON file, shared by processes: written atomically (temporary file and
    /// rename) under the token cache's lock protocol (`{path}.lockfile`).
    pub fn file(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::cache(format!("cannot create {}: {e}", parent.display())))?;
        }
        Ok(HttpCache {
            store: Arc::new(FileStore { path }),
            kind: "file",
        })
    }

    /// State in Redis, shared by a fleet: one key per entry under `key_prefix`, expiring
    /// with the entry.
    #[cfg(feature = "redis")]
    pub fn redis(url: &str, key_prefix: &str) -> Result<Self> {
        Ok(HttpCache {
            store: Arc::new(redis_store::RedisStore::new(url, key_prefix)?),
            kind: "redis",
        })
    }

    /// State kept by your own store.
    pub fn custom(store: impl HttpStateStore) -> Self {
        HttpCache {
            store: Arc::new(store),
            kind: "custom",
        }
    }

    /// State on the token cache's back-end: `{path}.http.json` next to a cache file,
    /// `{prefix}http:` keys on the same Redis, memory for an in-memory cache.
    pub fn beside(cache: &TokenCache) -> Result<Self> {
        match cache.backend_location() {
            crate::cache::BackendLocation::Memory => Ok(Self::memory()),
            crate::cache::BackendLocation::File(path) => {
                let mut name = path.into_os_string();
                name.push(".http.json");
                Self::file(name)
            }
            #[cfg(feature = "redis")]
            crate::cache::BackendLocation::Redis { client, prefix } => Ok(HttpCache {
                store: Arc::new(redis_store::RedisStore::from_client(
                    client,
                    &format!("{prefix}http:"),
                )),
                kind: "redis",
            }),
        }
    }

    /// A stored value, decoded; `None` when absent, expired, unreadable or undecodable
    /// (the last two are logged).
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.store.get(key).await {
            Ok(Some(v)) => serde_json::from_str(&v)
                .inspect_err(|_| tracing::warn!(key, "unusable HTTP state entry; ignored"))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP state back-end failed; treated as empty");
                None
            }
        }
    }

    /// Stores a value; a failure is logged, never returned.
    pub(crate) async fn put_json<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let Ok(json) = serde_json::to_string(value) else {
            return;
        };
        if let Err(e) = self.store.put(key, json, ttl).await {
            tracing::warn!(error = %e, "HTTP state back-end failed; the state stays in memory");
        }
    }
}

/// How long a persisted discovery result is used (MSAL Python caches discovery GETs 24 h).
pub(crate) const DISCOVERY_TTL: Duration = Duration::from_secs(24 * 3600);

impl crate::app::ConfidentialClientApplicationBuilder {
    /// Where the application keeps its HTTP state, as MSAL Python's `http_cache`: the
    /// authority's discovered endpoints, its host's aliases and the region IMDS named
    /// (24 h each), and client-side throttling decisions (a
    /// 429 or 5xx with its `Retry-After`, a 400 replayed for 60 s). Shared by application
    /// instances and processes given the same back-end, so a restarted or scaled-out
    /// service neither rediscovers the authority nor retries a request the authority
    /// asked it to hold back. Default: none (state lives and dies with the instance).
    ///
    /// ```
    /// use msal_runtime::{ClientCredential, ConfidentialClientApplication, HttpCache};
    ///
    /// let shared = HttpCache::memory();
    /// let app = ConfidentialClientApplication::builder("my-client-id")
    ///     .client_credential(ClientCredential::secret("s3cret"))
    ///     .http_cache(shared.clone())
    ///     .build();
    /// assert!(app.is_ok());
    /// ```
    pub fn http_cache(mut self, cache: HttpCache) -> Self {
        self.options_mut().http_cache = Some(cache);
        self
    }
}

impl crate::state::AppState {
    /// The throttling decision for this request shape: this instance's, else one that
    /// persisted HTTP state holds (then adopted here too).
    pub(crate) async fn throttled(&self, key: &str) -> Option<Error> {
        if let Some(err) = self.throttle.check(key) {
            return Some(err);
        }
        let cache = self.opts.http_cache.as_ref()?;
        let persisted = cache.get_json(&throttle_key(key)).await?;
        self.throttle.adopt(key.to_string(), persisted)
    }

    /// Writes the throttling decisions taken since the last call to persisted HTTP state.
    pub(crate) async fn persist_throttle(&self) {
        let Some(cache) = &self.opts.http_cache else {
            return;
        };
        for (key, refusal) in self.throttle.take_pending() {
            let ttl = refusal.until.saturating_sub(epoch_now());
            if ttl > 0 {
                cache
                    .put_json(&throttle_key(&key), &refusal, Duration::from_secs(ttl))
                    .await;
            }
        }
    }
}

fn throttle_key(key: &str) -> String {
    format!("throttle|{key}")
}

pub(crate) fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    value: String,
    expires_on: u64,
}

/// Drops expired entries and, past the capacity, those expiring soonest.
fn prune(map: &mut HashMap<String, Stored>, now: u64) {
    map.retain(|_, e| e.expires_on > now);
    if map.len() > CAPACITY {
        let mut by_expiry: Vec<(u64, String)> =
            map.iter().map(|(k, e)| (e.expires_on, k.clone())).collect();
        by_expiry.sort();
        for (_, k) in by_expiry.into_iter().take(map.len() - CAPACITY) {
            map.remove(&k);
        }
    }
}

fn insert(map: &mut HashMap<String, Stored>, key: &str, value: String, ttl: Duration) {
    let now = epoch_now();
    map.insert(
        key.to_string(),
        Stored {
            value,
            expires_on: now.saturating_add(ttl.as_secs().max(1)),
        },
    );
    prune(map, now);
}

#[derive(Default)]
struct MemoryStore {
    map: Mutex<HashMap<String, Stored>>,
}

impl HttpStateStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let found = map
            .get(key)
            .filter(|e| e.expires_on > epoch_now())
            .map(|e| e.value.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> StoreFuture<'a, ()> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        insert(&mut map, key, value, ttl);
        Box::pin(std::future::ready(Ok(())))
    }
}

struct FileStore {
    path: PathBuf,
}

fn read_file(path: &Path) -> Result<HashMap<String, Stored>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(HashMap::new()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
            Error::cache(format!(
                "the HTTP state file {} is not what this library writes",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(Error::cache(format!("cannot read {}: {e}", path.display()))),
    }
}

fn write_file(path: &Path, key: &str, value: String, ttl: Duration) -> Result<()> {
    let lock_path = crate::cache::file::lock_path_of(path);
    let _lock = crate::cache::file::LockFile::acquire(&lock_path, LOCK_TIMEOUT)?;
    // A file another writer left unreadable is replaced: the state is only an optimisation.
    let mut map = read_file(path).unwrap_or_default();
    insert(&mut map, key, value, ttl);
    let json = serde_json::to_vec(&map)
        .map_err(|e| Error::cache(format!("cannot encode the HTTP state: {e}")))?;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    let io = |e: std::io::Error| Error::cache(format!("cannot write {}: {e}", path.display()));
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

impl HttpStateStore for FileStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let path = self.path.clone();
            let map = tokio::task::spawn_blocking(move || read_file(&path))
                .await
                .map_err(|e| Error::cache(format!("the HTTP state reader failed: {e}")))??;
            Ok(map
                .get(key)
                .filter(|e| e.expires_on > epoch_now())
                .map(|e| e.value.clone()))
        })
    }

    fn put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (path, key) = (self.path.clone(), key.to_string());
            tokio::task::spawn_blocking(move || write_file(&path, &key, value, ttl))
                .await
                .map_err(|e| Error::cache(format!("the HTTP state writer failed: {e}")))?
        })
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::{HttpStateStore, StoreFuture};
    use crate::error::{Error, Result};
    use redis::aio::ConnectionManager;
    use std::time::Duration;
    use tokio::sync::OnceCell;

    pub(super) struct RedisStore {
        client: redis::Client,
        prefix: String,
        conn: OnceCell<ConnectionManager>,
    }

    impl RedisStore {
        pub(super) fn new(url: &str, prefix: &str) -> Result<Self> {
            let client = redis::Client::open(url).map_err(|_| {
                Error::config(
                    "http_cache",
                    "the Redis URL is not valid (expected redis://host:port/db or rediss://...)",
                )
            })?;
            Ok(Self::from_client(client, prefix))
        }

        pub(super) fn from_client(client: redis::Client, prefix: &str) -> Self {
            RedisStore {
                client,
                prefix: prefix.to_string(),
                conn: OnceCell::new(),
            }
        }

        async fn conn(&self) -> Result<ConnectionManager> {
            self.conn
                .get_or_try_init(|| async {
                    let config = redis::aio::ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(Duration::from_secs(2)))
                        .set_response_timeout(Some(Duration::from_secs(2)))
                        .set_number_of_retries(1);
                    ConnectionManager::new_with_config(self.client.clone(), config)
                        .await
                        .map_err(|e| {
                            Error::cache(format!("cannot connect to Redis: {}", e.category()))
                        })
                })
                .await
                .cloned()
        }
    }

    impl HttpStateStore for RedisStore {
        fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
            Box::pin(async move {
                let mut conn = self.conn().await?;
                redis::cmd("GET")
                    .arg(format!("{}{key}", self.prefix))
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| Error::cache(format!("Redis GET failed: {}", e.category())))
            })
        }

        fn put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> StoreFuture<'a, ()> {
            Box::pin(async move {
                let mut conn = self.conn().await?;
                let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                redis::cmd("SET")
                    .arg(format!("{}{key}", self.prefix))
                    .arg(value)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| Error::cache(format!("Redis SET failed: {}", e.category())))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_and_file_keep_values_until_they_expire() {
        let dir = std::env::temp_dir().join(format!("msal-http-state-{}", uuid::Uuid::new_v4()));
        for cache in [
            HttpCache::memory(),
            HttpCache::file(dir.join("s.json")).unwrap(),
        ] {
            cache
                .put_json("k", &"v".to_string(), Duration::from_secs(60))
                .await;
            cache.put_json("gone", &1u8, Duration::ZERO).await;
            assert_eq!(cache.get_json::<String>("k").await.as_deref(), Some("v"));
            assert_eq!(cache.get_json::<String>("missing").await, None);
            // A wrong type is a miss, not an error.
            assert_eq!(cache.get_json::<u32>("k").await, None);
        }
        // A second handle on the file sees the first one's entries.
        let again = HttpCache::file(dir.join("s.json")).unwrap();
        assert_eq!(again.get_json::<String>("k").await.as_deref(), Some("v"));
        // A corrupt file reads as empty and is replaced by the next write.
        std::fs::write(dir.join("s.json"), "{not json").unwrap();
        assert_eq!(again.get_json::<String>("k").await, None);
        again.put_json("k2", &2u8, Duration::from_secs(60)).await;
        assert_eq!(again.get_json::<u8>("k2").await, Some(2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_soonest_expiring() {
        let mut map = HashMap::new();
        for i in 0..CAPACITY + 5 {
            insert(
                &mut map,
                &format!("k{i}"),
                "v".into(),
                Duration::from_secs(100 + i as u64),
            );
        }
        assert_eq!(map.len(), CAPACITY);
        assert!(!map.contains_key("k0"));
        assert!(map.contains_key(&format!("k{}", CAPACITY + 4)));
    }
}
