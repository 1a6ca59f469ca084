//! Scope sets, validated once and kept in canonical form.

use crate::error::{Error, Result};
use std::sync::Arc;

/// A validated set of scopes: the scopes as given (their order is kept on the wire) and
/// the cache's `target` form (sorted, de-duplicated, space-joined), computed once.
///
/// The methods of [`ConfidentialClientApplication`](crate::ConfidentialClientApplication)
/// take anything [`IntoScopes`]: a slice or array of strings is validated on every call,
/// a `Scopes` built once (as `#[msal_app]` clients do for each `scopes.NAME` set) is not.
///
/// ```
/// use msal_runtime::Scopes;
///
/// let s = Scopes::new(["User.Read", "Mail.Read", "User.Read"]).unwrap();
/// assert_eq!(s.as_slice(), ["User.Read", "Mail.Read", "User.Read"]);
/// assert_eq!(s.target(), "Mail.Read User.Read");
/// assert!(Scopes::new(["two words"]).is_err());
/// assert!(Scopes::new(Vec::<String>::new()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Scopes(Arc<Inner>);

#[derive(PartialEq, Eq, Hash)]
struct Inner {
    scopes: Box<[String]>,
    target: String,
}

impl Scopes {
    /// Validates `scopes`: at least one, none blank, none containing white space.
    pub fn new<I, S>(scopes: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Box<[String]> = scopes
            .into_iter()
            .map(|s| check(s.as_ref()).map(str::to_string))
            .collect::<Result<_>>()?;
        if scopes.is_empty() {
            return Err(Error::InvalidInput("at least one scope is required".into()));
        }
        let target = crate::cache::key::target(&scopes);
        Ok(Scopes(Arc::new(Inner { scopes, target })))
    }

    /// An equal set with storage of its own (a per-thread copy of a hot cache entry's
    /// scopes, so threads do not share its reference count).
    pub(crate) fn local_copy(&self) -> Self {
        Scopes(Arc::new(Inner {
            scopes: self.0.scopes.clone(),
            target: self.0.target.clone(),
        }))
    }

    /// The scopes of a cache entry's `target` (space-separated), as the token carries
    /// them; empty when the target is.
    pub(crate) fn from_target(target: &str) -> Self {
        let scopes: Box<[String]> = target.split_whitespace().map(str::to_string).collect();
        Scopes(Arc::new(Inner {
            scopes,
            target: target.to_string(),
        }))
    }

    /// The scopes as given.
    pub fn as_slice(&self) -> &[String] {
        &self.0.scopes
    }

    /// The canonical form the token cache keys on: sorted, de-duplicated, space-joined.
    pub fn target(&self) -> &str {
        &self.0.target
    }
}

/// A scope as `Scopes::new` accepts it: not blank, no white space.
fn check(s: &str) -> Result<&str> {
    if s.trim().is_empty() || s.contains(char::is_whitespace) {
        Err(Error::InvalidInput(format!(
            "`{}` is not a scope (blank or contains white space)",
            s.escape_debug()
        )))
    } else {
        Ok(s)
    }
}

/// Letter case aside, the same scope (what the cache compares), without allocating.
fn same_scope(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

impl std::ops::Deref for Scopes {
    type Target = [String];

    fn deref(&self) -> &[String] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Scopes {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Scopes {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Scopes {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

/// Written as a list of strings.
impl serde::Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl std::fmt::Debug for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// What the token methods accept as scopes: a [`Scopes`] (validated already) or any slice,
/// array or vector of strings (validated on entry).
///
/// ```
/// use msal_runtime::{IntoScopes, Scopes};
/// let graph = Scopes::new(["https://graph.microsoft.com/.default"]).unwrap();
/// assert_eq!((&graph).into_scopes().unwrap(), graph);
/// assert_eq!((&["https://graph.microsoft.com/.default"]).into_scopes().unwrap(), graph);
/// ```
pub trait IntoScopes {
    /// Validates (or passes through) the scopes.
    fn into_scopes(self) -> Result<Scopes>;

    /// The scopes, borrowed, for a cache look-up that builds nothing. `None` (the default)
    /// makes the caller build a [`Scopes`] with [`into_scopes`](Self::into_scopes) first.
    #[doc(hidden)]
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        None
    }
}

/// Scopes as a caller passed them, borrowed: a [`Scopes`] or strings not yet validated.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum ScopeList<'a> {
    /// Validated already.
    Set(&'a Scopes),
    /// As given; [`ScopeList::valid`] checks them.
    Strs(&'a dyn ScopeStrs),
}

/// A list of strings, whatever holds them (a slice, an array, a vector).
#[doc(hidden)]
pub trait ScopeStrs {
    /// How many.
    fn count(&self) -> usize;
    /// The `i`-th.
    fn at(&self, i: usize) -> &str;
}

impl<S: AsRef<str>> ScopeStrs for [S] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

impl<S: AsRef<str>, const N: usize> ScopeStrs for [S; N] {
    fn count(&self) -> usize {
        N
    }
    fn at(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

impl<S: AsRef<str>> ScopeStrs for Vec<S> {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

impl<S: AsRef<str>> ScopeStrs for &[S] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> &str {
        self[i].as_ref()
    }
}

impl ScopeList<'_> {
    /// Whether [`Scopes::new`] would accept them (it reports why not).
    pub fn valid(&self) -> bool {
        match self {
            ScopeList::Set(_) => true,
            ScopeList::Strs(s) => s.count() > 0 && (0..s.count()).all(|i| check(s.at(i)).is_ok()),
        }
    }

    /// Whether a token for `have` carries every one of these scopes (letter case aside).
    pub(crate) fn covered_by(&self, have: &Scopes) -> bool {
        let have = have.as_slice();
        let carried = |want: &str| have.iter().any(|h| same_scope(h, want));
        match self {
            ScopeList::Set(s) => s.as_slice().iter().all(|w| carried(w)),
            ScopeList::Strs(s) => (0..s.count()).all(|i| carried(s.at(i))),
        }
    }
}

impl IntoScopes for Scopes {
    fn into_scopes(self) -> Result<Scopes> {
        Ok(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Set(self))
    }
}

impl IntoScopes for &Scopes {
    fn into_scopes(self) -> Result<Scopes> {
        Ok(self.clone())
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Set(self))
    }
}

impl<S: AsRef<str>> IntoScopes for &[S] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Strs(self))
    }
}

impl<S: AsRef<str>, const N: usize> IntoScopes for &[S; N] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Strs(*self))
    }
}

impl<S: AsRef<str>, const N: usize> IntoScopes for [S; N] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Strs(self))
    }
}

impl<S: AsRef<str>> IntoScopes for &Vec<S> {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Strs(*self))
    }
}

impl<S: AsRef<str>> IntoScopes for Vec<S> {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
    fn scope_list(&self) -> Option<ScopeList<'_>> {
        Some(ScopeList::Strs(self))
    }
}
