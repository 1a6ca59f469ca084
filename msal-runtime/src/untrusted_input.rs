//! Entry points into the parsers of untrusted input that are otherwise internal, for the
//! property tests (`msal-runtime/tests/properties.rs`) and the fuzz targets (`fuzz/`). Not
//! part of the supported API: hidden from the documentation, may change at any time.

use crate::error::Result;
use crate::http::HttpResponse;

/// The longest token lifetime the library believes (one year), in seconds.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = crate::cache::store::MAX_TOKEN_LIFETIME_SECS;

/// What the token-response parser made of an answer (the secrets left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTokenResponse {
    /// The lifetime, clamped to [`MAX_TOKEN_LIFETIME_SECS`].
    pub expires_in: u64,
    /// `ext_expires_in`, clamped likewise.
    pub ext_expires_in: Option<u64>,
    /// `refresh_in`, clamped likewise.
    pub refresh_in: Option<u64>,
    /// `token_type` (`Bearer` when absent).
    pub token_type: String,
    /// Whether a refresh token came with it.
    pub has_refresh_token: bool,
}

/// Parses a token-endpoint answer of `status` with `body`, as every grant does.
///
/// ```
/// use msal_runtime::untrusted_input::parse_token_response;
/// let ok = parse_token_response(200, None, br#"{"access_token":"a","expires_in":"1e300"}"#).unwrap();
/// assert_eq!(ok.expires_in, 365 * 24 * 3600);
/// assert!(parse_token_response(200, None, b"<html>").is_err());
/// ```
pub fn parse_token_response(
    status: u16,
    retry_after: Option<u64>,
    body: &[u8],
) -> Result<ParsedTokenResponse> {
    let resp = HttpResponse {
        status,
        retry_after,
        body: body.to_vec(),
    };
    let r = crate::grant::response::parse("https://login.example/token", &resp)?;
    Ok(ParsedTokenResponse {
        expires_in: r.expires_in,
        ext_expires_in: r.ext_expires_in,
        refresh_in: r.refresh_in,
        token_type: r.token_type,
        has_refresh_token: r.refresh_token.is_some(),
    })
}
