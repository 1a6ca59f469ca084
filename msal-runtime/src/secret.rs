//! Newtypes for secrets and tokens, so they cannot be mixed up or printed by accident.
//!
//! A value is kept once, behind a reference count: a clone (an access token served from the
//! cache, handed to several tasks) shares the same storage, and the storage is zeroized when
//! the last clone is dropped.
//!
//! The count is two-level: a value holds a handle, and handles share the storage. Clones
//! of one handle bump the handle's count; a thread that serves the same cached token over
//! and over takes a handle of its own (`local_handle`), so threads on different cores do
//! not contend for one counter while the token's bytes stay one copy.

use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The one copy of a secret value, zeroized when the last handle to it goes.
type Stored = Arc<Zeroizing<String>>;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Stored>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Arc::new(Arc::new(Zeroizing::new(value.into()))))
            }

            /// The secret itself. Call this only where the value leaves the process
            /// (an HTTP body, an `Authorization` header, the cache serializer).
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0)
                    || Arc::ptr_eq(&*self.0, &*other.0)
                    || self.secret() == other.secret()
            }
        }

        impl Eq for $name {}

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.secret() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.secret() == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.secret() == other
            }
        }

        /// Written as the plain string (the cache file is where secrets are stored).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.secret())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// A client secret registered for the app. Redacted in `Debug`, zeroized on drop.
    ///
    /// ```
    /// let s = msal_runtime::ClientSecret::new("hunter2");
    /// assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
    /// ```
    ClientSecret
);
secret_type!(
    /// An access token. Redacted in `Debug`, zeroized when the last clone is dropped.
    /// Clones share one copy of the token: a token served from the cache is the cache
    /// entry's own, not a copy.
    ///
    /// ```
    /// let t = msal_runtime::AccessToken::new("eyJ0eXAi...");
    /// assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
    /// assert_eq!(t.secret(), "eyJ0eXAi...");
    /// let shared = t.clone();
    /// assert!(std::ptr::eq(shared.secret(), t.secret()));
    /// assert_eq!(shared, "eyJ0eXAi...");
    /// ```
    AccessToken
);
impl AccessToken {
    /// Another handle to the same token: the bytes are shared, the reference count is
    /// the new handle's own (for a per-thread copy of a hot cache entry).
    pub(crate) fn local_handle(&self) -> Self {
        Self(Arc::new(Arc::clone(&self.0)))
    }

    /// Whether both are handles to the same stored bytes.
    #[cfg(test)]
    pub(crate) fn same_storage(&self, other: &Self) -> bool {
        Arc::ptr_eq(&*self.0, &*other.0)
    }
}

secret_type!(
    /// A refresh token. Redacted in `Debug`, zeroized on drop.
    RefreshToken
);
secret_type!(
    /// A signed client assertion (JWT) or a user assertion for on-behalf-of.
    Assertion
);

/// What a web API takes as the user's token for on-behalf-of: a `&str`, a `String`, an
/// [`Assertion`] or a `web_api::ValidatedCaller`.
///
/// ```
/// use msal_runtime::web_api::UserAssertion;
/// assert_eq!("eyJ...".user_assertion(), "eyJ...");
/// ```
pub trait UserAssertion {
    /// The token, as sent to the authority.
    fn user_assertion(&self) -> &str;
}

impl UserAssertion for str {
    fn user_assertion(&self) -> &str {
        self
    }
}

impl UserAssertion for String {
    fn user_assertion(&self) -> &str {
        self
    }
}

impl UserAssertion for Assertion {
    fn user_assertion(&self) -> &str {
        self.secret()
    }
}

impl<T: UserAssertion + ?Sized> UserAssertion for &T {
    fn user_assertion(&self) -> &str {
        (**self).user_assertion()
    }
}
