//! Server-assisted client-side caching: which shards held in memory Redis has not changed
//! since we read them, so that a hit needs no round trip.
//!
//! One connection per Redis URL and key prefix in the process (a [`Tracker`], shared by
//! every cache on them) runs `CLIENT TRACKING ON BCAST PREFIX {prefix}` over RESP3: Redis
//! then pushes an `invalidate` message naming every key under the prefix that anyone
//! writes, deletes or lets expire. Each cache keeps a [`Validity`] table of the shards it
//! loaded while tracking was up (by shard name, the key without the prefix); an invalidation (or the loss of the tracking connection,
//! or a write by another cache of this process) strikes shards out of every table, and a
//! struck-out shard is read from Redis again on its next look-up.
//!
//! A read that raced an invalidation is not trusted: each table numbers the invalidations
//! it received and remembers the recent ones, and a shard read before an invalidation of
//! it was processed is not marked valid. While tracking is down (Redis older than 6, a
//! server that refuses `CLIENT TRACKING`, an outage), nothing is marked valid and every
//! look-up reads Redis, as without this layer; reconnection is retried in the background.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// How many recent invalidations each table remembers to judge racing reads.
const RECENT: usize = 1024;
/// Wait between attempts to (re)establish tracking after a connection failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Wait after a server refused tracking (RESP2 only, command disabled).
const RETRY_AFTER_REFUSAL: Duration = Duration::from_secs(60);

/// The tracking connection of one Redis URL and key prefix in this process.
pub(super) struct Tracker {
    client: redis::Client,
    prefix: String,
    /// The generation of the tracking connection now up; 0 while down.
    up: AtomicU64,
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    generation: u64,
    connecting: bool,
    retry_at: Option<Instant>,
    tables: Vec<Weak<Validity>>,
    /// Dropping it stops the task that holds the tracking connection.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Which shards (Redis keys) one cache holds as Redis has them.
#[derive(Default)]
pub(super) struct Validity {
    state: Mutex<ValidityState>,
}

#[derive(Default)]
struct ValidityState {
    /// Key -> tracking generation it was validated under.
    valid: HashMap<String, u64>,
    /// Invalidations received (numbered from 1).
    seq: u64,
    /// The last invalidation of everything.
    all_at: u64,
    recent: VecDeque<(u64, String)>,
    /// Invalidations numbered up to this one may have left `recent`.
    forgotten_up_to: u64,
}

/// What a look-up noted before reading Redis.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadTicket {
    generation: u64,
    seq: u64,
}

impl Tracker {
    /// The process's tracker for this URL and prefix.
    pub(super) fn shared(url: &str, client: &redis::Client, prefix: &str) -> Arc<Tracker> {
        type Table = Mutex<HashMap<(String, String), Weak<Tracker>>>;
        static TRACKERS: OnceLock<Table> = OnceLock::new();
        let mut table = TRACKERS
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        table.retain(|_, t| t.strong_count() > 0);
        let key = (url.to_string(), prefix.to_string());
        if let Some(t) = table.get(&key).and_then(Weak::upgrade) {
            return t;
        }
        let t = Arc::new(Tracker {
            client: client.clone(),
            prefix: prefix.to_string(),
            up: AtomicU64::new(0),
            state: Mutex::new(TrackerState::default()),
        });
        table.insert(key, Arc::downgrade(&t));
        t
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new table, told of every invalidation from now on.
    pub(super) fn register(&self) -> Arc<Validity> {
        let v = Arc::new(Validity::default());
        let mut s = self.lock();
        s.tables.retain(|t| t.strong_count() > 0);
        s.tables.push(Arc::downgrade(&v));
        v
    }

    /// Whether every one of these keys may be served from `table` without reading Redis.
    pub(super) fn fresh(&self, table: &Validity, keys: &[String]) -> bool {
        let generation = self.up.load(Ordering::Acquire);
        if generation == 0 {
            return false;
        }
        let v = table.lock();
        keys.iter()
            .all(|k| v.valid.get(k).is_some_and(|g| *g == generation))
    }

    /// Notes the moment before a read of Redis (and starts tracking if it is down).
    pub(super) fn before_read(self: &Arc<Self>, table: &Validity) -> ReadTicket {
        self.ensure_running();
        ReadTicket {
            generation: self.up.load(Ordering::Acquire),
            seq: table.lock().seq,
        }
    }

    /// Marks the keys read as valid, unless tracking was down or went down, or one of
    /// them was invalidated after `ticket` was taken.
    pub(super) fn after_read(&self, table: &Validity, ticket: ReadTicket, keys: &[String]) {
        if ticket.generation == 0 || self.up.load(Ordering::Acquire) != ticket.generation {
            return;
        }
        let mut v = table.lock();
        if v.all_at > ticket.seq || v.forgotten_up_to > ticket.seq {
            return;
        }
        for k in keys {
            let raced = v.recent.iter().any(|(s, r)| *s > ticket.seq && r == k);
            if !raced {
                v.valid.insert(k.clone(), ticket.generation);
            }
        }
    }

    /// Strikes these keys out of every table of this process (a write made here; the
    /// server's own message follows).
    pub(super) fn invalidate(&self, keys: &[String]) {
        for table in self.tables() {
            table.invalidate(Some(keys));
        }
    }

    fn invalidate_all(&self) {
        for table in self.tables() {
            table.invalidate(None);
        }
    }

    fn tables(&self) -> Vec<Arc<Validity>> {
        let mut s = self.lock();
        s.tables.retain(|t| t.strong_count() > 0);
        s.tables.iter().filter_map(Weak::upgrade).collect()
    }

    /// Starts the task that holds the tracking connection, unless it runs or waits to retry.
    fn ensure_running(self: &Arc<Self>) {
        if self.up.load(Ordering::Acquire) != 0 {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut s = self.lock();
            if s.connecting || s.retry_at.is_some_and(|t| Instant::now() < t) {
                return;
            }
            s.connecting = true;
        }
        let me = Arc::downgrade(self);
        let client = self.client.clone();
        let prefix = self.prefix.clone();
        rt.spawn(async move {
            // Whatever ends this task (the runtime shutting down included) takes tracking down.
            let _down = DownOnDrop(me.clone());
            track(me, client, prefix).await;
        });
    }

    fn went_down(&self, retry_after: Duration) {
        self.up.store(0, Ordering::Release);
        {
            let mut s = self.lock();
            s.connecting = false;
            s.stop = None;
            s.retry_at = Some(Instant::now() + retry_after);
        }
        self.invalidate_all();
    }
}

impl Validity {
    fn lock(&self) -> std::sync::MutexGuard<'_, ValidityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None`: everything.
    fn invalidate(&self, keys: Option<&[String]>) {
        let mut v = self.lock();
        v.seq += 1;
        let seq = v.seq;
        match keys {
            None => {
                v.valid.clear();
                v.all_at = seq;
            }
            Some(keys) => {
                for k in keys {
                    v.valid.remove(k);
                    if v.recent.len() == RECENT {
                        if let Some((s, _)) = v.recent.pop_front() {
                            v.forgotten_up_to = s;
                        }
                    }
                    v.recent.push_back((seq, k.clone()));
                }
            }
        }
    }
}

struct DownOnDrop(Weak<Tracker>);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.upgrade() {
            // `track` took tracking down itself on every path but a cancellation.
            let still_up = t.up.load(Ordering::Acquire) != 0 || t.lock().connecting;
            if still_up {
                t.went_down(RETRY_AFTER);
            }
        }
    }
}

