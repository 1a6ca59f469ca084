//! Finding `msal.toml` when no path is given: from a crate's directory up to its
//! workspace root, so the crates of a monorepo share one file at the root.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// The name [`discover`] looks for.
pub const CONFIG_FILE_NAME: &str = "msal.toml";

/// A `msal.toml` found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The file: the directory it was found in joined with [`CONFIG_FILE_NAME`].
    pub path: PathBuf,
    /// The same file relative to the directory the search started from (`msal.toml`,
    /// `../msal.toml`, `../../msal.toml`, ...): what `config = "..."` would have said, so
    /// messages do not depend on where the tree is checked out.
    pub relative: PathBuf,
}

/// Why [`discover`] found nothing: the directories it looked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDiscovered {
    /// Every directory looked in, nearest first; the last is the bound.
    pub searched: Vec<PathBuf>,
    /// The workspace root the search stopped at; `None` when the crate is in no workspace
    /// (then only its own directory is looked in).
    pub workspace_root: Option<PathBuf>,
    start: PathBuf,
}

impl fmt::Display for NotDiscovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let looked: Vec<String> = self
            .searched
            .iter()
            .map(|d| {
                format!(
                    "`{}`",
                    relative_to(&self.start, &d.join(CONFIG_FILE_NAME)).display()
                )
            })
            .collect();
        write!(
            f,
            "no {CONFIG_FILE_NAME} found; looked for {}",
            looked.join(", ")
        )?;
        match &self.workspace_root {
            Some(_) if self.searched.len() > 1 => write!(
                f,
                " (up to the workspace root, whose Cargo.toml has [workspace])"
            ),
            Some(_) => write!(f, " (the root of its Cargo workspace)"),
            None => write!(f, " (not inside a Cargo workspace: only this directory)"),
        }
    }
}

impl std::error::Error for NotDiscovered {}

/// Finds `msal.toml` for the crate whose `Cargo.toml` is in `start` (its
/// `CARGO_MANIFEST_DIR`): `start/msal.toml`, then each parent directory's, up to and
/// including the crate's workspace root; the first file found wins, so a crate's own file
/// overrides the workspace's.
///
/// The workspace root is found as cargo finds it: the crate's own `Cargo.toml` if it has
/// a `[workspace]` table, the directory named by its `package.workspace` key, else the
/// nearest parent directory whose `Cargo.toml` has a `[workspace]` table that does not
/// `exclude` the crate. A crate in no workspace is its own root: only `start` is looked
/// in, never a directory above it that belongs to something else.
///
/// `start` should be absolute (`CARGO_MANIFEST_DIR` is); it is used lexically (no
/// symlinks are resolved). Only files are read, nothing is written.
///
/// ```
/// use msal_config::discover;
/// # let tmp = std::env::temp_dir().join(format!("msal-discover-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&tmp);
/// // A monorepo: one msal.toml at the workspace root, service crates below it.
/// let root = tmp.join("shop");
/// std::fs::create_dir_all(root.join("services/orders"))?;
/// std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"services/*\"]\n")?;
/// std::fs::write(root.join("msal.toml"), "[apps]\n")?;
/// std::fs::write(root.join("services/orders/Cargo.toml"), "[package]\nname = \"orders\"\n")?;
///
/// let found = discover(&root.join("services/orders")).unwrap();
/// assert_eq!(found.path, root.join("msal.toml"));
/// assert_eq!(found.relative, std::path::Path::new("../../msal.toml"));
/// # std::fs::remove_dir_all(&tmp)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn discover(start: &Path) -> Result<Discovered, NotDiscovered> {
    let start = lexical(start);
    let root = workspace_root(&start);
    let bound = root.clone().unwrap_or_else(|| start.clone());
    let mut searched = Vec::new();
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE_NAME);
        if candidate.is_file() {
            return Ok(Discovered {
                relative: relative_to(&start, &candidate),
                path: candidate,
            });
        }
        searched.push(dir.to_path_buf());
        if dir == bound {
            break;
        }
    }
    Err(NotDiscovered {
        searched,
        workspace_root: root,
        start,
    })
}

