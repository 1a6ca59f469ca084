//! Per-thread copies of the cache hits an application serves most.
//!
//! A hit served straight from the shared entry takes the cache's read lock and bumps the
//! reference counts of the entry's token, scopes and tenant. Every thread touches the same
//! few cache lines, so on several cores each hit waits for those lines to come over from
//! the core that touched them last, and eight tasks on two cores serve fewer hits than one.
//!
//! So each thread keeps, for the last few (application, requested scopes) it served, a
//! copy of the hit with handles of its own: the token's bytes are the entry's (one copy in
//! the process), the reference counts are the thread's. A copy answers only while the
//! cache's generation is the one it was read at: any write access to the cache moves the
//! generation on, and the next call reads the entry again (and drops the stale copy).
//! Whether the token is still fresh is judged on every call, as for any hit. A thread
//! holds at most `SLOTS` copies; a token removed from the cache stays in memory until the
//! thread that copied it drops the copy (its next call for that request, a newer request
//! taking the slot, or the thread's exit).

use super::store::CachedToken;
use crate::scope::ScopeList;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many (application, scopes) a thread keeps copies for.
const SLOTS: usize = 4;

/// A new owner id (one per application, never reused in the process).
pub(crate) fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

struct Slot {
    owner: u64,
    generation: u64,
    /// Whether the request was a validated `Scopes` (else a list of strings as given).
    typed: bool,
    request: Box<[Box<str>]>,
    hit: CachedToken,
}

impl Slot {
    /// Whether `scopes` is the request this copy was made for, in the same form.
    fn asked(&self, scopes: &ScopeList<'_>) -> bool {
        match scopes {
            ScopeList::Set(s) => {
                let s = s.as_slice();
                self.typed
                    && s.len() == self.request.len()
                    && s.iter().zip(&self.request).all(|(a, b)| a == &**b)
            }
            ScopeList::Strs(s) => {
                !self.typed
                    && s.count() == self.request.len()
                    && self
                        .request
                        .iter()
                        .enumerate()
                        .all(|(i, b)| s.at(i) == &**b)
            }
        }
    }
}

struct Memo {
    slots: Vec<Slot>,
    /// The slot to replace next once all are used.
    next: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = const {
        RefCell::new(Memo {
            slots: Vec::new(),
            next: 0,
        })
    };
}

/// Serves from this thread's copy for (`owner`, `scopes`) made at `generation`, when there
/// is one: `serve` gets the copy and decides (it judges freshness).
pub(crate) fn serve<R>(
    owner: u64,
    generation: u64,
    scopes: &ScopeList<'_>,
    serve: impl FnOnce(&CachedToken) -> Option<R>,
) -> Option<R> {
    MEMO.try_with(|m| {
        let mut m = m.try_borrow_mut().ok()?;
        let i = m
            .slots
            .iter()
            .position(|s| s.owner == owner && s.asked(scopes))?;
        if m.slots[i].generation != generation {
            // Out of date: let go of the token now rather than when the slot is reused.
            m.slots.swap_remove(i);
            m.next = 0;
            return None;
        }
        serve(&m.slots[i].hit)
    })
    .ok()
    .flatten()
}

/// Keeps this thread's copy of `hit`, read at `generation` for (`owner`, `scopes`).
/// Call it while the read lock under which `hit` was found (and `generation` read) is
/// held.
pub(crate) fn keep(owner: u64, generation: u64, scopes: &ScopeList<'_>, hit: &CachedToken) {
    let _ = MEMO.try_with(|m| {
        let Ok(mut m) = m.try_borrow_mut() else {
            return;
        };
        let copy = Slot {
            owner,
            generation,
            typed: matches!(scopes, ScopeList::Set(_)),
            request: match scopes {
                ScopeList::Set(s) => s.as_slice().iter().map(|s| s.as_str().into()).collect(),
                ScopeList::Strs(s) => (0..s.count()).map(|i| s.at(i).into()).collect(),
            },
            hit: CachedToken {
                token: hit.token.local_handle(),
                token_type: hit.token_type.clone(),
                scopes: hit.scopes.local_copy(),
                realm: Arc::from(&*hit.realm),
                cached_at: hit.cached_at,
                expires_on: hit.expires_on,
                extended_expires_on: hit.extended_expires_on,
                refresh_on: hit.refresh_on,
            },
        };
        // The same request again (at an older generation) is replaced in place.
        let at = m
            .slots
            .iter()
            .position(|s| s.owner == owner && s.asked(scopes));
        match at {
            Some(i) => m.slots[i] = copy,
            None if m.slots.len() < SLOTS => m.slots.push(copy),
            None => {
                let i = m.next;
                m.slots[i] = copy;
                m.next = (i + 1) % SLOTS;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scopes;
    use crate::secret::AccessToken;
    use std::borrow::Cow;

    fn hit(token: &str, expires_on: u64) -> CachedToken {
        CachedToken {
            token: AccessToken::new(token),
            token_type: Cow::Borrowed("Bearer"),
            scopes: Scopes::from_target("https://graph.microsoft.com/.default"),
            realm: Arc::from("contoso"),
            cached_at: 1,
            expires_on,
            extended_expires_on: None,
            refresh_on: None,
        }
    }

    fn served(owner: u64, generation: u64, scopes: &ScopeList<'_>) -> Option<CachedToken> {
        serve(owner, generation, scopes, |t| Some(t.clone()))
    }

    #[test]
    fn a_copy_answers_only_its_owner_generation_and_request() {
        let owner = new_owner();
        let other = new_owner();
        let graph = ["https://graph.microsoft.com/.default"];
        let asked = ScopeList::Strs(&graph);
        let entry = hit("t1", 100);
        keep(owner, 7, &asked, &entry);

        let copy = served(owner, 7, &asked).expect("the copy");
        // The bytes are the entry's; the handle is the thread's own.
        assert!(copy.token.same_storage(&entry.token));
        assert_eq!(copy.scopes, entry.scopes);
        assert_eq!(copy.expires_on, 100);

        assert!(served(other, 7, &asked).is_none(), "another app");
        let two = ["https://graph.microsoft.com/.default", "openid"];
        assert!(served(owner, 7, &ScopeList::Strs(&two)).is_none());
        let typed = Scopes::new(graph).expect("scopes");
        assert!(
            served(owner, 7, &ScopeList::Set(&typed)).is_none(),
            "the same strings as a typed set are a request of their own"
        );
        assert!(served(owner, 8, &asked).is_none(), "a later generation");
        assert!(
            served(owner, 7, &asked).is_none(),
            "a stale copy is dropped when it is found out of date"
        );
    }

    #[test]
    fn a_newer_read_replaces_the_copy_and_slots_are_recycled() {
        let owner = new_owner();
        let graph = ["https://graph.microsoft.com/.default"];
        let asked = ScopeList::Strs(&graph);
        keep(owner, 1, &asked, &hit("old", 100));
        keep(owner, 2, &asked, &hit("new", 200));
        assert_eq!(served(owner, 2, &asked).expect("copy").token, "new");

        // More requests than slots: the oldest go, the newest stay.
        let names: Vec<[String; 1]> = (0..SLOTS + 2)
            .map(|i| [format!("api://{i}/.default")])
            .collect();
        for (i, n) in names.iter().enumerate() {
            keep(owner, 2, &ScopeList::Strs(n), &hit(&format!("t{i}"), 100));
        }
        let last = names.last().expect("names");
        assert!(served(owner, 2, &ScopeList::Strs(last)).is_some());
        assert!(served(owner, 2, &ScopeList::Strs(&names[0])).is_none());
    }
}
