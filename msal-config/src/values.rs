//! Checks of single scalar values. Each returns the typed value or a [`Problem`];
//! they run on values from the file and from `MSAL_<APP>_<KEY>` overrides alike.

use crate::authority::{parse_web_url, Authority, AuthorityError};
use crate::checks;
use crate::ctx::{Problem, Val};
use crate::diagnostic::Code;
use crate::model::RegionSpec;
use crate::regions::{is_dns_label, KNOWN_REGIONS};
use crate::suggest;

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

pub(crate) fn authority(v: &Val<String>) -> Result<Authority, Problem> {
    Authority::parse(&v.v).map_err(|e| authority_problem("authority", &v.v, e))
}

pub(crate) fn oidc_authority(v: &Val<String>) -> Result<Authority, Problem> {
    Authority::oidc(&v.v).map_err(|e| match e {
        AuthorityError::Insecure { .. } | AuthorityError::MissingTenant => {
            authority_problem("oidc_authority", &v.v, e)
        }
        e => Problem::new(
            Code::InvalidAuthority,
            format!("oidc_authority `{}` is not a valid issuer URL: {e}", v.v),
        )
        .help("expected the issuer, e.g. `https://issuer.example.com/tenant/v2.0`"),
    })
}

/// The diagnostic for an authority the shared model refuses.
fn authority_problem(key: &str, value: &str, e: AuthorityError) -> Problem {
    let (code, message) = match &e {
        AuthorityError::Insecure { .. } => (
            Code::InsecureAuthority,
            format!("{key} `{value}` must use https"),
        ),
        AuthorityError::MissingTenant => {
            let help = format!(
                "append the tenant, e.g. `{}/<tenant-guid-or-domain>`",
                value.trim_end_matches('/')
            );
            return Problem::new(
                Code::MissingTenant,
                format!("{key} `{value}` has no tenant path segment"),
            )
            .help(help);
        }
        e => (
            Code::InvalidAuthority,
            format!("{key} `{value}` is not valid: {e}"),
        ),
    };
    Problem::new(code, message).help(e.help())
}

pub(crate) fn redirect_uri(v: &Val<String>) -> Result<(), Problem> {
    let invalid = |why: String| {
        Problem::new(
            Code::InvalidRedirectUri,
            format!("redirect_uri `{}` is not valid: {why}", v.v),
        )
    };
    match parse_web_url(&v.v) {
        Ok(_) => Ok(()),
        Err(AuthorityError::Insecure { .. }) => Err(Problem::new(
            Code::InsecureRedirectUri,
            format!("redirect_uri `{}` must use https", v.v),
        )
        .help("http is only allowed on loopback hosts (localhost, 127.0.0.1, [::1])")),
        Err(AuthorityError::Fragment) => {
            let clean = v.v.split('#').next().unwrap_or_default();
            Err(invalid("it has a `#fragment`".into()).help(format!("use `{clean}`")))
        }
        Err(e) => Err(invalid(e.to_string())),
    }
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
    let u = absolute_url(&v.v).map_err(bad)?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(bad(format!("scheme `{}`", u.scheme())));
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
    let u = absolute_url(&v.v).map_err(bad)?;
    if !matches!(u.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(bad(format!(
            "scheme `{}` is not http, https, socks5 or socks5h",
            u.scheme()
        )));
    }
    if !v.is_env() && u.password().is_some() {
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

/// An absolute URL with a host (redirect URIs, proxies, IMDS, Redis); the error is a
/// short reason.
pub(crate) fn absolute_url(s: &str) -> Result<url::Url, String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("it contains {c:?}"));
    }
    let u = url::Url::parse(s).map_err(|e| e.to_string())?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    Ok(u)
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
