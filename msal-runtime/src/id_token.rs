//! JWTs signed by the authority: decoding, signature checks against its JWKS, lifetime
//! checks; and full validation of ID tokens for the authorization-code flow (issuer,
//! audience, nonce, `max_age`). Incoming access tokens of a web API (module `web_api`) use
//! the same decoding, keys and lifetime checks.

use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::{Map, Value};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub(crate) const SKEW_SECS: u64 = 300;

/// Which kind of token is being checked, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An ID token of the app's own sign-in.
    Id,
    /// An access token a web API received.
    Access,
}

impl TokenKind {
    fn label(self) -> &'static str {
        match self {
            TokenKind::Id => "ID token",
            TokenKind::Access => "access token",
        }
    }

    /// The signature algorithms accepted: ID tokens RS256 or PS256, access tokens RS256
    /// (what Entra signs them with). Never `none`, never a symmetric algorithm.
    fn algorithms(self) -> &'static [&'static str] {
        match self {
            TokenKind::Id => &["RS256", "PS256"],
            TokenKind::Access => &["RS256"],
        }
    }
}

fn b64(part: &str, kind: TokenKind) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| Error::Validation(format!("the {} is not base64url", kind.label())))
}

/// The header and claims of an ID token, without checking anything.
pub(crate) fn decode(jwt: &str) -> Result<(Map<String, Value>, Map<String, Value>)> {
    decode_as(jwt, TokenKind::Id)
}

/// The header and claims of a JWT, without checking anything.
pub(crate) fn decode_as(
    jwt: &str,
    kind: TokenKind,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let what = kind.label();
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Validation(format!(
            "the {what} is not a JWT (three dot-separated parts)"
        )));
    };
    let header: Value = serde_json::from_slice(&b64(h, kind)?)
        .map_err(|_| Error::Validation(format!("the {what} header is not JSON")))?;
    let claims: Value = serde_json::from_slice(&b64(c, kind)?)
        .map_err(|_| Error::Validation(format!("the {what} claims are not JSON")))?;
    match (header, claims) {
        (Value::Object(h), Value::Object(c)) => Ok((h, c)),
        _ => Err(Error::Validation(format!(
            "the {what} parts are not JSON objects"
        ))),
    }
}

/// The RSA keys of a JWKS document.
#[derive(Debug, Default, Clone)]
pub(crate) struct Jwks {
    keys: Vec<(Option<String>, PKey<Public>)>,
}

impl Jwks {
    pub(crate) fn parse(doc: &Value) -> Result<Jwks> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Validation("the JWKS document has no `keys`".into()))?;
        let mut out = Vec::new();
        for k in keys {
            if k.get("kty").and_then(Value::as_str) != Some("RSA") {
                continue;
            }
            if k.get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            let (Some(n), Some(e)) = (
                k.get("n").and_then(Value::as_str),
                k.get("e").and_then(Value::as_str),
            ) else {
                continue;
            };
            let (Ok(n), Ok(e)) = (b64(n, TokenKind::Id), b64(e, TokenKind::Id)) else {
                continue;
            };
            let key = BigNum::from_slice(&n)
                .and_then(|n| BigNum::from_slice(&e).map(|e| (n, e)))
                .and_then(|(n, e)| Rsa::from_public_components(n, e))
                .and_then(PKey::from_rsa);
            if let Ok(key) = key {
                out.push((
                    k.get("kid").and_then(Value::as_str).map(str::to_string),
                    key,
                ));
            }
        }
        Ok(Jwks { keys: out })
    }

    pub(crate) fn has_kid(&self, kid: Option<&str>) -> bool {
        kid.is_none() || self.keys.iter().any(|(k, _)| k.as_deref() == kid)
    }

    /// Checks the signature of an ID token with the key named by its `kid` (or any key).
    pub(crate) fn verify(&self, jwt: &str, header: &Map<String, Value>) -> Result<()> {
        self.verify_as(jwt, header, TokenKind::Id)
    }

    /// Checks the signature of a JWT with the key named by its `kid` (or any key).
    pub(crate) fn verify_as(
        &self,
        jwt: &str,
        header: &Map<String, Value>,
        kind: TokenKind,
    ) -> Result<()> {
        let what = kind.label();
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !kind.algorithms().contains(&alg) {
            return Err(Error::Validation(format!(
                "{what} algorithm `{alg}` is not accepted"
            )));
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let (signing_input, sig) = jwt
            .rsplit_once('.')
            .ok_or_else(|| Error::Validation(format!("the {what} is not a JWT")))?;
        let sig = b64(sig, kind)?;
        let candidates = self
            .keys
            .iter()
            .filter(|(k, _)| kid.is_none() || k.as_deref() == kid);
        for (_, key) in candidates {
            let Ok(mut v) = Verifier::new(MessageDigest::sha256(), key) else {
                continue;
            };
            let setup = if alg == "PS256" {
                v.set_rsa_padding(Padding::PKCS1_PSS)
                    .and_then(|_| v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH))
                    .and_then(|_| v.set_rsa_mgf1_md(MessageDigest::sha256()))
            } else {
                v.set_rsa_padding(Padding::PKCS1)
            };
            if setup.is_ok()
                && v.verify_oneshot(&sig, signing_input.as_bytes())
                    .unwrap_or(false)
            {
                return Ok(());
            }
        }
        Err(Error::Validation(format!(
            "the {what} signature does not verify with the authority's keys"
        )))
    }
}

