//! One table of app settings (`[defaults]`, `[apps.X]`, a profile's overlay, or the
//! environment), extracted from the spanned TOML tree with every structural problem
//! reported.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::checks;
use crate::ctx::{Ctx, Problem, Span, Val};
use crate::diagnostic::Code;
use crate::model::{
    CacheSpec, CredentialSpec, Grant, ManagedIdentityId, ManagedIdentitySourceKind, RedisUrl,
    Source,
};
use crate::suggest;
use crate::values;

pub(crate) type Key<'i> = Spanned<Cow<'i, str>>;
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Every key an app table may hold.
pub(crate) const APP_KEYS: &[&str] = &[
    "client_id",
    "authority",
    "oidc_authority",
    "credential",
    "grants",
    "redirect_uri",
    "scopes",
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
    "token_cache",
    "accepts",
];

/// Keys that identify one app and so cannot be inherited from `[defaults]`.
pub(crate) const NOT_INHERITABLE: &[&str] =
    &["client_id", "grants", "scopes", "redirect_uri", "accepts"];

/// Keys a profile may not change, because they shape the generated code.
pub(crate) const NOT_OVERRIDABLE: &[&str] = &["grants", "accepts"];

/// Which table a layer comes from; decides which keys are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LayerKind {
    Defaults,
    App,
    ProfileDefaults,
    ProfileApp,
}

impl LayerKind {
    fn allows(self, key: &str) -> Result<(), Code> {
        match self {
            LayerKind::Defaults | LayerKind::ProfileDefaults if NOT_INHERITABLE.contains(&key) => {
                Err(Code::NotInheritable)
            }
            LayerKind::ProfileApp if NOT_OVERRIDABLE.contains(&key) => Err(Code::NotOverridable),
            _ => Ok(()),
        }
    }
}

/// A named scope set as written in one table.
#[derive(Clone, Debug)]
pub(crate) struct RawScopeSet {
    /// `false` when the set itself was reported; rules across keys then skip it.
    pub valid: bool,
    pub name_span: Span,
    pub span: Span,
    pub scopes: Vec<String>,
    pub is_default: bool,
    pub resource: Option<String>,
}

/// The grants of an app; `complete` is `false` when some entry was reported, so the
/// rules that depend on the grants stay quiet instead of cascading.
#[derive(Clone, Debug, Default)]
pub(crate) struct GrantList {
    pub grants: Vec<Val<Grant>>,
    pub complete: bool,
}

/// The settings of one table. `Val<Option<T>>` means "present, but invalid (reported)".
#[derive(Clone, Debug, Default)]
pub(crate) struct Layer {
    /// `[defaults]` or a profile's defaults: inherited values, not the app's own.
    pub from_defaults: bool,
    pub client_id: Option<Val<String>>,
    pub authority: Option<Val<String>>,
    pub oidc_authority: Option<Val<String>>,
    pub credential: Option<Val<Option<CredentialSpec>>>,
    pub grants: Option<Val<GrantList>>,
    pub redirect_uri: Option<Val<String>>,
    pub scopes: Option<Val<BTreeMap<String, RawScopeSet>>>,
    pub azure_region: Option<Val<String>>,
    pub imds_endpoint: Option<Val<String>>,
    pub instance_discovery: Option<Val<bool>>,
    pub validate_authority: Option<Val<bool>>,
    pub timeout_secs: Option<Val<i64>>,
    pub ca_bundle: Option<Val<String>>,
    pub proxy: Option<Val<String>>,
    pub app_name: Option<Val<String>>,
    pub app_version: Option<Val<String>>,
    pub client_capabilities: Option<Val<Vec<Val<String>>>>,
    pub exclude_scopes: Option<Val<Vec<Val<String>>>>,
    pub token_cache: Option<Val<Option<CacheSpec>>>,
    pub accepts: Option<Val<Option<crate::accepts::RawAccepts>>>,
}

fn inline_secret_help(key: &str) -> Option<&'static str> {
    Some(match key {
        "client_secret" | "secret" | "password" | "value" | "token" | "client_assertion"
        | "assertion" => "use `credential = { kind = \"secret\", env = \"VAR\" }` (or `file = \"path\"`) and supply the value at run time",
        "passphrase" | "private_key_passphrase" | "key_password" => {
            "use `passphrase_env = \"VAR\"` and supply the passphrase at run time"
        }
        "private_key" | "private_key_pem" | "key" | "pem" => {
            "use `private_key_file = \"path\"` or `private_key_env = \"VAR\"`"
        }
        _ => return None,
    })
}

fn article(type_name: &str) -> &'static str {
    match type_name {
        "integer" | "array" => "an",
        _ => "a",
    }
}

/// Reports a value of the wrong TOML type.
pub(crate) fn wrong_type(
    ctx: &mut Ctx<'_>,
    what: &str,
    expected: &str,
    v: &Value<'_>,
    help: Option<String>,
) {
    let found = v.get_ref().type_str();
    ctx.error_help(
        Code::WrongType,
        v.span(),
        format!(
            "{what} must be {expected}, found {} {found}",
            article(found)
        ),
        help,
    );
}

pub(crate) fn expect_str(ctx: &mut Ctx<'_>, what: &str, v: &Value<'_>) -> Option<Val<String>> {
    match v.get_ref() {
        DeValue::String(s) => Some(Val::file(s.to_string(), v.span())),
        _ => {
            wrong_type(ctx, what, "a string", v, None);
            None
        }
    }
}

