//! Managed identity sources (IMDS, App Service, Azure Machine Learning, Azure Arc, Service
//! Fabric, Cloud Shell) and workload identity federation (federated credentials).
//!
//! Every source is served on this authority's listener under its own path, so one server can
//! imitate them all (the VM metadata path is the real one, so a client's IMDS host can point
//! here):
//!
//! | Source | Endpoint | Checks |
//! |---|---|---|
//! | IMDS | `GET /metadata/identity/oauth2/token` | `Metadata: true`, no `X-Forwarded-For`, `api-version`, `resource`, at most one of `client_id` / `object_id` / `msi_res_id`; every field a string |
//! | App Service | `GET /appservice/msi/token` | `X-IDENTITY-HEADER`, `api-version=2019-08-01`, `client_id` / `object_id` / `principal_id` / `mi_res_id`; `expires_on` a string |
//! | Azure ML | `GET /machinelearning/msi/token` | header `secret`, `api-version=2017-09-01`, `clientid` / `object_id` / `msi_res_id` |
//! | Azure Arc | `GET /arc/metadata/identity/oauth2/token` | 401 + `WWW-Authenticate: Basic realm=<key file>` (a new file per challenge), then `Authorization: Basic <file content>`; echoes user-assigned ids |
//! | Service Fabric | `GET /servicefabric/metadata/identity/oauth2/token` | header `Secret`, `api-version=2019-07-01-preview`; errors `{"error": {"code", "message"}}`; serve it over HTTPS and pin [`TestAuthority::server_cert_sha1_thumbprint`] |
//! | Cloud Shell | `POST /cloudshell/oauth2/token` | `Metadata: true`, form `resource` |
//!
//! Tokens are JWTs signed by the authority: `aud` = resource, `appid` = the identity's client
//! id, `oid`/`sub` = its object id, `xms_mirid` = its resource id. Faults
//! ([`TestAuthority::push_fault`]) match these paths, and every request is in
//! [`TestAuthority::requests`].

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::grants::random_token;
use crate::state::{Shared, DEFAULT_TENANT_ID};
use crate::tokens::{self, now};
use crate::wire::{EntraError, Reply, Req};
use crate::TestAuthority;

/// Path of the IMDS token endpoint (the real one).
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// Path of the App Service endpoint.
pub const APP_SERVICE_PATH: &str = "/appservice/msi/token";
/// Path of the Azure Machine Learning endpoint.
pub const MACHINE_LEARNING_PATH: &str = "/machinelearning/msi/token";
/// Path of the Azure Arc endpoint.
pub const ARC_PATH: &str = "/arc/metadata/identity/oauth2/token";
/// Path of the Service Fabric endpoint.
pub const SERVICE_FABRIC_PATH: &str = "/servicefabric/metadata/identity/oauth2/token";
/// Path of the Cloud Shell endpoint.
pub const CLOUD_SHELL_PATH: &str = "/cloudshell/oauth2/token";
/// The audience a federated (workload identity) token must carry.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A managed identity the sources know: its client id, object id and Azure resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentityRecord {
    /// Client (application) id.
    pub client_id: String,
    /// Object (principal) id.
    pub object_id: String,
    /// Azure resource id.
    pub resource_id: String,
}

impl ManagedIdentityRecord {
    /// A user-assigned identity named `name` with fresh ids.
    ///
    /// ```
    /// let id = msal_testkit::ManagedIdentityRecord::new("orders-identity");
    /// assert!(id.resource_id.ends_with("/userAssignedIdentities/orders-identity"));
    /// ```
    pub fn new(name: &str) -> Self {
        ManagedIdentityRecord {
            client_id: uuid::Uuid::new_v4().to_string(),
            object_id: uuid::Uuid::new_v4().to_string(),
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/rg-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                uuid::Uuid::new_v4()
            ),
        }
    }
}

/// A federated identity credential of an app: tokens from `issuer` about `subject` for
/// `audience` are accepted as its client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// The external issuer (e.g. the cluster's OIDC issuer URL).
    pub issuer: String,
    /// The subject (e.g. `system:serviceaccount:orders:orders-sa`).
    pub subject: String,
    /// The audience, normally `api://AzureADTokenExchange`.
    pub audience: String,
}

