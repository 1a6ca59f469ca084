//! The token endpoint: client authentication, then one handler per grant type.

use openssl::hash::{hash, MessageDigest};
use serde_json::{json, Map, Value};

use crate::assertion;
use crate::discovery::{Endpoint, Resolved};
use crate::state::{AppEntry, AuthCode, RefreshGrant, Shared};
use crate::tokens::{self, b64url};
use crate::types::TestUser;
use crate::wire::{EntraError, Reply, Req};

/// The jwt-bearer grant type used by on-behalf-of.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The resource used for bare scopes like `User.Read`, as Entra does.
const GRAPH: &str = "https://graph.microsoft.com";
/// OIDC scopes that name no resource.
const RESERVED_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];
/// Lifetime of refresh tokens (90 days, like Entra's sliding window).
const REFRESH_TOKEN_LIFETIME: u64 = 90 * 86_400;
/// Lifetime of ID tokens.
const ID_TOKEN_LIFETIME: u64 = 3600;

/// `POST .../oauth2/v2.0/token`.
pub(crate) fn token(shared: &Shared, req: &Req, ep: &Endpoint) -> Reply {
    match token_inner(shared, req, ep) {
        Ok(body) => {
            let mut reply = Reply::json(200, &body);
            if let Some(c) = req.correlation_id() {
                reply = reply.with_header("client-request-id", c);
            }
            reply.with_header("x-ms-request-id", uuid::Uuid::new_v4().to_string())
        }
        Err(e) => e.reply(req),
    }
}

