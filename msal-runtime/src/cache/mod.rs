//! The token cache: MSAL's unified schema in memory, optionally persisted to a locked
//! file shared by several processes.
//!
//! The serialized form is the JSON every MSAL library reads and writes, so a Python
//! service and a Rust service can share one cache.

pub(crate) mod file;
pub(crate) mod key;
pub(crate) mod memo;
mod model;
#[cfg(feature = "redis")]
mod redis;
// Parts of the store serve only the Redis back-end.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) mod store;

pub use model::{
    AccessTokenEntry, AccountEntry, AppMetadataEntry, IdTokenEntry, RefreshTokenEntry,
};

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use store::CacheData;

/// A token cache shared by any number of applications (clone it freely: clones share state).
///
/// ```
/// use msal_runtime::TokenCache;
///
/// let cache = TokenCache::new();
/// let saved = cache.serialize();            // MSAL's JSON, readable by MSAL Python
/// let restored = TokenCache::new();
/// restored.deserialize(&saved).unwrap();
/// assert!(restored.access_tokens().is_empty());
/// ```
#[derive(Clone, Default)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

/// The entries, behind a read-write lock, with a generation that every write access
/// moves on: what was read under the read lock at generation `g` is still what the cache
/// holds while the generation is `g` (per-thread copies of hot entries rely on this).
#[derive(Default)]
pub(crate) struct DataCell {
    lock: RwLock<CacheData>,
    generation: AtomicU64,
}

impl DataCell {
    fn new(data: CacheData) -> Self {
        DataCell {
            lock: RwLock::new(data),
            generation: AtomicU64::new(0),
        }
    }

    /// Shared access. A panic under the lock cannot leave an entry half-written (entries
    /// are replaced whole), so a poisoned lock is still used.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, CacheData> {
        self.lock.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Exclusive access; the generation moves on while the lock is held.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, CacheData> {
        let guard = self.lock.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        guard
    }

    /// The current generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct Inner {
    data: DataCell,
    changed: AtomicBool,
    backend: Backend,
}

#[derive(Default)]
enum Backend {
    #[default]
    Memory,
    File(file::FileStore),
    #[cfg(feature = "redis")]
    Redis(Box<redis::RedisStore>),
}

/// Who fetches a missing token in a fleet sharing a cache (see [`TokenCache::fleet_lease`]).
#[derive(Debug)]
pub(crate) enum FleetLease {
    /// This process: with the lease's name and token when there is one to release.
    Mine(Option<(String, String)>),
    /// Another process holds the lease: wait for its entry.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Theirs,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.read();
        let backend = match &self.inner.backend {
            Backend::Memory => "memory".to_string(),
            Backend::File(fs) => format!("file {}", fs.path().display()),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => format!("redis (prefix {})", r.prefix()),
        };
        f.debug_struct("TokenCache")
            .field("backend", &backend)
            .field("access_tokens", &d.access_tokens.len())
            .field("refresh_tokens", &d.refresh_tokens.len())
            .field("accounts", &d.accounts.len())
            .finish()
    }
}

/// Where a cache lives, for state kept beside it (`HttpCache::beside`).
pub(crate) enum BackendLocation {
    Memory,
    File(PathBuf),
    #[cfg(feature = "redis")]
    Redis {
        client: ::redis::Client,
        prefix: String,
    },
}

impl TokenCache {
    /// Where this cache lives.
    pub(crate) fn backend_location(&self) -> BackendLocation {
        match &self.inner.backend {
            Backend::Memory => BackendLocation::Memory,
            Backend::File(fs) => BackendLocation::File(fs.path().to_path_buf()),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => BackendLocation::Redis {
                client: r.client().clone(),
                prefix: r.prefix().to_string(),
            },
        }
    }

