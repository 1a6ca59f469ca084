//! The streaming reader of a serialized cache.
//!
//! Each entry of a known section is read once, into a list of its fields borrowed from the
//! input (a string without escapes is not copied), then built straight into its typed form:
//! each string is copied once, into the entry. While building, each known field is checked
//! for the form this library writes; only an entry with a field in another form (a `target`
//! list, a number or a float for a time, a missing `realm`, a `null`) keeps its original,
//! as JSON, so it is written back as it was. Fields this library does not know go into
//! the entry's `extra`; entries that do not fit the schema, and sections it does not know,
//! are kept verbatim.

use super::*;
use crate::cache::model::epoch;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A field's value as read: strings and numbers as they are, anything else as JSON.
enum Raw<'de> {
    Str(Cow<'de, str>),
    Null,
    U(u64),
    I(i64),
    F(f64),
    Other(Value),
}

impl Raw<'_> {
    fn to_value(&self) -> Value {
        match self {
            Raw::Str(s) => Value::String(s.to_string()),
            Raw::Null => Value::Null,
            Raw::U(n) => (*n).into(),
            Raw::I(n) => (*n).into(),
            Raw::F(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Raw::Other(v) => v.clone(),
        }
    }
}

type Fields<'de> = Vec<(Cow<'de, str>, Raw<'de>)>;

/// An entry's fields as JSON, as serde_json would have read them (a repeated name keeps
/// its first place and its last value).
fn to_value(fields: &[(Cow<'_, str>, Raw<'_>)]) -> Value {
    let mut m = Map::with_capacity(fields.len());
    for (k, v) in fields {
        m.insert(k.to_string(), v.to_value());
    }
    Value::Object(m)
}

/// Access tokens of one file share their `Scopes` (most tokens of an app have one of a
/// few targets).
type ScopesOf = FastMap<Box<str>, Scopes>;

pub(super) struct Root<'a>(pub &'a mut CacheData);

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scopes = ScopesOf::default();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(name) = map.next_key_seed(Text)? {
            let kept = match section_name(&name) {
                Some(section) => {
                    // A repeated name: the last one wins, as in every JSON reader MSAL
                    // uses (serde_json's `Value`, Python's `json`).
                    if seen.contains(&section) {
                        self.0.clear_section(section);
                    }
                    seen.push(section);
                    map.next_value_seed(Section {
                        data: &mut *self.0,
                        section,
                        scopes: &mut scopes,
                    })?
                }
                None => map.next_value::<Value>()?,
            };
            self.0.unparsed.insert(name.into_owned(), kept);
        }
        Ok(())
    }
}

/// A string, borrowed from the input when it has no escapes.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// One field's value.
struct Field;

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Raw<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Raw::Null)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Raw::U(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Raw::I(v), Raw::U))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Raw::F(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Raw::Other(Value::Bool(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_seq(seq).map(Raw::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_map(map).map(Raw::Other)
    }
}

/// Any JSON value, as serde_json's `Value` reads it.
struct AnyValue;

impl<'de> Visitor<'de> for AnyValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// One entry: its fields into the buffer when it is an object (`None`), else the value.
struct Entry<'b, 'de>(&'b mut Fields<'de>);

impl<'de> DeserializeSeed<'de> for Entry<'_, 'de> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, 'de> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(k) = map.next_key_seed(Text)? {
            let v = map.next_value_seed(Field)?;
            self.0.push((k, v));
        }
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        AnyValue.visit_seq(seq).map(Some)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        AnyValue.visit_i64(v).map(Some)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        AnyValue.visit_u64(v).map(Some)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        AnyValue.visit_f64(v).map(Some)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(v.to_string())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }
}

/// A known section: its entries are stored as they are read; what is left to keep
/// verbatim (the entries that do not fit, or the whole value when it is not an object)
/// is returned.
struct Section<'a> {
    data: &'a mut CacheData,
    section: &'static str,
    scopes: &'a mut ScopesOf,
}

