//! A cache file shared by processes: advisory lock, re-read on change, atomic replace.

use super::store::CacheData;
use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

/// What the file looked like when we last read or wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Debug)]
pub(crate) struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    seen: Mutex<Option<Stamp>>,
}

impl FileStore {
    pub(crate) fn new(path: PathBuf) -> Result<Self> {
        if path.as_os_str().is_empty() {
            return Err(Error::config("token_cache", "the cache file path is empty"));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| Error::Cache(format!("cannot create {}: {e}", dir.display())))?;
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
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Cache(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Re-reads the file if it changed since we last saw it. Writers replace the file
    /// atomically, so no lock is needed to read a whole, consistent version.
    pub(crate) fn reload_if_changed(&self, data: &RwLock<CacheData>) -> Result<()> {
        let stamp = self.stamp()?;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_none() || *seen == stamp {
            return Ok(());
        }
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::Cache(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )))
            }
        };
        match CacheData::deserialize(&text) {
            Ok(parsed) => *data.write().unwrap_or_else(|p| p.into_inner()) = parsed,
            Err(reason) => self.set_aside(&reason),
        }
        *seen = stamp;
        Ok(())
    }

    /// Keeps a corrupt file for inspection instead of overwriting it; the in-memory
    /// state stays as it was and is written anew on the next change.
    fn set_aside(&self, reason: &str) {
        let epoch = CacheData::now();
        let mut aside = self.path.clone().into_os_string();
        aside.push(format!(".corrupt-{epoch}"));
        match fs::rename(&self.path, &aside) {
            Ok(()) => tracing::warn!(
                path = %self.path.display(),
                moved_to = %Path::new(&aside).display(),
                "the token cache file is corrupt ({reason}); it was moved aside"
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
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| {
                Error::Cache(format!(
                    "cannot open lock file {}: {e}",
                    self.lock_path.display()
                ))
            })?;
        lock.lock()
            .map_err(|e| Error::Cache(format!("cannot lock {}: {e}", self.lock_path.display())))?;
        let result = (|| {
            self.reload_if_changed(data)?;
            let (out, text) = {
                let mut guard = data.write().unwrap_or_else(|p| p.into_inner());
                let out = f(&mut guard);
                (out, guard.serialize())
            };
            self.write_atomically(text.as_bytes())?;
            *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = self.stamp()?;
            Ok(out)
        })();
        let _ = lock.unlock();
        result
    }

    fn write_atomically(&self, bytes: &[u8]) -> Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let err =
            |e: std::io::Error| Error::Cache(format!("cannot write {}: {e}", self.path.display()));
        let mut opts = OpenOptions::new();
        opts.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file: File = opts.open(&tmp).map_err(err)?;
        file.write_all(bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            err(e)
        })
    }
}