    /// An empty in-memory cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache persisted in a file: loaded now, re-read when another process changes it,
    /// and rewritten atomically after each change, under the lock the MSAL extensions take
    /// (`{path}.lockfile`, created exclusively and locked), so that MSAL Python
    /// (msal-extensions) and MSAL.NET processes can share the file. A file that still does
    /// not parse when read under that lock is moved aside to `{path}.corrupt-{epoch}`
    /// rather than overwritten.
    ///
    /// ```no_run
    /// let cache = msal_runtime::TokenCache::file("/var/cache/orders/msal.json")?;
    /// # Ok::<(), msal_runtime::Error>(())
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Result<Self> {
        let store = file::FileStore::new(path.into())?;
        let cache = TokenCache {
            inner: Arc::new(Inner {
                data: DataCell::default(),
                changed: AtomicBool::new(false),
                backend: Backend::File(store),
            }),
        };
        if let Backend::File(fs) = &cache.inner.backend {
            fs.reload_if_changed(&cache.inner.data)?;
        }
        Ok(cache)
    }

    /// A copy of a cache file in memory, for inspection: reads the file without creating,
    /// writing, renaming or locking anything. `Ok(None)` when there is no file; a file that
    /// does not parse (read again a few times, in case a writer was rewriting it) is an
    /// error. Changes to the returned cache stay in memory.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("msal-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("cache.json");
    /// assert!(msal_runtime::TokenCache::read_only(&path)?.is_none());
    /// std::fs::write(&path, "{}").unwrap();
    /// let cache = msal_runtime::TokenCache::read_only(&path)?.expect("a file");
    /// assert!(cache.access_tokens().is_empty());
    /// std::fs::write(&path, "{\"AccessToken\": {").unwrap();
    /// assert!(msal_runtime::TokenCache::read_only(&path).is_err());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), msal_runtime::Error>(())
    /// ```
    pub fn read_only(path: impl AsRef<std::path::Path>) -> Result<Option<Self>> {
        Ok(file::read_snapshot(path.as_ref())?.map(|data| TokenCache {
            inner: Arc::new(Inner {
                data: DataCell::new(data),
                changed: AtomicBool::new(false),
                backend: Backend::Memory,
            }),
        }))
    }

    /// A cache shared through Redis: each look-up reads its shard from Redis, each change
    /// is written through. Keys start with `key_prefix` (e.g. `msal:`). The connection is
    /// made on first use; if Redis is unreachable the instance carries on with what it
    /// holds in memory and logs a warning.
    ///
    /// ```no_run
    /// let cache = msal_runtime::TokenCache::redis("redis://127.0.0.1:6379/0", "msal:")?;
    /// # Ok::<(), msal_runtime::Error>(())
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(url: &str, key_prefix: &str) -> Result<Self> {
        let store = redis::RedisStore::new(url, key_prefix)?;
        let mut data = CacheData::default();
        data.track_changes = true;
        Ok(TokenCache {
            inner: Arc::new(Inner {
                data: DataCell::new(data),
                changed: AtomicBool::new(false),
                backend: Backend::Redis(Box::new(store)),
            }),
        })
    }

    /// The whole cache as MSAL's JSON.
    pub fn serialize(&self) -> String {
        self.inner.changed.store(false, Ordering::Relaxed);
        self.read().serialize()
    }