fn token_inner(shared: &Shared, req: &Req, ep: &Endpoint) -> Result<Value, EntraError> {
    let resolved = ep.resolve(shared)?;
    let grant_type = req
        .form_value("grant_type")
        .ok_or_else(|| EntraError::missing("grant_type"))?;
    let client_id = req
        .form_value("client_id")
        .ok_or_else(|| EntraError::missing("client_id"))?;
    let app = shared.lock().apps.get(client_id).cloned().ok_or_else(|| {
        EntraError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. \
                 This can happen if the application has not been installed by the administrator \
                 of the tenant or consented to by any user in the tenant.",
                resolved.tid.as_deref().unwrap_or("common")
            ),
        )
    })?;
    assertion::authenticate(
        shared,
        req,
        &app,
        &expected_audiences(shared, req, ep, &resolved),
    )?;

    let issuer = Issuer::new(shared, req, ep, &app);
    match grant_type {
        "client_credentials" => client_credentials(&issuer, req, &resolved),
        "authorization_code" => authorization_code(&issuer, req, &resolved),
        "refresh_token" => refresh_token(&issuer, req, &resolved),
        JWT_BEARER_GRANT => on_behalf_of(&issuer, req, &resolved),
        other => Err(EntraError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// The token endpoint URLs (global host) a client assertion's `aud` may name.
fn expected_audiences(shared: &Shared, req: &Req, ep: &Endpoint, r: &Resolved) -> Vec<String> {
    let global = shared.global_base(req);
    let state = shared.lock();
    let mut auds = Vec::new();
    match ep {
        Endpoint::Adfs => auds.push(format!("{global}/adfs/oauth2/token")),
        Endpoint::Aad { tenant } => {
            let mut segments = r
                .tid
                .as_deref()
                .map(|t| state.tenant_aliases(t))
                .unwrap_or_default();
            segments.push(tenant.to_ascii_lowercase());
            for seg in segments {
                auds.push(format!("{global}/{seg}/oauth2/v2.0/token"));
                auds.push(format!("{global}/{seg}/oauth2/token"));
            }
        }
        Endpoint::B2c { policy, .. } => {
            auds.push(format!("{global}{}/oauth2/v2.0/token", r.prefix));
            if let Some(tid) = &r.tid {
                auds.push(format!("{global}/{tid}/{policy}/oauth2/v2.0/token"));
            }
        }
    }
    auds
}

fn invalid_scope(code: u32, text: impl Into<String>) -> EntraError {
    EntraError::new(400, "invalid_scope", code, text)
}

fn invalid_grant(code: u32, text: impl Into<String>) -> EntraError {
    EntraError::new(400, "invalid_grant", code, text)
}

fn client_credentials(
    issuer: &Issuer<'_>,
    req: &Req,
    resolved: &Resolved,
) -> Result<Value, EntraError> {
    let Some(tid) = &resolved.tid else {
        return Err(EntraError::new(
            400,
            "invalid_request",
            90009,
            "The client credentials grant needs a tenant-specific authority (a tenant id or \
             domain), not 'common', 'organizations' or 'consumers'.",
        ));
    };
    let scope = req
        .form_value("scope")
        .ok_or_else(|| EntraError::missing("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(invalid_scope(
            70011,
            format!(
                "The provided request must include a single resource scope ending in '/.default'; \
                 got '{scope}'."
            ),
        ));
    };
    let Some(resource) = single.strip_suffix("/.default").filter(|r| !r.is_empty()) else {
        return Err(invalid_scope(
            1002012,
            format!(
                "The provided value for scope {single} is not valid. Client credential flows \
                 must have a scope value with /.default suffixed to the resource identifier \
                 (application ID URI)."
            ),
        ));
    };
    let access_token = issuer.app_token(resource, tid);
    Ok(issuer.response(access_token, None, Extras::default()))
}

fn authorization_code(
    issuer: &Issuer<'_>,
    req: &Req,
    resolved: &Resolved,
) -> Result<Value, EntraError> {
    let code_value = req
        .form_value("code")
        .ok_or_else(|| EntraError::missing("code"))?;
    let code = {
        let mut state = issuer.shared.lock();
        match state.codes.remove(code_value) {
            Some(c) => {
                state.used_codes.insert(code_value.to_string());
                c
            }
            None if state.used_codes.contains(code_value) => {
                return Err(invalid_grant(
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new \
                     valid code or use an existing refresh token.",
                ))
            }
            None => {
                return Err(invalid_grant(
                    70000,
                    "The provided value for the 'code' parameter is not valid.",
                ))
            }
        }
    };
    check_code(&code, issuer, req, resolved)?;
    let scope_str = req
        .form_value("scope")
        .map(str::to_string)
        .unwrap_or_else(|| code.scopes.join(" "));
    let tid = resolved.tid.clone().unwrap_or(code.tid.clone());
    issuer.user_response(&code.user, &tid, &scope_str, Some(&code), req)
}

fn check_code(
    code: &AuthCode,
    issuer: &Issuer<'_>,
    req: &Req,
    resolved: &Resolved,
) -> Result<(), EntraError> {
    if code.client_id != issuer.app.reg.client_id {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid. The code was issued to a \
             different client.",
        ));
    }
    if code.expires_at <= tokens::now() {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ));
    }
    if req.form_value("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'redirect_uri' parameter is not valid: it does not match \
             the redirect URI of the authorization request.",
        ));
    }
    if resolved.tid.as_ref().is_some_and(|t| *t != code.tid) {
        return Err(invalid_grant(
            70000,
            "The code was issued for a different tenant.",
        ));
    }
    if let Some(challenge) = &code.code_challenge {
        let verifier = req.form_value("code_verifier").unwrap_or_default();
        let computed = if code.code_challenge_method.eq_ignore_ascii_case("plain") {
            verifier.to_string()
        } else {
            b64url(&hash(MessageDigest::sha256(), verifier.as_bytes()).expect("sha256"))
        };
        if verifier.is_empty() || !ct_eq(computed.as_bytes(), challenge.as_bytes()) {
            return Err(invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the \
                 authorization request.",
            ));
        }
    }
    Ok(())
}

