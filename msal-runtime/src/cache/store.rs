//! The in-memory store: the five sections, indexed so that finding an access token
//! costs the same with one entry or a hundred thousand.

use super::key;
use super::model::*;
use crate::result::token_type_of;
use crate::scope::{ScopeList, Scopes};
use crate::secret::AccessToken;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub(crate) const AT: &str = "AccessToken";
pub(crate) const RT: &str = "RefreshToken";
pub(crate) const IDT: &str = "IdToken";
pub(crate) const ACCOUNT: &str = "Account";
pub(crate) const APP_METADATA: &str = "AppMetadata";
/// Section order on output (MSAL Python's order for a user flow).
pub(crate) const SECTION_NAMES: [&str; 5] = SECTIONS;
const SECTIONS: [&str; 5] = [AT, ACCOUNT, IDT, RT, APP_METADATA];

/// Tokens with less than this left are not served (MSAL's 5 minutes).
pub(crate) const EXPIRY_MARGIN_SECS: u64 = 300;
/// The longest lifetime believed, from a server (`expires_in`, `ext_expires_in`,
/// `refresh_in`, `expires_on`) or a cache file (`expires_on` past `cached_at`): one year.
/// Longer values are clamped, so a hostile or broken number cannot cache a token forever.
pub(crate) const MAX_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;

/// A hash map with a fast (seeded) hash, for maps looked up on every cache hit.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The access tokens one look-up considers: owner (the home account id, or `obo:` and
/// the assertion hash), environment, client id and realm, lower-cased and joined. Build
/// it once per application (or per call) and look up with it as often as needed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Partition(Box<str>);

impl Partition {
    pub(crate) fn new(
        home_account_id: Option<&str>,
        user_assertion_hash: Option<&str>,
        environment: &str,
        client_id: &str,
        realm: &str,
    ) -> Self {
        /// Appends `s` lower-cased (copied as it is when it has no upper-case letter).
        fn push_lower(out: &mut String, s: &str) {
            if s.is_ascii() {
                out.extend(s.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                out.push_str(&s.to_lowercase());
            }
        }
        let owner = user_assertion_hash.map_or(home_account_id.unwrap_or_default().len(), |h| {
            "obo:".len() + h.len()
        });
        let mut p =
            String::with_capacity(owner + environment.len() + client_id.len() + realm.len() + 3);
        // On-behalf-of tokens are found by the hash of the incoming assertion, not by account.
        match user_assertion_hash {
            Some(h) => {
                p.push_str("obo:");
                p.push_str(h);
            }
            None => push_lower(&mut p, home_account_id.unwrap_or_default()),
        }
        for part in [environment, client_id, realm] {
            p.push('\u{1f}');
            push_lower(&mut p, part);
        }
        Partition(p.into_boxed_str())
    }

    fn of(e: &AccessTokenEntry) -> Self {
        Partition::new(
            e.home_account_id.as_deref(),
            e.user_assertion_hash.as_deref(),
            &e.environment,
            &e.client_id,
            &e.realm,
        )
    }
}

/// What a cache hit serves: the entry's own token, shared (a clone is a few reference
/// counts, no allocation), and the entry's times.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: AccessToken,
    pub token_type: Cow<'static, str>,
    pub scopes: Scopes,
    pub realm: Arc<str>,
    pub cached_at: u64,
    pub expires_on: u64,
    pub extended_expires_on: Option<u64>,
    pub refresh_on: Option<u64>,
}

/// One access token of a partition, as look-ups see it.
struct AtSlot {
    key: Arc<str>,
    hit: CachedToken,
    /// Entries with an extended key belong to requests that carried the same extra
    /// parameters (MSAL's hashed `ext_cache_key`).
    ext_cache_key: Option<Box<str>>,
    user_assertion_hash: Option<Box<str>>,
}

impl AtSlot {
    fn of(key: Arc<str>, e: &AccessTokenEntry, scopes: Scopes) -> Self {
        AtSlot {
            key,
            hit: CachedToken {
                token: e.secret.clone(),
                token_type: token_type_of(e.token_type.as_deref()),
                scopes,
                realm: e.realm.as_str().into(),
                cached_at: e.cached_at,
                expires_on: e.expires_on,
                extended_expires_on: e.extended_expires_on,
                refresh_on: e.refresh_on,
            },
            ext_cache_key: e.ext_cache_key.as_deref().map(Box::from),
            user_assertion_hash: e.user_assertion_hash.as_deref().map(Into::into),
        }
    }
}

impl std::fmt::Debug for AtSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtSlot")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// What an access-token look-up asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtQuery<'a> {
    pub home_account_id: Option<&'a str>,
    pub environment: &'a str,
    pub client_id: &'a str,
    pub realm: &'a str,
    pub scopes: &'a [String],
    pub user_assertion_hash: Option<&'a str>,
}

