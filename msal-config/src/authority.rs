//! Authorities: the one parser and classifier of authority URLs.
//!
//! `msal check`, the `#[msal_app]` macro, the run-time config loader and the runtime's
//! builder all call [`Authority::parse`] (or [`Authority::oidc`]), so a verdict on an
//! authority cannot differ between compile time and run time.
//!
//! The accepted forms (msal-protocol §2):
//!
//! | kind | form |
//! |---|---|
//! | [`Aad`](AuthorityKind::Aad) | `https://{host}/{tenant}` |
//! | [`B2c`](AuthorityKind::B2c) | `https://{host}/[tfp/]{tenant}/{b2c_policy}` (any host for a `b2c_` policy; `*.b2clogin.*` hosts) |
//! | [`Ciam`](AuthorityKind::Ciam) | `https://{sub}.ciamlogin.com[/{tenant}]` |
//! | [`Adfs`](AuthorityKind::Adfs) | `https://{host}/adfs` |
//! | [`Dsts`](AuthorityKind::Dsts) | `https://{host}/dstsv2/{tenant}` |
//! | [`Oidc`](AuthorityKind::Oidc) | any issuer URL, through [`Authority::oidc`] |
//!
//! `http` is accepted only on loopback hosts (`localhost`, `*.localhost`, `127.0.0.0/8`,
//! `[::1]`), for local development and tests. Hosts and schemes are case-insensitive;
//! a trailing slash and a default port are dropped from the canonical form.

use std::fmt;
use url::{Host, Url};

/// Hosts of Microsoft Entra ID in the public and sovereign clouds: instance discovery is
/// never needed for them.
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

const B2C_HOST_SUFFIXES: &[&str] = &[
    ".b2clogin.com",
    ".b2clogin.cn",
    ".b2clogin.us",
    ".b2clogin.de",
];
const CIAM_HOST_SUFFIX: &str = ".ciamlogin.com";

/// Tenants that do not name one directory.
pub const MULTI_TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

/// What kind of identity provider an authority names.
///
/// ```
/// use msal_config::authority::{Authority, AuthorityKind};
/// let kind = |s: &str| Authority::parse(s).unwrap().kind();
/// assert_eq!(kind("https://login.microsoftonline.com/contoso.com"), AuthorityKind::Aad);
/// assert_eq!(kind("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin"), AuthorityKind::B2c);
/// assert_eq!(kind("https://contoso.ciamlogin.com"), AuthorityKind::Ciam);
/// assert_eq!(kind("https://fs.contoso.com/adfs"), AuthorityKind::Adfs);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// Microsoft Entra ID in any cloud, or an Entra-compatible host that instance
    /// discovery validates (see [`Authority::is_well_known`]).
    Aad,
    /// Azure AD B2C (`*.b2clogin.com` and its sovereign forms, or a `b2c_` policy path).
    B2c,
    /// Entra External ID for customers (`*.ciamlogin.com`).
    Ciam,
    /// Active Directory Federation Services (`https://host/adfs`).
    Adfs,
    /// Distributed STS (`https://host/dstsv2/{tenant}`).
    Dsts,
    /// Any OpenID Connect issuer, given through [`Authority::oidc`] (`oidc_authority`).
    Oidc,
}

impl AuthorityKind {
    /// The kind's name as this library writes it (`aad`, `b2c`, `ciam`, `adfs`, `dsts`, `oidc`).
    ///
    /// ```
    /// assert_eq!(msal_config::authority::AuthorityKind::B2c.as_str(), "b2c");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Aad => "aad",
            AuthorityKind::B2c => "b2c",
            AuthorityKind::Ciam => "ciam",
            AuthorityKind::Adfs => "adfs",
            AuthorityKind::Dsts => "dsts",
            AuthorityKind::Oidc => "oidc",
        }
    }
}

impl fmt::Display for AuthorityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an authority (or another identity-provider URL) is refused.
///
/// ```
/// use msal_config::authority::{Authority, AuthorityError};
/// assert_eq!(
///     Authority::parse("http://login.microsoftonline.com/contoso").unwrap_err(),
///     AuthorityError::Insecure { host: "login.microsoftonline.com".into() }
/// );
/// assert_eq!(Authority::parse("https://login.microsoftonline.com").unwrap_err(), AuthorityError::MissingTenant);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityError {
    /// The string is empty or blank.
    Empty,
    /// The string is not an absolute URL.
    NotAUrl(String),
    /// The scheme is neither `https` nor `http`.
    UnsupportedScheme(String),
    /// `http` on a host that is not this machine.
    Insecure {
        /// The host, lower-cased.
        host: String,
    },
    /// `user:password@` in the URL.
    UserInfo,
    /// A `?query` in the URL.
    Query,
    /// A `#fragment` in the URL.
    Fragment,
    /// No tenant path segment (`https://login.microsoftonline.com`).
    MissingTenant,
    /// The path has more (or other) segments than the kind of authority allows.
    UnexpectedPath {
        /// The kind the host and path were recognized as.
        kind: AuthorityKind,
        /// What the path should look like.
        expected: &'static str,
    },
}

