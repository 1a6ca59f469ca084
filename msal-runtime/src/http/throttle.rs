//! Client-side throttling: after a 429, a 5xx or any `Retry-After`, an identical request
//! is answered from memory until the server's wait is over, as MSAL does. The refusal is
//! remembered whatever its body: an OAuth error, an HTML gateway page or nothing at all.

use crate::error::{Error, HttpErrorKind, ServerError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many throttled request shapes are remembered (MSAL's capacity); when
/// full, expired entries go first, then the oldest one.
const CAPACITY: usize = 1024;
/// Longest wait honoured.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Wait used when a 429 or 5xx carries no `Retry-After` (MSAL's value for confidential clients).
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// How long a 400 is replayed to an identical request (MSAL's value).
const BAD_REQUEST_WAIT: Duration = Duration::from_secs(60);

/// A refusal worth replaying.
#[derive(Debug, Clone)]
enum Refusal {
    /// An OAuth error body.
    Server(Box<ServerError>),
    /// An error status without an OAuth body (a gateway's HTML page, an empty body).
    Status { url: String, status: u16 },
}

impl Refusal {
    fn to_error(&self) -> Error {
        match self {
            Refusal::Server(s) => Error::Server(s.clone()),
            Refusal::Status { url, status } => Error::Http {
                url: url.clone(),
                status: Some(*status),
                kind: HttpErrorKind::Status,
                detail: format!(
                    "HTTP status {status} without an OAuth error (replayed: the authority asked for a pause)"
                ),
                source: None,
            },
        }
    }
}

/// A refusal as persisted HTTP state keeps it (`HttpCache`): another application
/// instance, or another process, replays it until `until` (epoch seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PersistedRefusal {
    pub until: u64,
    status: u16,
    /// The URL of a refusal without an OAuth body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server: Option<StoredServerError>,
}

/// The fields of a [`ServerError`], for [`PersistedRefusal`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredServerError {
    error: String,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<i64>,
    correlation_id: Option<String>,
    trace_id: Option<String>,
    timestamp: Option<String>,
    suberror: Option<String>,
    claims: Option<String>,
    error_uri: Option<String>,
    retry_after: Option<u64>,
}

impl PersistedRefusal {
    fn of(refusal: &Refusal, until: u64) -> Self {
        match refusal {
            Refusal::Server(s) => PersistedRefusal {
                until,
                status: s.status,
                url: None,
                server: Some(StoredServerError {
                    error: s.error.clone(),
                    error_description: s.error_description.clone(),
                    error_codes: s.error_codes.clone(),
                    correlation_id: s.correlation_id.clone(),
                    trace_id: s.trace_id.clone(),
                    timestamp: s.timestamp.clone(),
                    suberror: s.suberror.clone(),
                    claims: s.claims.clone(),
                    error_uri: s.error_uri.clone(),
                    retry_after: s.retry_after,
                }),
            },
            Refusal::Status { url, status } => PersistedRefusal {
                until,
                status: *status,
                url: Some(url.clone()),
                server: None,
            },
        }
    }

    fn refusal(self) -> Option<Refusal> {
        match (self.server, self.url) {
            (Some(s), _) => Some(Refusal::Server(Box::new(ServerError {
                status: self.status,
                error: s.error,
                error_description: s.error_description,
                error_codes: s.error_codes,
                correlation_id: s.correlation_id,
                trace_id: s.trace_id,
                timestamp: s.timestamp,
                suberror: s.suberror,
                claims: s.claims,
                error_uri: s.error_uri,
                retry_after: s.retry_after,
            }))),
            (None, Some(url)) => Some(Refusal::Status {
                url,
                status: self.status,
            }),
            (None, None) => None,
        }
    }
}

struct Entry {
    inserted: Instant,
    until: Instant,
    refusal: Refusal,
}

#[derive(Default)]
struct Table {
    entries: HashMap<String, Entry>,
}