/// What an ID token must match.
pub(crate) struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// Hex SHA-256 of the flow's raw nonce (what went into the authorize URL).
    pub nonce: Option<&'a str>,
    pub max_age: Option<u64>,
    pub now: u64,
}

pub(crate) fn time_claim(c: &Map<String, Value>, name: &str) -> Option<u64> {
    match c.get(name)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Checks `exp` (required), `nbf` and `iat` (when present) against `now`, with `skew`
/// seconds of tolerance either way.
pub(crate) fn check_lifetime(
    claims: &Map<String, Value>,
    now: u64,
    skew: u64,
    kind: TokenKind,
) -> Result<()> {
    let what = kind.label();
    let exp = time_claim(claims, "exp")
        .ok_or_else(|| Error::Validation(format!("the {what} has no `exp`")))?;
    if exp.saturating_add(skew) < now {
        return Err(Error::Validation(format!("the {what} has expired")));
    }
    for name in ["nbf", "iat"] {
        if time_claim(claims, name).is_some_and(|t| t > now.saturating_add(skew)) {
            return Err(Error::Validation(format!(
                "the {what} is not valid yet (`{name}` in the future)"
            )));
        }
    }
    Ok(())
}

/// Validates the claims of an ID token (the signature is checked separately).
pub(crate) fn check_claims(claims: &Map<String, Value>, want: &Expectations<'_>) -> Result<()> {
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    // Entra's multi-tenant metadata uses a `{tenantid}` placeholder in the issuer.
    let tid = s("tid").unwrap_or_default();
    let expected_iss = want.issuer.replace("{tenantid}", tid);
    let iss = s("iss").unwrap_or_default();
    if iss.trim_end_matches('/') != expected_iss.trim_end_matches('/') {
        return Err(Error::Validation(format!(
            "ID token issuer `{iss}` is not the authority's issuer `{expected_iss}`"
        )));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(want.client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(Error::Validation(
            "the ID token was issued to another audience".into(),
        ));
    }
    check_lifetime(claims, want.now, SKEW_SECS, TokenKind::Id)?;
    if let Some(expected) = want.nonce {
        if s("nonce") != Some(expected) {
            return Err(Error::Validation(
                "the ID token nonce does not match the flow (replayed or foreign response)".into(),
            ));
        }
    }
    if let Some(max_age) = want.max_age {
        let auth_time = time_claim(claims, "auth_time").ok_or_else(|| {
            Error::Validation("max_age was requested but the ID token has no `auth_time`".into())
        })?;
        if auth_time + max_age + 120 < want.now {
            return Err(Error::Validation(
                "the user signed in longer ago than max_age allows".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn want(now: u64) -> Expectations<'static> {
        Expectations {
            issuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
            client_id: "cid",
            nonce: Some("n1"),
            max_age: None,
            now,
        }
    }

    #[test]
    fn accepts_good_claims_with_tenant_placeholder() {
        let c = claims(
            json!({"iss": "https://login.microsoftonline.com/t1/v2.0", "tid": "t1", "aud": "cid", "exp": 2000, "iat": 1000, "nonce": "n1"}),
        );
        check_claims(&c, &want(1500)).unwrap();
    }

    #[test]
    fn rejects_each_bad_claim() {
        let good = json!({"iss": "https://login.microsoftonline.com/t1/v2.0", "tid": "t1", "aud": "cid", "exp": 2000, "iat": 1000, "nonce": "n1"});
        for (field, value, needle) in [
            ("iss", json!("https://evil/t1/v2.0"), "issuer"),
            ("aud", json!("other"), "audience"),
            ("exp", json!(100), "expired"),
            ("iat", json!(99_999), "not valid yet"),
            ("nonce", json!("n2"), "nonce"),
        ] {
            let mut c = good.clone();
            c[field] = value;
            let err = check_claims(&claims(c), &want(1500)).unwrap_err();
            assert!(err.to_string().contains(needle), "{field}: {err}");
        }
    }

    #[test]
    fn max_age_needs_a_recent_auth_time() {
        let base = json!({"iss": "https://login.microsoftonline.com/t1/v2.0", "tid": "t1", "aud": "cid", "exp": 20_000, "iat": 10_000, "nonce": "n1"});
        let mut w = want(10_000);
        w.max_age = Some(600);
        let err = check_claims(&claims(base.clone()), &w).unwrap_err();
        assert!(err.to_string().contains("auth_time"), "{err}");
        let mut recent = base.clone();
        recent["auth_time"] = json!(9_500);
        check_claims(&claims(recent), &w).unwrap();
        // MSAL Python's two minutes of skew.
        let mut edge = base.clone();
        edge["auth_time"] = json!(10_000 - 600 - 120);
        check_claims(&claims(edge), &w).unwrap();
        let mut old = base;
        old["auth_time"] = json!(10_000 - 600 - 121);
        let err = check_claims(&claims(old), &w).unwrap_err();
        assert!(err.to_string().contains("max_age"), "{err}");
    }

    #[test]
    fn garbage_tokens() {
        for jwt in ["", "a.b", "a.b.c.d", "!!!.e30.x", "e30.bm90IGpzb24.x"] {
            assert!(decode(jwt).is_err(), "{jwt}");
        }
    }
}
