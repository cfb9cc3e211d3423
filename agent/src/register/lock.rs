//! One registration at a time per machine: an exclusive `flock` on `state_dir/lock`, held for the
//! whole run. The kernel releases it when the process dies (even by SIGKILL), so a crash never
//! leaves a stale lock; a second run blocks until the first is done and then sees its marker.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Lock file name inside the state directory.
pub const LOCK_FILE: &str = "lock";

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// The state directory cannot be created or locked (exit 73).
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: cannot {action}: {source}; check the state directory (StateDirectory=enlist under systemd)"
)]
pub struct LockError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was attempted.
    pub action: &'static str,
    /// The I/O error.
    pub source: io::Error,
}

impl StateLock {
    /// Creates the state directory if needed (mode 0700) and takes the lock, waiting for a
    /// concurrent run to finish.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| LockError {
                path: state_dir.to_owned(),
                action: "create the state directory",
                source,
            })?;
        let path = state_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| LockError {
                path: path.clone(),
                action: "open the lock file",
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                log::info!(
                    "another enlist run holds {}; waiting for it",
                    path.display()
                );
                file.lock().map_err(|source| LockError {
                    path: path.clone(),
                    action: "lock",
                    source,
                })?;
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError {
                    path,
                    action: "lock",
                    source,
                });
            }
        }
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        let path = dir.path().to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = StateLock::acquire(&path).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err()
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }
}
