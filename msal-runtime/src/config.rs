//! Applications built from `msal.toml`: the run-time side of `#[msal_app]` and of the
//! `msal` command.
//!
//! The file is parsed and checked by [`msal_config`] (the same rules the macro enforces at
//! compile time); this module turns one validated [`AppConfig`] into a
//! [`ConfidentialClientApplicationBuilder`], reading credential material (secrets,
//! keys, certificates, assertions) from the environment variables and files the
//! config names. Nothing secret is ever in the config itself.
//!
//! ```no_run
//! use msal_runtime::config;
//!
//! # async fn run() -> msal_runtime::Result<()> {
//! let app = config::load(std::path::Path::new("msal.toml"), "orders_daemon")?;
//! let token = app.acquire_token_for_client(&["https://graph.microsoft.com/.default"]).await?;
//! # let _ = token; Ok(()) }
//! ```

use crate::app::{ConfidentialClientApplication, ConfidentialClientApplicationBuilder};
use crate::authority::Region;
use crate::cache::TokenCache;
use crate::credential::{AzureEnvironment, Certificate, ClientCredential};
use crate::error::{Error, Result};
use crate::grant::ForClientOptions;
use crate::http::Verify;
use crate::managed_identity::{
    EnvLookup, ManagedIdentity, ManagedIdentityClient, ManagedIdentityClientBuilder,
    ManagedIdentitySource, ManagedIdentityTokenOptions,
};
use crate::result::AuthenticationResult;
use msal_config::{
    AppConfig, CacheSpec, Config, CredentialSpec, Diagnostics, ManagedIdentityId,
    ManagedIdentitySourceKind, RedisUrl, RegionSpec, Source,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `msal.toml` model this module builds from; generated code and the `msal` command
/// reach it here. Not part of this crate's documented API.
#[doc(hidden)]
pub use msal_config;

/// Reads and checks `path` with the run-time overlays of the process environment
/// (`MSAL_PROFILE`, `MSAL_<APP>_<KEY>`), then builds app `name`.
///
/// Every problem of the file is reported at once in [`Error::ConfigFile`], rendered as
/// `PATH:LINE:COL: error: ...`.
///
/// ```no_run
/// let app = msal_runtime::config::load(std::path::Path::new("msal.toml"), "orders_daemon")?;
/// # Ok::<(), msal_runtime::Error>(())
/// ```
pub fn load(path: &Path, name: &str) -> Result<ConfidentialClientApplication> {
    let app = load_app(path, name)?;
    builder(&app, &process_env)?.build()
}

/// Like [`load`], for any kind of app: a managed identity app becomes a
/// [`ManagedIdentityClient`] (reading the process environment on each request), every
/// other app a [`ConfidentialClientApplication`].
///
/// ```no_run
/// # async fn run() -> msal_runtime::Result<()> {
/// let client = msal_runtime::config::load_client(std::path::Path::new("msal.toml"), "billing_job")?;
/// let token = client.acquire_token_for_client(&["https://vault.azure.net/.default"]).await?;
/// # let _ = token; Ok(()) }
/// ```
pub fn load_client(path: &Path, name: &str) -> Result<ConfiguredClient> {
    let app = load_app(path, name)?;
    client(&app, &process_env, EnvLookup::process())
}

fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn load_app(path: &Path, name: &str) -> Result<AppConfig> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| Error::ConfigFile(format!("cannot read {}: {e}", path.display())))?;
    resolve_app(path, &source, name, &process_env)
}

/// The client an app of msal.toml is built into: a confidential client application, or
/// (for `credential = { kind = "managed_identity" }`) a managed identity client.
#[derive(Clone, Debug)]
pub enum ConfiguredClient {
    /// A confidential client (secret, certificate, assertion, workload identity, `AZURE_*`).
    Confidential(ConfidentialClientApplication),
    /// A managed identity.
    ManagedIdentity(ManagedIdentityClient),
}

impl ConfiguredClient {
    /// An app-only token for `{resource}/.default` scopes; a managed identity asks for the
    /// resource (the scope without `/.default`, as MSAL does).
    pub async fn acquire_token_for_client<S: AsRef<str>>(
        &self,
        scopes: &[S],
    ) -> Result<AuthenticationResult> {
        self.acquire_token_for_client_with(scopes, ForClientOptions::default())
            .await
    }

    /// [`acquire_token_for_client`](Self::acquire_token_for_client) with a claims challenge.
    pub async fn acquire_token_for_client_with<S: AsRef<str>>(
        &self,
        scopes: &[S],
        options: ForClientOptions,
    ) -> Result<AuthenticationResult> {
        match self {
            ConfiguredClient::Confidential(app) => {
                app.acquire_token_for_client_with(scopes, options).await
            }
            ConfiguredClient::ManagedIdentity(mi) => {
                let resource = resource_of(scopes)?;
                let mut o = ManagedIdentityTokenOptions::new();
                if let Some(c) = options.claims_challenge {
                    o = o.claims_challenge(c);
                }
                mi.acquire_token_for_client_with(&resource, o).await
            }
        }
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        match self {
            ConfiguredClient::Confidential(app) => app.token_cache(),
            ConfiguredClient::ManagedIdentity(mi) => mi.token_cache(),
        }
    }
}