impl<'de> DeserializeSeed<'de> for Section<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Section<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let mut rejected = Map::new();
        // One buffer for every entry's fields.
        let mut fields: Fields<'de> = Vec::with_capacity(16);
        while let Some(k) = map.next_key_seed(Text)? {
            fields.clear();
            match map.next_value_seed(Entry(&mut fields))? {
                Some(v) => {
                    // A repeated key: the last entry wins, whatever the earlier one was.
                    self.data.unload_entry(self.section, &k);
                    rejected.insert(k.into_owned(), v);
                }
                None => self.store(k, &fields, &mut rejected),
            }
        }
        // Known sections are kept even when empty, so they come back out.
        Ok(Value::Object(rejected))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        AnyValue.visit_seq(seq)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        AnyValue.visit_bool(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        AnyValue.visit_i64(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        AnyValue.visit_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        AnyValue.visit_f64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        AnyValue.visit_str(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        AnyValue.visit_unit()
    }
}

impl Section<'_> {
    /// Stores one entry: typed when it fits the schema (its original kept when reading
    /// normalized something), in `rejected` verbatim otherwise.
    fn store(
        &mut self,
        k: Cow<'_, str>,
        fields: &[(Cow<'_, str>, Raw<'_>)],
        rejected: &mut Map<String, Value>,
    ) {
        let mut as_written = true;
        let c = &mut as_written;
        let d = &mut *self.data;
        let stored = match self.section {
            AT => typed::access_token(fields, c).map(|e| {
                let scopes = match self.scopes.get(e.target.as_str()) {
                    Some(s) => s.clone(),
                    None => {
                        let s = Scopes::from_target(&e.target);
                        self.scopes.insert(e.target.as_str().into(), s.clone());
                        s
                    }
                };
                d.index_access_token(Arc::from(&*k), e, scopes);
            }),
            RT => typed::refresh_token(fields, c)
                .map(|e| drop(d.refresh_tokens.insert(k.to_string(), e))),
            IDT => typed::id_token(fields, c).map(|e| drop(d.id_tokens.insert(k.to_string(), e))),
            ACCOUNT => typed::account(fields, c).map(|e| drop(d.accounts.insert(k.to_string(), e))),
            _ => typed::app_metadata(fields, c)
                .map(|e| drop(d.app_metadata.insert(k.to_string(), e))),
        };
        // A repeated key: the last entry wins, whatever the earlier one was.
        if stored.is_some() {
            if !rejected.is_empty() {
                rejected.remove(&*k);
            }
        } else {
            d.unload_entry(self.section, &k);
        }
        match (stored.is_some(), as_written) {
            (true, false) => drop(
                d.raw
                    .insert((self.section, k.into_owned()), to_value(fields)),
            ),
            // A repeated key: the last entry wins, its original (if any) with it.
            (true, true) if !d.raw.is_empty() => {
                drop(d.raw.remove(&(self.section, k.into_owned())))
            }
            (true, true) => {}
            (false, _) => drop(rejected.insert(k.into_owned(), to_value(fields))),
        }
    }
}

/// The entry types built from their fields, with the rules of their `Deserialize` impls
/// (`None`: the entry does not fit). Each builder clears its flag when a known field is
/// not in the form this library writes (so the entry would not be written back as read).
mod typed {
    use super::*;

    type Slot<'f, 'de> = Option<&'f Raw<'de>>;

    /// The fields named in `names`, by position (the last of a repeated name), and the
    /// others, in order, as JSON.
    fn split<'f, 'de, const N: usize>(
        fields: &'f [(Cow<'de, str>, Raw<'de>)],
        names: &[&str; N],
    ) -> ([Slot<'f, 'de>; N], Map<String, Value>) {
        let mut slots = [None; N];
        let mut unknown = 0;
        for (k, v) in fields {
            match names.iter().position(|n| *n == k) {
                Some(i) => slots[i] = Some(v),
                None => unknown += 1,
            }
        }
        let mut extra = Map::with_capacity(unknown);
        if unknown > 0 {
            for (k, v) in fields {
                if !names.contains(&&**k) {
                    extra.insert(k.to_string(), v.to_value());
                }
            }
        }
        (slots, extra)
    }