    /// Replaces the cache's contents with a serialized cache. On error nothing changes.
    pub fn deserialize(&self, json: &str) -> Result<()> {
        let mut data = CacheData::deserialize(json).map_err(Error::cache)?;
        let mut current = self.write();
        data.track_changes = current.track_changes;
        let old = std::mem::replace(&mut *current, data);
        drop(current);
        // Freed after the lock is let go: hits need not wait for a large cache's release.
        drop(old);
        self.inner.changed.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Whether anything was written since the last `serialize`/`deserialize`.
    pub fn has_state_changed(&self) -> bool {
        self.inner.changed.load(Ordering::Relaxed)
    }

    /// A copy of every access-token entry (for inspection; the secrets are inside).
    pub fn access_tokens(&self) -> Vec<AccessTokenEntry> {
        self.read().access_tokens.values().cloned().collect()
    }

    /// A copy of every refresh-token entry.
    pub fn refresh_tokens(&self) -> Vec<RefreshTokenEntry> {
        self.read().refresh_tokens.values().cloned().collect()
    }

    /// A copy of every ID-token entry.
    pub fn id_tokens(&self) -> Vec<IdTokenEntry> {
        self.read().id_tokens.values().cloned().collect()
    }

    /// A copy of every account entry.
    pub fn accounts(&self) -> Vec<AccountEntry> {
        self.read().accounts.values().cloned().collect()
    }

    /// A copy of every app-metadata entry.
    pub fn app_metadata(&self) -> Vec<AppMetadataEntry> {
        self.read().app_metadata.values().cloned().collect()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, CacheData> {
        self.inner.data.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, CacheData> {
        self.inner.data.write()
    }

    /// Brings the given shards up to date from a shared back-end (another process's file
    /// writes, other instances' Redis writes). Failures of Redis only warn.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn load(&self, shards: &[String]) -> Result<()> {
        match &self.inner.backend {
            Backend::Memory => Ok(()),
            // Looked at less than `file::FRESH_FOR` ago: no trip to the blocking pool.
            Backend::File(fs) if fs.is_fresh() => Ok(()),
            Backend::File(_) => {
                let inner = self.inner.clone();
                tokio::task::spawn_blocking(move || match &inner.backend {
                    Backend::File(fs) => fs.reload_if_changed(&inner.data),
                    _ => Ok(()),
                })
                .await
                .map_err(|e| Error::cache_from("the cache task failed", e))?
            }
            #[cfg(feature = "redis")]
            Backend::Redis(r) => {
                if !self.flush_pending(r).await {
                    return Ok(());
                }
                if let Err(e) = r.load(&self.inner.data, shards).await {
                    tracing::warn!(kind = "cache_error", error = %e, "token cache: using the in-memory copy");
                }
                Ok(())
            }
        }
    }

    /// Writes to Redis what could not be written earlier (during an outage), before
    /// reading from it; false when Redis is still unreachable.
    #[cfg(feature = "redis")]
    async fn flush_pending(&self, r: &redis::RedisStore) -> bool {
        if self.read().dirty.is_empty() {
            return true;
        }
        match r.flush_pending(&self.inner.data).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(kind = "cache_error", error = %e, "token cache: using the in-memory copy");
                false
            }
        }
    }

