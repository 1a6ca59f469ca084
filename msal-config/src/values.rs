//! Checks of single scalar values. Each returns the typed value or a [`Problem`];
//! they run on values from the file and from `MSAL_<APP>_<KEY>` overrides alike.

use crate::checks::{self, AuthorityError, ParsedAuthority, WebUrlError};
use crate::ctx::{Problem, Val};
use crate::diagnostic::Code;
use crate::model::RegionSpec;
use crate::regions::{is_dns_label, KNOWN_REGIONS};
use crate::suggest;
use crate::url;

pub(crate) fn client_id(v: &Val<String>) -> Result<String, Problem> {
    if checks::is_guid(&v.v) {
        Ok(v.v.to_ascii_lowercase())
    } else {
        Err(Problem::new(
            Code::InvalidClientId,
            format!("client_id `{}` is not a GUID", v.v),
        )
        .help("use the Application (client) ID from the app registration, e.g. `6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f`"))
    }
}

pub(crate) fn authority(v: &Val<String>) -> Result<ParsedAuthority, Problem> {
    checks::parse_authority(&v.v).map_err(|e| match e {
        AuthorityError::Invalid(why) => Problem::new(
            Code::InvalidAuthority,
            format!("authority `{}` is not a valid URL: {why}", v.v),
        )
        .help("expected `https://login.microsoftonline.com/<tenant-guid-or-domain>`"),
        AuthorityError::Insecure => Problem::new(
            Code::InsecureAuthority,
            format!("authority `{}` must use https", v.v),
        )
        .help("http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1])"),
        AuthorityError::NoTenant => Problem::new(
            Code::MissingTenant,
            format!("authority `{}` has no tenant path segment", v.v),
        )
        .help(format!(
            "append the tenant, e.g. `{}/<tenant-guid-or-domain>`",
            v.v.trim_end_matches('/')
        )),
    })
}

pub(crate) fn oidc_authority(v: &Val<String>) -> Result<(), Problem> {
    let invalid = |why: String| {
        Problem::new(
            Code::InvalidAuthority,
            format!("oidc_authority `{}` is not a valid issuer URL: {why}", v.v),
        )
        .help("expected the issuer, e.g. `https://issuer.example.com/tenant/v2.0`")
    };
    let u = url::parse(&v.v).map_err(invalid)?;
    match checks::check_web_url(&u) {
        Err(WebUrlError::Insecure) => {
            return Err(Problem::new(
                Code::InsecureAuthority,
                format!("oidc_authority `{}` must use https", v.v),
            )
            .help("http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1])"))
        }
        Err(WebUrlError::Invalid(why)) => return Err(invalid(why)),
        Ok(()) => {}
    }
    if u.userinfo.is_some() {
        return Err(invalid("it contains user information (`user@`)".into()));
    }
    if u.query.is_some() || u.fragment.is_some() {
        return Err(invalid("an issuer has no `?query` or `#fragment`".into()));
    }
    Ok(())
}

pub(crate) fn redirect_uri(v: &Val<String>) -> Result<(), Problem> {
    let invalid = |why: String| {
        Problem::new(
            Code::InvalidRedirectUri,
            format!("redirect_uri `{}` is not valid: {why}", v.v),
        )
    };
    let u = url::parse(&v.v).map_err(invalid)?;
    match checks::check_web_url(&u) {
        Err(WebUrlError::Insecure) => {
            return Err(Problem::new(
                Code::InsecureRedirectUri,
                format!("redirect_uri `{}` must use https", v.v),
            )
            .help("http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1])"))
        }
        Err(WebUrlError::Invalid(why)) => return Err(invalid(why)),
        Ok(()) => {}
    }
    if u.userinfo.is_some() {
        return Err(invalid("it contains user information (`user@`)".into()));
    }
    if let Some(frag) = u.fragment {
        let clean = v.v.trim_end_matches(frag).trim_end_matches('#');
        return Err(invalid("it has a `#fragment`".into()).help(format!("use `{clean}`")));
    }
    Ok(())
}

pub(crate) fn region(v: &Val<String>) -> Result<RegionSpec, Problem> {
    match v.v.as_str() {
        "auto" => return Ok(RegionSpec::Auto),
        "none" => return Ok(RegionSpec::Disabled),
        _ => {}
    }
    let normalized: String =
        v.v.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
    if !is_dns_label(&v.v) {
        let help = if KNOWN_REGIONS.contains(&normalized.as_str()) {
            Some(format!("did you mean `{normalized}`?"))
        } else {
            Some("use a region name such as `eastus`, or `auto` to discover it, or `none`".into())
        };
        return Err(Problem::new(
            Code::InvalidRegion,
            format!(
                "azure_region `{}` is not a valid region name (lower-case DNS label)",
                v.v
            ),
        )
        .maybe_help(help));
    }
    // A region newer than our list can still be set at run time through the env override.
    if !v.is_env() && !KNOWN_REGIONS.contains(&v.v.as_str()) {
        let candidates = KNOWN_REGIONS.iter().copied().chain(["auto", "none"]);
        return Err(Problem::new(
            Code::UnknownRegion,
            format!("azure_region `{}` is not a known Azure region", v.v),
        )
        .help(suggest::help(&v.v, candidates).unwrap_or_else(|| {
            "use a region name such as `eastus`, `auto` to discover it, or `none`; a region newer than this list can be set with the MSAL_<APP>_AZURE_REGION environment variable".into()
        })));
    }
    Ok(RegionSpec::Named(v.v.clone()))
}

