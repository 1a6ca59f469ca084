//! A token cache shared through Redis by a fleet of instances.
//!
//! Entries live in Redis hashes, one per shard (see `store::shard`): the app tokens of one
//! client in one tenant, one user's tokens and account, the on-behalf-of tokens of one
//! incoming assertion. A look-up reads only its shard (one `HGETALL`); a change writes
//! only the entries it touched. Each instance keeps what it read in memory, so a Redis
//! outage degrades to a per-instance cache (with a warning) instead of failing requests.
//!
//! A shard read while Redis tracks the prefix for this process (RESP3 client-side caching,
//! see [`tracking`]) is served from memory until Redis says it changed: a hit then makes
//! no round trip.

mod tracking;

use super::store::{shard, CacheData, Change, ACCOUNT};
use super::DataCell;
use crate::error::{Error, Result};
use redis::aio::ConnectionManager;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tracking::{Tracker, Validity};

/// Extra life given to a shard of access tokens past its latest expiry.
const AT_SHARD_GRACE_SECS: i64 = 600;
/// Users' shards (refresh tokens) are kept this long after their last write.
const USER_SHARD_TTL_SECS: i64 = 90 * 24 * 3600;

pub(crate) struct RedisStore {
    client: redis::Client,
    prefix: String,
    conn: OnceCell<ConnectionManager>,
    /// What each loaded shard held, to notice entries other instances removed.
    known: Mutex<HashMap<String, HashSet<(String, String)>>>,
    /// This process's tracking connection for the URL and prefix.
    tracker: Arc<Tracker>,
    /// The shards this instance holds as Redis has them.
    validity: Arc<Validity>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only the prefix.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn field(section: &str, key: &str) -> String {
    format!("{section}|{key}")
}

fn section_of(field: &str) -> Option<(&'static str, &str)> {
    let (section, key) = field.split_once('|')?;
    let section = super::store::SECTION_NAMES
        .iter()
        .find(|s| **s == section)?;
    Some((section, key))
}

impl RedisStore {
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|_| {
            Error::config(
                "token_cache",
                "the Redis URL is not valid (expected redis://host:port/db or rediss://...)",
            )
        })?;
        let tracker = Tracker::shared(url, &client, prefix);
        let validity = tracker.register();
        Ok(RedisStore {
            client,
            prefix: prefix.to_string(),
            conn: OnceCell::new(),
            known: Mutex::new(HashMap::new()),
            tracker,
            validity,
        })
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis client (`HttpCache::beside` keeps its state on the same server).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
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
                    .map_err(|e| Error::cache(format!("cannot connect to Redis: {}", e.category())))
            })
            .await
            .cloned()
    }

    fn redis_key(&self, shard: &str) -> String {
        format!("{}{shard}", self.prefix)
    }

    /// Brings these shards from Redis into memory.
    pub(crate) async fn load(&self, data: &DataCell, shards: &[String]) -> Result<()> {
        if self.tracker.fresh(&self.validity, shards) {
            return Ok(());
        }
        let ticket = self.tracker.before_read(&self.validity);
        self.read_shards(data, shards).await?;
        self.tracker.after_read(&self.validity, ticket, shards);
        Ok(())
    }

    /// Whether the copy in memory of these shards is current (tracking reported no change
    /// since they were read): a look-up may skip Redis.
    pub(crate) fn is_current(&self, shards: &[String]) -> bool {
        self.tracker.fresh(&self.validity, shards)
    }

    /// Reads these shards from Redis even when the copy in memory counts as current.
    pub(crate) async fn load_uncached(&self, data: &DataCell, shards: &[String]) -> Result<()> {
        let ticket = self.tracker.before_read(&self.validity);
        self.read_shards(data, shards).await?;
        self.tracker.after_read(&self.validity, ticket, shards);
        Ok(())
    }

    async fn read_shards(&self, data: &DataCell, shards: &[String]) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for s in shards {
            pipe.hgetall(self.redis_key(s));
        }
        let fetched: Vec<HashMap<String, String>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::cache(format!("Redis read failed: {}", e.category())))?;
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let mut d = data.write();
        for (shard, fields) in shards.iter().zip(fetched) {
            let mut now_known = HashSet::new();
            for (f, json) in fields {
                let Some((section, key)) = section_of(&f) else {
                    continue;
                };
                let Ok(value) = serde_json::from_str(&json) else {
                    tracing::warn!(shard = %shard, "skipping an unreadable entry in Redis");
                    continue;
                };
                if d.load_entry(section, key.to_string(), value) {
                    now_known.insert((section.to_string(), key.to_string()));
                }
            }
            if let Some(before) = known.get(shard) {
                for (section, key) in before.difference(&now_known) {
                    // Removed by another instance (or expired in Redis).
                    d.unload_entry(section, key);
                }
            }
            known.insert(shard.clone(), now_known);
        }
        Ok(())
    }

    /// Loads every shard whose name starts with `prefix` (used to remove app tokens in all tenants).
    pub(crate) async fn load_matching(&self, data: &DataCell, shard_prefix: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        // The key prefix is data too: `svc[1]:` must match itself, not `svc1:`.
        let pattern = format!(
            "{}{}*",
            escape_glob(&self.prefix),
            escape_glob(shard_prefix)
        );
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::cache(format!("Redis scan failed: {}", e.category())))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let shards: Vec<String> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
            .collect();
        if shards.is_empty() {
            return Ok(());
        }
        self.load(data, &shards).await
    }

    /// Writes the changed entries through to Redis. When the write fails the changes are
    /// queued again (in `data.dirty`), to be written with the next flush.
    pub(crate) async fn flush(&self, data: &DataCell, changes: Vec<Change>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let now = CacheData::now() as i64;
        let mut pipe = redis::pipe();
        let mut ttl: HashMap<String, i64> = HashMap::new();
        // What `known` learns once the write succeeded: (shard, entry, present).
        let mut learned: Vec<(String, (String, String), bool)> = Vec::new();
        {
            let d = data.read();
            for c in &changes {
                let mut shards = vec![c.shard.clone()];
                if c.section == ACCOUNT {
                    if let Some(env) = c
                        .shard
                        .strip_prefix("user:")
                        .and_then(|r| r.split(':').next())
                    {
                        shards.push(shard::accounts(env));
                    }
                }
                let f = field(c.section, &c.key);
                let value = d.entry_json(c.section, &c.key);
                for s in shards {
                    let rk = self.redis_key(&s);
                    let entry = (c.section.to_string(), c.key.clone());
                    match &value {
                        Some(v) => {
                            pipe.hset(&rk, &f, v.to_string()).ignore();
                            learned.push((s.clone(), entry, true));
                            let life = shard_life(&s, v, now);
                            if life > 0 {
                                let t = ttl.entry(rk).or_insert(0);
                                *t = (*t).max(life);
                            }
                        }
                        None => {
                            pipe.hdel(&rk, &f).ignore();
                            learned.push((s, entry, false));
                        }
                    }
                }
            }
        }
        for (rk, secs) in ttl {
            // Only ever lengthen a shard's life. (`EXPIRE .. NX` / `GT` would say the same
            // but need Redis 7; this runs on every version still deployed, e.g. Azure
            // Cache for Redis 6.)
            pipe.cmd("EVAL")
                .arg(EXTEND_TTL)
                .arg(1)
                .arg(&rk)
                .arg(secs)
                .ignore();
        }
        let written = async {
            let mut conn = self.conn().await?;
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| Error::cache(format!("Redis write failed: {}", e.category())))
        }
        .await;
        match written {
            Ok(()) => {
                let mut touched: Vec<String> = learned.iter().map(|(s, _, _)| s.clone()).collect();
                touched.sort_unstable();
                touched.dedup();
                // Every cache of this process on these shards reads them again (the
                // server's invalidation reaches the other processes).
                self.tracker.invalidate(&touched);
                self.learn(learned);
                Ok(())
            }
            Err(e) => {
                requeue(data, changes);
                Err(e)
            }
        }
    }

    /// Records what a successful write put into (or removed from) each shard.
    fn learn(&self, learned: Vec<(String, (String, String), bool)>) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for (s, entry, present) in learned {
            if present {
                known.entry(s).or_default().insert(entry);
            } else if let Some(set) = known.get_mut(&s) {
                set.remove(&entry);
            }
        }
    }

    /// Writes changes that an earlier flush could not write, if any.
    pub(crate) async fn flush_pending(&self, data: &DataCell) -> Result<()> {
        let pending = {
            let mut d = data.write();
            std::mem::take(&mut d.dirty)
        };
        self.flush(data, pending).await
    }
}

