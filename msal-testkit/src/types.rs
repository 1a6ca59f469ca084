//! Registrations (apps, users) and the request log entries.

use std::fmt;

/// An application registration: a client id and the credentials the authority accepts for it.
///
/// ```
/// use msal_testkit::AppRegistration;
/// let mut app = AppRegistration::with_secret("11111111-0000-4000-8000-000000000001", "s3cret");
/// app.redirect_uris.push("http://localhost:8400/callback".into());
/// app.identifier_uris.push("api://orders".into());
/// ```
#[derive(Clone, Default)]
pub struct AppRegistration {
    /// The application (client) id.
    pub client_id: String,
    /// Accepted client secrets (compared in constant time).
    pub secrets: Vec<String>,
    /// Accepted certificates (PEM), selected by `x5t`, `x5t#S256` or an `x5c` leaf.
    pub certificates: Vec<Vec<u8>>,
    /// Subject Name + Issuer trust: `(subject CN, issuer CA certificate PEM)`. A client assertion
    /// whose `x5c` leaf has that CN and is signed by that CA is accepted.
    pub trusted_issuers: Vec<(String, Vec<u8>)>,
    /// Registered redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Application ID URIs (e.g. `api://<client_id>`): audiences of user tokens for this API (OBO).
    pub identifier_uris: Vec<String>,
    /// ADFS quirk: send `expires_in` / `ext_expires_in` as JSON strings.
    pub expires_in_as_string: bool,
    /// Family of client ids (FOCI), e.g. `Some("1")`: sent as `foci` and lets family members
    /// redeem each other's refresh tokens.
    pub foci: Option<String>,
}

impl AppRegistration {
    /// An app that authenticates with a client secret.
    pub fn with_secret(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        AppRegistration {
            client_id: client_id.into(),
            secrets: vec![secret.into()],
            ..Default::default()
        }
    }

    /// An app that authenticates with a certificate (PEM; only the first certificate is used).
    pub fn with_certificate(client_id: impl Into<String>, cert_pem: impl Into<Vec<u8>>) -> Self {
        AppRegistration {
            client_id: client_id.into(),
            certificates: vec![cert_pem.into()],
            ..Default::default()
        }
    }

    /// Adds a redirect URI (builder style).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Adds an application ID URI (builder style).
    pub fn identifier_uri(mut self, uri: impl Into<String>) -> Self {
        self.identifier_uris.push(uri.into());
        self
    }
}

impl fmt::Debug for AppRegistration {
    // Secrets are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .field("certificates", &self.certificates.len())
            .field(
                "trusted_issuers",
                &self
                    .trusted_issuers
                    .iter()
                    .map(|(cn, _)| cn)
                    .collect::<Vec<_>>(),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("identifier_uris", &self.identifier_uris)
            .field("expires_in_as_string", &self.expires_in_as_string)
            .field("foci", &self.foci)
            .finish()
    }
}

/// A user who can sign in (authorization code flow) and be the subject of user tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// UPN / `preferred_username`, e.g. `alice@contoso.onmicrosoft.com`.
    pub username: String,
    /// Object id (GUID); also the `uid` of `client_info`.
    pub oid: String,
    /// Home tenant id; `None` means the authority's default tenant.
    pub tenant_id: Option<String>,
    /// Display name (`name` claim).
    pub name: String,
}

impl TestUser {
    /// A user in the default tenant with a random object id; the display name is derived from
    /// the part of `username` before `@`.
    pub fn new(username: impl Into<String>) -> Self {
        let username = username.into();
        let local = username.split('@').next().unwrap_or_default();
        let mut chars = local.chars();
        let name = match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        TestUser {
            username,
            oid: uuid::Uuid::new_v4().to_string(),
            tenant_id: None,
            name,
        }
    }
}

/// One request as received by the authority (recorded before faults or handling).
#[derive(Debug, Clone, Default)]
pub struct RecordedRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// Request path without the query.
    pub path: String,
    /// Host the request was addressed to (`Host` header or HTTP/2 authority) without the port,
    /// e.g. `localhost` or `eastus.localhost`.
    pub host: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers with lower-cased names, in received order.
    pub headers: Vec<(String, String)>,
    /// Decoded `application/x-www-form-urlencoded` body fields, in order (empty otherwise).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, name, true)
    }

    /// The first form field named `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        lookup(&self.form, name, false)
    }

    /// The first query parameter named `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name, false)
    }
}

pub(crate) fn lookup<'a>(
    pairs: &'a [(String, String)],
    name: &str,
    ignore_case: bool,
) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| {
            if ignore_case {
                k.eq_ignore_ascii_case(name)
            } else {
                k == name
            }
        })
        .map(|(_, v)| v.as_str())
}
