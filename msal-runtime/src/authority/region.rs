//! Regional token endpoints (ESTS-R): a named region, or one discovered from the
//! environment or the instance metadata service (IMDS).

use crate::env::EnvLookup;
use crate::error::{Error, Result};
use crate::http::{HttpCache, HttpClient};
use std::time::Duration;

/// Default address of the Azure instance metadata service. Only ever asked when the
/// application opts into [`Region::Discover`] and no `imds_endpoint` is configured.
pub(crate) const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/instance/compute";
/// Environment variable that overrides the IMDS address for every application.
pub(crate) const IMDS_ENDPOINT_ENV: &str = "MSAL_IMDS_ENDPOINT";

/// Where client-credential token requests go.
///
/// ```
/// use msal_runtime::Region;
/// assert!(Region::named("westus2").is_ok());
/// assert!(Region::named("West US 2").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// No explicit choice: use the `MSAL_FORCE_REGION` environment variable when it is set
    /// (a value that is not a region name makes `build()` fail, as MSAL Python refuses it),
    /// otherwise the global endpoint (MSAL's default). Never probes IMDS.
    #[default]
    FromEnvironment,
    /// Never use a region, even if `MSAL_FORCE_REGION` is set.
    Disabled,
    /// This region (validated as a DNS label). Never probes IMDS.
    Named(String),
    /// Discover: the `REGION_NAME` environment variable, then IMDS with a short timeout;
    /// the global endpoint when neither answers.
    Discover,
}

impl Region {
    /// A named region, validated like MSAL does (`^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`).
    pub fn named(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        if is_valid_region(&name) {
            Ok(Region::Named(name))
        } else {
            Err(Error::config(
                "azure_region",
                format!("`{name}` is not a region name (lower-case letters, digits and dashes, e.g. `westus2`)"),
            ))
        }
    }
}

pub(crate) fn is_valid_region(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !name.ends_with('-')
}

/// The host a regional request goes to, as MSAL rewrites it.
pub(crate) fn regional_host(region: &str, global_host: &str) -> String {
    match global_host {
        "login.microsoftonline.com"
        | "login.microsoft.com"
        | "login.windows.net"
        | "sts.windows.net" => {
            format!("{region}.login.microsoft.com")
        }
        other => format!("{region}.{other}"),
    }
}

/// The region `MSAL_FORCE_REGION` forces on an app that made no choice ([`Region::FromEnvironment`]):
/// none when unset or empty, an error when it is not a region name (MSAL Python refuses it
/// with a `ValueError` when the app is constructed).
pub(crate) fn forced_region(env: &EnvLookup) -> Result<Option<String>> {
    match env.get("MSAL_FORCE_REGION") {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) if is_valid_region(&v) => Ok(Some(v)),
        Some(v) => Err(Error::config(
            "MSAL_FORCE_REGION",
            format!("`{v}` is not a region name (lower-case letters, digits and dashes, e.g. `westus2`)"),
        )),
    }
}

/// Resolves a [`Region`] to a region name (or none) once per application.
pub(crate) struct RegionResolver<'a> {
    pub http: &'a HttpClient,
    /// Where `MSAL_FORCE_REGION`, `REGION_NAME` and `MSAL_IMDS_ENDPOINT` are read.
    pub env: &'a EnvLookup,
    pub imds_endpoint: Option<&'a str>,
    pub imds_timeout: Duration,
    /// Persisted HTTP state: a region IMDS named is kept there (24 h, as MSAL Python's
    /// `http_cache` keeps the GET), so another instance does not ask again.
    pub http_cache: Option<&'a HttpCache>,
}

impl RegionResolver<'_> {
    pub(crate) async fn resolve(&self, region: &Region) -> Option<String> {
        match region {
            Region::Disabled => None,
            Region::Named(name) => Some(name.clone()),
            // Checked when the app was built; an invalid value cannot get here.
            Region::FromEnvironment => forced_region(self.env).ok().flatten(),
            Region::Discover => {
                match self.env.get("REGION_NAME") {
                    Some(r) if is_valid_region(&r) => return Some(r),
                    Some(_) => tracing::warn!("REGION_NAME is not a region name; ignored"),
                    None => {}
                }
                self.ask_imds().await
            }
        }
    }

    async fn ask_imds(&self) -> Option<String> {
        let env_endpoint = self.env.get(IMDS_ENDPOINT_ENV);
        let endpoint = self
            .imds_endpoint
            .or(env_endpoint.as_deref())
            .unwrap_or(DEFAULT_IMDS_ENDPOINT);
        let url = format!("{endpoint}?api-version=2021-02-01");
        let persisted = format!("imds_region|{url}");
        if let Some(cache) = self.http_cache {
            if let Some(region) = cache.get_json::<String>(&persisted).await {
                if is_valid_region(&region) {
                    return Some(region);
                }
            }
        }
        let found = self.ask_imds_at(&url).await;
        if let (Some(cache), Some(region)) = (self.http_cache, &found) {
            cache
                .put_json(&persisted, region, crate::http::state::DISCOVERY_TTL)
                .await;
        }
        found
    }

    /// `GET {url}` on IMDS: the region it names, if any, within the timeout.
    async fn ask_imds_at(&self, url: &str) -> Option<String> {
        let answer = tokio::time::timeout(
            self.imds_timeout,
            self.http.get(url, &[("metadata", "true")]),
        )
        .await;
        match answer {
            Ok(Ok(resp)) if resp.status == 200 => {
                let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
                let location = v.get("location")?.as_str()?.to_ascii_lowercase();
                let found = is_valid_region(&location).then_some(location);
                tracing::debug!(region = ?found, "region discovered from IMDS");
                found
            }
            Ok(Ok(resp)) => {
                tracing::debug!(
                    status = resp.status,
                    "IMDS gave no region; using the global endpoint"
                );
                None
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "IMDS unreachable; using the global endpoint");
                None
            }
            Err(_) => {
                tracing::debug!("IMDS timed out; using the global endpoint");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in ["eastus", "westus2", "usgovvirginia", "a", "east-us-2"] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "", "EastUS", "east us", "-east", "east-", "1east", "east.us",
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn host_rewrite() {
        assert_eq!(
            regional_host("eastus", "login.microsoftonline.com"),
            "eastus.login.microsoft.com"
        );
        assert_eq!(
            regional_host("eastus", "login.windows.net"),
            "eastus.login.microsoft.com"
        );
        assert_eq!(
            regional_host("usgovvirginia", "login.microsoftonline.us"),
            "usgovvirginia.login.microsoftonline.us"
        );
        assert_eq!(regional_host("eastus", "localhost"), "eastus.localhost");
    }
}