/// The resource of a managed identity request: the one scope of a `.default` set without
/// `/.default` (`https://vault.azure.net/.default` -> `https://vault.azure.net`), as MSAL
/// turns scopes into a resource.
///
/// ```
/// use msal_runtime::config::resource_of;
/// assert_eq!(resource_of(&["https://vault.azure.net/.default"]).unwrap(), "https://vault.azure.net");
/// assert_eq!(resource_of(&["api://6f1c2d3e-0000-4000-8000-0000000000c3/.default"]).unwrap(), "api://6f1c2d3e-0000-4000-8000-0000000000c3");
/// assert!(resource_of(&["User.Read"]).is_err());
/// assert!(resource_of(&["https://a/.default", "https://b/.default"]).is_err());
/// ```
pub fn resource_of<S: AsRef<str>>(scopes: &[S]) -> Result<String> {
    match scopes {
        [one] => one
            .as_ref()
            .trim()
            .strip_suffix("/.default")
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "a managed identity token is for a resource: `{}` is not a `{{resource}}/.default` scope",
                    one.as_ref()
                ))
            }),
        _ => Err(Error::InvalidInput(format!(
            "a managed identity token is for one resource: pass one `{{resource}}/.default` scope, not {}",
            scopes.len()
        ))),
    }
}

/// The client `app` describes: [`builder`] or [`managed_identity_builder`], built. `env`
/// supplies variables to the config's references; `mi_env` is where a managed identity
/// detects its source and reads the source's variables (on each request).
///
/// ```
/// use msal_runtime::{config, EnvLookup};
/// let src = r#"
/// [apps.billing_job]
/// credential = { kind = "managed_identity", client_id = "6f1c2d3e-0000-4000-8000-000000000002" }
/// scopes.vault = ["https://vault.azure.net/.default"]
/// "#;
/// let app = config::resolve_app("msal.toml".as_ref(), src, "billing_job", &|_| None).unwrap();
/// let client = config::client(&app, &|_| None, EnvLookup::from_pairs([("IDENTITY_ENDPOINT", "http://127.0.0.1:1/token"), ("IDENTITY_HEADER", "h")])).unwrap();
/// assert!(matches!(client, config::ConfiguredClient::ManagedIdentity(_)));
/// ```
pub fn client(
    app: &AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
    mi_env: EnvLookup,
) -> Result<ConfiguredClient> {
    if app.credential.is_managed_identity() {
        Ok(ConfiguredClient::ManagedIdentity(
            managed_identity_builder(app, env, mi_env)?.build()?,
        ))
    } else {
        Ok(ConfiguredClient::Confidential(builder(app, env)?.build()?))
    }
}

/// The identity a `managed_identity` credential names, `None` for other credentials.
///
/// ```
/// use msal_config::{CredentialSpec, ManagedIdentityId};
/// use msal_runtime::{config, ManagedIdentity};
/// let spec = CredentialSpec::ManagedIdentity { id: Some(ManagedIdentityId::ObjectId("x".into())), source: None };
/// assert_eq!(config::managed_identity(&spec), Some(ManagedIdentity::user_assigned_object_id("x")));
/// ```
pub fn managed_identity(credential: &CredentialSpec) -> Option<ManagedIdentity> {
    let CredentialSpec::ManagedIdentity { id, .. } = credential else {
        return None;
    };
    Some(match id {
        None => ManagedIdentity::system_assigned(),
        Some(ManagedIdentityId::ClientId(v)) => ManagedIdentity::user_assigned_client_id(v),
        Some(ManagedIdentityId::ObjectId(v)) => ManagedIdentity::user_assigned_object_id(v),
        Some(ManagedIdentityId::ResourceId(v)) => ManagedIdentity::user_assigned_resource_id(v),
    })
}

/// The runtime's name of a source msal.toml pins.
fn source_of(kind: ManagedIdentitySourceKind) -> ManagedIdentitySource {
    match kind {
        ManagedIdentitySourceKind::Imds => ManagedIdentitySource::DefaultToVm,
        ManagedIdentitySourceKind::AppService => ManagedIdentitySource::AppService,
        ManagedIdentitySourceKind::MachineLearning => ManagedIdentitySource::MachineLearning,
        ManagedIdentitySourceKind::AzureArc => ManagedIdentitySource::AzureArc,
        ManagedIdentitySourceKind::ServiceFabric => ManagedIdentitySource::ServiceFabric,
        ManagedIdentitySourceKind::CloudShell => ManagedIdentitySource::CloudShell,
    }
}

