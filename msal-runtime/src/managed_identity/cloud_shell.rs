//! Azure Cloud Shell: a form POST to the local token endpoint.

use super::transport::{Method, MiRequest};
use super::{
    json_object, parse_endpoint, response_error, str_field, token_from, Cx, Lifetime,
    ManagedIdentitySource, RetryRule, SourceToken,
};
use crate::error::Result;
use serde_json::Value;

/// Cloud Shell's fixed endpoint (configurable here, unlike MSAL Python).
const DEFAULT_ENDPOINT: &str = "http://localhost:50342/oauth2/token";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::CloudShell;

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let endpoint = cx
        .inner
        .cloud_shell_endpoint
        .as_deref()
        .unwrap_or(DEFAULT_ENDPOINT);
    let url = parse_endpoint(SOURCE, "cloud_shell_endpoint", endpoint)?;
    let mut req = MiRequest::get(url).header("Metadata", "true");
    req.method = Method::Post;
    req.form = vec![("resource".into(), cx.resource.to_string())];
    let resp = cx
        .exchange(SOURCE, &req, "", RetryRule::None, true, None)
        .await?;
    let m = json_object(&resp);
    if resp.is_success() {
        if let Some(t) = m.as_ref().and_then(|m| token_from(m, Lifetime::ExpiresIn)) {
            return Ok(t);
        }
    }
    // `{"error": {"code": ..., "message": ...}}`
    let err = m
        .as_ref()
        .and_then(|m| m.get("error"))
        .and_then(Value::as_object);
    let code = err.and_then(|e| str_field(e, "code"));
    let message = err
        .and_then(|e| str_field(e, "message"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("Cloud Shell answered HTTP {} without a token", resp.status));
    Err(response_error(SOURCE, &resp, code, message))
}
