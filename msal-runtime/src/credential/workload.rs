//! Workload identity federation (a platform-issued token file as the client assertion) and the
//! Azure SDK's `AZURE_*` environment conventions.

use super::{Certificate, ClientCredential};
use crate::env::EnvLookup;
use crate::error::{Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest federated token file accepted (projected service-account tokens are ~1-2 KiB).
const MAX_TOKEN_FILE: u64 = 64 * 1024;
/// The default authority host of `AZURE_AUTHORITY_HOST`.
const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Reads the federated token file: called for each token request that goes on the wire.
fn read_token_file(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::credential(format!(
            "cannot read the federated token file {}: {e}",
            path.display()
        ))
    })?;
    if meta.len() > MAX_TOKEN_FILE {
        return Err(Error::credential(format!(
            "the federated token file {} is larger than 64 KiB",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::credential(format!(
            "cannot read the federated token file {}: {e}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::credential(format!(
            "the federated token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_string())
}

impl ClientCredential {
    /// Workload identity (AKS and other Kubernetes): the token in the file named by
    /// `AZURE_FEDERATED_TOKEN_FILE` (process environment) is the client assertion. The variable
    /// and the file are read for each token request that goes on the wire — never at start-up,
    /// never on a cache hit — so the platform's rotation of the file is followed.
    ///
    /// ```
    /// use msal_runtime::ClientCredential;
    /// let credential = ClientCredential::workload_identity();
    /// # let _ = credential;
    /// ```
    pub fn workload_identity() -> Self {
        ClientCredential::assertion_callback(|_| {
            let path = std::env::var_os("AZURE_FEDERATED_TOKEN_FILE")
                .ok_or_else(|| Error::credential("AZURE_FEDERATED_TOKEN_FILE is not set"))?;
            read_token_file(Path::new(&path))
        })
    }

    /// A federated token file (e.g. `/var/run/secrets/azure/tokens/azure-identity-token`) as
    /// the client assertion, read for each token request that goes on the wire.
    ///
    /// ```
    /// use msal_runtime::ClientCredential;
    /// let credential = ClientCredential::federated_token_file("/var/run/secrets/azure/tokens/azure-identity-token");
    /// # let _ = credential;
    /// ```
    pub fn federated_token_file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        ClientCredential::assertion_callback(move |_| read_token_file(&path))
    }

    /// The credential the Azure SDK's `EnvironmentCredential` would use, then workload
    /// identity; see [`AzureEnvironment::from_env`].
    ///
    /// ```
    /// use msal_runtime::{ClientCredential, EnvLookup};
    /// let env = EnvLookup::from_pairs([
    ///     ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
    ///     ("AZURE_CLIENT_ID", "6f1c2d3e-0000-4000-8000-000000000001"),
    ///     ("AZURE_CLIENT_SECRET", "s3cret"),
    /// ]);
    /// let credential = ClientCredential::from_azure_environment(&env).unwrap();
    /// assert_eq!(format!("{credential:?}"), "ClientCredential::Secret([redacted])");
    /// ```
    pub fn from_azure_environment(env: &EnvLookup) -> Result<ClientCredential> {
        AzureEnvironment::from_env(env).map(|e| e.credential)
    }
}

/// Which `AZURE_*` credential was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AzureCredentialKind {
    /// `AZURE_CLIENT_SECRET`.
    Secret,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`.
    Certificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity,
}

/// An application described by the Azure SDK's environment variables: `AZURE_CLIENT_ID`,
/// `AZURE_TENANT_ID`, `AZURE_AUTHORITY_HOST` (default `login.microsoftonline.com`) and one
/// credential.
///
/// ```no_run
/// use msal_runtime::{AzureEnvironment, EnvLookup};
///
/// # async fn run() -> Result<(), msal_runtime::Error> {
/// // In an AKS pod with workload identity enabled:
/// let app = AzureEnvironment::workload_identity(&EnvLookup::process())?
///     .application_builder()
///     .build()?;
/// let token = app.acquire_token_for_client(&["https://vault.azure.net/.default"]).await?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AzureEnvironment {
    /// `AZURE_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_AUTHORITY_HOST` as a URL without trailing `/`.
    pub authority_host: String,
    /// The credential.
    pub credential: ClientCredential,
    /// Which variable supplied it.
    pub kind: AzureCredentialKind,
}

impl fmt::Debug for AzureEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureEnvironment")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("authority_host", &self.authority_host)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn required(env: &EnvLookup, name: &'static str, why: &str) -> Result<String> {
    match env.get(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(Error::config(
            "environment",
            format!("{name} is not set (needed for {why})"),
        )),
    }
}

fn present(env: &EnvLookup, name: &str) -> Option<String> {
    env.get(name).filter(|v| !v.trim().is_empty())
}

fn authority_host(env: &EnvLookup) -> Result<String> {
    let raw = present(env, "AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.into());
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    match url::Url::parse(&with_scheme) {
        Ok(u) if u.host().is_some() => Ok(with_scheme),
        _ => Err(Error::config(
            "environment",
            format!("AZURE_AUTHORITY_HOST `{raw}` is not a host name or URL"),
        )),
    }
}

impl AzureEnvironment {
    /// The Azure SDK's `EnvironmentCredential` order: `AZURE_CLIENT_SECRET`; else
    /// `AZURE_CLIENT_CERTIFICATE_PATH` (PEM with key and certificate, or PKCS#12) with optional
    /// `AZURE_CLIENT_CERTIFICATE_PASSWORD` and `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`
    /// (`true`/`1`: send `x5c`); else `AZURE_FEDERATED_TOKEN_FILE` (workload identity). Each
    /// needs `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`. Username/password is not supported.
    pub fn from_env(env: &EnvLookup) -> Result<Self> {
        let (kind, why) = if present(env, "AZURE_CLIENT_SECRET").is_some() {
            (AzureCredentialKind::Secret, "AZURE_CLIENT_SECRET")
        } else if present(env, "AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
            (
                AzureCredentialKind::Certificate,
                "AZURE_CLIENT_CERTIFICATE_PATH",
            )
        } else if present(env, "AZURE_FEDERATED_TOKEN_FILE").is_some() {
            (
                AzureCredentialKind::WorkloadIdentity,
                "AZURE_FEDERATED_TOKEN_FILE",
            )
        } else {
            return Err(Error::config(
                "environment",
                "no Azure credential in the environment: set AZURE_CLIENT_SECRET, \
                 AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE (with \
                 AZURE_TENANT_ID and AZURE_CLIENT_ID)",
            ));
        };
        let tenant_id = required(env, "AZURE_TENANT_ID", why)?;
        let client_id = required(env, "AZURE_CLIENT_ID", why)?;
        let authority_host = authority_host(env)?;
        let credential = match kind {
            AzureCredentialKind::Secret => {
                ClientCredential::secret(required(env, "AZURE_CLIENT_SECRET", why)?)
            }
            AzureCredentialKind::Certificate => certificate_from_env(env)?,
            AzureCredentialKind::WorkloadIdentity => ClientCredential::federated_token_file(
                required(env, "AZURE_FEDERATED_TOKEN_FILE", why)?,
            ),
        };
        Ok(AzureEnvironment {
            client_id,
            tenant_id,
            authority_host,
            credential,
            kind,
        })
    }

    /// Workload identity only (what the Azure Workload Identity webhook injects):
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`, optional
    /// `AZURE_AUTHORITY_HOST`. The file is read for each token request on the wire.
    ///
    /// ```
    /// use msal_runtime::{AzureEnvironment, EnvLookup};
    /// let env = EnvLookup::from_pairs([("AZURE_CLIENT_ID", "x"), ("AZURE_TENANT_ID", "t")]);
    /// let err = AzureEnvironment::workload_identity(&env).unwrap_err();
    /// assert!(err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"));
    /// ```
    pub fn workload_identity(env: &EnvLookup) -> Result<Self> {
        const WHY: &str = "workload identity";
        let file = required(env, "AZURE_FEDERATED_TOKEN_FILE", WHY)?;
        let tenant_id = required(env, "AZURE_TENANT_ID", WHY)?;
        let client_id = required(env, "AZURE_CLIENT_ID", WHY)?;
        Ok(AzureEnvironment {
            client_id,
            tenant_id,
            authority_host: authority_host(env)?,
            credential: ClientCredential::federated_token_file(file),
            kind: AzureCredentialKind::WorkloadIdentity,
        })
    }

    /// `{authority_host}/{tenant_id}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.authority_host, self.tenant_id)
    }
}

fn certificate_from_env(env: &EnvLookup) -> Result<ClientCredential> {
    let path = required(
        env,
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "a certificate credential",
    )?;
    let password = present(env, "AZURE_CLIENT_CERTIFICATE_PASSWORD");
    let send_chain = present(env, "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::credential(format!(
            "cannot read AZURE_CLIENT_CERTIFICATE_PATH {path}: {e}"
        ))
    })?;
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let cert = if is_pem {
        Certificate::from_pem(&bytes, &bytes, password.as_deref())?
    } else {
        Certificate::from_pkcs12(&bytes, password.as_deref().unwrap_or(""))?
    };
    Ok(if send_chain {
        ClientCredential::certificate_with_x5c(cert)
    } else {
        ClientCredential::certificate(cert)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_named() {
        let none = EnvLookup::from_pairs(Vec::<(String, String)>::new());
        let e = AzureEnvironment::from_env(&none).unwrap_err().to_string();
        assert!(
            e.contains("AZURE_CLIENT_SECRET") && e.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{e}"
        );
        let no_tenant =
            EnvLookup::from_pairs([("AZURE_CLIENT_SECRET", "s"), ("AZURE_CLIENT_ID", "c")]);
        let e = AzureEnvironment::from_env(&no_tenant)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AZURE_TENANT_ID"), "{e}");
        let no_client = EnvLookup::from_pairs([
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("AZURE_TENANT_ID", "t"),
        ]);
        let e = AzureEnvironment::from_env(&no_client)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AZURE_CLIENT_ID"), "{e}");
        assert!(!e.contains("/f") || e.contains("AZURE_CLIENT_ID"));
    }

    #[test]
    fn order_and_authority_host() {
        let env = EnvLookup::from_pairs([
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_AUTHORITY_HOST", "login.microsoftonline.us/"),
        ]);
        let a = AzureEnvironment::from_env(&env).unwrap();
        assert_eq!(a.kind, AzureCredentialKind::Secret);
        assert_eq!(a.authority(), "https://login.microsoftonline.us/t");
        let w = AzureEnvironment::workload_identity(&env).unwrap();
        assert_eq!(w.kind, AzureCredentialKind::WorkloadIdentity);
        assert!(!format!("{a:?}").contains("\"s\""));
    }

    #[test]
    fn unreadable_certificate_path_is_reported() {
        let env = EnvLookup::from_pairs([
            (
                "AZURE_CLIENT_CERTIFICATE_PATH",
                "/nonexistent/msal/cert.pem",
            ),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "t"),
        ]);
        let e = AzureEnvironment::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("AZURE_CLIENT_CERTIFICATE_PATH"), "{e}");
    }
}
