//! The validated model of `msal.toml`: owned data, no secrets, spans for the macro.

use crate::authority::Authority;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::diagnostic::SourceSpan;

/// One validated app (`[apps.NAME]` after `[defaults]`, the active profile and
/// `MSAL_<APP>_<KEY>` overrides were applied).
///
/// ```
/// use msal_config::{Config, Grant};
/// use std::path::Path;
///
/// let cfg = Config::parse(Path::new("msal.toml"), r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", env = "DAEMON_SECRET" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#).unwrap();
/// let app = cfg.app("daemon").unwrap();
/// assert!(app.grants.contains(&Grant::ClientCredentials));
/// assert_eq!(app.span.line, 2);
/// assert!(app.scopes["graph"].is_default);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    /// The key of `[apps.NAME]` (a snake_case identifier).
    pub name: String,
    /// The application (client) id, a GUID. `None` for a managed identity (it has no
    /// app registration; a user-assigned identity is named inside the credential) and for
    /// `workload_identity` / `azure_environment` apps that take it from `AZURE_CLIENT_ID`
    /// at run time.
    pub client_id: Option<String>,
    /// Where tokens come from: `authority` or `oidc_authority` (of kind
    /// [`Oidc`](crate::authority::AuthorityKind::Oidc)), parsed by the shared model.
    /// `None` for a managed identity (the Azure host's identity endpoint issues its
    /// tokens) and for `workload_identity` / `azure_environment` apps that take it from
    /// `AZURE_AUTHORITY_HOST` + `AZURE_TENANT_ID` at run time.
    pub authority: Option<Authority>,
    /// How the app proves its identity (references only, never the secret).
    pub credential: CredentialSpec,
    /// Enabled grants (at least one).
    pub grants: BTreeSet<Grant>,
    /// Redirect URI, present exactly when `authorization_code` is enabled.
    pub redirect_uri: Option<String>,
    /// Named scope sets (at least one); names are snake_case identifiers.
    pub scopes: BTreeMap<String, ScopeSet>,
    /// What the app, as a web API, accepts in its callers' access tokens (`accepts`).
    pub accepts: Option<crate::accepts::Accepts>,
    /// Regional endpoint choice; `None` when not configured (the runtime may then
    /// honour `MSAL_FORCE_REGION` like MSAL Python).
    pub azure_region: Option<RegionSpec>,
    /// Where region discovery asks (default: the Azure IMDS address).
    pub imds_endpoint: Option<String>,
    /// Whether instance discovery runs for unknown hosts (default `true`).
    pub instance_discovery: bool,
    /// Whether the authority is validated (default `true`).
    pub validate_authority: bool,
    /// Per-request timeout in seconds (`1..=600`); `None` means the runtime's default.
    pub timeout_secs: Option<u64>,
    /// Extra CA certificates (PEM), resolved against the config file's directory.
    pub ca_bundle: Option<PathBuf>,
    /// HTTP(S)/SOCKS5 proxy URL.
    pub proxy: Option<String>,
    /// Sent as `x-app-name`.
    pub app_name: Option<String>,
    /// Sent as `x-app-ver`.
    pub app_version: Option<String>,
    /// Client capabilities (e.g. `cp1`), sent as the `xms_cc` claims request.
    pub client_capabilities: Vec<String>,
    /// Reserved scopes not to add (e.g. `offline_access`); never `openid`.
    pub exclude_scopes: Vec<String>,
    /// Token cache back-end (default: in memory).
    pub token_cache: CacheSpec,
    /// The app table in the file: the `[apps.NAME]` header, or the key of an inline table.
    pub span: SourceSpan,
    /// The app name's key in the file.
    pub name_span: SourceSpan,
}

