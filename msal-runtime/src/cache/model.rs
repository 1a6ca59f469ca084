//! The MSAL unified cache schema: the five entry types, as every MSAL library writes them.
//!
//! Times are epoch seconds written as decimal strings (MSAL's format); numbers are
//! accepted on read. Fields this library does not know are kept and written back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Serde helpers for MSAL's "epoch seconds as a string" fields, and the rules they
/// apply (shared with the store's streaming reader, so both read a time alike).
pub(crate) mod epoch {
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::fmt;

    /// A time as written: a string, or a number (non-negative, negative or fractional).
    enum Raw {
        S(String),
        U(u64),
        I,
        F(f64),
    }

    impl<'de> Deserialize<'de> for Raw {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl de::Visitor<'_> for V {
                type Value = Raw;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("epoch seconds (a string or a number)")
                }
                fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                    Ok(Raw::S(v.to_string()))
                }
                fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                    Ok(Raw::S(v))
                }
                fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                    Ok(Raw::U(v))
                }
                fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                    Ok(u64::try_from(v).map_or(Raw::I, Raw::U))
                }
                fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                    Ok(Raw::F(v))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// Epoch seconds from their text: decimal digits, or a finite non-negative decimal
    /// fraction (truncated), white space around ignored.
    pub(crate) fn of_str(s: &str) -> Option<u64> {
        let s = s.trim();
        s.parse::<u64>()
            .ok()
            .or_else(|| s.parse::<f64>().ok().and_then(of_f64))
    }

    /// Epoch seconds from a JSON number that is not a non-negative integer.
    pub(crate) fn of_f64(f: f64) -> Option<u64> {
        (f.is_finite() && f >= 0.0).then_some(f as u64)
    }

    /// Whether an optional time's text means "not known": blank, or a negative number
    /// (MSAL.NET writes .NET's minimum date, `-62135596800`, for an unknown extended
    /// expiry).
    pub(crate) fn unknown_str(s: &str) -> bool {
        let s = s.trim();
        s.is_empty() || (s.starts_with('-') && s.parse::<f64>().is_ok())
    }

    /// Whether a time's text is exactly as this library writes it: the decimal digits of
    /// a `u64`, no sign, no leading zero, nothing else.
    pub(crate) fn canonical(s: &str) -> bool {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s.len() == 1 || !s.starts_with('0'))
            && s.parse::<u64>().is_ok()
    }

    fn to_u64<E: de::Error>(raw: Raw) -> Result<u64, E> {
        match raw {
            Raw::U(n) => Ok(n),
            Raw::I => Err(E::custom("a negative time")),
            Raw::F(f) => of_f64(f).ok_or_else(|| E::custom("a negative or non-finite time")),
            Raw::S(s) => {
                of_str(&s).ok_or_else(|| E::custom(format!("`{}` is not epoch seconds", s.trim())))
            }
        }
    }

    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        to_u64(Raw::deserialize(d)?)
    }

    pub(super) mod opt {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_str(&v.to_string()),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<u64>, D::Error> {
            // An optional time that is blank or before 1970 means "not known". The
            // original text is kept by the store for the round trip.
            match Option::<Raw>::deserialize(d)? {
                None | Some(Raw::I) => Ok(None),
                Some(Raw::S(s)) if unknown_str(&s) => Ok(None),
                Some(Raw::F(f)) if f < 0.0 => Ok(None),
                Some(raw) => to_u64(raw).map(Some),
            }
        }
    }
}

/// Serde helpers for `target`: MSAL writes a space-separated string; MSAL Python before
/// 1.0 wrote a JSON list of scopes, read here as the same scopes space-joined.
mod target {
    use serde::{de, Deserialize, Deserializer};
    use std::fmt;

    struct Raw(String);

    impl<'de> Deserialize<'de> for Raw {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = Raw;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("scopes (a string or a list of strings)")
                }
                fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                    Ok(Raw(v.to_string()))
                }
                fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                    Ok(Raw(v))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                    let mut list = Vec::new();
                    while let Some(s) = seq.next_element::<String>()? {
                        list.push(s);
                    }
                    Ok(Raw(crate::cache::key::target(&list)))
                }
            }
            d.deserialize_any(V)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Raw::deserialize(d).map(|r| r.0)
    }

    pub(super) mod opt {
        use super::*;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<String>, D::Error> {
            Ok(Option::<Raw>::deserialize(d)?.map(|r| r.0))
        }
    }
}

