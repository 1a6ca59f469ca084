//! A small, strict URL splitter (enough for authorities, redirect URIs and proxies).

/// The parts of `scheme://[userinfo@]host[:port][/path][?query][#fragment]`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// Lower-cased scheme.
    pub scheme: String,
    pub userinfo: Option<&'a str>,
    /// Lower-cased host; IPv6 literals keep their brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Path including its leading `/` (may be empty).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub fragment: Option<&'a str>,
}

impl Url<'_> {
    /// Non-empty path segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

/// `localhost`, `*.localhost`, `127.0.0.1` or `[::1]`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// Splits an absolute URL. The error is a short reason.
pub(crate) fn parse(input: &str) -> Result<Url<'_>, String> {
    if input.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("it contains {:?}", c));
    }
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err("it has no scheme (expected `https://...`)".into());
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(format!("`{scheme}` is not a URL scheme"));
    }
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (rest, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (before_fragment, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i..]),
        None => (before_query, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
        let Some(end) = stripped.find(']') else {
            return Err("its IPv6 host has no closing `]`".into());
        };
        let host = &hostport[..end + 2];
        let after = &hostport[end + 2..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or("unexpected text after the IPv6 host")?,
            ),
        };
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(format!("`{host}` is not a valid host name"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("`{p}` is not a valid port"))?,
        ),
    };
    Ok(Url {
        scheme: scheme.to_ascii_lowercase(),
        userinfo,
        host: host.to_ascii_lowercase(),
        port,
        path,
        query,
        fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_all_parts() {
        let u = parse("HTTPS://User:pw@Login.Example.com:8443/a/b/?x=1#frag").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.userinfo, Some("User:pw"));
        assert_eq!(u.host, "login.example.com");
        assert_eq!(u.port, Some(8443));
        assert_eq!(u.path, "/a/b/");
        assert_eq!(u.segments().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(u.query, Some("x=1"));
        assert_eq!(u.fragment, Some("frag"));
    }

    #[test]
    fn ipv6_and_loopback() {
        let u = parse("http://[::1]:8080/cb").unwrap();
        assert_eq!(u.host, "[::1]");
        assert_eq!(u.port, Some(8080));
        assert!(u.is_loopback());
        assert!(parse("http://app.localhost/x").unwrap().is_loopback());
        assert!(parse("http://127.0.0.1/x").unwrap().is_loopback());
        assert!(!parse("http://localhost.example.com/x")
            .unwrap()
            .is_loopback());
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse("login.microsoftonline.com/x").is_err());
        assert!(parse("https:///x").is_err());
        assert!(parse("https://host:99999/x").is_err());
        assert!(parse("https://ho st/x").is_err());
        assert!(parse("https://[::1/x").is_err());
        assert!(parse("").is_err());
    }
}
