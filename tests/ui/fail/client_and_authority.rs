//! Client id and authority (E02xx, E03xx).
//!
//! One struct per rule, each naming its own small `.toml` (next to this file), so every
//! rule has its failing case and expected message while the group compiles once.
use msal::msal_app;

/// E0201: no `client_id`.
#[msal_app(config = "missing_client_id.toml", app = "orders_daemon")]
pub struct MissingClientId;

/// E0202: a `client_id` that is not a GUID.
#[msal_app(config = "invalid_client_id.toml", app = "orders_daemon")]
pub struct InvalidClientId;

/// E0301: neither `authority` nor `oidc_authority`.
#[msal_app(config = "missing_authority.toml", app = "orders_daemon")]
pub struct MissingAuthority;

/// E0302: both `authority` and `oidc_authority`.
#[msal_app(config = "conflicting_authority.toml", app = "orders_daemon")]
pub struct ConflictingAuthority;

/// E0303: an authority that is not a URL.
#[msal_app(config = "invalid_authority.toml", app = "orders_daemon")]
pub struct InvalidAuthority;

/// E0304: an `http` authority on a host that is not loopback.
#[msal_app(config = "insecure_authority.toml", app = "orders_daemon")]
pub struct InsecureAuthority;

/// E0305: an authority without a tenant.
#[msal_app(config = "missing_tenant.toml", app = "orders_daemon")]
pub struct MissingTenant;

/// E0306: an unknown authority host without `validate_authority = false`.
#[msal_app(config = "unknown_authority_host.toml", app = "orders_daemon")]
pub struct UnknownAuthorityHost;

/// E0307: the `common` tenant with client credentials.
#[msal_app(config = "common_tenant_client_credentials.toml", app = "orders_daemon")]
pub struct CommonTenantClientCredentials;

/// E0307: the `organizations` tenant with on-behalf-of.
#[msal_app(config = "organizations_tenant_obo.toml", app = "orders_daemon")]
pub struct OrganizationsTenantObo;

fn main() {}