/// An `AccessToken` entry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessTokenEntry {
    /// Always `AccessToken`.
    pub credential_type: String,
    /// The access token itself (written as a string; shared with the tokens the cache
    /// serves, not copied).
    pub secret: crate::secret::AccessToken,
    /// `{uid}.{utid}` of the user; JSON `null` for app-only tokens.
    pub home_account_id: Option<String>,
    /// The authority host (the global one, even for regional requests).
    pub environment: String,
    /// The application's client id.
    pub client_id: String,
    /// The scopes, sorted and space-separated.
    #[serde(deserialize_with = "target::deserialize")]
    pub target: String,
    /// The tenant the token was issued in (empty when the writer left it out, as
    /// MSAL.NET does for ADFS).
    #[serde(default)]
    pub realm: String,
    /// `Bearer`, unless the server said otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// When it was stored.
    #[serde(with = "epoch")]
    pub cached_at: u64,
    /// When it expires.
    #[serde(with = "epoch")]
    pub expires_on: u64,
    /// Entra's extended expiry (resilience during outages).
    #[serde(default, with = "epoch::opt", skip_serializing_if = "Option::is_none")]
    pub extended_expires_on: Option<u64>,
    /// When to refresh proactively (from the server's `refresh_in`).
    #[serde(default, with = "epoch::opt", skip_serializing_if = "Option::is_none")]
    pub refresh_on: Option<u64>,
    /// Proof-of-possession or SSH key binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// MSAL's extended cache key (FMI path, forwarded client claims).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_cache_key: Option<String>,
    /// base64url SHA-256 of the user assertion, for on-behalf-of tokens (MSAL.NET's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assertion_hash: Option<String>,
    /// Fields written by other MSAL libraries, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `RefreshToken` entry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefreshTokenEntry {
    /// Always `RefreshToken`.
    pub credential_type: String,
    /// The refresh token itself.
    pub secret: String,
    /// `{uid}.{utid}` of the user.
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The client id that obtained it.
    pub client_id: String,
    /// The scopes it was issued with (MSAL Python writes this; others do not).
    #[serde(
        default,
        deserialize_with = "target::opt::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// Last write, for newest-first use.
    #[serde(default, with = "epoch::opt", skip_serializing_if = "Option::is_none")]
    pub last_modification_time: Option<u64>,
    /// `1` for family refresh tokens (FOCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// base64url SHA-256 of the user assertion, for on-behalf-of refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assertion_hash: Option<String>,
    /// Fields written by other MSAL libraries, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `IdToken` entry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdTokenEntry {
    /// Always `IdToken`.
    pub credential_type: String,
    /// The raw ID token (a JWT).
    pub secret: String,
    /// `{uid}.{utid}` of the user.
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The tenant (empty when the writer left it out, as MSAL.NET does for ADFS).
    #[serde(default)]
    pub realm: String,
    /// The client id.
    pub client_id: String,
    /// Fields written by other MSAL libraries, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `Account` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountEntry {
    /// `{uid}.{utid}`.
    pub home_account_id: String,
    /// The authority host.
    pub environment: String,
    /// The tenant of this account profile (empty when the writer left it out, as
    /// MSAL.NET does for ADFS).
    #[serde(default)]
    pub realm: String,
    /// The object id in that tenant (`oid`, else `sub`).
    #[serde(default)]
    pub local_account_id: String,
    /// `preferred_username` (or `upn`); empty without the `profile` scope.
    #[serde(default)]
    pub username: String,
    /// `MSSTS` or `ADFS`.
    #[serde(default)]
    pub authority_type: String,
    /// The grant that created it, for interactive-type grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_source: Option<String>,
    /// Fields written by other MSAL libraries, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `AppMetadata` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppMetadataEntry {
    /// The client id.
    pub client_id: String,
    /// The authority host.
    pub environment: String,
    /// The family the app belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_id: Option<String>,
    /// Fields written by other MSAL libraries, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

macro_rules! redacted_debug {
    ($ty:ident { $($field:ident),* }) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("secret", &"[redacted]")
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    };
}

redacted_debug!(AccessTokenEntry {
    home_account_id,
    environment,
    client_id,
    realm,
    target,
    expires_on,
    refresh_on
});
redacted_debug!(RefreshTokenEntry {
    home_account_id,
    environment,
    client_id,
    family_id,
    last_modification_time
});
redacted_debug!(IdTokenEntry {
    home_account_id,
    environment,
    client_id,
    realm
});