pub(crate) fn expect_bool(ctx: &mut Ctx<'_>, what: &str, v: &Value<'_>) -> Option<Val<bool>> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(Val::file(*b, v.span())),
        DeValue::String(s) if matches!(s.as_ref(), "true" | "false") => {
            wrong_type(
                ctx,
                what,
                "a boolean",
                v,
                Some(format!("remove the quotes: `{s}`")),
            );
            None
        }
        _ => {
            wrong_type(ctx, what, "a boolean", v, None);
            None
        }
    }
}

pub(crate) fn expect_int(ctx: &mut Ctx<'_>, what: &str, v: &Value<'_>) -> Option<Val<i64>> {
    match v.get_ref() {
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Some(Val::file(n, v.span())),
            Err(_) => {
                ctx.error(Code::WrongType, v.span(), format!("{what} is too large"));
                None
            }
        },
        _ => {
            wrong_type(ctx, what, "an integer", v, None);
            None
        }
    }
}

/// An array of strings; non-strings are reported and skipped.
pub(crate) fn expect_str_list(
    ctx: &mut Ctx<'_>,
    what: &str,
    v: &Value<'_>,
) -> Option<Val<Vec<Val<String>>>> {
    match v.get_ref() {
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items.iter() {
                if let Some(s) = expect_str(ctx, &format!("each element of {what}"), item) {
                    out.push(s);
                }
            }
            Some(Val::file(out, v.span()))
        }
        DeValue::String(s) => {
            wrong_type(
                ctx,
                what,
                "an array of strings",
                v,
                Some(format!("write `[\"{s}\"]`")),
            );
            None
        }
        _ => {
            wrong_type(ctx, what, "an array of strings", v, None);
            None
        }
    }
}

/// Reports an unknown key with a suggestion among `candidates`.
pub(crate) fn unknown_key(ctx: &mut Ctx<'_>, key: &Key<'_>, where_: &str, candidates: &[&str]) {
    let name = key.get_ref().as_ref();
    ctx.error_help(
        Code::UnknownKey,
        key.span(),
        format!("unknown key `{name}` in {where_}"),
        suggest::help(name, candidates.iter().copied()),
    );
}

impl Layer {
    /// Extracts a layer from `table` (the contents of `label`, e.g. `[apps.web]`).
    pub(crate) fn parse(
        ctx: &mut Ctx<'_>,
        table: &DeTable<'_>,
        kind: LayerKind,
        label: &str,
    ) -> Layer {
        let mut l = Layer {
            from_defaults: matches!(kind, LayerKind::Defaults | LayerKind::ProfileDefaults),
            ..Layer::default()
        };
        for (key, v) in table.iter() {
            let name = key.get_ref().as_ref();
            if !APP_KEYS.contains(&name) {
                if let Some(help) = inline_secret_help(name) {
                    ctx.error_help(
                        Code::InlineSecret,
                        key.span(),
                        format!("`{name}` would put a secret into msal.toml (and into the binary)"),
                        Some(help.into()),
                    );
                } else {
                    let allowed: Vec<&str> = APP_KEYS
                        .iter()
                        .copied()
                        .filter(|k| kind.allows(k).is_ok())
                        .collect();
                    unknown_key(ctx, key, label, &allowed);
                }
                continue;
            }
            if let Err(code) = kind.allows(name) {
                let (msg, help) = match code {
                    Code::NotInheritable => (
                        format!("`{name}` cannot be set in {label}: it belongs to one app"),
                        "move it to each [apps.NAME] table",
                    ),
                    _ => (
                        format!("`{name}` cannot be changed by a profile: it decides which methods are generated"),
                        "set it in the app's own [apps.NAME] table",
                    ),
                };
                ctx.error_help(code, key.span(), msg, Some(help.into()));
                continue;
            }
            match name {
                "client_id" => l.client_id = expect_str(ctx, name, v),
                "authority" => l.authority = expect_str(ctx, name, v),
                "oidc_authority" => l.oidc_authority = expect_str(ctx, name, v),
                "redirect_uri" => l.redirect_uri = expect_str(ctx, name, v),
                "imds_endpoint" => l.imds_endpoint = expect_str(ctx, name, v),
                "ca_bundle" => l.ca_bundle = expect_str(ctx, name, v),
                "proxy" => l.proxy = expect_str(ctx, name, v),
                "app_name" => l.app_name = expect_str(ctx, name, v),
                "app_version" => l.app_version = expect_str(ctx, name, v),
                "azure_region" => match v.get_ref() {
                    DeValue::Boolean(b) => wrong_type(
                        ctx,
                        name,
                        "a string",
                        v,
                        Some(format!("use `\"{}\"`", if *b { "auto" } else { "none" })),
                    ),
                    _ => l.azure_region = expect_str(ctx, name, v),
                },
                "instance_discovery" => l.instance_discovery = expect_bool(ctx, name, v),
                "validate_authority" => l.validate_authority = expect_bool(ctx, name, v),
                "timeout_secs" => l.timeout_secs = expect_int(ctx, name, v),
                "client_capabilities" => l.client_capabilities = expect_str_list(ctx, name, v),
                "exclude_scopes" => l.exclude_scopes = expect_str_list(ctx, name, v),
                "grants" => l.grants = parse_grants(ctx, v),
                "credential" => {
                    l.credential = Some(Val::file(parse_credential(ctx, v), v.span()));
                }
                "token_cache" => {
                    l.token_cache = Some(Val::file(parse_cache(ctx, v), v.span()));
                }
                "scopes" => l.scopes = parse_scopes(ctx, v),
                "accepts" => l.accepts = crate::accepts::parse(ctx, v),
                _ => unreachable!("every APP_KEYS entry is handled"),
            }
        }
        l.check_values(ctx);
        l
    }

