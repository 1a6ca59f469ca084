//! JWT helpers: the authority's signing key, compact JWS encoding and signature checks.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::{json, Value};

use crate::certs::{self, TestCert};

/// Base64url without padding, as JWTs use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without `=` padding (clients differ: MSAL Python pads `x5t`).
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Decodes standard base64, ignoring embedded line breaks (MSAL Python's `x5c` keeps them).
pub(crate) fn b64_decode_lenient(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A numeric date claim: JSON integer, float or numeric string are all accepted, like Entra does.
pub(crate) fn numeric_claim(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A compact JWS split into its parts.
pub(crate) struct ParsedJwt<'a> {
    pub header: Value,
    pub claims: Value,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS without checking anything else.
pub(crate) fn parse_jwt(jwt: &str) -> Result<ParsedJwt<'_>, String> {
    let jwt = jwt.trim();
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS (expected three dot-separated parts)".into());
    };
    let decode_json = |part: &str, what: &str| -> Result<Value, String> {
        let bytes = b64url_decode(part).ok_or_else(|| format!("{what} is not base64url"))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| format!("{what} is not JSON"))?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(format!("{what} is not a JSON object"))
        }
    };
    Ok(ParsedJwt {
        header: decode_json(h, "header")?,
        claims: decode_json(p, "payload")?,
        signing_input: &jwt[..h.len() + 1 + p.len()],
        signature: b64url_decode(s).ok_or("signature is not base64url")?,
    })
}

/// Checks an RS256 (PKCS#1 v1.5) or PS256 (PSS, MGF1-SHA-256, salt 32) signature.
pub(crate) fn verify_signature<T: HasPublic>(
    alg: &str,
    key: &PKeyRef<T>,
    signing_input: &str,
    signature: &[u8],
) -> Result<bool, String> {
    let run = || -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(MessageDigest::sha256(), key)?;
        if alg == "PS256" {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32))?;
            v.set_rsa_mgf1_md(MessageDigest::sha256())?;
        } else {
            v.set_rsa_padding(Padding::PKCS1)?;
        }
        v.update(signing_input.as_bytes())?;
        // OpenSSL reports a bad signature as an error on some paths; both mean "not valid".
        Ok(v.verify(signature).unwrap_or(false))
    };
    match alg {
        "RS256" | "PS256" => run().map_err(|e| e.to_string()),
        other => Err(format!("unsupported alg {other:?}")),
    }
}

/// Signs `header.claims` with RS256.
pub(crate) fn sign_rs256(key: &PKey<Private>, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), key).expect("signer");
    signer.set_rsa_padding(Padding::PKCS1).expect("padding");
    signer.update(input.as_bytes()).expect("sign");
    let sig = signer.sign_to_vec().expect("sign");
    format!("{input}.{}", b64url(&sig))
}

/// The authority's token signing key, published in the JWKS.
pub(crate) struct SigningKey {
    cert: TestCert,
    key: PKey<Private>,
    /// Key id; like Entra, equal to the base64url SHA-1 thumbprint of the key's certificate.
    pub kid: String,
}

impl SigningKey {
    pub(crate) fn generate(cn: &str) -> Self {
        let cert = certs::self_signed(cn);
        let key = cert.private_key();
        let sha1 = cert.x509().digest(MessageDigest::sha1()).expect("sha1");
        SigningKey {
            kid: b64url(&sha1),
            key,
            cert,
        }
    }

    /// Signs claims as an RS256 JWT with this key's `kid`/`x5t`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        sign_rs256(&self.key, &header, claims)
    }

    /// Verifies an RS256 JWT signed by this key and returns its claims (no time checks).
    pub(crate) fn verify(&self, jwt: &str) -> Result<Value, String> {
        let parsed = parse_jwt(jwt)?;
        if parsed.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("alg is not RS256".into());
        }
        if parsed.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
            return Err("kid does not name this authority's key".into());
        }
        if !verify_signature("RS256", &self.key, parsed.signing_input, &parsed.signature)? {
            return Err("signature does not verify".into());
        }
        Ok(parsed.claims)
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self, issuer: &str) -> Value {
        let rsa = self.key.rsa().expect("RSA key");
        let der = self.cert.x509().to_der().expect("DER");
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(&rsa.n().to_vec()),
            "e": b64url(&rsa.e().to_vec()),
            "x5c": [STANDARD.encode(der)],
            "issuer": issuer,
        })
    }
}

/// Checks `exp` (must be in the future) and, when present, `nbf` (with skew).
pub(crate) fn check_time(claims: &Value, skew: f64) -> Result<(), String> {
    let now = now() as f64;
    let exp = claims
        .get("exp")
        .and_then(numeric_claim)
        .ok_or("missing or non-numeric exp")?;
    if exp <= now {
        return Err("token is expired".into());
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = numeric_claim(nbf).ok_or("non-numeric nbf")?;
        if nbf > now + skew {
            return Err("token is not yet valid".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let k = SigningKey::generate("t");
        let jwt = k.sign(&json!({"a": 1}));
        assert_eq!(k.verify(&jwt).unwrap()["a"], 1);
        let mut tampered = jwt.clone();
        tampered.insert(tampered.len() - 3, 'x');
        assert!(k.verify(&tampered).is_err());
        let other = SigningKey::generate("u");
        assert!(other.verify(&jwt).is_err());
    }

    #[test]
    fn padded_and_unpadded_base64url() {
        assert_eq!(b64url_decode("YQ==").unwrap(), b"a");
        assert_eq!(b64url_decode("YQ").unwrap(), b"a");
        assert_eq!(b64_decode_lenient("YW\nJj").unwrap(), b"abc");
    }

    #[test]
    fn numeric_claims() {
        assert_eq!(numeric_claim(&json!(5)), Some(5.0));
        assert_eq!(numeric_claim(&json!(5.5)), Some(5.5));
        assert_eq!(numeric_claim(&json!("7")), Some(7.0));
        assert_eq!(numeric_claim(&json!(true)), None);
    }
}
