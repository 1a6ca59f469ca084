//! The authority's mutable state (registrations, codes, refresh tokens, the request log) and the
//! immutable per-server facts shared by every connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::faults::FaultQueue;
use crate::tokens::SigningKey;
use crate::types::{AppRegistration, RecordedRequest, TestUser};
use crate::wire::Req;

/// The fake GUID of the default tenant.
pub(crate) const DEFAULT_TENANT_ID: &str = "5f3c9a1e-8b2d-4f6a-9c0e-7d1b3a5e9f24";
/// The domain that maps to the default tenant.
pub(crate) const DEFAULT_TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";
/// Tenant-independent path segments Entra accepts.
pub(crate) const META_TENANTS: [&str; 3] = ["common", "organizations", "consumers"];

#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub id: String,
    pub domains: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AppEntry {
    pub reg: AppRegistration,
    /// Object id of the app's service principal: `oid`/`sub` of app-only tokens.
    pub sp_oid: String,
}

/// A pending authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: String,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    pub user: TestUser,
    pub tid: String,
    pub expires_at: u64,
    /// When the user authenticated, set when the request carried `max_age`: the ID token
    /// must then carry `auth_time` (OpenID Connect Core 1.0, section 2).
    pub auth_time: Option<u64>,
}

/// What an issued refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub user: TestUser,
    pub tid: String,
    /// Scopes of the original request (used when a refresh omits `scope`).
    pub scopes: Vec<String>,
    pub expires_at: u64,
    pub revoked: bool,
    pub foci: Option<String>,
}

/// How a tenant path segment resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TenantRef {
    /// A known tenant, by GUID.
    Tenant(String),
    /// `common`, `organizations` or `consumers` (lower-cased).
    Meta(String),
    Unknown,
}

pub(crate) struct State {
    pub tenants: Vec<Tenant>,
    pub apps: HashMap<String, AppEntry>,
    pub users: Vec<TestUser>,
    pub requests: Vec<RecordedRequest>,
    pub faults: FaultQueue,
    pub imds_region: Option<String>,
    pub imds_delay: Duration,
    pub token_lifetime: u64,
    pub refresh_in: Option<u64>,
    pub codes: HashMap<String, AuthCode>,
    pub used_codes: HashSet<String>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub sign_in_as: Option<String>,
    /// One-shot user override used by `TestAuthority::sign_in`.
    pub sign_in_once: Option<String>,
    pub next_authorize_error: Option<String>,
    pub id_tokens_with_wrong_key: bool,
    /// Signing keys published in the JWKS besides the main one (key rollover tests).
    pub extra_keys: Vec<Arc<SigningKey>>,
    pub id_token_nonce_override: Option<String>,
    /// Show a sign-in page at the authorization endpoint instead of scripted sign-in.
    pub sign_in_page: bool,
    /// Sign-in pages shown and not answered yet.
    pub sign_in_pages: crate::authorize::OpenPages,
    /// Managed identity sources and federated credentials.
    pub mi: crate::managed_identity::MiState,
}

impl State {
    pub(crate) fn new(token_lifetime: u64, refresh_in: Option<u64>) -> Self {
        State {
            tenants: vec![Tenant {
                id: DEFAULT_TENANT_ID.into(),
                domains: vec![DEFAULT_TENANT_DOMAIN.into()],
            }],
            apps: HashMap::new(),
            users: Vec::new(),
            requests: Vec::new(),
            faults: FaultQueue::default(),
            imds_region: None,
            imds_delay: Duration::ZERO,
            token_lifetime,
            refresh_in,
            codes: HashMap::new(),
            used_codes: HashSet::new(),
            refresh_tokens: HashMap::new(),
            sign_in_as: None,
            sign_in_once: None,
            next_authorize_error: None,
            id_tokens_with_wrong_key: false,
            extra_keys: Vec::new(),
            id_token_nonce_override: None,
            sign_in_page: false,
            sign_in_pages: Default::default(),
            mi: Default::default(),
        }
    }

    pub(crate) fn register_app(&mut self, reg: AppRegistration) {
        // Re-registering keeps the service principal id so earlier tokens stay meaningful.
        let sp_oid = self
            .apps
            .get(&reg.client_id)
            .map(|e| e.sp_oid.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.apps
            .insert(reg.client_id.clone(), AppEntry { reg, sp_oid });
    }

    pub(crate) fn add_tenant(&mut self, id: &str, domain: Option<&str>) {
        let idx = match self
            .tenants
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(id))
        {
            Some(i) => i,
            None => {
                self.tenants.push(Tenant {
                    id: id.to_ascii_lowercase(),
                    domains: Vec::new(),
                });
                self.tenants.len() - 1
            }
        };
        if let Some(d) = domain {
            let d = d.to_ascii_lowercase();
            if !self.tenants[idx].domains.contains(&d) {
                self.tenants[idx].domains.push(d);
            }
        }
    }

    pub(crate) fn add_user(&mut self, user: TestUser) {
        self.users
            .retain(|u| !u.username.eq_ignore_ascii_case(&user.username));
        self.users.push(user);
    }