/// Any entry type, as JSON.
mod erased {
    pub(crate) trait Json {
        fn json(&self) -> Option<serde_json::Value>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Option<serde_json::Value> {
            serde_json::to_value(self).ok()
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct CacheData {
    pub(crate) access_tokens: AtMap,
    pub(crate) refresh_tokens: HashMap<String, RefreshTokenEntry>,
    pub(crate) id_tokens: HashMap<String, IdTokenEntry>,
    pub(crate) accounts: HashMap<String, AccountEntry>,
    pub(crate) app_metadata: HashMap<String, AppMetadataEntry>,
    /// Sections and entries this library cannot read, kept verbatim so nothing is lost.
    unparsed: Map<String, Value>,
    /// Entries as another library wrote them, where reading normalized something (a
    /// `target` list, float or negative times, a missing `realm`, `null` fields): written
    /// back as they were until this library changes the entry.
    raw: HashMap<(&'static str, String), Value>,
    at_index: FastMap<Partition, Vec<AtSlot>>,
    /// Access tokens by expiry, so the expired ones are removed on writes without a scan
    /// (and never by a read).
    /// Keyed by expiry and the address of the key's text (the key of `access_tokens`,
    /// shared), so inserting compares two numbers rather than two keys.
    at_expiry: BTreeMap<(u64, usize), Arc<str>>,
    /// Entries written or removed since the last flush, when a shared back-end must
    /// write them through (off otherwise).
    pub(crate) track_changes: bool,
    pub(crate) dirty: Vec<Change>,
}

/// Where access token `k` (the text of the map's own key) expiring at `expires_on` sits in
/// the expiry index.
fn expiry_id(expires_on: u64, k: &str) -> (u64, usize) {
    (expires_on, k.as_ptr() as usize)
}

/// The access tokens by key. Entries are boxed: growing the table moves 24-byte slots
/// rather than 400-byte entries, and its spare slots (an eighth to a half of the table)
/// cost 24 bytes each.
#[derive(Debug, Default)]
pub(crate) struct AtMap(FastMap<Arc<str>, Box<AccessTokenEntry>>);

impl AtMap {
    pub(crate) fn get(&self, k: &str) -> Option<&AccessTokenEntry> {
        self.0.get(k).map(|e| &**e)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &AccessTokenEntry> {
        self.0.values().map(|e| &**e)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &AccessTokenEntry)> {
        self.0.iter().map(|(k, e)| (k, &**e))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Frees the entries of `map` in the order of the addresses `addr` gives (for a loaded
/// cache, the order the load allocated them): the allocator then walks its memory forward
/// instead of jumping about it, which makes freeing a big cache several times faster
/// (glibc's malloc coalesces freed blocks with their neighbours).
fn drop_in_address_order<K, V, S>(map: &mut HashMap<K, V, S>, addr: impl Fn(&V) -> usize) {
    if map.len() < 1024 {
        return;
    }
    let mut entries: Vec<(K, V)> = map.drain().collect();
    entries.sort_unstable_by_key(|(_, v)| addr(v));
    drop(entries);
}

impl Drop for AtMap {
    fn drop(&mut self) {
        drop_in_address_order(&mut self.0, |e| &**e as *const AccessTokenEntry as usize);
    }
}

impl Drop for CacheData {
    fn drop(&mut self) {
        // The access tokens first (their map), then their slots (which hold the last
        // reference to each token); the keys go with the expiry index, in its order.
        drop(std::mem::take(&mut self.access_tokens));
        drop_in_address_order(&mut self.at_index, |slots| slots.as_ptr() as usize);
    }
}

impl std::ops::Index<&str> for AtMap {
    type Output = AccessTokenEntry;

    fn index(&self, k: &str) -> &AccessTokenEntry {
        &self.0[k]
    }
}

/// One written or removed entry, and the shard it lives in.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub section: &'static str,
    pub key: String,
    pub shard: String,
}

/// Where an entry lives when the cache is split into shards (a Redis hash each): app
/// tokens per client and tenant, a user's tokens and account together, on-behalf-of
/// tokens per incoming assertion, app metadata in one place.
pub(crate) mod shard {
    fn l(s: &str) -> String {
        s.to_lowercase()
    }
    pub(crate) fn app(env: &str, client_id: &str, realm: &str) -> String {
        format!("app:{}:{}:{}", l(env), l(client_id), l(realm))
    }
    pub(crate) fn user(env: &str, home_account_id: &str) -> String {
        format!("user:{}:{}", l(env), l(home_account_id))
    }
    pub(crate) fn obo(env: &str, hash: &str) -> String {
        format!("obo:{}:{hash}", l(env))
    }
    pub(crate) fn accounts(env: &str) -> String {
        format!("accounts:{}", l(env))
    }
    pub(crate) const META: &str = "appmetadata";
}

fn at_shard(e: &AccessTokenEntry) -> String {
    match (
        &e.user_assertion_hash,
        e.home_account_id.as_deref().filter(|h| !h.is_empty()),
    ) {
        (Some(h), _) => shard::obo(&e.environment, h),
        (None, Some(hid)) => shard::user(&e.environment, hid),
        (None, None) => shard::app(&e.environment, &e.client_id, &e.realm),
    }
}

fn rt_shard(e: &RefreshTokenEntry) -> String {
    match &e.user_assertion_hash {
        Some(h) => shard::obo(&e.environment, h),
        None => shard::user(
            &e.environment,
            e.home_account_id.as_deref().unwrap_or_default(),
        ),
    }
}

impl CacheData {
    /// The time in epoch seconds. On Linux from the coarse clock (the kernel's last tick,
    /// a few milliseconds behind at most), which costs a tenth of a precise read: every
    /// cache hit asks, and only seconds matter.
    pub(crate) fn now() -> u64 {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            if let Ok(secs) = u64::try_from(t.tv_sec) {
                return secs;
            }
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    pub(crate) fn insert_access_token(&mut self, entry: AccessTokenEntry) -> String {
        let k = key::access_token(
            entry.home_account_id.as_deref(),
            &entry.environment,
            &entry.client_id,
            &entry.realm,
            &entry.target,
            entry.ext_cache_key.as_deref(),
            entry.user_assertion_hash.as_deref(),
        );
        self.raw.remove(&(AT, k.clone()));
        self.note(AT, &k, || at_shard(&entry));
        self.insert_at_with_key(k.clone(), entry);
        k
    }

    /// Removes the access tokens that have expired, in every partition (recorded as changes
    /// for shared back-ends), oldest first, stopping at the first one still valid. Every
    /// write calls it ([`TokenCache::modify`](super::TokenCache)), so the cost is one look
    /// at the earliest expiry unless something is due; reads never do.
    pub(crate) fn purge_expired(&mut self, now: u64) {
        while let Some((&(expires_on, _), k)) = self.at_expiry.first_key_value() {
            if expires_on >= now {
                break;
            }
            let k = k.clone();
            if self.remove_access_token(&k).is_none() {
                // Not in the map (cannot happen): drop the stale index entry all the same.
                self.at_expiry.pop_first();
            }
        }
    }

    fn note(&mut self, section: &'static str, key: &str, shard: impl FnOnce() -> String) {
        if self.track_changes {
            self.dirty.push(Change {
                section,
                key: key.to_string(),
                shard: shard(),
            });
        }
    }

    /// Where an entry of this cache lives, for shared back-ends.
    pub(crate) fn shard_of(&self, section: &str, k: &str) -> Option<String> {
        match section {
            AT => self.access_tokens.get(k).map(at_shard),
            RT => self.refresh_tokens.get(k).map(rt_shard),
            IDT => self.id_tokens.get(k).map(|e| {
                shard::user(
                    &e.environment,
                    e.home_account_id.as_deref().unwrap_or_default(),
                )
            }),
            ACCOUNT => self
                .accounts
                .get(k)
                .map(|e| shard::user(&e.environment, &e.home_account_id)),
            APP_METADATA => self
                .app_metadata
                .contains_key(k)
                .then(|| shard::META.to_string()),
            _ => None,
        }
    }

    pub(crate) fn put_refresh_token(&mut self, k: String, entry: RefreshTokenEntry) {
        self.note(RT, &k, || rt_shard(&entry));
        self.raw.remove(&(RT, k.clone()));
        self.refresh_tokens.insert(k, entry);
    }

    pub(crate) fn put_id_token(&mut self, k: String, entry: IdTokenEntry) {
        self.raw.remove(&(IDT, k.clone()));
        self.note(IDT, &k, || {
            shard::user(
                &entry.environment,
                entry.home_account_id.as_deref().unwrap_or_default(),
            )
        });
        self.id_tokens.insert(k, entry);
    }

    pub(crate) fn put_account(&mut self, k: String, entry: AccountEntry) {
        self.raw.remove(&(ACCOUNT, k.clone()));
        self.note(ACCOUNT, &k, || {
            shard::user(&entry.environment, &entry.home_account_id)
        });
        self.accounts.insert(k, entry);
    }

    /// Removes every entry of a section (as JSON) that `doomed` picks.
    pub(crate) fn remove_where(&mut self, section: &'static str, doomed: impl Fn(&Value) -> bool) {
        let pick = |v: &dyn erased::Json| v.json().is_some_and(|v| doomed(&v));
        let keys: Vec<String> = match section {
            AT => self
                .access_tokens
                .iter()
                .filter(|(_, v)| pick(*v))
                .map(|(k, _)| k.to_string())
                .collect(),
            RT => self
                .refresh_tokens
                .iter()
                .filter(|(_, v)| pick(*v))
                .map(|(k, _)| k.clone())
                .collect(),
            IDT => self
                .id_tokens
                .iter()
                .filter(|(_, v)| pick(*v))
                .map(|(k, _)| k.clone())
                .collect(),
            ACCOUNT => self
                .accounts
                .iter()
                .filter(|(_, v)| pick(*v))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => self
                .app_metadata
                .iter()
                .filter(|(_, v)| pick(*v))
                .map(|(k, _)| k.clone())
                .collect(),
        };
        for k in keys {
            if let Some(shard) = self.shard_of(section, &k) {
                self.note(section, &k, || shard);
            }
            self.unload_entry(section, &k);
        }
    }

    /// An entry of a section as JSON (for write-through back-ends).
    pub(crate) fn entry_json(&self, section: &str, k: &str) -> Option<Value> {
        use erased::Json;
        if let Some(raw) = section_name(section).and_then(|s| self.raw.get(&(s, k.to_string()))) {
            return Some(raw.clone());
        }
        match section {
            AT => self.access_tokens.get(k).and_then(|e| e.json()),
            RT => self.refresh_tokens.get(k).and_then(|e| e.json()),
            IDT => self.id_tokens.get(k).and_then(|e| e.json()),
            ACCOUNT => self.accounts.get(k).and_then(|e| e.json()),
            APP_METADATA => self.app_metadata.get(k).and_then(|e| e.json()),
            _ => None,
        }
    }

    /// Stores an entry that came from a shared back-end. False when it does not parse.
    pub(crate) fn load_entry(&mut self, section: &str, k: String, v: Value) -> bool {
        if let Some(s) = section_name(section) {
            self.raw.remove(&(s, k.clone()));
        }
        match section {
            AT => serde_json::from_value(v)
                .map(|e| self.insert_at_with_key(k, e))
                .is_ok(),
            RT => serde_json::from_value(v)
                .map(|e| drop(self.refresh_tokens.insert(k, e)))
                .is_ok(),
            IDT => serde_json::from_value(v)
                .map(|e| drop(self.id_tokens.insert(k, e)))
                .is_ok(),
            ACCOUNT => serde_json::from_value(v)
                .map(|e| drop(self.accounts.insert(k, e)))
                .is_ok(),
            APP_METADATA => serde_json::from_value(v)
                .map(|e| drop(self.app_metadata.insert(k, e)))
                .is_ok(),
            _ => false,
        }
    }

    /// Forgets an entry (without recording it as a change).
    pub(crate) fn unload_entry(&mut self, section: &str, k: &str) {
        if let Some(s) = section_name(section) {
            self.raw.remove(&(s, k.to_string()));
        }
        match section {
            AT => drop(self.forget_access_token(k)),
            RT => drop(self.refresh_tokens.remove(k)),
            IDT => drop(self.id_tokens.remove(k)),
            ACCOUNT => drop(self.accounts.remove(k)),
            APP_METADATA => drop(self.app_metadata.remove(k)),
            _ => {}
        }
    }

    /// Removes every entry of a known section (typed, and kept as read).
    pub(crate) fn clear_section(&mut self, section: &'static str) {
        let keys: Vec<String> = match section {
            AT => self
                .access_tokens
                .iter()
                .map(|(k, _)| k.to_string())
                .collect(),
            RT => self.refresh_tokens.keys().cloned().collect(),
            IDT => self.id_tokens.keys().cloned().collect(),
            ACCOUNT => self.accounts.keys().cloned().collect(),
            _ => self.app_metadata.keys().cloned().collect(),
        };
        for k in keys {
            self.unload_entry(section, &k);
        }
        self.unparsed.remove(section);
    }

    fn insert_at_with_key(&mut self, k: String, entry: AccessTokenEntry) {
        let scopes = Scopes::from_target(&entry.target);
        self.index_access_token(k.into(), entry, scopes);
    }

    /// Stores an access token under key `k` and indexes it; `scopes` are its target's.
    fn index_access_token(&mut self, k: Arc<str>, entry: AccessTokenEntry, scopes: Scopes) {
        use std::collections::hash_map::Entry;
        let slot = AtSlot::of(k.clone(), &entry, scopes);
        let p = Partition::of(&entry);
        let expires_on = entry.expires_on;
        // The map's key (the first one stored under this text) is the one the expiry
        // index is keyed by.
        let k = match self.access_tokens.0.entry(k) {
            Entry::Occupied(mut o) => {
                let old = std::mem::replace(o.get_mut(), Box::new(entry));
                let k = o.key().clone();
                // The replaced entry leaves the indexes first.
                self.unindex(&k, &old);
                k
            }
            Entry::Vacant(v) => {
                let k = v.key().clone();
                v.insert(Box::new(entry));
                k
            }
        };
        self.at_expiry.insert(expiry_id(expires_on, &k), k);
        self.at_index
            .entry(p)
            // Most partitions (an app in one tenant) hold one token.
            .or_insert_with(|| Vec::with_capacity(1))
            .push(slot);
    }

    /// Takes the entry `entry` stored under `k` out of the look-up and expiry indexes.
    fn unindex(&mut self, k: &str, entry: &AccessTokenEntry) {
        let p = Partition::of(entry);
        self.at_expiry.remove(&expiry_id(entry.expires_on, k));
        if let Some(slots) = self.at_index.get_mut(&p) {
            slots.retain(|s| &*s.key != k);
            if slots.is_empty() {
                self.at_index.remove(&p);
            }
        }
    }

    pub(crate) fn remove_access_token(&mut self, k: &str) -> Option<AccessTokenEntry> {
        let entry = self.forget_access_token(k)?;
        self.note(AT, k, || at_shard(&entry));
        Some(entry)
    }

    fn forget_access_token(&mut self, k: &str) -> Option<AccessTokenEntry> {
        let (key, entry) = self.access_tokens.0.remove_entry(k)?;
        self.unindex(&key, &entry);
        let entry = *entry;
        self.raw.remove(&(AT, k.to_string()));
        Some(entry)
    }

    /// The best access token of partition `p` whose scopes cover `scopes`, even if it is
    /// close to expiry (the caller decides); expired entries are skipped (writes purge
    /// them). Allocates nothing: a hit is served from what this returns.
    pub(crate) fn find_hit(
        &self,
        p: &Partition,
        scopes: ScopeList<'_>,
        user_assertion_hash: Option<&str>,
        now: u64,
    ) -> Option<&CachedToken> {
        self.find_hit_ext(p, scopes, user_assertion_hash, None, now)
    }

    /// [`find_hit`](Self::find_hit) among the entries of one extended cache key (`None`:
    /// plain entries only).
    pub(crate) fn find_hit_ext(
        &self,
        p: &Partition,
        scopes: ScopeList<'_>,
        user_assertion_hash: Option<&str>,
        ext_cache_key: Option<&str>,
        now: u64,
    ) -> Option<&CachedToken> {
        self.find_slot(p, scopes, user_assertion_hash, ext_cache_key, now)
            .map(|s| &s.hit)
    }

    fn find_slot(
        &self,
        p: &Partition,
        scopes: ScopeList<'_>,
        user_assertion_hash: Option<&str>,
        ext_cache_key: Option<&str>,
        now: u64,
    ) -> Option<&AtSlot> {
        let mut best: Option<&AtSlot> = None;
        for slot in self.at_index.get(p)? {
            let e = &slot.hit;
            // Entries with an extended key belong to requests that carried the same extras.
            if e.expires_on < now
                || slot.ext_cache_key.as_deref() != ext_cache_key
                || slot.user_assertion_hash.as_deref() != user_assertion_hash
                || !scopes.covered_by(&e.scopes)
            {
                continue;
            }
            // The longest-lived wins; between equals, the lower-case key (see `key::rank`).
            let better = best.is_none_or(|b| {
                (Reverse(e.expires_on), key::rank(&slot.key))
                    < (Reverse(b.hit.expires_on), key::rank(&b.key))
            });
            if better {
                best = Some(slot);
            }
        }
        best
    }

    /// The best access token for the query whose scopes cover the request, even if it
    /// is close to expiry (the caller decides). Expired entries are skipped; writes purge them.
    pub(crate) fn find_access_token(&self, q: &AtQuery<'_>, now: u64) -> Option<AccessTokenEntry> {
        self.find_access_token_ext(q, None, now)
    }

    /// [`find_access_token`](Self::find_access_token) among the entries of one extended
    /// cache key (`None`: plain entries only).
    pub(crate) fn find_access_token_ext(
        &self,
        q: &AtQuery<'_>,
        ext_cache_key: Option<&str>,
        now: u64,
    ) -> Option<AccessTokenEntry> {
        let p = Partition::new(
            q.home_account_id,
            q.user_assertion_hash,
            q.environment,
            q.client_id,
            q.realm,
        );
        let slot = self.find_slot(
            &p,
            ScopeList::Strs(&q.scopes),
            q.user_assertion_hash,
            ext_cache_key,
            now,
        )?;
        self.access_tokens.get(&slot.key).cloned()
    }

    /// Like [`find_access_token`](Self::find_access_token), under any of `environments`
    /// (a host and its aliases): the longest-lived match.
    pub(crate) fn find_access_token_among(
        &self,
        q: &AtQuery<'_>,
        environments: &[String],
        now: u64,
    ) -> Option<AccessTokenEntry> {
        let mut best: Option<AccessTokenEntry> = None;
        for env in environments {
            let q = AtQuery {
                environment: env,
                ..*q
            };
            if let Some(e) = self.find_access_token(&q, now) {
                if best.as_ref().is_none_or(|b| e.expires_on > b.expires_on) {
                    best = Some(e);
                }
            }
        }
        best
    }

    /// The accounts under any of `environments` (a host and its aliases, the host first) that
    /// `keep` accepts, one per user (home account id) as MSAL groups them, ordered by home
    /// account id. Between entries of one user: the first environment, then the profile in
    /// the user's home tenant, then the lower-case key (`key::rank`) win.
    pub(crate) fn accounts_per_user(
        &self,
        environments: &[String],
        keep: impl Fn(&AccountEntry) -> bool,
    ) -> Vec<&AccountEntry> {
        let mut entries: Vec<_> = self
            .accounts
            .iter()
            .filter(|(_, a)| keep(a))
            .filter_map(|(k, a)| {
                let pos = environments
                    .iter()
                    .position(|e| a.environment.eq_ignore_ascii_case(e))?;
                let home_tenant = a
                    .home_account_id
                    .split_once('.')
                    .is_some_and(|(_, utid)| utid.eq_ignore_ascii_case(&a.realm));
                let rank = (Reverse(pos), home_tenant, Reverse(key::rank(k)));
                Some((rank, a))
            })
            .collect();
        // Ascending, so the entry that should win is inserted last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_user: BTreeMap<&str, &AccountEntry> = BTreeMap::new();
        for (_, a) in entries {
            by_user.insert(&a.home_account_id, a);
        }
        by_user.into_values().collect()
    }

    /// Removes app-only access tokens of a client in an environment, in every tenant.
    pub(crate) fn remove_app_tokens(&mut self, client_id: &str, environment: &str) -> usize {
        let doomed: Vec<String> = self
            .access_tokens
            .iter()
            .filter(|(_, e)| {
                e.home_account_id.as_deref().unwrap_or_default().is_empty()
                    && e.client_id.eq_ignore_ascii_case(client_id)
                    && e.environment.eq_ignore_ascii_case(environment)
            })
            .map(|(k, _)| k.to_string())
            .collect();
        for k in &doomed {
            self.remove_access_token(k);
        }
        doomed.len()
    }

    pub(crate) fn upsert_app_metadata(
        &mut self,
        environment: &str,
        client_id: &str,
        family_id: Option<String>,
    ) {
        let k = key::app_metadata(environment, client_id);
        self.note(APP_METADATA, &k, || shard::META.to_string());
        if family_id.is_some() || !self.app_metadata.contains_key(&k) {
            self.raw.remove(&(APP_METADATA, k.clone()));
        }
        let entry = self
            .app_metadata
            .entry(k)
            .or_insert_with(|| AppMetadataEntry {
                client_id: client_id.to_string(),
                environment: environment.to_string(),
                family_id: None,
                extra: Map::new(),
            });
        if family_id.is_some() {
            entry.family_id = family_id;
        }
    }

    /// The whole cache as MSAL's JSON (four-space indentation, like MSAL Python's
    /// `json.dumps(indent=4)`), written straight from the entries: sections in MSAL
    /// Python's order, entries sorted by key, each as another library wrote it when
    /// reading normalized something, entries and sections this library cannot read as
    /// they were.
    pub(crate) fn serialize(&self) -> String {
        let mut buf = Vec::with_capacity(self.access_tokens.len() * 2048 + 4096);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(&out::Root(self), &mut ser)
            .expect("serializing to memory cannot fail");
        String::from_utf8(buf).expect("serde_json writes UTF-8")
    }

    /// Parses a serialized cache. Entries that do not fit the schema are kept verbatim.
    pub(crate) fn deserialize(text: &str) -> Result<CacheData, String> {
        // MSAL.NET writes a UTF-8 byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Ok(CacheData::default());
        }
        // Streamed: each entry is parsed on its own (as a small JSON value, then typed) and
        // dropped, never the whole file as one tree.
        let mut data = CacheData::default();
        let mut de = serde_json::Deserializer::from_str(text);
        serde::Deserializer::deserialize_any(&mut de, read::Root(&mut data)).map_err(|e| {
            if e.is_data() {
                "the cache is not a JSON object".to_string()
            } else {
                format!("the cache is not valid JSON ({e})")
            }
        })?;
        de.end()
            .map_err(|e| format!("the cache is not valid JSON ({e})"))?;
        Ok(data)
    }
}

mod read;

/// The serialized form, written without building a JSON tree first.
mod out {
    use super::*;
    use serde::ser::{Serialize, SerializeMap, Serializer};

    pub(super) struct Root<'a>(pub &'a CacheData);

    /// A section's entries, as the serializer sees them.
    trait Entries {
        type Entry: Serialize;
        /// Every entry, by key.
        fn entries(&self) -> Vec<(&str, &Self::Entry)>;
        fn has(&self, k: &str) -> bool;
        fn is_empty(&self) -> bool;
    }

    impl<T: Serialize, H: std::hash::BuildHasher> Entries for HashMap<String, T, H> {
        type Entry = T;
        fn entries(&self) -> Vec<(&str, &T)> {
            self.iter().map(|(k, v)| (k.as_str(), v)).collect()
        }
        fn has(&self, k: &str) -> bool {
            self.contains_key(k)
        }
        fn is_empty(&self) -> bool {
            HashMap::is_empty(self)
        }
    }

    impl Entries for AtMap {
        type Entry = AccessTokenEntry;
        fn entries(&self) -> Vec<(&str, &AccessTokenEntry)> {
            self.iter().map(|(k, v)| (&**k, v)).collect()
        }
        fn has(&self, k: &str) -> bool {
            self.get(k).is_some()
        }
        fn is_empty(&self) -> bool {
            AtMap::is_empty(self)
        }
    }

    struct Section<'a, M> {
        name: &'static str,
        map: &'a M,
        data: &'a CacheData,
    }

    impl<M: Entries> Section<'_, M> {
        /// Whether the section is written at all: it has entries, or was read (even empty).
        fn present(&self) -> bool {
            !self.map.is_empty() || self.data.unparsed.contains_key(self.name)
        }
    }

    impl<M: Entries> Serialize for Section<'_, M> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut entries = self.map.entries();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let raw = &self.data.raw;
            let mut m = s.serialize_map(None)?;
            for (k, v) in entries {
                let as_read = if raw.is_empty() {
                    None
                } else {
                    raw.get(&(self.name, k.to_string()))
                };
                match as_read {
                    Some(r) => m.serialize_entry(k, r)?,
                    None => m.serialize_entry(k, v)?,
                }
            }
            if let Some(Value::Object(kept)) = self.data.unparsed.get(self.name) {
                for (k, v) in kept {
                    if !self.map.has(k) {
                        m.serialize_entry(k, v)?;
                    }
                }
            }
            m.end()
        }
    }

    impl Serialize for Root<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let d = self.0;
            let mut m = s.serialize_map(None)?;
            macro_rules! section {
                ($name:expr, $map:expr) => {{
                    let sec = Section {
                        name: $name,
                        map: $map,
                        data: d,
                    };
                    match d.unparsed.get($name) {
                        // A known section that was not an object, and still holds nothing
                        // this library wrote: written back as it was.
                        Some(v) if !v.is_object() && sec.map.is_empty() => {
                            m.serialize_entry($name, v)?
                        }
                        _ if sec.present() => m.serialize_entry($name, &sec)?,
                        _ => {}
                    }
                }};
            }
            for name in SECTIONS {
                match name {
                    AT => section!(AT, &d.access_tokens),
                    RT => section!(RT, &d.refresh_tokens),
                    IDT => section!(IDT, &d.id_tokens),
                    ACCOUNT => section!(ACCOUNT, &d.accounts),
                    _ => section!(APP_METADATA, &d.app_metadata),
                }
            }
            for (k, v) in &d.unparsed {
                if !SECTIONS.contains(&k.as_str()) {
                    m.serialize_entry(k, v)?;
                }
            }
            m.end()
        }
    }
}

