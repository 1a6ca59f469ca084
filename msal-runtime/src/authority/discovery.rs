//! Tenant discovery (the OpenID configuration document) and instance discovery.

use super::{Authority, AuthorityKind, WELL_KNOWN_HOSTS};
use crate::error::{strip_query, Error, Result};
use crate::http::{HttpCache, HttpClient};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default endpoint of Entra's instance discovery (validation form).
pub(crate) const DEFAULT_INSTANCE_DISCOVERY: &str =
    "https://login.microsoftonline.com/common/discovery/instance";

/// The endpoints an authority advertises, resolved once per application.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AuthorityMetadata {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub end_session_endpoint: Option<String>,
    /// The cache `realm`: the first path segment of the token endpoint (a tenant GUID for
    /// Entra, `common`/`organizations` for multi-tenant apps, `adfs` for ADFS).
    pub realm: String,
}

/// How discovery is performed for one application.
pub(crate) struct Discovery<'a> {
    pub http: &'a HttpClient,
    pub validate_authority: bool,
    pub instance_discovery: bool,
    pub instance_discovery_endpoint: Option<&'a str>,
    /// Persisted HTTP state: a result found there is used without a request (for 24 h,
    /// as MSAL Python's `http_cache` keeps discovery GETs); a fresh one is stored there.
    pub http_cache: Option<&'a HttpCache>,
}

