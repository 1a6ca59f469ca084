//! Pending sign-ins kept by `state`, bound to a browser, bounded in number and age.

use crate::grant::AuthCodeFlow;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many sign-ins [`PendingFlows`] keeps, and for how long.
///
/// ```
/// use msal_runtime::FlowLimits;
/// use std::time::Duration;
/// let limits = FlowLimits::default().max_age(Duration::from_secs(300)).per_browser(5);
/// assert_eq!(limits.max_age, Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowLimits {
    /// A sign-in not completed within this time is forgotten (default 10 minutes, the
    /// lifetime of Entra's authorization codes).
    pub max_age: Duration,
    /// Sign-ins pending at once in one browser (default 10); starting one more forgets
    /// that browser's oldest.
    pub per_browser: usize,
    /// Sign-ins pending at once in all (default 10,000); starting one more forgets the
    /// oldest of all, so a flood of abandoned sign-ins cannot exhaust memory.
    pub total: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_age: Duration::from_secs(600),
            per_browser: 10,
            total: 10_000,
        }
    }
}

impl FlowLimits {
    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = d;
        self
    }
    /// Sets [`per_browser`](Self::per_browser) (at least 1).
    pub fn per_browser(mut self, n: usize) -> Self {
        self.per_browser = n.max(1);
        self
    }
    /// Sets [`total`](Self::total) (at least 1).
    pub fn total(mut self, n: usize) -> Self {
        self.total = n.max(1);
        self
    }
}

/// Why [`PendingFlows::take`] found no sign-in to complete.
///
/// Only [`Expired`](Self::Expired) removes anything; in every other case the pending
/// sign-ins are left as they were, so a forged or stray callback cannot cancel a sign-in
/// in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowError {
    /// The response carries no `state`.
    MissingState,
    /// No pending sign-in has this `state`: forged, already completed, or forgotten
    /// (too many newer sign-ins).
    UnknownState,
    /// A sign-in with this `state` is pending, but it was started in another browser (or
    /// this request does not carry the flow cookie). It stays pending.
    OtherBrowser,
    /// The sign-in with this `state` was started too long ago; it is forgotten now.
    Expired,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlowError::MissingState => "the sign-in response carries no state",
            FlowError::UnknownState => {
                "no sign-in with this state is pending (forged, already completed, or forgotten)"
            }
            FlowError::OtherBrowser => {
                "the sign-in with this state was started in another browser (or the flow cookie \
                 is missing); nothing was consumed"
            }
            FlowError::Expired => "the sign-in with this state took too long; start again",
        })
    }
}

impl std::error::Error for FlowError {}

/// A sign-in taken out of [`PendingFlows`]: complete it with
/// [`acquire_token_by_auth_code_flow`](crate::ConfidentialClientApplication::acquire_token_by_auth_code_flow).
#[derive(Debug)]
#[non_exhaustive]
pub struct PendingFlow<T> {
    /// The flow (PKCE verifier, nonce, state).
    pub flow: AuthCodeFlow,
    /// What the app stored with it, e.g. the page to return to.
    pub data: T,
    /// How long ago it was started.
    pub age: Duration,
}

struct Entry<T> {
    flow: AuthCodeFlow,
    browser: String,
    data: T,
    started: Instant,
}

struct Inner<T> {
    by_state: HashMap<String, Entry<T>>,
    /// States in the order they were started (may name flows already taken).
    order: VecDeque<String>,
    /// Each browser's pending states, oldest first.
    by_browser: HashMap<String, VecDeque<String>>,
}

impl<T> Inner<T> {
    fn remove(&mut self, state: &str) -> Option<Entry<T>> {
        let entry = self.by_state.remove(state)?;
        if let Some(list) = self.by_browser.get_mut(&entry.browser) {
            list.retain(|s| s != state);
            if list.is_empty() {
                self.by_browser.remove(&entry.browser);
            }
        }
        Some(entry)
    }

    /// Forgets expired flows (the oldest are at the front of `order`) and drops names of
    /// flows already taken from the front.
    fn prune(&mut self, now: Instant, max_age: Duration) {
        while let Some(state) = self.order.front() {
            match self.by_state.get(state) {
                Some(e) if now.duration_since(e.started) < max_age => break,
                Some(_) => {
                    let state = self.order.pop_front().unwrap_or_default();
                    self.remove(&state);
                }
                None => {
                    self.order.pop_front();
                }
            }
        }
        // Names of taken flows in the middle of `order` are dropped when they grow to
        // outnumber the pending ones, so `order` stays within twice the pending count.
        if self.order.len() > 2 * self.by_state.len() + 16 {
            let by_state = &self.by_state;
            self.order.retain(|s| by_state.contains_key(s));
        }
    }

