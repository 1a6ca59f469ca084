//! Diagnostics: what went wrong, where (byte span, line, column), and how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::Path;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $slug:literal; )*) => {
        /// The rule a [`Diagnostic`] reports. Every rule of `msal.toml` has its own code.
        ///
        /// ```
        /// use msal_config::Code;
        /// assert_eq!(Code::UnknownKey.as_str(), "E0101-unknown-key");
        /// assert_eq!(Code::UnknownKey.id(), "E0101");
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The full code, e.g. `"E0101-unknown-key"`.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => concat!($id, "-", $slug), )* }
            }

            /// The numeric part, e.g. `"E0101"`.
            pub const fn id(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            /// The descriptive part, e.g. `"unknown-key"`.
            pub const fn slug(self) -> &'static str {
                match self { $( Code::$variant => $slug, )* }
            }
        }
    };
}

codes! {
    /// The configuration file could not be read.
    FileUnreadable = "E0001", "file-unreadable";
    /// The file is not valid TOML (the message is toml's own).
    InvalidToml = "E0002", "invalid-toml";

    /// A key that the schema does not know (with "did you mean").
    UnknownKey = "E0101", "unknown-key";
    /// A value of the wrong TOML type (e.g. a string where a table is expected).
    WrongType = "E0102", "wrong-type";
    /// A key that must not appear in `[defaults]` (`client_id`, `grants`, `scopes`, `redirect_uri`).
    NotInheritable = "E0103", "not-inheritable";
    /// A key that a profile must not override (it would change the generated code).
    NotOverridable = "E0104", "not-overridable";
    /// The file declares no `[apps.NAME]` table.
    NoApps = "E0105", "no-apps";
    /// An app name that does not exist (profile overlay, or `Config::app`).
    UnknownApp = "E0106", "unknown-app";
    /// An app name that is not a snake_case identifier.
    InvalidAppName = "E0107", "invalid-app-name";
    /// A profile that does not exist (selected at run time).
    UnknownProfile = "E0108", "unknown-profile";
    /// A profile name that is not `[A-Za-z0-9_-]+`.
    InvalidProfileName = "E0109", "invalid-profile-name";
    /// A string that must not be empty or blank.
    EmptyValue = "E0110", "empty-value";
    /// An `MSAL_<APP>_<KEY>` environment override whose value cannot be parsed.
    InvalidEnvOverride = "E0111", "invalid-env-override";

    /// The app has no `client_id`.
    MissingClientId = "E0201", "missing-client-id";
    /// `client_id` is not a GUID (8-4-4-4-12 hex digits).
    InvalidClientId = "E0202", "invalid-client-id";

    /// Neither `authority` nor `oidc_authority` is set (after defaults).
    MissingAuthority = "E0301", "missing-authority";
    /// Both `authority` and `oidc_authority` are set in the same table.
    ConflictingAuthority = "E0302", "conflicting-authority";
    /// The authority is not a URL of the form `https://host/tenant`.
    InvalidAuthority = "E0303", "invalid-authority";
    /// The authority uses `http` on a host that is not loopback.
    InsecureAuthority = "E0304", "insecure-authority";
    /// The authority has no path segment (no tenant).
    MissingTenant = "E0305", "missing-tenant";
    /// The authority host is not a known cloud and validation is not explicitly off.
    UnknownAuthorityHost = "E0306", "unknown-authority-host";
    /// `common`/`organizations`/`consumers` used with client credentials or on-behalf-of.
    TenantNotAllowed = "E0307", "tenant-not-allowed";

    /// The app has no `credential` (every confidential client needs one).
    MissingCredential = "E0401", "missing-credential";
    /// `credential.kind` is not `secret`, `certificate` or `assertion`.
    UnknownCredentialKind = "E0402", "unknown-credential-kind";
    /// A secret written inline into the file (it would be baked into the binary).
    InlineSecret = "E0403", "inline-secret";
    /// A credential whose sources are missing or ambiguous (e.g. both `env` and `file`).
    InvalidCredentialSource = "E0404", "invalid-credential-source";
    /// A value that must name an environment variable is not a valid name.
    InvalidEnvVarName = "E0405", "invalid-env-var-name";
    /// A certificate thumbprint that is not 40 hex digits (SHA-1).
    InvalidThumbprint = "E0406", "invalid-thumbprint";
    /// `send_x5c = true` without a certificate to send.
    X5cWithoutCertificate = "E0407", "x5c-without-certificate";
    /// A certificate credential with neither a certificate nor a thumbprint.
    MissingCertificate = "E0408", "missing-certificate";
    /// A user-assigned managed identity id of the wrong shape (`client_id`/`object_id`
    /// not a GUID, `resource_id` not an Azure resource id of a user-assigned identity).
    InvalidManagedIdentityId = "E0409", "invalid-managed-identity-id";
    /// More than one of `client_id`, `object_id`, `resource_id` in a managed identity.
    ConflictingManagedIdentityId = "E0410", "conflicting-managed-identity-id";
    /// A managed identity `source` that is not known.
    UnknownManagedIdentitySource = "E0411", "unknown-managed-identity-source";
    /// A user-assigned identity with a pinned source that cannot select one
    /// (Service Fabric, Cloud Shell).
    UserAssignedNotSupported = "E0412", "user-assigned-not-supported";
    /// A key a managed identity app cannot have (`client_id`, `authority`,
    /// `oidc_authority`, `azure_region`).
    NotForManagedIdentity = "E0413", "not-for-managed-identity";

    /// `grants` is missing or empty.
    MissingGrants = "E0501", "missing-grants";
    /// A grant name that is not known.
    UnknownGrant = "E0502", "unknown-grant";
    /// The same grant listed twice.
    DuplicateGrant = "E0503", "duplicate-grant";
    /// `refresh_token` without a grant that yields refresh tokens.
    RefreshTokenWithoutSource = "E0504", "refresh-token-without-source";
    /// A grant the credential kind cannot use (a managed identity gets app tokens only).
    GrantNotAllowedForCredential = "E0505", "grant-not-allowed-for-credential";

    /// `authorization_code` is enabled but `redirect_uri` is missing.
    MissingRedirectUri = "E0601", "missing-redirect-uri";
    /// `redirect_uri` is set but `authorization_code` is not enabled.
    UnusedRedirectUri = "E0602", "unused-redirect-uri";
    /// `redirect_uri` is not an absolute URL, or has a fragment.
    InvalidRedirectUri = "E0603", "invalid-redirect-uri";
    /// `redirect_uri` uses `http` on a host that is not loopback.
    InsecureRedirectUri = "E0604", "insecure-redirect-uri";

    /// The app declares no scope set.
    NoScopeSets = "E0701", "no-scope-sets";
    /// A scope set name that is not a snake_case Rust identifier.
    InvalidScopeSetName = "E0702", "invalid-scope-set-name";
    /// An empty scope set.
    EmptyScopeSet = "E0703", "empty-scope-set";
    /// A blank scope or one containing whitespace.
    InvalidScope = "E0704", "invalid-scope";
    /// The same scope twice in one set.
    DuplicateScope = "E0705", "duplicate-scope";
    /// A `.default` scope that is not alone in its set.
    DefaultScopeNotAlone = "E0706", "default-scope-not-alone";
    /// Scopes of more than one resource in one set.
    MixedResources = "E0707", "mixed-resources";
    /// `openid`, `profile` or `offline_access` in a scope set (MSAL adds them itself).
    ReservedScope = "E0708", "reserved-scope";
    /// A non-`.default` set in an app whose only grant is `client_credentials`.
    NonDefaultScopeForClientCredentials = "E0709", "client-credentials-needs-default";
    /// A profile that adds a scope set or changes whether a set is a `.default` set.
    ProfileScopeSetMismatch = "E0710", "profile-scope-set-mismatch";

    /// `azure_region` is not a DNS label.
    InvalidRegion = "E0801", "invalid-region";
    /// `azure_region` is not a known Azure region (nor `auto`/`none`).
    UnknownRegion = "E0802", "unknown-region";
    /// `imds_endpoint` is not an http(s) URL.
    InvalidImdsEndpoint = "E0803", "invalid-imds-endpoint";

    /// `timeout_secs` is not in `1..=600`.
    InvalidTimeout = "E0901", "invalid-timeout";
    /// `proxy` is not an http/https/socks5 URL.
    InvalidProxy = "E0902", "invalid-proxy";
    /// `app_name`/`app_version` contain characters not allowed in an HTTP header.
    InvalidHeaderValue = "E0903", "invalid-header-value";
    /// `exclude_scopes` contains `openid`.
    ExcludeOpenid = "E0904", "exclude-openid";

    /// `token_cache.kind` is not `memory`, `file` or `redis`.
    UnknownCacheKind = "E1001", "unknown-cache-kind";
    /// A file token cache without a path.
    EmptyCachePath = "E1002", "empty-cache-path";
    /// A Redis URL whose scheme is not `redis://` or `rediss://`.
    InvalidRedisUrl = "E1003", "invalid-redis-url";
    /// A Redis cache with neither or both of `url` and `url_env`.
    InvalidCacheSource = "E1004", "invalid-cache-source";

    /// An `accepts` scope, role, audience or tenant that is malformed (blank, a full scope
    /// URI, not a type name, not a tenant id).
    InvalidAccepted = "E1101", "invalid-accepted";
    /// An `accepts` scope or role listed twice, or two that make the same type name.
    DuplicateAccepted = "E1102", "duplicate-accepted";
    /// An `accepts` table with neither scopes nor roles.
    EmptyAccepts = "E1103", "empty-accepts";
    /// `accepts` on an app that cannot validate tokens (a managed identity).
    AcceptsWithoutClientId = "E1104", "accepts-without-client-id";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in `msal.toml`, with its position.
///
/// `line` and `col` are 1-based; `col` counts characters (not bytes), like rustc.
///
/// ```
/// use msal_config::{Code, Config};
/// use std::path::Path;
///
/// let src = "[apps.web]\nclient_id = \"not-a-guid\"\n";
/// let diags = Config::parse(Path::new("msal.toml"), src).unwrap_err();
/// let d = diags.iter().find(|d| d.code == Code::InvalidClientId).unwrap();
/// assert_eq!((d.line, d.col), (2, 13));
/// assert_eq!(&src[d.span.clone()], "\"not-a-guid\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Which rule was broken.
    pub code: Code,
    /// The verdict, one line.
    pub message: String,
    /// Byte range in the source (a string's range includes its quotes).
    pub span: Range<usize>,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column (in characters) of `span.start`.
    pub col: usize,
    /// A fix-it or "did you mean" suggestion.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` of `source` (line and column are computed).
    ///
    /// ```
    /// use msal_config::{Code, Diagnostic};
    /// let d = Diagnostic::new(Code::EmptyValue, "empty", 4..6, "a\nb = \"\"\n");
    /// assert_eq!((d.line, d.col), (2, 3));
    /// ```
    pub fn new(code: Code, message: impl Into<String>, span: Range<usize>, source: &str) -> Self {
        let (line, col) = line_col(source, span.start);
        Diagnostic {
            code,
            message: message.into(),
            span,
            line,
            col,
            help: None,
        }
    }

    /// Adds a help line.
    ///
    /// ```
    /// use msal_config::{Code, Diagnostic};
    /// let d = Diagnostic::new(Code::UnknownKey, "unknown key", 0..1, "x").with_help("remove it");
    /// assert_eq!(d.help.as_deref(), Some("remove it"));
    /// ```
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders like rustc: `PATH:LINE:COL: error: message [CODE]`, the source line
    /// with a caret underline, then an optional `= help:` line.
    ///
    /// ```
    /// use msal_config::{Code, Diagnostic};
    /// let src = "[apps.web]\nauthorty = \"x\"\n";
    /// let d = Diagnostic::new(Code::UnknownKey, "unknown key `authorty`", 11..19, src)
    ///     .with_help("did you mean `authority`?");
    /// let text = d.render(std::path::Path::new("msal.toml"), src);
    /// assert_eq!(text, "\
    /// msal.toml:2:1: error: unknown key `authorty` [E0101-unknown-key]
    ///   |
    /// 2 | authorty = \"x\"
    ///   | ^^^^^^^^
    ///   = help: did you mean `authority`?
    /// ");
    /// ```
    pub fn render(&self, path: &Path, source: &str) -> String {
        let mut out = format!(
            "{}:{}:{}: error: {} [{}]\n",
            path.display(),
            self.line,
            self.col,
            self.message,
            self.code
        );
        out.push_str(&self.render_excerpt(source));
        out
    }

    /// The part of [`render`](Self::render) after its first line: the source line with
    /// a caret underline, then an optional `= help:` line. For hosts that print their own
    /// heading (the `#[msal_app]` macro, whose errors rustc already prefixes with
    /// `error:`).
    ///
    /// ```
    /// use msal_config::{Code, Diagnostic};
    /// let src = "[apps.web]\nauthorty = \"x\"\n";
    /// let d = Diagnostic::new(Code::UnknownKey, "unknown key `authorty`", 11..19, src);
    /// assert_eq!(d.render_excerpt(src), "  |\n2 | authorty = \"x\"\n  | ^^^^^^^^\n");
    /// ```
    pub fn render_excerpt(&self, source: &str) -> String {
        let mut out = String::new();
        let at = floor_boundary(source, self.span.start);
        let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |i| line_start + i);
        let raw = source[line_start..line_end].trim_end_matches('\r');
        // A refused inline secret is not quoted back into a terminal or a CI log.
        let masked;
        let text = if self.code == Code::InlineSecret {
            let from = self.span.start.saturating_sub(line_start).min(raw.len());
            masked = mask_strings(raw, from);
            masked.as_str()
        } else {
            raw
        };
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        let start = floor_boundary(
            source,
            self.span.start.clamp(line_start, line_start + text.len()),
        );
        let end = floor_boundary(source, self.span.end.clamp(start, line_start + text.len()));
        let prefix: String = source[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = source[start..end].chars().count().max(1);
        out.push_str(&format!("{pad} |\n{num} | {text}\n"));
        out.push_str(&format!("{pad} | {prefix}{}\n", "^".repeat(carets)));
        if let Some(help) = &self.help {
            out.push_str(&format!("{pad} = help: {help}\n"));
        }
        out
    }
}