    /// Checks of single values (shared with the environment overlay).
    pub(crate) fn check_values(&self, ctx: &mut Ctx<'_>) {
        fn run<T, R>(
            ctx: &mut Ctx<'_>,
            v: &Option<Val<T>>,
            f: impl Fn(&Val<T>) -> Result<R, Problem>,
        ) {
            if let Some(v) = v {
                if let Err(p) = f(v) {
                    ctx.report_val(v, p);
                }
            }
        }
        run(ctx, &self.client_id, values::client_id);
        run(ctx, &self.authority, values::authority);
        run(ctx, &self.oidc_authority, values::oidc_authority);
        run(ctx, &self.redirect_uri, values::redirect_uri);
        run(ctx, &self.azure_region, values::region);
        run(ctx, &self.imds_endpoint, values::imds_endpoint);
        run(ctx, &self.timeout_secs, values::timeout);
        run(ctx, &self.proxy, values::proxy);
        run(ctx, &self.ca_bundle, |v| values::non_empty("ca_bundle", v));
        run(ctx, &self.app_name, |v| values::header_value("app_name", v));
        run(ctx, &self.app_version, |v| {
            values::header_value("app_version", v)
        });
        if let Some(list) = &self.client_capabilities {
            for c in &list.v {
                run(ctx, &Some(c.clone()), |v| {
                    values::non_empty("a client capability", v)
                });
            }
        }
        if let Some(list) = &self.exclude_scopes {
            for s in &list.v {
                run(ctx, &Some(s.clone()), values::exclude_scope);
            }
        }
        if let (Some(a), Some(o)) = (&self.authority, &self.oidc_authority) {
            let later = if o.span.start >= a.span.start { o } else { a };
            let key = if std::ptr::eq(later, o) {
                "oidc_authority"
            } else {
                "authority"
            };
            ctx.report_val(
                later,
                Problem::new(
                    Code::ConflictingAuthority,
                    format!("`authority` and `oidc_authority` are both set; `{key}` conflicts"),
                )
                .help("keep one: `authority` for Entra ID (and B2C, CIAM, ADFS), `oidc_authority` for any other OpenID Connect issuer"),
            );
        }
    }

    /// Resolves a path value against the config file's directory.
    pub(crate) fn path(ctx: &Ctx<'_>, v: &Val<String>) -> PathBuf {
        ctx.resolve_path(&v.v)
    }
}

fn grant_help(name: &str) -> Option<String> {
    let alias = match name.to_ascii_lowercase().replace('-', "_").as_str() {
        "auth_code" | "authcode" | "code" | "authorization_code_flow" => Some("authorization_code"),
        "obo" | "onbehalfof" | "jwt_bearer" | "urn:ietf:params:oauth:grant_type:jwt_bearer" => {
            Some("on_behalf_of")
        }
        "client_credential" | "app_only" | "daemon" => Some("client_credentials"),
        "refresh" | "silent" | "refresh_tokens" => Some("refresh_token"),
        _ => None,
    };
    alias
        .map(|a| format!("did you mean `{a}`?"))
        .or_else(|| suggest::help(name, Grant::ALL.iter().map(|g| g.as_str())))
        .or_else(|| {
            Some(
                "known grants: client_credentials, authorization_code, on_behalf_of, refresh_token"
                    .into(),
            )
        })
}

