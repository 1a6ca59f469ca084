//! `MSAL_<APP>_<KEY>` run-time overrides and `MSAL_PROFILE`.

use crate::ctx::{Ctx, Origin, Span, Val};
use crate::diagnostic::Code;
use crate::layer::Layer;

/// The variable that selects a profile at run time.
pub const PROFILE_VAR: &str = "MSAL_PROFILE";

/// Keys that `MSAL_<APP>_<KEY>` may override. Lists (`client_capabilities`,
/// `exclude_scopes`) are comma-separated; booleans accept `true/false/1/0/yes/no`.
/// Keys that shape the generated code (`grants`, `scopes`) or hold structured data
/// (`credential`, `token_cache`) cannot be overridden.
pub const ENV_OVERRIDABLE_KEYS: &[&str] = &[
    "client_id",
    "authority",
    "oidc_authority",
    "redirect_uri",
    "azure_region",
    "imds_endpoint",
    "instance_discovery",
    "validate_authority",
    "timeout_secs",
    "ca_bundle",
    "proxy",
    "app_name",
    "app_version",
    "client_capabilities",
    "exclude_scopes",
];

/// The variable overriding `key` of app `app`.
///
/// ```
/// assert_eq!(
///     msal_config::env_override_name("orders_daemon", "client_id"),
///     "MSAL_ORDERS_DAEMON_CLIENT_ID"
/// );
/// ```
pub fn env_override_name(app: &str, key: &str) -> String {
    format!(
        "MSAL_{}_{}",
        app.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Builds the environment layer of one app. Values point at the app's table (`span`)
/// and name their variable in messages. Empty variables count as unset.
pub(crate) fn layer(
    ctx: &mut Ctx<'_>,
    app: &str,
    span: Span,
    env: &dyn Fn(&str) -> Option<String>,
) -> Layer {
    let mut l = Layer::default();
    for key in ENV_OVERRIDABLE_KEYS {
        let var = env_override_name(app, key);
        let Some(raw) = env(&var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let val = |v| Val {
            v,
            span: span.clone(),
            origin: Origin::Env(var.clone()),
        };
        let s = raw.trim().to_string();
        match *key {
            "client_id" => l.client_id = Some(val(s)),
            "authority" => l.authority = Some(val(s)),
            "oidc_authority" => l.oidc_authority = Some(val(s)),
            "redirect_uri" => l.redirect_uri = Some(val(s)),
            "azure_region" => l.azure_region = Some(val(s)),
            "imds_endpoint" => l.imds_endpoint = Some(val(s)),
            "ca_bundle" => l.ca_bundle = Some(val(s)),
            "proxy" => l.proxy = Some(val(s)),
            "app_name" => l.app_name = Some(val(s)),
            "app_version" => l.app_version = Some(val(s)),
            "instance_discovery" | "validate_authority" => match parse_bool(&s) {
                Some(b) => {
                    let v = Some(Val { v: b, span: span.clone(), origin: Origin::Env(var.clone()) });
                    if *key == "instance_discovery" {
                        l.instance_discovery = v;
                    } else {
                        l.validate_authority = v;
                    }
                }
                None => ctx.error_help(
                    Code::InvalidEnvOverride,
                    span.clone(),
                    format!("environment variable `{var}` must be true or false, found `{s}`"),
                    Some("use `true` or `false`".into()),
                ),
            },
            "timeout_secs" => match s.parse::<i64>() {
                Ok(n) => l.timeout_secs = Some(Val { v: n, span: span.clone(), origin: Origin::Env(var.clone()) }),
                Err(_) => ctx.error_help(
                    Code::InvalidEnvOverride,
                    span.clone(),
                    format!("environment variable `{var}` must be a whole number of seconds, found `{s}`"),
                    None,
                ),
            },
            _ => {
                let items: Vec<Val<String>> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| val(p.to_string()))
                    .collect();
                let list = Some(Val { v: items, span: span.clone(), origin: Origin::Env(var.clone()) });
                if *key == "client_capabilities" {
                    l.client_capabilities = list;
                } else {
                    l.exclude_scopes = list;
                }
            }
        }
    }
    l.check_values(ctx);
    l
}
