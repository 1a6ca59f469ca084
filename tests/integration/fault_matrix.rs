//! The fault matrix: twelve ways an authority (or whatever stands between it and us) can
//! misbehave, against the four flows that talk to it and a proactive background refresh,
//! over real HTTP on loopback (msal-testkit: HTTPS for the confidential-client flows, plain
//! HTTP for the IMDS endpoint).
//!
//! Every cell asserts, from one table (`MATRIX`):
//! * the typed outcome of the call (the `Error` variant, its status, `is_retryable`),
//! * how many requests the authority's token endpoint (or IMDS) saw for that one call
//!   (retries included),
//! * what a second, identical call does at once: replayed from the client-side throttle
//!   table without any request, or sent (and then answered by the healthy authority),
//! * the cache afterwards: nothing cached by the failed call; for the silent refresh, the
//!   user's refresh token and the old access token kept as they were.
//!
//! A fault applies to every matching request of the first call (so a retry meets it too)
//! and is removed before the second call. The table in `docs/reliability.md` is this table;
//! `the_documented_table_is_the_tested_one` checks that they agree.

use crate::support::*;

use msal_runtime::{
    ClientCredential, ConfidentialClientApplication, Error, ManagedIdentity, ManagedIdentityClient,
    RetryPolicy, SilentOptions, TokenCache, TokenSource,
};
use msal_testkit::managed_identity::IMDS_PATH;
use msal_testkit::{AppRegistration, Fault, FaultKind, TestAuthority, TestUser};
use std::time::Duration;

const TOKEN_PATH: &str = "/oauth2/v2.0/token";
const REDIRECT: &str = "https://webapp.example.com/auth/callback";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const USER_READ: &str = "https://graph.microsoft.com/User.Read";
/// The web API's registration (OBO).
const API_ID: &str = "b0b1c2d3-0000-4000-8000-0000000000a1";
const API_SECRET: &str = "api-secret-for-tests";
const API_URI: &str = "api://orders-api";
const SPA_ID: &str = "c0c1c2d3-0000-4000-8000-0000000005fa";
const VAULT: &str = "https://vault.azure.net";

/// The deadline of a call in the "slow" row (the authority answers after `SLOW`).
const SHORT_TIMEOUT: Duration = Duration::from_millis(700);
const SLOW: Duration = Duration::from_secs(3);
/// The deadline of every other confidential-client call: never reached.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The deadline of the other managed identity calls: IMDS waits out a `Retry-After` only
/// when it ends before the deadline, so the 5 s of the 503 row is not waited for.
const MI_TIMEOUT: Duration = Duration::from_secs(3);
/// Retries of the managed identity client in the matrix (IMDS retries 404, 429, 5xx).
const MI_RETRIES: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    ClientCredentials,
    OnBehalfOf,
    SilentRefresh,
    ManagedIdentity,
    /// Client credentials with a cached token past its `refresh_on` (not expired): the
    /// caller gets the cached token and one background task meets the fault.
    ProactiveRefresh,
}

const FLOWS: [Flow; 5] = [
    Flow::ClientCredentials,
    Flow::OnBehalfOf,
    Flow::SilentRefresh,
    Flow::ManagedIdentity,
    Flow::ProactiveRefresh,
];

impl Flow {
    fn column(self) -> usize {
        FLOWS.iter().position(|f| *f == self).unwrap_or(0)
    }

    fn path(self) -> &'static str {
        match self {
            Flow::ManagedIdentity => IMDS_PATH,
            _ => TOKEN_PATH,
        }
    }
}

/// What the second, identical call (fault removed) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Answered from the throttle table with the same error, no request.
    Replayed,
    /// Sent to the (now healthy) authority, one request, a token.
    Sent,
}

/// One cell: the outcome as `describe` renders it, the requests the authority saw, and what
/// the immediate second call does.
#[derive(Debug, Clone, Copy)]
struct Cell {
    outcome: &'static str,
    requests: usize,
    then: Then,
}

const fn cell(outcome: &'static str, requests: usize, then: Then) -> Cell {
    Cell {
        outcome,
        requests,
        then,
    }
}

