//! `accepts`: what a web API app takes from its callers' access tokens (scopes in `scp`,
//! app roles in `roles`, extra audiences, other tenants). Each accepted scope and role
//! becomes a type in the code `#[msal_app]` generates, so its name must make one.

use toml::de::DeValue;

use crate::checks;
use crate::ctx::{Ctx, Span, Val};
use crate::diagnostic::Code;
use crate::layer::{self, expect_str_list, Value};

/// The keys of an `accepts` table.
const ACCEPTS_KEYS: &[&str] = &["scopes", "roles", "audiences", "tenants"];

/// What a web API accepts in incoming access tokens (`accepts = { ... }` of an app).
///
/// ```
/// use msal_config::{AcceptedTenants, Config};
/// use std::path::Path;
///
/// let cfg = Config::parse(Path::new("msal.toml"), r#"
/// [apps.orders_api]
/// client_id  = "00000000-0000-0000-0000-0000000000a1"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", env = "ORDERS_API_SECRET" }
/// grants     = ["on_behalf_of"]
/// scopes.inventory = ["api://inventory/Items.Read"]
/// accepts    = { scopes = ["Orders.Read"], roles = ["Orders.Admin"], audiences = ["api://orders"] }
/// "#).unwrap();
/// let accepts = cfg.app("orders_api").unwrap().accepts.as_ref().unwrap();
/// assert_eq!(accepts.scopes, ["Orders.Read"]);
/// assert_eq!(accepts.tenants, AcceptedTenants::Authority);
/// assert_eq!(msal_config::accepted_type_name("Orders.Read"), "OrdersRead");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Accepts {
    /// Delegated permissions (`scp`), bare names such as `Orders.Read`.
    pub scopes: Vec<String>,
    /// App roles (`roles`), such as `Orders.Admin`.
    pub roles: Vec<String>,
    /// Audiences accepted besides the client id and `api://{client id}` (App ID URIs).
    pub audiences: Vec<String>,
    /// Whose tokens: the authority's tenant, any tenant, or listed tenants.
    pub tenants: AcceptedTenants,
}

/// The tenants whose tokens a web API accepts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AcceptedTenants {
    /// The app authority's own tenant (default).
    #[default]
    Authority,
    /// Any tenant (`tenants = "any"`).
    Any,
    /// These tenant ids (`tenants = ["<guid>", ...]`).
    Listed(Vec<String>),
}