impl FederatedCredential {
    /// A credential with the standard audience.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        FederatedCredential {
            issuer: issuer.into(),
            subject: subject.into(),
            audience: TOKEN_EXCHANGE_AUDIENCE.into(),
        }
    }
}

/// The managed identity part of the authority's state.
pub(crate) struct MiState {
    pub system: ManagedIdentityRecord,
    pub user_assigned: Vec<ManagedIdentityRecord>,
    /// `IDENTITY_HEADER` / `MSI_SECRET` / Service Fabric's `Secret`.
    pub secret: String,
    pub lifetime: Option<u64>,
    pub arc_echo: bool,
    pub arc_dir: Option<tempfile::TempDir>,
    /// Contents of the key files handed out by Arc challenges (valid once each).
    pub arc_secrets: Vec<String>,
    pub federated: Vec<(String, FederatedCredential)>,
}

impl Default for MiState {
    fn default() -> Self {
        MiState {
            system: ManagedIdentityRecord::new("system-assigned"),
            user_assigned: Vec::new(),
            secret: random_token(24),
            lifetime: None,
            arc_echo: true,
            arc_dir: None,
            arc_secrets: Vec::new(),
            federated: Vec::new(),
        }
    }
}

impl TestAuthority {
    /// Makes the sources know a user-assigned identity.
    pub fn add_user_assigned_identity(&self, identity: ManagedIdentityRecord) {
        self.shared.lock().mi.user_assigned.push(identity);
    }

    /// The ids of the system-assigned identity (its tokens carry them).
    pub fn system_assigned_identity(&self) -> ManagedIdentityRecord {
        self.shared.lock().mi.system.clone()
    }

    /// The secret App Service (`IDENTITY_HEADER`), Azure ML (`MSI_SECRET`) and Service Fabric
    /// (`IDENTITY_HEADER`) expect.
    pub fn managed_identity_secret(&self) -> String {
        self.shared.lock().mi.secret.clone()
    }

    /// `expires_in` of managed identity tokens from now on (`None`: the authority's
    /// token lifetime).
    pub fn set_managed_identity_token_lifetime(&self, secs: Option<u64>) {
        self.shared.lock().mi.lifetime = secs;
    }

    /// Whether Azure Arc echoes the requested user-assigned id in its answer (default true;
    /// false imitates a legacy agent).
    pub fn set_arc_echoes_user_assigned(&self, echo: bool) {
        self.shared.lock().mi.arc_echo = echo;
    }

    /// The folder where Azure Arc challenges put their key files (the client's key folder).
    pub fn arc_key_directory(&self) -> std::io::Result<PathBuf> {
        let mut state = self.shared.lock();
        if state.mi.arc_dir.is_none() {
            state.mi.arc_dir = Some(
                tempfile::Builder::new()
                    .prefix("msal-testkit-arc-")
                    .tempdir()?,
            );
        }
        Ok(state
            .mi
            .arc_dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default())
    }

    /// `base_url` — the IMDS host (`AZURE_POD_IDENTITY_AUTHORITY_HOST`).
    pub fn imds_host(&self) -> String {
        self.base_url.clone()
    }

    /// `IDENTITY_ENDPOINT` of App Service.
    pub fn app_service_endpoint(&self) -> String {
        format!("{}{APP_SERVICE_PATH}", self.base_url)
    }

    /// `MSI_ENDPOINT` of Azure Machine Learning.
    pub fn machine_learning_endpoint(&self) -> String {
        format!("{}{MACHINE_LEARNING_PATH}", self.base_url)
    }

    /// `IDENTITY_ENDPOINT` of Azure Arc.
    pub fn arc_endpoint(&self) -> String {
        format!("{}{ARC_PATH}", self.base_url)
    }

    /// `IDENTITY_ENDPOINT` of Service Fabric (HTTPS when the authority serves HTTPS).
    pub fn service_fabric_endpoint(&self) -> String {
        format!("{}{SERVICE_FABRIC_PATH}", self.base_url)
    }

    /// Cloud Shell's token endpoint.
    pub fn cloud_shell_endpoint(&self) -> String {
        format!("{}{CLOUD_SHELL_PATH}", self.base_url)
    }

