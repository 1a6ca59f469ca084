//! Fault injection: queued, path-matched misbehaviour for the next matching requests.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

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

    /// A gateway's HTML page with this status (`Content-Type: text/html`).
    ///
    /// ```
    /// let bad_gateway = msal_testkit::Fault::html("/token", 502);
    /// # let _ = bad_gateway;
    /// ```
    pub fn html(path_contains: impl Into<String>, status: u16) -> Self {
        Self::once(
            path_contains,
            FaultKind::Status {
                status,
                body: format!(
                    "<html><head><title>{status}</title></head>\
                     <body><h1>{status}</h1><p>The gateway could not serve this request.</p>\
                     </body></html>"
                ),
                headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            },
        )
    }

    /// This status with an empty body (`Content-Length: 0`).
    ///
    /// ```
    /// let empty = msal_testkit::Fault::empty("/token", 200);
    /// # let _ = empty;
    /// ```
    pub fn empty(path_contains: impl Into<String>, status: u16) -> Self {
        Self::status(path_contains, status, "")
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
    /// Send the status and headers (with a `Content-Length` of the whole `body`), then only
    /// the first `sent` bytes of `body`, then break the connection (HTTP/1.1: the socket is
    /// closed mid-body; HTTP/2: the stream is reset).
    ResetMidBody {
        /// HTTP status code.
        status: u16,
        /// The body the headers announce.
        body: String,
        /// How many bytes of it are sent before the break.
        sent: usize,
    },
    /// A `200` whose body is `bytes` long: a JSON-looking prefix padded with `a`s, streamed in
    /// 64 KiB chunks and never held in memory whole. With `declare_length` the headers carry
    /// `Content-Length`; without, the body is sent chunked / length-less (the client only
    /// learns the size by reading).
    Oversized {
        /// Total body size in bytes.
        bytes: u64,
        /// Whether `Content-Length` announces the size.
        declare_length: bool,
    },
}

/// A response body: whole (every ordinary answer) or scripted by a fault (a prefix, filler
/// streamed in chunks, then the end or a broken connection).
pub(crate) struct ReplyBody {
    head: Option<Bytes>,
    filler: Bytes,
    filler_left: u64,
    fail: bool,
    declared: Option<u64>,
}

/// Size of the chunks an oversized body is streamed in.
const FILLER_CHUNK: usize = 64 * 1024;

impl ReplyBody {
    /// A complete body.
    pub(crate) fn whole(body: Bytes) -> Self {
        let len = body.len() as u64;
        ReplyBody {
            head: (!body.is_empty()).then_some(body),
            filler: Bytes::new(),
            filler_left: 0,
            fail: false,
            declared: Some(len),
        }
    }

    /// The first `sent` bytes of `body`, announced whole, then an error.
    pub(crate) fn cut(body: &str, sent: usize) -> Self {
        let bytes = Bytes::copy_from_slice(body.as_bytes());
        let sent = sent.min(bytes.len().saturating_sub(1));
        ReplyBody {
            head: Some(bytes.slice(..sent)),
            filler: Bytes::new(),
            filler_left: 0,
            fail: true,
            declared: Some(bytes.len() as u64),
        }
    }

    /// `bytes` bytes: the start of a token response, then `a`s.
    pub(crate) fn oversized(bytes: u64, declare_length: bool) -> Self {
        let head =
            Bytes::from_static(br#"{"token_type":"Bearer","expires_in":3599,"access_token":""#);
        let head_len = head.len() as u64;
        ReplyBody {
            head: Some(head),
            filler: Bytes::from(vec![b'a'; FILLER_CHUNK]),
            filler_left: bytes.saturating_sub(head_len),
            fail: false,
            declared: declare_length.then_some(bytes.max(head_len)),
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if self.filler_left > 0 {
            let n = self.filler_left.min(FILLER_CHUNK as u64);
            self.filler_left -= n;
            // n <= FILLER_CHUNK, so the conversion cannot truncate.
            let chunk = self
                .filler
                .slice(..usize::try_from(n).unwrap_or(FILLER_CHUNK));
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if self.fail {
            self.fail = false;
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "fault: connection broken mid-body",
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.filler_left == 0 && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
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
