//! Cache keys, exactly as MSAL Python writes them (lower-cased, `-`-joined, empty parts kept).

/// Scopes sorted (ASCII) and joined by single spaces: MSAL's `target`.
pub(crate) fn target<S: AsRef<str>>(scopes: &[S]) -> String {
    let mut v: Vec<&str> = scopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// The key of an access token. On-behalf-of tokens (`user_assertion_hash`) get the hash as
/// a last component, so an OBO token and a sign-in token of one user for the same scopes
/// are two entries rather than one overwriting the other (MSAL Python never caches OBO
/// tokens; MSAL.NET and msal-node keep them in a separate cache partition).
pub(crate) fn access_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
    target: &str,
    ext_cache_key: Option<&str>,
    user_assertion_hash: Option<&str>,
) -> String {
    let hid = home_account_id.unwrap_or_default();
    let mut k = match ext_cache_key {
        Some(ext) => format!("{hid}-{environment}-atext-{client_id}-{realm}-{target}-{ext}"),
        None => format!("{hid}-{environment}-accesstoken-{client_id}-{realm}-{target}"),
    };
    if let Some(h) = user_assertion_hash {
        k.push('-');
        k.push_str(h);
    }
    k.to_lowercase()
}

/// The key of a refresh token (MSAL Python's, with the target); on-behalf-of refresh
/// tokens get the assertion hash as a last component, as access tokens do.
pub(crate) fn refresh_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    target: &str,
    user_assertion_hash: Option<&str>,
) -> String {
    let hid = home_account_id.unwrap_or_default();
    let mut k = format!("{hid}-{environment}-refreshtoken-{client_id}--{target}");
    if let Some(h) = user_assertion_hash {
        k.push('-');
        k.push_str(h);
    }
    k.to_lowercase()
}

/// How keys that differ only by letter case rank: the lower-case one (today's form, which
/// every MSAL writes) first, then by the key itself, so the choice never depends on hash
/// order (MSAL Go's tests expect the lower-case entry to win over a v1.0 mixed-case one).
pub(crate) fn rank(k: &str) -> (bool, &str) {
    (k.chars().any(|c| c.is_uppercase()), k)
}

pub(crate) fn id_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
) -> String {
    let hid = home_account_id.unwrap_or_default();
    format!("{hid}-{environment}-idtoken-{client_id}-{realm}-").to_lowercase()
}

pub(crate) fn account(home_account_id: &str, environment: &str, realm: &str) -> String {
    format!("{home_account_id}-{environment}-{realm}").to_lowercase()
}

pub(crate) fn app_metadata(environment: &str, client_id: &str) -> String {
    // The only key MSAL Python does not lower-case.
    format!("appmetadata-{environment}-{client_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_msal_python() {
        assert_eq!(
            access_token(None, "login.microsoftonline.com", "Client-Id-1", "72F988BF", "https://graph.microsoft.com/.default", None, None),
            "-login.microsoftonline.com-accesstoken-client-id-1-72f988bf-https://graph.microsoft.com/.default"
        );
        assert_eq!(
            refresh_token(
                Some("uid.utid"),
                "login.microsoftonline.com",
                "cid",
                "User.Read openid",
                None
            ),
            "uid.utid-login.microsoftonline.com-refreshtoken-cid--user.read openid"
        );
        assert_eq!(
            refresh_token(Some("u.t"), "env", "cid", "s", Some("AbC_-1")),
            "u.t-env-refreshtoken-cid--s-abc_-1"
        );
        assert_eq!(
            access_token(Some("u.t"), "env", "cid", "r", "s", None, Some("AbC")),
            "u.t-env-accesstoken-cid-r-s-abc"
        );
        assert!(rank("a-b-refreshtoken") < rank("a-b-RefreshToken"));
        assert_eq!(
            id_token(Some("u.t"), "env", "cid", "realm"),
            "u.t-env-idtoken-cid-realm-"
        );
        assert_eq!(account("U.T", "env", "Realm"), "u.t-env-realm");
        assert_eq!(app_metadata("env", "CID"), "appmetadata-env-CID");
        assert_eq!(
            access_token(None, "e", "c", "r", "t", Some("abc"), None),
            "-e-atext-c-r-t-abc"
        );
    }

    #[test]
    fn target_is_sorted_ascii() {
        assert_eq!(
            target(&["openid", "User.Read", "Mail.Read", "profile", "User.Read"]),
            "Mail.Read User.Read openid profile"
        );
    }
}
