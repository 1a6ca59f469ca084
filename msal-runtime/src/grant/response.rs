//! Parsing token-endpoint answers leniently where Entra and ADFS differ, strictly where it matters.

use crate::cache::store::MAX_TOKEN_LIFETIME_SECS;
use crate::error::{Error, HttpErrorKind, Result, ServerError};
use crate::http::HttpResponse;
use serde_json::{Map, Value};

/// A successful token response.
#[derive(Clone)]
pub(crate) struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub ext_expires_in: Option<u64>,
    pub refresh_in: Option<u64>,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub client_info: Option<String>,
    pub foci: Option<String>,
    /// Every field as it came, for [`AuthenticationResult::raw_response`](crate::AuthenticationResult::raw_response).
    pub raw: crate::result::RawResponse,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A non-negative number given as a JSON number or a numeric string (ADFS sends strings):
/// integers, fractions (rounded down) and exponents (`1e300`) are read without overflow,
/// saturating at `u64::MAX`; negative, non-finite and non-numeric values are refused.
fn number(obj: &Map<String, Value>, name: &str, url: &str) -> Result<Option<u64>> {
    let from_f64 = |f: f64| (f.is_finite() && f >= 0.0).then_some(f as u64);
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(from_f64))
            .map(Some)
            .ok_or_else(|| {
                Error::invalid_response(url, format!("`{name}` is not a positive number"))
            }),
        Some(Value::String(s)) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(from_f64))
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid_response(url, format!("`{name}` is not a number of seconds"))
                })
        }
        Some(_) => Err(Error::invalid_response(
            url,
            format!("`{name}` is neither a number nor a string"),
        )),
    }
}

/// A lifetime in seconds, clamped to [`MAX_TOKEN_LIFETIME_SECS`].
fn seconds(obj: &Map<String, Value>, name: &str, url: &str) -> Result<Option<u64>> {
    Ok(number(obj, name, url)?.map(|s| s.min(MAX_TOKEN_LIFETIME_SECS)))
}