    /// Forgets the oldest pending flow; `false` when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some(state) = self.order.pop_front() {
            if self.remove(&state).is_some() {
                return true;
            }
        }
        false
    }
}

/// The sign-ins in progress of a web app, kept server-side by `state`.
///
/// Each flow is bound to the browser that started it by an opaque value the app keeps in
/// a cookie ([`FlowCookie`](crate::FlowCookie); make one with
/// [`new_browser_id`](Self::new_browser_id)). [`take`](Self::take) hands a flow back only
/// to the browser that started it, once; several flows per browser can be pending at
/// once. `T` is what the app keeps with each flow (for example the page to return to).
///
/// ```
/// use msal_runtime::{AuthCodeFlow, AuthResponse, FlowError, PendingFlows};
///
/// # fn flow(state: &str) -> AuthCodeFlow {
/// #     serde_json::from_value(serde_json::json!({"auth_uri": "https://login.example/authorize",
/// #         "state": state, "redirect_uri": null, "scope": [], "code_verifier": "v", "nonce": "n"})).unwrap()
/// # }
/// let pending: PendingFlows<String> = PendingFlows::new();
/// let browser = PendingFlows::<String>::new_browser_id()?;
/// // In /login: `let flow = app.initiate_auth_code_flow(..).await?;`
/// pending.insert(&browser, flow("s1"), "/profile".to_string());
/// pending.insert(&browser, flow("s2"), "/".to_string()); // a second tab
///
/// // A forged callback consumes nothing.
/// let forged = AuthResponse::from_query("code=junk&state=junk");
/// assert_eq!(pending.take(Some(&browser), forged.state()).unwrap_err(), FlowError::UnknownState);
/// // Nor does the right state from another browser.
/// assert_eq!(pending.take(Some("other"), Some("s1")).unwrap_err(), FlowError::OtherBrowser);
///
/// // In /callback: the flow, then `app.acquire_token_by_auth_code_flow(&taken.flow, &response)`.
/// let response = AuthResponse::from_query("code=abc&state=s1");
/// let taken = pending.take(Some(&browser), response.state()).unwrap();
/// assert_eq!(taken.data, "/profile");
/// assert_eq!(pending.len(), 1);
/// # Ok::<(), msal_runtime::Error>(())
/// ```
pub struct PendingFlows<T = ()> {
    inner: Mutex<Inner<T>>,
    limits: FlowLimits,
}