    /// `String`.
    fn string(f: Slot<'_, '_>) -> Option<String> {
        match f {
            Some(Raw::Str(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    /// `#[serde(default)] String`, always written.
    fn string_or_empty(c: &mut bool, f: Slot<'_, '_>) -> Option<String> {
        match f {
            None => {
                *c = false;
                Some(String::new())
            }
            f => string(f),
        }
    }

    /// `Option<String>`, always written (`null` for `None`).
    fn string_or_null(c: &mut bool, f: Slot<'_, '_>) -> Option<Option<String>> {
        match f {
            Some(Raw::Str(s)) => Some(Some(s.to_string())),
            Some(Raw::Null) => Some(None),
            None => {
                *c = false;
                Some(None)
            }
            _ => None,
        }
    }

    /// `Option<String>`, written when set.
    fn opt_string(c: &mut bool, f: Slot<'_, '_>) -> Option<Option<String>> {
        match f {
            None => Some(None),
            Some(Raw::Null) => {
                *c = false;
                Some(None)
            }
            Some(Raw::Str(s)) => Some(Some(s.to_string())),
            _ => None,
        }
    }

    fn check_time(c: &mut bool, raw: &Raw<'_>) {
        if !matches!(raw, Raw::Str(s) if epoch::canonical(s)) {
            *c = false;
        }
    }

    /// A time (`model::epoch`).
    fn time(c: &mut bool, f: Slot<'_, '_>) -> Option<u64> {
        let raw = f?;
        check_time(c, raw);
        match raw {
            Raw::Str(s) => epoch::of_str(s),
            Raw::U(n) => Some(*n),
            Raw::F(x) => epoch::of_f64(*x),
            _ => None,
        }
    }

    /// An optional time, written when set (`model::epoch::opt`): blank or negative is
    /// "not known".
    fn opt_time(c: &mut bool, f: Slot<'_, '_>) -> Option<Option<u64>> {
        let Some(raw) = f else {
            return Some(None);
        };
        check_time(c, raw);
        match raw {
            Raw::Null | Raw::I(_) => Some(None),
            Raw::Str(s) if epoch::unknown_str(s) => Some(None),
            Raw::F(x) if *x < 0.0 => Some(None),
            raw => time(c, Some(raw)).map(Some),
        }
    }

    /// `target` (`model::target`): a string, or a list of scopes.
    fn target(c: &mut bool, f: Slot<'_, '_>) -> Option<String> {
        match f? {
            Raw::Str(s) => Some(s.to_string()),
            Raw::Other(Value::Array(items)) => {
                *c = false;
                let list: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                list.map(|l| key::target(&l))
            }
            _ => None,
        }
    }

    /// An optional `target`, written when set.
    fn opt_target(c: &mut bool, f: Slot<'_, '_>) -> Option<Option<String>> {
        match f {
            None => Some(None),
            Some(Raw::Null) => {
                *c = false;
                Some(None)
            }
            f => target(c, f).map(Some),
        }
    }

    pub(super) fn access_token(
        fields: &[(Cow<'_, str>, Raw<'_>)],
        c: &mut bool,
    ) -> Option<AccessTokenEntry> {
        const NAMES: [&str; 15] = [
            "credential_type",
            "secret",
            "home_account_id",
            "environment",
            "client_id",
            "target",
            "realm",
            "token_type",
            "cached_at",
            "expires_on",
            "extended_expires_on",
            "refresh_on",
            "key_id",
            "ext_cache_key",
            "user_assertion_hash",
        ];
        let (f, extra) = split(fields, &NAMES);
        Some(AccessTokenEntry {
            credential_type: string(f[0])?,
            secret: AccessToken::new(string(f[1])?),
            home_account_id: string_or_null(c, f[2])?,
            environment: string(f[3])?,
            client_id: string(f[4])?,
            target: target(c, f[5])?,
            realm: string_or_empty(c, f[6])?,
            token_type: opt_string(c, f[7])?,
            cached_at: time(c, f[8])?,
            expires_on: time(c, f[9])?,
            extended_expires_on: opt_time(c, f[10])?,
            refresh_on: opt_time(c, f[11])?,
            key_id: opt_string(c, f[12])?,
            ext_cache_key: opt_string(c, f[13])?,
            user_assertion_hash: opt_string(c, f[14])?,
            extra,
        })
    }

    pub(super) fn refresh_token(
        fields: &[(Cow<'_, str>, Raw<'_>)],
        c: &mut bool,
    ) -> Option<RefreshTokenEntry> {
        const NAMES: [&str; 9] = [
            "credential_type",
            "secret",
            "home_account_id",
            "environment",
            "client_id",
            "target",
            "last_modification_time",
            "family_id",
            "user_assertion_hash",
        ];
        let (f, extra) = split(fields, &NAMES);
        Some(RefreshTokenEntry {
            credential_type: string(f[0])?,
            secret: string(f[1])?,
            home_account_id: string_or_null(c, f[2])?,
            environment: string(f[3])?,
            client_id: string(f[4])?,
            target: opt_target(c, f[5])?,
            last_modification_time: opt_time(c, f[6])?,
            family_id: opt_string(c, f[7])?,
            user_assertion_hash: opt_string(c, f[8])?,
            extra,
        })
    }

    pub(super) fn id_token(
        fields: &[(Cow<'_, str>, Raw<'_>)],
        c: &mut bool,
    ) -> Option<IdTokenEntry> {
        const NAMES: [&str; 6] = [
            "credential_type",
            "secret",
            "home_account_id",
            "environment",
            "realm",
            "client_id",
        ];
        let (f, extra) = split(fields, &NAMES);
        Some(IdTokenEntry {
            credential_type: string(f[0])?,
            secret: string(f[1])?,
            home_account_id: string_or_null(c, f[2])?,
            environment: string(f[3])?,
            realm: string_or_empty(c, f[4])?,
            client_id: string(f[5])?,
            extra,
        })
    }

    pub(super) fn account(
        fields: &[(Cow<'_, str>, Raw<'_>)],
        c: &mut bool,
    ) -> Option<AccountEntry> {
        const NAMES: [&str; 7] = [
            "home_account_id",
            "environment",
            "realm",
            "local_account_id",
            "username",
            "authority_type",
            "account_source",
        ];
        let (f, extra) = split(fields, &NAMES);
        Some(AccountEntry {
            home_account_id: string(f[0])?,
            environment: string(f[1])?,
            realm: string_or_empty(c, f[2])?,
            local_account_id: string_or_empty(c, f[3])?,
            username: string_or_empty(c, f[4])?,
            authority_type: string_or_empty(c, f[5])?,
            account_source: opt_string(c, f[6])?,
            extra,
        })
    }

    pub(super) fn app_metadata(
        fields: &[(Cow<'_, str>, Raw<'_>)],
        c: &mut bool,
    ) -> Option<AppMetadataEntry> {
        const NAMES: [&str; 3] = ["client_id", "environment", "family_id"];
        let (f, extra) = split(fields, &NAMES);
        Some(AppMetadataEntry {
            client_id: string(f[0])?,
            environment: string(f[1])?,
            family_id: opt_string(c, f[2])?,
            extra,
        })
    }
}
