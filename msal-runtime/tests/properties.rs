//! Property tests of the parsers of untrusted input in this crate: the token cache
//! deserializer (a cache file any MSAL library, a peer or an attacker wrote) and the
//! token-response parser (whatever the authority, or a proxy in front of it, answered).
//! Bounded (256 cases per property) so they run in seconds; the `fuzz/` targets
//! `cache_deserialize` and `token_response` explore the same entry points without a bound.

use msal_runtime::untrusted_input::{parse_token_response, MAX_TOKEN_LIFETIME_SECS};
use msal_runtime::{Error, TokenCache};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// 256 cases, or `PROPTEST_CASES` for a longer run.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Short floats that print and parse back exactly (a float's text form is not what is
/// under test here).
fn exact_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.5),
        Just(1.25),
        Just(-2.0e10),
        Just(3599.5),
        Just(1e300),
        Just(-0.75)
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_float().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An epoch as MSAL libraries write it (a string of digits), or as some do not.
fn epoch() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u64..4_000_000_000).prop_map(|n| Value::from(n.to_string())),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(|n| Value::from(n.to_string())),
        1 => Just(Value::from("-62135596800")),
        1 => json_value(),
    ]
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-zA-Z0-9._ -]{0,20}".prop_map(Value::from),
        1 => "\\PC{0,10}".prop_map(Value::from),
        1 => json_value(),
    ]
}

/// An entry of `section`: its fields (each sometimes missing or of another type) plus
/// fields of other libraries.
fn entry(section: &'static str) -> impl Strategy<Value = Value> {
    let fields: &'static [(&'static str, bool)] = match section {
        "AccessToken" => &[
            ("credential_type", false),
            ("secret", false),
            ("home_account_id", false),
            ("environment", false),
            ("client_id", false),
            ("target", false),
            ("realm", false),
            ("token_type", false),
            ("cached_at", true),
            ("expires_on", true),
            ("extended_expires_on", true),
            ("refresh_on", true),
            ("user_assertion_hash", false),
        ],
        "RefreshToken" => &[
            ("credential_type", false),
            ("secret", false),
            ("home_account_id", false),
            ("environment", false),
            ("client_id", false),
            ("target", false),
            ("last_modification_time", true),
            ("family_id", false),
        ],
        "IdToken" => &[
            ("credential_type", false),
            ("secret", false),
            ("home_account_id", false),
            ("environment", false),
            ("realm", false),
            ("client_id", false),
        ],
        "Account" => &[
            ("home_account_id", false),
            ("environment", false),
            ("realm", false),
            ("local_account_id", false),
            ("username", false),
            ("authority_type", false),
        ],
        _ => &[
            ("client_id", false),
            ("environment", false),
            ("family_id", false),
        ],
    };
    let values: Vec<_> = fields
        .iter()
        .map(|(name, is_epoch)| {
            let v = if *is_epoch {
                epoch().boxed()
            } else {
                text().boxed()
            };
            (Just(*name), prop::option::weighted(0.9, v))
        })
        .collect();
    (
        values,
        prop::collection::btree_map("x_[a-z]{1,6}", json_value(), 0..3),
    )
        .prop_map(|(values, extra)| {
            let mut m = Map::new();
            for (name, v) in values {
                if let Some(v) = v {
                    m.insert(name.to_string(), v);
                }
            }
            for (k, v) in extra {
                m.insert(k, v);
            }
            Value::Object(m)
        })
}

const SECTIONS: [&str; 5] = [
    "AccessToken",
    "RefreshToken",
    "IdToken",
    "Account",
    "AppMetadata",
];

/// A whole cache: the five sections (some missing), an unknown section, an unknown
/// top-level value.
fn cache_json() -> impl Strategy<Value = Value> {
    let sections: Vec<_> = SECTIONS
        .iter()
        .map(|s| {
            prop::option::weighted(
                0.85,
                prop::collection::btree_map("[a-z0-9.-]{1,30}", entry(s), 0..4),
            )
        })
        .collect();
    (
        sections,
        prop::option::of(prop::collection::btree_map(
            "[a-z]{1,6}",
            json_value(),
            0..3,
        )),
        prop::option::of(json_value()),
    )
        .prop_map(|(sections, unknown_section, unknown_value)| {
            let mut root = Map::new();
            for (name, entries) in SECTIONS.iter().zip(sections) {
                if let Some(entries) = entries {
                    root.insert(
                        name.to_string(),
                        Value::Object(entries.into_iter().collect()),
                    );
                }
            }
            if let Some(s) = unknown_section {
                root.insert(
                    "FutureSection".into(),
                    Value::Object(s.into_iter().collect()),
                );
            }
            if let Some(v) = unknown_value {
                root.insert("x_vendor_value".into(), v);
            }
            Value::Object(root)
        })
}

