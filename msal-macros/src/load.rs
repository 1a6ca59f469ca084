//! Finding and reading `msal.toml`, and parsing it once per file per compiler process.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use msal_config::{Config, Diagnostics};

/// Where the file was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// Absolute, lexically normalised path (embedded in the generated code).
    pub abs: PathBuf,
    /// The path as written in the attribute (used in diagnostics and docs, so messages
    /// do not depend on where the crate is checked out).
    pub display: PathBuf,
}

/// Resolves the `config = "..."` path. An absolute path is used as is. A relative one
/// is tried against the crate's manifest directory (`CARGO_MANIFEST_DIR`) first, then
/// against the directory of the source file holding the attribute (as `include_str!`
/// would). `Err` lists the candidates tried.
pub(crate) fn locate(
    written: &str,
    manifest_dir: Option<&Path>,
    source_file: Option<&Path>,
) -> Result<Located, Vec<PathBuf>> {
    let p = Path::new(written);
    let display = p.to_path_buf();
    if p.is_absolute() {
        let abs = normalize(p);
        return if abs.is_file() {
            Ok(Located { abs, display })
        } else {
            Err(vec![abs])
        };
    }
    let mut tried = Vec::new();
    let bases = [manifest_dir, source_file.and_then(Path::parent)];
    for base in bases.into_iter().flatten() {
        let abs = normalize(&base.join(p));
        if abs.is_absolute() && abs.is_file() {
            return Ok(Located { abs, display });
        }
        if !tried.contains(&abs) {
            tried.push(abs);
        }
    }
    Err(tried)
}

/// Finds `msal.toml` when the attribute names no file: from the crate's manifest
/// directory up to its workspace root ([`msal_config::discover`]). The file is shown
/// relative to the crate (`../../msal.toml`), as `config = "..."` would have named it.
/// `Err` says where it looked.
pub(crate) fn discover(manifest_dir: Option<&Path>) -> Result<Located, String> {
    let dir = manifest_dir
        .filter(|d| d.is_absolute())
        .ok_or_else(|| {
            "cannot look for msal.toml: CARGO_MANIFEST_DIR is not set (not built by cargo); name the file with `config = \"...\"`".to_string()
        })?;
    let found = msal_config::discover(dir).map_err(|e| e.to_string())?;
    Ok(Located {
        abs: normalize(&found.path),
        display: found.relative,
    })
}

/// Removes `.` and resolves `..` lexically (no symlinks are followed, so relative paths
/// inside the file keep resolving against the directory it was named in).
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // The parent of the root is the root; a leading `..` of a relative path stays.
                let at_root = out.has_root() && out.parent().is_none();
                if !at_root && !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A parsed file: its text and the parse result.
pub(crate) struct Parsed {
    pub source: String,
    pub result: Result<Config, Diagnostics>,
    /// Set once an expansion has reported this parse's diagnostics in full.
    reported: AtomicBool,
    /// The file parsed as if it had no directory, so that relative paths stay as
    /// written (see [`Parsed::as_written`]).
    as_written: OnceLock<Option<Config>>,
}

impl Parsed {
    /// The valid file's apps with relative paths as written (not resolved against the
    /// build tree): what the generated code compiles in, to be resolved at run time.
    /// Parsed once per file and compilation, only for a file that parsed cleanly.
    pub(crate) fn as_written(&self) -> Option<&Config> {
        self.as_written
            .get_or_init(|| Config::parse(Path::new("msal.toml"), &self.source).ok())
            .as_ref()
    }

    /// `true` for the first caller only: the first `#[msal_app]` of a compilation that
    /// names a broken file reports every problem; later ones in the same crate say so
    /// briefly, instead of repeating every problem once per struct.
    pub(crate) fn first_report(&self) -> bool {
        !self.reported.swap(true, Ordering::Relaxed)
    }
}