/// The workspace root of the crate whose `Cargo.toml` is in `crate_dir`, as [`discover`]
/// bounds its search; `None` when the crate is in no workspace. Unreadable or invalid
/// manifests above the crate are skipped (cargo itself reports those).
///
/// ```
/// # let tmp = std::env::temp_dir().join(format!("msal-ws-root-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&tmp);
/// std::fs::create_dir_all(tmp.join("ws/member"))?;
/// std::fs::write(tmp.join("ws/Cargo.toml"), "[workspace]\nmembers = [\"member\"]\n")?;
/// std::fs::write(tmp.join("ws/member/Cargo.toml"), "[package]\nname = \"member\"\n")?;
/// assert_eq!(msal_config::workspace_root(&tmp.join("ws/member")), Some(tmp.join("ws")));
/// # std::fs::remove_dir_all(&tmp)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn workspace_root(crate_dir: &Path) -> Option<PathBuf> {
    let crate_dir = lexical(crate_dir);
    if let Some(own) = read_manifest(&crate_dir) {
        let doc = DeTable::parse(&own).ok();
        let doc = doc.as_ref().map(|d| d.get_ref());
        if doc.is_some_and(|d| table(d, "workspace").is_some()) {
            return Some(crate_dir);
        }
        let explicit = doc
            .and_then(|d| table(d, "package"))
            .and_then(|p| p.get("workspace"))
            .and_then(|w| match w.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => None,
            });
        if let Some(rel) = explicit {
            return Some(lexical(&crate_dir.join(rel)));
        }
    }
    for dir in crate_dir.ancestors().skip(1) {
        let Some(text) = read_manifest(dir) else {
            continue;
        };
        let Ok(doc) = DeTable::parse(&text) else {
            continue;
        };
        let Some(ws) = table(doc.get_ref(), "workspace") else {
            continue;
        };
        let excluded = ws
            .get("exclude")
            .and_then(|e| match e.get_ref() {
                DeValue::Array(items) => Some(items),
                _ => None,
            })
            .is_some_and(|items| {
                items.iter().any(|item| match item.get_ref() {
                    DeValue::String(p) => crate_dir.starts_with(lexical(&dir.join(&**p))),
                    _ => false,
                })
            });
        if !excluded {
            return Some(dir.to_path_buf());
        }
    }
    None
}

fn read_manifest(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("Cargo.toml")).ok()
}