/// A [`ManagedIdentityClientBuilder`] for a `managed_identity` app: its identity, pinned
/// source, cache back-end, timeout, client capabilities, and `imds_endpoint` (its origin is
/// the IMDS host, like `AZURE_POD_IDENTITY_AUTHORITY_HOST`). `mi_env` is where the client
/// detects its source on each request.
///
/// ```
/// use msal_runtime::{config, EnvLookup, ManagedIdentitySource};
/// let src = r#"
/// [apps.billing_job]
/// credential = { kind = "managed_identity", source = "app_service" }
/// scopes.vault = ["https://vault.azure.net/.default"]
/// timeout_secs = 5
/// "#;
/// let app = config::resolve_app("msal.toml".as_ref(), src, "billing_job", &|_| None).unwrap();
/// let mi = config::managed_identity_builder(&app, &|_| None, EnvLookup::process()).unwrap().build().unwrap();
/// assert_eq!(mi.get_managed_identity_source(), ManagedIdentitySource::AppService);
/// ```
pub fn managed_identity_builder(
    app: &AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
    mi_env: EnvLookup,
) -> Result<ManagedIdentityClientBuilder> {
    let (identity, pinned) = match (&app.credential, managed_identity(&app.credential)) {
        (CredentialSpec::ManagedIdentity { source, .. }, Some(identity)) => (identity, *source),
        _ => {
            return Err(Error::ConfigFile(format!(
                "app `{}` does not use a managed identity (credential kind `{}`)",
                app.name,
                app.credential.kind()
            )))
        }
    };
    let mut b = ManagedIdentityClient::builder(identity)
        .env(mi_env)
        .token_cache(token_cache(app, env)?);
    if let Some(src) = pinned.map(source_of) {
        b = b.source(src);
    }
    if let Some(secs) = app.timeout_secs {
        b = b.timeout(Duration::from_secs(secs));
    }
    if !app.client_capabilities.is_empty() {
        b = b.client_capabilities(app.client_capabilities.iter().cloned());
    }
    if let Some(url) = &app.imds_endpoint {
        let origin = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .map_err(|e| Error::config("imds_endpoint", format!("`{url}`: {e}")))?;
        b = b.imds_endpoint(origin);
    }
    Ok(b)
}

/// The `AZURE_*` variables of the Azure SDKs' `EnvironmentCredential` and workload identity.
const AZURE_VARS: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
];

/// Client id, authority and credential of a `workload_identity` / `azure_environment` app:
/// what msal.toml pins wins, the rest comes from the `AZURE_*` variables.
fn from_azure_environment(
    app: &AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String, ClientCredential)> {
    let mut vars: Vec<(String, String)> = AZURE_VARS
        .iter()
        .filter_map(|k| env(k).map(|v| (k.to_string(), v)))
        .collect();
    let mut set = |k: &str, v: String| {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v));
    };
    // The file's values stand in for the variables they replace.
    if let Some(id) = &app.client_id {
        set("AZURE_CLIENT_ID", id.clone());
    }
    if let Some(a) = &app.authority {
        set("AZURE_TENANT_ID", a.tenant().to_string());
    }
    let lookup = EnvLookup::from_pairs(vars);
    let found = match &app.credential {
        CredentialSpec::WorkloadIdentity => AzureEnvironment::workload_identity(&lookup),
        _ => AzureEnvironment::from_env(&lookup),
    }
    .map_err(|e| Error::credential(format!("app `{}`: {e}", app.name)))?;
    let authority = match &app.authority {
        Some(a) => a.as_str().to_string(),
        None => found.authority(),
    };
    Ok((found.client_id.clone(), authority, found.credential))
}

/// Parses `source` (named `path` in diagnostics, and the base of its relative paths),
/// applies the run-time overlays looked up through `env`, and returns app `name`.
///
/// ```
/// use msal_runtime::config;
/// let src = r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", env = "DAEMON_SECRET" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#;
/// let env = |k: &str| (k == "MSAL_DAEMON_TIMEOUT_SECS").then(|| "7".to_string());
/// let app = config::resolve_app("msal.toml".as_ref(), src, "daemon", &env).unwrap();
/// assert_eq!(app.timeout_secs, Some(7));
/// assert!(config::resolve_app("msal.toml".as_ref(), src, "deamon", &env).is_err());
/// ```
pub fn resolve_app(
    path: &Path,
    source: &str,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppConfig> {
    let cfg = Config::resolve(path, source, None, env)
        .map_err(|d| Error::ConfigFile(d.render(path, source)))?;
    let app = cfg
        .app(name)
        .map_err(|d| Error::ConfigFile(Diagnostics(vec![d]).render(path, source)))?;
    Ok(app.clone())
}

/// The variable naming the directory that relative paths of a compiled-in msal.toml
/// resolve against at run time (see [`resolve_embedded`]).
pub const CONFIG_DIR_VAR: &str = "MSAL_CONFIG_DIR";

/// The directory relative paths (`private_key_file`, `file`, `ca_bundle`, a file cache's
/// `path`) of a compiled-in msal.toml resolve against at run time: `MSAL_CONFIG_DIR` when
/// set (through `env`), else the working directory. Never the directory the program was
/// built in: a binary built in CI runs anywhere.
///
/// ```
/// use msal_runtime::config;
/// let env = |k: &str| (k == "MSAL_CONFIG_DIR").then(|| "/etc/orders".to_string());
/// assert_eq!(config::run_time_base(&env).unwrap(), std::path::Path::new("/etc/orders"));
/// assert_eq!(config::run_time_base(&|_| None).unwrap(), std::env::current_dir().unwrap());
/// ```
pub fn run_time_base(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let cwd = || {
        std::env::current_dir().map_err(|e| {
            Error::ConfigFile(format!(
                "cannot resolve the relative paths of msal.toml: the working directory is unreadable ({e}); set {CONFIG_DIR_VAR}"
            ))
        })
    };
    match env(CONFIG_DIR_VAR).filter(|d| !d.trim().is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            Ok(if dir.is_absolute() {
                dir
            } else {
                cwd()?.join(dir)
            })
        }
        None => cwd(),
    }
}

