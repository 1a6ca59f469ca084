//! MSAL's throttle for managed identity: a 429, 5xx or `Retry-After` answer is replayed to an
//! identical request for `min(3600, Retry-After or 5)` seconds, without contacting the source.

use super::transport::{MiRequest, MiResponse};
use openssl::hash::{hash, MessageDigest};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most (MSAL's `http_cache` holds 1024).
const CAPACITY: usize = 1024;
/// Replay time when the source sent no usable `Retry-After`.
const DEFAULT_SECS: u64 = 5;
/// Longest replay time, whatever `Retry-After` says.
const MAX_SECS: u64 = 3600;

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    entries: Mutex<HashMap<String, (Instant, MiResponse)>>,
}

/// The key of a request: method, full URL (query included), form, and a step tag (Azure Arc's
/// challenge and authorised GETs are distinct requests here, unlike MSAL Python). Header values
/// are not part of it, as in MSAL.
pub(crate) fn key(req: &MiRequest, step: &str) -> String {
    let mut material = format!("{:?} {} {step}", req.method, req.url);
    for (k, v) in &req.form {
        material.push('&');
        material.push_str(k);
        material.push('=');
        material.push_str(v);
    }
    let digest = hash(MessageDigest::sha256(), material.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_else(|_| material.into_bytes());
    super::transport::hex(&digest)
}

impl Throttle {
    /// The recorded failure for `key`, if it is still to be replayed; with its age.
    pub(crate) fn replay(&self, key: &str) -> Option<MiResponse> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((until, resp)) if *until > Instant::now() => Some(resp.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Records `resp` when it is a failure to be replayed (non-2xx and 429, >= 500 or with a
    /// `Retry-After` header).
    pub(crate) fn record(&self, key: String, resp: &MiResponse) {
        if resp.is_success() {
            return;
        }
        let throttled =
            resp.status == 429 || resp.status >= 500 || resp.header("retry-after").is_some();
        if !throttled {
            return;
        }
        let secs = resp.retry_after().unwrap_or(DEFAULT_SECS).min(MAX_SECS);
        let until = Instant::now() + Duration::from_secs(secs);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAPACITY {
            let now = Instant::now();
            map.retain(|_, (t, _)| *t > now);
            if map.len() >= CAPACITY {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (t, _))| *t)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(key, (until, resp.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, retry_after: Option<&str>) -> MiResponse {
        MiResponse {
            status,
            headers: retry_after
                .map(|v| vec![("retry-after".to_string(), v.to_string())])
                .unwrap_or_default(),
            body: "{}".into(),
        }
    }

    #[test]
    fn replays_429_and_5xx_but_not_other_4xx() {
        let t = Throttle::default();
        t.record("a".into(), &resp(500, None));
        t.record("b".into(), &resp(404, None));
        t.record("c".into(), &resp(400, Some("30")));
        t.record("d".into(), &resp(200, Some("30")));
        assert_eq!(t.replay("a").map(|r| r.status), Some(500));
        assert!(t.replay("b").is_none());
        assert_eq!(t.replay("c").map(|r| r.status), Some(400));
        assert!(t.replay("d").is_none());
    }

    #[test]
    fn keys_differ_by_url_and_step() {
        let r1 = MiRequest::get(url::Url::parse("http://127.0.0.1/x?resource=a").unwrap());
        let r2 = MiRequest::get(url::Url::parse("http://127.0.0.1/x?resource=b").unwrap());
        assert_ne!(key(&r1, ""), key(&r2, ""));
        assert_ne!(key(&r1, "challenge"), key(&r1, "authorized"));
        assert_eq!(
            key(&r1, ""),
            key(&r1.clone().header("Metadata", "true"), "")
        );
    }
}
