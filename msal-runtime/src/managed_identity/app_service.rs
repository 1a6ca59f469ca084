//! App Service, Functions and Automation: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, protocol
//! 2019-08-01.

use super::transport::MiRequest;
use super::{
    json_object, parse_endpoint, response_error, str_field, token_from, Cx, Lifetime,
    ManagedIdentitySource, RetryRule, SourceToken,
};
use crate::error::Result;

const API_VERSION: &str = "2019-08-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AppService;

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let env = &cx.inner.env;
    let endpoint = env.get("IDENTITY_ENDPOINT").unwrap_or_default();
    let header = env.get("IDENTITY_HEADER").unwrap_or_default();
    let mut url = parse_endpoint(SOURCE, "IDENTITY_ENDPOINT", &endpoint)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", API_VERSION);
        q.append_pair("resource", cx.resource);
        if let Some((k, v)) = cx.selector(("client_id", "object_id", "mi_res_id")) {
            q.append_pair(&k, &v);
        }
    }
    let req = MiRequest::get(url)
        .header("X-IDENTITY-HEADER", header)
        // Harmless for App Service, required by Azure Automation (as MSAL sends it).
        .header("Metadata", "true");
    let resp = cx
        .exchange(SOURCE, &req, "", RetryRule::None, true, None)
        .await?;
    let m = json_object(&resp);
    if resp.is_success() {
        if let Some(t) = m.as_ref().and_then(|m| token_from(m, Lifetime::ExpiresOn)) {
            return Ok(t);
        }
    }
    // MSAL reports every App Service failure as `invalid_scope`, "<statusCode>, <message>".
    let message = m
        .as_ref()
        .and_then(|m| {
            let code = m.get("statusCode").or_else(|| m.get("StatusCode"))?;
            let text = str_field(m, "message").or_else(|| str_field(m, "Message"))?;
            Some(format!("{code}, {text}"))
        })
        .unwrap_or_else(|| format!("App Service answered HTTP {} without a token", resp.status));
    Err(response_error(
        SOURCE,
        &resp,
        Some("invalid_scope"),
        message,
    ))
}