    /// The managed identity requests received so far (every source's path).
    pub fn managed_identity_requests(&self) -> Vec<crate::RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| {
                [
                    IMDS_PATH,
                    APP_SERVICE_PATH,
                    MACHINE_LEARNING_PATH,
                    ARC_PATH,
                    SERVICE_FABRIC_PATH,
                    CLOUD_SHELL_PATH,
                ]
                .contains(&r.path.as_str())
            })
            .collect()
    }

    /// Registers a federated identity credential for `client_id` (the app must be registered;
    /// it may have no secret at all).
    pub fn add_federated_credential(&self, client_id: &str, credential: FederatedCredential) {
        self.shared
            .lock()
            .mi
            .federated
            .push((client_id.to_string(), credential));
    }

    /// Mints a token as an external OIDC issuer would (e.g. a Kubernetes service-account token
    /// projected for workload identity), signed with this authority's key. `expires_in` may be
    /// negative for an already expired token.
    pub fn issue_federated_token(
        &self,
        issuer: &str,
        subject: &str,
        audience: &str,
        expires_in: i64,
    ) -> String {
        let now = now() as i64;
        self.shared.key.sign(&json!({
            "iss": issuer,
            "sub": subject,
            "aud": [audience],
            "iat": now - 5,
            "nbf": now - 5,
            "exp": now + expires_in,
            "kubernetes.io": {"namespace": "default"},
        }))
    }
}

/// Handles a managed identity endpoint, or `None` when the path is not one.
pub(crate) fn route(shared: &Shared, req: &Req) -> Option<Reply> {
    let get = req.method == "GET";
    Some(match req.path.as_str() {
        IMDS_PATH if get => imds(shared, req),
        APP_SERVICE_PATH if get => app_service(shared, req),
        MACHINE_LEARNING_PATH if get => machine_learning(shared, req),
        ARC_PATH if get => arc(shared, req),
        SERVICE_FABRIC_PATH if get => service_fabric(shared, req),
        CLOUD_SHELL_PATH if req.method == "POST" => cloud_shell(shared, req),
        IMDS_PATH
        | APP_SERVICE_PATH
        | MACHINE_LEARNING_PATH
        | ARC_PATH
        | SERVICE_FABRIC_PATH
        | CLOUD_SHELL_PATH => Reply::text(405, "Method Not Allowed"),
        _ => return None,
    })
}

/// Which identity a request selects.
enum Pick {
    System,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

/// A query parameter name and the selection it makes.
type Selector<'a> = (&'a str, fn(String) -> Pick);

fn pick(req: &Req, names: &[Selector<'_>]) -> Result<Pick, String> {
    let mut found: Vec<Pick> = Vec::new();
    for (name, make) in names {
        if let Some(v) = req.query_value(name) {
            found.push(make(v.to_string()));
        }
    }
    match found.len() {
        0 => Ok(Pick::System),
        1 => Ok(found.pop().unwrap_or(Pick::System)),
        _ => Err("only one of client_id, object_id and resource id may be given".into()),
    }
}

fn resolve(shared: &Shared, p: &Pick) -> Option<ManagedIdentityRecord> {
    let s = shared.lock();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match p {
        Pick::System => Some(s.mi.system.clone()),
        Pick::ClientId(id) => {
            s.mi.user_assigned
                .iter()
                .find(|i| eq(&i.client_id, id))
                .cloned()
        }
        Pick::ObjectId(id) => {
            s.mi.user_assigned
                .iter()
                .find(|i| eq(&i.object_id, id))
                .cloned()
        }
        Pick::ResourceId(id) => {
            s.mi.user_assigned
                .iter()
                .find(|i| eq(&i.resource_id, id))
                .cloned()
        }
    }
}

fn lifetime(shared: &Shared) -> u64 {
    let s = shared.lock();
    s.mi.lifetime.unwrap_or(s.token_lifetime)
}

/// A signed token for `identity` and `resource`; returns it with its expiry.
fn mint(shared: &Shared, identity: &ManagedIdentityRecord, resource: &str) -> (String, u64, u64) {
    let now = now();
    let life = lifetime(shared);
    let tid = DEFAULT_TENANT_ID;
    let token = shared.key.sign(&json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now,
        "nbf": now,
        "exp": now + life,
        "appid": identity.client_id,
        "oid": identity.object_id,
        "sub": identity.object_id,
        "xms_mirid": identity.resource_id,
        "idtyp": "app",
        "tid": tid,
        "uti": uuid::Uuid::new_v4().to_string(),
        "ver": "1.0",
    }));
    (token, now, life)
}

