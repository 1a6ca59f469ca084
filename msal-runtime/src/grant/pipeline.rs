//! The token-request pipeline every grant uses: form (client id, grant type, client
//! authentication, `client_info`, the flow's fields), library and telemetry headers,
//! client-side throttling, one retry, regional fallback, response parsing.

use super::response::{self, TokenResponse};
use crate::authority::AuthorityKind;
use crate::credential::{AssertionContext, ClientCredential, ASSERTION_TYPE};
use crate::error::{Error, HttpErrorKind, Result};
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::http::Telemetry;
use crate::state::AppState;
use std::time::Duration;

/// Form fields, in wire order.
type Form = Vec<(String, String)>;

/// One token-endpoint POST, before client authentication is added.
pub(crate) struct TokenRequest {
    pub api: ApiId,
    pub reason: RefreshReason,
    /// Where to send it (maybe regional).
    pub endpoint: String,
    /// Where it would go globally; used for assertion audiences and as a fallback.
    pub global_endpoint: String,
    pub grant_type: &'static str,
    /// Flow-specific fields, in wire order.
    pub fields: Vec<(String, String)>,
    pub extra_headers: Vec<(String, String)>,
    /// Identifies "the same request" for client-side throttling.
    pub throttle_key: String,
}

/// A successful exchange.
pub(crate) struct Issued {
    pub response: TokenResponse,
    pub correlation_id: String,
}

/// A digest of a form body (never logged; only used as a map key).
fn body_digest(form: &[(String, String)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        ser.append_pair(k, v);
    }
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        openssl::sha::sha256(ser.finish().as_bytes()),
    )
}

/// How long to wait before the one retry of a failed request.
fn backoff(retry_after: Option<u64>) -> Option<Duration> {
    match retry_after {
        None => Some(Duration::from_millis(300)),
        Some(s) if s <= 2 => Some(Duration::from_secs(s)),
        // The server wants a longer pause than a caller should sit through: give up now.
        Some(_) => None,
    }
}

impl AppState {
    /// Client authentication fields, in MSAL's order around `client_info`.
    async fn client_auth(&self, aud: &str) -> Result<(Form, Form)> {
        let use_rs256 = self.authority.kind() == AuthorityKind::Adfs;
        let assertion = match &self.credential {
            ClientCredential::Secret(s) => {
                return Ok((
                    Vec::new(),
                    vec![("client_secret".into(), s.secret().to_string())],
                ));
            }
            ClientCredential::Certificate(cert) => self
                .assertions
                .get(
                    cert,
                    &self.client_id,
                    aud,
                    use_rs256,
                    &self.opts.client_claims,
                    self.authority.kind() != AuthorityKind::Oidc,
                )?
                .secret()
                .to_string(),
            ClientCredential::Assertion(a) => a.secret().to_string(),
            ClientCredential::AssertionCallback(cb) => {
                let ctx = AssertionContext {
                    client_id: self.client_id.clone(),
                    token_endpoint: aud.to_string(),
                };
                let a = cb(&ctx)?;
                if a.trim().is_empty() {
                    return Err(Error::credential(
                        "the assertion callback returned an empty assertion",
                    ));
                }
                a
            }
            ClientCredential::AsyncAssertionCallback(cb) => {
                let ctx = AssertionContext {
                    client_id: self.client_id.clone(),
                    token_endpoint: aud.to_string(),
                };
                let a = cb(ctx).await?;
                if a.trim().is_empty() {
                    return Err(Error::credential(
                        "the async assertion callback returned an empty assertion",
                    ));
                }
                a
            }
        };
        Ok((
            vec![("client_assertion".into(), assertion)],
            vec![("client_assertion_type".into(), ASSERTION_TYPE.into())],
        ))
    }