fn refresh_token(issuer: &Issuer<'_>, req: &Req, resolved: &Resolved) -> Result<Value, EntraError> {
    let rt = req
        .form_value("refresh_token")
        .ok_or_else(|| EntraError::missing("refresh_token"))?;
    let bad_token = |code: u32, text: &str| invalid_grant(code, text).suberror("bad_token");
    let grant = issuer
        .shared
        .lock()
        .refresh_tokens
        .get(rt)
        .cloned()
        .ok_or_else(|| {
            bad_token(
                70043,
                "The refresh token has expired or is invalid due to sign-in frequency checks by \
                 conditional access.",
            )
        })?;
    if grant.revoked {
        return Err(bad_token(
            70043,
            "The refresh token has expired or is invalid due to sign-in frequency checks by \
             conditional access. The token was revoked.",
        ));
    }
    if grant.expires_at <= tokens::now() {
        return Err(bad_token(
            700082,
            "The refresh token has expired due to inactivity.",
        ));
    }
    let app = &issuer.app.reg;
    let same_family = grant.foci.is_some() && grant.foci == app.foci;
    if grant.client_id != app.client_id && !same_family {
        return Err(
            invalid_grant(70000, "The refresh token was issued to a different client.")
                .suberror("client_mismatch"),
        );
    }
    let scope = req
        .form_value("scope")
        .map(str::to_string)
        .unwrap_or_else(|| grant.scopes.join(" "));
    // AAD refresh tokens are multi-tenant: the token is issued in the tenant asked for.
    let tid = resolved.tid.clone().unwrap_or(grant.tid.clone());
    issuer.user_response(&grant.user, &tid, &scope, None, req)
}

fn on_behalf_of(issuer: &Issuer<'_>, req: &Req, resolved: &Resolved) -> Result<Value, EntraError> {
    if req.form_value("requested_token_use") != Some("on_behalf_of") {
        return Err(EntraError::new(
            400,
            "invalid_request",
            50034,
            "The jwt-bearer grant is only supported with requested_token_use=on_behalf_of.",
        ));
    }
    let assertion = req
        .form_value("assertion")
        .ok_or_else(|| EntraError::missing("assertion"))?;
    let scope = req
        .form_value("scope")
        .ok_or_else(|| EntraError::missing("scope"))?;
    let claims = issuer.shared.key.verify(assertion).map_err(|e| {
        invalid_grant(
            50013,
            format!("Assertion failed signature validation: {e}."),
        )
    })?;
    tokens::check_time(&claims, 300.0).map_err(|e| {
        invalid_grant(
            500133,
            format!("Assertion is not within its valid time range: {e}."),
        )
    })?;
    let app = &issuer.app.reg;
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if aud != app.client_id && !app.identifier_uris.iter().any(|u| u == aud) {
        return Err(invalid_grant(
            500131,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The \
                 audience in the assertion was '{aud}' and the expected audience is '{}' or one \
                 of the Application Id URIs of this application.",
                app.client_id
            ),
        ));
    }
    let oid = claims.get("oid").and_then(Value::as_str);
    let is_user =
        claims.get("idtyp").and_then(Value::as_str) != Some("app") && claims.get("scp").is_some();
    let (Some(oid), true) = (oid, is_user) else {
        return Err(invalid_grant(
            50013,
            "Assertion is not a user token: on-behalf-of needs a delegated (user) access token.",
        ));
    };
    let token_tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let user = issuer
        .shared
        .lock()
        .user_by_oid(oid)
        .unwrap_or_else(|| TestUser {
            username: claim_str(&claims, "preferred_username"),
            oid: oid.to_string(),
            tenant_id: Some(token_tid.to_string()),
            name: claim_str(&claims, "name"),
        });
    let tid = resolved
        .tid
        .clone()
        .unwrap_or_else(|| token_tid.to_string());
    issuer.user_response(&user, &tid, scope, None, req)
}

