//! The token-response parser: any status and body never panic; an accepted answer's
//! lifetimes are at most a year.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msal_runtime::untrusted_input::{parse_token_response, MAX_TOKEN_LIFETIME_SECS};

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) % 600, rest),
        _ => (200, data),
    };
    let retry_after = body.first().map(|b| u64::from(*b) * 7);
    if let Ok(p) = parse_token_response(status, retry_after, body) {
        assert!(p.expires_in <= MAX_TOKEN_LIFETIME_SECS);
        assert!(p.ext_expires_in.unwrap_or(0) <= MAX_TOKEN_LIFETIME_SECS);
        assert!(p.refresh_in.unwrap_or(0) <= MAX_TOKEN_LIFETIME_SECS);
        assert!(
            status < 400,
            "a token accepted from an error status {status}"
        );
    }
});