    fn headers(&self, req: &TokenRequest, correlation_id: &str) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("x-client-sku".into(), crate::SKU.into()),
            ("x-client-ver".into(), env!("CARGO_PKG_VERSION").into()),
            ("x-client-os".into(), std::env::consts::OS.into()),
            ("x-ms-lib-capability".into(), "retry-after, h429".into()),
            ("client-request-id".into(), correlation_id.into()),
            (
                "x-client-current-telemetry".into(),
                Telemetry::current(req.api, req.reason),
            ),
            (
                "x-client-last-telemetry".into(),
                self.telemetry.last_header(),
            ),
        ];
        if let Some(name) = &self.opts.app_name {
            h.push(("x-app-name".into(), name.clone()));
        }
        if let Some(ver) = &self.opts.app_version {
            h.push(("x-app-ver".into(), ver.clone()));
        }
        h.extend(req.extra_headers.iter().cloned());
        h
    }

    /// Sends a token request: throttling check, client authentication, library headers,
    /// one retry on a transport failure or 5xx, fallback from a regional to the global
    /// endpoint, telemetry bookkeeping.
    pub(crate) async fn send_token_request(&self, req: TokenRequest) -> Result<Issued> {
        if let Some(err) = self.throttled(&req.throttle_key).await {
            tracing::info!(kind = "throttled", error = %err, "request throttled; replaying the last refusal");
            return Err(err);
        }
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let mut endpoint = req.endpoint.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (before, after) = self.client_auth(&req.global_endpoint).await?;
            let mut form: Vec<(String, String)> = vec![
                ("client_id".into(), self.client_id.clone()),
                ("grant_type".into(), req.grant_type.into()),
            ];
            form.extend(before);
            form.push(("client_info".into(), "1".into()));
            form.extend(after);
            form.extend(req.fields.iter().cloned());
            // MSAL replays a 400 for 60 s to a byte-identical request (same endpoint and
            // body), so a caller looping on a bad grant or credential does not hammer the
            // authority. A fresh assertion or another scope is another request.
            let bad_request_key = format!("400|{endpoint}|{}", body_digest(&form));
            if let Some(err) = self.throttled(&bad_request_key).await {
                tracing::info!(kind = "throttled", error = %err, "identical request refused moments ago; replaying the refusal");
                return Err(err);
            }
            let headers = self.headers(&req, &correlation_id);
            let outcome = match self.http.post_form(&endpoint, &headers, &form).await {
                Ok(resp) => response::parse(&endpoint, &resp).map_err(|e| (e, resp.retry_after)),
                Err(e) => Err((e, None)),
            };
            match outcome {
                Ok(response) => {
                    self.telemetry.clear();
                    return Ok(Issued {
                        response,
                        correlation_id,
                    });
                }
                Err((err, retry_after)) => {
                    let transport =
                        matches!(&err, Error::Http { kind, .. } if *kind != HttpErrorKind::Status);
                    let server_side = match &err {
                        Error::Server(s) => s.status >= 500,
                        Error::Http {
                            status: Some(s), ..
                        } => *s >= 500,
                        _ => false,
                    };
                    if (transport || server_side) && endpoint != req.global_endpoint {
                        tracing::warn!(kind = "regional_fallback", error = %err, "regional endpoint failed; falling back to the global endpoint");
                        endpoint = req.global_endpoint.clone();
                        continue;
                    }
                    if (transport || server_side) && attempt == 1 {
                        if let Some(wait) = backoff(retry_after) {
                            tracing::info!(kind = "retry", error = %err, wait_ms = wait.as_millis() as u64, attempt, "retrying the token request once");
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    }
                    self.remember_failure(
                        &req,
                        &err,
                        retry_after,
                        bad_request_key,
                        &correlation_id,
                    );
                    self.persist_throttle().await;
                    return Err(err);
                }
            }
        }
    }

    /// Bookkeeping of a final failure: throttling and the telemetry of the next request.
    fn remember_failure(
        &self,
        req: &TokenRequest,
        err: &Error,
        retry_after: Option<u64>,
        bad_request_key: String,
        correlation_id: &str,
    ) {
        // 429, 5xx or any Retry-After: remembered by request shape, whatever the body (an
        // OAuth error, a gateway's HTML page, nothing).
        self.throttle
            .record(req.throttle_key.clone(), err, retry_after);
        let code = match err {
            Error::Server(s) => {
                if s.status == 400 && s.retry_after.is_none() {
                    self.throttle.record_bad_request(bad_request_key, s);
                }
                s.error.clone()
            }
            Error::Http {
                status: Some(s), ..
            } => format!("http_{s}"),
            _ => "client_error".into(),
        };
        self.telemetry
            .record_failure(req.api, correlation_id, &code);
    }
}
