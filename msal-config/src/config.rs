//! [`Config`]: the entry points.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, SourceSpan};
use crate::model::AppConfig;
use crate::resolve::{self, Runtime};
use crate::suggest;

/// A validated `msal.toml`.
///
/// [`Config::parse`] gives the base configuration (what `#[msal_app]` generates code
/// for) after checking every table **and every profile**; [`Config::resolve`] adds the
/// run-time overlays: the profile chosen by `MSAL_PROFILE` and `MSAL_<APP>_<KEY>`
/// variables. Both report all problems of the file at once.
///
/// Precedence, lowest first: `[defaults]`, `[apps.X]`, `[profiles.P.defaults]`,
/// `[profiles.P.apps.X]`, `MSAL_X_<KEY>`. `authority` and `oidc_authority` are one
/// setting: a layer that sets either replaces both from lower layers.
///
/// ```
/// use msal_config::Config;
/// use std::path::Path;
///
/// let src = r#"
/// [defaults]
/// authority = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555"
///
/// [apps.orders_daemon]
/// client_id  = "00000000-0000-0000-0000-00000000000a"
/// credential = { kind = "secret", env = "ORDERS_SECRET" }
/// grants     = ["client_credentials"]
/// scopes.graph = ["https://graph.microsoft.com/.default"]
///
/// [profiles.staging.apps.orders_daemon]
/// client_id = "00000000-0000-0000-0000-00000000000b"
/// "#;
/// let base = Config::parse(Path::new("msal.toml"), src).unwrap();
/// assert_eq!(base.app("orders_daemon").unwrap().client_id.as_deref(), Some("00000000-0000-0000-0000-00000000000a"));
///
/// let env = |k: &str| (k == "MSAL_PROFILE").then(|| "staging".to_string());
/// let staging = Config::resolve(Path::new("msal.toml"), src, None, &env).unwrap();
/// assert_eq!(staging.profile.as_deref(), Some("staging"));
/// assert_eq!(staging.app("orders_daemon").unwrap().client_id.as_deref(), Some("00000000-0000-0000-0000-00000000000b"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The apps, by name.
    pub apps: BTreeMap<String, AppConfig>,
    /// The profile applied (`None` for the base configuration).
    pub profile: Option<String>,
    /// Every profile declared in the file.
    pub profiles: Vec<String>,
    /// The path the configuration was read from (relative paths in it are resolved
    /// against its directory).
    pub path: PathBuf,
    /// The `apps` key in the file (where "unknown app" errors point).
    pub apps_span: SourceSpan,
}

impl Config {
    /// Parses and validates `source`; `path` names the file in diagnostics and is the
    /// base of relative paths (its directory).
    ///
    /// ```
    /// use msal_config::{Code, Config};
    /// let err = Config::parse(std::path::Path::new("msal.toml"), "[apps]\n").unwrap_err();
    /// assert_eq!(err.codes(), [Code::NoApps]);
    /// ```
    pub fn parse(path: &Path, source: &str) -> Result<Config, Diagnostics> {
        resolve::build(path, source, None)
    }

    /// Reads and parses the file at `path`.
    ///
    /// ```
    /// use msal_config::{Code, Config};
    /// let err = Config::load(std::path::Path::new("/nonexistent/msal.toml")).unwrap_err();
    /// assert_eq!(err.codes(), [Code::FileUnreadable]);
    /// ```
    pub fn load(path: &Path) -> Result<Config, Diagnostics> {
        let source = read(path)?;
        Config::parse(path, &source)
    }

