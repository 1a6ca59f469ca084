//! Request extensibility and the extended cache key (MSAL's `atext` entries): extra body
//! parameters, `fmi_path` and forwarded client claims change the token a request gets,
//! so their tokens are cached under a key that carries a hash of them, and never mix
//! with tokens of plain requests.
//!
//! The hash is MSAL Python's (1.39) and MSAL Go's: every extra field with a non-empty
//! value, except the standard OAuth fields below, sorted by name, serialized as
//! `{byte length}:{name}{byte length}:{value}` each, concatenated, SHA-256, base64url
//! without padding, lower-cased. Forwarded client claims take part under the name
//! `client_claims` (they go on the wire inside `claims`).

use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Fields that never take part in the extended key: the standard ones every request of
/// some grant carries (MSAL Python's `_EXT_CACHE_KEY_EXCLUDED_FIELDS`). They are also the
/// names an extra body parameter may not take: the library sets them itself.
pub(crate) const EXCLUDED_FIELDS: [&str; 22] = [
    "client_id",
    "grant_type",
    "scope",
    "claims",
    "username",
    "password",
    "refresh_token",
    "code",
    "redirect_uri",
    "code_verifier",
    "device_code",
    "assertion",
    "requested_token_use",
    "client_assertion",
    "client_assertion_type",
    "client_secret",
    "token_type",
    "req_cnf",
    "key_id",
    "user_federated_identity_credential",
    "user_id",
    "client_info",
];

/// The pseudo-field forwarded client claims hash under.
pub(crate) const CLIENT_CLAIMS: &str = "client_claims";

/// The extended cache key of a request's extra fields; `None` when no field takes part
/// (then the token is cached under the plain key). A name given twice keeps its last value.
pub(crate) fn ext_cache_key<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let parts: BTreeMap<&str, &str> = fields
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && !EXCLUDED_FIELDS.contains(k))
        .collect();
    if parts.is_empty() {
        return None;
    }
    let mut input = String::new();
    for (k, v) in parts {
        input.push_str(&format!("{}:{k}{}:{v}", k.len(), v.len()));
    }
    Some(
        URL_SAFE_NO_PAD
            .encode(openssl::sha::sha256(input.as_bytes()))
            .to_lowercase(),
    )
}

/// A claims value given by the caller: a JSON object, or a clear error that does not
/// quote it (it may carry personal data).
pub(crate) fn parse_claims(what: &str, claims: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(claims) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::InvalidInput(format!("{what} is not a JSON object"))),
        Err(_) => Err(Error::InvalidInput(format!("{what} is not valid JSON"))),
    }
}

