//! Service Fabric: HTTPS to `IDENTITY_ENDPOINT`, the server pinned by
//! `IDENTITY_SERVER_THUMBPRINT`, header `Secret: <IDENTITY_HEADER>`.

use super::transport::MiRequest;
use super::{
    json_object, parse_endpoint, response_error, str_field, token_from, Cx, Lifetime,
    ManagedIdentityError, ManagedIdentitySource, RetryRule, SourceToken,
};
use crate::error::Result;
use serde_json::Value;

const API_VERSION: &str = "2019-07-01-preview";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::ServiceFabric;

/// Drops spaces, tabs, CR, LF and `:`; must leave 40 hex digits; lower-cased.
pub(super) fn normalize_thumbprint(raw: &str) -> Option<String> {
    let t: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n' | ':'))
        .collect::<String>()
        .to_ascii_lowercase();
    (t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit())).then_some(t)
}

fn map_code(code: &str) -> &'static str {
    match code {
        "SecretHeaderNotFound" => "unauthorized_client",
        "ManagedIdentityNotFound" => "invalid_client",
        "ArgumentNullOrEmpty" => "invalid_scope",
        _ => "invalid_request",
    }
}

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let env = &cx.inner.env;
    let endpoint = env.get("IDENTITY_ENDPOINT").unwrap_or_default();
    let secret = env.get("IDENTITY_HEADER").unwrap_or_default();
    let raw_thumbprint = env.get("IDENTITY_SERVER_THUMBPRINT").unwrap_or_default();
    let mut url = parse_endpoint(SOURCE, "IDENTITY_ENDPOINT", &endpoint)?;
    if url.scheme() != "https" {
        return Err(ManagedIdentityError::config(
            Some(SOURCE),
            "the Service Fabric IDENTITY_ENDPOINT must use HTTPS",
        )
        .into());
    }
    let thumbprint = normalize_thumbprint(&raw_thumbprint).ok_or_else(|| {
        ManagedIdentityError::config(
            Some(SOURCE),
            "IDENTITY_SERVER_THUMBPRINT must be a SHA-1 certificate thumbprint",
        )
    })?;
    if cx.identity.id().is_some() {
        // As MSAL: identities are configured in the cluster, not per request.
        tracing::debug!("Service Fabric ignores the user-assigned identity selector");
    }
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", API_VERSION);
        q.append_pair("resource", cx.resource);
        if let Some(h) = &cx.token_sha256_to_refresh {
            q.append_pair("token_sha256_to_refresh", h);
        }
        if !cx.inner.client_capabilities.is_empty() {
            q.append_pair("xms_cc", &cx.inner.client_capabilities.join(","));
        }
    }
    let req = MiRequest::get(url).header("Secret", secret);
    // Not throttled (MSAL bypasses its throttle for Service Fabric); 429 retried.
    let resp = cx
        .exchange(
            SOURCE,
            &req,
            "",
            RetryRule::ServiceFabric,
            false,
            Some(&thumbprint),
        )
        .await?;
    let m = json_object(&resp);
    if resp.is_success() {
        if let Some(t) = m.as_ref().and_then(|m| token_from(m, Lifetime::ExpiresOn)) {
            return Ok(t);
        }
    }
    let err = m
        .as_ref()
        .and_then(|m| m.get("error"))
        .and_then(Value::as_object);
    let code = err.and_then(|e| str_field(e, "code")).unwrap_or_default();
    let message = err
        .and_then(|e| str_field(e, "message"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "Service Fabric answered HTTP {} without a token",
                resp.status
            )
        });
    Err(response_error(SOURCE, &resp, Some(map_code(code)), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_normalised() {
        let t = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";
        assert_eq!(
            normalize_thumbprint(t).as_deref(),
            Some("aabbccddeeff00112233445566778899aabbccdd")
        );
        assert!(normalize_thumbprint("abc").is_none());
        assert!(normalize_thumbprint(&"g".repeat(40)).is_none());
    }
}
