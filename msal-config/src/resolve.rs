//! Walks the document, merges the layers of each app and applies the rules that
//! involve several keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::authority::{Authority, AuthorityKind, WELL_KNOWN_HOSTS};
use crate::checks;
use crate::ctx::{Ctx, Problem, Span, Val};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, SourceSpan};
use crate::env;
use crate::layer::{self, Layer, LayerKind, RawScopeSet, APP_KEYS};
use crate::model::{AppConfig, CacheSpec, CredentialSpec, Grant, ScopeSet};
use crate::suggest;
use crate::values;
use crate::Config;

const TOP_KEYS: &[&str] = &["defaults", "apps", "profiles"];
const PROFILE_KEYS: &[&str] = &["defaults", "apps"];

/// `[apps.NAME]` as written.
pub(crate) struct AppEntry {
    pub layer: Layer,
    pub span: Span,
    pub name_span: Span,
}

/// `[profiles.NAME]` as written.
#[derive(Default)]
pub(crate) struct ProfileEntry {
    pub defaults: Option<Layer>,
    pub apps: BTreeMap<String, Layer>,
}

/// The whole file, per table.
#[derive(Default)]
pub(crate) struct FileModel {
    pub defaults: Option<Layer>,
    pub apps: BTreeMap<String, AppEntry>,
    pub profiles: BTreeMap<String, ProfileEntry>,
    pub apps_span: Span,
    pub profiles_span: Option<Span>,
}

/// The span that best designates a table: its `[header]` if it has one, else its key.
fn table_span(source: &str, key: Span, value: Span) -> Span {
    if source
        .get(value.clone())
        .is_some_and(|s| s.starts_with('['))
    {
        value
    } else {
        key
    }
}

fn as_table<'a, 'i>(
    ctx: &mut Ctx<'_>,
    what: &str,
    v: &'a layer::Value<'i>,
) -> Option<&'a DeTable<'i>> {
    match v.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => {
            layer::wrong_type(ctx, what, "a table", v, None);
            None
        }
    }
}

/// Walks the document: every table is checked exactly once.
pub(crate) fn walk(ctx: &mut Ctx<'_>, doc: &DeTable<'_>) -> FileModel {
    let mut file = FileModel::default();
    let mut profiles_value = None;
    for (key, v) in doc.iter() {
        let name = key.get_ref().as_ref();
        match name {
            "defaults" => {
                if let Some(t) = as_table(ctx, "defaults", v) {
                    file.defaults = Some(Layer::parse(ctx, t, LayerKind::Defaults, "[defaults]"));
                }
            }
            "apps" => {
                file.apps_span = key.span();
                let Some(t) = as_table(ctx, "apps", v) else {
                    continue;
                };
                for (app_key, app_v) in t.iter() {
                    let app = app_key.get_ref().as_ref();
                    check_app_name(ctx, app, app_key.span());
                    let Some(at) = as_table(ctx, &format!("app `{app}`"), app_v) else {
                        continue;
                    };
                    let layer = Layer::parse(ctx, at, LayerKind::App, &format!("[apps.{app}]"));
                    file.apps.insert(
                        app.to_string(),
                        AppEntry {
                            layer,
                            span: table_span(ctx.source, app_key.span(), app_v.span()),
                            name_span: app_key.span(),
                        },
                    );
                }
            }
            "profiles" => {
                file.profiles_span = Some(key.span());
                profiles_value = Some(v);
            }
            _ if APP_KEYS.contains(&name) => ctx.error_help(
                Code::UnknownKey,
                key.span(),
                format!("unknown top-level key `{name}`"),
                Some(format!(
                    "app settings belong in [defaults] or [apps.NAME]; move `{name}` there"
                )),
            ),
            _ => layer::unknown_key(ctx, key, "the top level", TOP_KEYS),
        }
    }
    if file.apps.is_empty() {
        ctx.error_help(
            Code::NoApps,
            file.apps_span.clone(),
            "msal.toml declares no app",
            Some("add a table such as `[apps.orders_daemon]` with client_id, authority, credential, grants and scopes".into()),
        );
    }
    if let Some(v) = profiles_value {
        walk_profiles(ctx, &mut file, v);
    }
    file
}