impl<T> fmt::Debug for PendingFlows<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the flows themselves: they hold PKCE verifiers and nonces.
        f.debug_struct("PendingFlows")
            .field("pending", &self.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl<T> Default for PendingFlows<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PendingFlows<T> {
    /// An empty store with [`FlowLimits::default`].
    pub fn new() -> Self {
        Self::with_limits(FlowLimits::default())
    }

    /// An empty store with these limits.
    pub fn with_limits(limits: FlowLimits) -> Self {
        PendingFlows {
            inner: Mutex::new(Inner {
                by_state: HashMap::new(),
                order: VecDeque::new(),
                by_browser: HashMap::new(),
            }),
            limits: FlowLimits {
                per_browser: limits.per_browser.max(1),
                total: limits.total.max(1),
                ..limits
            },
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> FlowLimits {
        self.limits
    }

    /// A new random browser id (256 bits, base64url): the value of the flow cookie.
    /// Fails only when the system's random generator does.
    pub fn new_browser_id() -> crate::Result<String> {
        let mut bytes = [0u8; 32];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|_| crate::Error::credential("the system random generator failed"))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `flow` for `browser` until its response comes back. Forgets expired flows,
    /// then this browser's oldest beyond [`FlowLimits::per_browser`] and the oldest of all
    /// beyond [`FlowLimits::total`]. A flow with the `state` of a pending one replaces it.
    pub fn insert(&self, browser: &str, flow: AuthCodeFlow, data: T) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune(now, self.limits.max_age);
        let state = flow.state.clone();
        inner.remove(&state);
        let mine = inner.by_browser.entry(browser.to_string()).or_default();
        let mut evict = Vec::new();
        while mine.len() >= self.limits.per_browser {
            if let Some(old) = mine.pop_front() {
                evict.push(old);
            }
        }
        mine.push_back(state.clone());
        for old in evict {
            inner.by_state.remove(&old);
        }
        while inner.by_state.len() >= self.limits.total {
            if !inner.evict_oldest() {
                break;
            }
        }
        inner.order.push_back(state.clone());
        inner.by_state.insert(
            state,
            Entry {
                flow,
                browser: browser.to_string(),
                data,
                started: now,
            },
        );
    }

    /// Takes the flow the response's `state` names, if `browser` started it. See
    /// [`FlowError`] for what is left pending when it fails (everything but an expired flow).
    pub fn take(
        &self,
        browser: Option<&str>,
        state: Option<&str>,
    ) -> Result<PendingFlow<T>, FlowError> {
        let state = state
            .filter(|s| !s.is_empty())
            .ok_or(FlowError::MissingState)?;
        let now = Instant::now();
        let mut inner = self.lock();
        let entry = inner.by_state.get(state).ok_or(FlowError::UnknownState)?;
        let age = now.duration_since(entry.started);
        if age >= self.limits.max_age {
            inner.remove(state);
            return Err(FlowError::Expired);
        }
        if !browser.is_some_and(|b| constant_time_eq(b.as_bytes(), entry.browser.as_bytes())) {
            return Err(FlowError::OtherBrowser);
        }
        let entry = inner.remove(state).ok_or(FlowError::UnknownState)?;
        Ok(PendingFlow {
            flow: entry.flow,
            data: entry.data,
            age,
        })
    }

    /// How many sign-ins `browser` has pending (expired ones not counted).
    pub fn pending_for(&self, browser: &str) -> usize {
        let now = Instant::now();
        let inner = self.lock();
        inner.by_browser.get(browser).map_or(0, |states| {
            states
                .iter()
                .filter_map(|s| inner.by_state.get(s))
                .filter(|e| now.duration_since(e.started) < self.limits.max_age)
                .count()
        })
    }

    /// How many sign-ins are pending in all (expired ones included until the next
    /// [`insert`](Self::insert)).
    pub fn len(&self) -> usize {
        self.lock().by_state.len()
    }

    /// Whether no sign-in is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// The authority's answer to a sign-in, as the redirect URI received it: the query string
/// (`response_mode=query`, the default) or the POSTed form (`response_mode=form_post`).
///
/// `Debug` shows the parameter names and the `state`, never the code.
///
/// ```
/// use msal_runtime::AuthResponse;
/// let r = AuthResponse::from_form(b"code=0.AXY&state=abc&session_state=x");
/// assert_eq!(r.state(), Some("abc"));
/// assert_eq!(r.error(), None);
/// assert!(!format!("{r:?}").contains("0.AXY"));
/// // app.acquire_token_by_auth_code_flow(&flow, r.pairs()).await?
/// assert_eq!(r.pairs().count(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthResponse {
    params: Vec<(String, String)>,
}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthResponse")
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("state", &self.state())
            .field("error", &self.error())
            .finish()
    }
}

