//! Client authentication: client secrets and signed client assertions (certificates, SNI).

use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{PKey, Public};
use openssl::x509::{X509VerifyResult, X509};
use serde_json::Value;

use crate::certs::subject_cn;
use crate::state::{AppEntry, Shared};
use crate::tokens::{self, b64_decode_lenient, b64url_decode, numeric_claim};
use crate::wire::{format_timestamp, EntraError, Req};

/// The only client assertion type Entra accepts.
pub(crate) const JWT_BEARER_ASSERTION: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Allowed clock skew for `nbf`, like Entra's five minutes.
const SKEW_SECS: f64 = 300.0;

/// Authenticates the client of a token request.
///
/// `expected_auds` are the token endpoint URLs an assertion's `aud` may name (global host).
pub(crate) fn authenticate(
    shared: &Shared,
    req: &Req,
    app: &AppEntry,
    expected_auds: &[String],
) -> Result<(), EntraError> {
    if let Some(secret) = req.form_value("client_secret") {
        return check_secret(app, secret);
    }
    if let Some(assertion) = req.form_value("client_assertion") {
        if req.form_value("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(EntraError::new(
                400,
                "invalid_request",
                50027,
                format!("Invalid client_assertion_type; expected '{JWT_BEARER_ASSERTION}'."),
            ));
        }
        if let Some(result) =
            crate::managed_identity::federated_assertion(shared, &app.reg.client_id, assertion)
        {
            return result;
        }
        return verify_assertion(shared, app, assertion, expected_auds);
    }
    Err(EntraError::new(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or \
         'client_secret'.",
    ))
}

fn check_secret(app: &AppEntry, given: &str) -> Result<(), EntraError> {
    // Compare digests so neither the content nor the length of a registered secret leaks
    // through timing; every registered secret is compared.
    let digest = |s: &str| hash(MessageDigest::sha256(), s.as_bytes()).expect("sha256");
    let given = digest(given);
    let matched = app.reg.secrets.iter().fold(false, |acc, s| {
        acc | openssl::memcmp::eq(&digest(s), &given)
    });
    if matched {
        Ok(())
    } else {
        Err(EntraError::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{}'.",
                app.reg.client_id
            ),
        ))
    }
}

fn invalid_client(code: u32, text: impl Into<String>) -> EntraError {
    EntraError::new(401, "invalid_client", code, text)
}

fn verify_assertion(
    shared: &Shared,
    app: &AppEntry,
    assertion: &str,
    expected_auds: &[String],
) -> Result<(), EntraError> {
    let jwt = tokens::parse_jwt(assertion).map_err(|e| {
        invalid_client(50027, format!("JWT token is invalid or is malformed: {e}."))
    })?;
    let alg = jwt
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if alg != "RS256" && alg != "PS256" {
        return Err(invalid_client(
            5002738,
            format!("Invalid JWT token. '{alg}' is not a supported signature algorithm."),
        ));
    }
    let key = select_key(app, &jwt.header)?;
    let valid =
        tokens::verify_signature(alg, &key, jwt.signing_input, &jwt.signature).map_err(|e| {
            invalid_client(
                700027,
                format!("Client assertion failed signature validation: {e}."),
            )
        })?;
    if !valid {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature.",
        ));
    }

    let claims = &jwt.claims;
    if !aud_matches(shared, claims.get("aud"), expected_auds) {
        return Err(invalid_client(
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. Expected one of \
                 {expected_auds:?}, got {}.",
                claims.get("aud").unwrap_or(&Value::Null)
            ),
        ));
    }
    let client_id = app.reg.client_id.as_str();
    for name in ["iss", "sub"] {
        if claims.get(name).and_then(Value::as_str) != Some(client_id) {
            return Err(invalid_client(
                700021,
                format!("Client assertion application identifier doesn't match 'client_id' parameter ('{name}' claim)."),
            ));
        }
    }
    check_time_range(claims)?;
    if claims
        .get("jti")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid_client(
            50027,
            "Invalid JWT token. The token does not contain a 'jti' claim.",
        ));
    }
    Ok(())
}

fn check_time_range(claims: &Value) -> Result<(), EntraError> {
    let now = tokens::now() as f64;
    let exp = claims.get("exp").and_then(numeric_claim);
    let nbf =
        match claims.get("nbf") {
            None => None,
            Some(v) => Some(numeric_claim(v).ok_or_else(|| {
                invalid_client(50027, "Invalid JWT token. 'nbf' is not a number.")
            })?),
        };
    let ok = exp.is_some_and(|e| e > now) && nbf.is_none_or(|n| n <= now + SKEW_SECS);
    if ok {
        return Ok(());
    }
    let fmt = |t: Option<f64>| t.map_or("<missing>".to_string(), |t| format_timestamp(t as u64));
    Err(invalid_client(
        700024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion \
             valid from {}, expiry time of assertion {}.",
            format_timestamp(now as u64),
            fmt(nbf),
            fmt(exp)
        ),
    ))
}