impl AppConfig {
    /// `true` when the app has the given grant.
    ///
    /// ```
    /// # use msal_config::{Config, Grant};
    /// # let cfg = Config::parse(std::path::Path::new("m.toml"), r#"
    /// # [apps.d]
    /// # client_id = "00000000-0000-0000-0000-000000000001"
    /// # authority = "https://login.microsoftonline.com/contoso.com"
    /// # credential = { kind = "secret", env = "S" }
    /// # grants = ["client_credentials"]
    /// # scopes.g = ["https://graph.microsoft.com/.default"]
    /// # "#).unwrap();
    /// assert!(cfg.app("d").unwrap().has_grant(Grant::ClientCredentials));
    /// assert!(!cfg.app("d").unwrap().has_grant(Grant::OnBehalfOf));
    /// ```
    pub fn has_grant(&self, grant: Grant) -> bool {
        self.grants.contains(&grant)
    }

    /// Scope sets usable with `acquire_token_for_client` (the `.default` sets), empty
    /// when the app lacks the `client_credentials` grant.
    ///
    /// ```
    /// # use msal_config::Config;
    /// # let cfg = Config::parse(std::path::Path::new("m.toml"), r#"
    /// # [apps.d]
    /// # client_id = "00000000-0000-0000-0000-000000000001"
    /// # authority = "https://login.microsoftonline.com/contoso.com"
    /// # credential = { kind = "secret", env = "S" }
    /// # grants = ["client_credentials", "on_behalf_of"]
    /// # scopes.g = ["https://graph.microsoft.com/.default"]
    /// # scopes.mail = ["https://graph.microsoft.com/Mail.Read"]
    /// # "#).unwrap();
    /// let names: Vec<_> = cfg.app("d").unwrap().client_credential_sets().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["g"]);
    /// ```
    pub fn client_credential_sets(&self) -> impl Iterator<Item = (&str, &ScopeSet)> {
        let cc = self.has_grant(Grant::ClientCredentials);
        self.scopes
            .iter()
            .filter(move |(_, s)| cc && s.is_default)
            .map(|(n, s)| (n.as_str(), s))
    }

