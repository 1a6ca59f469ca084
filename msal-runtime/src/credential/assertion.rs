//! Client-assertion JWTs (RFC 7523), signed with OpenSSL: PS256 with `x5t#S256` for
//! Entra, RS256 with `x5t` for ADFS or when only a SHA-1 thumbprint is known.

use super::Certificate;
use crate::error::{Error, Result};
use crate::secret::Assertion;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What an [async assertion callback](crate::ClientCredential::assertion_callback_async)
/// returns, boxed.
pub type AssertionFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String>> + Send + 'static>>;

/// An async assertion callback, boxed.
pub(crate) type AsyncAssertionFn = dyn Fn(super::AssertionContext) -> AssertionFuture + Send + Sync;

/// Assertions live 10 minutes and are reused for 9, like MSAL.
const LIFETIME_SECS: u64 = 600;
const REUSE_FOR: Duration = Duration::from_secs(540);

/// Signs and caches the assertion of one application.
#[derive(Debug, Default)]
pub(crate) struct AssertionCache {
    cached: Mutex<Option<(String, SystemTime, Assertion)>>,
}

impl AssertionCache {
    /// An assertion for `aud`, reused while it is fresh when `reuse` is set.
    ///
    /// Entra accepts one assertion many times; generic OpenID providers follow RFC 7523
    /// section 3 strictly and reject a `jti` they have seen, so for them every request
    /// gets a fresh assertion.
    pub(crate) fn get(
        &self,
        cert: &Certificate,
        client_id: &str,
        aud: &str,
        use_rs256: bool,
        client_claims: &Map<String, Value>,
        reuse: bool,
    ) -> Result<Assertion> {
        self.get_at(
            cert,
            client_id,
            aud,
            use_rs256,
            client_claims,
            reuse,
            SystemTime::now(),
        )
    }

    /// [`get`](Self::get) at a given time (the clock is a parameter for the tests).
    #[allow(clippy::too_many_arguments)]
    fn get_at(
        &self,
        cert: &Certificate,
        client_id: &str,
        aud: &str,
        use_rs256: bool,
        client_claims: &Map<String, Value>,
        reuse: bool,
        now: SystemTime,
    ) -> Result<Assertion> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_aud, made, assertion)) = cached.as_ref() {
            if reuse
                && cached_aud == aud
                && now.duration_since(*made).unwrap_or(REUSE_FOR) < REUSE_FOR
            {
                return Ok(assertion.clone());
            }
        }
        let assertion = sign(cert, client_id, aud, use_rs256, client_claims, now)?;
        *cached = Some((aud.to_string(), now, assertion.clone()));
        Ok(assertion)
    }
}