/// The line with the contents of every quoted string that starts at or after byte `from`
/// replaced by `*`, one per character (so the caret underline still lines up); an
/// unclosed string is masked to the end.
fn mask_strings(line: &str, from: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        if i < from {
            out.push(c);
            continue;
        }
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => out.push('*'),
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

impl fmt::Display for Diagnostic {
    /// `LINE:COL: error: message [CODE]` plus `help: ...` (no source excerpt).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: error: {} [{}]",
            self.line, self.col, self.message, self.code
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// All the problems of one file, sorted by position.
///
/// ```
/// use msal_config::Config;
/// use std::path::Path;
///
/// let src = "[apps.web]\nclient_id = \"nope\"\nauthorty = \"x\"\n";
/// let diags = Config::parse(Path::new("msal.toml"), src).unwrap_err();
/// assert!(diags.len() >= 2);
/// let text = diags.render(Path::new("msal.toml"), src);
/// assert!(text.contains("msal.toml:2:13: error: "));
/// assert!(text.contains("msal.toml:3:1: error: unknown key `authorty`"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Renders every diagnostic (see [`Diagnostic::render`]), separated by blank lines,
    /// followed by a summary line.
    pub fn render(&self, path: &Path, source: &str) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(&d.render(path, source));
            out.push('\n');
        }
        let n = self.0.len();
        out.push_str(&format!(
            "error: {} has {n} problem{}\n",
            path.display(),
            if n == 1 { "" } else { "s" }
        ));
        out
    }

    /// Iterates over the diagnostics.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The codes, in order (handy in tests).
    pub fn codes(&self) -> Vec<Code> {
        self.0.iter().map(|d| d.code).collect()
    }

    /// Sorts by position and removes duplicates (same code at the same span), which arise
    /// when the same base value is checked once per profile.
    pub(crate) fn normalize(&mut self) {
        self.0.sort_by(|a, b| {
            (a.span.start, a.span.end, a.code).cmp(&(b.span.start, b.span.end, b.code))
        });
        self.0
            .dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The largest char boundary of `source` at or before `offset`.
fn floor_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// 1-based line and character column of byte `offset` in `source`.
///
/// ```
/// assert_eq!(msal_config::line_col("ab\ncé d", 6), (2, 3));
/// ```
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The start of every line of a source, to turn byte offsets into lines and columns in
/// logarithmic time (a file with thousands of apps has thousands of positions to convert;
/// scanning from the start of the file for each would be quadratic).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    /// Byte offset of the first character of each line; `starts[0] == 0`.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// What [`line_col`] computes, without scanning the text before `offset`.
    pub(crate) fn line_col(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = floor_boundary(source, offset);
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let col = source[line_start..offset].chars().count() + 1;
        (line, col)
    }
}

/// A position in `msal.toml`, kept in the validated model so the macro can point at it.
///
/// ```
/// let s = msal_config::SourceSpan::new(11..19, "[apps.web]\nauthorty = 1");
/// assert_eq!((s.line, s.col), (2, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceSpan {
    /// Byte range in the source.
    pub range: Range<usize>,
    /// 1-based line of `range.start`.
    pub line: usize,
    /// 1-based character column of `range.start`.
    pub col: usize,
}

impl SourceSpan {
    /// Computes line and column of `range` in `source`.
    pub fn new(range: Range<usize>, source: &str) -> Self {
        let (line, col) = line_col(source, range.start);
        SourceSpan { range, line, col }
    }
}

#[cfg(test)]
mod line_index_tests {
    use super::{line_col, LineIndex};

    #[test]
    fn the_index_agrees_with_line_col_everywhere() {
        let src = "a\n\nbé c\r\n  [apps.x]\nk = \"ü\"\n\nend";
        let index = LineIndex::new(src);
        for offset in 0..=src.len() + 2 {
            assert_eq!(
                index.line_col(src, offset),
                line_col(src, offset),
                "offset {offset}"
            );
        }
        assert_eq!(LineIndex::new("").line_col("", 0), (1, 1));
    }
}