fn claim_str(claims: &Value, name: &str) -> String {
    claims
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Resource and permissions of a user-flow scope string.
#[derive(Debug, PartialEq)]
pub(crate) struct UserScopes {
    pub resource: String,
    /// `scp` claim value.
    pub scp: String,
    /// Response `scope`: requested resource scopes as given, plus `openid`/`profile`/`email`.
    pub granted: String,
    pub openid: bool,
    pub offline_access: bool,
}

pub(crate) fn parse_user_scopes(scope: &str) -> Result<UserScopes, EntraError> {
    let mut resource: Option<String> = None;
    let mut perms = Vec::new();
    let mut granted = Vec::new();
    let mut reserved = Vec::new();
    for s in scope.split_whitespace() {
        let lower = s.to_ascii_lowercase();
        if RESERVED_SCOPES.contains(&lower.as_str()) {
            reserved.push(lower);
            continue;
        }
        let (res, perm) = match s.rsplit_once('/') {
            Some((res, perm)) if res.contains("://") && !res.ends_with(":/") && !perm.is_empty() => {
                (res.to_string(), perm.to_string())
            }
            Some(_) => {
                return Err(invalid_scope(
                    70011,
                    format!("The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid."),
                ))
            }
            None => (GRAPH.to_string(), s.to_string()),
        };
        match &resource {
            Some(r) if !r.eq_ignore_ascii_case(&res) => {
                return Err(invalid_scope(
                    28000,
                    "Provided value for the input parameter scope is not valid because it \
                     contains more than one resource.",
                ))
            }
            _ => resource = Some(res),
        }
        perms.push(if perm == ".default" {
            "user_impersonation".to_string()
        } else {
            perm
        });
        granted.push(s.to_string());
    }
    let openid = reserved.iter().any(|r| r == "openid");
    for r in ["openid", "profile", "email"] {
        if reserved.iter().any(|x| x == r) {
            granted.push(r.to_string());
        }
    }
    if perms.is_empty() {
        perms = granted.clone();
    }
    Ok(UserScopes {
        resource: resource.unwrap_or_else(|| GRAPH.to_string()),
        scp: perms.join(" "),
        granted: granted.join(" "),
        openid,
        offline_access: reserved.iter().any(|r| r == "offline_access"),
    })
}

/// Optional members of a token response.
#[derive(Default)]
struct Extras {
    scope: Option<String>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    client_info: Option<String>,
}

/// Mints tokens for one request.
pub(crate) struct Issuer<'a> {
    pub shared: &'a Shared,
    pub app: &'a AppEntry,
    ep: &'a Endpoint,
    global_base: String,
    lifetime: u64,
    refresh_in: Option<u64>,
    /// The authentication context classes a `claims` request parameter asked for
    /// (`access_token.acrs.value` / `.values`); issued access tokens carry them as `acrs`.
    acrs: Vec<String>,
}

