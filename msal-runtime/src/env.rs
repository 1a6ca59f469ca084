//! An injectable environment-variable lookup, so detection can be tested without touching
//! the process environment.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

type LookupFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where managed identity and workload identity read their environment variables from.
///
/// The default is the process environment; tests and embedders pass a map or a function.
/// A variable that is present with an empty value counts as present (as in MSAL Python).
///
/// ```
/// use msal_runtime::EnvLookup;
///
/// let env = EnvLookup::from_pairs([("IDENTITY_ENDPOINT", "http://127.0.0.1:8081/msi/token")]);
/// assert_eq!(env.get("IDENTITY_ENDPOINT").as_deref(), Some("http://127.0.0.1:8081/msi/token"));
/// assert!(env.get("IDENTITY_HEADER").is_none());
/// ```
#[derive(Clone)]
pub struct EnvLookup(Arc<LookupFn>);

impl EnvLookup {
    /// The process environment (`std::env::var`), read at each look-up.
    pub fn process() -> Self {
        EnvLookup(Arc::new(|name| std::env::var(name).ok()))
    }

    /// A fixed set of variables; every other name is absent.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        EnvLookup(Arc::new(move |name| map.get(name).cloned()))
    }

    /// Any function from a variable name to its value.
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        EnvLookup(Arc::new(f))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    /// Whether `name` is present (an empty value counts).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl Default for EnvLookup {
    fn default() -> Self {
        Self::process()
    }
}

impl fmt::Debug for EnvLookup {
    // Values may be secrets (IDENTITY_HEADER, MSI_SECRET): never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvLookup(..)")
    }
}