fn table<'a, 'de>(t: &'a DeTable<'de>, key: &str) -> Option<&'a DeTable<'de>> {
    match t.get(key)?.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

/// `..` resolved and `.` removed, without touching the file system.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `target` (below an ancestor of `from`, or in `from`) written relative to `from`.
fn relative_to(from: &Path, target: &Path) -> PathBuf {
    let mut up = PathBuf::new();
    for anc in from.ancestors() {
        if let Ok(rest) = target.strip_prefix(anc) {
            let rel = up.join(rest);
            return if rel.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                rel
            };
        }
        up.push("..");
    }
    target.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir = std::env::temp_dir().join(format!(
                "msal-config-discover-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }
        fn file(&self, rel: &str, text: &str) -> &Tree {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            self
        }
        fn dir(&self, rel: &str) -> PathBuf {
            self.0.join(rel)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const WS: &str = "[workspace]\nmembers = [\"services/*\"]\n";
    const PKG: &str = "[package]\nname = \"x\"\nversion = \"0.1.0\"\n";

    #[test]
    fn walks_up_to_the_workspace_root() {
        let t = Tree::new("walk");
        t.file("repo/Cargo.toml", WS)
            .file("repo/msal.toml", "")
            .file("repo/services/orders/Cargo.toml", PKG);
        let found = discover(&t.dir("repo/services/orders")).unwrap();
        assert_eq!(found.path, t.dir("repo/msal.toml"));
        assert_eq!(found.relative, Path::new("../../msal.toml"));
        // A crate at the root itself.
        let found = discover(&t.dir("repo")).unwrap();
        assert_eq!(found.relative, Path::new("msal.toml"));
    }

    #[test]
    fn the_nearest_file_wins() {
        let t = Tree::new("nearest");
        t.file("repo/Cargo.toml", WS)
            .file("repo/msal.toml", "")
            .file("repo/services/msal.toml", "")
            .file("repo/services/billing/Cargo.toml", PKG)
            .file("repo/services/billing/msal.toml", "");
        let found = discover(&t.dir("repo/services/billing")).unwrap();
        assert_eq!(found.relative, Path::new("msal.toml"));
        std::fs::remove_file(t.dir("repo/services/billing/msal.toml")).unwrap();
        let found = discover(&t.dir("repo/services/billing")).unwrap();
        assert_eq!(found.path, t.dir("repo/services/msal.toml"));
        assert_eq!(found.relative, Path::new("../msal.toml"));
    }

    #[test]
    fn never_looks_above_the_workspace_root() {
        let t = Tree::new("bound");
        t.file("msal.toml", "")
            .file("repo/Cargo.toml", WS)
            .file("repo/services/orders/Cargo.toml", PKG);
        let err = discover(&t.dir("repo/services/orders")).unwrap_err();
        assert_eq!(
            err.searched,
            [
                t.dir("repo/services/orders"),
                t.dir("repo/services"),
                t.dir("repo")
            ]
        );
        assert_eq!(err.workspace_root, Some(t.dir("repo")));
        assert_eq!(
            err.to_string(),
            "no msal.toml found; looked for `msal.toml`, `../msal.toml`, `../../msal.toml` \
             (up to the workspace root, whose Cargo.toml has [workspace])"
        );
    }

    #[test]
    fn a_crate_in_no_workspace_has_only_its_own_directory() {
        let t = Tree::new("standalone");
        t.file("msal.toml", "").file("app/Cargo.toml", PKG);
        assert_eq!(workspace_root(&t.dir("app")), None);
        let err = discover(&t.dir("app")).unwrap_err();
        assert_eq!(err.searched, [t.dir("app")]);
        assert_eq!(
            err.to_string(),
            "no msal.toml found; looked for `msal.toml` (not inside a Cargo workspace: only this directory)"
        );
    }

    #[test]
    fn own_workspace_table_and_explicit_package_workspace() {
        let t = Tree::new("own");
        t.file("repo/Cargo.toml", WS)
            .file("repo/msal.toml", "")
            .file(
                "repo/tools/single/Cargo.toml",
                &format!("{PKG}\n[workspace]\n"),
            )
            .file(
                "repo/deep/a/b/Cargo.toml",
                "[package]\nname = \"b\"\nworkspace = \"../..\"\n",
            );
        // Its own [workspace]: the root of its own workspace.
        assert_eq!(
            workspace_root(&t.dir("repo/tools/single")),
            Some(t.dir("repo/tools/single"))
        );
        let err = discover(&t.dir("repo/tools/single")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no msal.toml found; looked for `msal.toml` (the root of its Cargo workspace)"
        );
        // `package.workspace` names the root (here `repo/deep`, which has no file).
        assert_eq!(
            workspace_root(&t.dir("repo/deep/a/b")),
            Some(t.dir("repo/deep"))
        );
        assert!(discover(&t.dir("repo/deep/a/b")).is_err());
    }

    #[test]
    fn an_excluding_workspace_is_skipped() {
        let t = Tree::new("exclude");
        t.file("outer/Cargo.toml", WS)
            .file("outer/msal.toml", "")
            .file(
                "outer/repo/Cargo.toml",
                "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"examples/demo\"]\n",
            )
            .file("outer/repo/examples/demo/Cargo.toml", PKG)
            .file("outer/repo/crates/a/Cargo.toml", PKG);
        // The member's root is `repo`, which has no msal.toml: `outer`'s is not used.
        assert_eq!(
            workspace_root(&t.dir("outer/repo/crates/a")),
            Some(t.dir("outer/repo"))
        );
        assert!(discover(&t.dir("outer/repo/crates/a")).is_err());
        // The excluded crate belongs to the next workspace up, as cargo has it.
        assert_eq!(
            workspace_root(&t.dir("outer/repo/examples/demo")),
            Some(t.dir("outer"))
        );
        let found = discover(&t.dir("outer/repo/examples/demo")).unwrap();
        assert_eq!(found.relative, Path::new("../../../msal.toml"));
    }

    #[test]
    fn broken_manifests_above_are_skipped_and_directories_named_msal_toml_ignored() {
        let t = Tree::new("broken");
        t.file("repo/Cargo.toml", WS)
            .file("repo/msal.toml", "")
            .file("repo/services/Cargo.toml", "this is [not toml")
            .file("repo/services/orders/Cargo.toml", PKG);
        std::fs::create_dir_all(t.dir("repo/services/orders/msal.toml")).unwrap();
        let found = discover(&t.dir("repo/services/orders")).unwrap();
        assert_eq!(found.path, t.dir("repo/msal.toml"));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/b/c"), Path::new("/a/msal.toml")),
            Path::new("../../msal.toml")
        );
        assert_eq!(
            relative_to(Path::new("/a"), Path::new("/a")),
            Path::new(".")
        );
        assert_eq!(lexical(Path::new("/a/b/../c/.")), Path::new("/a/c"));
    }
}