    /// Checks that this app (typically from a file read at run time) has the shape a
    /// program was generated for: exactly `grants`, and every set of `scope_sets`
    /// (`(name, is_default)`) with the same kind. The scopes *inside* a set may differ
    /// (a profile or another deployment's file may point a set at another resource),
    /// extra sets are ignored. The error is one line naming the app and the difference.
    ///
    /// ```
    /// # use msal_config::{Config, Grant};
    /// # let cfg = Config::parse(std::path::Path::new("m.toml"), r#"
    /// # [apps.d]
    /// # client_id = "00000000-0000-0000-0000-000000000001"
    /// # authority = "https://login.microsoftonline.com/contoso.com"
    /// # credential = { kind = "secret", env = "S" }
    /// # grants = ["client_credentials"]
    /// # scopes.g = ["https://graph.microsoft.com/.default"]
    /// # "#).unwrap();
    /// let app = cfg.app("d").unwrap();
    /// assert!(app.check_shape(&[Grant::ClientCredentials], &[("g", true)]).is_ok());
    /// let err = app.check_shape(&[Grant::OnBehalfOf], &[]).unwrap_err();
    /// assert!(err.contains("[client_credentials]") && err.contains("[on_behalf_of]"), "{err}");
    /// assert!(app.check_shape(&[Grant::ClientCredentials], &[("mail", false)]).is_err());
    /// assert!(app.check_shape(&[Grant::ClientCredentials], &[("g", false)]).is_err());
    /// ```
    pub fn check_shape(&self, grants: &[Grant], scope_sets: &[(&str, bool)]) -> Result<(), String> {
        let want: BTreeSet<Grant> = grants.iter().copied().collect();
        if want != self.grants {
            let list =
                |g: &BTreeSet<Grant>| g.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ");
            return Err(format!(
                "app `{}` enables grants [{}] but this program was compiled for [{}]",
                self.name,
                list(&self.grants),
                list(&want)
            ));
        }
        for &(name, is_default) in scope_sets {
            let kind = |d: bool| {
                if d {
                    "a `.default` set"
                } else {
                    "a set of named scopes"
                }
            };
            match self.scopes.get(name) {
                None => {
                    return Err(format!(
                        "app `{}` has no scope set `{name}`, which this program was compiled with",
                        self.name
                    ))
                }
                Some(s) if s.is_default != is_default => {
                    return Err(format!(
                        "app `{}`: scope set `{name}` is {} here but {} in the program's msal.toml",
                        self.name,
                        kind(s.is_default),
                        kind(is_default)
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// A grant the app may use. Each enables generated methods.
///
/// ```
/// use msal_config::Grant;
/// assert_eq!("on_behalf_of".parse::<Grant>(), Ok(Grant::OnBehalfOf));
/// assert_eq!(Grant::ClientCredentials.as_str(), "client_credentials");
/// assert!(Grant::AuthorizationCode.is_user_flow());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grant {
    /// `client_credentials`: app-only tokens (`acquire_token_for_client`).
    ClientCredentials,
    /// `authorization_code`: web sign-in (`initiate_auth_code_flow` & co.).
    AuthorizationCode,
    /// `on_behalf_of`: a web API calling downstream APIs for its caller.
    OnBehalfOf,
    /// `refresh_token`: silent renewal of user tokens (`acquire_token_silent`).
    RefreshToken,
}

impl Grant {
    /// All grants, in declaration order.
    pub const ALL: [Grant; 4] = [
        Grant::ClientCredentials,
        Grant::AuthorizationCode,
        Grant::OnBehalfOf,
        Grant::RefreshToken,
    ];

    /// The name used in `msal.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::AuthorizationCode => "authorization_code",
            Grant::OnBehalfOf => "on_behalf_of",
            Grant::RefreshToken => "refresh_token",
        }
    }

    /// `true` for grants that act for a user (everything but client credentials).
    pub const fn is_user_flow(self) -> bool {
        !matches!(self, Grant::ClientCredentials)
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Grant {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Grant::ALL.into_iter().find(|g| g.as_str() == s).ok_or(())
    }
}

/// Where a credential's material is read at run time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// From this environment variable.
    Env(String),
    /// From this file (resolved against the config file's directory).
    File(PathBuf),
}

/// How the app authenticates. Only references (variables, files) are kept: inline
/// secrets are rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSpec {
    /// `kind = "secret"`: a client secret.
    Secret(Source),
    /// `kind = "certificate"`: a private key signing a client assertion.
    Certificate {
        /// PEM private key (`private_key_file` or `private_key_env`).
        private_key: Source,
        /// PEM certificate(s) (`certificate_file` or `certificate_env`).
        certificate: Option<Source>,
        /// SHA-1 thumbprint (40 lower-case hex digits) when no certificate is given.
        thumbprint: Option<String>,
        /// Variable holding the private key's passphrase.
        passphrase_env: Option<String>,
        /// Send the certificate chain (`x5c`) for Subject Name/Issuer auth.
        send_x5c: bool,
    },
    /// `kind = "assertion"`: a pre-built client assertion (e.g. a federated token file),
    /// re-read on every request.
    Assertion(Source),
    /// `kind = "managed_identity"`: the identity Azure gives the host (VM, App Service,
    /// Functions, Arc, Service Fabric, Azure ML, Cloud Shell). No secret, no app
    /// registration, no authority; app tokens only.
    ManagedIdentity {
        /// A user-assigned identity (`client_id`, `object_id` or `resource_id`); `None`
        /// for the system-assigned identity.
        id: Option<ManagedIdentityId>,
        /// The token source, when pinned (`source = "..."`); `None`: detected from the
        /// environment on each request, in MSAL's order.
        source: Option<ManagedIdentitySourceKind>,
    },
    /// `kind = "workload_identity"`: workload identity federation (AKS and other
    /// Kubernetes): the token in `AZURE_FEDERATED_TOKEN_FILE` is the client assertion,
    /// re-read for each request on the wire. `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_AUTHORITY_HOST` supply `client_id` and `authority` when msal.toml omits them.
    WorkloadIdentity,
    /// `kind = "azure_environment"`: what the Azure SDKs' `EnvironmentCredential` reads:
    /// `AZURE_CLIENT_SECRET`, else `AZURE_CLIENT_CERTIFICATE_PATH` (+ `_PASSWORD`,
    /// `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`), else `AZURE_FEDERATED_TOKEN_FILE`; client id
    /// and authority as for [`WorkloadIdentity`](Self::WorkloadIdentity).
    AzureEnvironment,
}

/// A user-assigned managed identity, as msal.toml names it (checked for shape).
///
/// ```
/// use msal_config::ManagedIdentityId;
/// let id = ManagedIdentityId::ClientId("6f1c2d3e-0000-4000-8000-000000000002".into());
/// assert_eq!(id.key(), "client_id");
/// assert_eq!(id.value(), "6f1c2d3e-0000-4000-8000-000000000002");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ManagedIdentityId {
    /// `client_id = "<GUID>"`: the identity's client (application) id.
    ClientId(String),
    /// `object_id = "<GUID>"`: the identity's object (principal) id.
    ObjectId(String),
    /// `resource_id = "/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"`.
    ResourceId(String),
}

impl ManagedIdentityId {
    /// The msal.toml key (`client_id`, `object_id` or `resource_id`).
    pub fn key(&self) -> &'static str {
        match self {
            ManagedIdentityId::ClientId(_) => "client_id",
            ManagedIdentityId::ObjectId(_) => "object_id",
            ManagedIdentityId::ResourceId(_) => "resource_id",
        }
    }

    /// The id.
    pub fn value(&self) -> &str {
        match self {
            ManagedIdentityId::ClientId(v)
            | ManagedIdentityId::ObjectId(v)
            | ManagedIdentityId::ResourceId(v) => v,
        }
    }
}

/// A managed identity token source, as `source = "..."` pins it.
///
/// ```
/// use msal_config::ManagedIdentitySourceKind as S;
/// assert_eq!("app_service".parse::<S>(), Ok(S::AppService));
/// assert!(!S::ServiceFabric.supports_user_assigned());
/// assert!(S::Imds.supports_user_assigned());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManagedIdentitySourceKind {
    /// `imds`: the VM / VMSS instance metadata service.
    Imds,
    /// `app_service`: App Service, Functions, Container Apps, Automation.
    AppService,
    /// `machine_learning`: Azure Machine Learning compute.
    MachineLearning,
    /// `azure_arc`: an Azure Arc-enabled server.
    AzureArc,
    /// `service_fabric`: a Service Fabric application.
    ServiceFabric,
    /// `cloud_shell`: Azure Cloud Shell.
    CloudShell,
}

