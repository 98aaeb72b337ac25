//! Where the state document lives. A backend reads the document with a version and writes it
//! only if the version is still the one read (compare-and-swap), so that a shared backend
//! (etcd, [`super::etcd`]) slots in beside the local file without the engine changing. Every
//! backend stores the document through a [`Codec`] (secrets sealed when a key is given).
//!
//! The local file backend holds an exclusive lock on a lock file of its own beside the state
//! (the state file itself is replaced by rename, so a lock on it would not survive a write).
//! The lock is the operating system's (`flock`), released when its holder dies, so a killed
//! apply never leaves a stale lock; the lock file records the holder for the message a second
//! apply gets.

use super::crypt::Codec;
use super::{State, StateError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The version a document was read at (the local file: its serial; etcd: `mod_revision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version(pub u64);

/// A store of one state document.
#[async_trait::async_trait]
pub trait Backend: Send {
    /// Where it is, for messages (`.peerctl/state.json`, `etcd://…`).
    fn describe(&self) -> String;
    /// The current document (empty when none) and its version.
    async fn read(&mut self) -> Result<(State, Version), StateError>;
    /// Stores `state` if the stored version is still `expected`; returns the new version.
    /// [`StateError::Conflict`] when someone else wrote in between.
    async fn write(&mut self, state: &State, expected: Version) -> Result<Version, StateError>;
    /// True for a store other processes write at the same time (etcd); a local file is
    /// locked, so only its holder writes.
    fn shared(&self) -> bool {
        false
    }
    /// Waits until the stored version differs from `seen` or `timeout` passes; true when it
    /// changed. The default polls [`Backend::read`] every half second; etcd watches.
    async fn wait_for_change(
        &mut self,
        seen: Version,
        timeout: std::time::Duration,
    ) -> Result<bool, StateError> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if self.read().await?.1 != seen {
                return Ok(true);
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(false);
            }
            tokio::time::sleep((until - now).min(std::time::Duration::from_millis(500))).await;
        }
    }
    /// Ends the use of the store: a shared one releases the locks this run holds. Called
    /// once, after the last write; a local file's lock ends when the value is dropped.
    async fn close(&mut self) {}
}

/// Who holds a state lock (recorded in the lock file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub command: String,
}

impl Holder {
    /// This process, running `command`, from now.
    pub fn me(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            started: now_rfc3339(),
            command: command.to_string(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {})",
            self.command, self.pid, self.host, self.started
        )
    }
}

/// The state in a local file, locked for as long as this value lives.
pub struct LocalFile {
    path: PathBuf,
    /// Held open: closing it (or dying) releases the lock.
    _lock: std::fs::File,
    codec: Codec,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl LocalFile {
    /// The lock file of a state file: `NAME.lock` beside it.
    pub fn lock_path(path: &Path) -> PathBuf {
        let mut name = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "state".into());
        name.push(".lock");
        path.with_file_name(name)
    }

    /// Opens the state at `path` and takes its lock; `command` is recorded as the holder.
    /// Fails at once, naming the holder, when another process holds it.
    pub fn open(path: &Path, command: &str) -> Result<LocalFile, StateError> {
        let lock_path = Self::lock_path(path);
        let err = |source| StateError::Write {
            path: lock_path.display().to_string(),
            source,
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(err)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = f.read_to_string(&mut text);
                let holder = serde_json::from_str::<Holder>(&text)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "another process".into());
                return Err(StateError::Locked {
                    path: path.display().to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        let holder = Holder::me(command);
        let write = |f: &mut std::fs::File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.rewind()?;
            f.write_all(
                serde_json::to_string(&holder)
                    .unwrap_or_default()
                    .as_bytes(),
            )?;
            f.sync_all()
        };
        write(&mut f).map_err(err)?;
        Ok(LocalFile {
            path: path.to_path_buf(),
            _lock: f,
            codec: Codec::plain(),
        })
    }

    /// The same file, stored through `codec` (sealed secrets with a key).
    pub fn with_codec(mut self, codec: Codec) -> LocalFile {
        self.codec = codec;
        self
    }

    /// Reads the file without taking its lock (for commands that only read).
    pub fn read_unlocked(path: &Path, codec: &mut Codec) -> Result<State, StateError> {
        match std::fs::read(path) {
            Ok(bytes) => codec.decode(&bytes, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::empty()),
            Err(source) => Err(StateError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// The serial of the stored document (0 when none), read without opening its secrets.
    fn stored_serial(&self) -> Result<u64, StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.describe(),
                    source,
                })
            }
        };
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid {
                path: self.describe(),
                message: e.to_string(),
            })?;
        Ok(v.get("serial").and_then(|s| s.as_u64()).unwrap_or(0))
    }
}

#[async_trait::async_trait]
impl Backend for LocalFile {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn read(&mut self) -> Result<(State, Version), StateError> {
        let s = LocalFile::read_unlocked(&self.path, &mut self.codec)?;
        let v = Version(s.serial);
        Ok((s, v))
    }

    async fn write(&mut self, state: &State, expected: Version) -> Result<Version, StateError> {
        // The lock makes this process the only writer; the check still catches a file
        // replaced by hand while the lock was held.
        let found = self.stored_serial()?;
        if found != expected.0 {
            return Err(StateError::Conflict {
                path: self.describe(),
                expected: expected.0,
                found,
            });
        }
        let bytes = self.codec.encode(state, &self.describe())?;
        super::write_atomic(&self.path, &bytes)?;
        Ok(Version(state.serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_opener_is_refused_naming_the_holder_and_the_lock_dies_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = LocalFile::open(&path, "peerctl apply").unwrap();
        let e = LocalFile::open(&path, "peerctl destroy").err().unwrap();
        let msg = e.to_string();
        assert!(msg.contains("peerctl apply"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        LocalFile::open(&path, "peerctl destroy").unwrap();
    }

    #[tokio::test]
    async fn writes_are_compare_and_swap_on_the_serial() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut b = LocalFile::open(&path, "t").unwrap();
        let (mut s, v) = b.read().await.unwrap();
        assert_eq!(v, Version(0));
        s.serial = 1;
        let v1 = b.write(&s, v).await.unwrap();
        assert_eq!(v1, Version(1));
        s.serial = 2;
        let e = b.write(&s, v).await.unwrap_err();
        assert!(matches!(e, StateError::Conflict { found: 1, .. }), "{e}");
        assert_eq!(b.write(&s, v1).await.unwrap(), Version(2));
    }
}