fn secret_matches(shared: &Shared, given: Option<&str>) -> bool {
    let expected = shared.lock().mi.secret.clone();
    given.is_some_and(|g| ct::eq_len(g, &expected))
}

/// Constant-time string equality (the length may leak, the content does not).
mod ct {
    pub(super) fn eq_len(a: &str, b: &str) -> bool {
        a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
    }
}

/// A token IMDS or Arc hands out.
struct Grant {
    resource: String,
    /// How the caller chose the identity.
    pick: Pick,
    id: ManagedIdentityRecord,
    token: String,
    issued: u64,
    life: u64,
}

/// What IMDS and Arc share once the caller is accepted: the api-version (at least
/// `min_api`), the resource, the identity chosen by `client_id` / `object_id` /
/// `msi_res_id`, and a minted token.
fn imds_style_grant(shared: &Shared, req: &Req, min_api: &str) -> Result<Grant, Reply> {
    match req.query_value("api-version") {
        Some(v) if v >= min_api => {}
        _ => {
            return Err(imds_error(
                400,
                "invalid_request",
                "Missing or unsupported api-version",
            ))
        }
    }
    let Some(resource) = require_resource(req) else {
        return Err(imds_error(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        ));
    };
    let selectors = [
        ("client_id", Pick::ClientId as fn(String) -> Pick),
        ("object_id", Pick::ObjectId),
        ("msi_res_id", Pick::ResourceId),
    ];
    let p = pick(req, &selectors).map_err(|e| imds_error(400, "invalid_request", &e))?;
    let Some(id) = resolve(shared, &p) else {
        return Err(imds_error(400, "invalid_request", "Identity not found"));
    };
    let (token, issued, life) = mint(shared, &id, &resource);
    Ok(Grant {
        resource,
        pick: p,
        id,
        token,
        issued,
        life,
    })
}

fn imds_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn require_resource(req: &Req) -> Option<String> {
    req.query_value("resource")
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// IMDS: every value a string, `expires_in` the lifetime.
fn imds_style(
    token: String,
    issued: u64,
    life: u64,
    resource: &str,
    id: &ManagedIdentityRecord,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("access_token".into(), json!(token));
    m.insert("refresh_token".into(), json!(""));
    m.insert("expires_in".into(), json!(life.to_string()));
    m.insert("expires_on".into(), json!((issued + life).to_string()));
    m.insert("ext_expires_in".into(), json!(life.to_string()));
    m.insert("not_before".into(), json!(issued.to_string()));
    m.insert("resource".into(), json!(resource));
    m.insert("token_type".into(), json!("Bearer"));
    m.insert("client_id".into(), json!(id.client_id));
    m
}

fn imds(shared: &Shared, req: &Req) -> Reply {
    if req.header("metadata") != Some("true") {
        return imds_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if req.header("x-forwarded-for").is_some() {
        return imds_error(
            400,
            "invalid_request",
            "Request contains X-Forwarded-For header",
        );
    }
    let g = match imds_style_grant(shared, req, "2018-02-01") {
        Ok(g) => g,
        Err(reply) => return reply,
    };
    let (token, issued, life, resource, id) = (g.token, g.issued, g.life, g.resource, g.id);
    Reply::json(
        200,
        &Value::Object(imds_style(token, issued, life, &resource, &id)),
    )
}

fn app_service_error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"statusCode": status, "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}),
    )
}

/// App Service and Azure ML: `expires_on` epoch seconds as a string.
fn app_service_style(
    token: String,
    issued: u64,
    life: u64,
    resource: &str,
    id: &ManagedIdentityRecord,
) -> Value {
    json!({
        "access_token": token,
        "client_id": id.client_id,
        "expires_on": (issued + life).to_string(),
        "not_before": issued.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    })
}