    /// Like [`load`](Self::load), for every shard whose name starts with `prefix`.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn load_matching(&self, prefix: &str) -> Result<()> {
        match &self.inner.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => {
                if !self.flush_pending(r).await {
                    return Ok(());
                }
                if let Err(e) = r.load_matching(&self.inner.data, prefix).await {
                    tracing::warn!(kind = "cache_error", error = %e, "token cache: using the in-memory copy");
                }
                Ok(())
            }
            _ => self.load(&[]).await,
        }
    }

    /// Across processes sharing a Redis cache: whether this process is to fetch the token
    /// named `name` (it took the lease, or there is no lease to take: memory and file
    /// caches, Redis unreachable) or another process is fetching it.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub(crate) async fn fleet_lease(&self, name: &str) -> FleetLease {
        match &self.inner.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => match r.try_lease(name).await {
                Ok(Some(token)) => FleetLease::Mine(Some((name.to_string(), token))),
                Ok(None) => FleetLease::Theirs,
                Err(e) => {
                    tracing::debug!(error = %e, "no fleet lease; fetching");
                    FleetLease::Mine(None)
                }
            },
            _ => FleetLease::Mine(None),
        }
    }

    /// Lets go of a lease taken with [`fleet_lease`](Self::fleet_lease).
    pub(crate) async fn release_lease(&self, lease: FleetLease) {
        match (&self.inner.backend, lease) {
            #[cfg(feature = "redis")]
            (Backend::Redis(r), FleetLease::Mine(Some((name, token)))) => {
                if let Err(e) = r.release_lease(&name, &token).await {
                    tracing::debug!(error = %e, "the fleet lease expires on its own");
                }
            }
            _ => {}
        }
    }

    /// Like [`lookup`](Self::lookup), but reads a shared back-end even where the copy in
    /// memory counts as current (a fleet lease just taken: the previous holder may have
    /// written the entry a moment ago).
    pub(crate) async fn lookup_uncached<R>(
        &self,
        shards: &[String],
        f: impl FnOnce(&CacheData) -> R,
    ) -> Result<R> {
        match &self.inner.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => {
                if let Err(e) = r.load_uncached(&self.inner.data, shards).await {
                    tracing::warn!(error = %e, "token cache: using the in-memory copy");
                }
                let data = self.read();
                Ok(f(&data))
            }
            _ => self.lookup(shards, f).await,
        }
    }

    /// Looks something up in the given shards, under the shared (read) lock: readers
    /// never wait for one another.
    pub(crate) async fn lookup<R>(
        &self,
        shards: &[String],
        f: impl FnOnce(&CacheData) -> R,
    ) -> Result<R> {
        self.load(shards).await?;
        let data = self.read();
        let out = f(&data);
        Ok(out)
    }

    /// A look-up with nothing to load first: `Some` (under the read lock, without awaiting
    /// anything) when the copy in memory is current for `shards`: always for the memory
    /// back-end, for a file looked at less than `file::FRESH_FOR` ago, for Redis shards
    /// that tracking says are unchanged (and nothing waits to be written). `None` when the
    /// back-end must be consulted (use [`lookup`](Self::lookup)).
    pub(crate) fn lookup_in_memory<R>(
        &self,
        shards: &[String],
        f: impl FnOnce(&CacheData, u64) -> R,
    ) -> Option<R> {
        if !self.in_memory_is_current(shards) {
            return None;
        }
        let data = self.read();
        #[cfg(feature = "redis")]
        if matches!(self.inner.backend, Backend::Redis(_)) && !data.dirty.is_empty() {
            return None;
        }
        // Read under the lock: what `f` sees is this generation's.
        let generation = self.inner.data.generation();
        Some(f(&data, generation))
    }

    /// The generation of the in-memory copy, when that copy may answer for `shards` now
    /// (see [`lookup_in_memory`](Self::lookup_in_memory)); per-thread copies of hits made
    /// at this generation are still what the cache holds.
    pub(crate) fn generation_in_memory(&self, shards: &[String]) -> Option<u64> {
        self.in_memory_is_current(shards)
            .then(|| self.inner.data.generation())
    }

    /// Whether the in-memory copy may answer for `shards` without asking the back-end:
    /// always in memory; a file looked at within the last moments; Redis shards that are
    /// tracked and unchanged.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    fn in_memory_is_current(&self, shards: &[String]) -> bool {
        match &self.inner.backend {
            Backend::Memory => true,
            Backend::File(fs) => fs.is_fresh(),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.is_current(shards),
        }
    }

    /// Applies a change and persists it.
    pub(crate) async fn modify<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut CacheData) -> R + Send + 'static,
    ) -> Result<R> {
        self.inner.changed.store(true, Ordering::Relaxed);
        // Every write also removes the access tokens that have expired (reads never do).
        let f = move |data: &mut CacheData| {
            let out = f(data);
            data.purge_expired(CacheData::now());
            out
        };
        match &self.inner.backend {
            Backend::Memory => Ok(f(&mut self.write())),
            Backend::File(_) => {
                let inner = self.inner.clone();
                tokio::task::spawn_blocking(move || match &inner.backend {
                    Backend::File(fs) => fs.modify(&inner.data, f),
                    _ => unreachable!("the back-end of a cache never changes"),
                })
                .await
                .map_err(|e| Error::cache_from("the cache task failed", e))?
            }
            #[cfg(feature = "redis")]
            Backend::Redis(r) => {
                let (out, changes) = {
                    let mut data = self.write();
                    let out = f(&mut data);
                    (out, std::mem::take(&mut data.dirty))
                };
                if let Err(e) = r.flush(&self.inner.data, changes).await {
                    tracing::warn!(kind = "cache_error", error = %e, "token cache: the change is kept in memory only");
                }
                Ok(out)
            }
        }
    }
}
