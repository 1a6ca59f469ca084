//! Fault injection: queued, path-matched misbehaviour for the next matching requests.

use std::collections::VecDeque;
use std::time::Duration;

/// A queued fault: applies to the next `times` requests whose path contains `path_contains`.
///
/// ```
/// use msal_testkit::{Fault, FaultKind};
/// let throttle = Fault {
///     path_contains: "/oauth2/v2.0/token".into(),
///     times: 1,
///     kind: FaultKind::Status {
///         status: 429,
///         body: r#"{"error":"temporarily_unavailable"}"#.into(),
///         headers: vec![("Retry-After".into(), "1".into())],
///     },
/// };
/// # let _ = throttle;
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    /// Substring the request path must contain (`""` matches every request).
    pub path_contains: String,
    /// How many matching requests this fault applies to.
    pub times: usize,
    /// What happens to those requests.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault of `kind` for the next matching request.
    pub fn once(path_contains: impl Into<String>, kind: FaultKind) -> Self {
        Fault {
            path_contains: path_contains.into(),
            times: 1,
            kind,
        }
    }

    /// A plain status response (`body` sent as-is, `Content-Type: application/json` unless given).
    pub fn status(path_contains: impl Into<String>, status: u16, body: impl Into<String>) -> Self {
        Self::once(
            path_contains,
            FaultKind::Status {
                status,
                body: body.into(),
                headers: Vec::new(),
            },
        )
    }

    /// Sets how many matching requests the fault applies to.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }
}

/// What a fault does to a matching request.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Respond with this status, body and extra headers instead of handling the request.
    Status {
        /// HTTP status code.
        status: u16,
        /// Response body, sent verbatim.
        body: String,
        /// Extra response headers (e.g. `Retry-After`).
        headers: Vec<(String, String)>,
    },
    /// Wait, then handle the request normally (for client timeouts).
    Delay(Duration),
    /// Close the TCP connection without sending any HTTP response.
    DropConnection,
}

/// The queue of pending faults.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    faults: VecDeque<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.faults.push_back(fault);
        }
    }

    /// Consumes one use of the first queued fault matching `path`.
    pub(crate) fn take(&mut self, path: &str) -> Option<FaultKind> {
        let idx = self
            .faults
            .iter()
            .position(|f| path.contains(&f.path_contains))?;
        let fault = &mut self.faults[idx];
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            self.faults.remove(idx);
        }
        Some(kind)
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_in_order_and_by_count() {
        let mut q = FaultQueue::default();
        q.push(Fault::status("/token", 500, "a").times(2));
        q.push(Fault::status("/token", 503, "b"));
        q.push(Fault::status("/keys", 404, ""));
        let status = |k: Option<FaultKind>| match k {
            Some(FaultKind::Status { status, .. }) => Some(status),
            _ => None,
        };
        assert_eq!(status(q.take("/x/keys")), Some(404));
        assert_eq!(status(q.take("/t/oauth2/v2.0/token")), Some(500));
        assert_eq!(status(q.take("/t/oauth2/v2.0/token")), Some(500));
        assert_eq!(status(q.take("/t/oauth2/v2.0/token")), Some(503));
        assert_eq!(status(q.take("/t/oauth2/v2.0/token")), None);
    }
}
