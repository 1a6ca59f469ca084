//! `msal`: check an `msal.toml`, get a token for one of its apps, inspect its token cache.
//!
//! Exit codes: 0 success; 1 other failure (e.g. nothing cached for a silent request);
//! 2 bad configuration or usage; 3 the authority refused (an OAuth error such as
//! `invalid_client`); 4 network failure (connection, TLS, timeout, discovery
//! unreachable); 5 credential problem (a missing variable or file, a bad key).

use clap::{Parser, Subcommand};
use msal_config::{Config, Diagnostics};
use msal_runtime::{AuthenticationResult, Error, Verify};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `println!` that ends the program quietly when standard output is closed early
/// (`msal check big.toml | head`) instead of panicking, as std's `println!` does.
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

fn print_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader has all it wanted; nothing more to say.
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

const AFTER_HELP: &str = "Exit codes:
  0  success
  1  other failure (e.g. no cached token for a silent request)
  2  bad configuration or usage
  3  the authority refused the request (OAuth error, e.g. invalid_client)
  4  network failure (connection, TLS, timeout, discovery unreachable)
  5  credential problem (missing variable or file, bad key or passphrase)";

#[derive(Parser)]
#[command(name = "msal", version, about = "Check msal.toml, get tokens, inspect token caches", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a config: every problem of the file, as the #[msal_app] macro reports them.
    Check {
        /// The config file. Default: `msal.toml` of the working directory or of a parent
        /// up to the Cargo workspace root, as `#[msal_app]` without `config` finds it.
        path: Option<PathBuf>,
        /// Also check the run-time view: this profile (else `MSAL_PROFILE`) and the
        /// `MSAL_<APP>_<KEY>` variables of the environment.
        #[arg(long)]
        runtime: bool,
        /// The profile to check (implies --runtime).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Acquire a token for an app: client credentials for a `.default` set, else silently
    /// from the configured cache's refresh token.
    Token {
        /// The config file. Default: `msal.toml` of the working directory or of a parent
        /// up to the Cargo workspace root.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The app (`[apps.NAME]`).
        #[arg(long)]
        app: String,
        /// The scope set (`scopes.NAME`).
        #[arg(long)]
        scopes: String,
        /// The signed-in account to use for a silent request (default: the only one).
        #[arg(long)]
        account: Option<String>,
        /// Trust the CA certificates in this PEM file (overrides `ca_bundle`).
        #[arg(long)]
        ca_bundle: Option<PathBuf>,
        /// Print the whole result as JSON instead of the access token alone.
        #[arg(long)]
        json: bool,
    },
    /// Inspect an app's token cache.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
}

#[derive(Subcommand)]
enum CacheCommand {
    /// List the cached entries, secrets redacted.
    Show {
        /// The config file. Default: `msal.toml` of the working directory or of a parent
        /// up to the Cargo workspace root.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The app (`[apps.NAME]`).
        #[arg(long)]
        app: String,
    },
}

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn config(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::ConfigFile(_) | Error::InvalidConfig { .. } | Error::InvalidAuthority { .. } => {
                2
            }
            Error::Server(_) | Error::AuthorityValidation { .. } => 3,
            Error::Http { .. } | Error::Discovery { .. } => 4,
            Error::Credential { .. } => 5,
            _ => 1,
        };
        let mut message = format!("error: {e}");
        if let Error::Server(s) = &e {
            if let Some(c) = &s.correlation_id {
                message.push_str(&format!("\n  correlation id: {c}"));
            }
            if !s.error_codes.is_empty() {
                message.push_str(&format!("\n  error codes: {:?}", s.error_codes));
            }
        }
        Failure { code, message }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check {
            path,
            runtime,
            profile,
        } => config_path(path)
            .and_then(|path| check(&path, runtime || profile.is_some(), profile.as_deref())),
        Command::Token {
            config,
            app,
            scopes,
            account,
            ca_bundle,
            json,
        } => config_path(config).and_then(|config| {
            run_async(token(
                &config,
                &app,
                &scopes,
                account.as_deref(),
                ca_bundle,
                json,
            ))
        }),
        Command::Cache {
            command: CacheCommand::Show { config, app },
        } => config_path(config).and_then(|config| cache_show(&config, &app)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run_async(fut: impl std::future::Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: 1,
            message: format!("error: cannot start the async runtime: {e}"),
        })?
        .block_on(fut)
}

/// The file named on the command line, else the `msal.toml` that `#[msal_app]` without
/// `config` would find from the working directory (named relative to it).
fn config_path(given: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(p) = given {
        return Ok(p);
    }
    let cwd = std::env::current_dir().map_err(|e| {
        Failure::config(format!(
            "error: cannot look for msal.toml: the working directory is unreadable ({e}); name the file"
        ))
    })?;
    msal_config::discover(&cwd)
        .map(|found| found.relative)
        .map_err(|e| Failure::config(format!("error: {e}; name the file on the command line")))
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("error: cannot read {}: {e}", path.display())))
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn rendered(d: &Diagnostics, path: &Path, source: &str) -> Failure {
    Failure::config(d.render(path, source).trim_end().to_string())
}