/// The Rust type name `#[msal_app]` gives an accepted scope or role: its alphanumeric runs,
/// each with a capital first letter (`Orders.Read` -> `OrdersRead`,
/// `access_as_user` -> `AccessAsUser`).
pub fn accepted_type_name(value: &str) -> String {
    let mut out = String::new();
    for part in value.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// The parsed `accepts` table with spans, checked value by value.
#[derive(Clone, Debug)]
pub(crate) struct RawAccepts {
    pub accepts: Accepts,
    /// `false` when something in it was reported.
    pub valid: bool,
}

fn check_names(ctx: &mut Ctx<'_>, what: &str, list: &[Val<String>]) -> bool {
    let mut ok = true;
    let mut seen: Vec<(String, String)> = Vec::new();
    for v in list {
        let s = v.v.as_str();
        let problem = if s.trim().is_empty() {
            Some((format!("an accepted {what} is blank"), None))
        } else if s.contains(char::is_whitespace) {
            Some((
                format!("accepted {what} `{s}` has a space"),
                Some("list each one as its own string".to_string()),
            ))
        } else if what == "scope" && s.contains('/') {
            let bare = s.rsplit('/').next().unwrap_or(s);
            Some((
                format!("accepted scope `{s}` names a resource: tokens carry bare permission names in `scp`"),
                Some(format!("write `\"{bare}\"` (the audience goes in `audiences`)")),
            ))
        } else if !accepted_type_name(s)
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        {
            Some((
                format!("accepted {what} `{s}` does not make a Rust type name (it must start with a letter)"),
                None,
            ))
        } else {
            None
        };
        if let Some((msg, help)) = problem {
            ctx.error_help(Code::InvalidAccepted, v.span.clone(), msg, help);
            ok = false;
            continue;
        }
        let ty = accepted_type_name(s);
        if let Some((first, _)) = seen.iter().find(|(_, t)| *t == ty) {
            let msg = if first == s {
                format!("accepted {what} `{s}` is listed twice")
            } else {
                format!("accepted {what}s `{first}` and `{s}` both make the type `{ty}`")
            };
            ctx.error_help(
                Code::DuplicateAccepted,
                v.span.clone(),
                msg,
                Some("keep one".into()),
            );
            ok = false;
        } else {
            seen.push((s.to_string(), ty));
        }
    }
    ok
}

/// Parses and checks `accepts = { scopes, roles, audiences, tenants }`.
pub(crate) fn parse(ctx: &mut Ctx<'_>, v: &Value<'_>) -> Option<Val<Option<RawAccepts>>> {
    let DeValue::Table(t) = v.get_ref() else {
        layer::wrong_type(
            ctx,
            "accepts",
            "a table",
            v,
            Some("write e.g. `accepts = { scopes = [\"Orders.Read\"] }`".into()),
        );
        return None;
    };
    let mut valid = true;
    let mut accepts = Accepts::default();
    let (mut scopes, mut roles) = (None, None);
    for (key, item) in t.iter() {
        let name = key.get_ref().as_ref();
        match name {
            "scopes" | "roles" => {
                let list = expect_str_list(ctx, &format!("accepts.{name}"), item);
                valid &= list.is_some();
                if let Some(list) = list {
                    let what = if name == "scopes" { "scope" } else { "role" };
                    valid &= check_names(ctx, what, &list.v);
                    let values = list.v.iter().map(|v| v.v.clone()).collect();
                    if name == "scopes" {
                        accepts.scopes = values;
                        scopes = Some(list.span);
                    } else {
                        accepts.roles = values;
                        roles = Some(list.span);
                    }
                }
            }
            "audiences" => {
                let Some(list) = expect_str_list(ctx, "accepts.audiences", item) else {
                    valid = false;
                    continue;
                };
                for a in &list.v {
                    if !(a.v.contains("://") || checks::is_guid(&a.v)) || a.v.contains(' ') {
                        ctx.error_help(
                            Code::InvalidAccepted,
                            a.span.clone(),
                            format!("accepted audience `{}` is neither an App ID URI nor a client id", a.v),
                            Some("write the API's identifier, e.g. `\"api://orders\"` (the client id is always accepted)".into()),
                        );
                        valid = false;
                    }
                }
                accepts.audiences = list.v.iter().map(|v| v.v.clone()).collect();
            }
            "tenants" => match item.get_ref() {
                DeValue::String(s) if s.as_ref() == "any" => accepts.tenants = AcceptedTenants::Any,
                DeValue::String(s) => {
                    ctx.error_help(
                        Code::InvalidAccepted,
                        item.span(),
                        format!(
                            "accepts.tenants `{s}` is neither \"any\" nor a list of tenant ids"
                        ),
                        Some(if checks::is_guid(s) {
                            format!("write `[\"{s}\"]`")
                        } else {
                            "write `\"any\"` or `[\"<tenant id>\", ...]`".into()
                        }),
                    );
                    valid = false;
                }
                _ => {
                    let Some(list) = expect_str_list(ctx, "accepts.tenants", item) else {
                        valid = false;
                        continue;
                    };
                    for tid in &list.v {
                        if !checks::is_guid(&tid.v) {
                            ctx.error_help(
                                Code::InvalidAccepted,
                                tid.span.clone(),
                                format!("accepted tenant `{}` is not a tenant id", tid.v),
                                Some(
                                    "tokens name their tenant by id (`tid`): write its GUID".into(),
                                ),
                            );
                            valid = false;
                        }
                    }
                    if list.v.is_empty() {
                        ctx.error_help(
                            Code::InvalidAccepted,
                            list.span.clone(),
                            "accepts.tenants lists no tenant",
                            Some("list tenant ids, write `\"any\"`, or remove the key (the authority's tenant)".into()),
                        );
                        valid = false;
                    }
                    accepts.tenants =
                        AcceptedTenants::Listed(list.v.iter().map(|v| v.v.clone()).collect());
                }
            },
            _ => {
                layer::unknown_key(ctx, key, "accepts", ACCEPTS_KEYS);
                valid = false;
            }
        }
    }
    if valid && accepts.scopes.is_empty() && accepts.roles.is_empty() {
        let span: Span = scopes.or(roles).unwrap_or_else(|| v.span());
        ctx.error_help(
            Code::EmptyAccepts,
            span,
            "accepts names no scope and no role: every caller would be let in",
            Some("list what callers' tokens must carry, e.g. `scopes = [\"Orders.Read\"]` or `roles = [\"Orders.Admin\"]`".into()),
        );
        valid = false;
    }
    Some(Val::file(Some(RawAccepts { accepts, valid }), v.span()))
}