/// `overlay` merged into `base`: nested objects merged, anything else replaced by the overlay.
fn deep_merge(mut base: Map<String, Value>, overlay: Map<String, Value>) -> Map<String, Value> {
    for (k, v) in overlay {
        match (base.remove(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => {
                base.insert(k, Value::Object(deep_merge(b, o)));
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
    base
}

/// The `claims` parameter with forwarded client claims merged in, as MSAL Python merges
/// them: either alone as given, both deep-merged (client claims win) and serialized with
/// Python's separators.
pub(crate) fn merge_client_claims(
    claims: Option<String>,
    client_claims: Option<&str>,
) -> Result<Option<String>> {
    let Some(cc) = client_claims else {
        return Ok(claims);
    };
    let overlay = parse_claims("forwarded_client_claims", cc)?;
    let Some(base) = claims else {
        return Ok(Some(cc.to_string()));
    };
    let base = parse_claims("the claims challenge", &base)?;
    Ok(Some(crate::claims::python_json(&Value::Object(
        deep_merge(base, overlay),
    ))))
}

/// What a request's extensions add: body fields, forwarded client claims, and the
/// extended cache key they make.
/// No `Debug`: the values may be personal data or secrets.
#[derive(Clone, Default)]
pub(crate) struct Extensions {
    /// Sent on the wire after the grant's own fields.
    pub body: Vec<(String, String)>,
    /// Merged into `claims`.
    pub client_claims: Option<String>,
    /// `ext_cache_key` of the cached token.
    pub ext_cache_key: Option<String>,
}

impl Extensions {
    /// Checks and gathers `fmi_path`, extra body parameters and forwarded client claims.
    pub(crate) fn gather(
        fmi_path: Option<&str>,
        extra: &[(String, String)],
        client_claims: Option<&str>,
    ) -> Result<Extensions> {
        let mut body: Vec<(String, String)> = Vec::new();
        if let Some(p) = fmi_path {
            if p.trim().is_empty() {
                return Err(Error::InvalidInput("fmi_path is empty".into()));
            }
            body.push(("fmi_path".into(), p.to_string()));
        }
        for (k, v) in extra {
            if k.trim().is_empty() || k.contains(['&', '=']) {
                return Err(Error::InvalidInput(format!(
                    "`{k}` is not a usable body parameter name"
                )));
            }
            if EXCLUDED_FIELDS.contains(&k.as_str()) || k == CLIENT_CLAIMS {
                return Err(Error::InvalidInput(format!(
                    "`{k}` is set by the library; it cannot be an extra body parameter"
                )));
            }
            if body.iter().any(|(b, _)| b == k) {
                return Err(Error::InvalidInput(format!(
                    "the body parameter `{k}` is given twice"
                )));
            }
            body.push((k.clone(), v.clone()));
        }
        if let Some(cc) = client_claims {
            parse_claims("forwarded_client_claims", cc)?;
        }
        let key_fields = body
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(client_claims.map(|c| (CLIENT_CLAIMS, c)));
        Ok(Extensions {
            ext_cache_key: ext_cache_key(key_fields),
            body,
            client_claims: client_claims.map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_msal_pythons() {
        // The value recorded against MSAL Python 1.39 (protocol reference, section 7.8).
        assert_eq!(
            ext_cache_key([("fmi_path", "SomeFmiPath/FmiCredentialPath")]).as_deref(),
            Some("cojvfy5tzae3njpkvcebguvvx5vvmnj8hphqrbogjoi")
        );
        // Standard fields and empty values take no part; nothing left: no key.
        assert_eq!(ext_cache_key([("scope", "x"), ("fmi_path", "")]), None);
        assert_eq!(
            ext_cache_key([
                ("client_id", "c"),
                ("fmi_path", "SomeFmiPath/FmiCredentialPath")
            ]),
            ext_cache_key([("fmi_path", "SomeFmiPath/FmiCredentialPath")])
        );
        // Order does not matter; the length prefixes keep `fmi_path`+`value` apart from
        // `fmi_pat`+`hvalue`.
        assert_eq!(
            ext_cache_key([("b", "2"), ("a", "1")]),
            ext_cache_key([("a", "1"), ("b", "2")])
        );
        assert_ne!(
            ext_cache_key([("fmi_path", "value")]),
            ext_cache_key([("fmi_pat", "hvalue")])
        );
        // Byte lengths, not characters.
        let k = ext_cache_key([("fmi_path", "é")]).unwrap();
        assert_eq!(
            k,
            URL_SAFE_NO_PAD
                .encode(openssl::sha::sha256("8:fmi_path2:é".as_bytes()))
                .to_lowercase()
        );
    }

    #[test]
    fn extensions_are_checked() {
        assert!(Extensions::gather(Some(" "), &[], None).is_err());
        for bad in ["client_secret", "scope", "client_claims", "", "a=b"] {
            let extra = [(bad.to_string(), "v".to_string())];
            assert!(Extensions::gather(None, &extra, None).is_err(), "{bad}");
        }
        let twice = [("fmi_path".to_string(), "p".to_string())];
        assert!(Extensions::gather(Some("p"), &twice, None).is_err());
        assert!(Extensions::gather(None, &[], Some("[1]")).is_err());
        assert!(Extensions::gather(None, &[], Some("{")).is_err());
        let e = Extensions::gather(None, &[], Some(r#"{"access_token":{"x":1}}"#)).unwrap();
        assert!(e.body.is_empty());
        assert_eq!(
            e.ext_cache_key,
            ext_cache_key([("client_claims", r#"{"access_token":{"x":1}}"#)])
        );
        assert_eq!(
            Extensions::gather(None, &[], None).unwrap().ext_cache_key,
            None
        );
    }

    #[test]
    fn client_claims_merge_like_msal_python() {
        assert_eq!(merge_client_claims(None, None).unwrap(), None);
        assert_eq!(
            merge_client_claims(None, Some(r#"{"a":1}"#))
                .unwrap()
                .as_deref(),
            Some(r#"{"a":1}"#)
        );
        let merged = merge_client_claims(
            Some(r#"{"access_token": {"xms_cc": {"values": ["cp1"]}}}"#.into()),
            Some(r#"{"access_token":{"nbf":{"essential":true}},"id_token":{"x":null}}"#),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            merged,
            r#"{"access_token": {"xms_cc": {"values": ["cp1"]}, "nbf": {"essential": true}}, "id_token": {"x": null}}"#
        );
    }
}