impl AuthResponse {
    /// From a URL query string (with or without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        Self::from_form(query.as_bytes())
    }

    /// From an `application/x-www-form-urlencoded` body (a `form_post` callback).
    pub fn from_form(body: &[u8]) -> Self {
        AuthResponse {
            params: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// From decoded pairs (as a web framework's extractor gives them).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        AuthResponse {
            params: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `state`.
    pub fn state(&self) -> Option<&str> {
        self.get("state")
    }

    /// `error`, when the authority reports one (`access_denied` when the user cancelled).
    pub fn error(&self) -> Option<&str> {
        self.get("error")
    }

    /// Every parameter, for
    /// [`acquire_token_by_auth_code_flow`](crate::ConfidentialClientApplication::acquire_token_by_auth_code_flow).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(state: &str) -> AuthCodeFlow {
        AuthCodeFlow {
            auth_uri: "https://login.example/authorize".into(),
            state: state.into(),
            redirect_uri: None,
            scope: vec![],
            code_verifier: "v".into(),
            nonce: "n".into(),
            claims_challenge: None,
            max_age: None,
        }
    }

    #[test]
    fn flows_are_kept_by_state_and_bound_to_the_browser() {
        let p: PendingFlows<u32> = PendingFlows::new();
        p.insert("b1", flow("s1"), 1);
        p.insert("b1", flow("s2"), 2);
        p.insert("b2", flow("s3"), 3);
        assert_eq!(p.pending_for("b1"), 2);
        assert_eq!(
            p.take(Some("b1"), None).unwrap_err(),
            FlowError::MissingState
        );
        assert_eq!(
            p.take(Some("b1"), Some("")).unwrap_err(),
            FlowError::MissingState
        );
        assert_eq!(
            p.take(Some("b1"), Some("junk")).unwrap_err(),
            FlowError::UnknownState
        );
        assert_eq!(
            p.take(Some("b1"), Some("s3")).unwrap_err(),
            FlowError::OtherBrowser
        );
        assert_eq!(
            p.take(None, Some("s1")).unwrap_err(),
            FlowError::OtherBrowser
        );
        assert_eq!(p.len(), 3, "failed takes consume nothing");
        // Both of one browser's flows complete, in any order.
        assert_eq!(p.take(Some("b1"), Some("s2")).unwrap().data, 2);
        assert_eq!(p.take(Some("b1"), Some("s1")).unwrap().data, 1);
        assert_eq!(
            p.take(Some("b1"), Some("s1")).unwrap_err(),
            FlowError::UnknownState,
            "a flow is taken once"
        );
        assert_eq!(p.pending_for("b1"), 0);
        assert_eq!(p.take(Some("b2"), Some("s3")).unwrap().data, 3);
        assert!(p.is_empty());
    }

    #[test]
    fn bounded_per_browser_and_in_all() {
        let p: PendingFlows =
            PendingFlows::with_limits(FlowLimits::default().per_browser(2).total(3));
        p.insert("a", flow("a1"), ());
        p.insert("a", flow("a2"), ());
        p.insert("a", flow("a3"), ());
        assert_eq!(p.pending_for("a"), 2);
        assert_eq!(
            p.take(Some("a"), Some("a1")).unwrap_err(),
            FlowError::UnknownState
        );
        p.insert("b", flow("b1"), ());
        p.insert("c", flow("c1"), ());
        assert_eq!(p.len(), 3);
        // The oldest of all (a2) went to make room.
        assert_eq!(
            p.take(Some("a"), Some("a2")).unwrap_err(),
            FlowError::UnknownState
        );
        assert!(p.take(Some("a"), Some("a3")).is_ok());
        assert!(p.take(Some("b"), Some("b1")).is_ok());
        assert!(p.take(Some("c"), Some("c1")).is_ok());
    }

    #[test]
    fn expired_flows_are_forgotten() {
        let p: PendingFlows =
            PendingFlows::with_limits(FlowLimits::default().max_age(Duration::ZERO));
        p.insert("a", flow("a1"), ());
        assert_eq!(
            p.take(Some("a"), Some("a1")).unwrap_err(),
            FlowError::Expired
        );
        assert!(p.is_empty());
        // Many abandoned sign-ins do not pile up.
        for i in 0..100 {
            p.insert("a", flow(&format!("x{i}")), ());
        }
        assert!(p.len() <= 1);
        assert!(p.lock().order.len() <= 1);
    }

    #[test]
    fn taken_names_do_not_pile_up() {
        let p: PendingFlows = PendingFlows::new();
        p.insert("keep", flow("first"), ());
        for i in 0..1000 {
            let s = format!("s{i}");
            p.insert("b", flow(&s), ());
            p.take(Some("b"), Some(&s)).unwrap();
        }
        assert_eq!(p.len(), 1);
        assert!(p.lock().order.len() <= 2 + 16 + 1);
    }

    #[test]
    fn the_same_state_again_replaces_the_flow() {
        let p: PendingFlows<u8> = PendingFlows::with_limits(FlowLimits::default().total(2));
        p.insert("a", flow("s"), 1);
        p.insert("b", flow("s"), 2);
        assert_eq!(p.len(), 1);
        assert_eq!(p.pending_for("a"), 0);
        assert_eq!(
            p.take(Some("a"), Some("s")).unwrap_err(),
            FlowError::OtherBrowser
        );
        p.insert("c", flow("t"), 3);
        p.insert("c", flow("u"), 4);
        assert_eq!(p.len(), 2);
        assert_eq!(p.take(Some("c"), Some("u")).unwrap().data, 4);
    }

    #[test]
    fn debug_hides_secrets() {
        let p: PendingFlows = PendingFlows::new();
        p.insert("browser-secret", flow("s"), ());
        let d = format!("{p:?}");
        assert!(!d.contains("browser-secret") && d.contains("pending: 1"));
        let r = AuthResponse::from_query("?code=the-code&state=s");
        assert!(!format!("{r:?}").contains("the-code"));
        assert_eq!(r.state(), Some("s"));
    }
}
