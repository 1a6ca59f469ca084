//! Authorities: URL forms, tenant discovery, instance discovery, regional endpoints.
//!
//! Parsing is pure and happens in `build()`; discovery is lazy (first token request) and
//! done once per application, so constructing an application costs no network I/O
//! (unlike MSAL Python, whose constructor fetches the OpenID configuration).

mod discovery;
mod region;

pub(crate) use discovery::{AuthorityMetadata, Discovery};
pub use region::Region;
pub(crate) use region::{regional_host, RegionResolver};

use crate::error::{Error, Result};
use url::Url;

/// Hosts of the Microsoft public and sovereign clouds: instance discovery is never needed
/// for them.
pub const WELL_KNOWN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.microsoftonline.de",
    "login-us.microsoftonline.com",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

const B2C_SUFFIXES: &[&str] = &[
    ".b2clogin.com",
    ".b2clogin.cn",
    ".b2clogin.us",
    ".b2clogin.de",
];
const CIAM_SUFFIX: &str = ".ciamlogin.com";

/// What kind of identity provider an authority URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// Microsoft Entra ID (any cloud), or an unknown host validated by instance discovery.
    Aad,
    /// Azure AD B2C (`*.b2clogin.com`, or a `b2c_` policy path).
    B2c,
    /// Entra External ID for customers (`*.ciamlogin.com`).
    Ciam,
    /// Active Directory Federation Services (`https://host/adfs`).
    Adfs,
    /// Any OpenID Connect issuer given through `oidc_authority`.
    Oidc,
}

/// A parsed authority.
///
/// ```
/// use msal_runtime::{Authority, AuthorityKind};
///
/// let a = Authority::parse("https://login.microsoftonline.com/contoso.onmicrosoft.com").unwrap();
/// assert_eq!(a.kind(), AuthorityKind::Aad);
/// assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
/// assert_eq!(a.host(), "login.microsoftonline.com");
/// assert!(Authority::parse("http://login.microsoftonline.com/x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    url: Url,
    kind: AuthorityKind,
    tenant: String,
}

impl Authority {
    /// Parses an authority URL (`https://{host}/{tenant}[/{policy}]`).
    ///
    /// `http` is accepted only for loopback hosts (local development and tests).
    pub fn parse(authority: &str) -> Result<Self> {
        let url = parse_base_url(authority)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let is_ciam = host.ends_with(CIAM_SUFFIX);
        if segments.is_empty() && !is_ciam {
            return Err(Error::authority(
                authority,
                "an authority needs a tenant in its path, e.g. https://login.microsoftonline.com/<tenant>",
            ));
        }
        let (kind, tenant) = if is_ciam {
            let tenant = match segments.first() {
                Some(t) => t.to_string(),
                None => {
                    let sub = host.trim_end_matches(CIAM_SUFFIX);
                    format!("{sub}.onmicrosoft.com")
                }
            };
            (AuthorityKind::Ciam, tenant)
        } else if segments[0].eq_ignore_ascii_case("adfs") {
            (AuthorityKind::Adfs, "adfs".to_string())
        } else if B2C_SUFFIXES.iter().any(|s| host.ends_with(s))
            || (segments.len() == 2 && segments[1].to_ascii_lowercase().starts_with("b2c_"))
        {
            (AuthorityKind::B2c, segments[0].to_string())
        } else {
            (AuthorityKind::Aad, segments[0].to_string())
        };
        let mut url = url;
        // Canonical form: the path segments joined, no trailing slash.
        let path = if kind == AuthorityKind::Ciam && segments.is_empty() {
            format!("/{tenant}")
        } else {
            format!("/{}", segments.join("/"))
        };
        url.set_path(&path);
        Ok(Authority { url, kind, tenant })
    }

    /// A generic OpenID Connect issuer (`oidc_authority`); its discovery document is
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn oidc(issuer: &str) -> Result<Self> {
        let url = parse_base_url(issuer)?;
        let tenant = url
            .path_segments()
            .and_then(|mut s| s.find(|p| !p.is_empty()).map(str::to_string))
            .unwrap_or_default();
        Ok(Authority {
            url,
            kind: AuthorityKind::Oidc,
            tenant,
        })
    }

    /// The kind of authority.
    pub fn kind(&self) -> AuthorityKind {
        self.kind
    }

    /// The tenant as written in the URL (before discovery resolves it to a GUID).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The host, lower-cased, without the port. This is the cache's `environment`,
    /// the same rule MSAL Python uses, so both libraries find each other's tokens.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The authority URL in canonical form (no trailing slash).
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// Whether the host is one of Microsoft's public or sovereign cloud hosts.
    pub fn is_well_known(&self) -> bool {
        WELL_KNOWN_HOSTS.contains(&self.host())
    }

    /// `scheme://host[:port]`.
    pub(crate) fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether tenant `common`, `organizations` or `consumers` (not a single tenant).
    pub fn is_multi_tenant(&self) -> bool {
        matches!(
            self.tenant.to_ascii_lowercase().as_str(),
            "common" | "organizations" | "consumers"
        )
    }

