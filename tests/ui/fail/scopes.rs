//! Scope sets (E07xx) and `exclude_scopes` (E0904).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0701: an app without scope sets.
#[msal_app(config = "no_scope_sets.toml", app = "orders_daemon")]
pub struct NoScopeSets;

/// E0702: a scope set name that is not a snake_case identifier.
#[msal_app(config = "invalid_scope_set_name.toml", app = "orders_daemon")]
pub struct InvalidScopeSetName;

/// E0703: an empty scope set.
#[msal_app(config = "empty_scope_set.toml", app = "orders_daemon")]
pub struct EmptyScopeSet;

/// E0704: a blank scope.
#[msal_app(config = "blank_scope.toml", app = "orders_daemon")]
pub struct BlankScope;

/// E0705: the same scope twice in a set.
#[msal_app(config = "duplicate_scope.toml", app = "orders_daemon")]
pub struct DuplicateScope;

/// E0706: `.default` mixed with other scopes.
#[msal_app(config = "default_scope_not_alone.toml", app = "orders_daemon")]
pub struct DefaultScopeNotAlone;

/// E0707: scopes of two resources in one set.
#[msal_app(config = "mixed_resources.toml", app = "orders_daemon")]
pub struct MixedResources;

/// E0708: a reserved scope (MSAL adds `openid`, `profile`, `offline_access` itself).
#[msal_app(config = "reserved_scope.toml", app = "orders_daemon")]
pub struct ReservedScope;

/// E0709: a set of named scopes in a client-credentials-only app.
#[msal_app(config = "client_credentials_needs_default.toml", app = "orders_daemon")]
pub struct ClientCredentialsNeedsDefault;

/// E0710: a profile adding a scope set.
#[msal_app(config = "profile_scope_set_mismatch.toml", app = "orders_daemon")]
pub struct ProfileScopeSetMismatch;

/// E0904: `openid` in `exclude_scopes`.
#[msal_app(config = "exclude_openid.toml", app = "orders_daemon")]
pub struct ExcludeOpenid;

fn main() {}
