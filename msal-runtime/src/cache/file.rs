//! A cache file shared by processes: the MSAL extensions' lock, re-read on change, atomic
//! replace.
//!
//! Writers take the lock every MSAL extension takes on `{path}.lockfile` (see
//! [`LockFile`]), re-read the file under it, apply their change and replace the file
//! atomically (a temporary file renamed over the cache), so a reader never sees half a file
//! written by this library, and writers in several processes (this library, MSAL Python
//! with msal-extensions, MSAL.NET with Microsoft.Identity.Client.Extensions.Msal) never
//! lose each other's entries. Readers take no lock; a file that does not parse (possibly
//! one MSAL Python is rewriting in place) is read again under the lock, and only set aside
//! when it still does not parse there.
//!
//! "Has the file changed since we read it?" is answered from its size, modification time
//! and inode, and, while the modification time is too recent to be trusted (file systems
//! with coarse timestamps give two quick writes the same time), from a digest of the
//! content: the "racily clean" problem that git's index solves the same way. Writers
//! always re-read under the lock.
//!
//! A look-up does not stat the file every time: after a check, the copy in memory is
//! trusted for [`FRESH_FOR`] (a hit then costs two atomic loads, no trip to the blocking
//! pool, no system call), so another process's write is seen by every call made
//! [`FRESH_FOR`] or more after it. Handles on one path in one process tell each other of
//! their writes through a shared generation counter, so those are seen at once.

use super::store::CacheData;
use super::DataCell;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// How long the copy in memory is trusted without looking at the file: a write by another
/// process is seen by any call that follows it by this much or more (less than the 100 ms
/// promised).
pub(crate) const FRESH_FOR: Duration = Duration::from_millis(50);

/// Monotonic nanoseconds since the first use in this process (0 means "never").
fn mono_nanos() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// The write counter shared by every handle on `path` in this process.
fn generation_of(path: &Path) -> Arc<AtomicU64> {
    static GENERATIONS: OnceLock<Mutex<HashMap<PathBuf, Arc<AtomicU64>>>> = OnceLock::new();
    let mut table = GENERATIONS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    table
        .entry(path.to_path_buf())
        .or_insert_with(|| Arc::new(AtomicU64::new(0)))
        .clone()
}

/// The name one file goes by in this process's generation table: its directory resolved
/// (symbolic links, `..`), so that two spellings of one path share a counter.
fn identity_of(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            fs::canonicalize(dir)
                .map(|d| d.join(name))
                .unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

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
    /// Serializes this handle's writers before they compete for the lock file.
    writers: Mutex<()>,
    /// Writes made through any handle on this file in this process.
    generation: Arc<AtomicU64>,
    /// The generation our copy reflects.
    seen_generation: AtomicU64,
    /// When (see [`mono_nanos`]) the last look at the file began; 0: never.
    checked_at: AtomicU64,
}