pub(crate) struct Throttle {
    table: Mutex<Table>,
    capacity: usize,
    /// Whether new refusals are queued for persisted HTTP state.
    persisting: bool,
    pending: Mutex<Vec<(String, PersistedRefusal)>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::with_capacity(CAPACITY)
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// How long to replay a refusal with this status, or `None` when it is not replayed.
fn wait_for(status: u16, retry_after: Option<u64>) -> Option<Duration> {
    match retry_after {
        Some(secs) => Some(Duration::from_secs(secs).min(MAX_WAIT)),
        None if status == 429 || status >= 500 => Some(DEFAULT_WAIT),
        None => None,
    }
}

impl Throttle {
    fn with_capacity(capacity: usize) -> Self {
        Throttle {
            table: Mutex::new(Table::default()),
            capacity: capacity.max(1),
            persisting: false,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// A throttle whose new refusals are also queued for persisted HTTP state
    /// ([`take_pending`](Self::take_pending)).
    pub(crate) fn persisting() -> Self {
        Throttle {
            persisting: true,
            ..Throttle::default()
        }
    }

    /// The refusals recorded since the last call, to persist.
    pub(crate) fn take_pending(&self) -> Vec<(String, PersistedRefusal)> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes in a refusal another instance persisted: replayed here too until it ends.
    pub(crate) fn adopt(&self, key: String, p: PersistedRefusal) -> Option<Error> {
        let left = p
            .until
            .checked_sub(super::state::epoch_now())
            .filter(|s| *s > 0)?;
        let refusal = p.refusal()?;
        let err = refusal.to_error();
        self.insert_local(key, refusal, Duration::from_secs(left));
        Some(err)
    }

    /// The remembered refusal for this request shape, while it is still in force.
    pub(crate) fn check(&self, key: &str) -> Option<Error> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        match t.entries.get(key) {
            Some(e) if e.until > Instant::now() => Some(e.refusal.to_error()),
            Some(_) => {
                t.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a refusal that asked us to wait: any status with `Retry-After`, or a
    /// 429 or 5xx (for [`DEFAULT_WAIT`]), whatever the body. Other errors are ignored.
    pub(crate) fn record(&self, key: String, err: &Error, retry_after: Option<u64>) {
        let (status, refusal) = match err {
            Error::Server(s) => (s.status, Refusal::Server(s.clone())),
            Error::Http {
                url,
                status: Some(status),
                kind: HttpErrorKind::Status,
                ..
            } => (
                *status,
                Refusal::Status {
                    url: url.clone(),
                    status: *status,
                },
            ),
            _ => return,
        };
        let retry_after = match err {
            Error::Server(s) => s.retry_after.or(retry_after),
            _ => retry_after,
        };
        if let Some(wait) = wait_for(status, retry_after) {
            self.insert(key, refusal, wait);
        }
    }

    /// Remembers a 400 refusal of a byte-identical request (`key` covers the body).
    pub(crate) fn record_bad_request(&self, key: String, err: &ServerError) {
        self.insert(
            key,
            Refusal::Server(Box::new(err.clone())),
            BAD_REQUEST_WAIT,
        );
    }

    fn insert(&self, key: String, refusal: Refusal, wait: Duration) {
        if self.persisting {
            let until = super::state::epoch_now().saturating_add(wait.as_secs());
            let p = PersistedRefusal::of(&refusal, until);
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((key.clone(), p));
        }
        self.insert_local(key, refusal, wait);
    }

    fn insert_local(&self, key: String, refusal: Refusal, wait: Duration) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if !t.entries.contains_key(&key) && t.entries.len() >= self.capacity {
            t.entries.retain(|_, e| e.until > now);
            while t.entries.len() >= self.capacity {
                let Some(oldest) = t
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.inserted)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                t.entries.remove(&oldest);
            }
        }
        t.entries.insert(
            key,
            Entry {
                inserted: now,
                until: now + wait,
                refusal,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> Error {
        Error::Http {
            url: "https://login.example/t/oauth2/v2.0/token".into(),
            status: Some(s),
            kind: HttpErrorKind::Status,
            detail: "HTTP status without an OAuth error".into(),
            source: None,
        }
    }

    #[test]
    fn gateway_errors_are_remembered_whatever_the_body() {
        let t = Throttle::default();
        t.record("a".into(), &status(502), None);
        t.record("b".into(), &status(429), Some(30));
        t.record("c".into(), &status(404), None);
        t.record("d".into(), &status(404), Some(10));
        let replay = t.check("a").expect("a 502 is replayed");
        assert!(matches!(
            replay,
            Error::Http {
                status: Some(502),
                kind: HttpErrorKind::Status,
                ..
            }
        ));
        assert!(replay.is_retryable());
        assert!(t.check("b").is_some());
        assert!(t.check("c").is_none(), "a 404 without Retry-After is not");
        assert!(t.check("d").is_some(), "any status with Retry-After is");
        // Transport failures have nothing to replay.
        let transport = Error::Http {
            url: "u".into(),
            status: None,
            kind: HttpErrorKind::Timeout,
            detail: "timed out".into(),
            source: None,
        };
        t.record("e".into(), &transport, Some(30));
        assert!(t.check("e").is_none());
    }

    #[test]
    fn a_full_table_evicts_the_oldest_entry() {
        let t = Throttle::with_capacity(3);
        for k in ["k1", "k2", "k3"] {
            t.record(k.into(), &status(503), Some(60));
            std::thread::sleep(Duration::from_millis(2));
        }
        t.record("k4".into(), &status(503), Some(60));
        assert!(t.check("k1").is_none(), "the oldest went");
        for k in ["k2", "k3", "k4"] {
            assert!(t.check(k).is_some(), "{k} kept");
        }
        // Re-recording a known key does not evict another.
        t.record("k3".into(), &status(503), Some(60));
        for k in ["k2", "k3", "k4"] {
            assert!(t.check(k).is_some(), "{k} kept");
        }
    }
}
