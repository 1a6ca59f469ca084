//! Newtypes for secrets and tokens, so they cannot be mixed up or printed by accident.

use std::fmt;
use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
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
    /// An access token. Redacted in `Debug`, zeroized on drop.
    ///
    /// ```
    /// let t = msal_runtime::AccessToken::new("eyJ0eXAi...");
    /// assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
    /// assert_eq!(t.secret(), "eyJ0eXAi...");
    /// ```
    AccessToken
);
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