fn parse_grants(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<Val<GrantList>> {
    let Some(list) = expect_str_list(ctx, "grants", v) else {
        return Some(Val::file(GrantList::default(), v.span()));
    };
    let mut complete = matches!(v.get_ref(), DeValue::Array(a) if a.len() == list.v.len());
    if list.v.is_empty() && complete {
        ctx.error_help(
            Code::MissingGrants,
            v.span(),
            "grants is empty",
            Some("list what the app does, e.g. `grants = [\"client_credentials\"]`".into()),
        );
    }
    let mut out: Vec<Val<Grant>> = Vec::new();
    for g in &list.v {
        match g.v.parse::<Grant>() {
            Ok(grant) => {
                if out.iter().any(|o| o.v == grant) {
                    ctx.error_help(
                        Code::DuplicateGrant,
                        g.span.clone(),
                        format!("grant `{grant}` is listed twice"),
                        Some("remove the duplicate".into()),
                    );
                } else {
                    out.push(Val::file(grant, g.span.clone()));
                }
            }
            Err(()) => {
                complete = false;
                ctx.error_help(
                    Code::UnknownGrant,
                    g.span.clone(),
                    format!("unknown grant `{}`", g.v),
                    grant_help(&g.v),
                );
            }
        }
    }
    Some(Val::file(
        GrantList {
            grants: out,
            complete,
        },
        list.span,
    ))
}

const CREDENTIAL_KINDS: &[&str] = &[
    "secret",
    "certificate",
    "assertion",
    "managed_identity",
    "workload_identity",
    "azure_environment",
];
const MANAGED_IDENTITY_KEYS: &[&str] = &["kind", "client_id", "object_id", "resource_id", "source"];
const KIND_ONLY: &[&str] = &["kind"];
const SECRET_KEYS: &[&str] = &["kind", "env", "file"];
const CERT_KEYS: &[&str] = &[
    "kind",
    "private_key_file",
    "private_key_env",
    "certificate_file",
    "certificate_env",
    "thumbprint",
    "passphrase_env",
    "send_x5c",
];

fn credential_kind_help(kind: &str) -> Option<String> {
    let alias = match kind.to_ascii_lowercase().replace('-', "_").as_str() {
        "client_secret" | "password" | "shared_secret" => Some("secret"),
        "cert" | "x509" | "pem" | "client_certificate" | "pfx" => Some("certificate"),
        "client_assertion" | "federated" | "federated_token" | "jwt" => Some("assertion"),
        "msi"
        | "mi"
        | "managed"
        | "managedidentity"
        | "system_assigned"
        | "user_assigned"
        | "managed_identity_credential" => Some("managed_identity"),
        "workload" | "workloadidentity" | "aks" | "kubernetes" | "federated_identity" => {
            Some("workload_identity")
        }
        "environment" | "env" | "azure_env" | "environment_credential" | "default_azure" => {
            Some("azure_environment")
        }
        _ => None,
    };
    alias
        .map(|a| format!("did you mean `{a}`?"))
        .or_else(|| suggest::help(kind, CREDENTIAL_KINDS.iter().copied()))
        .or_else(|| Some(format!("known kinds: {}", CREDENTIAL_KINDS.join(", "))))
}

/// Exactly one of two alternative keys.
fn one_of(
    ctx: &mut Ctx<'_>,
    a: (&str, &Option<Val<String>>),
    b: (&str, &Option<Val<String>>),
    required: Option<(Span, Code, String)>,
) -> Option<Val<String>> {
    match (a.1, b.1) {
        (Some(x), Some(y)) => {
            let (later, key) = if y.span.start > x.span.start {
                (y, b.0)
            } else {
                (x, a.0)
            };
            ctx.error_help(
                Code::InvalidCredentialSource,
                later.span.clone(),
                format!("`{}` and `{}` cannot both be set", a.0, b.0),
                Some(format!("remove `{key}`")),
            );
            None
        }
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => {
            if let Some((span, code, msg)) = required {
                ctx.error(code, span, msg);
            }
            None
        }
    }
}

fn source(ctx: &mut Ctx<'_>, env_key: &str, v: Val<String>, is_env: bool) -> Option<Source> {
    if is_env {
        match values::env_var_name(env_key, &v) {
            Ok(()) => Some(Source::Env(v.v)),
            Err(p) => {
                ctx.report_val(&v, p);
                None
            }
        }
    } else if v.v.trim().is_empty() {
        ctx.error(Code::EmptyValue, v.span, "the file path is empty");
        None
    } else if v.v.starts_with("-----BEGIN") {
        ctx.error_help(
            Code::InlineSecret,
            v.span,
            "this holds PEM data; it must be a file path",
            Some("save the PEM to a file and give its path (relative to msal.toml)".into()),
        );
        None
    } else {
        Some(Source::File(ctx.resolve_path(&v.v)))
    }
}

fn parse_credential(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<CredentialSpec> {
    let table = match v.get_ref() {
        DeValue::Table(t) => t,
        DeValue::String(_) => {
            ctx.error_help(
                Code::InlineSecret,
                v.span(),
                "credential must be a table; a string here would bake the secret into the binary",
                Some("use `credential = { kind = \"secret\", env = \"VAR\" }`".into()),
            );
            return None;
        }
        _ => {
            wrong_type(
                ctx,
                "credential",
                "a table",
                v,
                Some("e.g. `credential = { kind = \"secret\", env = \"VAR\" }`".into()),
            );
            return None;
        }
    };
    let kind_val = match table.get("kind") {
        Some(k) => expect_str(ctx, "credential.kind", k),
        None => {
            ctx.error_help(
                Code::UnknownCredentialKind,
                v.span(),
                "credential has no `kind`",
                Some("add `kind = \"secret\"`, `\"certificate\"` or `\"assertion\"`".into()),
            );
            None
        }
    };
    let kind = match &kind_val {
        Some(k) if CREDENTIAL_KINDS.contains(&k.v.as_str()) => Some(k.v.as_str()),
        Some(k) => {
            ctx.error_help(
                Code::UnknownCredentialKind,
                k.span.clone(),
                format!("unknown credential kind `{}`", k.v),
                credential_kind_help(&k.v),
            );
            None
        }
        None => None,
    };
    let allowed: &[&str] = match kind {
        Some("certificate") => CERT_KEYS,
        Some("managed_identity") => MANAGED_IDENTITY_KEYS,
        Some("workload_identity" | "azure_environment") => KIND_ONLY,
        Some(_) => SECRET_KEYS,
        None => &[],
    };
    let mut strs: BTreeMap<&str, Val<String>> = BTreeMap::new();
    let mut send_x5c: Option<Val<bool>> = None;
    let mut ok = kind.is_some();
    for (key, val) in table.iter() {
        let name = key.get_ref().as_ref();
        if name == "kind" {
            continue;
        }
        if inline_secret_help(name).is_some() {
            let help = match name {
                "passphrase" | "private_key_passphrase" | "key_password" => {
                    "use `passphrase_env = \"VAR\"` and supply the passphrase at run time"
                }
                "password" if kind == Some("certificate") => {
                    "use `passphrase_env = \"VAR\"` and supply the passphrase at run time"
                }
                "private_key" | "private_key_pem" | "key" | "pem" => {
                    "use `private_key_file = \"path\"` or `private_key_env = \"VAR\"`"
                }
                _ => "use `env = \"VAR\"` (or `file = \"path\"`) and supply the value at run time",
            };
            ctx.error_help(
                Code::InlineSecret,
                key.span(),
                format!("`{name}` would put a secret into msal.toml (and into the binary)"),
                Some(help.into()),
            );
            ok = false;
            continue;
        }
        let Some(kind) = kind else { continue };
        if !allowed.contains(&name) {
            let known = SECRET_KEYS.contains(&name)
                || CERT_KEYS.contains(&name)
                || MANAGED_IDENTITY_KEYS.contains(&name);
            if known || allowed.len() == 1 {
                let help = if allowed.len() == 1 {
                    format!(
                        "a `{kind}` credential takes no other key: it reads the AZURE_* variables at run time"
                    )
                } else {
                    format!("a `{kind}` credential takes: {}", allowed[1..].join(", "))
                };
                ctx.error_help(
                    Code::UnknownKey,
                    key.span(),
                    format!("`{name}` is not used by a `{kind}` credential"),
                    Some(help),
                );
            } else {
                unknown_key(ctx, key, &format!("a `{kind}` credential"), &allowed[1..]);
            }
            ok = false;
            continue;
        }
        if name == "send_x5c" {
            send_x5c = expect_bool(ctx, "send_x5c", val);
            ok &= send_x5c.is_some();
        } else if let Some(s) = expect_str(ctx, name, val) {
            strs.insert(name, s);
        } else {
            ok = false;
        }
    }
    let kind = kind?;
    let span = v.span();
    // After a reported key (a typo, an inline secret), "no source" would only repeat it.
    let (clean, at) = (ok, span.clone());
    let required =
        move |msg: String| clean.then(|| (at.clone(), Code::InvalidCredentialSource, msg));
    let mut take = |k: &str| strs.remove(k);
    let spec = match kind {
        "workload_identity" => CredentialSpec::WorkloadIdentity,
        "azure_environment" => CredentialSpec::AzureEnvironment,
        "managed_identity" => {
            let ids: Vec<(&str, Val<String>)> = ["client_id", "object_id", "resource_id"]
                .into_iter()
                .filter_map(|k| take(k).map(|v| (k, v)))
                .collect();
            if ids.len() > 1 {
                let later = ids
                    .iter()
                    .max_by_key(|(_, v)| v.span.start)
                    .map(|(k, v)| (*k, v.span.clone()));
                if let Some((k, at)) = later {
                    ctx.error_help(
                        Code::ConflictingManagedIdentityId,
                        at,
                        format!(
                            "a managed identity is named by one of `client_id`, `object_id`, `resource_id`, not {}",
                            ids.iter().map(|(k, _)| format!("`{k}`")).collect::<Vec<_>>().join(" and ")
                        ),
                        Some(format!("remove `{k}`")),
                    );
                }
                ok = false;
            }
            let id = match ids.into_iter().next() {
                Some((k, v)) => match managed_identity_id(k, &v.v) {
                    Ok(id) => Some(id),
                    Err(p) => {
                        ctx.report_val(&v, p);
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            let source = match take("source") {
                None => None,
                Some(v) => match v.v.parse::<ManagedIdentitySourceKind>() {
                    Ok(src) => Some((src, v)),
                    Err(()) => {
                        let names = ManagedIdentitySourceKind::ALL.map(|k| k.as_str());
                        ctx.error_help(
                            Code::UnknownManagedIdentitySource,
                            v.span.clone(),
                            format!("unknown managed identity source `{}`", v.v),
                            suggest::help(&v.v, names.iter().copied()).or_else(|| {
                                Some(format!(
                                    "known sources: {}; or leave `source` out to detect it at run time",
                                    names.join(", ")
                                ))
                            }),
                        );
                        ok = false;
                        None
                    }
                },
            };
            if let (Some(id), Some((src, at))) = (&id, &source) {
                if !src.supports_user_assigned() {
                    let why = match src {
                        ManagedIdentitySourceKind::ServiceFabric => "Service Fabric binds identities to the application in the cluster manifest and cannot select one per request",
                        _ => "Cloud Shell only has the signed-in user's identity",
                    };
                    ctx.error_help(
                        Code::UserAssignedNotSupported,
                        at.span.clone(),
                        format!(
                            "source `{src}` does not support a user-assigned identity (`{}` is set): {why}",
                            id.key()
                        ),
                        Some(format!(
                            "remove `{}` to use the system-assigned identity, or remove `source` (or pick one of imds, app_service, machine_learning, azure_arc)",
                            id.key()
                        )),
                    );
                    ok = false;
                }
            }
            CredentialSpec::ManagedIdentity {
                id,
                source: source.map(|(s, _)| s),
            }
        }
        "certificate" => {
            let (pkf, pke) = (take("private_key_file"), take("private_key_env"));
            let (cf, ce) = (take("certificate_file"), take("certificate_env"));
            let thumbprint = take("thumbprint");
            let passphrase = take("passphrase_env");
            let key = one_of(
                ctx,
                ("private_key_file", &pkf),
                ("private_key_env", &pke),
                required("a `certificate` credential needs `private_key_file = \"path\"` or `private_key_env = \"VAR\"`".into()),
            );
            let private_key = key.and_then(|k| {
                let is_env = pke.as_ref().is_some_and(|e| e.span == k.span);
                source(ctx, "private_key_env", k, is_env)
            });
            let cert = one_of(
                ctx,
                ("certificate_file", &cf),
                ("certificate_env", &ce),
                None,
            );
            let both_certs = cf.is_some() && ce.is_some();
            let certificate = cert.and_then(|c| {
                let is_env = ce.as_ref().is_some_and(|e| e.span == c.span);
                source(ctx, "certificate_env", c, is_env)
            });
            if cf.is_none() && ce.is_none() && thumbprint.is_none() && ok {
                ctx.error_help(
                    Code::MissingCertificate,
                    span.clone(),
                    "a `certificate` credential needs the certificate or its thumbprint",
                    Some("add `certificate_file = \"path\"` (preferred: enables SHA-256 `x5t#S256`) or `thumbprint = \"<SHA-1 hex>\"`".into()),
                );
                ok = false;
            }
            let thumbprint = thumbprint.and_then(|t| match check_thumbprint(&t.v) {
                Ok(t) => Some(t),
                Err(p) => {
                    ctx.report_val(&t, p);
                    ok = false;
                    None
                }
            });
            let passphrase_env =
                passphrase.and_then(|p| match values::env_var_name("passphrase_env", &p) {
                    Ok(()) => Some(p.v),
                    Err(problem) => {
                        ctx.report_val(&p, problem);
                        ok = false;
                        None
                    }
                });
            let x5c = send_x5c.as_ref().is_some_and(|x| x.v);
            if x5c && cf.is_none() && ce.is_none() {
                let at = send_x5c.as_ref().map_or(span.clone(), |x| x.span.clone());
                ctx.error_help(
                    Code::X5cWithoutCertificate,
                    at,
                    "send_x5c = true needs the certificate chain to send",
                    Some("add `certificate_file = \"path\"` or `certificate_env = \"VAR\"`".into()),
                );
                ok = false;
            }
            if both_certs {
                ok = false;
            }
            CredentialSpec::Certificate {
                private_key: private_key?,
                certificate,
                thumbprint,
                passphrase_env,
                send_x5c: x5c,
            }
        }
        _ => {
            let (env, file) = (take("env"), take("file"));
            let src = one_of(
                ctx,
                ("env", &env),
                ("file", &file),
                required(format!(
                    "a `{kind}` credential needs `env = \"VAR\"` or `file = \"path\"`"
                )),
            )?;
            let is_env = env.as_ref().is_some_and(|e| e.span == src.span);
            let src = source(ctx, "env", src, is_env)?;
            if kind == "secret" {
                CredentialSpec::Secret(src)
            } else {
                CredentialSpec::Assertion(src)
            }
        }
    };
    ok.then_some(spec)
}

/// Checks the shape of a user-assigned managed identity id.
fn managed_identity_id(key: &str, v: &str) -> Result<ManagedIdentityId, Problem> {
    let looks_like_resource = v
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("/subscriptions/");
    match key {
        "client_id" | "object_id" => {
            if checks::is_guid(v) {
                return Ok(if key == "client_id" {
                    ManagedIdentityId::ClientId(v.to_string())
                } else {
                    ManagedIdentityId::ObjectId(v.to_string())
                });
            }
            let help = if looks_like_resource {
                "this is an Azure resource id: use `resource_id = \"...\"` instead".to_string()
            } else {
                format!("the identity's {} is a GUID such as `6f1c2d3e-0000-4000-8000-000000000002` (Azure portal: the managed identity's Overview)", key.replace('_', " "))
            };
            Err(Problem::new(
                Code::InvalidManagedIdentityId,
                format!("managed identity `{key}` must be a GUID"),
            )
            .help(help))
        }
        _ => {
            if is_user_assigned_resource_id(v) {
                return Ok(ManagedIdentityId::ResourceId(v.to_string()));
            }
            let help = if checks::is_guid(v) {
                "this is a GUID: use `client_id = \"...\"` (or `object_id`) instead"
            } else {
                "the form is `/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`"
            };
            Err(Problem::new(
                Code::InvalidManagedIdentityId,
                "managed identity `resource_id` must be the Azure resource id of a user-assigned identity",
            )
            .help(help))
        }
    }
}

/// `/subscriptions/{guid}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`
/// (segment names case-insensitive, as Azure Resource Manager treats them).
fn is_user_assigned_resource_id(v: &str) -> bool {
    let seg: Vec<&str> = v.split('/').collect();
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
    };
    seg.len() == 9
        && seg[0].is_empty()
        && seg[1].eq_ignore_ascii_case("subscriptions")
        && checks::is_guid(seg[2])
        && seg[3].eq_ignore_ascii_case("resourceGroups")
        && name_ok(seg[4])
        && seg[5].eq_ignore_ascii_case("providers")
        && seg[6].eq_ignore_ascii_case("Microsoft.ManagedIdentity")
        && seg[7].eq_ignore_ascii_case("userAssignedIdentities")
        && name_ok(seg[8])
}

fn check_thumbprint(t: &str) -> Result<String, Problem> {
    let clean: String = t
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let hex = clean.chars().all(|c| c.is_ascii_hexdigit());
    match (hex, clean.len()) {
        (true, 40) if clean == t => Ok(clean.to_ascii_lowercase()),
        (true, 40) => Err(Problem::new(
            Code::InvalidThumbprint,
            "thumbprint must be 40 hex digits without separators",
        )
        .help(format!("use `{}`", clean.to_ascii_lowercase()))),
        (true, 64) => Err(Problem::new(
            Code::InvalidThumbprint,
            "thumbprint looks like a SHA-256 digest; it must be the SHA-1 thumbprint (40 hex digits)",
        )
        .help("or give `certificate_file`, from which both digests are computed")),
        _ => Err(Problem::new(
            Code::InvalidThumbprint,
            format!("thumbprint `{t}` is not a SHA-1 thumbprint (40 hex digits)"),
        )),
    }
}

const CACHE_KINDS: &[&str] = &["memory", "file", "redis"];

fn parse_cache(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<CacheSpec> {
    let table = match v.get_ref() {
        DeValue::Table(t) => t,
        DeValue::String(s) => {
            let help = if CACHE_KINDS.contains(&s.as_ref()) {
                format!("write `token_cache = {{ kind = \"{s}\" }}`")
            } else {
                "e.g. `token_cache = { kind = \"memory\" }`".into()
            };
            wrong_type(ctx, "token_cache", "a table", v, Some(help));
            return None;
        }
        _ => {
            wrong_type(ctx, "token_cache", "a table", v, None);
            return None;
        }
    };
    let kind = match table.get("kind") {
        Some(k) => expect_str(ctx, "token_cache.kind", k),
        None => {
            ctx.error_help(
                Code::UnknownCacheKind,
                v.span(),
                "token_cache has no `kind`",
                Some("add `kind = \"memory\"`, `\"file\"` or `\"redis\"`".into()),
            );
            return None;
        }
    }?;
    if !CACHE_KINDS.contains(&kind.v.as_str()) {
        let alias = match kind.v.as_str() {
            "in_memory" | "mem" | "inmemory" => Some("memory"),
            "disk" | "json" | "filesystem" | "fs" => Some("file"),
            _ => None,
        };
        ctx.error_help(
            Code::UnknownCacheKind,
            kind.span.clone(),
            format!("unknown token_cache kind `{}`", kind.v),
            alias
                .map(|a| format!("did you mean `{a}`?"))
                .or_else(|| suggest::help(&kind.v, CACHE_KINDS.iter().copied()))
                .or_else(|| Some("known kinds: memory, file, redis".into())),
        );
        return None;
    }
    let allowed: &[&str] = match kind.v.as_str() {
        "memory" => &["kind"],
        "file" => &["kind", "path"],
        _ => &["kind", "url", "url_env", "key_prefix"],
    };
    let mut ok = true;
    let mut strs: BTreeMap<&str, Val<String>> = BTreeMap::new();
    for (key, val) in table.iter() {
        let name = key.get_ref().as_ref();
        if name == "kind" {
            continue;
        }
        if !allowed.contains(&name) {
            let where_ = format!("a `{}` token_cache", kind.v);
            if allowed.len() == 1 {
                ctx.error(
                    Code::UnknownKey,
                    key.span(),
                    format!("unknown key `{name}` in {where_} (it takes no settings)"),
                );
            } else {
                unknown_key(ctx, key, &where_, &allowed[1..]);
            }
            ok = false;
        } else if let Some(s) = expect_str(ctx, &format!("token_cache.{name}"), val) {
            strs.insert(name, s);
        } else {
            ok = false;
        }
    }
    let spec = match kind.v.as_str() {
        "memory" => CacheSpec::Memory,
        "file" => match strs.remove("path") {
            Some(p) if !p.v.trim().is_empty() => CacheSpec::File {
                path: Layer::path(ctx, &p),
            },
            other => {
                let at = other.map_or(v.span(), |p| p.span);
                ctx.error_help(
                    Code::EmptyCachePath,
                    at,
                    "a `file` token_cache needs a non-empty `path`",
                    Some("e.g. `token_cache = { kind = \"file\", path = \"/var/cache/app/msal.json\" }`".into()),
                );
                return None;
            }
        },
        _ => {
            let (url, url_env) = (strs.remove("url"), strs.remove("url_env"));
            let key_prefix = strs
                .remove("key_prefix")
                .map_or_else(|| "msal:".to_string(), |p| p.v);
            let url = match (url, url_env) {
                (Some(u), Some(e)) => {
                    let later = if e.span.start > u.span.start {
                        e.span
                    } else {
                        u.span
                    };
                    ctx.error_help(
                        Code::InvalidCacheSource,
                        later,
                        "`url` and `url_env` cannot both be set",
                        Some("keep `url_env` if the URL carries a password".into()),
                    );
                    return None;
                }
                (None, None) => {
                    ctx.error_help(
                        Code::InvalidCacheSource,
                        v.span(),
                        "a `redis` token_cache needs `url` or `url_env`",
                        Some("e.g. `url_env = \"REDIS_URL\"`".into()),
                    );
                    return None;
                }
                (None, Some(e)) => match values::env_var_name("url_env", &e) {
                    Ok(()) => RedisUrl::Env(e.v),
                    Err(p) => {
                        ctx.report_val(&e, p);
                        return None;
                    }
                },
                (Some(u), None) => match check_redis_url(&u.v) {
                    Ok(()) => RedisUrl::Literal(u.v),
                    Err(p) => {
                        ctx.report_val(&u, p);
                        return None;
                    }
                },
            };
            CacheSpec::Redis { url, key_prefix }
        }
    };
    ok.then_some(spec)
}

fn check_redis_url(s: &str) -> Result<(), Problem> {
    let u = values::absolute_url(s).map_err(|why| {
        Problem::new(
            Code::InvalidRedisUrl,
            format!("redis url is not valid: {why}"),
        )
        .help("e.g. `redis://127.0.0.1:6379/0` or `rediss://cache.example.com:6380`")
    })?;
    if u.scheme() != "redis" && u.scheme() != "rediss" {
        return Err(Problem::new(
            Code::InvalidRedisUrl,
            format!(
                "redis url scheme `{}` must be `redis` or `rediss`",
                u.scheme()
            ),
        )
        .help("e.g. `redis://127.0.0.1:6379/0` or `rediss://cache.example.com:6380`"));
    }
    if u.password().is_some() {
        return Err(Problem::new(
            Code::InlineSecret,
            "redis url contains a password; it would be baked into the binary",
        )
        .help("use `url_env = \"REDIS_URL\"` and supply the URL at run time"));
    }
    Ok(())
}

fn parse_scopes(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<Val<BTreeMap<String, RawScopeSet>>> {
    let table = match v.get_ref() {
        DeValue::Table(t) => t,
        DeValue::Array(_) => {
            wrong_type(
                ctx,
                "scopes",
                "a table of named scope sets",
                v,
                Some(
                    "name the set: `scopes.graph = [\"https://graph.microsoft.com/.default\"]`"
                        .into(),
                ),
            );
            return None;
        }
        _ => {
            wrong_type(ctx, "scopes", "a table of named scope sets", v, None);
            return None;
        }
    };
    if table.is_empty() {
        ctx.error_help(
            Code::NoScopeSets,
            v.span(),
            "scopes declares no scope set",
            Some("e.g. `scopes.graph = [\"https://graph.microsoft.com/.default\"]`".into()),
        );
    }
    let mut sets = BTreeMap::new();
    for (key, val) in table.iter() {
        let name = key.get_ref().as_ref();
        if !checks::is_snake_ident(name) {
            let snake = checks::to_snake(name);
            ctx.error_help(
                Code::InvalidScopeSetName,
                key.span(),
                format!("scope set name `{name}` must be a snake_case Rust identifier (it becomes a method)"),
                (checks::is_snake_ident(&snake)).then(|| format!("rename it to `{snake}`")),
            );
        }
        let Some(list) = expect_str_list(ctx, &format!("scope set `{name}`"), val) else {
            continue;
        };
        let name_ok = checks::is_snake_ident(name);
        if let Some(set) = check_scope_set(ctx, name, key.span(), list, name_ok) {
            sets.insert(name.to_string(), set);
        }
    }
    Some(Val::file(sets, v.span()))
}

fn check_scope_set(
    ctx: &mut Ctx<'_>,
    name: &str,
    name_span: Span,
    list: Val<Vec<Val<String>>>,
    name_ok: bool,
) -> Option<RawScopeSet> {
    let before = ctx.diags.len();
    if list.v.is_empty() {
        ctx.error_help(
            Code::EmptyScopeSet,
            list.span.clone(),
            format!("scope set `{name}` is empty"),
            Some("add at least one scope, or remove the set".into()),
        );
        return None;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut resources: Vec<(String, Span)> = Vec::new();
    let n = list.v.len();
    for s in &list.v {
        let scope = s.v.as_str();
        if scope.trim().is_empty() {
            ctx.error(
                Code::InvalidScope,
                s.span.clone(),
                format!("scope set `{name}` contains a blank scope"),
            );
            continue;
        }
        if scope.chars().any(char::is_whitespace) {
            let parts: Vec<&str> = scope.split_whitespace().collect();
            let help = (parts.len() > 1).then(|| {
                format!(
                    "write each scope as its own string: [{}]",
                    parts
                        .iter()
                        .map(|p| format!("\"{p}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            ctx.error_help(
                Code::InvalidScope,
                s.span.clone(),
                format!("scope `{}` contains whitespace", scope.escape_debug()),
                help.or_else(|| Some("remove the whitespace".into())),
            );
            continue;
        }
        let lower = scope.to_ascii_lowercase();
        if checks::RESERVED_SCOPES.contains(&lower.as_str()) {
            ctx.error_help(
                Code::ReservedScope,
                s.span.clone(),
                format!("`{scope}` is a reserved scope; MSAL adds `openid`, `profile` and `offline_access` itself"),
                Some("remove it (to stop getting refresh tokens, use `exclude_scopes = [\"offline_access\"]`)".into()),
            );
            continue;
        }
        if seen.contains(&lower) {
            ctx.error_help(
                Code::DuplicateScope,
                s.span.clone(),
                format!("scope `{scope}` appears twice in set `{name}`"),
                Some("remove the duplicate".into()),
            );
            continue;
        }
        seen.push(lower);
        if checks::is_default_scope(scope) && n > 1 {
            ctx.error_help(
                Code::DefaultScopeNotAlone,
                s.span.clone(),
                format!("`{scope}` must be the only scope of its set (set `{name}` has {n})"),
                Some("`.default` already requests every permission granted to the app; move the other scopes to their own set".into()),
            );
        }
        if let Some(r) = checks::scope_resource(scope) {
            resources.push((r, s.span.clone()));
        }
    }
    if let Some((first, _)) = resources.first() {
        if let Some((other, span)) = resources.iter().find(|(r, _)| r != first) {
            ctx.error_help(
                Code::MixedResources,
                span.clone(),
                format!("scope set `{name}` mixes resources `{first}` and `{other}`; a token is issued for one resource"),
                Some("split it into one set per resource".into()),
            );
        }
    }
    let scopes: Vec<String> = list.v.iter().map(|s| s.v.clone()).collect();
    Some(RawScopeSet {
        valid: name_ok && ctx.diags.len() == before,
        name_span,
        span: list.span,
        is_default: scopes.len() == 1 && checks::is_default_scope(&scopes[0]),
        resource: resources.first().map(|(r, _)| r.clone()),
        scopes,
    })
}