    /// Parses `source` and applies the run-time overlays: `profile` (or, when `None`,
    /// the profile named by `MSAL_PROFILE` as returned by `env`), then the
    /// `MSAL_<APP>_<KEY>` overrides looked up through `env`. The result is checked by
    /// the same rules; a problem in an override names its variable.
    ///
    /// ```
    /// use msal_config::{Code, Config};
    /// use std::path::Path;
    /// let src = r#"
    /// [apps.api]
    /// client_id  = "00000000-0000-0000-0000-00000000000a"
    /// authority  = "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    /// credential = { kind = "secret", env = "API_SECRET" }
    /// grants     = ["on_behalf_of"]
    /// scopes.inventory = ["api://inventory/Items.Read"]
    /// "#;
    /// let env = |k: &str| (k == "MSAL_API_TIMEOUT_SECS").then(|| "5".to_string());
    /// let cfg = Config::resolve(Path::new("msal.toml"), src, None, &env).unwrap();
    /// assert_eq!(cfg.app("api").unwrap().timeout_secs, Some(5));
    ///
    /// let env = |k: &str| (k == "MSAL_API_CLIENT_ID").then(|| "oops".to_string());
    /// let err = Config::resolve(Path::new("msal.toml"), src, None, &env).unwrap_err();
    /// assert_eq!(err.codes(), [Code::InvalidClientId]);
    /// assert!(err.0[0].message.contains("MSAL_API_CLIENT_ID"));
    /// ```
    pub fn resolve(
        path: &Path,
        source: &str,
        profile: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Diagnostics> {
        RESOLVE_CALLS.with(|n| n.set(n.get() + 1));
        resolve::build(path, source, Some(Runtime { profile, env }))
    }

    /// How many times [`Config::resolve`] ran on the calling thread: a test hook proving
    /// that a generated client built from its compiled-in model parsed nothing. Not a
    /// public API.
    ///
    /// ```
    /// use msal_config::Config;
    /// let before = Config::resolve_calls_on_this_thread();
    /// let _ = Config::resolve(std::path::Path::new("msal.toml"), "", None, &|_| None);
    /// assert_eq!(Config::resolve_calls_on_this_thread(), before + 1);
    /// ```
    #[doc(hidden)]
    pub fn resolve_calls_on_this_thread() -> usize {
        RESOLVE_CALLS.with(std::cell::Cell::get)
    }

    /// Reads the file at `path` and applies the run-time overlays from the process
    /// environment (`MSAL_PROFILE`, `MSAL_<APP>_<KEY>`).
    ///
    /// ```no_run
    /// let cfg = msal_config::Config::load_runtime(std::path::Path::new("msal.toml")).unwrap();
    /// ```
    pub fn load_runtime(path: &Path) -> Result<Config, Diagnostics> {
        let source = read(path)?;
        Config::resolve(path, &source, None, &|k| std::env::var(k).ok())
    }

    /// The app called `name`, or an [`Code::UnknownApp`] diagnostic with a suggestion.
    ///
    /// ```
    /// # use msal_config::{Code, Config};
    /// # let cfg = Config::parse(std::path::Path::new("m.toml"), r#"
    /// # [apps.orders_daemon]
    /// # client_id = "00000000-0000-0000-0000-000000000001"
    /// # authority = "https://login.microsoftonline.com/contoso.com"
    /// # credential = { kind = "secret", env = "S" }
    /// # grants = ["client_credentials"]
    /// # scopes.g = ["https://graph.microsoft.com/.default"]
    /// # "#).unwrap();
    /// let err = cfg.app("orders_deamon").unwrap_err();
    /// assert_eq!(err.code, Code::UnknownApp);
    /// assert_eq!(err.help.as_deref(), Some("did you mean `orders_daemon`?"));
    /// // The caret is on the app it probably meant: `orders_daemon` of `[apps.orders_daemon]`.
    /// assert_eq!((err.line, err.col), (2, 7));
    /// ```
    pub fn app(&self, name: &str) -> Result<&AppConfig, Diagnostic> {
        self.apps.get(name).ok_or_else(|| {
            // Point at the app the name is probably a typo of, else at the `apps` key.
            let close = suggest::did_you_mean(name, self.apps.keys().map(String::as_str))
                .and_then(|c| self.apps.get(c));
            let (span, help) = match close {
                Some(app) => (&app.name_span, format!("did you mean `{}`?", app.name)),
                None => (
                    &self.apps_span,
                    format!(
                        "declared apps: {}",
                        self.apps.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
            };
            Diagnostic {
                code: Code::UnknownApp,
                message: format!("app `{name}` is not declared in {}", self.path.display()),
                span: span.range.clone(),
                line: span.line,
                col: span.col,
                help: Some(help),
            }
        })
    }
}

thread_local! {
    static RESOLVE_CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn read(path: &Path) -> Result<String, Diagnostics> {
    std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic {
            code: Code::FileUnreadable,
            message: format!("cannot read {}: {e}", path.display()),
            span: 0..0,
            line: 1,
            col: 1,
            help: None,
        }])
    })
}