fn check(path: &Path, runtime: bool, profile: Option<&str>) -> Result<(), Failure> {
    let source = read(path)?;
    let cfg = if runtime {
        Config::resolve(path, &source, profile, &env)
    } else {
        Config::parse(path, &source)
    }
    .map_err(|d| rendered(&d, path, &source))?;
    println!("{}: ok, {} app(s)", path.display(), cfg.apps.len());
    if let Some(p) = &cfg.profile {
        println!("  profile: {p}");
    }
    for (name, app) in &cfg.apps {
        let grants: Vec<&str> = app.grants.iter().map(|g| g.as_str()).collect();
        let sets: Vec<&str> = app.scopes.keys().map(String::as_str).collect();
        println!(
            "  {name}: {} ({} credential), grants [{}], scope sets [{}]",
            describe_identity(app),
            app.credential.kind(),
            grants.join(", "),
            sets.join(", ")
        );
    }
    Ok(())
}

/// Who the app is: its client id, or where the id comes from.
fn describe_identity(app: &msal_config::AppConfig) -> String {
    use msal_config::CredentialSpec;
    match (&app.credential, &app.client_id) {
        (CredentialSpec::ManagedIdentity { id, source }, _) => {
            let who = match id {
                None => "system-assigned managed identity".to_string(),
                Some(id) => format!("user-assigned managed identity {} {}", id.key(), id.value()),
            };
            match source {
                Some(s) => format!("{who}, source {s}"),
                None => format!("{who}, source detected at run time"),
            }
        }
        (_, Some(id)) => format!("client {id}"),
        (_, None) => "client from AZURE_CLIENT_ID".to_string(),
    }
}

/// The `client_id` under which the app's tokens are cached.
fn cache_client_id(app: &msal_config::AppConfig) -> Result<String, Failure> {
    if let Some(mi) = msal_runtime::config::managed_identity(&app.credential) {
        return Ok(mi.cache_client_id().to_string());
    }
    app.client_id
        .clone()
        .or_else(|| env("AZURE_CLIENT_ID").filter(|v| !v.trim().is_empty()))
        .ok_or_else(|| {
            Failure::config(format!(
                "error: app `{}` takes its client id from AZURE_CLIENT_ID, which is not set",
                app.name
            ))
        })
}

/// The run-time view of app `name` (profile and `MSAL_<APP>_*` applied).
fn load_app(path: &Path, name: &str) -> Result<msal_config::AppConfig, Failure> {
    let source = read(path)?;
    let cfg =
        Config::resolve(path, &source, None, &env).map_err(|d| rendered(&d, path, &source))?;
    let app = cfg
        .app(name)
        .map_err(|d| rendered(&Diagnostics(vec![d]), path, &source))?;
    Ok(app.clone())
}

async fn token(
    path: &Path,
    name: &str,
    set: &str,
    account: Option<&str>,
    ca_bundle: Option<PathBuf>,
    as_json: bool,
) -> Result<(), Failure> {
    let app_cfg = load_app(path, name)?;
    let Some(scope_set) = app_cfg.scopes.get(set) else {
        let sets: Vec<&str> = app_cfg.scopes.keys().map(String::as_str).collect();
        return Err(Failure::config(format!(
            "error: app `{name}` has no scope set `{set}` (its sets: {})",
            sets.join(", ")
        )));
    };
    if app_cfg.credential.is_managed_identity() {
        // Only `.default` sets exist for a managed identity (msal-config's rule).
        let mi = msal_runtime::config::managed_identity_builder(
            &app_cfg,
            &env,
            msal_runtime::EnvLookup::process(),
        )?
        .build()?;
        let resource = msal_runtime::config::resource_of(&scope_set.scopes)?;
        let result = mi.acquire_token_for_client(&resource).await?;
        if as_json {
            println!("{}", result_json(&result));
        } else {
            println!("{}", result.access_token.secret());
        }
        return Ok(());
    }
    let mut builder = msal_runtime::config::builder(&app_cfg, &env)?;
    if let Some(ca) = ca_bundle {
        builder = builder.verify(Verify::CaBundle(ca));
    }
    let app = builder.build()?;
    let scopes = &scope_set.scopes;
    let result = if scope_set.is_default && app_cfg.has_grant(msal_config::Grant::ClientCredentials)
    {
        app.acquire_token_for_client(scopes).await?
    } else {
        let accounts = app.get_accounts(account).await?;
        let chosen = match (accounts.as_slice(), account) {
            ([], Some(u)) => {
                return Err(Failure {
                    code: 1,
                    message: format!("error: no cached account `{}` for app `{name}`", clean(u)),
                })
            }
            ([], None) => {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "error: no signed-in account in app `{name}`'s cache; sign in first"
                    ),
                })
            }
            ([one], _) => one.clone(),
            (many, _) => {
                let names: Vec<String> = many.iter().map(|a| clean(&a.username)).collect();
                return Err(Failure::config(format!(
                    "error: several accounts are cached ({}); choose one with --account",
                    names.join(", ")
                )));
            }
        };
        match app.acquire_token_silent(scopes, &chosen).await? {
            Some(r) => r,
            None => {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "error: no usable token for `{}` and scope set `{set}`; sign in again",
                        clean(&chosen.username)
                    ),
                })
            }
        }
    };
    if as_json {
        println!("{}", result_json(&result));
    } else {
        println!("{}", clean(result.access_token.secret()));
    }
    Ok(())
}