fn app_service(shared: &Shared, req: &Req) -> Reply {
    if !secret_matches(shared, req.header("x-identity-header")) {
        return app_service_error(401, "The X-IDENTITY-HEADER is missing or does not match.");
    }
    match req.query_value("api-version") {
        Some(v) if v >= "2019-08-01" => {}
        _ => return app_service_error(400, "api-version 2019-08-01 or later is required"),
    }
    let Some(resource) = require_resource(req) else {
        return app_service_error(400, "The resource parameter is required");
    };
    let p = match pick(
        req,
        &[
            ("client_id", Pick::ClientId),
            ("object_id", Pick::ObjectId),
            ("principal_id", Pick::ObjectId),
            ("mi_res_id", Pick::ResourceId),
        ],
    ) {
        Ok(p) => p,
        Err(e) => return app_service_error(400, &e),
    };
    let Some(id) = resolve(shared, &p) else {
        return app_service_error(400, "No managed identity found for the specified identity");
    };
    let (token, issued, life) = mint(shared, &id, &resource);
    Reply::json(200, &app_service_style(token, issued, life, &resource, &id))
}

fn machine_learning(shared: &Shared, req: &Req) -> Reply {
    if !secret_matches(shared, req.header("secret")) {
        return app_service_error(401, "The secret header is missing or does not match.");
    }
    if req.query_value("api-version") != Some("2017-09-01") {
        return app_service_error(400, "api-version 2017-09-01 is required");
    }
    let Some(resource) = require_resource(req) else {
        return app_service_error(400, "The resource parameter is required");
    };
    if req.query_value("client_id").is_some() {
        return app_service_error(400, "Unknown parameter client_id; use clientid");
    }
    let p = match pick(
        req,
        &[
            ("clientid", Pick::ClientId),
            ("object_id", Pick::ObjectId),
            ("msi_res_id", Pick::ResourceId),
        ],
    ) {
        Ok(p) => p,
        Err(e) => return app_service_error(400, &e),
    };
    let Some(id) = resolve(shared, &p) else {
        return app_service_error(400, "No managed identity found for the specified identity");
    };
    let (token, issued, life) = mint(shared, &id, &resource);
    Reply::json(200, &app_service_style(token, issued, life, &resource, &id))
}

fn arc(shared: &Shared, req: &Req) -> Reply {
    if req.header("metadata") != Some("true") {
        return imds_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    let Some(auth) = req.header("authorization") else {
        return arc_challenge(shared);
    };
    let given = auth.strip_prefix("Basic ").unwrap_or_default();
    let known = {
        let mut s = shared.lock();
        match s.mi.arc_secrets.iter().position(|k| ct::eq_len(k, given)) {
            Some(i) => {
                s.mi.arc_secrets.remove(i);
                true
            }
            None => false,
        }
    };
    if !known {
        return imds_error(
            401,
            "unauthorized_client",
            "The key in the Authorization header is not valid",
        );
    }
    let g = match imds_style_grant(shared, req, "2019-11-01") {
        Ok(g) => g,
        Err(reply) => return reply,
    };
    let (token, issued, life, resource, id, p) =
        (g.token, g.issued, g.life, g.resource, g.id, g.pick);
    let mut m = imds_style(token, issued, life, &resource, &id);
    m.remove("client_id");
    if shared.lock().mi.arc_echo {
        match p {
            Pick::System => {}
            Pick::ClientId(_) => {
                m.insert("client_id".into(), json!(id.client_id));
            }
            Pick::ObjectId(_) => {
                m.insert("object_id".into(), json!(id.object_id));
            }
            Pick::ResourceId(_) => {
                m.insert("msi_res_id".into(), json!(id.resource_id));
            }
        }
    }
    Reply::json(200, &Value::Object(m))
}

/// Writes a new key file and answers 401 with its path as the realm.
fn arc_challenge(shared: &Shared) -> Reply {
    let mut s = shared.lock();
    if s.mi.arc_dir.is_none() {
        match tempfile::Builder::new()
            .prefix("msal-testkit-arc-")
            .tempdir()
        {
            Ok(d) => s.mi.arc_dir = Some(d),
            Err(e) => return Reply::text(500, &format!("cannot create the key folder: {e}")),
        }
    }
    let dir =
        s.mi.arc_dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
    let name = format!("{}.key", uuid::Uuid::new_v4());
    let secret = random_token(32);
    let path = dir.join(&name);
    if let Err(e) = std::fs::write(&path, &secret) {
        return Reply::text(500, &format!("cannot write the key file: {e}"));
    }
    s.mi.arc_secrets.push(secret);
    imds_error(401, "unauthorized_client", "Authorization required").with_header(
        "WWW-Authenticate",
        format!("Basic realm={}", path.display()),
    )
}

fn sf_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"correlationId": uuid::Uuid::new_v4().to_string(), "code": code, "message": message}}),
    )
}

