//! Profiles and `MSAL_<APP>_<KEY>` environment overrides.

use std::collections::HashMap;
use std::path::Path;

use super::{assert_at, errs, ok, with, BASE};
use crate::{Code, Config, RegionSpec};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn resolve(
    src: &str,
    profile: Option<&str>,
    env: &[(&str, &str)],
) -> Result<Config, crate::Diagnostics> {
    Config::resolve(Path::new("msal.toml"), src, profile, &env_of(env))
}

fn staged() -> String {
    format!(
        "[defaults]\ntimeout_secs = 30\n{BASE}\n[profiles.staging.defaults]\nauthority = \"https://login.microsoftonline.com/staging.onmicrosoft.com\"\ntimeout_secs = 20\n\n[profiles.staging.apps.web]\nclient_id = \"00000000-0000-0000-0000-0000000000ff\"\n"
    )
}

#[test]
fn profile_overlays_defaults_and_app() {
    let src = staged();
    let base = ok(&src);
    assert_eq!(base.profile, None);
    assert_eq!(base.profiles, ["staging"]);
    assert_eq!(base.apps["web"].timeout_secs, Some(30));

    let cfg = resolve(&src, Some("staging"), &[]).unwrap();
    let app = &cfg.apps["web"];
    assert_eq!(cfg.profile.as_deref(), Some("staging"));
    assert_eq!(
        app.client_id.as_deref(),
        Some("00000000-0000-0000-0000-0000000000ff")
    );
    assert_eq!(app.timeout_secs, Some(20));
    // profile defaults beat the app's own base value (an environment-wide switch)
    assert_eq!(
        app.authority.as_ref().unwrap().as_str(),
        "https://login.microsoftonline.com/staging.onmicrosoft.com"
    );
}