pub(crate) fn imds_endpoint(v: &Val<String>) -> Result<(), Problem> {
    let bad = |why: String| {
        Problem::new(
            Code::InvalidImdsEndpoint,
            format!("imds_endpoint `{}` is not an http(s) URL: {why}", v.v),
        )
        .help("e.g. `http://169.254.169.254/metadata/instance/compute`")
    };
    let u = url::parse(&v.v).map_err(bad)?;
    if u.scheme != "http" && u.scheme != "https" {
        return Err(bad(format!("scheme `{}`", u.scheme)));
    }
    Ok(())
}

pub(crate) fn timeout(v: &Val<i64>) -> Result<u64, Problem> {
    if (1..=600).contains(&v.v) {
        Ok(v.v as u64)
    } else {
        Err(Problem::new(
            Code::InvalidTimeout,
            format!("timeout_secs = {} is out of range", v.v),
        )
        .help("use a number of seconds from 1 to 600"))
    }
}

pub(crate) fn proxy(v: &Val<String>) -> Result<(), Problem> {
    let bad = |why: String| {
        Problem::new(
            Code::InvalidProxy,
            format!("proxy is not a valid proxy URL: {why}"),
        )
        .help("e.g. `http://proxy.internal:3128`")
    };
    let u = url::parse(&v.v).map_err(bad)?;
    if !matches!(u.scheme.as_str(), "http" | "https" | "socks5" | "socks5h") {
        return Err(bad(format!(
            "scheme `{}` is not http, https, socks5 or socks5h",
            u.scheme
        )));
    }
    if !v.is_env() && u.userinfo.is_some_and(|ui| ui.contains(':')) {
        return Err(Problem::new(
            Code::InlineSecret,
            "proxy contains a password; it would be baked into the binary",
        )
        .help("remove the credentials here and supply the proxy URL at run time through MSAL_<APP>_PROXY"));
    }
    Ok(())
}

pub(crate) fn header_value(key: &str, v: &Val<String>) -> Result<(), Problem> {
    if v.v.trim().is_empty() {
        Err(Problem::new(Code::EmptyValue, format!("{key} is empty")))
    } else if !checks::is_header_value(&v.v) {
        Err(Problem::new(
            Code::InvalidHeaderValue,
            format!(
                "{key} `{}` is sent as an HTTP header and must be printable ASCII",
                v.v.escape_debug()
            ),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn non_empty(key: &str, v: &Val<String>) -> Result<(), Problem> {
    if v.v.trim().is_empty() {
        Err(Problem::new(Code::EmptyValue, format!("{key} is empty")))
    } else {
        Ok(())
    }
}

pub(crate) fn exclude_scope(v: &Val<String>) -> Result<(), Problem> {
    if v.v.trim().is_empty() {
        Err(Problem::new(
            Code::EmptyValue,
            "exclude_scopes contains an empty scope",
        ))
    } else if v.v.eq_ignore_ascii_case("openid") {
        Err(Problem::new(
            Code::ExcludeOpenid,
            "exclude_scopes cannot contain `openid`",
        )
        .help("MSAL needs `openid` to get an ID token and an account; exclude `offline_access` or `profile` only"))
    } else {
        Ok(())
    }
}

pub(crate) fn env_var_name(key: &str, v: &Val<String>) -> Result<(), Problem> {
    if v.v.starts_with("-----BEGIN") {
        return Err(Problem::new(
            Code::InlineSecret,
            format!("`{key}` holds PEM data; it must name an environment variable"),
        )
        .help(format!(
            "put the PEM in a variable and write `{key} = \"VAR_NAME\"`"
        )));
    }
    if checks::is_env_var_name(&v.v) {
        Ok(())
    } else {
        Err(Problem::new(
            Code::InvalidEnvVarName,
            format!("`{key}` must name an environment variable, `{}` is not a valid name", v.v),
        )
        .help("environment variable names are letters, digits and `_`, e.g. `ORDERS_CLIENT_SECRET`; never put the secret itself here"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(s: &str) -> Val<String> {
        Val::file(s.to_string(), 0..0)
    }

    #[test]
    fn region_values() {
        assert_eq!(region(&val("auto")), Ok(RegionSpec::Auto));
        assert_eq!(region(&val("none")), Ok(RegionSpec::Disabled));
        assert_eq!(
            region(&val("westus2")),
            Ok(RegionSpec::Named("westus2".into()))
        );
        assert_eq!(
            region(&val("East US")).unwrap_err().help.as_deref(),
            Some("did you mean `eastus`?")
        );
        assert_eq!(
            region(&val("eastuss")).unwrap_err().code,
            Code::UnknownRegion
        );
        let mut env = val("brandnewregion");
        env.origin = crate::ctx::Origin::Env("MSAL_A_AZURE_REGION".into());
        assert!(region(&env).is_ok());
    }

    #[test]
    fn proxy_values() {
        assert!(proxy(&val("http://proxy:3128")).is_ok());
        assert!(proxy(&val("socks5h://proxy:1080")).is_ok());
        assert_eq!(
            proxy(&val("ftp://proxy")).unwrap_err().code,
            Code::InvalidProxy
        );
        assert_eq!(
            proxy(&val("http://u:pw@proxy:3128")).unwrap_err().code,
            Code::InlineSecret
        );
    }
}
