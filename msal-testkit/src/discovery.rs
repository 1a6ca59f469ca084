//! Metadata endpoints: OpenID configuration (AAD, common, B2C, ADFS), JWKS, instance discovery
//! and the IMDS region probe.

use serde_json::{json, Value};

use crate::state::{Shared, TenantRef};
use crate::wire::{EntraError, Reply, Req};

/// Which flavour of authority a path addresses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Endpoint {
    /// `/{tenant}/...` (GUID, domain, or common/organizations/consumers).
    Aad { tenant: String },
    /// `/{tenant}/{b2c_policy}/...`.
    B2c { tenant: String, policy: String },
    /// `/adfs/...`.
    Adfs,
}

/// The tenant an endpoint operates in, once resolved.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Tenant GUID used for `tid` and issuers; `None` for common/organizations/consumers.
    pub tid: Option<String>,
    /// The path prefix advertised in endpoint URLs (`/{guid}`, `/common`, `/{t}/{policy}`, `/adfs`).
    pub prefix: String,
}

impl Endpoint {
    /// Resolves the tenant segment, or the AADSTS90002 error.
    pub(crate) fn resolve(&self, shared: &Shared) -> Result<Resolved, EntraError> {
        let state = shared.lock();
        match self {
            Endpoint::Adfs => Ok(Resolved {
                tid: Some(crate::state::DEFAULT_TENANT_ID.to_string()),
                prefix: "/adfs".into(),
            }),
            Endpoint::Aad { tenant } => match state.resolve_tenant(tenant) {
                TenantRef::Tenant(tid) => Ok(Resolved {
                    prefix: format!("/{tid}"),
                    tid: Some(tid),
                }),
                TenantRef::Meta(m) => Ok(Resolved {
                    tid: None,
                    prefix: format!("/{m}"),
                }),
                TenantRef::Unknown => Err(EntraError::unknown_tenant(tenant)),
            },
            Endpoint::B2c { tenant, policy } => match state.resolve_tenant(tenant) {
                // B2C metadata keeps the tenant as given (usually the domain), like b2clogin.com.
                TenantRef::Tenant(tid) => Ok(Resolved {
                    tid: Some(tid),
                    prefix: format!(
                        "/{}/{}",
                        tenant.to_ascii_lowercase(),
                        policy.to_ascii_lowercase()
                    ),
                }),
                _ => Err(EntraError::unknown_tenant(tenant)),
            },
        }
    }

    /// The token endpoint path (after the prefix).
    pub(crate) fn token_path(&self) -> &'static str {
        match self {
            Endpoint::Adfs => "/oauth2/token",
            _ => "/oauth2/v2.0/token",
        }
    }

    fn authorize_path(&self) -> &'static str {
        match self {
            Endpoint::Adfs => "/oauth2/authorize",
            _ => "/oauth2/v2.0/authorize",
        }
    }

    /// The `iss` of tokens issued through this endpoint (always on the global host).
    pub(crate) fn issuer(&self, global_base: &str, tid: &str) -> String {
        match self {
            Endpoint::Adfs => format!("{global_base}/adfs"),
            _ => format!("{global_base}/{tid}/v2.0"),
        }
    }
}