impl Discovery<'_> {
    /// The authority's endpoints: from persisted HTTP state when it has them, else
    /// discovered (and then persisted).
    pub(crate) async fn resolve(&self, authority: &Authority) -> Result<AuthorityMetadata> {
        let Some(cache) = self.http_cache else {
            return self.discover(authority).await;
        };
        let key = format!(
            "discovery|{}|validate={}|instance_discovery={}|{}",
            authority.as_str(),
            self.validate_authority,
            self.instance_discovery,
            self.instance_discovery_endpoint.unwrap_or_default()
        );
        if let Some(meta) = cache.get_json::<AuthorityMetadata>(&key).await {
            return Ok(meta);
        }
        let meta = self.discover(authority).await?;
        cache
            .put_json(&key, &meta, crate::http::state::DISCOVERY_TTL)
            .await;
        Ok(meta)
    }

    /// Instance discovery (when it applies), then tenant discovery.
    async fn discover(&self, authority: &Authority) -> Result<AuthorityMetadata> {
        let mut discovery_url = authority.openid_configuration_url();
        if authority.needs_instance_discovery()
            && self.validate_authority
            && self.instance_discovery
        {
            discovery_url = self.instance_discovery(authority).await?;
        }
        self.tenant_discovery(authority, &discovery_url).await
    }

    async fn instance_discovery(&self, authority: &Authority) -> Result<String> {
        let endpoint = self
            .instance_discovery_endpoint
            .unwrap_or(DEFAULT_INSTANCE_DISCOVERY);
        let mut url = url::Url::parse(endpoint).map_err(|e| {
            Error::config("instance_discovery_endpoint", format!("not a URL ({e})"))
        })?;
        url.query_pairs_mut()
            .append_pair(
                "authorization_endpoint",
                &authority.instance_discovery_probe(),
            )
            .append_pair("api-version", "1.0");
        let resp = self
            .http
            .get(url.as_str(), &[("accept", "application/json")])
            .await?;
        let body: Value = serde_json::from_slice(&resp.body).map_err(|_| Error::Discovery {
            url: strip_query(url.as_str()),
            status: Some(resp.status),
            detail: "instance discovery did not answer with JSON".into(),
        })?;
        if body.get("error").and_then(Value::as_str) == Some("invalid_instance") {
            let detail = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("invalid_instance")
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(Error::AuthorityValidation {
                authority: authority.as_str().to_string(),
                detail,
            });
        }
        match body
            .get("tenant_discovery_endpoint")
            .and_then(Value::as_str)
        {
            Some(endpoint) if resp.status < 400 => Ok(endpoint.to_string()),
            _ => Err(Error::Discovery {
                url: strip_query(url.as_str()),
                status: Some(resp.status),
                detail: "instance discovery returned no tenant_discovery_endpoint".into(),
            }),
        }
    }

    async fn tenant_discovery(
        &self,
        authority: &Authority,
        url: &str,
    ) -> Result<AuthorityMetadata> {
        let discovery_error = |status: Option<u16>, detail: String| Error::Discovery {
            url: strip_query(url),
            status,
            detail,
        };
        // MSAL sends no library headers on discovery GETs.
        let resp = self.http.get(url, &[]).await.map_err(|e| match e {
            Error::Http { status, detail, .. } => discovery_error(status, detail),
            other => other,
        })?;
        if resp.status >= 400 {
            let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
            let detail = body
                .as_ref()
                .and_then(|b| b.get("error_description").or_else(|| b.get("error")))
                .and_then(Value::as_str)
                .map(|d| d.lines().next().unwrap_or_default().to_string())
                .unwrap_or_else(|| format!("HTTP status {}", resp.status));
            let hint = if resp.status < 500 {
                " (is the tenant right? an authority looks like https://login.microsoftonline.com/<tenant>)"
            } else {
                ""
            };
            return Err(discovery_error(
                Some(resp.status),
                format!("{detail}{hint}"),
            ));
        }
        let doc: Value = serde_json::from_slice(&resp.body)
            .map_err(|_| discovery_error(Some(resp.status), "the document is not JSON".into()))?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
        let required = |name: &str| {
            field(name).ok_or_else(|| {
                discovery_error(Some(resp.status), format!("the document has no `{name}`"))
            })
        };
        let token_endpoint = required("token_endpoint")?;
        let authorization_endpoint = field("authorization_endpoint").unwrap_or_default();
        let issuer = required("issuer")?;
        let token_url = url::Url::parse(&token_endpoint).map_err(|_| {
            discovery_error(Some(resp.status), "`token_endpoint` is not a URL".into())
        })?;
        if token_url.scheme() != "https"
            && !super::is_loopback_host(token_url.host_str().unwrap_or_default())
        {
            return Err(discovery_error(
                Some(resp.status),
                "`token_endpoint` is not https".into(),
            ));
        }
        if authority.kind() == AuthorityKind::Oidc {
            validate_oidc_issuer(authority, &issuer)
                .map_err(|d| discovery_error(Some(resp.status), d))?;
        }
        let realm = token_url
            .path_segments()
            .and_then(|mut s| s.find(|p| !p.is_empty()).map(str::to_string))
            .unwrap_or_else(|| authority.tenant().to_string());
        Ok(AuthorityMetadata {
            authorization_endpoint,
            token_endpoint,
            issuer,
            jwks_uri: field("jwks_uri"),
            end_session_endpoint: field("end_session_endpoint"),
            realm,
        })
    }
}

/// MSAL's acceptance rules for the `issuer` of a generic OIDC authority.
fn validate_oidc_issuer(authority: &Authority, issuer: &str) -> std::result::Result<(), String> {
    let trim = |s: &str| s.trim_end_matches('/').to_string();
    if trim(issuer) == trim(authority.as_str()) {
        return Ok(());
    }
    let Ok(iss) = url::Url::parse(issuer) else {
        return Err(format!("issuer `{issuer}` is not a URL"));
    };
    let iss_host = iss.host_str().unwrap_or_default().to_ascii_lowercase();
    let auth_host = authority.host();
    let same_origin = iss.origin().ascii_serialization() == authority.origin();
    let well_known = WELL_KNOWN_HOSTS.contains(&iss_host.as_str());
    let regional_variant = iss_host
        .split_once('.')
        .is_some_and(|(_, rest)| rest == auth_host || WELL_KNOWN_HOSTS.contains(&rest));
    if same_origin || well_known || regional_variant {
        Ok(())
    } else {
        Err(format!(
            "issuer `{issuer}` does not match the authority `{}`",
            authority.as_str()
        ))
    }
}