type Cache = Mutex<HashMap<PathBuf, Arc<Parsed>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Reads and parses the file, reusing an earlier parse of identical text: every
/// `#[msal_app]` of a crate names the same file, and the compiler keeps this process
/// (and rust-analyzer its proc-macro server) alive across expansions, so the key is the
/// path *and* the content.
///
/// Diagnostics name `display`; relative paths inside the file resolve against `abs`.
pub(crate) fn read_and_parse(loc: &Located) -> std::io::Result<Arc<Parsed>> {
    let source = std::fs::read_to_string(&loc.abs)?;
    let mut map = cache().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(hit) = map.get(&loc.abs) {
        if hit.source == source {
            return Ok(hit.clone());
        }
    }
    let result = Config::parse(&loc.abs, &source);
    let parsed = Arc::new(Parsed {
        source,
        result,
        reported: AtomicBool::new(false),
        as_written: OnceLock::new(),
    });
    map.insert(loc.abs.clone(), parsed.clone());
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "msal-macros-load-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ws/member/src")).unwrap();
        dir
    }

    #[test]
    fn manifest_dir_first_then_source_dir_and_workspace_files() {
        let dir = tmp();
        let ws = dir.join("ws");
        let member = ws.join("member");
        let src_file = member.join("src/main.rs");
        std::fs::write(ws.join("msal.toml"), "").unwrap();
        std::fs::write(member.join("msal.toml"), "").unwrap();
        std::fs::write(member.join("src/local.toml"), "").unwrap();

        // The crate's own file.
        let l = locate("msal.toml", Some(&member), Some(&src_file)).unwrap();
        assert_eq!(l.abs, member.join("msal.toml"));
        assert_eq!(l.display, Path::new("msal.toml"));
        // A workspace-level file shared by several member crates.
        let l = locate("../msal.toml", Some(&member), Some(&src_file)).unwrap();
        assert_eq!(l.abs, ws.join("msal.toml"));
        assert_eq!(l.display, Path::new("../msal.toml"));
        // Next to the source file (how trybuild's generated crates find their configs).
        let l = locate("local.toml", Some(&member), Some(&src_file)).unwrap();
        assert_eq!(l.abs, member.join("src/local.toml"));
        // Absolute.
        let abs = ws.join("msal.toml");
        let l = locate(abs.to_str().unwrap(), None, None).unwrap();
        assert_eq!(l.abs, abs);
        // Missing: both candidates are listed.
        let tried = locate("nope.toml", Some(&member), Some(&src_file)).unwrap_err();
        assert_eq!(
            tried,
            [member.join("nope.toml"), member.join("src/nope.toml")]
        );
        // A relative source path alone is never used (the result must be absolute).
        assert!(locate("local.toml", None, Some(Path::new("src/x.rs"))).is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn discovery_shows_the_file_relative_to_the_crate() {
        let dir = tmp();
        let ws = dir.join("ws");
        let member = ws.join("member");
        std::fs::write(
            ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"member\"]\n",
        )
        .unwrap();
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"member\"\n").unwrap();
        let err = discover(Some(&member)).unwrap_err();
        assert!(
            err.starts_with("no msal.toml found; looked for `msal.toml`, `../msal.toml`"),
            "{err}"
        );
        std::fs::write(ws.join("msal.toml"), "").unwrap();
        let l = discover(Some(&member)).unwrap();
        assert_eq!(l.abs, ws.join("msal.toml"));
        assert_eq!(l.display, Path::new("../msal.toml"));
        assert!(discover(None)
            .unwrap_err()
            .contains("CARGO_MANIFEST_DIR is not set"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d.toml")),
            Path::new("/a/c/d.toml")
        );
        assert_eq!(normalize(Path::new("/a/../../x")), Path::new("/x"));
        assert_eq!(normalize(Path::new("../a/./b")), Path::new("../a/b"));
    }

    #[test]
    fn parses_are_reused_only_for_identical_text() {
        let dir = tmp();
        let path = dir.join("ws/msal.toml");
        std::fs::write(&path, "[apps]\n").unwrap();
        let loc = Located {
            abs: path.clone(),
            display: "msal.toml".into(),
        };
        let a = read_and_parse(&loc).unwrap();
        let b = read_and_parse(&loc).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.result.is_err());
        assert!(a.first_report());
        assert!(!b.first_report());
        std::fs::write(&path, "[apps]\n# edited\n").unwrap();
        let c = read_and_parse(&loc).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.source, "[apps]\n# edited\n");
        std::fs::remove_dir_all(dir).ok();
    }
}