struct Row {
    name: &'static str,
    fault: fn(&'static str, Flow) -> FaultKind,
    /// Client credentials, on-behalf-of, silent refresh, managed identity (IMDS), proactive
    /// refresh of client credentials.
    cells: [Cell; 5],
}

use Then::{Replayed, Sent};

fn status(status: u16, body: &str, headers: &[(&str, &str)]) -> FaultKind {
    FaultKind::Status {
        status,
        body: body.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn html(status: u16) -> FaultKind {
    Fault::html("", status).kind
}

/// A token response, as the authority would send it, for the "reset mid-body" row.
const TOKEN_BODY: &str = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJl"}"#;

/// The rows. Retry policy being asserted: the confidential client retries a transport
/// failure or a 5xx once (after 300 ms, or after `Retry-After` when that is at most 2 s; a
/// longer `Retry-After` is not waited for); 429 and every other answer are final. IMDS
/// retries 404, 429 and 5xx (here twice; a `Retry-After` is waited out only when it ends
/// before the deadline) and nothing else. 429, 5xx and any `Retry-After` are remembered by request shape (5 s, or
/// `Retry-After`); a 400 OAuth error is replayed to a byte-identical confidential-client
/// request for 60 s.
const MATRIX: &[Row] = &[
    Row {
        name: "500 with an OAuth body",
        fault: |_, _| {
            status(
                500,
                r#"{"error":"server_error","error_description":"AADSTS50000: There was an error issuing a token."}"#,
                &[],
            )
        },
        cells: [
            cell("Server 500 server_error, retryable", 2, Replayed),
            cell("Server 500 server_error, retryable", 2, Replayed),
            cell("Server 500 server_error, retryable", 2, Replayed),
            cell("ManagedIdentity Source 500, retryable", 3, Replayed),
            cell("token from cache", 2, Replayed),
        ],
    },
    Row {
        name: "502 with a gateway's HTML page",
        fault: |_, _| html(502),
        cells: [
            cell("Http Status 502, retryable", 2, Replayed),
            cell("Http Status 502, retryable", 2, Replayed),
            cell("Http Status 502, retryable", 2, Replayed),
            cell("ManagedIdentity Source 502, retryable", 3, Replayed),
            cell("token from cache", 2, Replayed),
        ],
    },
    Row {
        name: "503 with Retry-After: 5, empty body",
        fault: |_, _| status(503, "", &[("Retry-After", "5")]),
        cells: [
            cell("Http Status 503, retryable", 1, Replayed),
            cell("Http Status 503, retryable", 1, Replayed),
            cell("Http Status 503, retryable", 1, Replayed),
            cell("ManagedIdentity Source 503, retryable", 1, Replayed),
            cell("token from cache", 1, Replayed),
        ],
    },
    Row {
        name: "429 temporarily_unavailable, no Retry-After",
        fault: |_, _| {
            status(
                429,
                r#"{"error":"temporarily_unavailable","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop."}"#,
                &[],
            )
        },
        cells: [
            cell("Server 429 temporarily_unavailable, retryable", 1, Replayed),
            cell("Server 429 temporarily_unavailable, retryable", 1, Replayed),
            cell("Server 429 temporarily_unavailable, retryable", 1, Replayed),
            cell("ManagedIdentity Source 429, retryable", 3, Replayed),
            cell("token from cache", 1, Replayed),
        ],
    },
    Row {
        name: "slow: answers after 3 s, deadline 0.7 s",
        fault: |_, _| FaultKind::Delay(SLOW),
        cells: [
            cell("Http Timeout, retryable", 1, Sent),
            cell("Http Timeout, retryable", 1, Sent),
            cell("Http Timeout, retryable", 1, Sent),
            cell("ManagedIdentity Deadline, retryable", 1, Sent),
            cell("token from cache", 1, Sent),
        ],
    },
    Row {
        name: "connection dropped, no answer",
        fault: |_, _| FaultKind::DropConnection,
        cells: [
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 1, Sent),
            cell("token from cache", 2, Sent),
        ],
    },
    Row {
        name: "connection reset mid-body (200, 40 of 200 bytes)",
        fault: |_, _| FaultKind::ResetMidBody {
            status: 200,
            body: TOKEN_BODY.into(),
            sent: 40,
        },
        cells: [
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 2, Sent),
            cell("Http Transport, retryable", 1, Sent),
            cell("token from cache", 2, Sent),
        ],
    },
    Row {
        name: "200 with an empty body",
        fault: |_, _| status(200, "", &[]),
        cells: [
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("ManagedIdentity InvalidResponse 200", 1, Sent),
            cell("token from cache", 1, Sent),
        ],
    },
    Row {
        name: "200 with an HTML page (a proxy's sign-in page)",
        fault: |_, _| html(200),
        cells: [
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("ManagedIdentity InvalidResponse 200", 1, Sent),
            cell("token from cache", 1, Sent),
        ],
    },
    Row {
        name: "200 with malformed JSON",
        fault: |_, _| {
            status(
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0"#,
                &[],
            )
        },
        cells: [
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("ManagedIdentity InvalidResponse 200", 1, Sent),
            cell("token from cache", 1, Sent),
        ],
    },
    Row {
        name: "200 with a 50 MB body, no Content-Length",
        fault: |_, _| FaultKind::Oversized {
            bytes: 50 * 1024 * 1024,
            declare_length: false,
        },
        cells: [
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("InvalidResponse", 1, Sent),
            cell("token from cache", 1, Sent),
        ],
    },
    Row {
        name: "400 OAuth error",
        fault: |_, flow| match flow {
            Flow::ManagedIdentity => status(
                400,
                r#"{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal was not found."}"#,
                &[],
            ),
            _ => status(
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS70000: The provided grant is invalid or malformed.","error_codes":[70000]}"#,
                &[],
            ),
        },
        cells: [
            cell("Server 400 invalid_grant", 1, Replayed),
            cell("Server 400 invalid_grant", 1, Replayed),
            cell("Server 400 invalid_grant", 1, Replayed),
            cell("ManagedIdentity Source 400", 1, Sent),
            cell("token from cache", 1, Replayed),
        ],
    },
];

/// The outcome of a call, in the words of the table.
fn describe(result: &Result<TokenSource, Error>) -> String {
    let e = match result {
        Ok(source) => return format!("token from {}", source.as_str()),
        Err(e) => e,
    };
    let mut s = match e {
        Error::Server(s) => format!("Server {} {}", s.status, s.error),
        Error::Http { kind, status, .. } => match status {
            Some(st) => format!("Http {kind:?} {st}"),
            None => format!("Http {kind:?}"),
        },
        Error::InvalidResponse { .. } => "InvalidResponse".to_string(),
        Error::ManagedIdentity(m) => match m.status {
            Some(st) => format!("ManagedIdentity {:?} {st}", m.kind),
            None => format!("ManagedIdentity {:?}", m.kind),
        },
        other => format!("unexpected {other:?}"),
    };
    if e.is_retryable() {
        s.push_str(", retryable");
    }
    s
}

/// A replayed error is the same error, but the managed identity client says so in its kind.
fn replayed_outcome(flow: Flow, first: &str) -> String {
    match flow {
        Flow::ManagedIdentity => {
            let status = first
                .trim_end_matches(", retryable")
                .rsplit(' ')
                .next()
                .unwrap_or_default();
            format!("ManagedIdentity Throttled {status}, retryable")
        }
        _ => first.to_string(),
    }
}

/// Everything one flow needs: the authority and a way to make a fresh client (a fresh
/// throttle table) and call it.
struct Bench {
    auth: TestAuthority,
    flow: Flow,
    /// OBO: the caller's token.
    incoming: String,
    /// Silent: the signed-in user's cache, its access token expired. Proactive refresh: an
    /// app token past its `refresh_on`.
    seed_cache: String,
}

/// A client of one flow with its own cache and throttle table.
enum Client {
    Confidential(ConfidentialClientApplication),
    Managed(ManagedIdentityClient),
}

impl Client {
    fn cache(&self) -> &TokenCache {
        match self {
            Client::Confidential(app) => app.token_cache(),
            Client::Managed(mi) => mi.token_cache(),
        }
    }
}

impl Bench {
    async fn start(flow: Flow) -> Bench {
        let auth = match flow {
            Flow::ManagedIdentity => TestAuthority::builder()
                .https(false)
                .start()
                .await
                .expect("start the test authority"),
            _ => TestAuthority::start().await,
        };
        auth.register_app(AppRegistration::with_secret(CLIENT_ID, SECRET).redirect_uri(REDIRECT));
        auth.register_app(AppRegistration::with_secret(API_ID, API_SECRET).identifier_uri(API_URI));
        auth.add_user(TestUser::new(ALICE));
        let mut bench = Bench {
            incoming: String::new(),
            seed_cache: String::new(),
            auth,
            flow,
        };
        match flow {
            Flow::OnBehalfOf => {
                bench.incoming = bench
                    .auth
                    .issue_user_token(ALICE, SPA_ID, API_URI, &["access_as_user"])
                    .expect("a token for the web API");
            }
            Flow::SilentRefresh => bench.seed_cache = bench.signed_in_cache().await,
            Flow::ProactiveRefresh => bench.seed_cache = bench.app_token_due_for_refresh().await,
            _ => {}
        }
        bench
    }