/// How long a fleet lease lives unless released: a holder that dies lets another process
/// fetch after this long.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(10);

impl RedisStore {
    /// Takes the fleet lease `name` (`SET NX PX`): `Ok(Some(token))` when this process is
    /// to fetch, `Ok(None)` when another holds it.
    pub(crate) async fn try_lease(&self, name: &str) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.lease_key(name))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LEASE_TTL.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(|e| Error::cache(format!("Redis lease failed: {}", e.category())))?;
        Ok(set.map(|_| token))
    }

    /// Lets go of a lease this process holds (only if it still holds it).
    pub(crate) async fn release_lease(&self, name: &str, token: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("EVAL")
            .arg(RELEASE_LEASE)
            .arg(1)
            .arg(self.lease_key(name))
            .arg(token)
            .exec_async(&mut conn)
            .await
            .map_err(|e| Error::cache(format!("Redis lease release failed: {}", e.category())))
    }

    fn lease_key(&self, name: &str) -> String {
        format!("{}lease:{name}", self.prefix)
    }
}

/// `DEL key` if it still holds our token.
const RELEASE_LEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
return redis.call('DEL', KEYS[1]) else return 0 end";

/// `EXPIRE key secs` unless the key already lives at least that long.
const EXTEND_TTL: &str = "local t = redis.call('TTL', KEYS[1]) \
if t == -1 or t < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end \
return 0";

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Changes a failed write could not make: written next time. Until then `known` does not
/// list them, so a load does not mistake them for entries another instance removed.
fn requeue(data: &DataCell, changes: Vec<Change>) {
    let mut d = data.write();
    let queued: HashSet<(&'static str, String)> =
        d.dirty.iter().map(|c| (c.section, c.key.clone())).collect();
    for c in changes {
        if !queued.contains(&(c.section, c.key.clone())) {
            d.dirty.push(c);
        }
    }
}

/// How long a shard must live for an entry written to it: an access token's shard until
/// the token expires (plus grace), a user's or OBO shard for a fixed time.
fn shard_life(shard: &str, entry: &serde_json::Value, now: i64) -> i64 {
    let expires_on = entry
        .get("expires_on")
        .and_then(|e| e.as_str())
        .and_then(|e| e.parse::<i64>().ok());
    match expires_on {
        Some(exp) if shard.starts_with("app:") || shard.starts_with("obo:") => {
            exp.saturating_sub(now).saturating_add(AT_SHARD_GRACE_SECS)
        }
        _ if shard.starts_with("user:") || shard.starts_with("obo:") => USER_SHARD_TTL_SECS,
        _ => 0,
    }
}