fn result_json(r: &AuthenticationResult) -> Value {
    json!({
        "access_token": r.access_token.secret(),
        "token_type": r.token_type,
        "expires_on": r.expires_on,
        "expires_in": r.expires_in(),
        "ext_expires_on": r.ext_expires_on,
        "refresh_on": r.refresh_on,
        "scopes": r.scopes,
        "token_source": r.token_source.as_str(),
        "correlation_id": r.correlation_id,
        "tenant_id": r.tenant_id,
        "account": r.account.as_ref().map(|a| json!({
            "home_account_id": a.home_account_id,
            "environment": a.environment,
            "username": a.username,
            "realm": a.realm,
        })),
    })
}

/// Text from a cache, a server or the environment, printed with its control characters
/// escaped: a username or scope must not be able to move the cursor, retitle the
/// terminal or forge output lines.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn cache_show(path: &Path, name: &str) -> Result<(), Failure> {
    let app = load_app(path, name)?;
    // Inspection only: a file cache is read as it is, never locked, written or moved
    // (another process may be writing it right now).
    let client_id = cache_client_id(&app)?;
    let heading = if app.credential.is_managed_identity() {
        format!(
            "token cache of app `{name}` ({}, cached as {client_id})",
            describe_identity(&app)
        )
    } else {
        format!("token cache of app `{name}` (client {client_id})")
    };
    let cache = match &app.token_cache {
        msal_config::CacheSpec::File { path: file } => {
            match msal_runtime::TokenCache::read_only(file)? {
                Some(cache) => cache,
                None => {
                    println!("{heading}");
                    println!("  no cache file at {}", clean(&file.display().to_string()));
                    println!("0 entries");
                    return Ok(());
                }
            }
        }
        _ => msal_runtime::config::token_cache(&app, &env)?,
    };
    let mine = |id: &str| id == client_id;
    let or_dash = |s: Option<&str>| clean(s.filter(|s| !s.is_empty()).unwrap_or("-"));
    println!("{heading}");
    if matches!(app.token_cache, msal_config::CacheSpec::Redis { .. }) {
        println!(
            "  (Redis: entries are read per partition on use; only loaded partitions are shown)"
        );
    }
    let mut n = 0;
    for at in cache.access_tokens().iter().filter(|e| mine(&e.client_id)) {
        n += 1;
        println!(
            "  AccessToken   account={} env={} realm={} target=\"{}\" expires_on={}{} secret=<redacted>",
            or_dash(at.home_account_id.as_deref()),
            clean(&at.environment),
            clean(&at.realm),
            clean(&at.target),
            at.expires_on,
            if at.user_assertion_hash.is_some() { " (on-behalf-of)" } else { "" },
        );
    }
    for rt in cache
        .refresh_tokens()
        .iter()
        .filter(|e| mine(&e.client_id) || e.family_id.is_some())
    {
        n += 1;
        println!(
            "  RefreshToken  account={} env={} family={} secret=<redacted>",
            or_dash(rt.home_account_id.as_deref()),
            clean(&rt.environment),
            or_dash(rt.family_id.as_deref()),
        );
    }
    for it in cache.id_tokens().iter().filter(|e| mine(&e.client_id)) {
        n += 1;
        println!(
            "  IdToken       account={} env={} realm={} secret=<redacted>",
            or_dash(it.home_account_id.as_deref()),
            clean(&it.environment),
            clean(&it.realm),
        );
    }
    for a in cache.accounts() {
        n += 1;
        println!(
            "  Account       account={} env={} realm={} username={}",
            clean(&a.home_account_id),
            clean(&a.environment),
            clean(&a.realm),
            clean(&a.username)
        );
    }
    println!("{n} entr{}", if n == 1 { "y" } else { "ies" });
    Ok(())
}
