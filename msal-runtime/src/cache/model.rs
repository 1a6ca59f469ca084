//! The MSAL unified cache schema: the five entry types, as every MSAL library writes them.
//!
//! Times are epoch seconds written as decimal strings (MSAL's format); numbers are
//! accepted on read. Fields this library does not know are kept and written back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Serde helpers for MSAL's "epoch seconds as a string" fields.
mod epoch {
    use serde::{de, Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        U(u64),
        I(#[allow(dead_code)] i64),
        F(f64),
    }

    fn to_u64<E: de::Error>(raw: Raw) -> Result<u64, E> {
        match raw {
            Raw::U(n) => Ok(n),
            Raw::I(_) => Err(E::custom("a negative time")),
            Raw::F(f) if f.is_finite() && f >= 0.0 => Ok(f as u64),
            Raw::F(_) => Err(E::custom("a negative or non-finite time")),
            Raw::S(s) => {
                let s = s.trim();
                s.parse::<u64>()
                    .or_else(|_| {
                        s.parse::<f64>().map_err(|_| ()).and_then(|f| {
                            if f.is_finite() && f >= 0.0 {
                                Ok(f as u64)
                            } else {
                                Err(())
                            }
                        })
                    })
                    .map_err(|_| E::custom(format!("`{s}` is not epoch seconds")))
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
            // An optional time that is blank or before 1970 means "not known": MSAL.NET
            // writes .NET's minimum date (`-62135596800`) for an unknown extended expiry.
            // The original text is kept by the store for the round trip.
            match Option::<Raw>::deserialize(d)? {
                None => Ok(None),
                Some(Raw::S(s)) if s.trim().is_empty() => Ok(None),
                Some(Raw::S(s)) if s.trim().starts_with('-') && s.trim().parse::<f64>().is_ok() => {
                    Ok(None)
                }
                Some(Raw::I(_)) => Ok(None),
                Some(Raw::F(f)) if f < 0.0 => Ok(None),
                Some(raw) => to_u64(raw).map(Some),
            }
        }
    }
}

/// Serde helpers for `target`: MSAL writes a space-separated string; MSAL Python before
/// 1.0 wrote a JSON list of scopes, read here as the same scopes space-joined.
mod target {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        L(Vec<String>),
    }

    fn join(raw: Raw) -> String {
        match raw {
            Raw::S(s) => s,
            Raw::L(list) => crate::cache::key::target(&list),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Raw::deserialize(d).map(join)
    }

    pub(super) mod opt {
        use super::*;

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<String>, D::Error> {
            Ok(Option::<Raw>::deserialize(d)?.map(join))
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
