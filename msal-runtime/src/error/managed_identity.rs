//! The typed error of managed identity sources.

use std::fmt;

/// Where a managed identity token comes from (MSAL Python's module constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// Service Fabric (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT`).
    ServiceFabric,
    /// App Service, Functions, Automation (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
    AppService,
    /// Azure Machine Learning (`MSI_ENDPOINT` + `MSI_SECRET`).
    MachineLearning,
    /// Azure Arc (`IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`, or the `himds` agent installed).
    AzureArc,
    /// Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT` starting with `cloud-shell`).
    CloudShell,
    /// The VM / VMSS instance metadata service (MSAL's `DEFAULT_TO_VM`).
    DefaultToVm,
}

impl ManagedIdentitySource {
    /// A short name, e.g. `App Service`.
    pub fn name(&self) -> &'static str {
        match self {
            ManagedIdentitySource::ServiceFabric => "Service Fabric",
            ManagedIdentitySource::AppService => "App Service",
            ManagedIdentitySource::MachineLearning => "Azure Machine Learning",
            ManagedIdentitySource::AzureArc => "Azure Arc",
            ManagedIdentitySource::CloudShell => "Cloud Shell",
            ManagedIdentitySource::DefaultToVm => "IMDS",
        }
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest response body kept in an error, in bytes.
pub(crate) const MAX_ERROR_BODY: usize = 2048;

/// What kind of managed identity failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityErrorKind {
    /// The client or the environment is misconfigured (an `http` Service Fabric endpoint, a
    /// malformed thumbprint, an empty identity id or resource).
    Config,
    /// The source answered with an error status or an error body.
    Source,
    /// The source answered 2xx, but not with a usable token (not JSON, no `access_token`,
    /// no expiry, a user-assigned identity Azure Arc did not confirm).
    InvalidResponse,
    /// An identical request failed recently (429, 5xx or `Retry-After`): the failure was
    /// replayed without contacting the source.
    Throttled,
    /// Azure Arc's challenge was unusable (no `WWW-Authenticate: Basic realm=...`, key file
    /// unreadable or over 4096 bytes), or the platform has no Arc key folder.
    ArcChallenge,
    /// The overall deadline ([`timeout`](super::ManagedIdentityClientBuilder::timeout))
    /// passed before the source answered.
    Deadline,
    /// The request would have gone to the default Azure metadata address while
    /// `MSAL_FORBID_DEFAULT_IMDS` is set; nothing was sent.
    ForbiddenEndpoint,
    /// The Service Fabric endpoint's certificate does not have the pinned thumbprint; the
    /// TLS handshake was abandoned before any HTTP request was sent.
    CertificateMismatch,
}

/// A managed identity failure: which source, the HTTP status and (bounded) body when the
/// source answered, and the OAuth-style `error` code MSAL Python would have reported.
///
/// The body never holds a token: bodies of successful responses are not kept.
///
/// ```
/// use msal_runtime::{Error, ManagedIdentityErrorKind};
///
/// fn describe(e: &Error) -> String {
///     match e {
///         Error::ManagedIdentity(mi) if mi.kind == ManagedIdentityErrorKind::Source => {
///             format!("{:?} said {:?}: {}", mi.identity_source, mi.status, mi.body.as_deref().unwrap_or(""))
///         }
///         other => other.to_string(),
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagedIdentityError {
    /// The classification.
    pub kind: ManagedIdentityErrorKind,
    /// The source the request was for, when one was selected.
    pub identity_source: Option<ManagedIdentitySource>,
    /// HTTP status of the answer, when there was one.
    pub status: Option<u16>,
    /// MSAL Python's `error` for this failure (e.g. `invalid_scope` for App Service,
    /// `invalid_client` for Service Fabric's `ManagedIdentityNotFound`).
    pub error: Option<String>,
    /// A human readable description.
    pub message: String,
    /// The response body (at most 2048 bytes, cut on a character boundary).
    pub body: Option<String>,
    /// The `Retry-After` the source sent, in seconds.
    pub retry_after: Option<u64>,
}

impl ManagedIdentityError {
    pub(crate) fn new(
        kind: ManagedIdentityErrorKind,
        source: Option<ManagedIdentitySource>,
        message: impl Into<String>,
    ) -> Self {
        ManagedIdentityError {
            kind,
            identity_source: source,
            status: None,
            error: None,
            message: message.into(),
            body: None,
            retry_after: None,
        }
    }

    pub(crate) fn config(
        source: Option<ManagedIdentitySource>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ManagedIdentityErrorKind::Config, source, message)
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    pub(crate) fn with_body(mut self, body: &str) -> Self {
        self.body = Some(bounded(body));
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<u64>) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// Cuts a body to [`MAX_ERROR_BODY`] bytes on a character boundary.
pub(crate) fn bounded(body: &str) -> String {
    if body.len() <= MAX_ERROR_BODY {
        return body.to_string();
    }
    let mut end = MAX_ERROR_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &body[..end])
}

impl fmt::Display for ManagedIdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("managed identity")?;
        if let Some(s) = self.identity_source {
            write!(f, " ({})", s.name())?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(e) = &self.error {
            write!(f, " [{e}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManagedIdentityError {}

impl From<ManagedIdentityError> for crate::Error {
    fn from(e: ManagedIdentityError) -> Self {
        crate::Error::ManagedIdentity(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_bounded_on_char_boundaries() {
        let long = "é".repeat(3000);
        let b = bounded(&long);
        assert!(b.len() <= MAX_ERROR_BODY + 3);
        assert!(b.ends_with("..."));
        assert_eq!(bounded("short"), "short");
    }
}
