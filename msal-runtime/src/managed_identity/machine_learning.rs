//! Azure Machine Learning: `MSI_ENDPOINT` + `MSI_SECRET`, the 2017-09-01 protocol.

use super::transport::MiRequest;
use super::{
    json_object, parse_endpoint, response_error, token_from, Cx, Lifetime, ManagedIdentitySource,
    RetryRule, SourceToken,
};
use crate::error::Result;

const API_VERSION: &str = "2017-09-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::MachineLearning;

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let env = &cx.inner.env;
    let endpoint = env.get("MSI_ENDPOINT").unwrap_or_default();
    let secret = env.get("MSI_SECRET").unwrap_or_default();
    let mut url = parse_endpoint(SOURCE, "MSI_ENDPOINT", &endpoint)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", API_VERSION);
        q.append_pair("resource", cx.resource);
        // `clientid`, not `client_id`: a known quirk of the 2017 API.
        if let Some((k, v)) = cx.selector(("clientid", "object_id", "msi_res_id")) {
            q.append_pair(&k, &v);
        }
    }
    let req = MiRequest::get(url).header("secret", secret);
    let resp = cx
        .exchange(SOURCE, &req, "", RetryRule::None, true, None)
        .await?;
    if resp.is_success() {
        if let Some(t) = json_object(&resp).and_then(|m| token_from(&m, Lifetime::ExpiresOn)) {
            return Ok(t);
        }
    }
    Err(response_error(
        SOURCE,
        &resp,
        Some("invalid_scope"),
        format!(
            "Azure Machine Learning answered HTTP {} without a token",
            resp.status
        ),
    ))
}