    /// Resolves a tenant path segment (GUID or registered domain, case-insensitive).
    pub(crate) fn resolve_tenant(&self, segment: &str) -> TenantRef {
        let seg = segment.to_ascii_lowercase();
        if META_TENANTS.contains(&seg.as_str()) {
            return TenantRef::Meta(seg);
        }
        self.tenants
            .iter()
            .find(|t| t.id == seg || t.domains.contains(&seg))
            .map_or(TenantRef::Unknown, |t| TenantRef::Tenant(t.id.clone()))
    }

    /// Every accepted spelling (GUID and domains) of tenant `tid`.
    pub(crate) fn tenant_aliases(&self, tid: &str) -> Vec<String> {
        self.tenants
            .iter()
            .find(|t| t.id == tid)
            .map(|t| {
                let mut v = vec![t.id.clone()];
                v.extend(t.domains.iter().cloned());
                v
            })
            .unwrap_or_else(|| vec![tid.to_string()])
    }

    pub(crate) fn user_by_name(&self, username: &str) -> Option<TestUser> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .cloned()
    }

    pub(crate) fn user_by_oid(&self, oid: &str) -> Option<TestUser> {
        self.users
            .iter()
            .find(|u| u.oid.eq_ignore_ascii_case(oid))
            .cloned()
    }
}

/// Everything a connection handler needs: the locked state plus fixed server facts.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub key: Arc<SigningKey>,
    pub scheme: &'static str,
    pub port: u16,
    /// Host names (lower case, no port) that address this server globally.
    pub known_hosts: Vec<String>,
}

impl Shared {
    pub(crate) fn new(
        state: State,
        scheme: &'static str,
        port: u16,
        known_hosts: Vec<String>,
        unique_key: bool,
    ) -> Self {
        // RSA key generation costs ~250 ms; unless asked otherwise, every authority in the
        // process shares one token signing key (their state is still fully separate).
        static PROCESS_KEY: OnceLock<Arc<SigningKey>> = OnceLock::new();
        let key = if unique_key {
            Arc::new(SigningKey::generate("msal-testkit token signing"))
        } else {
            PROCESS_KEY
                .get_or_init(|| Arc::new(SigningKey::generate("msal-testkit token signing")))
                .clone()
        };
        Shared {
            state: Mutex::new(state),
            key,
            scheme,
            port,
            known_hosts,
        }
    }

    /// Locks the state; a panic in another handler must not wedge the whole authority.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A key the authority does not publish (for hostile id-token tests).
    pub(crate) fn wrong_key(&self) -> &'static SigningKey {
        static ROGUE_KEY: OnceLock<SigningKey> = OnceLock::new();
        ROGUE_KEY.get_or_init(|| SigningKey::generate("msal-testkit rogue key"))
    }

    /// The global host for `hostname`: itself when known, else with a `{region}.` label removed
    /// when that yields a known host; unknown names are left alone.
    pub(crate) fn global_host(&self, hostname: &str) -> String {
        let host = hostname.to_ascii_lowercase();
        if self.known_hosts.contains(&host) {
            return host;
        }
        match host.split_once('.') {
            Some((_, rest)) if self.known_hosts.iter().any(|k| k == rest) => rest.to_string(),
            _ => host,
        }
    }

    /// Whether `hostname` (no port) addresses this server, globally or regionally.
    pub(crate) fn is_own_host(&self, hostname: &str) -> bool {
        self.known_hosts.contains(&self.global_host(hostname))
    }

    /// `scheme://global-host[:port]` for a request (regional prefix removed).
    pub(crate) fn global_base(&self, req: &Req) -> String {
        let global = self.global_host(&req.hostname);
        let host = if global.contains(':') {
            format!("[{global}]")
        } else {
            global
        };
        let port = authority_port(&req.authority)
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!("{}://{host}{port}", self.scheme)
    }
}

/// The explicit port of a `host[:port]` authority.
pub(crate) fn authority_port(authority: &str) -> Option<u16> {
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
}

/// The lower-cased host name of a `host[:port]` authority (IPv6 without brackets).
pub(crate) fn authority_host(authority: &str) -> String {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_parts() {
        assert_eq!(authority_port("localhost:8443"), Some(8443));
        assert_eq!(authority_port("localhost"), None);
        assert_eq!(authority_port("[::1]:9"), Some(9));
        assert_eq!(authority_host("[::1]:9"), "::1");
        assert_eq!(authority_host("EastUS.LocalHost:1"), "eastus.localhost");
    }

    #[test]
    fn tenants_resolve_by_id_and_domain() {
        let mut s = State::new(3600, None);
        s.add_tenant("AAAA", Some("Fabrikam.onmicrosoft.com"));
        assert_eq!(
            s.resolve_tenant("fabrikam.onmicrosoft.com"),
            TenantRef::Tenant("aaaa".into())
        );
        assert_eq!(
            s.resolve_tenant(DEFAULT_TENANT_DOMAIN),
            TenantRef::Tenant(DEFAULT_TENANT_ID.into())
        );
        assert_eq!(s.resolve_tenant("Common"), TenantRef::Meta("common".into()));
        assert_eq!(s.resolve_tenant("nope"), TenantRef::Unknown);
    }
}