pub(crate) fn parse(url: &str, resp: &HttpResponse) -> Result<TokenResponse> {
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    if let Some(mut err) = body
        .as_ref()
        .and_then(|b| ServerError::from_json(resp.status, b))
    {
        err.retry_after = resp.retry_after;
        return Err(err.into());
    }
    if resp.status >= 400 {
        return Err(Error::Http {
            url: crate::error::strip_query(url),
            status: Some(resp.status),
            kind: HttpErrorKind::Status,
            detail: format!("HTTP status {} without an OAuth error", resp.status),
            source: None,
        });
    }
    let Some(Value::Object(obj)) = body else {
        return Err(Error::invalid_response(
            url,
            if resp.body.is_empty() {
                "the body is empty"
            } else {
                "the body is not a JSON object"
            },
        ));
    };
    let string = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_string);
    let access_token = string("access_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid_response(url, "the response has no `access_token`"))?;
    let expires_in = match seconds(&obj, "expires_in", url)? {
        Some(s) => s,
        None => match number(&obj, "expires_on", url)? {
            Some(on) => on
                .saturating_sub(crate::cache::store::CacheData::now())
                .min(MAX_TOKEN_LIFETIME_SECS),
            None => {
                return Err(Error::invalid_response(
                    url,
                    "the response has no `expires_in`",
                ))
            }
        },
    };
    Ok(TokenResponse {
        access_token,
        token_type: string("token_type").unwrap_or_else(|| "Bearer".into()),
        expires_in,
        ext_expires_in: seconds(&obj, "ext_expires_in", url)?,
        refresh_in: seconds(&obj, "refresh_in", url)?,
        scope: string("scope"),
        refresh_token: string("refresh_token"),
        id_token: string("id_token"),
        client_info: string("client_info"),
        foci: string("foci"),
        raw: crate::result::RawResponse::new(obj),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn expires_in_as_string_is_accepted() {
        let r = parse(
            "u",
            &resp(
                200,
                r#"{"access_token":"a","expires_in":"3599","token_type":"bearer"}"#,
            ),
        )
        .unwrap();
        assert_eq!(r.expires_in, 3599);
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        for (body, needle) in [
            (r#"{"token_type":"Bearer","expires_in":1}"#, "access_token"),
            (r#"{"access_token":"a"}"#, "expires_in"),
            (r#"{"access_token":"a","expires_in":"soon"}"#, "expires_in"),
            (r#"{"access_token":"a","expires_in":-5}"#, "expires_in"),
            ("<html>oops</html>", "not a JSON object"),
            ("", "empty"),
            ("[1]", "not a JSON object"),
        ] {
            let err = parse("https://x/token?q=1", &resp(200, body)).unwrap_err();
            assert!(
                matches!(err, Error::InvalidResponse { .. }),
                "{body}: {err}"
            );
            assert!(err.to_string().contains(needle), "{body}: {err}");
            assert!(!err.to_string().contains("q=1"));
        }
    }

    #[test]
    fn oauth_errors_keep_server_fields() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t","error_codes":[7000215],"correlation_id":"c","trace_id":"t","timestamp":"ts"}"#;
        let err = parse("u", &resp(401, body)).unwrap_err();
        let s = err.server().unwrap();
        assert_eq!(s.error, "invalid_client");
        assert_eq!(s.error_codes, vec![7000215]);
        assert_eq!(s.correlation_id.as_deref(), Some("c"));
        assert!(err.to_string().contains("AADSTS7000215"));
    }

    #[test]
    fn status_without_oauth_body() {
        let err = parse("u", &resp(502, "<html>bad gateway</html>")).unwrap_err();
        assert!(matches!(
            err,
            Error::Http {
                status: Some(502),
                ..
            }
        ));
        assert!(err.is_retryable());
    }

    #[test]
    fn hostile_lifetimes_are_clamped_or_refused_per_field() {
        use crate::cache::store::MAX_TOKEN_LIFETIME_SECS as MAX;
        for field in ["expires_in", "ext_expires_in", "refresh_in"] {
            let get = |r: &TokenResponse| match field {
                "expires_in" => Some(r.expires_in),
                "ext_expires_in" => r.ext_expires_in,
                _ => r.refresh_in,
            };
            for (raw, want) in [
                ("18446744073709551615", Some(MAX)),
                ("\"18446744073709551615\"", Some(MAX)),
                ("1e300", Some(MAX)),
                ("\"1e300\"", Some(MAX)),
                ("3599.9", Some(3599)),
                ("\"3599.9\"", Some(3599)),
                ("-1", None),
                ("\"-1\"", None),
                ("-1e300", None),
                ("\"NaN\"", None),
                ("\"inf\"", None),
                ("\"soon\"", None),
                ("[1]", None),
            ] {
                let extra = if field == "expires_in" {
                    String::new()
                } else {
                    r#","expires_in":60"#.to_string()
                };
                let body = format!(r#"{{"access_token":"a"{extra},"{field}":{raw}}}"#);
                match (parse("u", &resp(200, &body)), want) {
                    (Ok(r), Some(w)) => assert_eq!(get(&r), Some(w), "{field}={raw}"),
                    (Err(e), None) => {
                        assert!(matches!(e, Error::InvalidResponse { .. }), "{field}={raw}");
                        assert!(e.to_string().contains(field), "{field}={raw}: {e}");
                    }
                    (other, _) => panic!("{field}={raw}: {:?}", other.map(|r| get(&r))),
                }
            }
        }
    }

    #[test]
    fn a_huge_expires_on_is_clamped_and_a_past_one_is_zero() {
        use crate::cache::store::MAX_TOKEN_LIFETIME_SECS as MAX;
        for raw in ["18446744073709551615", "1e300", "\"1e300\""] {
            let body = format!(r#"{{"access_token":"a","expires_on":{raw}}}"#);
            assert_eq!(parse("u", &resp(200, &body)).unwrap().expires_in, MAX);
        }
        let r = parse(
            "u",
            &resp(200, r#"{"access_token":"a","expires_on":"5.5"}"#),
        )
        .unwrap();
        assert_eq!(r.expires_in, 0);
        assert!(parse("u", &resp(200, r#"{"access_token":"a","expires_on":-5}"#)).is_err());
    }
}