impl ManagedIdentitySourceKind {
    /// Every source, in MSAL's detection order (IMDS, the default, last).
    pub const ALL: [ManagedIdentitySourceKind; 6] = [
        ManagedIdentitySourceKind::ServiceFabric,
        ManagedIdentitySourceKind::AppService,
        ManagedIdentitySourceKind::MachineLearning,
        ManagedIdentitySourceKind::AzureArc,
        ManagedIdentitySourceKind::CloudShell,
        ManagedIdentitySourceKind::Imds,
    ];

    /// The name used in msal.toml.
    pub const fn as_str(self) -> &'static str {
        match self {
            ManagedIdentitySourceKind::Imds => "imds",
            ManagedIdentitySourceKind::AppService => "app_service",
            ManagedIdentitySourceKind::MachineLearning => "machine_learning",
            ManagedIdentitySourceKind::AzureArc => "azure_arc",
            ManagedIdentitySourceKind::ServiceFabric => "service_fabric",
            ManagedIdentitySourceKind::CloudShell => "cloud_shell",
        }
    }

    /// `false` for the sources that cannot select a user-assigned identity per request:
    /// Service Fabric (identities are bound in the cluster manifest) and Cloud Shell
    /// (only the signed-in user's identity).
    pub const fn supports_user_assigned(self) -> bool {
        !matches!(
            self,
            ManagedIdentitySourceKind::ServiceFabric | ManagedIdentitySourceKind::CloudShell
        )
    }
}

