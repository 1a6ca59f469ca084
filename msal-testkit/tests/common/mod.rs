//! Helpers shared by the integration tests.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use msal_testkit::certs::TestCert;
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "a0b1c2d3-0000-4000-8000-00000000c11e";
pub const SECRET: &str = "s3cr3t~value";
pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Which header names the certificate.
pub enum KeyRef {
    /// RS256 with padded base64url SHA-1 `x5t` (MSAL Python's thumbprint form).
    X5t,
    /// PS256 with unpadded base64url SHA-256 `x5t#S256`.
    X5tS256,
    /// PS256 with `x5c` (PEM bodies with line breaks, as MSAL Python sends) + `x5t#S256`.
    X5c(Vec<Vec<u8>>),
}

pub fn assertion(cert: &TestCert, key_ref: KeyRef, claims: &Value) -> String {
    let x509 = cert.x509();
    let (alg, header) = match key_ref {
        KeyRef::X5t => {
            let sha1 = x509.digest(MessageDigest::sha1()).unwrap();
            (
                "RS256",
                json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE.encode(sha1)}),
            )
        }
        KeyRef::X5tS256 => {
            let sha256 = x509.digest(MessageDigest::sha256()).unwrap();
            (
                "PS256",
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(sha256)}),
            )
        }
        KeyRef::X5c(pems) => {
            let sha256 = x509.digest(MessageDigest::sha256()).unwrap();
            let x5c: Vec<String> = pems.iter().map(|p| pem_body(p)).collect();
            (
                "PS256",
                json!({"alg": "PS256", "typ": "JWT", "x5c": x5c, "x5t#S256": URL_SAFE.encode(sha256)}),
            )
        }
    };
    sign(cert, alg, &header, claims)
}

pub fn sign(cert: &TestCert, alg: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = cert.private_key();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    if alg == "PS256" {
        signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        signer
            .set_rsa_pss_saltlen(RsaPssSaltlen::custom(32))
            .unwrap();
        signer.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    }
    signer.update(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    )
}

/// The base64 body of a PEM certificate, keeping its line breaks (MSAL Python's x5c form).
pub fn pem_body(pem: &[u8]) -> String {
    let text = String::from_utf8_lossy(pem);
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let joined = body.join("\n");
    // Sanity: it really is the DER.
    assert!(STANDARD.decode(joined.replace('\n', "")).is_ok());
    joined
}

pub fn standard_claims(aud: &str) -> Value {
    let now = now() as f64 + 0.25;
    json!({
        "aud": aud,
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "iat": now,
        "exp": now + 600.0,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = client.post(url).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap();
    (status, body)
}

pub fn error_code(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or_default()
}
