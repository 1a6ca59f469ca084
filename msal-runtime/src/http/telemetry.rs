//! `x-client-current-telemetry` and `x-client-last-telemetry`, in MSAL's schema 4.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// API ids MSAL reports in telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiId {
    AcquireTokenSilent = 84,
    ByRefreshToken = 85,
    OnBehalfOf = 523,
    ForClient = 730,
    ByAuthCode = 832,
}

/// Why a request went to the network (MSAL's refresh reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshReason {
    NotApplicable = 0,
    ForceRefresh = 1,
    NoCachedToken = 2,
    Expired = 3,
    ProactiveRefresh = 4,
}

#[derive(Debug, Default)]
struct Last {
    failures: Vec<(u32, String, String)>,
}

/// Per-application telemetry buffer.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    last: Mutex<Last>,
    /// Counted without the lock: every cache hit adds one to its thread's stripe, so
    /// threads on different cores do not fight over one counter; the header sums them.
    cache_hits: [Stripe; STRIPES],
}

/// How many hit counters an application keeps (threads pick one each, round robin).
const STRIPES: usize = 8;

/// One counter on a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// This thread's stripe.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.try_with(|m| {
        if m.get() == usize::MAX {
            m.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        m.get()
    })
    .unwrap_or(0)
}

/// The failure section of the last-request header is capped like MSAL's (350 chars).
const MAX_FAILURE_CHARS: usize = 350;

impl Telemetry {
    pub(crate) fn current(api: ApiId, reason: RefreshReason) -> String {
        format!("4|{},{}|", api as u32, reason as u32)
    }

    pub(crate) fn record_cache_hit(&self) {
        self.cache_hits[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }

    /// Cache hits since the last successful request.
    fn hits(&self) -> u64 {
        self.cache_hits
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }

    /// The `x-client-last-telemetry` value for the next request.
    pub(crate) fn last_header(&self) -> String {
        let last = self.lock();
        let apis: Vec<String> = last
            .failures
            .iter()
            .map(|(a, c, _)| format!("{a},{c}"))
            .collect();
        let errors: Vec<&str> = last.failures.iter().map(|(_, _, e)| e.as_str()).collect();
        format!("4|{}|{}|{}|", self.hits(), apis.join(","), errors.join(","))
    }

    pub(crate) fn record_failure(&self, api: ApiId, correlation_id: &str, error: &str) {
        let mut last = self.lock();
        let size: usize = last
            .failures
            .iter()
            .map(|(_, c, e)| c.len() + e.len() + 6)
            .sum();
        if size + correlation_id.len() + error.len() + 6 <= MAX_FAILURE_CHARS {
            last.failures
                .push((api as u32, correlation_id.to_string(), error.to_string()));
        }
    }

    /// A successful response means the server has seen what we reported.
    pub(crate) fn clear(&self) {
        *self.lock() = Last::default();
        for s in &self.cache_hits {
            s.0.store(0, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_schema_4() {
        let t = Telemetry::default();
        assert_eq!(
            Telemetry::current(ApiId::ForClient, RefreshReason::NoCachedToken),
            "4|730,2|"
        );
        assert_eq!(t.last_header(), "4|0|||");
        t.record_failure(ApiId::ForClient, "corr-1", "invalid_client");
        t.record_cache_hit();
        assert_eq!(t.last_header(), "4|1|730,corr-1|invalid_client|");
        t.clear();
        assert_eq!(t.last_header(), "4|0|||");
    }
}