/// `GET .../.well-known/openid-configuration`.
pub(crate) fn openid_configuration(shared: &Shared, req: &Req, ep: &Endpoint) -> Reply {
    let resolved = match ep.resolve(shared) {
        Ok(r) => r,
        Err(e) => return e.reply(req),
    };
    let base = req.base();
    let global = shared.global_base(req);
    let p = &resolved.prefix;
    // Like Entra: endpoints follow the host that was asked (so regional hosts get regional
    // endpoints), the issuer stays global and uses a `{tenantid}` placeholder for meta tenants.
    let issuer = ep.issuer(&global, resolved.tid.as_deref().unwrap_or("{tenantid}"));
    let (keys, logout) = match ep {
        Endpoint::Adfs => (format!("{base}/adfs/discovery/keys"), "/oauth2/logout"),
        _ => (
            format!("{base}{p}/discovery/v2.0/keys"),
            "/oauth2/v2.0/logout",
        ),
    };
    let doc = json!({
        "token_endpoint": format!("{base}{p}{}", ep.token_path()),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": keys,
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}{p}{}", ep.authorize_path()),
        "device_authorization_endpoint": format!("{base}{p}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}{p}{logout}"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
            "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}{p}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "msal-testkit.localhost",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    Reply::json(200, &doc)
}

/// `GET .../discovery/v2.0/keys` (and ADFS `/adfs/discovery/keys`).
pub(crate) fn jwks(shared: &Shared, req: &Req, ep: &Endpoint) -> Reply {
    let resolved = match ep.resolve(shared) {
        Ok(r) => r,
        Err(e) => return e.reply(req),
    };
    let issuer = ep.issuer(
        &shared.global_base(req),
        resolved.tid.as_deref().unwrap_or("{tenantid}"),
    );
    let mut keys = vec![shared.key.jwk(&issuer)];
    keys.extend(shared.lock().extra_keys.iter().map(|k| k.jwk(&issuer)));
    Reply::json(200, &json!({ "keys": keys }))
}

/// `GET /common/discovery/instance?authorization_endpoint=..&api-version=..`.
pub(crate) fn instance_discovery(shared: &Shared, req: &Req) -> Reply {
    let invalid = || {
        let mut body = EntraError::new(
            400,
            "invalid_instance",
            50049,
            "Unknown or invalid instance.",
        )
        .body(req);
        body["error_description"] = json!(format!(
            "AADSTS50049: Unknown or invalid instance.\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            body["trace_id"].as_str().unwrap_or_default(),
            body["correlation_id"].as_str().unwrap_or_default(),
            body["timestamp"].as_str().unwrap_or_default(),
        ));
        Reply::json(400, &body)
    };
    let Some(endpoint) = req.query_value("authorization_endpoint") else {
        return EntraError::missing("authorization_endpoint").reply(req);
    };
    let Ok(url) = url::Url::parse(endpoint) else {
        return invalid();
    };
    let Some(host) = url.host_str().map(crate::state::authority_host) else {
        return invalid();
    };
    if !shared.is_own_host(&host) {
        return invalid();
    }
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
        .unwrap_or("common");
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    // Aliases use the bare host: MSAL's cache `environment` has no port. Every name of
    // this server (`localhost`, `127.0.0.1`, the builder's extra names) is one instance,
    // as `login.microsoftonline.com` and `login.windows.net` are one for Entra.
    let metadata_host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let mut aliases = vec![metadata_host.clone()];
    for h in &shared.known_hosts {
        // IPv6 literals are not host names a cache `environment` holds.
        if !h.contains(':') && !aliases.contains(h) {
            aliases.push(h.clone());
        }
    }
    let doc = json!({
        "tenant_discovery_endpoint": format!(
            "{}://{authority}/{tenant}/v2.0/.well-known/openid-configuration",
            url.scheme()
        ),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": metadata_host,
            "preferred_cache": metadata_host,
            "aliases": aliases,
        }],
    });
    Reply::json(200, &doc)
}

/// `GET /metadata/instance/compute[/location]` (Azure IMDS region probe).
pub(crate) async fn imds(shared: &Shared, req: &Req, location_only: bool) -> Reply {
    if !req
        .header("metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Reply::json(
            400,
            &json!({"error": "Bad request. Required metadata header not specified"}),
        );
    }
    if req.query_value("api-version").is_none() {
        return Reply::json(
            400,
            &json!({
                "error": "Bad request. api-version was not specified in the request",
                "newest-versions": ["2021-02-01"],
            }),
        );
    }
    let (delay, region) = {
        let state = shared.lock();
        (state.imds_delay, state.imds_region.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(region) = region else {
        return Reply::json(404, &json!({"error": "Not found"}));
    };
    if location_only {
        return Reply::text(200, &region);
    }
    let doc: Value = json!({
        "azEnvironment": "AzurePublicCloud",
        "location": region,
        "name": "msal-testkit-vm",
        "osType": "Linux",
        "vmId": "00000000-0000-4000-8000-00000000f00d",
    });
    Reply::json(200, &doc)
}
