//! Client-side throttling: after a 429, a 5xx or any `Retry-After`, an identical request
//! is answered from memory until the server's wait is over, as MSAL does.

use crate::error::ServerError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many throttled request shapes are remembered.
const CAPACITY: usize = 1024;
/// Longest wait honoured.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Wait used when a 429 or 5xx carries no `Retry-After` (MSAL's value for confidential clients).
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// How long a 400 is replayed to an identical request (MSAL's value).
const BAD_REQUEST_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    entries: Mutex<HashMap<String, (Instant, ServerError)>>,
}

impl Throttle {
    /// The remembered refusal for this request shape, while it is still in force.
    pub(crate) fn check(&self, key: &str) -> Option<ServerError> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((until, err)) if *until > Instant::now() => Some(err.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a refusal that asked us to wait.
    pub(crate) fn record(&self, key: String, err: &ServerError) {
        let wait = match err.retry_after {
            Some(secs) => Duration::from_secs(secs).min(MAX_WAIT),
            None if err.status == 429 || err.status >= 500 => DEFAULT_WAIT,
            None => return,
        };
        self.insert(key, err, wait);
    }

    /// Remembers a 400 refusal of a byte-identical request (`key` covers the body).
    pub(crate) fn record_bad_request(&self, key: String, err: &ServerError) {
        self.insert(key, err, BAD_REQUEST_WAIT);
    }

    fn insert(&self, key: String, err: &ServerError, wait: Duration) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= CAPACITY {
            map.retain(|_, (until, _)| *until > now);
        }
        if map.len() < CAPACITY {
            map.insert(key, (now + wait, err.clone()));
        }
    }
}