fn check_app_name(ctx: &mut Ctx<'_>, app: &str, span: Span) {
    if !checks::is_snake_ident(app) {
        let snake = checks::to_snake(app);
        ctx.error_help(
            Code::InvalidAppName,
            span,
            format!("app name `{app}` must be a snake_case identifier"),
            Some(if checks::is_snake_ident(&snake) {
                format!(
                    "rename it to `{snake}` (the struct `#[msal_app]` is applied to maps to it)"
                )
            } else {
                "use lower-case letters, digits and `_`".into()
            }),
        );
    }
}

fn walk_profiles(ctx: &mut Ctx<'_>, file: &mut FileModel, v: &layer::Value<'_>) {
    let Some(t) = as_table(ctx, "profiles", v) else {
        return;
    };
    for (pkey, pv) in t.iter() {
        let pname = pkey.get_ref().as_ref();
        let valid_name = !pname.is_empty()
            && pname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            ctx.error_help(
                Code::InvalidProfileName,
                pkey.span(),
                format!("profile name `{pname}` must use only letters, digits, `_` and `-`"),
                Some("it is selected with MSAL_PROFILE=<name>".into()),
            );
        }
        let Some(pt) = as_table(ctx, &format!("profile `{pname}`"), pv) else {
            continue;
        };
        let mut entry = ProfileEntry::default();
        for (k, kv) in pt.iter() {
            match k.get_ref().as_ref() {
                "defaults" => {
                    if let Some(dt) = as_table(ctx, "defaults", kv) {
                        let label = format!("[profiles.{pname}.defaults]");
                        entry.defaults =
                            Some(Layer::parse(ctx, dt, LayerKind::ProfileDefaults, &label));
                    }
                }
                "apps" => {
                    let Some(at) = as_table(ctx, "apps", kv) else {
                        continue;
                    };
                    for (app_key, app_v) in at.iter() {
                        let app = app_key.get_ref().as_ref();
                        if !file.apps.contains_key(app) {
                            ctx.error_help(
                                Code::UnknownApp,
                                app_key.span(),
                                format!("profile `{pname}` overrides app `{app}`, which is not declared in [apps]"),
                                suggest::help(app, file.apps.keys().map(String::as_str))
                                    .or_else(|| Some("profiles can only change apps declared in [apps]".into())),
                            );
                        }
                        let Some(t) = as_table(ctx, &format!("app `{app}`"), app_v) else {
                            continue;
                        };
                        let label = format!("[profiles.{pname}.apps.{app}]");
                        let l = Layer::parse(ctx, t, LayerKind::ProfileApp, &label);
                        entry.apps.insert(app.to_string(), l);
                    }
                }
                _ => layer::unknown_key(ctx, k, &format!("[profiles.{pname}]"), PROFILE_KEYS),
            }
        }
        file.profiles.insert(pname.to_string(), entry);
    }
}

/// The layers of one app, lowest precedence first:
/// `[defaults]` < `[apps.X]` < profile defaults < profile app < environment.
struct Stack<'a> {
    layers: Vec<&'a Layer>,
}

impl<'a> Stack<'a> {
    fn last<T>(&self, f: impl Fn(&'a Layer) -> Option<&'a T>) -> Option<&'a T> {
        self.layers.iter().rev().find_map(|l| f(l))
    }
}

fn span_of(ctx: &Ctx<'_>, range: &Span) -> SourceSpan {
    ctx.source_span(range.clone())
}

