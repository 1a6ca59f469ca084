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
use crate::credential::{Certificate, ClientCredential};
use crate::error::{Error, Result};
use crate::http::Verify;
use msal_config::{
    AppConfig, CacheSpec, Config, CredentialSpec, Diagnostics, RedisUrl, RegionSpec, Source,
};
use std::path::Path;
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
    let source = std::fs::read_to_string(path)
        .map_err(|e| Error::ConfigFile(format!("cannot read {}: {e}", path.display())))?;
    let env = |k: &str| std::env::var(k).ok();
    let app = resolve_app(path, &source, name, &env)?;
    builder(&app, &env)?.build()
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
    let mut b = ConfidentialClientApplication::builder(app.client_id.clone());
    // The config loader parsed it with the same model the builder uses: no second parse.
    b = b
        .authority(&app.authority)
        .client_credential(credential(app, env)?)
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
            client_id: app.client_id.clone(),
            token_endpoint: "https://x/token".into(),
        };
        assert_eq!(cb(&ctx).unwrap(), "first");
        std::fs::write(dir.join("token.jwt"), "second").unwrap();
        assert_eq!(cb(&ctx).unwrap(), "second");
        std::fs::remove_dir_all(dir).ok();
    }
}
