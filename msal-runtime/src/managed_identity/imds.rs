//! Azure VM / VMSS: the instance metadata service (IMDS).

use super::transport::MiRequest;
use super::{
    json_object, parse_endpoint, response_error, str_field, token_from, Cx, Lifetime,
    ManagedIdentityError, ManagedIdentityErrorKind, ManagedIdentitySource, RetryRule, SourceToken,
    FORBID_DEFAULT_IMDS_VAR,
};
use crate::error::Result;

/// The Azure metadata address. Only ever used outside tests (see [`FORBID_DEFAULT_IMDS_VAR`]).
const DEFAULT_HOST: &str = "http://169.254.169.254";
const DEFAULT_IP: &str = "169.254.169.254";
const PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::DefaultToVm;

/// Whether the guard variable is set (in the injected environment or the process).
fn default_forbidden(cx: &Cx<'_>) -> bool {
    let set = |v: Option<String>| v.is_some_and(|v| !v.is_empty() && v != "0");
    set(cx.inner.env.get(FORBID_DEFAULT_IMDS_VAR))
        || set(std::env::var(FORBID_DEFAULT_IMDS_VAR).ok())
}

/// The token URL: builder option, else `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else the default.
pub(super) fn token_url(cx: &Cx<'_>) -> Result<url::Url> {
    let (host, what) = match (
        &cx.inner.imds_endpoint,
        cx.inner.env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
    ) {
        (Some(h), _) => (h.clone(), "imds_endpoint"),
        (None, Some(h)) => (h, "AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        (None, None) => (DEFAULT_HOST.to_string(), "the default IMDS address"),
    };
    let trimmed = host.trim_end_matches('/');
    let full = if trimmed.ends_with(PATH) {
        trimmed.to_string()
    } else {
        format!("{trimmed}{PATH}")
    };
    let url = parse_endpoint(SOURCE, what, &full)?;
    if url.host_str() == Some(DEFAULT_IP) && default_forbidden(cx) {
        return Err(ManagedIdentityError::new(
            ManagedIdentityErrorKind::ForbiddenEndpoint,
            Some(SOURCE),
            format!(
                "the request would go to the Azure metadata address {DEFAULT_IP} while \
                 {FORBID_DEFAULT_IMDS_VAR} is set; set imds_endpoint or \
                 AZURE_POD_IDENTITY_AUTHORITY_HOST"
            ),
        )
        .into());
    }
    Ok(url)
}

pub(super) async fn obtain(cx: &Cx<'_>) -> Result<SourceToken> {
    let mut url = token_url(cx)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("api-version", API_VERSION);
        q.append_pair("resource", cx.resource);
        if let Some((k, v)) = cx.selector(("client_id", "object_id", "msi_res_id")) {
            q.append_pair(&k, &v);
        }
    }
    let req = MiRequest::get(url)
        .header("Metadata", "true")
        .header("x-client-SKU", crate::SKU)
        .header("x-client-Ver", env!("CARGO_PKG_VERSION"))
        .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string());
    let resp = cx
        .exchange(SOURCE, &req, "", RetryRule::Imds, true, None)
        .await?;
    let Some(m) = json_object(&resp) else {
        return Err(response_error(
            SOURCE,
            &resp,
            None,
            "IMDS did not answer with JSON",
        ));
    };
    if resp.is_success() {
        if let Some(t) = token_from(&m, Lifetime::ExpiresIn) {
            return Ok(t);
        }
    }
    let error = str_field(&m, "error");
    let message = str_field(&m, "error_description")
        .map(str::to_string)
        .unwrap_or_else(|| "IMDS answered without a token".into());
    Err(response_error(SOURCE, &resp, error, message))
}