/// The lock held by a writer of this handle, released on drop.
struct Locked<'a> {
    _file: LockFile,
    _writers: MutexGuard<'a, ()>,
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
        Ok(FileStore {
            lock_path: lock_path_of(&path),
            generation: generation_of(&identity_of(&path)),
            path,
            seen: Mutex::new(None),
            writers: Mutex::new(()),
            seen_generation: AtomicU64::new(0),
            checked_at: AtomicU64::new(0),
        })
    }

    /// Whether the copy in memory may be used without looking at the file: checked less
    /// than [`FRESH_FOR`] ago and no handle of this process wrote since.
    pub(crate) fn is_fresh(&self) -> bool {
        let checked = self.checked_at.load(Ordering::Acquire);
        checked != 0
            && self.generation.load(Ordering::Acquire)
                == self.seen_generation.load(Ordering::Acquire)
            && mono_nanos().saturating_sub(checked) < FRESH_FOR.as_nanos() as u64
    }

    /// Records a look at the file that began at `at` with the shared counter at `generation`.
    fn mark_checked(&self, generation: u64, at: u64) {
        self.seen_generation.store(generation, Ordering::Release);
        self.checked_at.store(at, Ordering::Release);
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

    fn lock(&self) -> Result<Locked<'_>> {
        let writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        let file = LockFile::acquire(&self.lock_path, LOCK_TIMEOUT)?;
        Ok(Locked {
            _file: file,
            _writers: writers,
        })
    }

    /// Re-reads the file if it changed since we last saw it. Takes no lock unless the
    /// file turns out to be corrupt.
    pub(crate) fn reload_if_changed(&self, data: &DataCell) -> Result<()> {
        self.reload(data, false)
    }

    /// `locked`: the caller holds the advisory lock (then the file is always read).
    fn reload(&self, data: &DataCell, locked: bool) -> Result<()> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Taken before the stat: a write after this point is looked for again next time.
        let generation = self.generation.load(Ordering::Acquire);
        let began = mono_nanos();
        let out = self.reload_seen(&mut seen, data, locked)?;
        if out {
            self.mark_checked(generation, began);
            return Ok(());
        }
        // Only judge the file under the lock: MSAL Python rewrites it in place, so a read
        // without the lock may catch half of a good version.
        drop(seen);
        let _lock = self.lock()?;
        self.reload(data, true)
    }

    /// One look at the file; false when it did not parse without the lock held (then the
    /// caller looks again under the lock).
    fn reload_seen(&self, seen: &mut Option<Seen>, data: &DataCell, locked: bool) -> Result<bool> {
        let looked_at = SystemTime::now();
        let Some(stamp) = self.stamp()? else {
            // No file (yet, or someone deleted it): keep what we hold.
            return Ok(true);
        };
        if !locked {
            if let Some(s) = &*seen {
                if s.stamp == stamp && s.stamp_is_conclusive() {
                    return Ok(true);
                }
            }
        }
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
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
            return Ok(true);
        }
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| "the cache is not UTF-8 text".to_string())
            .and_then(|text| {
                if !locked && text.trim().is_empty() {
                    // MSAL Python rewrites the file in place: an empty file read without
                    // the lock may be one it has just truncated. Look again under the lock.
                    Err("the cache file is empty".to_string())
                } else {
                    CacheData::deserialize(text)
                }
            });
        match parsed {
            Ok(mut parsed) => {
                let mut d = data.write();
                parsed.track_changes = d.track_changes;
                *d = parsed;
                *seen = Some(Seen {
                    stamp,
                    digest,
                    at: looked_at,
                });
                Ok(true)
            }
            Err(reason) if locked => {
                self.set_aside(&reason);
                *seen = None;
                Ok(true)
            }
            Err(_) => Ok(false),
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
        data: &DataCell,
        f: impl FnOnce(&mut CacheData) -> R,
    ) -> Result<R> {
        let _lock = self.lock()?;
        self.reload(data, true)?;
        let (out, text) = {
            let mut guard = data.write();
            let out = f(&mut guard);
            (out, guard.serialize())
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let looked_at = SystemTime::now();
        let began = mono_nanos();
        self.write_atomically(text.as_bytes())?;
        // Other handles of this process look at the file on their next call.
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        *seen = self.stamp()?.map(|stamp| Seen {
            stamp,
            digest: openssl::sha::sha256(text.as_bytes()),
            at: looked_at,
        });
        self.mark_checked(generation, began);
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
        // A modification time taken now, with the lock held: later than the moment any
        // msal-extensions writer (which holds the same lock to write) noted as its last
        // sync, so it sees that the file changed even where the kernel's file timestamps
        // are coarser than its clock.
        let written = file
            .write_all(bytes)
            .and_then(|()| file.set_modified(SystemTime::now()))
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

/// How long a writer waits for the lock before giving up with an error (MSAL.NET waits
/// 60 s by default; msal-extensions 5 s).
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A lock file is judged abandoned only when it is at least this old, nobody holds an
/// advisory lock on it and the process it names is gone.
const STALE_AFTER: Duration = Duration::from_secs(3);

/// Without a readable process id, a lock file nobody locks is abandoned after this long.
const STALE_WITHOUT_PID_AFTER: Duration = Duration::from_secs(30);

/// `{path}.lockfile`: the name every MSAL extension (Python, .NET, Node) locks.
pub(crate) fn lock_path_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lockfile");
    PathBuf::from(name)
}

/// The cross-process lock of the MSAL extensions, taken the way each of them recognizes:
///
/// 1. create `{path}.lockfile` exclusively (`O_CREAT|O_EXCL`): msal-extensions 1.3.1
///    without portalocker locks by exclusive creation alone, and waits while the name
///    exists;
/// 2. take an advisory exclusive lock on it (`flock`/`LockFileEx`): MSAL.NET opens the
///    name without exclusive creation and locks it that way (so does msal-extensions with
///    portalocker), and it deletes the file when it lets go. If the name no longer
///    refers to our file once locked (a .NET process held it and deleted it), start over;
/// 3. write `"{pid} {program}"` into it, as the others do;
/// 4. on release, delete the name (if it is still ours), then unlock.
///
/// A lock file left by a crashed process (older than [`STALE_AFTER`], not locked by
/// anyone, naming a process that no longer exists) is deleted so that writers carry on.
#[derive(Debug)]
pub(crate) struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    pub(crate) fn acquire(path: &Path, timeout: Duration) -> Result<LockFile> {
        let deadline = Instant::now() + timeout;
        let mut delay = Duration::from_millis(1);
        loop {
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(path) {
                Ok(file) => {
                    if let Some(lock) = Self::lock_created(file, path, deadline)? {
                        return Ok(lock);
                    }
                    // The name was taken over and released by a holder that does not
                    // create exclusively: start over, without waiting.
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if break_if_abandoned(path) {
                        continue;
                    }
                }
                // Windows refuses to create a name whose deletion is pending (a holder
                // letting go right now): wait as for a held lock.
                Err(e) if cfg!(windows) && e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => {
                    return Err(Error::cache(format!(
                        "cannot create the lock file {}: {e}",
                        path.display()
                    )))
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::cache(format!(
                    "timed out after {} s waiting for the lock file {} (held by {})",
                    timeout.as_secs(),
                    path.display(),
                    holder(path)
                )));
            }
            std::thread::sleep(delay + jitter(delay));
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }

    /// Step 2 and 3 on a file we created; `None` when the name stopped being ours.
    fn lock_created(mut file: File, path: &Path, deadline: Instant) -> Result<Option<LockFile>> {
        let err = |e: std::io::Error| Error::cache(format!("cannot lock {}: {e}", path.display()));
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    // A process that opens without exclusive creation (MSAL.NET) got to our
                    // new file first; it deletes the name when done.
                    if Instant::now() >= deadline {
                        return Err(Error::cache(format!(
                            "timed out waiting for the lock file {}",
                            path.display()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(fs::TryLockError::Error(e)) => {
                    let _ = fs::remove_file(path);
                    return Err(err(e));
                }
            }
        }
        if !names_file(path, &file) {
            return Ok(None);
        }
        let program = std::env::args()
            .next()
            .unwrap_or_else(|| "msal-rust".to_string());
        // The content is informative only (who holds the lock); a failure to write it does
        // not weaken the lock.
        let _ = write!(file, "{} {program}", std::process::id());
        Ok(Some(LockFile {
            file,
            path: path.to_path_buf(),
        }))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Delete the name while still holding the advisory lock, so that a process that
        // opened it meanwhile finds, once it gets the lock, that the name is gone.
        #[cfg(unix)]
        if names_file(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
        // Windows does not delete a file that is open without sharing deletion.
        #[cfg(not(unix))]
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether `path` currently names the open `file` (unix: same device and inode).
#[cfg(unix)]
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn names_file(path: &Path, _file: &File) -> bool {
    path.exists()
}

/// A little randomness in waits, so that waiting processes do not move in step.
fn jitter(d: Duration) -> Duration {
    let r = uuid::Uuid::new_v4().as_u128() as u64 % 1000;
    d * (r as u32) / 1000
}

/// What a lock file says about its holder, for error messages.
fn holder(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => {
            format!(
                "\"{}\"",
                s.trim()
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .escape_debug()
            )
        }
        _ => "an unknown process".to_string(),
    }
}

/// Deletes a lock file left behind by a process that died holding it; true if it did.
fn break_if_abandoned(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    if age < STALE_AFTER {
        return false;
    }
    // A holder that locks (this library, MSAL.NET, msal-extensions with portalocker).
    if file.try_lock().is_err() {
        return false;
    }
    let content = fs::read_to_string(path).unwrap_or_default();
    let pid = content
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u32>().ok());
    let abandoned = match pid.and_then(process_exists) {
        Some(exists) => !exists,
        None => age >= STALE_WITHOUT_PID_AFTER,
    };
    if !abandoned || !names_file(path, &file) {
        return false;
    }
    match fs::remove_file(path) {
        Ok(()) => {
            tracing::warn!(
                lock_file = %path.display(),
                holder = %content.trim().escape_debug(),
                "removed a token cache lock file abandoned by a process that no longer exists"
            );
            true
        }
        Err(_) => false,
    }
}

/// Whether a process with this id exists on this machine, when that can be told.
fn process_exists(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

/// Reads a cache file without writing, renaming or locking anything (for inspection): a
/// file that does not parse is read again a few times (a writer may be rewriting it in
/// place) and then reported as an error. A missing file is `Ok(None)`.
pub(crate) fn read_snapshot(path: &Path) -> Result<Option<CacheData>> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50 * attempt));
        }
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::cache(format!("cannot read {}: {e}", path.display()))),
        };
        match std::str::from_utf8(&bytes)
            .map_err(|_| "the cache is not UTF-8 text".to_string())
            .and_then(CacheData::deserialize)
        {
            Ok(d) => return Ok(Some(d)),
            Err(reason) => last = reason,
        }
    }
    Err(Error::cache(format!(
        "cannot read {}: {last}",
        path.display()
    )))
}
