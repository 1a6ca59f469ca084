//! Authority aliases: the host names one Entra instance answers on (`login.microsoftonline.com`,
//! `login.windows.net`, `login.microsoft.com`, `sts.windows.net` are one cloud). Another MSAL
//! application may have cached a user's account and tokens under any of them; look-ups by
//! environment accept every alias of the app's host, as MSAL does.
//!
//! Where the aliases come from:
//! * instance discovery disabled, or an authority that is not Entra (ADFS, B2C, CIAM, dSTS,
//!   generic OIDC): the host alone;
//! * a configured instance discovery endpoint: its instance metadata (`api-version=1.1`);
//! * otherwise a host of a Microsoft cloud: the metadata Entra publishes for it, built in
//!   (as MSAL.NET's known metadata), so no request is made for it;
//! * otherwise, with authority validation on: Entra's instance metadata for the host.
//!
//! A failed metadata request is not the caller's error: the look-up goes on with the
//! built-in aliases of the host (or the host alone).

use super::discovery::DEFAULT_INSTANCE_DISCOVERY;
use super::{Authority, AuthorityKind};
use crate::error::strip_query;
use crate::http::{HttpCache, HttpClient};
use serde_json::Value;

/// Entra's instance metadata for the Microsoft clouds: each group is one instance, the
/// first name its preferred (network and cache) host.
const KNOWN_CLOUDS: [&[&str]; 6] = [
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    &["login.microsoftonline.de"],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    &["login-us.microsoftonline.com"],
    &[
        "login.windows-ppe.net",
        "sts.windows-ppe.net",
        "login.microsoft-ppe.com",
    ],
];

/// The built-in aliases of a Microsoft cloud host (the host included), if it is one.
pub(crate) fn known_aliases(host: &str) -> Option<Vec<String>> {
    let host = host.to_ascii_lowercase();
    KNOWN_CLOUDS
        .iter()
        .find(|group| group.contains(&host.as_str()))
        .map(|group| group.iter().map(|h| h.to_string()).collect())
}

/// How one application finds its aliases.
pub(crate) struct AliasDiscovery<'a> {
    pub http: &'a HttpClient,
    pub validate_authority: bool,
    pub instance_discovery: bool,
    pub instance_discovery_endpoint: Option<&'a str>,
    /// Persisted HTTP state: an answer found there is used without a request (24 h, as
    /// MSAL Python's `http_cache` keeps the instance-metadata GET); a fresh one is kept.
    pub http_cache: Option<&'a HttpCache>,
}

impl AliasDiscovery<'_> {
    /// The aliases of the authority's host, the host first. Never fails (see the module).
    pub(crate) async fn resolve(&self, authority: &Authority) -> Vec<String> {
        let host = authority.host().to_ascii_lowercase();
        let alone = || vec![host.clone()];
        if !self.instance_discovery || authority.kind() != AuthorityKind::Aad {
            return alone();
        }
        let known = known_aliases(&host);
        let endpoint = match (self.instance_discovery_endpoint, &known) {
            (Some(custom), _) => custom,
            (None, Some(group)) => return first(&host, group.clone()),
            (None, None) if self.validate_authority => DEFAULT_INSTANCE_DISCOVERY,
            (None, None) => return alone(),
        };
        let persisted = format!("aliases|{}|{host}", strip_query(endpoint));
        if let Some(cache) = self.http_cache {
            if let Some(aliases) = cache.get_json::<Vec<String>>(&persisted).await {
                if aliases.first() == Some(&host) {
                    return aliases;
                }
            }
        }
        let answered = match self.fetch(endpoint, &host).await {
            Ok(Some(group)) => first(&host, group),
            Ok(None) => known.map(|g| first(&host, g)).unwrap_or_else(alone),
            Err(detail) => {
                tracing::debug!(
                    endpoint = %strip_query(endpoint),
                    %detail,
                    "instance metadata unavailable; using the host's known aliases"
                );
                // Not kept: the next instance asks again.
                return known.map(|g| first(&host, g)).unwrap_or_else(alone);
            }
        };
        if let Some(cache) = self.http_cache {
            cache
                .put_json(&persisted, &answered, crate::http::state::DISCOVERY_TTL)
                .await;
        }
        answered
    }

    /// `GET {endpoint}?api-version=1.1&authorization_endpoint=https://{host}/common/oauth2/authorize`;
    /// the alias group that names `host`, if any.
    async fn fetch(&self, endpoint: &str, host: &str) -> Result<Option<Vec<String>>, String> {
        let mut url = url::Url::parse(endpoint).map_err(|e| format!("not a URL ({e})"))?;
        url.query_pairs_mut()
            .append_pair("api-version", "1.1")
            .append_pair(
                "authorization_endpoint",
                &format!("https://{host}/common/oauth2/authorize"),
            );
        let resp = self
            .http
            .get(url.as_str(), &[("accept", "application/json")])
            .await
            .map_err(|e| e.to_string())?;
        if resp.status >= 300 {
            return Err(format!("HTTP status {}", resp.status));
        }
        let body: Value =
            serde_json::from_slice(&resp.body).map_err(|_| "the answer is not JSON".to_string())?;
        Ok(group_of(&body, host))
    }
}

/// The `aliases` of the `metadata` group that names `host` (case-insensitively).
fn group_of(body: &Value, host: &str) -> Option<Vec<String>> {
    body.get("metadata")?
        .as_array()?
        .iter()
        .filter_map(|m| m.get("aliases")?.as_array())
        .map(|aliases| {
            aliases
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .find(|aliases| aliases.iter().any(|a| a == host))
}

/// The group with `host` first and no duplicates.
fn first(host: &str, group: Vec<String>) -> Vec<String> {
    let mut out = vec![host.to_string()];
    for h in group {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_clouds() {
        let public = known_aliases("LOGIN.windows.net").unwrap();
        assert_eq!(public.len(), 4);
        assert!(public.contains(&"login.microsoftonline.com".to_string()));
        assert!(known_aliases("login.chinacloudapi.cn")
            .unwrap()
            .contains(&"login.partner.microsoftonline.cn".to_string()));
        assert!(known_aliases("fs.contoso.com").is_none());
        assert_eq!(
            first("sts.windows.net", public)[..2],
            ["sts.windows.net", "login.microsoftonline.com"]
        );
    }

    #[test]
    fn metadata_groups() {
        let body = json!({"metadata": [
            {"preferred_network": "a", "aliases": ["a", "b"]},
            {"preferred_network": "c", "aliases": ["C", "d"]},
        ]});
        assert_eq!(group_of(&body, "d").unwrap(), ["c", "d"]);
        assert_eq!(group_of(&body, "b").unwrap(), ["a", "b"]);
        assert!(group_of(&body, "e").is_none());
        assert!(group_of(&json!({"error": "x"}), "a").is_none());
    }
}
