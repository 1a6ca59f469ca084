//! The diagnostics collector and spanned values shared by the file walker and the env overlay.

use std::cell::OnceCell;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, LineIndex, SourceSpan};

pub(crate) type Span = Range<usize>;

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Written in `msal.toml` at the value's span.
    File,
    /// Set by this `MSAL_<APP>_<KEY>` variable; the span is the app's table.
    Env(String),
}

/// A value with its position and origin.
#[derive(Clone, Debug)]
pub(crate) struct Val<T> {
    pub v: T,
    pub span: Span,
    pub origin: Origin,
}

impl<T> Val<T> {
    pub fn file(v: T, span: Span) -> Self {
        Val {
            v,
            span,
            origin: Origin::File,
        }
    }

    pub fn is_env(&self) -> bool {
        matches!(self.origin, Origin::Env(_))
    }
}

/// A failed check on one value, not yet attached to a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Problem {
            code,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// Collects diagnostics for one source file.
pub(crate) struct Ctx<'s> {
    pub source: &'s str,
    base_dir: PathBuf,
    pub diags: Vec<Diagnostic>,
    /// Built on first use: line and column of any position in `source`.
    lines: OnceCell<LineIndex>,
}

impl<'s> Ctx<'s> {
    pub fn new(path: &Path, source: &'s str) -> Self {
        Ctx {
            source,
            base_dir: base_dir(path),
            diags: Vec::new(),
            lines: OnceCell::new(),
        }
    }

    /// 1-based line and character column of byte `offset` of the source.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.lines
            .get_or_init(|| LineIndex::new(self.source))
            .line_col(self.source, offset)
    }

    /// `range` of the source with its line and column.
    pub fn source_span(&self, range: Span) -> SourceSpan {
        let (line, col) = self.line_col(range.start);
        SourceSpan { range, line, col }
    }

    /// Reports `problem` at `span`.
    pub fn report(&mut self, span: Span, problem: Problem) {
        let (line, col) = self.line_col(span.start);
        self.diags.push(Diagnostic {
            code: problem.code,
            message: problem.message,
            span,
            line,
            col,
            help: problem.help,
        });
    }

    /// Reports at a file position.
    pub fn error(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.report(span, Problem::new(code, message));
    }

    /// Reports at a file position, with help.
    pub fn error_help(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.report(span, Problem::new(code, message).maybe_help(help));
    }

    /// Reports about a value; values from the environment name their variable.
    pub fn report_val<T>(&mut self, val: &Val<T>, mut problem: Problem) {
        if let Origin::Env(var) = &val.origin {
            problem.message = format!("{} (from environment variable `{var}`)", problem.message);
        }
        self.report(val.span.clone(), problem);
    }

    /// Resolves a path from the file against the config file's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        resolve_relative(&self.base_dir, Path::new(p))
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        let mut d = Diagnostics(self.diags);
        d.normalize();
        d
    }
}

/// The directory that relative paths in `path` are resolved against.
pub(crate) fn base_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Resolves `p` against `base` unless it is absolute: the single rule for every
/// file-relative path in `msal.toml` (credentials, `ca_bundle`, file caches).
///
/// ```
/// use std::path::Path;
/// assert_eq!(
///     msal_config::resolve_relative(Path::new("/ws"), Path::new("certs/a.key")),
///     Path::new("/ws/certs/a.key")
/// );
/// assert_eq!(
///     msal_config::resolve_relative(Path::new("/ws"), Path::new("/etc/a.key")),
///     Path::new("/etc/a.key")
/// );
/// ```
pub fn resolve_relative(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() || base.as_os_str().is_empty() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