/// A number-ish JSON value for a lifetime field, and what the parser must make of it:
/// `Some(Some(n))` a lifetime of `n` seconds before clamping, `Some(None)` absent, `None`
/// refused.
fn lifetime() -> impl Strategy<Value = (Option<Value>, Option<Option<u64>>)> {
    prop_oneof![
        any::<u64>().prop_map(|n| (Some(Value::from(n)), Some(Some(n)))),
        any::<u64>().prop_map(|n| (Some(Value::from(n.to_string())), Some(Some(n)))),
        (1i64..i64::MAX).prop_map(|n| (Some(Value::from(-n)), None)),
        (1i64..i64::MAX).prop_map(|n| (Some(Value::from((-n).to_string())), None)),
        (
            0u64..1 << 40,
            prop_oneof![Just(0.25f64), Just(0.5), Just(0.75)]
        )
            .prop_map(|(n, frac)| (Some(json!(n as f64 + frac)), Some(Some(n)))),
        Just((Some(json!(1e300)), Some(Some(u64::MAX)))),
        Just((Some(json!("1e300")), Some(Some(u64::MAX)))),
        Just((Some(json!("NaN")), None)),
        Just((Some(json!("inf")), None)),
        Just((Some(json!("-0.5")), None)),
        Just((Some(json!(true)), None)),
        Just((Some(json!([1])), None)),
        Just((Some(Value::Null), Some(None))),
        Just((None, Some(None))),
        "[a-z ]{1,8}".prop_map(|s| (Some(Value::from(s)), None)),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_cache_deserializer_never_panics_on_any_text(s in "\\PC{0,200}") {
        let cache = TokenCache::new();
        if cache.deserialize(&s).is_ok() {
            // Whatever it accepted, it writes out in a form it reads back the same.
            let once = cache.serialize();
            let again = TokenCache::new();
            again.deserialize(&once).unwrap();
            prop_assert_eq!(again.serialize(), once);
        }
    }

    #[test]
    fn the_cache_deserializer_never_panics_on_any_json(v in json_value()) {
        let cache = TokenCache::new();
        let _ = cache.deserialize(&v.to_string());
        let _ = cache.access_tokens();
        let _ = cache.accounts();
    }

    #[test]
    fn a_cache_round_trips_losslessly_unknown_fields_included(root in cache_json()) {
        let cache = TokenCache::new();
        let text = serde_json::to_string_pretty(&root).unwrap();
        cache.deserialize(&text).unwrap();
        let out: Value = serde_json::from_str(&cache.serialize()).unwrap();
        prop_assert_eq!(&out, &root);
        // Entries that fit the schema are visible through the typed view.
        let typed = cache.access_tokens().len() + cache.refresh_tokens().len()
            + cache.id_tokens().len() + cache.accounts().len() + cache.app_metadata().len();
        let all: usize = SECTIONS
            .iter()
            .filter_map(|s| root.get(*s).and_then(Value::as_object))
            .map(Map::len)
            .sum();
        prop_assert!(typed <= all);
    }

    #[test]
    fn the_token_response_parser_never_panics_on_any_body(
        status in prop_oneof![Just(200u16), Just(400u16), Just(429u16), Just(500u16), any::<u16>()],
        body in prop::collection::vec(any::<u8>(), 0..300),
        retry_after in prop::option::of(any::<u64>()),
    ) {
        let _ = parse_token_response(status, retry_after, &body);
    }

    #[test]
    fn the_token_response_parser_never_panics_on_any_json(v in json_value()) {
        let _ = parse_token_response(200, None, v.to_string().as_bytes());
        let _ = parse_token_response(400, Some(5), v.to_string().as_bytes());
    }

    #[test]
    fn lifetimes_are_clamped_to_a_year_or_refused(
        expires_in in lifetime(),
        ext_expires_in in lifetime(),
        refresh_in in lifetime(),
        expires_on in prop::option::of(prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(|n| Value::from(n.to_string())),
            Just(json!(1e300)),
        ]),
        extra in prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..3),
    ) {
        let mut body: Map<String, Value> = extra.into_iter().collect();
        body.insert("access_token".into(), json!("eyJ0.eyJ0.c2ln"));
        body.remove("error");
        for (name, (value, _)) in [
            ("expires_in", &expires_in),
            ("ext_expires_in", &ext_expires_in),
            ("refresh_in", &refresh_in),
        ] {
            match value {
                Some(v) => drop(body.insert(name.into(), v.clone())),
                None => drop(body.remove(name)),
            }
        }
        match &expires_on {
            Some(v) => drop(body.insert("expires_on".into(), v.clone())),
            None => drop(body.remove("expires_on")),
        }
        let parsed = parse_token_response(200, None, Value::Object(body.clone()).to_string().as_bytes());
        let clamp = |n: u64| n.min(MAX_TOKEN_LIFETIME_SECS);
        let refused = [&expires_in, &ext_expires_in, &refresh_in].iter().any(|(_, want)| want.is_none());
        match parsed {
            Ok(p) => {
                prop_assert!(!refused, "accepted {:?}", body);
                prop_assert!(p.expires_in <= MAX_TOKEN_LIFETIME_SECS);
                if let Some(Some(n)) = expires_in.1 {
                    prop_assert_eq!(p.expires_in, clamp(n));
                }
                prop_assert_eq!(p.ext_expires_in, ext_expires_in.1.flatten().map(clamp));
                prop_assert_eq!(p.refresh_in, refresh_in.1.flatten().map(clamp));
            }
            Err(Error::InvalidResponse { .. }) => {
                // Refused: a field out of range, or no lifetime at all.
                let no_lifetime = expires_in.1 == Some(None);
                prop_assert!(refused || no_lifetime, "refused {:?}", body);
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?} for {body:?}"),
        }
    }

    #[test]
    fn error_statuses_are_typed_errors(
        status in 400u16..600,
        error in "[a-z_]{1,20}",
        description in "\\PC{0,40}",
        retry_after in prop::option::of(0u64..100_000),
    ) {
        let body = json!({"error": error, "error_description": description}).to_string();
        match parse_token_response(status, retry_after, body.as_bytes()) {
            Err(Error::Server(e)) => {
                prop_assert_eq!(e.status, status);
                prop_assert_eq!(&e.error, &error);
                prop_assert_eq!(e.retry_after, retry_after);
            }
            other => prop_assert!(false, "{other:?}"),
        }
        match parse_token_response(status, retry_after, b"<html>bad gateway</html>") {
            Err(e @ Error::Http { .. }) => prop_assert_eq!(e.status(), Some(status)),
            other => prop_assert!(false, "{other:?}"),
        }
    }
}