    /// Signs Alice in and returns the cache with her access token expired (so a silent call
    /// must redeem her refresh token).
    async fn signed_in_cache(&self) -> String {
        let app = secret_app(&self.auth);
        let flow = app
            .initiate_auth_code_flow(
                &[USER_READ],
                msal_runtime::AuthCodeFlowOptions::new(REDIRECT),
            )
            .await
            .unwrap();
        let response = self.auth.sign_in(&flow.auth_uri, ALICE).await.unwrap();
        app.acquire_token_by_auth_code_flow(&flow, response)
            .await
            .unwrap();
        let mut cache: serde_json::Value =
            serde_json::from_str(&app.token_cache().serialize()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ats = cache["AccessToken"].as_object_mut().unwrap();
        assert_eq!(ats.len(), 1);
        for (_, at) in ats.iter_mut() {
            at["cached_at"] = serde_json::json!((now - 4000).to_string());
            at["expires_on"] = serde_json::json!((now - 400).to_string());
            at["extended_expires_on"] = serde_json::json!((now - 400).to_string());
        }
        cache.to_string()
    }

    /// A cache holding an app token that expires in an hour but is due for refresh.
    async fn app_token_due_for_refresh(&self) -> String {
        let app = secret_app(&self.auth);
        app.acquire_token_for_client(&[GRAPH]).await.unwrap();
        let mut cache: serde_json::Value =
            serde_json::from_str(&app.token_cache().serialize()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ats = cache["AccessToken"].as_object_mut().unwrap();
        assert_eq!(ats.len(), 1);
        for (_, at) in ats.iter_mut() {
            at["cached_at"] = serde_json::json!((now - 60).to_string());
            at["refresh_on"] = serde_json::json!((now - 10).to_string());
            at["expires_on"] = serde_json::json!((now + 3600).to_string());
        }
        cache.to_string()
    }

    fn client(&self, slow: bool) -> Client {
        let auth = &self.auth;
        let timeout = match (slow, self.flow) {
            (true, _) => SHORT_TIMEOUT,
            (false, Flow::ManagedIdentity) => MI_TIMEOUT,
            (false, _) => TIMEOUT,
        };
        match self.flow {
            Flow::ClientCredentials | Flow::SilentRefresh | Flow::ProactiveRefresh => {
                Client::Confidential(
                    builder(auth, CLIENT_ID, auth.tenant_id())
                        .client_credential(ClientCredential::secret(SECRET))
                        .timeout(timeout)
                        .build()
                        .unwrap(),
                )
            }
            Flow::OnBehalfOf => Client::Confidential(
                builder(auth, API_ID, auth.tenant_id())
                    .client_credential(ClientCredential::secret(API_SECRET))
                    .timeout(timeout)
                    .build()
                    .unwrap(),
            ),
            Flow::ManagedIdentity => Client::Managed(
                ManagedIdentityClient::builder(ManagedIdentity::system_assigned())
                    .env(msal_runtime::EnvLookup::from_pairs([(
                        "AZURE_POD_IDENTITY_AUTHORITY_HOST".to_string(),
                        auth.imds_host(),
                    )]))
                    .arc_himds_path("/nonexistent/msal-tests/himds")
                    .retry_policy(
                        RetryPolicy::default()
                            .max_retries(MI_RETRIES)
                            .backoff(Duration::from_millis(20)),
                    )
                    .timeout(timeout)
                    .build()
                    .unwrap(),
            ),
        }
    }

    async fn call(&self, client: &Client) -> Result<TokenSource, Error> {
        match (self.flow, client) {
            (Flow::ClientCredentials | Flow::ProactiveRefresh, Client::Confidential(app)) => app
                .acquire_token_for_client(&[GRAPH])
                .await
                .map(|r| r.token_source),
            (Flow::OnBehalfOf, Client::Confidential(app)) => app
                .acquire_token_on_behalf_of(&self.incoming, &[USER_READ])
                .await
                .map(|r| r.token_source),
            (Flow::SilentRefresh, Client::Confidential(app)) => {
                let account = app
                    .get_accounts(None)
                    .await
                    .unwrap()
                    .pop()
                    .expect("the signed-in account");
                app.acquire_token_silent_with_error(
                    &[USER_READ],
                    &account,
                    SilentOptions::default(),
                )
                .await
                .map(|r| r.expect("a refresh token is cached").token_source)
            }
            (Flow::ManagedIdentity, Client::Managed(mi)) => mi
                .acquire_token_for_client(VAULT)
                .await
                .map(|r| r.token_source),
            _ => unreachable!("a client of another flow"),
        }
    }

    fn requests(&self) -> usize {
        let path = self.flow.path();
        self.auth
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(path))
            .count()
    }

    /// `(access token secrets, refresh token secrets)`, sorted.
    fn contents(cache: &TokenCache) -> (Vec<String>, Vec<String>) {
        let mut ats: Vec<String> = cache
            .access_tokens()
            .into_iter()
            .map(|e| e.secret.secret().to_string())
            .collect();
        let mut rts: Vec<String> = cache
            .refresh_tokens()
            .into_iter()
            .map(|e| e.secret)
            .collect();
        ats.sort();
        rts.sort();
        (ats, rts)
    }

    /// Whether the cache holds no access token it did not hold `before`, and exactly the
    /// refresh tokens it held.
    fn nothing_new(
        before: &(Vec<String>, Vec<String>),
        after: &(Vec<String>, Vec<String>),
    ) -> bool {
        after.0.iter().all(|t| before.0.contains(t)) && after.1 == before.1
    }

    /// Runs one cell and checks it; returns a description of any disagreement.
    async fn run(&self, row: &Row) -> Result<(), String> {
        let want = row.cells[self.flow.column()];
        let here = format!("{} x {:?}", row.name, self.flow);
        let slow = matches!((row.fault)("", self.flow), FaultKind::Delay(_));
        let client = self.client(slow);
        if self.flow == Flow::ProactiveRefresh {
            return self.run_proactive(row, want, client, slow).await;
        }
        if self.flow == Flow::SilentRefresh {
            client.cache().deserialize(&self.seed_cache).unwrap();
        }
        let before = Self::contents(client.cache());
        // The fault meets the token endpoint (or IMDS) only; instance discovery and OpenID
        // metadata are answered normally and not counted.
        self.auth.clear_faults();
        self.auth.clear_requests();
        self.auth.push_fault(Fault {
            path_contains: self.flow.path().to_string(),
            times: 10,
            kind: (row.fault)(self.flow.path(), self.flow),
        });

        let first = self.call(&client).await;
        let outcome = describe(&first);
        let seen = self.requests();
        self.auth.clear_faults();
        let mut wrong = Vec::new();
        if outcome != want.outcome {
            wrong.push(format!("outcome {outcome:?}, want {:?}", want.outcome));
        }
        if seen != want.requests {
            wrong.push(format!("{seen} requests, want {}", want.requests));
        }
        // Nothing cached by a failed call; a user's refresh token is kept (their expired
        // access token is dropped by the look-up, as it would be on success).
        let after = Self::contents(client.cache());
        if !Self::nothing_new(&before, &after) {
            wrong.push(format!(
                "cache changed: {} -> {} access tokens, {} -> {} refresh tokens",
                before.0.len(),
                after.0.len(),
                before.1.len(),
                after.1.len()
            ));
        }

        // The same call again at once.
        let second = self.call(&client).await;
        let seen_again = self.requests() - seen;
        match want.then {
            Replayed => {
                let want_outcome = replayed_outcome(self.flow, want.outcome);
                if describe(&second) != want_outcome || seen_again != 0 {
                    wrong.push(format!(
                        "second call: {:?} with {seen_again} requests, want {want_outcome:?} replayed without a request",
                        describe(&second)
                    ));
                }
                if !Self::nothing_new(&before, &Self::contents(client.cache())) {
                    wrong.push("the replay changed the cache".into());
                }
            }
            Sent => {
                if second.as_ref().ok() != Some(&TokenSource::IdentityProvider) || seen_again != 1 {
                    wrong.push(format!(
                        "second call: {:?} with {seen_again} requests, want a token from the authority with 1 request",
                        describe(&second)
                    ));
                }
                let (ats, rts) = Self::contents(client.cache());
                let new_tokens = ats.iter().filter(|t| !before.0.contains(t)).count();
                if new_tokens != 1 || (self.flow == Flow::SilentRefresh && rts.is_empty()) {
                    wrong.push(format!(
                        "after the second call {new_tokens} new access tokens are cached, want 1"
                    ));
                }
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{here}: {}", wrong.join("; ")))
        }
    }
}

impl Bench {
    /// Waits until the authority has seen `want` requests (or 5 s passed), then `settle`
    /// more (a background task's retry or deadline), and returns the count.
    async fn background_requests(&self, want: usize, settle: Duration) -> usize {
        let start = std::time::Instant::now();
        while self.requests() < want && start.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(settle).await;
        self.requests()
    }

    /// A proactive-refresh cell: the caller always gets the cached token at once; the
    /// background refresh meets the fault (`want.requests`), the cached token stays; a
    /// second call gets it again and its background refresh is either replayed from the
    /// throttle table (no request, token unchanged) or sent (the healthy authority's new
    /// token replaces it).
    async fn run_proactive(
        &self,
        row: &Row,
        want: Cell,
        client: Client,
        slow: bool,
    ) -> Result<(), String> {
        let here = format!("{} x {:?}", row.name, self.flow);
        // Long enough for a background retry (300 ms backoff) or deadline to play out.
        let settle = if slow {
            SHORT_TIMEOUT + Duration::from_millis(400)
        } else {
            Duration::from_millis(500)
        };
        client.cache().deserialize(&self.seed_cache).unwrap();
        let before = Self::contents(client.cache());
        self.auth.clear_faults();
        self.auth.clear_requests();
        self.auth.push_fault(Fault {
            path_contains: TOKEN_PATH.to_string(),
            times: 10,
            kind: (row.fault)(TOKEN_PATH, self.flow),
        });
        let mut wrong = Vec::new();
        let first = describe(&self.call(&client).await);
        if first != want.outcome {
            wrong.push(format!("outcome {first:?}, want {:?}", want.outcome));
        }
        let seen = self.background_requests(want.requests, settle).await;
        self.auth.clear_faults();
        if seen != want.requests {
            wrong.push(format!("{seen} requests, want {}", want.requests));
        }
        if Self::contents(client.cache()) != before {
            wrong.push("the failed background refresh changed the cache".into());
        }
        let second = describe(&self.call(&client).await);
        if second != "token from cache" {
            wrong.push(format!("second call: {second:?}, want the cached token"));
        }
        let expect_more = usize::from(want.then == Sent);
        let seen_again = self.background_requests(seen + expect_more, settle).await - seen;
        let after = Self::contents(client.cache());
        match want.then {
            Replayed => {
                if seen_again != 0 || after != before {
                    wrong.push(format!(
                        "second background refresh sent {seen_again} requests, want it replayed without one and the token kept"
                    ));
                }
            }
            Sent => {
                let replaced = after.0.len() == 1 && after.0 != before.0;
                if seen_again != 1 || !replaced {
                    wrong.push(format!(
                        "second background refresh: {seen_again} requests, token replaced: {replaced}; want 1 and a new token"
                    ));
                }
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{here}: {}", wrong.join("; ")))
        }
    }
}

async fn run_flow(flow: Flow) {
    let bench = Bench::start(flow).await;
    let mut failures = Vec::new();
    for row in MATRIX {
        if let Err(e) = bench.run(row).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_against_client_credentials() {
    run_flow(Flow::ClientCredentials).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_against_on_behalf_of() {
    run_flow(Flow::OnBehalfOf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_against_silent_refresh() {
    run_flow(Flow::SilentRefresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_against_managed_identity() {
    run_flow(Flow::ManagedIdentity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_against_a_proactive_refresh() {
    run_flow(Flow::ProactiveRefresh).await;
}

/// The markdown rows of the matrix, as `docs/reliability.md` shows them.
fn markdown_rows() -> Vec<String> {
    MATRIX
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .cells
                .iter()
                .map(|c| {
                    let then = match c.then {
                        Replayed => "replayed",
                        Sent => "sent",
                    };
                    format!("{}; {}; {then}", c.outcome, c.requests)
                })
                .collect();
            format!("| {} | {} |", row.name, cells.join(" | "))
        })
        .collect()
}

#[test]
fn the_documented_table_is_the_tested_one() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reliability.md"),
    )
    .unwrap();
    let missing: Vec<String> = markdown_rows()
        .into_iter()
        .filter(|r| !doc.lines().any(|l| l == r))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reliability.md lacks these rows of the fault matrix:\n{}",
        missing.join("\n")
    );
}
