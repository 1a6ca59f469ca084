//! Refresh-token redemption, written once for silent acquisition, on-behalf-of (with the
//! OBO refresh token) and `acquire_token_by_refresh_token`.

use super::auth_code::sha256_hex;
use super::pipeline::TokenRequest;
use super::user::SaveOptions;
use crate::authority::AuthorityMetadata;
use crate::cache::key;
use crate::error::Result;
use crate::http::telemetry::{ApiId, RefreshReason};
use crate::result::AuthenticationResult;
use crate::state::AppState;

/// One refresh-token request and how its answer is cached.
pub(crate) struct Redemption<'a> {
    pub api: ApiId,
    pub reason: RefreshReason,
    pub refresh_token: String,
    /// The scopes sent (the caller's plus the reserved ones).
    pub decorated: &'a [String],
    /// A merged claims request, if any.
    pub claims: Option<&'a str>,
    pub extra_headers: Vec<(String, String)>,
    /// Names the refresh token in the throttle key (`rt`, `obo-rt`): MSAL Python's shape,
    /// so a throttled refresh blocks the same scopes with the same refresh token only.
    pub throttle_tag: &'static str,
    pub save: SaveOptions<'a>,
}

impl AppState {
    /// Sends `grant_type=refresh_token` and caches what comes back.
    pub(crate) async fn redeem_refresh_token(
        &self,
        meta: &AuthorityMetadata,
        r: Redemption<'_>,
    ) -> Result<AuthenticationResult> {
        let target = key::target(r.decorated);
        let throttle_key = format!(
            "POST {} client_id={} scope={target} {}={}",
            meta.token_endpoint,
            self.client_id,
            r.throttle_tag,
            sha256_hex(&r.refresh_token)
        );
        let mut fields = vec![
            ("refresh_token".to_string(), r.refresh_token),
            ("scope".into(), target),
        ];
        if let Some(c) = r.claims {
            fields.push(("claims".into(), c.to_string()));
        }
        let issued = self
            .send_token_request(TokenRequest {
                api: r.api,
                reason: r.reason,
                endpoint: meta.token_endpoint.clone(),
                global_endpoint: meta.token_endpoint.clone(),
                grant_type: "refresh_token",
                fields,
                extra_headers: r.extra_headers,
                throttle_key,
            })
            .await?;
        self.save_user_tokens(meta, issued, r.save).await
    }
}