fn sign(
    cert: &Certificate,
    client_id: &str,
    aud: &str,
    use_rs256: bool,
    client_claims: &Map<String, Value>,
    now: SystemTime,
) -> Result<Assertion> {
    let pss = !use_rs256 && cert.sha256.is_some();
    // Header keys in sorted order, compact, like MSAL Python (PyJWT).
    let mut header = Map::new();
    header.insert(
        "alg".into(),
        Value::from(if pss { "PS256" } else { "RS256" }),
    );
    header.insert("typ".into(), Value::from("JWT"));
    if cert.send_x5c && !cert.chain.is_empty() {
        // RFC 7515: standard base64 of each DER certificate, leaf first.
        let x5c: Vec<Value> = cert
            .chain
            .iter()
            .map(|der| Value::from(STANDARD.encode(der)))
            .collect();
        header.insert("x5c".into(), Value::Array(x5c));
    }
    match (pss, &cert.sha256) {
        // Thumbprints keep their `=` padding, as MSAL sends them.
        (true, Some(sha256)) => {
            header.insert("x5t#S256".into(), Value::from(URL_SAFE.encode(sha256)))
        }
        _ => header.insert("x5t".into(), Value::from(URL_SAFE.encode(&cert.sha1))),
    };
    let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut claims = Map::new();
    claims.insert("aud".into(), Value::from(aud));
    claims.insert("iss".into(), Value::from(client_id));
    claims.insert("sub".into(), Value::from(client_id));
    claims.insert("exp".into(), Value::from(iat + LIFETIME_SECS));
    claims.insert("iat".into(), Value::from(iat));
    claims.insert("nbf".into(), Value::from(iat));
    claims.insert("jti".into(), Value::from(uuid::Uuid::new_v4().to_string()));
    for (k, v) in client_claims {
        claims.insert(k.clone(), v.clone());
    }
    let encode =
        |m: &Map<String, Value>| URL_SAFE_NO_PAD.encode(Value::Object(m.clone()).to_string());
    let signing_input = format!("{}.{}", encode(&header), encode(&claims));
    let sign_err = |e: openssl::error::ErrorStack| {
        Error::credential_from("signing the client assertion failed", e)
    };
    let mut signer = Signer::new(MessageDigest::sha256(), &cert.key).map_err(sign_err)?;
    if pss {
        signer
            .set_rsa_padding(Padding::PKCS1_PSS)
            .map_err(sign_err)?;
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .map_err(sign_err)?;
        signer
            .set_rsa_mgf1_md(MessageDigest::sha256())
            .map_err(sign_err)?;
    } else {
        signer.set_rsa_padding(Padding::PKCS1).map_err(sign_err)?;
    }
    let signature = signer
        .sign_oneshot_to_vec(signing_input.as_bytes())
        .map_err(sign_err)?;
    Ok(Assertion::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use std::sync::Arc;

    fn cert() -> Certificate {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        Certificate {
            key: Arc::new(key),
            chain: vec![vec![1, 2, 3]],
            sha1: vec![0xca; 20],
            sha256: Some(vec![0x2b; 32]),
            send_x5c: false,
        }
    }

    fn parts(a: &Assertion) -> (Value, Value) {
        let mut it = a.secret().split('.');
        let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        let c = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
        (
            serde_json::from_slice(&h).unwrap(),
            serde_json::from_slice(&c).unwrap(),
        )
    }

    #[test]
    fn ps256_with_padded_sha256_thumbprint() {
        let a = sign(
            &cert(),
            "cid",
            "https://x/t/oauth2/v2.0/token",
            false,
            &Map::new(),
            SystemTime::now(),
        )
        .unwrap();
        let (h, c) = parts(&a);
        assert_eq!(h["alg"], "PS256");
        assert_eq!(h["typ"], "JWT");
        assert_eq!(h["x5t#S256"].as_str().unwrap().len(), 44);
        assert!(h.get("x5t").is_none() && h.get("x5c").is_none());
        assert_eq!(c["iss"], "cid");
        assert_eq!(c["sub"], "cid");
        assert_eq!(c["aud"], "https://x/t/oauth2/v2.0/token");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 600);
    }

    #[test]
    fn rs256_x5t_and_x5c_and_client_claims() {
        let mut claims = Map::new();
        claims.insert("xms_extra".into(), Value::from("v"));
        claims.insert("exp".into(), Value::from(1));
        let a = sign(
            &cert().send_x5c(true),
            "cid",
            "aud",
            true,
            &claims,
            SystemTime::now(),
        )
        .unwrap();
        let (h, c) = parts(&a);
        assert_eq!(h["alg"], "RS256");
        assert_eq!(h["x5t"], "ysrKysrKysrKysrKysrKysrKyso=");
        assert_eq!(h["x5c"][0], "AQID");
        assert_eq!(c["xms_extra"], "v");
        assert_eq!(c["exp"], 1);
    }

    #[test]
    fn reused_for_same_audience() {
        let cache = AssertionCache::default();
        let c = cert();
        let a = cache
            .get(&c, "cid", "aud1", false, &Map::new(), true)
            .unwrap();
        let b = cache
            .get(&c, "cid", "aud1", false, &Map::new(), true)
            .unwrap();
        let d = cache
            .get(&c, "cid", "aud2", false, &Map::new(), true)
            .unwrap();
        assert_eq!(a.secret(), b.secret());
        assert_ne!(a.secret(), d.secret());
    }

    #[test]
    fn renewed_after_540_seconds() {
        let cache = AssertionCache::default();
        let c = cert();
        let t0 = SystemTime::now();
        let at = |secs: u64| {
            cache
                .get_at(
                    &c,
                    "cid",
                    "aud1",
                    false,
                    &Map::new(),
                    true,
                    t0 + Duration::from_secs(secs),
                )
                .unwrap()
        };
        let first = at(0);
        assert_eq!(at(539).secret(), first.secret(), "reused for 9 minutes");
        let renewed = at(540);
        assert_ne!(renewed.secret(), first.secret(), "renewed at 540 s");
        let (_, c0) = parts(&first);
        let (_, c1) = parts(&renewed);
        assert_eq!(
            c1["iat"].as_u64().unwrap() - c0["iat"].as_u64().unwrap(),
            540
        );
        assert_eq!(at(541).secret(), renewed.secret(), "and reused again");
    }

    #[test]
    fn fresh_each_time_without_reuse() {
        let cache = AssertionCache::default();
        let c = cert();
        let a = cache
            .get(&c, "cid", "aud1", false, &Map::new(), false)
            .unwrap();
        let b = cache
            .get(&c, "cid", "aud1", false, &Map::new(), false)
            .unwrap();
        assert_ne!(a.secret(), b.secret(), "a new jti each time");
    }
}
