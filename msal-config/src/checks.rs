//! Pure checks on single values, shared by the file walker and the env overlay.

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
