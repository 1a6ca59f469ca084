//! Pure checks on single values, shared by the file walker and the env overlay.

use crate::model::AuthorityKind;
use crate::url;

/// `8-4-4-4-12` hex digits.
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Rust keywords (strict and reserved) that cannot be method names.
#[rustfmt::skip]
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// A snake_case Rust identifier that is not a keyword: `[a-z_][a-z0-9_]*`, not `_`.
pub(crate) fn is_snake_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s != "_"
        && !RUST_KEYWORDS.contains(&s)
}

/// `snake_case` rendering of an arbitrary name (`OrdersDaemon` -> `orders_daemon`,
/// `HTTPClient` -> `http_client`, `my-api` -> `my_api`).
pub(crate) fn to_snake(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    if out.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    }
}

/// Visible ASCII (and spaces), as allowed in an HTTP header value.
pub(crate) fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// Hosts of Entra ID (public and sovereign clouds).
pub const KNOWN_AAD_HOSTS: &[&str] = &[
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

/// Tenants that do not name one directory.
pub(crate) const MULTI_TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

/// An `authority` URL, split and classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAuthority {
    pub host: String,
    pub tenant: String,
    /// Known kind; unknown hosts are [`AuthorityKind::Custom`] with `known_host == false`.
    pub kind: AuthorityKind,
    /// The host is a known cloud, B2C/CIAM/ADFS (known to the developer) or loopback.
    pub trusted: bool,
}

/// Why an authority URL is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthorityError {
    Invalid(String),
    Insecure,
    NoTenant,
}

/// Parses and classifies an `authority` (msal-protocol §2.1, §2.2).
pub(crate) fn parse_authority(s: &str) -> Result<ParsedAuthority, AuthorityError> {
    let u = url::parse(s).map_err(AuthorityError::Invalid)?;
    check_web_url(&u).map_err(|e| match e {
        WebUrlError::Insecure => AuthorityError::Insecure,
        WebUrlError::Invalid(m) => AuthorityError::Invalid(m),
    })?;
    if u.userinfo.is_some() {
        return Err(AuthorityError::Invalid(
            "it contains user information (`user@`)".into(),
        ));
    }
    if u.fragment.is_some() {
        return Err(AuthorityError::Invalid("it has a `#fragment`".into()));
    }
    let host = u.host.clone();
    let segments: Vec<&str> = u.segments().collect();
    let ciam = host.ends_with(".ciamlogin.com");
    let tenant = match (segments.first(), ciam) {
        (Some(t), _) => (*t).to_string(),
        (None, true) => {
            let sub = host.split('.').next().unwrap_or_default();
            format!("{sub}.onmicrosoft.com")
        }
        (None, false) => return Err(AuthorityError::NoTenant),
    };
    let kind = if ciam {
        AuthorityKind::Ciam
    } else if B2C_HOST_SUFFIXES.iter().any(|s| host.ends_with(s))
        || segments
            .get(1)
            .is_some_and(|p| p.to_ascii_lowercase().starts_with("b2c_"))
    {
        AuthorityKind::B2c
    } else if tenant.eq_ignore_ascii_case("adfs") {
        AuthorityKind::Adfs
    } else if KNOWN_AAD_HOSTS.contains(&host.as_str()) {
        AuthorityKind::Aad
    } else {
        AuthorityKind::Custom
    };
    let trusted = kind != AuthorityKind::Custom || u.is_loopback();
    Ok(ParsedAuthority {
        host,
        tenant,
        kind,
        trusted,
    })
}

/// Why a URL is not usable for talking to an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WebUrlError {
    Invalid(String),
    Insecure,
}

/// `https`, or `http` on a loopback host.
pub(crate) fn check_web_url(u: &url::Url<'_>) -> Result<(), WebUrlError> {
    match u.scheme.as_str() {
        "https" => Ok(()),
        "http" if u.is_loopback() => Ok(()),
        "http" => Err(WebUrlError::Insecure),
        other => Err(WebUrlError::Invalid(format!(
            "scheme `{other}` is not `https`"
        ))),
    }
}

/// A scope set's properties: is it a `.default` set, and which resource it targets.
pub(crate) fn scope_resource(scope: &str) -> Option<String> {
    // `https://graph.microsoft.com/User.Read` -> `https://graph.microsoft.com`,
    // `api://inventory/Items.Read` -> `api://inventory`, `User.Read` -> Graph.
    let (prefix, after_scheme) = match scope.find("://") {
        Some(i) => (&scope[..i + 3], &scope[i + 3..]),
        None => ("", scope),
    };
    match after_scheme.rfind('/') {
        Some(i) => {
            let res = format!("{prefix}{}", &after_scheme[..i]);
            Some(res.trim_end_matches('/').to_ascii_lowercase())
        }
        None if prefix.is_empty() => Some("https://graph.microsoft.com".into()),
        None => Some(scope.trim_end_matches('/').to_ascii_lowercase()),
    }
}