    /// Instance discovery applies to Entra authorities on hosts Microsoft does not list.
    pub(crate) fn needs_instance_discovery(&self) -> bool {
        self.kind == AuthorityKind::Aad && !self.is_well_known()
    }

    /// Where the OpenID configuration document lives.
    pub(crate) fn tenant_discovery_url(&self) -> String {
        let base = self.as_str();
        match self.kind {
            AuthorityKind::Adfs => {
                format!("{}/adfs/.well-known/openid-configuration", self.origin())
            }
            AuthorityKind::Oidc => format!("{base}/.well-known/openid-configuration"),
            _ => format!("{base}/v2.0/.well-known/openid-configuration"),
        }
    }

    /// The authorize endpoint instance discovery is asked about.
    pub(crate) fn instance_discovery_probe(&self) -> String {
        format!("{}/oauth2/v2.0/authorize", self.as_str())
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a host name is this machine (http is tolerated only there).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.ends_with(".localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_base_url(authority: &str) -> Result<Url> {
    let trimmed = authority.trim();
    if trimmed.is_empty() {
        return Err(Error::authority(authority, "the authority is empty"));
    }
    let url =
        Url::parse(trimmed).map_err(|e| Error::authority(authority, format!("not a URL ({e})")))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::authority(authority, "the URL has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        other => {
            return Err(Error::authority(
                authority,
                format!("the scheme must be https, not `{other}`"),
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::authority(
            authority,
            "credentials in the URL are not allowed",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::authority(
            authority,
            "the authority may not have a query or fragment",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_public_and_sovereign() {
        for host in WELL_KNOWN_HOSTS {
            let a = Authority::parse(&format!("https://{host}/contoso.onmicrosoft.com/")).unwrap();
            assert_eq!(a.kind(), AuthorityKind::Aad);
            assert!(a.is_well_known());
            assert_eq!(
                a.as_str(),
                format!("https://{host}/contoso.onmicrosoft.com")
            );
            assert_eq!(
                a.tenant_discovery_url(),
                format!(
                    "https://{host}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
                )
            );
        }
    }

    #[test]
    fn host_is_lower_cased_and_portless() {
        let a = Authority::parse("https://LOGIN.MicrosoftOnline.com:443/T").unwrap();
        assert_eq!(a.host(), "login.microsoftonline.com");
        let a = Authority::parse("https://localhost:8443/t").unwrap();
        assert_eq!(a.host(), "localhost");
        assert_eq!(a.origin(), "https://localhost:8443");
    }

    #[test]
    fn adfs_discovery_has_no_v2() {
        let a = Authority::parse("https://fs.contoso.com/adfs").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Adfs);
        assert_eq!(a.tenant(), "adfs");
        assert_eq!(
            a.tenant_discovery_url(),
            "https://fs.contoso.com/adfs/.well-known/openid-configuration"
        );
    }

    #[test]
    fn b2c_keeps_policy() {
        let a =
            Authority::parse("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin")
                .unwrap();
        assert_eq!(a.kind(), AuthorityKind::B2c);
        assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
        assert_eq!(
            a.tenant_discovery_url(),
            "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin/v2.0/.well-known/openid-configuration"
        );
        let a = Authority::parse("https://login.microsoftonline.com/tfp/b2c_1_x").unwrap();
        assert_eq!(a.kind(), AuthorityKind::B2c);
    }

    #[test]
    fn pathless_ciam() {
        let a = Authority::parse("https://contoso.ciamlogin.com").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Ciam);
        assert_eq!(a.tenant(), "contoso.onmicrosoft.com");
        assert_eq!(
            a.tenant_discovery_url(),
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn malformed_authorities_are_errors() {
        for bad in [
            "",
            "   ",
            "not a url",
            "http://login.microsoftonline.com/common",
            "https://login.microsoftonline.com",
            "https://login.microsoftonline.com/",
            "ftp://login.microsoftonline.com/t",
            "https://user:pw@login.microsoftonline.com/t",
            "https://login.microsoftonline.com/t?x=1",
            "https:///t",
        ] {
            let err = Authority::parse(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidAuthority { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(Authority::parse("http://127.0.0.1:9000/t").is_ok());
        assert!(Authority::parse("http://localhost/t").is_ok());
        assert!(Authority::parse("http://[::1]:80/t").is_ok());
        assert!(Authority::parse("http://example.com/t").is_err());
    }

    #[test]
    fn multi_tenant_detection() {
        assert!(Authority::parse("https://login.microsoftonline.com/common")
            .unwrap()
            .is_multi_tenant());
        assert!(
            Authority::parse("https://login.microsoftonline.com/Organizations")
                .unwrap()
                .is_multi_tenant()
        );
        assert!(
            !Authority::parse("https://login.microsoftonline.com/contoso.com")
                .unwrap()
                .is_multi_tenant()
        );
    }

    #[test]
    fn oidc_discovery_is_concatenated() {
        let a = Authority::oidc("https://issuer.example.com/tenant/v2.0").unwrap();
        assert_eq!(a.kind(), AuthorityKind::Oidc);
        assert_eq!(
            a.tenant_discovery_url(),
            "https://issuer.example.com/tenant/v2.0/.well-known/openid-configuration"
        );
    }
}
