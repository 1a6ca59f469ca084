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

pub(crate) fn access_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
    target: &str,
    ext_cache_key: Option<&str>,
) -> String {
    let hid = home_account_id.unwrap_or_default();
    match ext_cache_key {
        Some(ext) => format!("{hid}-{environment}-atext-{client_id}-{realm}-{target}-{ext}"),
        None => format!("{hid}-{environment}-accesstoken-{client_id}-{realm}-{target}"),
    }
    .to_lowercase()
}

pub(crate) fn refresh_token(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    target: &str,
) -> String {
    let hid = home_account_id.unwrap_or_default();
    format!("{hid}-{environment}-refreshtoken-{client_id}--{target}").to_lowercase()
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
            access_token(None, "login.microsoftonline.com", "Client-Id-1", "72F988BF", "https://graph.microsoft.com/.default", None),
            "-login.microsoftonline.com-accesstoken-client-id-1-72f988bf-https://graph.microsoft.com/.default"
        );
        assert_eq!(
            refresh_token(
                Some("uid.utid"),
                "login.microsoftonline.com",
                "cid",
                "User.Read openid"
            ),
            "uid.utid-login.microsoftonline.com-refreshtoken-cid--user.read openid"
        );
        assert_eq!(
            id_token(Some("u.t"), "env", "cid", "realm"),
            "u.t-env-idtoken-cid-realm-"
        );
        assert_eq!(account("U.T", "env", "Realm"), "u.t-env-realm");
        assert_eq!(app_metadata("env", "CID"), "appmetadata-env-CID");
        assert_eq!(
            access_token(None, "e", "c", "r", "t", Some("abc")),
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