#[test]
fn profile_selected_by_msal_profile() {
    let src = staged();
    let cfg = resolve(&src, None, &[("MSAL_PROFILE", "staging")]).unwrap();
    assert_eq!(cfg.profile.as_deref(), Some("staging"));
    // an explicit profile wins over the variable, an empty variable means none
    let cfg = resolve(&src, None, &[("MSAL_PROFILE", "")]).unwrap();
    assert_eq!(cfg.profile, None);
    assert_eq!(
        cfg.apps["web"].client_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
}

#[test]
fn broken_profiles_fail_at_parse_time_pointing_at_the_profile() {
    let src = format!("{BASE}\n[profiles.prod.apps.web]\nclient_id = \"nope\"\nauthority = \"https://login.microsoftonline.com/common\"\n");
    let d = errs(&src);
    assert_eq!(d.codes(), [Code::InvalidClientId, Code::TenantNotAllowed]);
    assert_at(&d.0[0], &src, "\"nope\"");
    assert_at(
        &d.0[1],
        &src,
        "\"https://login.microsoftonline.com/common\"",
    );
}

#[test]
fn a_base_error_is_reported_once_not_once_per_profile() {
    let src = format!(
        "{}\n[profiles.a.defaults]\ntimeout_secs = 5\n[profiles.b.defaults]\ntimeout_secs = 6\n",
        with(&[("credential", None)])
    );
    assert_eq!(errs(&src).codes(), [Code::MissingCredential]);
}

#[test]
fn profile_switches_authority_kind() {
    let src = format!(
        "{BASE}\n[profiles.dev.apps.web]\noidc_authority = \"https://localhost:8443/t/v2.0\"\n"
    );
    let cfg = resolve(&src, Some("dev"), &[]).unwrap();
    assert_eq!(
        cfg.apps["web"].authority,
        Some(crate::Authority::oidc("https://localhost:8443/t/v2.0").unwrap())
    );
}

#[test]
fn profile_cross_rules_use_the_merged_values() {
    // the base authority is an unknown host, made acceptable only in the profile
    let src = format!(
        "{}\n[profiles.local.apps.web]\nvalidate_authority = false\n",
        with(&[
            ("authority", Some("\"https://idp.internal/t\"")),
            ("validate_authority", Some("false"))
        ])
    );
    ok(&src);
    let src = format!(
        "{}\n[profiles.local.apps.web]\nvalidate_authority = true\n",
        with(&[
            ("authority", Some("\"https://idp.internal/t\"")),
            ("validate_authority", Some("false"))
        ])
    );
    let d = errs(&src);
    assert_eq!(d.codes(), [Code::UnknownAuthorityHost]);
    assert_at(&d.0[0], &src, "\"https://idp.internal/t\"");
}

#[test]
fn env_overrides_every_kind_of_value() {
    let cfg = resolve(
        BASE,
        None,
        &[
            ("MSAL_WEB_CLIENT_ID", "00000000-0000-0000-0000-0000000000aa"),
            (
                "MSAL_WEB_AUTHORITY",
                "https://login.microsoftonline.us/contoso.us",
            ),
            ("MSAL_WEB_AZURE_REGION", "usgovvirginia"),
            ("MSAL_WEB_TIMEOUT_SECS", " 15 "),
            ("MSAL_WEB_INSTANCE_DISCOVERY", "no"),
            ("MSAL_WEB_VALIDATE_AUTHORITY", "FALSE"),
            ("MSAL_WEB_CLIENT_CAPABILITIES", "cp1, cp2,"),
            ("MSAL_WEB_EXCLUDE_SCOPES", "offline_access"),
            ("MSAL_WEB_CA_BUNDLE", "/etc/ssl/ca.pem"),
            ("MSAL_WEB_PROXY", "http://user:pw@proxy:3128"),
            ("MSAL_WEB_APP_NAME", "web"),
            ("MSAL_WEB_APP_VERSION", "2.0"),
            (
                "MSAL_WEB_IMDS_ENDPOINT",
                "http://127.0.0.1:9/metadata/instance/compute",
            ),
        ],
    )
    .unwrap();
    let app = &cfg.apps["web"];
    assert_eq!(
        app.client_id.as_deref(),
        Some("00000000-0000-0000-0000-0000000000aa")
    );
    assert_eq!(
        app.authority.as_ref().unwrap().as_str(),
        "https://login.microsoftonline.us/contoso.us"
    );
    assert_eq!(
        app.azure_region,
        Some(RegionSpec::Named("usgovvirginia".into()))
    );
    assert_eq!(app.timeout_secs, Some(15));
    assert!(!app.instance_discovery && !app.validate_authority);
    assert_eq!(app.client_capabilities, ["cp1", "cp2"]);
    assert_eq!(app.exclude_scopes, ["offline_access"]);
    assert_eq!(app.ca_bundle.as_deref(), Some(Path::new("/etc/ssl/ca.pem")));
    // a proxy password is fine at run time (it never reaches the binary)
    assert_eq!(app.proxy.as_deref(), Some("http://user:pw@proxy:3128"));
    assert_eq!(app.app_name.as_deref(), Some("web"));
    assert_eq!(
        app.imds_endpoint.as_deref(),
        Some("http://127.0.0.1:9/metadata/instance/compute")
    );
}

#[test]
fn env_overrides_win_over_profiles_and_empty_means_unset() {
    let src = staged();
    let cfg = resolve(
        &src,
        Some("staging"),
        &[
            ("MSAL_WEB_CLIENT_ID", "00000000-0000-0000-0000-0000000000ee"),
            ("MSAL_WEB_TIMEOUT_SECS", ""),
        ],
    )
    .unwrap();
    assert_eq!(
        cfg.apps["web"].client_id.as_deref(),
        Some("00000000-0000-0000-0000-0000000000ee")
    );
    assert_eq!(cfg.apps["web"].timeout_secs, Some(20));
}

#[test]
fn env_values_are_checked_by_the_same_rules() {
    let d = resolve(
        BASE,
        None,
        &[
            (
                "MSAL_WEB_AUTHORITY",
                "https://login.microsoftonline.com/common",
            ),
            ("MSAL_WEB_AZURE_REGION", "East US"),
            ("MSAL_WEB_REDIRECT_URI", "https://app.example.com/cb"),
        ],
    )
    .unwrap_err();
    let mut codes = d.codes();
    codes.sort();
    assert_eq!(
        codes,
        [
            Code::TenantNotAllowed,
            Code::UnusedRedirectUri,
            Code::InvalidRegion
        ]
    );
    for diag in d.iter() {
        assert_eq!((diag.line, diag.col), (1, 1), "points at [apps.web]");
        assert!(
            diag.message
                .contains("(from environment variable `MSAL_WEB_"),
            "{}",
            diag.message
        );
    }
}

#[test]
fn env_region_is_only_pattern_checked() {
    // a region newer than the built-in list can be set at run time
    let cfg = resolve(BASE, None, &[("MSAL_WEB_AZURE_REGION", "marsnorth")]).unwrap();
    assert_eq!(
        cfg.apps["web"].azure_region,
        Some(RegionSpec::Named("marsnorth".into()))
    );
}

#[test]
fn env_authority_replaces_oidc_authority() {
    let src = with(&[
        ("authority", None),
        ("oidc_authority", Some("\"https://issuer.example.com\"")),
    ]);
    let cfg = resolve(
        &src,
        None,
        &[(
            "MSAL_WEB_AUTHORITY",
            "https://login.microsoftonline.com/contoso.com",
        )],
    )
    .unwrap();
    assert_eq!(
        cfg.apps["web"].authority.as_ref().unwrap().kind(),
        crate::AuthorityKind::Aad
    );
}

#[test]
fn env_override_names() {
    assert_eq!(
        crate::env_override_name("orders_daemon", "authority"),
        "MSAL_ORDERS_DAEMON_AUTHORITY"
    );
    assert!(crate::ENV_OVERRIDABLE_KEYS
        .iter()
        .all(|k| crate::layer::APP_KEYS.contains(k)));
}
