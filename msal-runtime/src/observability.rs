//! Tracing of token acquisitions: one span per public acquisition, with the fields listed
//! in `docs/observability.md`.
//!
//! Nothing here allocates when no subscriber wants the span: the span's fields are cheap
//! borrowed values, the scopes and the result's fields are recorded only when the span is
//! enabled.

use crate::error::{Error, HttpErrorKind, Result};
use crate::result::{AuthenticationResult, TokenSource};
use std::future::Future;
use std::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span};

/// Which public API an acquisition went through: the `grant` field of the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    ClientCredentials,
    OnBehalfOf,
    Silent,
    RefreshToken,
    AuthorizationCode,
    ManagedIdentity,
}

impl Grant {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::OnBehalfOf => "on_behalf_of",
            Grant::Silent => "silent",
            Grant::RefreshToken => "refresh_token",
            Grant::AuthorizationCode => "authorization_code",
            Grant::ManagedIdentity => "managed_identity",
        }
    }
}

/// What an acquisition did: the `outcome` field.
fn outcome(grant: Grant, result: &AuthenticationResult) -> &'static str {
    match (result.token_source, grant) {
        (TokenSource::Cache, _) => "cache_hit",
        // A silent call that went to the network redeemed a refresh token.
        (_, Grant::Silent) => "refreshed",
        _ => "identity_provider",
    }
}

/// Who an acquisition is for, as much as the span may show.
pub(crate) struct Subject<'a> {
    pub client_id: &'a str,
    pub tenant: &'a str,
    pub scopes: &'a [String],
    /// A managed identity's resource, recorded as the scopes when `scopes` is empty.
    pub resource: &'a str,
    /// Whether personal data (the account's username and ids) may be recorded.
    pub pii: bool,
}

/// Anything an acquisition returns: a result, or maybe none (silent calls).
pub(crate) trait Acquired {
    fn result(&self) -> Option<&AuthenticationResult>;
}

impl Acquired for AuthenticationResult {
    fn result(&self) -> Option<&AuthenticationResult> {
        Some(self)
    }
}

impl Acquired for Option<AuthenticationResult> {
    fn result(&self) -> Option<&AuthenticationResult> {
        self.as_ref()
    }
}

/// Whether a subscriber wants acquisition spans: a cache hit served without any span
/// (and without any allocation) is only taken when it does not.
pub(crate) fn spans_wanted() -> bool {
    tracing::span_enabled!(tracing::Level::INFO)
}

/// Runs `call` inside an acquisition span and records how it ended.
pub(crate) async fn acquisition<T: Acquired>(
    grant: Grant,
    subject: Subject<'_>,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::info_span!(
        "msal.acquire_token",
        client_id = subject.client_id,
        grant = grant.as_str(),
        tenant = subject.tenant,
        scopes = Empty,
        outcome = Empty,
        correlation_id = Empty,
        duration_ms = Empty,
        error = Empty,
        account = Empty,
    );
    if span.is_disabled() {
        return call.await;
    }
    if subject.scopes.is_empty() {
        span.record("scopes", subject.resource);
    } else {
        span.record("scopes", subject.scopes.join(" ").as_str());
    }
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    record_end(&span, grant, subject.pii, started, &result);
    result
}

fn record_end<T: Acquired>(
    span: &Span,
    grant: Grant,
    pii: bool,
    started: Instant,
    result: &Result<T>,
) {
    span.record("duration_ms", started.elapsed().as_millis() as u64);
    match result {
        Ok(acquired) => match acquired.result() {
            Some(r) => {
                span.record("outcome", outcome(grant, r));
                if let Some(c) = &r.correlation_id {
                    span.record("correlation_id", c.as_str());
                }
                if pii {
                    if let Some(a) = &r.account {
                        span.record("account", a.username.as_str());
                    }
                }
            }
            None => {
                span.record("outcome", "no_token");
            }
        },
        Err(e) => {
            span.record("outcome", "failed");
            span.record("error", error_code(e));
            if let Some(c) = error_correlation_id(e) {
                span.record("correlation_id", c);
            }
        }
    }
}

/// A short, secret-free and PII-free name of an error for dashboards: the server's
/// `error` code, or the kind of failure.
pub(crate) fn error_code(e: &Error) -> &str {
    match e {
        Error::Server(s) => s.error.as_str(),
        Error::Http { kind, .. } => match kind {
            HttpErrorKind::Timeout => "http_timeout",
            HttpErrorKind::Connect => "http_connect",
            HttpErrorKind::Transport => "http_transport",
            _ => "http_status",
        },
        Error::InvalidConfig { .. } | Error::ConfigFile(_) => "invalid_config",
        Error::InvalidAuthority { .. } => "invalid_authority",
        Error::AuthorityValidation { .. } => "authority_validation",
        Error::Discovery { .. } => "discovery",
        Error::Credential { .. } => "credential",
        Error::InvalidInput(_) => "invalid_input",
        Error::InvalidResponse { .. } => "invalid_response",
        Error::Cache { .. } => "cache",
        Error::Validation(_) => "validation",
        Error::ManagedIdentity(_) => "managed_identity",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

fn error_correlation_id(e: &Error) -> Option<&str> {
    match e {
        Error::Server(s) => s.correlation_id.as_deref(),
        _ => None,
    }
}