impl fmt::Display for ManagedIdentitySourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ManagedIdentitySourceKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

impl CredentialSpec {
    /// The `kind` name used in `msal.toml`.
    ///
    /// ```
    /// use msal_config::{CredentialSpec, Source};
    /// assert_eq!(CredentialSpec::Secret(Source::Env("S".into())).kind(), "secret");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialSpec::Secret(_) => "secret",
            CredentialSpec::Certificate { .. } => "certificate",
            CredentialSpec::Assertion(_) => "assertion",
            CredentialSpec::ManagedIdentity { .. } => "managed_identity",
            CredentialSpec::WorkloadIdentity => "workload_identity",
            CredentialSpec::AzureEnvironment => "azure_environment",
        }
    }

    /// `true` for `managed_identity`: no client id, no authority, app tokens only.
    ///
    /// ```
    /// use msal_config::CredentialSpec;
    /// assert!(CredentialSpec::ManagedIdentity { id: None, source: None }.is_managed_identity());
    /// assert!(!CredentialSpec::WorkloadIdentity.is_managed_identity());
    /// ```
    pub fn is_managed_identity(&self) -> bool {
        matches!(self, CredentialSpec::ManagedIdentity { .. })
    }

    /// `true` for the kinds whose client id and authority may come from the `AZURE_*`
    /// variables at run time (`workload_identity`, `azure_environment`).
    ///
    /// ```
    /// use msal_config::CredentialSpec;
    /// assert!(CredentialSpec::AzureEnvironment.reads_azure_environment());
    /// assert!(!CredentialSpec::ManagedIdentity { id: None, source: None }.reads_azure_environment());
    /// ```
    pub fn reads_azure_environment(&self) -> bool {
        matches!(
            self,
            CredentialSpec::WorkloadIdentity | CredentialSpec::AzureEnvironment
        )
    }
}

/// One named scope set (`scopes.NAME = [...]`). It becomes a typed accessor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeSet {
    /// The scopes, as written.
    pub scopes: Vec<String>,
    /// `true` for a `{resource}/.default` set (the only kind usable for app tokens).
    pub is_default: bool,
    /// The resource the set targets (e.g. `https://graph.microsoft.com`); bare scope
    /// names like `User.Read` target Microsoft Graph.
    pub resource: Option<String>,
    /// The array in the file.
    pub span: SourceSpan,
    /// The set's name in the file.
    pub name_span: SourceSpan,
}

/// `azure_region`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegionSpec {
    /// `"none"`: never use a regional endpoint (even if `MSAL_FORCE_REGION` is set).
    Disabled,
    /// `"auto"`: discover the region (env `REGION_NAME`, then IMDS).
    Auto,
    /// A named Azure region such as `eastus`.
    Named(String),
}

/// Where tokens are cached.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CacheSpec {
    /// In process memory (default).
    #[default]
    Memory,
    /// A JSON file in the MSAL unified cache format (resolved against the config's directory).
    File {
        /// The cache file.
        path: PathBuf,
    },
    /// Redis, shared by a fleet of instances.
    Redis {
        /// The connection URL (`redis://` or `rediss://`), or the variable holding it.
        url: RedisUrl,
        /// Prefix of every key (default `msal:`).
        key_prefix: String,
    },
}

/// The Redis connection URL of a [`CacheSpec::Redis`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RedisUrl {
    /// Read from this environment variable at run time.
    Env(String),
    /// Written in the file (never with a password).
    Literal(String),
}