/// Picks the public key the assertion must verify with: an `x5c` leaf that is registered or
/// issued by a trusted issuer, else a registered certificate named by `x5t#S256` / `x5t`.
fn select_key(app: &AppEntry, header: &Value) -> Result<PKey<Public>, EntraError> {
    let registered: Vec<X509> = app
        .reg
        .certificates
        .iter()
        .filter_map(|pem| X509::from_pem(pem).ok())
        .collect();

    if let Some(chain) = header.get("x5c").and_then(Value::as_array) {
        let chain: Vec<X509> = chain
            .iter()
            .filter_map(Value::as_str)
            .filter_map(b64_decode_lenient)
            .filter_map(|der| X509::from_der(&der).ok())
            .collect();
        if let Some(leaf) = chain.first() {
            if let Some(key) = x5c_key(app, &registered, leaf, &chain[1..]) {
                return Ok(key);
            }
        }
    }

    let by_thumbprint = |param: &str, md: MessageDigest| -> Option<PKey<Public>> {
        let wanted = b64url_decode(header.get(param)?.as_str()?)?;
        registered
            .iter()
            .find(|c| c.digest(md).is_ok_and(|d| *d == *wanted))
            .and_then(|c| c.public_key().ok())
    };
    by_thumbprint("x5t#S256", MessageDigest::sha256())
        .or_else(|| by_thumbprint("x5t", MessageDigest::sha1()))
        .ok_or_else(|| {
            invalid_client(
                700027,
                format!(
                    "The certificate with identifier used to sign the client assertion is not \
                     registered on application '{}'.",
                    app.reg.client_id
                ),
            )
        })
}

fn x5c_key(
    app: &AppEntry,
    registered: &[X509],
    leaf: &X509,
    intermediates: &[X509],
) -> Option<PKey<Public>> {
    let leaf_der = leaf.to_der().ok()?;
    if registered
        .iter()
        .any(|c| c.to_der().is_ok_and(|d| d == leaf_der))
    {
        return leaf.public_key().ok();
    }
    let cn = subject_cn(leaf)?;
    let now = openssl::asn1::Asn1Time::days_from_now(0).ok()?;
    if leaf.not_after() < now || leaf.not_before() > now {
        return None;
    }
    for (trusted_cn, ca_pem) in &app.reg.trusted_issuers {
        if !trusted_cn.eq_ignore_ascii_case(&cn) {
            continue;
        }
        let Ok(ca) = X509::from_pem(ca_pem) else {
            continue;
        };
        if chains_to(leaf, intermediates, &ca) {
            return leaf.public_key().ok();
        }
    }
    None
}

/// Whether `cert` is signed by `ca`, directly or through the given intermediates (in order).
fn chains_to(cert: &X509, intermediates: &[X509], ca: &X509) -> bool {
    let signed_by = |child: &X509, parent: &X509| {
        parent.issued(child) == X509VerifyResult::OK
            && parent
                .public_key()
                .and_then(|k| child.verify(&k))
                .unwrap_or(false)
    };
    let mut current = cert;
    let mut rest = intermediates.iter();
    loop {
        if signed_by(current, ca) {
            return true;
        }
        match rest.next() {
            Some(next) if signed_by(current, next) => current = next,
            _ => return false,
        }
    }
}

/// Whether an `aud` claim (string or array) names one of the expected endpoints, comparing
/// scheme, host (regional prefix mapped to the global host), port and path.
fn aud_matches(shared: &Shared, aud: Option<&Value>, expected: &[String]) -> bool {
    let auds: Vec<&str> = match aud {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    let expected: Vec<_> = expected
        .iter()
        .filter_map(|e| normalize_url(shared, e))
        .collect();
    auds.iter()
        .filter_map(|a| normalize_url(shared, a))
        .any(|a| expected.contains(&a))
}

fn normalize_url(shared: &Shared, s: &str) -> Option<(String, String, u16, String)> {
    let url = url::Url::parse(s).ok()?;
    let host = shared.global_host(&crate::state::authority_host(url.host_str()?));
    let path = url.path().trim_end_matches('/').to_ascii_lowercase();
    Some((
        url.scheme().to_string(),
        host,
        url.port_or_known_default()?,
        path,
    ))
}