fn service_fabric(shared: &Shared, req: &Req) -> Reply {
    if !secret_matches(shared, req.header("secret")) {
        return sf_error(
            401,
            "SecretHeaderNotFound",
            "Secret is not found in the request headers.",
        );
    }
    if req.query_value("api-version") != Some("2019-07-01-preview") {
        return sf_error(400, "InvalidApiVersion", "The api-version is invalid.");
    }
    let Some(resource) = require_resource(req) else {
        return sf_error(
            400,
            "ArgumentNullOrEmpty",
            "Value cannot be null or empty: resource",
        );
    };
    let id = shared.lock().mi.system.clone();
    let (token, issued, life) = mint(shared, &id, &resource);
    Reply::json(
        200,
        &json!({
            "token_type": "Bearer",
            "access_token": token,
            "expires_on": issued + life,
            "resource": resource,
        }),
    )
}

fn cloud_shell(shared: &Shared, req: &Req) -> Reply {
    if req.header("metadata") != Some("true") {
        return sf_error(400, "BadRequest", "Required metadata header not specified");
    }
    let Some(resource) = req.form_value("resource").map(str::to_string) else {
        return sf_error(400, "BadRequest", "The resource form field is required");
    };
    let id = shared.lock().mi.system.clone();
    let (token, _, life) = mint(shared, &id, &resource);
    Reply::json(
        200,
        &json!({
            "access_token": token,
            "expires_in": life,
            "token_type": "Bearer",
            "resource": resource,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Workload identity federation.

/// When `assertion` is meant as a federated credential of `client_id` (the app has federated
/// credentials and the assertion was not issued by the app itself), verifies it as Entra does.
pub(crate) fn federated_assertion(
    shared: &Shared,
    client_id: &str,
    assertion: &str,
) -> Option<Result<(), EntraError>> {
    let records: Vec<FederatedCredential> = shared
        .lock()
        .mi
        .federated
        .iter()
        .filter(|(c, _)| c == client_id)
        .map(|(_, f)| f.clone())
        .collect();
    if records.is_empty() {
        return None;
    }
    let parsed = tokens::parse_jwt(assertion).ok()?;
    let iss = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if iss == client_id {
        return None;
    }
    Some(check_federated(shared, &records, assertion, &iss))
}

fn check_federated(
    shared: &Shared,
    records: &[FederatedCredential],
    assertion: &str,
    iss: &str,
) -> Result<(), EntraError> {
    let claims = shared.key.verify(assertion).map_err(|e| {
        EntraError::new(
            401,
            "invalid_client",
            700027,
            format!("Client assertion failed signature validation: {e}."),
        )
    })?;
    let exp = claims
        .get("exp")
        .and_then(tokens::numeric_claim)
        .unwrap_or(0.0);
    if exp <= now() as f64 {
        return Err(EntraError::new(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let auds: Vec<String> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let by_subject: Vec<&FederatedCredential> = records
        .iter()
        .filter(|r| r.issuer == iss && r.subject == sub)
        .collect();
    if by_subject.is_empty() {
        return Err(EntraError::new(
            400,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion \
                 Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                auds.join(",")
            ),
        ));
    }
    if !by_subject
        .iter()
        .any(|r| auds.iter().any(|a| a == &r.audience))
    {
        return Err(EntraError::new(
            400,
            "invalid_request",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience \
                 '{}'.",
                auds.join(",")
            ),
        ));
    }
    Ok(())
}