/// `{resource}/.default` (or a bare `.default`).
pub(crate) fn is_default_scope(scope: &str) -> bool {
    scope == ".default" || scope.ends_with("/.default")
}

/// Scopes MSAL adds to every user-flow request itself.
pub(crate) const RESERVED_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_shape() {
        assert!(is_guid("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"));
        assert!(is_guid("6F1C2D3E-4A5B-4C6D-8E9F-0A1B2C3D4E5F"));
        assert!(!is_guid("6f1c2d3e4a5b4c6d8e9f0a1b2c3d4e5f"));
        assert!(!is_guid("{6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f}"));
        assert!(!is_guid("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5g"));
        assert!(!is_guid("6f1c..."));
    }

    #[test]
    fn env_var_names() {
        assert!(is_env_var_name("ORDERS_SECRET"));
        assert!(is_env_var_name("_x1"));
        assert!(!is_env_var_name("1X"));
        assert!(!is_env_var_name("A-B"));
        assert!(!is_env_var_name(""));
        assert!(!is_env_var_name("s3cr3t~value.with.dots"));
    }

    #[test]
    fn snake_idents() {
        assert!(is_snake_ident("graph"));
        assert!(is_snake_ident("graph_2"));
        assert!(is_snake_ident("_private"));
        assert!(!is_snake_ident("Graph"));
        assert!(!is_snake_ident("my-api"));
        assert!(!is_snake_ident("2fa"));
        assert!(!is_snake_ident("type"));
        assert!(!is_snake_ident("_"));
        assert_eq!(to_snake("MyApi"), "my_api");
        assert_eq!(to_snake("my-api"), "my_api");
        assert_eq!(to_snake("2fa"), "_2fa");
        assert_eq!(to_snake("OrdersDaemon"), "orders_daemon");
        assert_eq!(to_snake("HTTPClient"), "http_client");
        assert_eq!(to_snake("Api2Client"), "api2_client");
        assert_eq!(to_snake("already_snake"), "already_snake");
    }

    #[test]
    fn authority_kinds() {
        let k = |s| parse_authority(s).unwrap().kind;
        assert_eq!(
            k("https://login.microsoftonline.com/contoso.com"),
            AuthorityKind::Aad
        );
        assert_eq!(k("https://login.chinacloudapi.cn/t"), AuthorityKind::Aad);
        assert_eq!(
            k("https://login.sovcloud-identity.sg/t"),
            AuthorityKind::Aad
        );
        assert_eq!(
            k("https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_signin"),
            AuthorityKind::B2c
        );
        assert_eq!(
            k("https://id.contoso.com/contoso.onmicrosoft.com/b2c_1_susi"),
            AuthorityKind::B2c
        );
        assert_eq!(k("https://contoso.ciamlogin.com/"), AuthorityKind::Ciam);
        assert_eq!(k("https://fs.contoso.com/adfs"), AuthorityKind::Adfs);
        assert_eq!(k("https://idp.example.com/tenant"), AuthorityKind::Custom);
        assert!(
            !parse_authority("https://idp.example.com/tenant")
                .unwrap()
                .trusted
        );
        assert!(
            parse_authority("http://localhost:8080/tenant")
                .unwrap()
                .trusted
        );
    }

    #[test]
    fn authority_tenants() {
        let t = |s| parse_authority(s).unwrap().tenant;
        assert_eq!(
            t("https://login.microsoftonline.com/Contoso.com/"),
            "Contoso.com"
        );
        assert_eq!(
            t("https://contoso.ciamlogin.com"),
            "contoso.onmicrosoft.com"
        );
        assert_eq!(
            parse_authority("https://login.microsoftonline.com/"),
            Err(AuthorityError::NoTenant)
        );
        assert_eq!(
            parse_authority("http://login.microsoftonline.com/x"),
            Err(AuthorityError::Insecure)
        );
        assert!(matches!(
            parse_authority("ftp://h/x"),
            Err(AuthorityError::Invalid(_))
        ));
    }

    #[test]
    fn resources() {
        assert_eq!(
            scope_resource("https://graph.microsoft.com/.default").as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(
            scope_resource("https://graph.microsoft.com//.default").as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(
            scope_resource("User.Read").as_deref(),
            Some("https://graph.microsoft.com")
        );
        assert_eq!(
            scope_resource("api://inventory/Items.Read").as_deref(),
            Some("api://inventory")
        );
        assert_eq!(
            scope_resource("api://inventory").as_deref(),
            Some("api://inventory")
        );
        assert!(is_default_scope("api://x/.default"));
        assert!(!is_default_scope("api://x/default"));
    }
}