/// Opens the tracking connection, then applies the server's invalidations until the
/// connection or the tracker goes away.
async fn track(me: Weak<Tracker>, client: redis::Client, prefix: String) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<redis::PushInfo>();
    let info = client.get_connection_info().clone();
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let opened = async {
        let client = redis::Client::open(info.set_redis_settings(resp3))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_push_sender(tx);
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut tracking = redis::cmd("CLIENT");
        tracking.arg("TRACKING").arg("ON").arg("BCAST");
        if !prefix.is_empty() {
            tracking.arg("PREFIX").arg(&prefix);
        }
        tracking.exec_async(&mut conn).await?;
        Ok::<_, redis::RedisError>(conn)
    }
    .await;
    let Some(tracker) = me.upgrade() else {
        return;
    };
    let conn = match opened {
        Ok(conn) => conn,
        Err(e) => {
            let wait = if matches!(e.kind(), redis::ErrorKind::Server(_)) {
                RETRY_AFTER_REFUSAL
            } else {
                RETRY_AFTER
            };
            tracing::debug!(
                "Redis client-side caching is off ({}); every look-up reads Redis",
                e.category()
            );
            tracker.went_down(wait);
            return;
        }
    };
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel();
    {
        let mut s = tracker.lock();
        s.generation += 1;
        s.connecting = false;
        s.retry_at = None;
        s.stop = Some(stop_tx);
        // Anything validated under an earlier connection is stale by now.
        tracker.up.store(s.generation, Ordering::Release);
    }
    tracker.invalidate_all();
    drop(tracker);
    loop {
        let push = tokio::select! {
            p = rx.recv() => p,
            _ = &mut stop_rx => None,
        };
        let Some(tracker) = me.upgrade() else {
            break;
        };
        match push {
            Some(p) if p.kind == redis::PushKind::Invalidate => match invalidated_keys(&p.data) {
                Some(keys) => {
                    let shards: Vec<String> = keys
                        .iter()
                        .filter_map(|k| k.strip_prefix(tracker.prefix.as_str()))
                        .map(str::to_string)
                        .collect();
                    tracker.invalidate(&shards);
                }
                None => tracker.invalidate_all(),
            },
            Some(p) if p.kind == redis::PushKind::Disconnection => {
                tracker.went_down(RETRY_AFTER);
                break;
            }
            Some(_) => {}
            None => {
                tracker.went_down(RETRY_AFTER);
                break;
            }
        }
    }
    drop(conn);
}

/// The keys an `invalidate` push names; `None` for "everything" (a flush).
fn invalidated_keys(data: &[redis::Value]) -> Option<Vec<String>> {
    match data.first() {
        Some(redis::Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| match v {
                    redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
                    redis::Value::SimpleString(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}
