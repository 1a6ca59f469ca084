//! The request/response shapes handlers work with, and Entra-style error bodies.

use serde_json::{json, Value};

use crate::types::lookup;

/// A fully read request, as handlers see it.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    /// Non-empty path segments, percent-decoded.
    pub segments: Vec<String>,
    /// Lower-cased host name without port (IPv6 without brackets).
    pub hostname: String,
    /// `host[:port]` exactly as addressed.
    pub authority: String,
    pub scheme: &'static str,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl Req {
    /// `scheme://host[:port]` as the client addressed us (regional hosts stay regional).
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, name, true)
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name, false)
    }

    /// A non-empty form field.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        lookup(&self.form, name, false).filter(|v| !v.is_empty())
    }

    /// The caller's correlation id: MSAL Python sends a header, msal-node a query parameter.
    pub fn correlation_id(&self) -> Option<&str> {
        self.header("client-request-id")
            .or_else(|| self.query_value("client-request-id"))
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("cache-control".into(), "no-store, no-cache".into()),
                ("pragma".into(), "no-cache".into()),
            ],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: body.into_bytes(),
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn redirect(location: String) -> Self {
        Reply {
            status: 302,
            headers: vec![
                ("location".into(), location),
                ("cache-control".into(), "no-store, no-cache".into()),
            ],
            body: Vec::new(),
        }
    }

    pub fn not_found() -> Self {
        Reply::text(404, "Not Found")
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// An Entra (AAD v2) error response.
#[derive(Debug, Clone)]
pub(crate) struct EntraError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub text: String,
    pub suberror: Option<&'static str>,
}

impl EntraError {
    pub fn new(status: u16, error: &'static str, code: u32, text: impl Into<String>) -> Self {
        EntraError {
            status,
            error,
            code,
            text: text.into(),
            suberror: None,
        }
    }

    pub fn suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// `invalid_request` for a missing form field.
    pub fn missing(param: &str) -> Self {
        EntraError::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// The AADSTS90002 unknown-tenant error.
    pub fn unknown_tenant(tenant: &str) -> Self {
        EntraError::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID \
                 and are signing into the correct cloud."
            ),
        )
    }

    /// The JSON body, with trace/correlation ids like Entra's.
    pub fn body(&self, req: &Req) -> Value {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = req
            .correlation_id()
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = format_timestamp(crate::tokens::now());
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.text
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{}/error?code={}", req.base(), self.code),
        });
        if let Some(sub) = self.suberror {
            body["suberror"] = json!(sub);
        }
        body
    }

    pub fn reply(&self, req: &Req) -> Reply {
        let body = self.body(req);
        let trace = body["trace_id"].as_str().unwrap_or_default().to_string();
        let mut reply = Reply::json(self.status, &body).with_header("x-ms-request-id", trace);
        if let Some(c) = req.correlation_id() {
            reply = reply.with_header("client-request-id", c);
        }
        if self.status == 401 {
            reply = reply.with_header("www-authenticate", "Bearer");
        }
        reply
    }
}

/// `YYYY-MM-DD HH:MM:SSZ`, the format of Entra's `timestamp` field.
pub(crate) fn format_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date-time dependency.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_format() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_timestamp(1_709_251_199), "2024-02-29 23:59:59Z");
        assert_eq!(format_timestamp(1_735_689_600), "2025-01-01 00:00:00Z");
    }
}