/// The `acrs` values a claims request (a claims challenge passed on) asks for.
fn requested_acrs(claims: Option<&str>) -> Vec<String> {
    let Some(v) = claims.and_then(|c| serde_json::from_str::<Value>(c).ok()) else {
        return Vec::new();
    };
    let acrs = &v["access_token"]["acrs"];
    match (&acrs["value"], &acrs["values"]) {
        (Value::String(one), _) => vec![one.clone()],
        (_, Value::Array(many)) => many
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

impl<'a> Issuer<'a> {
    pub(crate) fn new(shared: &'a Shared, req: &Req, ep: &'a Endpoint, app: &'a AppEntry) -> Self {
        let (lifetime, refresh_in) = {
            let s = shared.lock();
            (s.token_lifetime, s.refresh_in)
        };
        Issuer {
            shared,
            app,
            ep,
            global_base: shared.global_base(req),
            lifetime,
            refresh_in,
            acrs: requested_acrs(req.form_value("claims")),
        }
    }

    fn base_claims(&self, aud: &str, tid: &str, lifetime: u64) -> Map<String, Value> {
        let now = tokens::now();
        let mut c = Map::new();
        c.insert("aud".into(), json!(aud));
        c.insert("iss".into(), json!(self.ep.issuer(&self.global_base, tid)));
        c.insert("iat".into(), json!(now));
        c.insert("nbf".into(), json!(now));
        c.insert("exp".into(), json!(now + lifetime));
        if !self.acrs.is_empty() {
            c.insert("acrs".into(), json!(self.acrs));
        }
        c
    }

    /// An app-only access token.
    fn app_token(&self, resource: &str, tid: &str) -> String {
        let client_id = &self.app.reg.client_id;
        let mut c = self.base_claims(resource, tid, self.lifetime);
        c.insert("appid".into(), json!(client_id));
        c.insert("azp".into(), json!(client_id));
        c.insert("appidacr".into(), json!("1"));
        c.insert("idp".into(), json!(self.ep.issuer(&self.global_base, tid)));
        c.insert("idtyp".into(), json!("app"));
        c.insert("oid".into(), json!(self.app.sp_oid));
        c.insert("roles".into(), json!([]));
        c.insert("sub".into(), json!(self.app.sp_oid));
        c.insert("tid".into(), json!(tid));
        c.insert("uti".into(), json!(unique_id()));
        c.insert("ver".into(), json!("2.0"));
        self.shared.key.sign(&Value::Object(c))
    }

    /// A delegated (user) access token.
    pub(crate) fn user_token(
        &self,
        user: &TestUser,
        tid: &str,
        resource: &str,
        scp: &str,
    ) -> String {
        let client_id = &self.app.reg.client_id;
        let mut c = self.base_claims(resource, tid, self.lifetime);
        c.insert("azp".into(), json!(client_id));
        c.insert("appid".into(), json!(client_id));
        c.insert("azpacr".into(), json!("1"));
        c.insert("idtyp".into(), json!("user"));
        c.insert("name".into(), json!(user.name));
        c.insert("oid".into(), json!(user.oid));
        c.insert("preferred_username".into(), json!(user.username));
        c.insert("scp".into(), json!(scp));
        c.insert("sub".into(), json!(pairwise_sub(&user.oid, resource)));
        c.insert("tid".into(), json!(tid));
        c.insert("uti".into(), json!(unique_id()));
        c.insert("ver".into(), json!("2.0"));
        self.shared.key.sign(&Value::Object(c))
    }

    /// An ID token; `code` is the authorization code being redeemed, if any (its `nonce`
    /// and `auth_time` go into the token).
    fn id_token(&self, user: &TestUser, tid: &str, code: Option<&AuthCode>) -> String {
        let client_id = &self.app.reg.client_id;
        let mut c = self.base_claims(client_id, tid, ID_TOKEN_LIFETIME);
        let (wrong_key, nonce_override) = {
            let s = self.shared.lock();
            (
                s.id_tokens_with_wrong_key,
                s.id_token_nonce_override.clone(),
            )
        };
        if let Some(n) = nonce_override
            .as_deref()
            .or(code.and_then(|c| c.nonce.as_deref()))
        {
            c.insert("nonce".into(), json!(n));
        }
        if let Some(t) = code.and_then(|c| c.auth_time) {
            c.insert("auth_time".into(), json!(t));
        }
        c.insert("name".into(), json!(user.name));
        c.insert("oid".into(), json!(user.oid));
        if matches!(self.ep, Endpoint::Adfs) {
            // ADFS names the user with `upn` (and `unique_name`), not `preferred_username`.
            c.insert("upn".into(), json!(user.username));
            c.insert("unique_name".into(), json!(user.username));
        } else {
            c.insert("preferred_username".into(), json!(user.username));
        }
        c.insert("sub".into(), json!(pairwise_sub(&user.oid, client_id)));
        c.insert("tid".into(), json!(tid));
        c.insert("uti".into(), json!(unique_id()));
        c.insert("ver".into(), json!("2.0"));
        let claims = Value::Object(c);
        if wrong_key {
            self.shared.wrong_key().sign(&claims)
        } else {
            self.shared.key.sign(&claims)
        }
    }

    /// Everything a user flow returns: AT, plus RT / ID token / client_info as requested.
    fn user_response(
        &self,
        user: &TestUser,
        tid: &str,
        scope: &str,
        code: Option<&AuthCode>,
        req: &Req,
    ) -> Result<Value, EntraError> {
        let scopes = parse_user_scopes(scope)?;
        let access_token = self.user_token(user, tid, &scopes.resource, &scopes.scp);
        let home_tid = user.tenant_id.as_deref().unwrap_or(tid);
        let mut extras = Extras {
            scope: Some(scopes.granted.clone()),
            ..Extras::default()
        };
        if scopes.offline_access {
            extras.refresh_token = Some(self.new_refresh_token(user, tid, scope));
        }
        if scopes.openid {
            extras.id_token = Some(self.id_token(user, tid, code));
        }
        // ADFS knows no `client_info`: MSAL identifies the user by the ID token's `sub`.
        if req.form_value("client_info") == Some("1") && !matches!(self.ep, Endpoint::Adfs) {
            extras.client_info = Some(client_info(&user.oid, home_tid));
        }
        Ok(self.response(access_token, self.app.reg.foci.clone(), extras))
    }

    fn new_refresh_token(&self, user: &TestUser, tid: &str, scope: &str) -> String {
        let rt = format!("1.AR{}", random_token(48));
        let grant = RefreshGrant {
            client_id: self.app.reg.client_id.clone(),
            user: user.clone(),
            tid: tid.to_string(),
            scopes: scope.split_whitespace().map(str::to_string).collect(),
            expires_at: tokens::now() + REFRESH_TOKEN_LIFETIME,
            revoked: false,
            foci: self.app.reg.foci.clone(),
        };
        self.shared.lock().refresh_tokens.insert(rt.clone(), grant);
        rt
    }

    fn response(&self, access_token: String, foci: Option<String>, extras: Extras) -> Value {
        let as_string = self.app.reg.expires_in_as_string;
        let secs = |n: u64| {
            if as_string {
                json!(n.to_string())
            } else {
                json!(n)
            }
        };
        let mut r = Map::new();
        r.insert("token_type".into(), json!("Bearer"));
        if let Some(s) = extras.scope {
            r.insert("scope".into(), json!(s));
        }
        r.insert("expires_in".into(), secs(self.lifetime));
        r.insert("ext_expires_in".into(), secs(self.lifetime));
        if let Some(refresh_in) = self.refresh_in {
            r.insert("refresh_in".into(), secs(refresh_in));
        }
        r.insert("access_token".into(), json!(access_token));
        if let Some(rt) = extras.refresh_token {
            r.insert("refresh_token".into(), json!(rt));
        }
        if let Some(id) = extras.id_token {
            r.insert("id_token".into(), json!(id));
        }
        if let Some(ci) = extras.client_info {
            r.insert("client_info".into(), json!(ci));
        }
        if let Some(f) = foci {
            r.insert("foci".into(), json!(f));
        }
        Value::Object(r)
    }
}

/// base64url(JSON {"uid", "utid"}), as Entra returns `client_info`.
pub(crate) fn client_info(oid: &str, tid: &str) -> String {
    b64url(json!({"uid": oid, "utid": tid}).to_string().as_bytes())
}

/// A stable per-audience subject, like Entra's pairwise `sub`.
fn pairwise_sub(oid: &str, audience: &str) -> String {
    let digest = hash(
        MessageDigest::sha256(),
        format!("{oid}|{audience}").as_bytes(),
    )
    .expect("sha256");
    b64url(&digest[..32])
}

/// Constant-time equality (lengths may leak, contents do not).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

fn unique_id() -> String {
    random_token(16)
}

/// `n` random bytes, base64url.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).expect("random bytes");
    b64url(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_scopes() {
        let s = parse_user_scopes("User.Read offline_access openid profile").unwrap();
        assert_eq!(s.resource, GRAPH);
        assert_eq!(s.scp, "User.Read");
        assert_eq!(s.granted, "User.Read openid profile");
        assert!(s.openid && s.offline_access);

        let s = parse_user_scopes("api://downstream/.default offline_access").unwrap();
        assert_eq!(s.resource, "api://downstream");
        assert_eq!(s.scp, "user_impersonation");
        assert_eq!(s.granted, "api://downstream/.default");
        assert!(!s.openid);

        assert!(parse_user_scopes("api://a/x api://b/y").is_err());
        assert!(parse_user_scopes("api://").is_err());
    }

    #[test]
    fn client_info_shape() {
        let ci = client_info("u", "t");
        let raw = tokens::b64url_decode(&ci).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&raw).unwrap(),
            json!({"uid": "u", "utid": "t"})
        );
    }
}
