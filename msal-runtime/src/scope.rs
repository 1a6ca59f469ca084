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
            .map(|s| {
                let s = s.as_ref();
                if s.trim().is_empty() || s.contains(char::is_whitespace) {
                    Err(Error::InvalidInput(format!(
                        "`{}` is not a scope (blank or contains white space)",
                        s.escape_debug()
                    )))
                } else {
                    Ok(s.to_string())
                }
            })
            .collect::<Result<_>>()?;
        if scopes.is_empty() {
            return Err(Error::InvalidInput("at least one scope is required".into()));
        }
        let target = crate::cache::key::target(&scopes);
        Ok(Scopes(Arc::new(Inner { scopes, target })))
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
}

impl IntoScopes for Scopes {
    fn into_scopes(self) -> Result<Scopes> {
        Ok(self)
    }
}

impl IntoScopes for &Scopes {
    fn into_scopes(self) -> Result<Scopes> {
        Ok(self.clone())
    }
}

impl<S: AsRef<str>> IntoScopes for &[S] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
}

impl<S: AsRef<str>, const N: usize> IntoScopes for &[S; N] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
}

impl<S: AsRef<str>, const N: usize> IntoScopes for [S; N] {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
}

impl<S: AsRef<str>> IntoScopes for &Vec<S> {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
}

impl<S: AsRef<str>> IntoScopes for Vec<S> {
    fn into_scopes(self) -> Result<Scopes> {
        Scopes::new(self)
    }
}