/// Resolves app `name` of msal.toml text compiled into the program (what `#[msal_app]`
/// embeds): the run-time overlays come through `env`, relative paths resolve against
/// [`run_time_base`], and diagnostics name `display` (the file as the program's source
/// refers to it).
///
/// ```
/// use msal_config::Source;
/// use msal_runtime::config;
/// let src = r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", file = "secrets/daemon.txt" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#;
/// let env = |k: &str| (k == "MSAL_CONFIG_DIR").then(|| "/run/orders".to_string());
/// let app = config::resolve_embedded("msal.toml", src, "daemon", &env).unwrap();
/// let msal_config::CredentialSpec::Secret(Source::File(p)) = &app.credential else { unreachable!() };
/// assert_eq!(p, std::path::Path::new("/run/orders/secrets/daemon.txt"));
/// ```
pub fn resolve_embedded(
    display: &str,
    source: &str,
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppConfig> {
    let file_name = Path::new(display)
        .file_name()
        .map_or_else(|| PathBuf::from("msal.toml"), PathBuf::from);
    let base = run_time_base(env)?;
    let shown = Path::new(display);
    let cfg = Config::resolve(&base.join(file_name), source, None, env)
        .map_err(|d| Error::ConfigFile(d.render(shown, source)))?;
    let app = cfg
        .app(name)
        .map_err(|d| Error::ConfigFile(Diagnostics(vec![d]).render(shown, source)))?;
    Ok(app.clone())
}

/// `true` when a run-time overlay applies to app `name`: `MSAL_PROFILE` or one of its
/// `MSAL_<APP>_<KEY>` overrides is set (non-blank) in `env`. Without one, the app is
/// exactly what `#[msal_app]` validated at compile time, and generated code uses that
/// compiled model ([`rebase_embedded`]) instead of parsing the embedded file again.
///
/// ```
/// use msal_runtime::config;
/// assert!(!config::overlay_applies("daemon", &|_| None));
/// let env = |k: &str| (k == "MSAL_DAEMON_TIMEOUT_SECS").then(|| "5".to_string());
/// assert!(config::overlay_applies("daemon", &env));
/// assert!(!config::overlay_applies("other", &env));
/// let env = |k: &str| (k == "MSAL_PROFILE").then(|| "prod".to_string());
/// assert!(config::overlay_applies("daemon", &env));
/// let blank = |k: &str| (k == "MSAL_PROFILE").then(|| " ".to_string());
/// assert!(!config::overlay_applies("daemon", &blank));
/// ```
pub fn overlay_applies(name: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |var: &str| env(var).is_some_and(|v| !v.trim().is_empty());
    set(msal_config::PROFILE_VAR)
        || msal_config::ENV_OVERRIDABLE_KEYS
            .iter()
            .any(|key| set(&msal_config::env_override_name(name, key)))
}

/// An app model compiled into the program (what `#[msal_app]` validated, its relative
/// paths as written) made ready for use: relative paths (credential files, `ca_bundle`,
/// a file cache's `path`) resolve against [`run_time_base`], exactly as
/// [`resolve_embedded`] resolves them; absolute paths are kept.
///
/// ```
/// use msal_config::{CredentialSpec, Source};
/// use msal_runtime::config;
/// let src = r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", file = "secrets/daemon.txt" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#;
/// // Parsed without a directory, relative paths stay as written.
/// let cfg = msal_config::Config::parse("msal.toml".as_ref(), src).unwrap();
/// let compiled = cfg.app("daemon").unwrap().clone();
/// let env = |k: &str| (k == "MSAL_CONFIG_DIR").then(|| "/run/orders".to_string());
/// let app = config::rebase_embedded(compiled, &env).unwrap();
/// assert_eq!(app, config::resolve_embedded("msal.toml", src, "daemon", &env).unwrap());
/// let CredentialSpec::Secret(Source::File(p)) = &app.credential else { unreachable!() };
/// assert_eq!(p, std::path::Path::new("/run/orders/secrets/daemon.txt"));
/// ```
pub fn rebase_embedded(
    mut app: AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AppConfig> {
    let mut base: Option<PathBuf> = None;
    let mut fix = |p: &mut PathBuf| -> Result<()> {
        if p.is_relative() {
            let dir = match &base {
                Some(dir) => dir,
                None => base.insert(run_time_base(env)?),
            };
            *p = msal_config::resolve_relative(dir, p);
        }
        Ok(())
    };
    let mut fix_source = |s: &mut Source| match s {
        Source::File(p) => fix(p),
        Source::Env(_) => Ok(()),
    };
    match &mut app.credential {
        CredentialSpec::Secret(s) | CredentialSpec::Assertion(s) => fix_source(s)?,
        CredentialSpec::Certificate {
            private_key,
            certificate,
            ..
        } => {
            fix_source(private_key)?;
            if let Some(c) = certificate {
                fix_source(c)?;
            }
        }
        CredentialSpec::ManagedIdentity { .. }
        | CredentialSpec::WorkloadIdentity
        | CredentialSpec::AzureEnvironment => {}
    }
    if let Some(p) = &mut app.ca_bundle {
        fix(p)?;
    }
    if let CacheSpec::File { path } = &mut app.token_cache {
        fix(path)?;
    }
    Ok(app)
}

/// A builder for `app` with everything the config says: authority, credential (read
/// now through `env` and the files it names), cache back-end, region, discovery and
/// HTTP options. Callers may still change any option before `build()`.
///
/// ```
/// use msal_runtime::config;
/// let src = r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", env = "DAEMON_SECRET" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#;
/// let no_env = |_: &str| None;
/// let app = config::resolve_app("msal.toml".as_ref(), src, "daemon", &no_env).unwrap();
/// // The secret's variable is unset: the error names it.
/// let err = config::builder(&app, &no_env).unwrap_err();
/// assert!(err.to_string().contains("DAEMON_SECRET"));
///
/// let env = |k: &str| (k == "DAEMON_SECRET").then(|| "s3cret".to_string());
/// let client = config::builder(&app, &env).unwrap().build().unwrap();
/// assert_eq!(client.client_id(), "00000000-0000-0000-0000-000000000001");
/// ```
pub fn builder(
    app: &AppConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfidentialClientApplicationBuilder> {
    let mut b = match (&app.credential, &app.client_id, &app.authority) {
        (CredentialSpec::ManagedIdentity { .. }, _, _) => {
            return Err(Error::ConfigFile(format!(
                "app `{}` uses a managed identity: build it with config::managed_identity_builder (or config::client)",
                app.name
            )))
        }
        (CredentialSpec::WorkloadIdentity | CredentialSpec::AzureEnvironment, _, _) => {
            let (client_id, authority, credential) = from_azure_environment(app, env)?;
            ConfidentialClientApplication::builder(client_id)
                .authority(authority)
                .client_credential(credential)
        }
        // The config loader parsed it with the same model the builder uses: no second parse.
        (_, Some(client_id), Some(authority)) => {
            ConfidentialClientApplication::builder(client_id.clone())
                .authority(authority)
                .client_credential(credential(app, env)?)
        }
        _ => {
            return Err(Error::ConfigFile(format!(
                "app `{}` has no client_id or authority",
                app.name
            )))
        }
    };
    b = b
        .token_cache(token_cache(app, env)?)
        .instance_discovery(app.instance_discovery)
        .validate_authority(app.validate_authority)
        .azure_region(match &app.azure_region {
            None => Region::FromEnvironment,
            Some(RegionSpec::Disabled) => Region::Disabled,
            Some(RegionSpec::Auto) => Region::Discover,
            Some(RegionSpec::Named(n)) => Region::named(n.clone())?,
        });
    if let Some(url) = &app.imds_endpoint {
        b = b.imds_endpoint(url.clone());
    }
    if let Some(secs) = app.timeout_secs {
        b = b.timeout(Duration::from_secs(secs));
    }
    if let Some(path) = &app.ca_bundle {
        b = b.verify(Verify::CaBundle(path.clone()));
    }
    if let Some(proxy) = &app.proxy {
        b = b.proxies(proxy.clone());
    }
    if let Some(name) = &app.app_name {
        b = b.app_name(name.clone());
    }
    if let Some(version) = &app.app_version {
        b = b.app_version(version.clone());
    }
    if !app.client_capabilities.is_empty() {
        b = b.client_capabilities(app.client_capabilities.iter().cloned());
    }
    if !app.exclude_scopes.is_empty() {
        b = b.exclude_scopes(app.exclude_scopes.iter().cloned());
    }
    Ok(b)
}

/// The credential `app` names, with its material read now (an assertion is re-read on
/// every request, so a rotated federated token file is picked up).
fn credential(app: &AppConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<ClientCredential> {
    let who = &app.name;
    match &app.credential {
        CredentialSpec::Secret(src) => {
            let secret = read_text(src, "client secret", who, env)?;
            Ok(ClientCredential::secret(
                secret.trim_end_matches(['\r', '\n']),
            ))
        }
        CredentialSpec::Certificate {
            private_key,
            certificate,
            thumbprint,
            passphrase_env,
            send_x5c,
        } => {
            let key = read_bytes(private_key, "private key", who, env)?;
            let passphrase = match passphrase_env {
                Some(var) => Some(env(var).ok_or_else(|| {
                    Error::credential(format!(
                        "app `{who}`: the private key passphrase variable `{var}` is not set"
                    ))
                })?),
                None => None,
            };
            let cert = match (certificate, thumbprint) {
                (Some(src), _) => {
                    let pem = read_bytes(src, "certificate", who, env)?;
                    Certificate::from_pem(&key, &pem, passphrase.as_deref())
                }
                (None, Some(tp)) => {
                    Certificate::from_pem_with_thumbprint(&key, tp, passphrase.as_deref())
                }
                // msal-config requires one of them; a key PEM may still carry its certificate.
                (None, None) => Certificate::from_pem(&key, &key, passphrase.as_deref()),
            }
            .map_err(|e| match e {
                Error::Credential { message, source } => Error::Credential {
                    message: format!("app `{who}`: {message}"),
                    source,
                },
                other => other,
            })?;
            Ok(if *send_x5c {
                ClientCredential::certificate_with_x5c(cert)
            } else {
                ClientCredential::certificate(cert)
            })
        }
        CredentialSpec::ManagedIdentity { .. }
        | CredentialSpec::WorkloadIdentity
        | CredentialSpec::AzureEnvironment => Err(Error::ConfigFile(format!(
            "app `{who}`: a `{}` credential is not read from msal.toml references",
            app.credential.kind()
        ))),
        CredentialSpec::Assertion(src) => {
            // Fail now if it is missing, then re-read on each request.
            read_text(src, "client assertion", who, env)?;
            let src = src.clone();
            let who = who.clone();
            Ok(ClientCredential::assertion_callback(move |_ctx| {
                let env = |k: &str| std::env::var(k).ok();
                Ok(read_text(&src, "client assertion", &who, &env)?
                    .trim()
                    .to_string())
            }))
        }
    }
}

/// The token cache back-end `app` names (`token_cache`): in memory, a locked file, or
/// Redis (its URL read through `env` when the config names a variable). No credential is
/// needed, so tools can inspect a cache without the app's secret.
///
/// ```
/// use msal_runtime::config;
/// let src = r#"
/// [apps.daemon]
/// client_id  = "00000000-0000-0000-0000-000000000001"
/// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
/// credential = { kind = "secret", env = "S" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
/// "#;
/// let app = config::resolve_app("msal.toml".as_ref(), src, "daemon", &|_| None).unwrap();
/// let cache = config::token_cache(&app, &|_| None).unwrap();
/// assert!(cache.access_tokens().is_empty());
/// ```
pub fn token_cache(app: &AppConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<TokenCache> {
    match &app.token_cache {
        CacheSpec::Memory => Ok(TokenCache::new()),
        CacheSpec::File { path } => TokenCache::file(path.clone()),
        #[cfg(feature = "redis")]
        CacheSpec::Redis { url, key_prefix } => {
            let url = match url {
                RedisUrl::Literal(u) => u.clone(),
                RedisUrl::Env(var) => env(var).ok_or_else(|| {
                    Error::cache(format!(
                        "app `{}`: the Redis URL variable `{var}` is not set",
                        app.name
                    ))
                })?,
            };
            TokenCache::redis(&url, key_prefix)
        }
        #[cfg(not(feature = "redis"))]
        CacheSpec::Redis { .. } => {
            let _ = (env, RedisUrl::Literal(String::new()));
            Err(Error::cache(format!(
                "app `{}` asks for a Redis cache, but msal was built without the `redis` feature",
                app.name
            )))
        }
    }
}

fn read_text(
    src: &Source,
    what: &str,
    who: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let bytes = read_bytes(src, what, who, env)?;
    String::from_utf8(bytes)
        .map_err(|_| Error::credential(format!("app `{who}`: the {what} is not UTF-8 text")))
}

fn read_bytes(
    src: &Source,
    what: &str,
    who: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>> {
    let bytes = match src {
        Source::Env(var) => env(var).map(String::into_bytes).ok_or_else(|| {
            Error::credential(format!(
                "app `{who}`: the {what} variable `{var}` is not set"
            ))
        })?,
        // The error names the file, never its content.
        Source::File(path) => std::fs::read(path).map_err(|e| {
            Error::credential(format!(
                "app `{who}`: cannot read the {what} file {}: {e}",
                path.display()
            ))
        })?,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::credential(format!(
            "app `{who}`: the {what} ({}) is empty",
            describe(src)
        )));
    }
    Ok(bytes)
}

fn describe(src: &Source) -> String {
    match src {
        Source::Env(v) => format!("variable `{v}`"),
        Source::File(p) => format!("file {}", p.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
[defaults]
authority = "https://login.microsoftonline.com/contoso.onmicrosoft.com"

[apps.daemon]
client_id  = "00000000-0000-0000-0000-000000000001"
credential = { kind = "secret", env = "DAEMON_SECRET" }
grants     = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
azure_region = "westus2"
timeout_secs = 9
app_name = "orders"
client_capabilities = ["cp1"]

[apps.federated]
client_id  = "00000000-0000-0000-0000-000000000002"
credential = { kind = "assertion", file = "token.jwt" }
grants     = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
"#;

    fn env(k: &str) -> Option<String> {
        (k == "DAEMON_SECRET").then(|| "s3cret\n".to_string())
    }

    #[test]
    fn secret_from_env_and_options_applied() {
        let app = resolve_app(Path::new("/srv/msal.toml"), SRC, "daemon", &env).unwrap();
        let client = builder(&app, &env).unwrap().build().unwrap();
        assert_eq!(client.client_id(), "00000000-0000-0000-0000-000000000001");
        let dbg = format!("{client:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[test]
    fn unknown_app_is_a_rendered_diagnostic() {
        let err = resolve_app(Path::new("msal.toml"), SRC, "deamon", &env).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("msal.toml:"), "{msg}");
        assert!(msg.contains("did you mean `daemon`"), "{msg}");
    }

    #[test]
    fn missing_assertion_file_names_the_file() {
        let app = resolve_app(Path::new("/nonexistent/msal.toml"), SRC, "federated", &env).unwrap();
        let err = builder(&app, &env).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/token.jwt"), "{err}");
    }

    #[test]
    fn assertion_file_is_reread_per_request() {
        let dir = std::env::temp_dir().join(format!("msal-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token.jwt"), "first\n").unwrap();
        let app = resolve_app(&dir.join("msal.toml"), SRC, "federated", &env).unwrap();
        let ClientCredential::AssertionCallback(cb) = credential(&app, &env).unwrap() else {
            panic!("an assertion is read through a callback");
        };
        let ctx = crate::credential::AssertionContext {
            client_id: app.client_id.clone().unwrap(),
            token_endpoint: "https://x/token".into(),
        };
        assert_eq!(cb(&ctx).unwrap(), "first");
        std::fs::write(dir.join("token.jwt"), "second").unwrap();
        assert_eq!(cb(&ctx).unwrap(), "second");
        std::fs::remove_dir_all(dir).ok();
    }
}

#[cfg(test)]
mod relocation_tests {
    use super::*;

    const SRC: &str = r#"
[apps.daemon]
client_id  = "00000000-0000-0000-0000-000000000001"
authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
credential = { kind = "certificate", private_key_file = "certs/d.key", certificate_file = "/abs/d.crt" }
grants     = ["client_credentials"]
scopes.graph = ["https://graph.microsoft.com/.default"]
token_cache = { kind = "file", path = "cache/tokens.json" }
ca_bundle = "ca.pem"
"#;

    fn paths(app: &AppConfig) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
        let CredentialSpec::Certificate {
            private_key: Source::File(key),
            certificate: Some(Source::File(cert)),
            ..
        } = &app.credential
        else {
            panic!("{:?}", app.credential)
        };
        let CacheSpec::File { path } = &app.token_cache else {
            panic!("{:?}", app.token_cache)
        };
        (
            key.clone(),
            cert.clone(),
            path.clone(),
            app.ca_bundle.clone().unwrap(),
        )
    }

    #[test]
    fn embedded_relative_paths_follow_msal_config_dir_then_the_working_directory() {
        let env = |k: &str| (k == CONFIG_DIR_VAR).then(|| "/srv/deploy".to_string());
        let app = resolve_embedded("/build/tree/examples/msal.toml", SRC, "daemon", &env).unwrap();
        let (key, cert, cache, ca) = paths(&app);
        assert_eq!(key, Path::new("/srv/deploy/certs/d.key"));
        assert_eq!(cert, Path::new("/abs/d.crt"), "absolute paths stay");
        assert_eq!(cache, Path::new("/srv/deploy/cache/tokens.json"));
        assert_eq!(ca, Path::new("/srv/deploy/ca.pem"));

        let cwd = std::env::current_dir().unwrap();
        let app =
            resolve_embedded("/build/tree/examples/msal.toml", SRC, "daemon", &|_| None).unwrap();
        let (key, _, cache, _) = paths(&app);
        assert_eq!(key, cwd.join("certs/d.key"));
        assert_eq!(cache, cwd.join("cache/tokens.json"));
        // A relative MSAL_CONFIG_DIR is taken from the working directory.
        let rel = |k: &str| (k == CONFIG_DIR_VAR).then(|| "conf".to_string());
        let app = resolve_embedded("msal.toml", SRC, "daemon", &rel).unwrap();
        assert_eq!(paths(&app).0, cwd.join("conf/certs/d.key"));
        // Nothing under the build tree.
        assert!(!format!("{app:?}").contains("/build/tree"));
    }

    #[test]
    fn embedded_diagnostics_name_the_file_as_written() {
        let err = resolve_embedded("examples/msal.toml", SRC, "deamon", &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("examples/msal.toml:"), "{err}");
        assert!(err.contains("did you mean `daemon`"), "{err}");
    }
}

#[cfg(test)]
mod secretless_tests {
    use super::*;

    const SRC: &str = r#"
[apps.pod]
credential = { kind = "workload_identity" }
scopes.vault = ["https://vault.azure.net/.default"]

[apps.pinned]
client_id = "00000000-0000-0000-0000-0000000000f1"
authority = "https://login.microsoftonline.us/fabrikam.onmicrosoft.com"
credential = { kind = "azure_environment" }
scopes.vault = ["https://vault.azure.net/.default"]

[apps.job]
credential = { kind = "managed_identity", resource_id = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/job" }
scopes.vault = ["https://vault.azure.net/.default"]
imds_endpoint = "http://127.0.0.1:9/metadata/instance/compute"
"#;

    fn app(name: &str) -> AppConfig {
        resolve_app(Path::new("/srv/msal.toml"), SRC, name, &|_| None).unwrap()
    }

    #[test]
    fn workload_identity_takes_ids_from_the_azure_variables() {
        let env = |k: &str| {
            Some(match k {
                "AZURE_CLIENT_ID" => "00000000-0000-0000-0000-0000000000e1".to_string(),
                "AZURE_TENANT_ID" => "contoso.onmicrosoft.com".into(),
                "AZURE_AUTHORITY_HOST" => "https://login.microsoftonline.com/".into(),
                "AZURE_FEDERATED_TOKEN_FILE" => "/var/run/secrets/azure/tokens/t".into(),
                _ => return None,
            })
        };
        let client = builder(&app("pod"), &env).unwrap().build().unwrap();
        assert_eq!(client.client_id(), "00000000-0000-0000-0000-0000000000e1");
        assert_eq!(
            client.authority().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com"
        );
        // Each missing variable is named.
        let err = builder(&app("pod"), &|k| {
            (k != "AZURE_CLIENT_ID").then(|| env(k)).flatten()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AZURE_CLIENT_ID") && err.contains("`pod`"),
            "{err}"
        );
        let err = builder(&app("pod"), &|k| {
            (k != "AZURE_FEDERATED_TOKEN_FILE")
                .then(|| env(k))
                .flatten()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("AZURE_FEDERATED_TOKEN_FILE"), "{err}");
    }

    #[test]
    fn what_msal_toml_pins_wins_over_the_azure_variables() {
        let env = |k: &str| {
            Some(match k {
                "AZURE_CLIENT_ID" => "00000000-0000-0000-0000-0000000000e1".to_string(),
                "AZURE_TENANT_ID" => "contoso.onmicrosoft.com".into(),
                "AZURE_CLIENT_SECRET" => "s3cret".into(),
                _ => return None,
            })
        };
        let client = builder(&app("pinned"), &env).unwrap().build().unwrap();
        assert_eq!(client.client_id(), "00000000-0000-0000-0000-0000000000f1");
        assert_eq!(
            client.authority().as_str(),
            "https://login.microsoftonline.us/fabrikam.onmicrosoft.com"
        );
        // With both pinned, only the credential variable is needed.
        let only_secret = |k: &str| (k == "AZURE_CLIENT_SECRET").then(|| "s3cret".to_string());
        assert!(builder(&app("pinned"), &only_secret).is_ok());
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    #[test]
    fn a_managed_identity_app_builds_a_managed_identity_client() {
        let err = builder(&app("job"), &|_| None).unwrap_err().to_string();
        assert!(err.contains("managed_identity_builder"), "{err}");
        let mi = managed_identity_builder(
            &app("job"),
            &|_| None,
            EnvLookup::from_pairs(Vec::<(String, String)>::new()),
        )
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(
            mi.identity(),
            &ManagedIdentity::user_assigned_resource_id("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/job")
        );
        assert_eq!(
            mi.get_managed_identity_source(),
            ManagedIdentitySource::DefaultToVm
        );
        let other =
            managed_identity_builder(&app("pinned"), &|_| None, EnvLookup::process()).unwrap_err();
        assert!(
            other
                .to_string()
                .contains("does not use a managed identity"),
            "{other}"
        );
    }

    #[tokio::test]
    async fn a_pinned_source_never_falls_back_to_imds() {
        let src = "[apps.web]\ncredential = { kind = \"managed_identity\", source = \"app_service\" }\nscopes.vault = [\"https://vault.azure.net/.default\"]\n";
        let app = resolve_app(Path::new("msal.toml"), src, "web", &|_| None).unwrap();
        // IMDS would be the detected source here; App Service is pinned, and its variable is
        // missing: an error naming it, no request anywhere.
        let mi = client(
            &app,
            &|_| None,
            EnvLookup::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")]),
        )
        .unwrap();
        let err = mi
            .acquire_token_for_client(&["https://vault.azure.net/.default"])
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("IDENTITY_ENDPOINT"), "{err}");
    }

    #[tokio::test]
    async fn scopes_become_the_resource() {
        // The IMDS host is the origin of `imds_endpoint`: a closed loopback port here, so the
        // request fails fast, naming that host, and never goes to the Azure address.
        let mi = client(
            &app("job"),
            &|_| None,
            EnvLookup::from_pairs(Vec::<(String, String)>::new()),
        )
        .unwrap();
        let err = mi
            .acquire_token_for_client(&["https://vault.azure.net/.default"])
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("169.254.169.254"), "{err}");
        let bad = mi
            .acquire_token_for_client(&["User.Read"])
            .await
            .unwrap_err();
        assert!(matches!(bad, Error::InvalidInput(_)), "{bad}");
    }
}