/// Merges the layers of one app and applies the cross-key rules.
fn finish_app(
    ctx: &mut Ctx<'_>,
    name: &str,
    entry: &AppEntry,
    stack: Stack<'_>,
    profile_app: Option<&Layer>,
) -> Option<AppConfig> {
    let app_span = entry.span.clone();

    // The credential decides which keys the app needs: a managed identity has no client
    // id, no authority and only app tokens; `workload_identity` / `azure_environment` may
    // take client id and authority from the AZURE_* variables at run time.
    let credential = match stack.last(|l| l.credential.as_ref()) {
        None => {
            ctx.error_help(
                Code::MissingCredential,
                app_span.clone(),
                format!(
                    "app `{name}` has no credential; a confidential client must prove its identity"
                ),
                Some("add e.g. `credential = { kind = \"secret\", env = \"VAR\" }` (or `{ kind = \"managed_identity\" }` on Azure)".into()),
            );
            None
        }
        Some(c) => c.v.clone(),
    };
    // `None` while the credential is invalid (reported): the rules that depend on it stay quiet.
    let managed = credential.as_ref().map(CredentialSpec::is_managed_identity);
    let from_azure_env = credential
        .as_ref()
        .is_some_and(CredentialSpec::reads_azure_environment);
    let secretless = managed == Some(true) || from_azure_env;
    let credential_known = credential.is_some() || stack.last(|l| l.credential.as_ref()).is_none();
    // The app's own setting of a key (not one inherited from [defaults]).
    let own = |f: &dyn Fn(&Layer) -> bool| {
        stack
            .layers
            .iter()
            .rev()
            .filter(|l| !l.from_defaults)
            .find(|l| f(l))
            .copied()
    };

    let client_id = match stack.last(|l| l.client_id.as_ref()) {
        Some(v) if managed == Some(true) => {
            ctx.report_val(
                v,
                Problem::new(
                    Code::NotForManagedIdentity,
                    "a managed identity app has no client_id: the identity is the Azure resource's",
                )
                .help(format!(
                    "for a user-assigned identity, name it in the credential: `credential = {{ kind = \"managed_identity\", client_id = \"{}\" }}`",
                    v.v
                )),
            );
            None
        }
        None if secretless || !credential_known => None,
        None => {
            ctx.error_help(
                Code::MissingClientId,
                app_span.clone(),
                format!("app `{name}` has no client_id"),
                Some("add `client_id = \"<application (client) id GUID>\"`".into()),
            );
            None
        }
        Some(v) => values::client_id(v).ok(),
    };
    // Absent on purpose (a managed identity; AZURE_CLIENT_ID at run time), or valid.
    let client_id_ok = client_id.is_some()
        || managed == Some(true)
        || (from_azure_env && stack.last(|l| l.client_id.as_ref()).is_none());

    let (grant_vals, grants_complete): (Vec<Val<Grant>>, bool) = match &entry.layer.grants {
        Some(g) => (g.v.grants.clone(), g.v.complete),
        // Secretless kinds get app tokens unless told otherwise.
        None if secretless => (Vec::new(), true),
        // After a reported credential, "no grants" may only be its consequence.
        None if !credential_known => (Vec::new(), false),
        None => {
            ctx.error_help(
                Code::MissingGrants,
                app_span.clone(),
                format!("app `{name}` has no grants"),
                Some("add e.g. `grants = [\"client_credentials\"]`".into()),
            );
            (Vec::new(), false)
        }
    };
    let mut grants: BTreeSet<Grant> = grant_vals.iter().map(|g| g.v).collect();
    if entry.layer.grants.is_none() && secretless {
        grants.insert(Grant::ClientCredentials);
    }
    let grant_span = |g: Grant| grant_vals.iter().find(|v| v.v == g).map(|v| v.span.clone());
    let mut grants_ok = true;
    if managed == Some(true) {
        for g in &grant_vals {
            if g.v != Grant::ClientCredentials {
                ctx.report_val(
                    g,
                    Problem::new(
                        Code::GrantNotAllowedForCredential,
                        format!(
                            "a managed identity cannot use `{}`: it only gets app tokens for a resource",
                            g.v
                        ),
                    )
                    .help("use `grants = [\"client_credentials\"]` (or leave `grants` out); user sign-in and on-behalf-of need an app registration with a secret, certificate or federated credential"),
                );
                grants_ok = false;
            }
        }
    }
    // Rules that depend on the grants only run when every grant was understood.
    let checked_grants = grants_complete.then_some(&grants);

    let validate_authority = stack
        .last(|l| l.validate_authority.as_ref())
        .is_none_or(|v| v.v);
    let instance_discovery = stack
        .last(|l| l.instance_discovery.as_ref())
        .is_none_or(|v| v.v);

    let authority_ok;
    let authority = if managed == Some(true) {
        // Inherited from [defaults] (shared with other apps): ignored. Set on the app: an error.
        let mut ok = true;
        if let Some(l) = own(&|l: &Layer| l.authority.is_some() || l.oidc_authority.is_some()) {
            let (key, v) = match (&l.authority, &l.oidc_authority) {
                (Some(a), _) => ("authority", a),
                (None, Some(o)) => ("oidc_authority", o),
                (None, None) => unreachable!("the layer was selected for one of them"),
            };
            ctx.report_val(
                v,
                Problem::new(
                    Code::NotForManagedIdentity,
                    format!("a managed identity app has no `{key}`: its tokens come from the Azure host's identity endpoint"),
                )
                .help(format!("remove `{key}` (the identity's tenant is the one of its Azure subscription)")),
            );
            ok = false;
        }
        if let Some(v) =
            own(&|l: &Layer| l.azure_region.is_some()).and_then(|l| l.azure_region.as_ref())
        {
            ctx.report_val(
                v,
                Problem::new(
                    Code::NotForManagedIdentity,
                    "a managed identity app has no `azure_region`: its identity endpoint is local to the host",
                )
                .help("remove `azure_region`"),
            );
            ok = false;
        }
        authority_ok = ok;
        None
    } else {
        let slot = stack
            .layers
            .iter()
            .rev()
            .find(|l| l.authority.is_some() || l.oidc_authority.is_some());
        match slot {
            None if from_azure_env || !credential_known => {
                authority_ok = from_azure_env;
                None
            }
            None => {
                ctx.error_help(
                    Code::MissingAuthority,
                    app_span.clone(),
                    format!("app `{name}` has no authority"),
                    Some("add `authority = \"https://login.microsoftonline.com/<tenant>\"` here or in [defaults] (or `oidc_authority` for another OpenID Connect issuer)".into()),
                );
                authority_ok = false;
                None
            }
            Some(l) => {
                let a = match (&l.authority, &l.oidc_authority) {
                    (Some(a), _) => check_authority(
                        ctx,
                        a,
                        checked_grants,
                        validate_authority,
                        instance_discovery,
                    ),
                    (None, Some(o)) => values::oidc_authority(o).ok(),
                    (None, None) => None,
                };
                authority_ok = a.is_some();
                a
            }
        }
    };

    if grants_complete
        && grants.contains(&Grant::RefreshToken)
        && !grants.contains(&Grant::AuthorizationCode)
        && !grants.contains(&Grant::OnBehalfOf)
    {
        ctx.error_help(
            Code::RefreshTokenWithoutSource,
            grant_span(Grant::RefreshToken).unwrap_or(app_span.clone()),
            "refresh_token needs a grant that yields refresh tokens",
            Some("add `authorization_code` or `on_behalf_of` (client credentials never return refresh tokens)".into()),
        );
    }

    let redirect = stack.last(|l| l.redirect_uri.as_ref());
    let redirect_uri = match (grants.contains(&Grant::AuthorizationCode), redirect) {
        (false, _) if !grants_complete => None,
        (true, None) => {
            ctx.error_help(
                Code::MissingRedirectUri,
                grant_span(Grant::AuthorizationCode).unwrap_or(app_span.clone()),
                format!("authorization_code needs a redirect_uri in [apps.{name}]"),
                Some("add e.g. `redirect_uri = \"https://app.example.com/auth/callback\"`".into()),
            );
            None
        }
        (true, Some(r)) => values::redirect_uri(r).ok().map(|()| r.v.clone()),
        (false, Some(r)) => {
            ctx.report_val(
                r,
                Problem::new(
                    Code::UnusedRedirectUri,
                    "redirect_uri is unused: the app has no authorization_code grant",
                )
                .help("remove it, or add \"authorization_code\" to grants"),
            );
            None
        }
        (false, None) => None,
    };

    let accepts = match stack.last(|l| l.accepts.as_ref()) {
        None => Some(None),
        Some(v) if managed == Some(true) => {
            ctx.report_val(
                v,
                Problem::new(
                    Code::AcceptsWithoutClientId,
                    "a managed identity app cannot accept tokens: it has no app registration for callers to ask tokens for",
                )
                .help("declare `accepts` on the web API's own app (one with a client_id)"),
            );
            None
        }
        Some(v) => match &v.v {
            Some(raw) if raw.valid => Some(Some(raw.accepts.clone())),
            _ => None,
        },
    };

    let scopes = merge_scopes(
        ctx,
        name,
        entry,
        profile_app,
        checked_grants,
        managed == Some(true),
    );

    let azure_region = stack
        .last(|l| l.azure_region.as_ref())
        .and_then(|v| values::region(v).ok());
    let list = |v: Option<&Val<Vec<Val<String>>>>| {
        v.map(|l| l.v.iter().map(|s| s.v.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let string = |v: Option<&Val<String>>| v.map(|v| v.v.clone());
    let token_cache = match stack.last(|l| l.token_cache.as_ref()) {
        None => Some(CacheSpec::Memory),
        Some(v) => v.v.clone(),
    };
    let timeout_secs = stack
        .last(|l| l.timeout_secs.as_ref())
        .and_then(|v| values::timeout(v).ok());

    Some(AppConfig {
        name: name.to_string(),
        client_id: client_id_ok.then_some(client_id)?,
        authority: authority_ok.then_some(authority)?,
        credential: credential?,
        grants: grants_ok.then_some(grants)?,
        redirect_uri,
        scopes: scopes?,
        accepts: accepts?,
        azure_region,
        imds_endpoint: string(stack.last(|l| l.imds_endpoint.as_ref())),
        instance_discovery,
        validate_authority,
        timeout_secs,
        ca_bundle: stack
            .last(|l| l.ca_bundle.as_ref())
            .map(|v| ctx.resolve_path(&v.v)),
        proxy: string(stack.last(|l| l.proxy.as_ref())),
        app_name: string(stack.last(|l| l.app_name.as_ref())),
        app_version: string(stack.last(|l| l.app_version.as_ref())),
        client_capabilities: list(stack.last(|l| l.client_capabilities.as_ref())),
        exclude_scopes: list(stack.last(|l| l.exclude_scopes.as_ref())),
        token_cache: token_cache?,
        span: span_of(ctx, &app_span),
        name_span: span_of(ctx, &entry.name_span),
    })
}

fn check_authority(
    ctx: &mut Ctx<'_>,
    a: &Val<String>,
    grants: Option<&BTreeSet<Grant>>,
    validate_authority: bool,
    instance_discovery: bool,
) -> Option<Authority> {
    let parsed = values::authority(a).ok()?;
    let mut ok = true;
    if !parsed.is_trusted_host() && validate_authority && instance_discovery {
        let help = suggest::help(parsed.host(), WELL_KNOWN_HOSTS.iter().copied()).unwrap_or_else(|| {
            "if this is your own Entra-compatible authority, set `validate_authority = false` (or `instance_discovery = false`); for another OpenID Connect issuer use `oidc_authority`".into()
        });
        ctx.report_val(
            a,
            Problem::new(
                Code::UnknownAuthorityHost,
                format!(
                    "authority host `{}` is not a known Microsoft cloud",
                    parsed.host()
                ),
            )
            .help(help),
        );
        ok = false;
    }
    if parsed.kind() == AuthorityKind::Aad && parsed.is_multi_tenant() {
        let bad: Vec<&str> = [Grant::ClientCredentials, Grant::OnBehalfOf]
            .into_iter()
            .filter(|g| grants.is_some_and(|gs| gs.contains(g)))
            .map(Grant::as_str)
            .collect();
        if !bad.is_empty() {
            ctx.report_val(
                a,
                Problem::new(
                    Code::TenantNotAllowed,
                    format!(
                        "tenant `{}` cannot be used with {}: it does not name one directory",
                        parsed.tenant(),
                        bad.join(" and ")
                    ),
                )
                .help("use the tenant GUID or a verified domain, e.g. `https://login.microsoftonline.com/contoso.onmicrosoft.com`"),
            );
            ok = false;
        }
    }
    ok.then_some(parsed)
}

fn merge_scopes(
    ctx: &mut Ctx<'_>,
    name: &str,
    entry: &AppEntry,
    profile_app: Option<&Layer>,
    grants: Option<&BTreeSet<Grant>>,
    managed_identity: bool,
) -> Option<BTreeMap<String, ScopeSet>> {
    let Some(base) = &entry.layer.scopes else {
        ctx.error_help(
            Code::NoScopeSets,
            entry.span.clone(),
            format!("app `{name}` declares no scope set"),
            Some("add e.g. `scopes.graph = [\"https://graph.microsoft.com/.default\"]`".into()),
        );
        return None;
    };
    let mut sets: BTreeMap<String, RawScopeSet> = base.v.clone();
    if let Some(overlay) = profile_app.and_then(|p| p.scopes.as_ref()) {
        for (set_name, set) in &overlay.v {
            match base.v.get(set_name) {
                None => ctx.error_help(
                    Code::ProfileScopeSetMismatch,
                    set.name_span.clone(),
                    format!("a profile cannot add scope set `{set_name}`: [apps.{name}] does not declare it"),
                    suggest::help(set_name, base.v.keys().map(String::as_str))
                        .or_else(|| Some("declare the set in [apps.NAME]; profiles may only change its scopes".into())),
                ),
                Some(b) if b.valid && set.valid && b.is_default != set.is_default => ctx.error_help(
                    Code::ProfileScopeSetMismatch,
                    set.span.clone(),
                    format!(
                        "scope set `{set_name}` is {} in [apps.{name}] but not in this profile",
                        if b.is_default { "a `.default` set" } else { "a delegated (non-`.default`) set" }
                    ),
                    Some("a profile must keep whether a set is a `.default` set (it decides the generated methods)".into()),
                ),
                Some(_) => {
                    sets.insert(set_name.clone(), set.clone());
                }
            }
        }
    }
    let client_only = grants.is_some_and(|g| g.len() == 1 && g.contains(&Grant::ClientCredentials));
    if client_only {
        for (set_name, set) in &sets {
            if set.valid && !set.is_default {
                let resource = set
                    .resource
                    .clone()
                    .unwrap_or_else(|| "https://graph.microsoft.com".into());
                let why = if managed_identity {
                    "a managed identity gets a token for a resource, with the permissions granted to the identity"
                } else {
                    "client_credentials tokens carry the app's granted permissions"
                };
                ctx.error_help(
                    Code::NonDefaultScopeForClientCredentials,
                    set.span.clone(),
                    format!("scope set `{set_name}` must be a `.default` set: {why}"),
                    Some(format!("use `[\"{resource}/.default\"]`")),
                );
            }
        }
    }
    if sets.is_empty() {
        return None;
    }
    Some(
        sets.into_iter()
            .map(|(n, s)| {
                let set = ScopeSet {
                    scopes: s.scopes,
                    is_default: s.is_default,
                    resource: s.resource,
                    span: span_of(ctx, &s.span),
                    name_span: span_of(ctx, &s.name_span),
                };
                (n, set)
            })
            .collect(),
    )
}

/// How to pick the run-time overlay.
pub(crate) struct Runtime<'a> {
    pub profile: Option<&'a str>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Parses, validates every table and profile, and (at run time) applies the selected
/// profile and the environment overrides.
pub(crate) fn build(
    path: &Path,
    source: &str,
    runtime: Option<Runtime<'_>>,
) -> Result<Config, Diagnostics> {
    let mut ctx = Ctx::new(path, source);
    let doc = match DeTable::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let d = Diagnostic::new(
                Code::InvalidToml,
                format!("invalid TOML: {}", e.message().trim()),
                span,
                source,
            );
            return Err(Diagnostics(vec![d]));
        }
    };
    let file = walk(&mut ctx, doc.get_ref());

    // The base configuration (what the macro generates code for).
    let mut apps = BTreeMap::new();
    for (name, entry) in &file.apps {
        let mut layers: Vec<&Layer> = file.defaults.iter().collect();
        layers.push(&entry.layer);
        if let Some(app) = finish_app(&mut ctx, name, entry, Stack { layers }, None) {
            apps.insert(name.clone(), app);
        }
    }
    // Every profile is checked too, so a broken profile fails the build, not the deploy.
    for profile in file.profiles.values() {
        for (name, entry) in &file.apps {
            let layers = profile_layers(&file, entry, profile, name);
            finish_app(
                &mut ctx,
                name,
                entry,
                Stack { layers },
                profile.apps.get(name),
            );
        }
    }

    let mut active = None;
    if let Some(rt) = runtime {
        let (selected, from_env) = match rt.profile {
            Some(p) => (Some(p.to_string()), false),
            None => (
                (rt.env)(env::PROFILE_VAR).filter(|p| !p.trim().is_empty()),
                true,
            ),
        };
        let profile = match &selected {
            Some(p) => match file.profiles.get(p) {
                Some(entry) => Some(entry),
                None => {
                    let span = file.profiles_span.clone().unwrap_or(0..0);
                    let via = if from_env {
                        format!(" (selected by {})", env::PROFILE_VAR)
                    } else {
                        String::new()
                    };
                    ctx.error_help(
                        Code::UnknownProfile,
                        span,
                        format!("profile `{p}`{via} is not declared in msal.toml"),
                        suggest::help(p, file.profiles.keys().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "declared profiles: {}",
                                if file.profiles.is_empty() {
                                    "none".to_string()
                                } else {
                                    file.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                                }
                            ))
                        }),
                    );
                    None
                }
            },
            None => None,
        };
        active = selected;
        let mut runtime_apps = BTreeMap::new();
        for (name, entry) in &file.apps {
            let env_layer = env::layer(&mut ctx, name, entry.span.clone(), rt.env);
            let mut layers: Vec<&Layer> = match profile {
                Some(p) => profile_layers(&file, entry, p, name),
                None => file.defaults.iter().chain([&entry.layer]).collect(),
            };
            layers.push(&env_layer);
            let profile_app = profile.and_then(|p| p.apps.get(name));
            if let Some(app) = finish_app(&mut ctx, name, entry, Stack { layers }, profile_app) {
                runtime_apps.insert(name.clone(), app);
            }
        }
        apps = runtime_apps;
    }

    let apps_span = span_of(&ctx, &file.apps_span);
    let diags = ctx.into_diagnostics();
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Config {
        apps,
        profile: active,
        profiles: file.profiles.keys().cloned().collect(),
        path: path.to_path_buf(),
        apps_span,
    })
}

fn profile_layers<'a>(
    file: &'a FileModel,
    entry: &'a AppEntry,
    profile: &'a ProfileEntry,
    name: &str,
) -> Vec<&'a Layer> {
    let mut layers: Vec<&Layer> = file.defaults.iter().collect();
    layers.push(&entry.layer);
    layers.extend(profile.defaults.iter());
    layers.extend(profile.apps.get(name));
    layers
}