impl AuthorityError {
    /// A short hint on how to fix the authority.
    ///
    /// ```
    /// use msal_config::authority::Authority;
    /// let e = Authority::parse("https://login.microsoftonline.com").unwrap_err();
    /// assert!(e.help().contains("<tenant"));
    /// ```
    pub fn help(&self) -> &'static str {
        match self {
            AuthorityError::Empty | AuthorityError::NotAUrl(_) | AuthorityError::UnsupportedScheme(_) => {
                "expected `https://login.microsoftonline.com/<tenant-guid-or-domain>`"
            }
            AuthorityError::Insecure { .. } => {
                "http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1])"
            }
            AuthorityError::UserInfo | AuthorityError::Query | AuthorityError::Fragment => {
                "an authority is only `https://{host}/{tenant}`: drop the rest"
            }
            AuthorityError::MissingTenant => {
                "append the tenant, e.g. `https://login.microsoftonline.com/<tenant-guid-or-domain>`"
            }
            AuthorityError::UnexpectedPath { expected, .. } => expected,
        }
    }
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityError::Empty => f.write_str("it is empty"),
            AuthorityError::NotAUrl(why) => write!(f, "not a URL: {why}"),
            AuthorityError::UnsupportedScheme(s) => write!(f, "the scheme `{s}` is not `https`"),
            AuthorityError::Insecure { host } => {
                write!(f, "it must use https (`{host}` is not a loopback host)")
            }
            AuthorityError::UserInfo => f.write_str("it contains user information (`user@`)"),
            AuthorityError::Query => f.write_str("it has a `?query`"),
            AuthorityError::Fragment => f.write_str("it has a `#fragment`"),
            AuthorityError::MissingTenant => f.write_str("it has no tenant path segment"),
            AuthorityError::UnexpectedPath { kind, expected } => {
                write!(f, "its path does not fit a {kind} authority ({expected})")
            }
        }
    }
}

impl std::error::Error for AuthorityError {}

