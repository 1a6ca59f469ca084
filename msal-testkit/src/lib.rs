//! An in-process, loopback, Entra-like OAuth2/OpenID Connect authority for tests and demos.
//!
//! [`TestAuthority`] serves, over HTTPS (a generated CA) or plain HTTP on 127.0.0.1, the endpoints
//! MSAL talks to: tenant discovery, JWKS, instance discovery, the token endpoint (client
//! credentials, authorization code with PKCE, refresh token, on-behalf-of), the authorization
//! endpoint (scripted sign-in) and the IMDS region probe. Client secrets and certificate
//! assertions (RS256/PS256, `x5t`, `x5t#S256`, `x5c`) are really verified, every request is
//! recorded, and faults can be queued.
//!
//! ```no_run
//! use msal_testkit::{AppRegistration, TestAuthority};
//!
//! # async fn demo() {
//! let authority = TestAuthority::start().await;
//! authority.register_app(AppRegistration::with_secret("my-client-id", "my-secret"));
//! let tenant_authority = authority.authority(authority.tenant_id());
//! // point the client at `tenant_authority`, trusting `authority.ca_pem()` ...
//! assert_eq!(authority.token_requests().len(), 0);
//! # let _ = tenant_authority;
//! # }
//! ```
//!
//! # Endpoints
//!
//! `{tenant}` is the default tenant's GUID ([`TestAuthority::tenant_id`]), a registered domain
//! (`contoso.onmicrosoft.com`), or `common`/`organizations`/`consumers`; anything else is HTTP
//! 400 `invalid_request` AADSTS90002.
//!
//! | Endpoint | Notes |
//! |---|---|
//! | `GET /{tenant}/v2.0/.well-known/openid-configuration` | endpoints built from the request's host (a regional host gets regional endpoints), `issuer` always on the global host |
//! | `GET /{tenant}/{b2c_policy}/v2.0/.well-known/openid-configuration`, `GET /adfs/.well-known/openid-configuration` | B2C and ADFS shapes (ADFS returns no `client_info`; its ID tokens name the user with `upn` and `unique_name`) |
//! | `GET /{tenant}/discovery/v2.0/keys` | JWKS of the token signing key |
//! | `POST /{tenant}/oauth2/v2.0/token` (+ B2C, `/adfs/oauth2/token`) | `client_credentials`, `authorization_code`, `refresh_token`, jwt-bearer on-behalf-of |
//! | `GET /{tenant}/oauth2/v2.0/authorize` | scripted sign-in: 302 to the redirect URI (or a `form_post` page); or, with [`TestAuthority::set_sign_in_page`], a sign-in page (account picker, requested permissions, Accept / Cancel) that POSTs back here |
//! | `GET`/`POST /{tenant}/oauth2/v2.0/logout` (+ B2C, `/adfs/oauth2/logout`) | the advertised `end_session_endpoint`: 302 to `post_logout_redirect_uri` (with `state`) when it is a registered redirect URI (of `client_id` when given), a "signed out" page without one, an error page for an unregistered one |
//! | `GET /common/discovery/instance` | knows only this server's host names; its instance metadata (`api-version=1.1`) lists them all as aliases of one instance |
//! | `GET /metadata/instance/compute` | IMDS; needs `Metadata: true`; 404 until a region is set |
//! | managed identity sources | IMDS, App Service, Azure ML, Azure Arc, Service Fabric, Cloud Shell: see [`managed_identity`] |
//!
//! Errors have Entra's JSON shape (`error`, `error_description` starting `AADSTSnnn:`,
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id` echoing `client-request-id`,
//! `error_uri`).
//!
//! # Host names and TLS
//!
//! The server certificate (ECDSA P-256, signed by a per-authority CA) covers `localhost`,
//! `127.0.0.1`, `::1`, `*.localhost`, `{region}.localhost` for every name in
//! [`REGIONAL_HOST_PREFIXES`] and the builder's extra host names (plus `*.` of each). OpenSSL
//! ignores single-label wildcards such as `*.localhost`, hence the explicit regional names.
//! `{region}.localhost` usually does not resolve; [`TestAuthority::http_client`] maps those
//! names to the server.

#![warn(missing_docs)]

mod assertion;
mod authorize;
pub mod certs;
mod discovery;
mod faults;
mod grants;
pub mod managed_identity;
mod server;
mod state;
mod tokens;
mod types;
mod wire;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind};
pub use managed_identity::{FederatedCredential, ManagedIdentityRecord};
pub use types::{AppRegistration, RecordedRequest, TestUser};

use state::{Shared, State, DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID};

/// Azure region names that get an explicit `{region}.localhost` SAN (besides `*.localhost`),
/// so regional endpoints work even with TLS stacks that ignore single-label wildcards.
pub const REGIONAL_HOST_PREFIXES: &[&str] = &[
    "eastus",
    "eastus2",
    "westus",
    "westus2",
    "westus3",
    "centralus",
    "northcentralus",
    "southcentralus",
    "westcentralus",
    "canadacentral",
    "northeurope",
    "westeurope",
    "uksouth",
    "ukwest",
    "francecentral",
    "germanywestcentral",
    "swedencentral",
    "switzerlandnorth",
    "eastasia",
    "southeastasia",
    "japaneast",
    "australiaeast",
    "centralindia",
    "brazilsouth",
    "usgovvirginia",
];

/// A running authority. Dropping it stops the server and closes every connection.
pub struct TestAuthority {
    shared: Arc<Shared>,
    base_url: String,
    ca_pem: Vec<u8>,
    ca_file: tempfile::TempPath,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    /// SHA-1 (lower-case hex) of the HTTPS server certificate.
    server_sha1: Option<String>,
}

impl std::fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAuthority")
            .field("base_url", &self.base_url)
            .field("tenant_id", &DEFAULT_TENANT_ID)
            .finish_non_exhaustive()
    }
}

impl Drop for TestAuthority {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Configures and starts a [`TestAuthority`].
#[derive(Debug, Clone)]
pub struct TestAuthorityBuilder {
    https: bool,
    port: u16,
    extra_host_names: Vec<String>,
    token_lifetime: u64,
    refresh_in: Option<u64>,
    apps: Vec<AppRegistration>,
    users: Vec<TestUser>,
    tenants: Vec<(String, Option<String>)>,
    imds_region: Option<String>,
    unique_signing_key: bool,
    sign_in_page: bool,
}

impl Default for TestAuthorityBuilder {
    fn default() -> Self {
        TestAuthorityBuilder {
            https: true,
            port: 0,
            extra_host_names: Vec::new(),
            token_lifetime: 3600,
            refresh_in: None,
            apps: Vec::new(),
            users: Vec::new(),
            tenants: Vec::new(),
            imds_region: None,
            unique_signing_key: false,
            sign_in_page: false,
        }
    }
}

impl TestAuthorityBuilder {
    /// Serve HTTPS with a generated CA (default `true`) or plain HTTP on `127.0.0.1`.
    pub fn https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Listen on this port (default 0: a random free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// More host names for the server certificate and for "this server" checks (instance
    /// discovery, assertion audiences). `localhost`, `*.localhost`, `127.0.0.1` and `::1` are
    /// always included. The names must resolve to loopback for clients (e.g. reqwest `resolve`).
    pub fn extra_host_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.extra_host_names
            .extend(names.into_iter().map(|s| s.as_ref().to_ascii_lowercase()));
        self
    }

    /// `expires_in` of issued access tokens in seconds (default 3600).
    pub fn token_lifetime(mut self, secs: u64) -> Self {
        self.token_lifetime = secs;
        self
    }

    /// Send `refresh_in` (seconds) in token responses (default: not sent).
    pub fn refresh_in(mut self, secs: Option<u64>) -> Self {
        self.refresh_in = secs;
        self
    }

    /// Registers an application.
    pub fn app(mut self, app: AppRegistration) -> Self {
        self.apps.push(app);
        self
    }

    /// Registers a user.
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds a tenant (GUID) and optionally a domain that maps to it.
    pub fn tenant(mut self, tenant_id: &str, domain: Option<&str>) -> Self {
        self.tenants
            .push((tenant_id.to_string(), domain.map(str::to_string)));
        self
    }

    /// The region IMDS reports (default `None`: IMDS answers 404, as off Azure).
    pub fn imds_region(mut self, region: Option<&str>) -> Self {
        self.imds_region = region.map(str::to_string);
        self
    }

    /// Give this authority its own token signing key. By default all authorities in a process
    /// share one RSA key (generating one takes ~250 ms), so a token minted by one verifies at
    /// another; set this when a test needs them to be cryptographically distinct.
    pub fn unique_signing_key(mut self, unique: bool) -> Self {
        self.unique_signing_key = unique;
        self
    }

    /// Show a sign-in page at the authorization endpoint (default `false`: scripted sign-in).
    /// See [`TestAuthority::set_sign_in_page`].
    pub fn sign_in_page(mut self, show: bool) -> Self {
        self.sign_in_page = show;
        self
    }

    /// Generates the keys and certificates, binds the listener(s) and starts serving.
    pub async fn start(self) -> std::io::Result<TestAuthority> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port)).await?;
        let addr = listener.local_addr()?;
        let port = addr.port();
        // `localhost` may resolve to ::1 first for some clients; serve it too when possible.
        let listener_v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await.ok();

        let mut known_hosts: Vec<String> =
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        for h in &self.extra_host_names {
            if !known_hosts.contains(h) {
                known_hosts.push(h.clone());
            }
        }

        let mut server_sha1 = None;
        let (tls, ca_pem) = if self.https {
            let ca = certs::tls_ca("msal-testkit Root CA");
            let mut dns: Vec<String> = vec!["localhost".into(), "*.localhost".into()];
            dns.extend(
                REGIONAL_HOST_PREFIXES
                    .iter()
                    .map(|r| format!("{r}.localhost")),
            );
            for h in &self.extra_host_names {
                if h.parse::<IpAddr>().is_err() {
                    dns.push(h.clone());
                    if !h.starts_with("*.") {
                        dns.push(format!("*.{h}"));
                    }
                }
            }
            let mut ips: Vec<IpAddr> = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
            ips.extend(
                self.extra_host_names
                    .iter()
                    .filter_map(|h| h.parse::<IpAddr>().ok()),
            );
            let server_cert = certs::server_cert(&ca, &dns, &ips);
            let acceptor = server::tls_acceptor(&server_cert)?;
            server_sha1 = server_cert
                .x509()
                .digest(openssl::hash::MessageDigest::sha1())
                .ok()
                .map(|d| d.iter().map(|b| format!("{b:02x}")).collect());
            (Some(Arc::new(acceptor)), ca.cert_pem)
        } else {
            (None, Vec::new())
        };

        let mut ca_file = tempfile::Builder::new()
            .prefix("msal-testkit-ca-")
            .suffix(".pem")
            .tempfile()?;
        ca_file.write_all(&ca_pem)?;
        ca_file.flush()?;
        let ca_file = ca_file.into_temp_path();

        let mut state = State::new(self.token_lifetime, self.refresh_in);
        state.imds_region = self.imds_region;
        state.sign_in_page = self.sign_in_page;
        for (id, domain) in &self.tenants {
            state.add_tenant(id, domain.as_deref());
        }
        for app in self.apps {
            state.register_app(app);
        }
        for user in self.users {
            state.add_user(user);
        }
        let scheme = if self.https { "https" } else { "http" };
        let shared = Arc::new(Shared::new(
            state,
            scheme,
            port,
            known_hosts,
            self.unique_signing_key,
        ));

        let mut tasks = vec![tokio::spawn(server::accept_loop(
            listener,
            tls.clone(),
            shared.clone(),
        ))];
        if let Some(l6) = listener_v6 {
            tasks.push(tokio::spawn(server::accept_loop(l6, tls, shared.clone())));
        }
        let base_url = if self.https {
            format!("https://localhost:{port}")
        } else {
            format!("http://127.0.0.1:{port}")
        };
        Ok(TestAuthority {
            shared,
            base_url,
            ca_pem,
            ca_file,
            addr,
            tasks,
            server_sha1,
        })
    }
}

impl TestAuthority {
    /// A builder with defaults (HTTPS, random port, no apps or users).
    pub fn builder() -> TestAuthorityBuilder {
        TestAuthorityBuilder::default()
    }

    /// Starts an HTTPS authority with defaults; panics if it cannot bind or generate keys.
    pub async fn start() -> TestAuthority {
        Self::builder()
            .start()
            .await
            .expect("start msal-testkit authority")
    }

    /// `https://localhost:PORT` (or `http://127.0.0.1:PORT` with `https(false)`).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `base_url/tenant`, the authority URL a client is configured with.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base_url)
    }

    /// `scheme://{region}.localhost:PORT` (HTTPS) — the regional host of this authority.
    /// Clients must resolve it to 127.0.0.1 themselves (see [`TestAuthority::http_client`]).
    pub fn regional_base_url(&self, region: &str) -> String {
        let scheme = self.shared.scheme;
        format!("{scheme}://{region}.localhost:{}", self.port())
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The IPv4 loopback address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The default tenant's id (a fake GUID).
    pub fn tenant_id(&self) -> &str {
        DEFAULT_TENANT_ID
    }

    /// The default tenant's domain, `contoso.onmicrosoft.com`.
    pub fn tenant_domain(&self) -> &str {
        DEFAULT_TENANT_DOMAIN
    }

    /// SHA-1 thumbprint (lower-case hex) of the HTTPS server certificate, as Service Fabric's
    /// `IDENTITY_SERVER_THUMBPRINT` gives it; `None` for plain HTTP.
    pub fn server_cert_sha1_thumbprint(&self) -> Option<String> {
        self.server_sha1.clone()
    }

    /// PEM of the generated CA (empty for plain HTTP).
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// A temporary file holding [`TestAuthority::ca_pem`]; removed when the authority drops.
    pub fn ca_path(&self) -> &Path {
        &self.ca_file
    }

    /// The IMDS compute-metadata URL served by this authority (`base_url/metadata/instance/compute`).
    pub fn imds_url(&self) -> String {
        format!("{}/metadata/instance/compute", self.base_url)
    }

    /// The instance discovery URL (`base_url/common/discovery/instance`).
    pub fn instance_discovery_url(&self) -> String {
        format!("{}/common/discovery/instance", self.base_url)
    }

    /// Registers (or replaces) an application; takes effect immediately.
    pub fn register_app(&self, app: AppRegistration) {
        self.shared.lock().register_app(app);
    }

    /// Adds a tenant and optionally a domain name for it.
    pub fn add_tenant(&self, tenant_id: &str, domain: Option<&str>) {
        self.shared.lock().add_tenant(tenant_id, domain);
    }

    /// Registers (or replaces, by username) a user.
    pub fn add_user(&self, user: TestUser) {
        self.shared.lock().add_user(user);
    }

    /// Every request received so far, in order (faulted ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The recorded POSTs to a token endpoint (`.../oauth2/v2.0/token` or `/adfs/oauth2/token`).
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && (r.path.ends_with("/oauth2/v2.0/token") || r.path.ends_with("/oauth2/token"))
            })
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Queues a fault for matching requests (consumed in queue order).
    pub fn push_fault(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The region IMDS reports; `None` makes IMDS answer 404 (the default).
    pub fn set_imds_region(&self, region: Option<&str>) {
        self.shared.lock().imds_region = region.map(str::to_string);
    }

    /// How long IMDS waits before answering (default zero).
    pub fn set_imds_delay(&self, delay: Duration) {
        self.shared.lock().imds_delay = delay;
    }

    /// `expires_in` of access tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.shared.lock().token_lifetime = secs;
    }

    /// `refresh_in` sent with tokens issued from now on (`None`: not sent).
    pub fn set_refresh_in(&self, secs: Option<u64>) {
        self.shared.lock().refresh_in = secs;
    }

    /// Verifies a JWT issued by this authority (signature and `exp`) and returns its claims.
    pub fn verify_access_token(&self, jwt: &str) -> Result<Value, String> {
        let claims = self.shared.key.verify(jwt)?;
        tokens::check_time(&claims, 0.0)?;
        Ok(claims)
    }

    /// Mints a delegated access token for a registered user, as if `client_id` had signed them
    /// in for `audience` (e.g. a web API's client id or `api://...` URI) with `scp` = `scopes`.
    /// Handy as the incoming user assertion of on-behalf-of tests.
    pub fn issue_user_token(
        &self,
        username: &str,
        client_id: &str,
        audience: &str,
        scopes: &[&str],
    ) -> Result<String, String> {
        let user = self
            .shared
            .lock()
            .user_by_name(username)
            .ok_or_else(|| format!("no registered user {username:?}"))?;
        let app = state::AppEntry {
            reg: AppRegistration {
                client_id: client_id.to_string(),
                ..Default::default()
            },
            sp_oid: String::new(),
        };
        let req = self.synthetic_request();
        let ep = discovery::Endpoint::Aad {
            tenant: DEFAULT_TENANT_ID.into(),
        };
        let issuer = grants::Issuer::new(&self.shared, &req, &ep, &app);
        let tid = user
            .tenant_id
            .clone()
            .unwrap_or_else(|| DEFAULT_TENANT_ID.to_string());
        Ok(issuer.user_token(&user, &tid, audience, &scopes.join(" ")))
    }

    /// The `iss` of the v2 tokens this authority issues for tenant `tid`
    /// (`{base}/{tid}/v2.0`, on the global host). Its v1 form is `{base}/{tid}/`.
    pub fn issuer(&self, tid: &str) -> String {
        let req = self.synthetic_request();
        let ep = discovery::Endpoint::Aad {
            tenant: DEFAULT_TENANT_ID.into(),
        };
        ep.issuer(&self.shared.global_base(&req), tid)
    }

    /// Signs any claims as an RS256 JWT with the authority's published key: tokens with
    /// chosen `aud`, `iss`, `tid`, `scp`, `roles`, `exp`, `nbf` for validation tests.
    pub fn sign_token(&self, claims: &Value) -> String {
        self.shared.key.sign(claims)
    }

    /// Signs claims with a key the authority does not publish (a forged token whose `kid`
    /// the JWKS never has).
    pub fn sign_token_with_unpublished_key(&self, claims: &Value) -> String {
        self.shared.wrong_key().sign(claims)
    }

    /// Publishes one more signing key in the JWKS (key rollover) and returns its `kid`;
    /// sign with it through [`sign_token_with_key`](Self::sign_token_with_key). Generating
    /// the key takes a moment (RSA).
    pub fn publish_new_signing_key(&self) -> String {
        let key = Arc::new(tokens::SigningKey::generate("msal-testkit rolled-over key"));
        let kid = key.kid.clone();
        self.shared.lock().extra_keys.push(key);
        kid
    }

    /// Signs claims with a key added by [`publish_new_signing_key`](Self::publish_new_signing_key).
    pub fn sign_token_with_key(&self, kid: &str, claims: &Value) -> Result<String, String> {
        let s = self.shared.lock();
        let key = s
            .extra_keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| format!("no published key {kid:?}"))?;
        Ok(key.sign(claims))
    }

    fn synthetic_request(&self) -> wire::Req {
        let authority = self
            .base_url
            .split_once("://")
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        wire::Req {
            method: "GET".into(),
            path: "/".into(),
            segments: Vec::new(),
            hostname: state::authority_host(&authority),
            authority,
            scheme: self.shared.scheme,
            query: Vec::new(),
            headers: Vec::new(),
            form: Vec::new(),
        }
    }

    /// Makes every refresh token issued so far expired (next use: `invalid_grant`, 700082).
    pub fn expire_refresh_tokens(&self) {
        for grant in self.shared.lock().refresh_tokens.values_mut() {
            grant.expires_at = 0;
        }
    }

    /// Revokes every refresh token of `username` (next use: `invalid_grant`, 70043).
    pub fn revoke_refresh_tokens_for(&self, username: &str) {
        for grant in self.shared.lock().refresh_tokens.values_mut() {
            if grant.user.username.eq_ignore_ascii_case(username) {
                grant.revoked = true;
            }
        }
    }

    /// The user the authorization endpoint signs in when `login_hint` names no registered user
    /// (default: the first registered user).
    pub fn sign_in_as(&self, username: &str) {
        self.shared.lock().sign_in_as = Some(username.to_string());
    }

    /// Whether the authorization endpoint shows a sign-in page, as a person meets it in a
    /// browser: the registered users to pick from (the `login_hint` one preselected), the
    /// permissions the app asks for, and Accept / Cancel buttons. Accept sends the browser
    /// back with a code for the picked user, Cancel with `error=access_denied`; `prompt=none`
    /// gets `interaction_required`. Off (the default), sign-in is scripted: the user is picked
    /// by [`sign_in_as`](Self::sign_in_as) or `login_hint` and the browser is sent straight
    /// back. [`sign_in`](Self::sign_in) is always scripted.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// let authority = msal_testkit::TestAuthority::builder().https(false).start().await.unwrap();
    /// authority.set_sign_in_page(true);
    /// # }
    /// ```
    pub fn set_sign_in_page(&self, show: bool) {
        self.shared.lock().sign_in_page = show;
    }

    /// Makes the next authorization request redirect back with `error=<error>` (one-shot).
    pub fn set_next_authorize_error(&self, error: Option<&str>) {
        self.shared.lock().next_authorize_error = error.map(str::to_string);
    }

    /// Sign ID tokens with a key the authority does not publish (hostile-server tests).
    pub fn sign_id_tokens_with_wrong_key(&self, wrong: bool) {
        self.shared.lock().id_tokens_with_wrong_key = wrong;
    }

    /// Put this `nonce` in ID tokens instead of the one from the authorization request.
    pub fn set_id_token_nonce_override(&self, nonce: Option<String>) {
        self.shared.lock().id_token_nonce_override = nonce;
    }

    /// A reqwest client that trusts this authority's CA and resolves `{region}.localhost` (for
    /// [`REGIONAL_HOST_PREFIXES`]) to the server.
    pub fn http_client(&self) -> reqwest::Client {
        self.client_builder()
            .build()
            .expect("build reqwest client for msal-testkit")
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        let mut b = reqwest::Client::builder().no_proxy();
        if !self.ca_pem.is_empty() {
            let ca = reqwest::Certificate::from_pem(&self.ca_pem).expect("CA PEM");
            b = b.tls_certs_only([ca]);
        }
        for r in REGIONAL_HOST_PREFIXES {
            b = b.resolve(&format!("{r}.localhost"), self.addr);
        }
        b
    }

    /// Drives the authorization endpoint like a browser would: GETs `auth_uri` signing in
    /// `username` (a registered user) and returns the parameters sent back to the redirect URI
    /// (query, fragment or form_post fields), e.g. `code`, `state`, `client_info` or `error`.
    pub async fn sign_in(
        &self,
        auth_uri: &str,
        username: &str,
    ) -> Result<Vec<(String, String)>, String> {
        if self.shared.lock().user_by_name(username).is_none() {
            return Err(format!("no registered user {username:?}"));
        }
        let client = self
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        self.shared.lock().sign_in_once = Some(username.to_string());
        let result = client.get(auth_uri).send().await;
        self.shared.lock().sign_in_once = None;
        let resp = result.map_err(|e| format!("GET {auth_uri}: {e}"))?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or("redirect without a Location header")?;
            let url = url::Url::parse(location).map_err(|e| format!("bad Location: {e}"))?;
            let params = match url.fragment() {
                Some(f) if !f.is_empty() => {
                    form_urlencoded::parse(f.as_bytes()).into_owned().collect()
                }
                _ => url.query_pairs().into_owned().collect(),
            };
            return Ok(params);
        }
        let body = resp.text().await.map_err(|e| e.to_string())?;
        if status.is_success() && body.contains("hiddenform") {
            return Ok(authorize::parse_form_post(&body));
        }
        Err(format!("authorization endpoint answered {status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TestAuthority>();
        assert_send_sync::<TestAuthorityBuilder>();
        assert_send_sync::<RecordedRequest>();
    }

    #[test]
    fn debug_output_hides_secrets() {
        let app = AppRegistration::with_secret("id", "very-secret-value");
        assert!(!format!("{app:?}").contains("very-secret-value"));
    }
}
