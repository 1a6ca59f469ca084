//! A cache file shared by processes: advisory lock, re-read on change, atomic replace.
//!
//! Readers take no lock: writers replace the file atomically (write a temporary file,
//! then rename it over the cache), so a read always sees one whole version. Writers take
//! an advisory lock on `{path}.lock`, re-read the file, apply their change and replace it,
//! so concurrent writers in several processes never lose each other's entries.
//!
//! "Has the file changed since we read it?" is answered from its size, modification time
//! and inode, and, while the modification time is too recent to be trusted (file systems
//! with coarse timestamps give two quick writes the same time), from a digest of the
//! content: the "racily clean" problem that git's index solves the same way. Writers
//! always re-read under the lock.

use super::store::CacheData;
use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// Modification times this close to (or after) the moment we looked are not trusted to
/// tell versions apart: covers 1 s (HFS+, ext3) and 2 s (FAT) timestamp resolutions.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What the file looked like when we last read or wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    /// The inode (unix): an atomic replace makes a new file.
    inode: u64,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    stamp: Stamp,
    digest: [u8; 32],
    /// When we took `stamp` (a time no later than the stat).
    at: SystemTime,
}

impl Seen {
    /// Whether the stamp alone can be trusted to mean "unchanged".
    fn stamp_is_conclusive(&self) -> bool {
        match self.stamp.modified {
            Some(m) => m + RACY_WINDOW < self.at,
            None => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    seen: Mutex<Option<Seen>>,
}

/// The advisory lock, released on drop.
struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl FileStore {
    pub(crate) fn new(path: PathBuf) -> Result<Self> {
        if path.as_os_str().is_empty() {
            return Err(Error::config("token_cache", "the cache file path is empty"));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| Error::cache(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Ok(FileStore {
            path,
            lock_path: lock_path.into(),
            seen: Mutex::new(None),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Result<Option<Stamp>> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some(Stamp {
                modified: m.modified().ok(),
                len: m.len(),
                inode: inode(&m),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::cache(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn lock(&self) -> Result<Locked> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| {
                Error::cache(format!(
                    "cannot open lock file {}: {e}",
                    self.lock_path.display()
                ))
            })?;
        lock.lock()
            .map_err(|e| Error::cache(format!("cannot lock {}: {e}", self.lock_path.display())))?;
        Ok(Locked(lock))
    }

    /// Re-reads the file if it changed since we last saw it. Takes no lock unless the
    /// file turns out to be corrupt.
    pub(crate) fn reload_if_changed(&self, data: &RwLock<CacheData>) -> Result<()> {
        self.reload(data, false)
    }

    /// `locked`: the caller holds the advisory lock (then the file is always read).
    fn reload(&self, data: &RwLock<CacheData>, locked: bool) -> Result<()> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let looked_at = SystemTime::now();
        let Some(stamp) = self.stamp()? else {
            // No file (yet, or someone deleted it): keep what we hold.
            return Ok(());
        };
        if !locked {
            if let Some(s) = &*seen {
                if s.stamp == stamp && s.stamp_is_conclusive() {
                    return Ok(());
                }
            }
        }
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::cache(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )))
            }
        };
        let digest = openssl::sha::sha256(&bytes);
        if seen.as_ref().is_some_and(|s| s.digest == digest) {
            *seen = Some(Seen {
                stamp,
                digest,
                at: looked_at,
            });
            return Ok(());
        }
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| "the cache is not UTF-8 text".to_string())
            .and_then(CacheData::deserialize);
        match parsed {
            Ok(mut parsed) => {
                let mut d = data.write().unwrap_or_else(|p| p.into_inner());
                parsed.track_changes = d.track_changes;
                *d = parsed;
                *seen = Some(Seen {
                    stamp,
                    digest,
                    at: looked_at,
                });
                Ok(())
            }
            Err(reason) if locked => {
                self.set_aside(&reason);
                *seen = None;
                Ok(())
            }
            Err(_) => {
                // Only move the file under the lock: a writer may be replacing it with a
                // good version right now, and that one must not be moved aside.
                drop(seen);
                let _lock = self.lock()?;
                self.reload(data, true)
            }
        }
    }

    /// Keeps a corrupt file for inspection instead of overwriting it; the in-memory
    /// state stays as it was and is written anew on the next change.
    /// Called with the lock held.
    fn set_aside(&self, reason: &str) {
        let epoch = CacheData::now();
        let aside = (0u32..)
            .map(|n| {
                let mut name = self.path.clone().into_os_string();
                match n {
                    0 => name.push(format!(".corrupt-{epoch}")),
                    n => name.push(format!(".corrupt-{epoch}-{n}")),
                }
                PathBuf::from(name)
            })
            .find(|p| !p.exists())
            .expect("an unused name exists");
        match fs::rename(&self.path, &aside) {
            Ok(()) => tracing::warn!(
                path = %self.path.display(),
                moved_to = %aside.display(),
                "the token cache file is corrupt ({reason}); it was moved aside and the cache \
                 continues with the tokens held in memory"
            ),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "the token cache file is corrupt ({reason}) and could not be moved aside: {e}")
            }
        }
    }

    /// Lock, catch up with other writers, apply the change, write atomically, unlock.
    pub(crate) fn modify<R>(
        &self,
        data: &RwLock<CacheData>,
        f: impl FnOnce(&mut CacheData) -> R,
    ) -> Result<R> {
        let _lock = self.lock()?;
        self.reload(data, true)?;
        let (out, text) = {
            let mut guard = data.write().unwrap_or_else(|p| p.into_inner());
            let out = f(&mut guard);
            (out, guard.serialize())
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let looked_at = SystemTime::now();
        self.write_atomically(text.as_bytes())?;
        *seen = self.stamp()?.map(|stamp| Seen {
            stamp,
            digest: openssl::sha::sha256(text.as_bytes()),
            at: looked_at,
        });
        Ok(out)
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<()> {
        let err =
            |e: std::io::Error| Error::cache(format!("cannot write {}: {e}", self.path.display()));
        let mut opts = OpenOptions::new();
        // A new file of our own: never follow or reuse whatever else has the name.
        opts.create_new(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let (tmp, mut file) = {
            let mut attempt = 0;
            loop {
                let mut tmp = self.path.clone().into_os_string();
                tmp.push(format!(
                    ".tmp-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                ));
                let tmp = PathBuf::from(tmp);
                match opts.open(&tmp) {
                    Ok(f) => break (tmp, f),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 3 => {
                        attempt += 1
                    }
                    Err(e) => return Err(err(e)),
                }
            }
        };
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                fs::rename(&tmp, &self.path)
            });
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            err(e)
        })
    }
}

#[cfg(unix)]
fn inode(m: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &fs::Metadata) -> u64 {
    0
}