/// A parsed, classified authority in canonical form.
///
/// ```
/// use msal_config::authority::{Authority, AuthorityKind};
///
/// let a = Authority::parse("HTTPS://Login.MicrosoftOnline.com:443/Contoso.onmicrosoft.com/").unwrap();
/// assert_eq!(a.kind(), AuthorityKind::Aad);
/// assert_eq!(a.tenant(), "Contoso.onmicrosoft.com");
/// assert_eq!(a.host(), "login.microsoftonline.com");
/// assert_eq!(a.as_str(), "https://login.microsoftonline.com/Contoso.onmicrosoft.com");
/// assert!(a.is_well_known());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    url: Url,
    kind: AuthorityKind,
    tenant: String,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("url", &self.as_str())
            .field("kind", &self.kind)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl Authority {
    /// Parses and classifies an `authority` URL (see the [module docs](self) for the forms).
    pub fn parse(authority: &str) -> Result<Self, AuthorityError> {
        let url = parse_web_url(authority)?;
        if url.query().is_some() {
            return Err(AuthorityError::Query);
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let (kind, tenant) = classify(&host, &segments)?;
        let mut url = url;
        let path = if kind == AuthorityKind::Ciam && segments.is_empty() {
            format!("/{tenant}")
        } else {
            format!("/{}", segments.join("/"))
        };
        url.set_path(&path);
        // A path-less CIAM tenant comes from the host, whose characters the path may escape
        // (`` ` `` is `%60` there): keep the tenant as the canonical URL spells it, so that
        // parsing `as_str()` again gives the same tenant.
        let tenant = match url.path_segments().and_then(|mut s| s.next()) {
            Some(first) if kind == AuthorityKind::Ciam && segments.is_empty() => first.to_string(),
            _ => tenant,
        };
        Ok(Authority { url, kind, tenant })
    }

    /// A generic OpenID Connect issuer (`oidc_authority`): any `https` URL (or `http` on
    /// loopback) without query or fragment. Its discovery document is
    /// `{issuer}/.well-known/openid-configuration`.
    ///
    /// ```
    /// use msal_config::authority::{Authority, AuthorityKind};
    /// let a = Authority::oidc("https://issuer.example.com/tenant/v2.0/").unwrap();
    /// assert_eq!(a.kind(), AuthorityKind::Oidc);
    /// assert_eq!(a.openid_configuration_url(), "https://issuer.example.com/tenant/v2.0/.well-known/openid-configuration");
    /// ```
    pub fn oidc(issuer: &str) -> Result<Self, AuthorityError> {
        let mut url = parse_web_url(issuer)?;
        if url.query().is_some() {
            return Err(AuthorityError::Query);
        }
        let tenant = url
            .path_segments()
            .and_then(|mut s| s.find(|p| !p.is_empty()).map(str::to_string))
            .unwrap_or_default();
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
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

    /// The tenant as written in the URL (before discovery resolves it to a GUID); `adfs`
    /// for ADFS; for path-less CIAM `{sub}.onmicrosoft.com`.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The host, lower-cased, without the port. This is the cache's `environment`, the
    /// same rule MSAL Python uses, so both libraries find each other's tokens.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    /// The authority URL in canonical form (no trailing slash).
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// `scheme://host[:port]`.
    ///
    /// ```
    /// let a = msal_config::authority::Authority::parse("https://localhost:8443/t").unwrap();
    /// assert_eq!(a.origin(), "https://localhost:8443");
    /// ```
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether the host is one of Microsoft's public or sovereign cloud hosts.
    pub fn is_well_known(&self) -> bool {
        WELL_KNOWN_HOSTS.contains(&self.host())
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        self.url.host().is_some_and(|h| is_loopback(&h))
    }

    /// Whether the host is one the developer vouched for by its form: a Microsoft cloud,
    /// a B2C/CIAM/ADFS/dSTS host, an OpenID issuer, or loopback. Only an Entra-style
    /// authority on another host needs instance discovery (or `validate_authority = false`).
    pub fn is_trusted_host(&self) -> bool {
        self.kind != AuthorityKind::Aad || self.is_well_known() || self.is_loopback()
    }

    /// Whether the tenant is `common`, `organizations` or `consumers` (not one directory).
    pub fn is_multi_tenant(&self) -> bool {
        matches!(self.kind, AuthorityKind::Aad | AuthorityKind::Ciam)
            && MULTI_TENANT_ALIASES
                .iter()
                .any(|t| self.tenant.eq_ignore_ascii_case(t))
    }

    /// Instance discovery applies to Entra authorities on hosts Microsoft does not list.
    pub fn needs_instance_discovery(&self) -> bool {
        self.kind == AuthorityKind::Aad && !self.is_well_known()
    }

    /// Where the OpenID configuration document of this authority lives.
    ///
    /// ```
    /// use msal_config::authority::Authority;
    /// assert_eq!(
    ///     Authority::parse("https://fs.contoso.com/adfs").unwrap().openid_configuration_url(),
    ///     "https://fs.contoso.com/adfs/.well-known/openid-configuration"
    /// );
    /// ```
    pub fn openid_configuration_url(&self) -> String {
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
    pub fn instance_discovery_probe(&self) -> String {
        format!("{}/oauth2/v2.0/authorize", self.as_str())
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Authority {
    type Err = AuthorityError;
    fn from_str(s: &str) -> Result<Self, AuthorityError> {
        Authority::parse(s)
    }
}

impl TryFrom<&str> for Authority {
    type Error = AuthorityError;
    fn try_from(s: &str) -> Result<Self, AuthorityError> {
        Authority::parse(s)
    }
}

impl TryFrom<String> for Authority {
    type Error = AuthorityError;
    fn try_from(s: String) -> Result<Self, AuthorityError> {
        Authority::parse(&s)
    }
}

/// Kind and tenant from the lower-cased host and the non-empty path segments.
fn classify(host: &str, segments: &[String]) -> Result<(AuthorityKind, String), AuthorityError> {
    let seg = |i: usize| segments.get(i).map(String::as_str);
    let lower = |i: usize| seg(i).map(str::to_ascii_lowercase);
    let wrong = |kind, expected| Err(AuthorityError::UnexpectedPath { kind, expected });

    if host.ends_with(CIAM_HOST_SUFFIX) {
        const CIAM: &str = "a CIAM authority is `https://{sub}.ciamlogin.com[/{tenant}]`";
        return match segments.len() {
            0 => {
                let sub = host.trim_end_matches(CIAM_HOST_SUFFIX);
                Ok((AuthorityKind::Ciam, format!("{sub}.onmicrosoft.com")))
            }
            1 => Ok((AuthorityKind::Ciam, segments[0].clone())),
            _ => wrong(AuthorityKind::Ciam, CIAM),
        };
    }
    let Some(first) = lower(0) else {
        return Err(AuthorityError::MissingTenant);
    };
    match first.as_str() {
        "adfs" if segments.len() == 1 => return Ok((AuthorityKind::Adfs, "adfs".into())),
        "adfs" => {
            return wrong(
                AuthorityKind::Adfs,
                "an ADFS authority is `https://{host}/adfs`",
            )
        }
        "dstsv2" if segments.len() == 2 => return Ok((AuthorityKind::Dsts, segments[1].clone())),
        "dstsv2" => {
            return wrong(
                AuthorityKind::Dsts,
                "a dSTS authority is `https://{host}/dstsv2/{tenant}`",
            )
        }
        _ => {}
    }
    let b2c_host = B2C_HOST_SUFFIXES.iter().any(|s| host.ends_with(s));
    let tfp = first == "tfp";
    let rest = if tfp { &segments[1..] } else { segments };
    let policy_like = |s: &String| s.to_ascii_lowercase().starts_with("b2c_");
    if b2c_host || tfp || rest.iter().skip(1).any(policy_like) {
        const B2C: &str =
            "a B2C authority is `https://{host}/[tfp/]{tenant}/{policy}`, the policy starting with `B2C_`";
        return match rest {
            [tenant, policy] if policy_like(policy) && !policy_like(tenant) => {
                Ok((AuthorityKind::B2c, tenant.clone()))
            }
            _ => wrong(AuthorityKind::B2c, B2C),
        };
    }
    if segments.len() == 1 {
        return Ok((AuthorityKind::Aad, segments[0].clone()));
    }
    wrong(
        AuthorityKind::Aad,
        "an Entra ID authority is `https://{host}/{tenant}`: drop what follows the tenant (e.g. `/v2.0`)",
    )
}

/// Parses an identity-provider URL: absolute, `https` (or `http` on loopback), with a
/// host, without user information or fragment. The query is left to the caller.
///
/// ```
/// use msal_config::authority::{parse_web_url, AuthorityError};
/// assert!(parse_web_url("http://127.0.0.2:8080/cb").is_ok());
/// assert!(matches!(parse_web_url("http://example.com/cb"), Err(AuthorityError::Insecure { .. })));
/// ```
pub fn parse_web_url(input: &str) -> Result<Url, AuthorityError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(AuthorityError::Empty);
    }
    if trimmed.len() != input.len() || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthorityError::NotAUrl(
            "it contains white space or control characters".into(),
        ));
    }
    // The URL standard reads `https:///host/x` as `https://host/x`; an authority must
    // say what it means.
    if input
        .split_once("://")
        .is_some_and(|(_, rest)| rest.starts_with('/'))
    {
        return Err(AuthorityError::NotAUrl("it has no host".into()));
    }
    let url = Url::parse(input).map_err(|e| {
        AuthorityError::NotAUrl(match e {
            url::ParseError::RelativeUrlWithoutBase => {
                "it has no scheme (expected `https://...`)".into()
            }
            e => e.to_string(),
        })
    })?;
    let host = match url.host() {
        Some(h) if !url.cannot_be_a_base() && !h.to_string().is_empty() => h,
        _ => return Err(AuthorityError::NotAUrl("it has no host".into())),
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(AuthorityError::Insecure {
                host: host.to_string(),
            })
        }
        other => return Err(AuthorityError::UnsupportedScheme(other.to_string())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AuthorityError::UserInfo);
    }
    if url.fragment().is_some() {
        return Err(AuthorityError::Fragment);
    }
    Ok(url)
}

/// Whether a host (as written in a URL: `localhost`, `127.0.0.1`, `[::1]`) is this machine.
///
/// ```
/// use msal_config::authority::is_loopback_host;
/// assert!(is_loopback_host("localhost") && is_loopback_host("app.localhost"));
/// assert!(is_loopback_host("127.0.0.2") && is_loopback_host("[::1]"));
/// assert!(!is_loopback_host("localhost.example.com") && !is_loopback_host("10.0.0.1"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    Host::parse(host)
        .ok()
        .or_else(|| {
            let inner = host.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse().ok().map(Host::Ipv6)
        })
        .is_some_and(|h| is_loopback(&h))
}

fn is_loopback<S: AsRef<str>>(host: &Host<S>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.as_ref().to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests;