/// The `'static` name of a known section.
fn section_name(name: &str) -> Option<&'static str> {
    SECTIONS.into_iter().find(|s| *s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn app_token(realm: &str, target: &str, expires_on: u64) -> AccessTokenEntry {
        AccessTokenEntry {
            credential_type: "AccessToken".into(),
            secret: format!("at-{realm}-{target}").into(),
            home_account_id: None,
            environment: "login.microsoftonline.com".into(),
            client_id: "cid".into(),
            target: target.into(),
            realm: realm.into(),
            token_type: Some("Bearer".into()),
            cached_at: 1,
            expires_on,
            extended_expires_on: Some(expires_on),
            refresh_on: None,
            key_id: None,
            ext_cache_key: None,
            user_assertion_hash: None,
            extra: Map::new(),
        }
    }

    fn q<'a>(realm: &'a str, scopes: &'a [String]) -> AtQuery<'a> {
        AtQuery {
            home_account_id: None,
            environment: "LOGIN.microsoftonline.com",
            client_id: "cid",
            realm,
            scopes,
            user_assertion_hash: None,
        }
    }

    #[test]
    fn lookup_by_partition_and_scope_superset() {
        let mut d = CacheData::default();
        d.insert_access_token(app_token(
            "t1",
            "https://graph.microsoft.com/.default",
            10_000,
        ));
        d.insert_access_token(app_token(
            "t2",
            "https://graph.microsoft.com/.default",
            10_000,
        ));
        let scopes = vec!["https://graph.microsoft.com/.default".to_string()];
        assert_eq!(
            d.find_access_token(&q("t1", &scopes), 0).unwrap().realm,
            "t1"
        );
        assert_eq!(
            d.find_access_token(&q("T2", &scopes), 0).unwrap().realm,
            "t2"
        );
        assert!(d.find_access_token(&q("t3", &scopes), 0).is_none());
        let other = vec!["https://storage.azure.com/.default".to_string()];
        assert!(d.find_access_token(&q("t1", &other), 0).is_none());
    }

    #[test]
    fn expired_entries_are_purged_by_writes_in_every_partition_not_by_reads() {
        let mut d = CacheData::default();
        d.track_changes = true;
        d.insert_access_token(app_token("t1", "s", 5));
        d.insert_access_token(app_token("t2", "s", 7));
        d.insert_access_token(app_token("t3", "s", 50));
        d.dirty.clear();
        let scopes = vec!["s".to_string()];
        // A read skips the expired entry and leaves it.
        assert!(d.find_access_token(&q("t1", &scopes), 10).is_none());
        assert_eq!(d.access_tokens.len(), 3);
        // A write removes what expired, whatever the partition, and records the removals.
        d.purge_expired(10);
        assert_eq!(d.access_tokens.len(), 1);
        assert_eq!(d.at_index.len(), 1);
        assert_eq!(d.at_expiry.len(), 1);
        assert_eq!(d.dirty.len(), 2);
        assert!(d.find_access_token(&q("t3", &scopes), 10).is_some());
        // Replacing an entry re-indexes it by its new expiry.
        d.insert_access_token(app_token("t3", "s", 100));
        assert_eq!(d.at_expiry.len(), 1);
        d.purge_expired(60);
        assert_eq!(d.access_tokens.len(), 1);
        d.purge_expired(101);
        assert!(d.access_tokens.is_empty() && d.at_index.is_empty() && d.at_expiry.is_empty());
    }

    #[test]
    fn a_hit_shares_the_entry_token() {
        let mut d = CacheData::default();
        d.insert_access_token(app_token("t1", "A b", 10_000));
        let p = Partition::new(None, None, "login.microsoftonline.com", "CID", "T1");
        let scopes = ["B"];
        let hit = d
            .find_hit(&p, ScopeList::Strs(&scopes), None, 0)
            .expect("a hit, letter case aside");
        let entry = d.access_tokens.values().next().unwrap();
        assert!(std::ptr::eq(hit.token.secret(), entry.secret.secret()));
        assert!(d.find_hit(&p, ScopeList::Strs(&["c"]), None, 0).is_none());
        assert!(d
            .find_hit(&p, ScopeList::Strs(&scopes), Some("h"), 0)
            .is_none());
    }

    /// Repeated names are read as every JSON reader MSAL uses reads them (serde_json's
    /// `Value`, Python's `json`): the last wins, for sections and for entries, whatever
    /// the earlier one was. (Found by the `cache_deserialize` fuzz target: a repeated
    /// section used to be merged into the first.)
    #[test]
    fn a_repeated_name_is_read_as_json_readers_read_it_the_last_wins() {
        let at = |secret: &str| {
            format!(
                r#"{{"credential_type": "AccessToken", "secret": "{secret}", "home_account_id": null,
                "environment": "e", "client_id": "c", "target": "t", "realm": "r",
                "cached_at": "1", "expires_on": "4102444800"}}"#
            )
        };
        let cases = [
            // A repeated section.
            format!(
                r#"{{"AccessToken": {{"k1": {}, "k2": {}}}, "AccessToken": {{"k3": {}}}}}"#,
                at("a"),
                at("b"),
                at("c")
            ),
            // A repeated entry: typed, then one that does not fit; and the other way round.
            format!(
                r#"{{"AccessToken": {{"k1": {}, "k1": {{"credential_type": 1}}}}}}"#,
                at("a")
            ),
            format!(
                r#"{{"AccessToken": {{"k1": {{"credential_type": 1}}, "k1": {}}}}}"#,
                at("a")
            ),
            // A repeated entry: typed, then not an object.
            format!(r#"{{"AccessToken": {{"k1": {}, "k1": 7}}}}"#, at("a")),
            // Typed twice.
            format!(
                r#"{{"AccessToken": {{"k1": {}, "k1": {}}}}}"#,
                at("a"),
                at("b")
            ),
            // A known section that is not an object (found by the fuzz target), alone or
            // after one that was.
            r#"{"AccessToken": "token", "x": "RefreshToken"}"#.to_string(),
            format!(
                r#"{{"AccessToken": {{"k1": {}}}, "AccessToken": [1]}}"#,
                at("a")
            ),
        ];
        for text in cases {
            let d = CacheData::deserialize(&text).unwrap();
            let want: Value = serde_json::from_str(&text).unwrap();
            let got: Value = serde_json::from_str(&d.serialize()).unwrap();
            assert_eq!(got, want, "{text}");
            let typed = want["AccessToken"].as_object().map_or(0, |m| {
                m.values()
                    .filter(|v| v["credential_type"] == "AccessToken")
                    .count()
            });
            assert_eq!(d.access_tokens.len(), typed, "{text}");
            assert_eq!(
                d.at_index.values().map(Vec::len).sum::<usize>(),
                typed,
                "no index entry outlives its token: {text}"
            );
        }
    }

    #[test]
    fn round_trip_keeps_unknown_fields_and_sections() {
        let text = r#"{
            "AccessToken": {"k1": {"credential_type": "AccessToken", "secret": "s", "home_account_id": null,
                "environment": "e", "client_id": "c", "target": "t", "realm": "r", "cached_at": "1",
                "expires_on": 99, "extended_expires_on": "99", "x_vendor": {"a": 1}},
                "broken": {"credential_type": "AccessToken"}},
            "Future": {"x": 1}
        }"#;
        let d = CacheData::deserialize(text).unwrap();
        assert_eq!(d.access_tokens["k1"].expires_on, 99);
        let out = CacheData::deserialize(&d.serialize()).unwrap().serialize();
        assert!(out.contains("\"x_vendor\""));
        assert!(out.contains("\"broken\""));
        assert!(out.contains("\"Future\""));
        // Written back as the other library wrote it (a number) until this one changes it.
        assert!(out.contains("\"expires_on\": 99"));
        assert!(out.contains("\"home_account_id\": null"));
        let mut d = CacheData::deserialize(&out).unwrap();
        let e = d.access_tokens["k1"].clone();
        let k = d.insert_access_token(e);
        let out = d.serialize();
        assert!(out.contains(&format!("\"{k}\"")));
        assert!(out.contains("\"expires_on\": \"99\""));
        assert!(out.contains("\"x_vendor\""));
    }

    /// The reader keeps an entry's original exactly when the entry, parsed and written
    /// back, would not be the same JSON; it types an entry exactly as the entry type's
    /// `Deserialize` does.
    #[test]
    fn the_original_is_kept_exactly_when_a_round_trip_would_change_it() {
        use serde::Deserialize;
        use serde_json::json;
        fn check<T>(section: &'static str, v: &Value, typed: impl Fn(&CacheData) -> Option<T>)
        where
            T: for<'de> Deserialize<'de> + serde::Serialize + PartialEq + std::fmt::Debug,
        {
            let text = json!({ section: { "k": v } }).to_string();
            let d = CacheData::deserialize(&text).unwrap();
            match T::deserialize(v) {
                Ok(e) => {
                    let same = serde_json::to_value(&e).unwrap() == *v;
                    assert!(typed(&d).is_some(), "typed: {v}");
                    assert_eq!(
                        serde_json::to_value(typed(&d).unwrap()).unwrap(),
                        serde_json::to_value(&e).unwrap(),
                        "{v}"
                    );
                    assert_eq!(d.raw.contains_key(&(section, "k".into())), !same, "{v}");
                    let back: Value = serde_json::from_str(&d.serialize()).unwrap();
                    assert_eq!(back[section]["k"], *v, "written back as read: {v}");
                }
                Err(_) => {
                    assert!(typed(&d).is_none(), "rejected: {v}");
                    assert_eq!(d.unparsed[section]["k"], *v, "kept verbatim: {v}");
                }
            }
        }
        let at = json!({"credential_type": "AccessToken", "secret": "s", "home_account_id": null,
            "environment": "e", "client_id": "c", "target": "a b", "realm": "r", "token_type": "Bearer",
            "cached_at": "1", "expires_on": "99", "extended_expires_on": "99", "x_vendor": [1, {"a": null}]});
        let mut cases = vec![at.clone()];
        let variants: Vec<(&str, Option<Value>)> = vec![
            ("expires_on", Some(json!(99))),
            ("expires_on", Some(json!(99.5))),
            ("expires_on", Some(json!(-99))),
            ("expires_on", Some(json!("099"))),
            ("expires_on", Some(json!("99.0"))),
            ("expires_on", Some(json!(" 99"))),
            ("expires_on", Some(json!("0"))),
            ("expires_on", Some(json!("soon"))),
            ("expires_on", Some(Value::Null)),
            ("expires_on", None),
            ("extended_expires_on", Some(json!("-62135596800"))),
            ("extended_expires_on", Some(json!(-5))),
            ("extended_expires_on", Some(json!(-5.5))),
            ("extended_expires_on", Some(json!(""))),
            ("extended_expires_on", Some(Value::Null)),
            ("extended_expires_on", Some(json!(true))),
            ("extended_expires_on", None),
            ("target", Some(json!(["b", "a"]))),
            ("target", Some(json!(["b", 1]))),
            ("target", Some(Value::Null)),
            ("realm", None),
            ("realm", Some(Value::Null)),
            ("token_type", Some(Value::Null)),
            ("token_type", Some(json!(7))),
            ("token_type", None),
            ("home_account_id", None),
            ("home_account_id", Some(json!("u.t"))),
            ("secret", Some(json!("with \"escapes\" \u{e9}"))),
            ("secret", None),
            ("key_id", Some(json!("k"))),
            ("cached_at", Some(json!("99999999999999999999"))),
        ];
        for (field, value) in variants {
            let mut v = at.clone();
            match value {
                Some(x) => drop(v.as_object_mut().unwrap().insert(field.into(), x)),
                None => drop(v.as_object_mut().unwrap().shift_remove(field)),
            }
            cases.push(v);
        }
        cases.push(json!("not an object"));
        for v in &cases {
            check::<AccessTokenEntry>(AT, v, |d| d.access_tokens.get("k").cloned());
        }
        let account = json!({"home_account_id": "u.t", "environment": "e", "realm": "t",
            "local_account_id": "o", "username": "n", "authority_type": "MSSTS"});
        let mut no_username = account.clone();
        no_username
            .as_object_mut()
            .unwrap()
            .shift_remove("username");
        for v in [account, no_username] {
            check::<AccountEntry>(ACCOUNT, &v, |d| d.accounts.get("k").cloned());
        }
        let rt = json!({"credential_type": "RefreshToken", "secret": "s", "home_account_id": "u.t",
            "environment": "e", "client_id": "c", "target": ["b", "a"], "last_modification_time": 5});
        let rt_plain = json!({"credential_type": "RefreshToken", "secret": "s", "home_account_id": "u.t",
            "environment": "e", "client_id": "c", "family_id": "1", "x": {}});
        for v in [rt, rt_plain] {
            check::<RefreshTokenEntry>(RT, &v, |d| d.refresh_tokens.get("k").cloned());
        }
        let idt = json!({"credential_type": "IdToken", "secret": "s", "home_account_id": "u.t",
            "environment": "e", "client_id": "c"});
        check::<IdTokenEntry>(IDT, &idt, |d| d.id_tokens.get("k").cloned());
        let meta = json!({"client_id": "c", "environment": "e", "family_id": null});
        check::<AppMetadataEntry>(APP_METADATA, &meta, |d| d.app_metadata.get("k").cloned());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(CacheData::deserialize("{not json").is_err());
        assert!(CacheData::deserialize("[1,2]").is_err());
        assert!(CacheData::deserialize("").unwrap().access_tokens.is_empty());
    }

    #[test]
    fn accounts_one_per_user_with_a_stable_winner() {
        let text = r#"{"Account": {
            "u.t-alias-t": {"home_account_id": "u.t", "environment": "alias", "realm": "t", "username": "alias"},
            "u.t-host-other": {"home_account_id": "u.t", "environment": "host", "realm": "other", "username": "guest profile"},
            "u.t-host-t": {"home_account_id": "u.t", "environment": "host", "realm": "t", "username": "home profile"},
            "U.T-host-T": {"home_account_id": "u.t", "environment": "host", "realm": "t", "username": "v1.0 key"},
            "v.t-alias-t": {"home_account_id": "v.t", "environment": "ALIAS", "realm": "t", "username": "v"},
            "w.t-elsewhere-t": {"home_account_id": "w.t", "environment": "elsewhere", "realm": "t", "username": "w"}
        }}"#;
        let d = CacheData::deserialize(text).unwrap();
        let envs = ["host".to_string(), "alias".to_string()];
        // The host before the alias, the home tenant's profile before a guest profile,
        // the lower-case key before the v1.0 mixed-case one.
        let names: Vec<&str> = d
            .accounts_per_user(&envs, |_| true)
            .iter()
            .map(|a| a.username.as_str())
            .collect();
        assert_eq!(names, ["home profile", "v"]);
        let names: Vec<&str> = d
            .accounts_per_user(&envs[1..], |a| a.username != "v")
            .iter()
            .map(|a| a.username.as_str())
            .collect();
        assert_eq!(names, ["alias"]);
    }

    #[test]
    fn remove_app_tokens_in_all_tenants_only() {
        let mut d = CacheData::default();
        d.insert_access_token(app_token("t1", "s", 10_000));
        d.insert_access_token(app_token("t2", "s", 10_000));
        let mut user = app_token("t1", "s", 10_000);
        user.home_account_id = Some("u.t".into());
        d.insert_access_token(user);
        assert_eq!(d.remove_app_tokens("cid", "login.microsoftonline.com"), 2);
        assert_eq!(d.access_tokens.len(), 1);
    }
}
