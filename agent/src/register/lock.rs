//! One registration at a time per machine: an exclusive `flock` on `state_dir/lock`, held for the
//! whole run. The kernel releases it when the process dies (even by SIGKILL), so a crash never
//! leaves a stale lock; a second run waits until the first is done and then sees its marker. The
//! wait is part of the run: it polls ([`StateLock::try_acquire`]) within `run_timeout_secs` and
//! stops on SIGTERM like every other wait.
//!
//! The state directory is checked before anything is read from it or written to it: it must
//! belong to the running user and be writable by nobody else. A directory others can write lets
//! them plant a marker (a node that never registers) or symlinks that make a root run overwrite
//! another file. Files in it are opened without following symlinks ([`NOFOLLOW`]).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Lock file name inside the state directory.
pub const LOCK_FILE: &str = "lock";

/// `O_NOFOLLOW` for [`OpenOptionsExt::custom_flags`]: opening a symlink fails with `ELOOP`.
pub const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// The state directory cannot be created or locked, or is not safe to use (exit 73).
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// An I/O operation failed.
    #[error(
        "{path}: cannot {action}: {source}; check the state directory (StateDirectory=enlist under systemd)"
    )]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was attempted.
        action: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// Another run held the lock for as long as this run may last.
    #[error(
        "{path}: another enlist run held the lock for {waited_secs} s, this run's whole \
         run_timeout_secs; the unit tries again later (`systemctl status enlist` shows the other run)"
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// How long this run waited.
        waited_secs: u64,
    },
    /// Someone else could change what is in it.
    #[error("{path}: unsafe state directory: {reason}; {fix}")]
    Unsafe {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do.
        fix: String,
    },
}

impl StateLock {
    /// Creates the state directory if needed (mode 0700), checks that it is private to the
    /// running user ([`check_private`]) and takes the lock if it is free: `Ok(None)` while a
    /// concurrent run holds it. Never blocks.
    pub fn try_acquire(state_dir: &Path) -> Result<Option<StateLock>, LockError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| LockError::Io {
                path: state_dir.to_owned(),
                action: "create the state directory",
                source,
            })?;
        check_private(state_dir)?;
        let path = state_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(NOFOLLOW)
            .open(&path)
            .map_err(|source| LockError::Io {
                path: path.clone(),
                action: "open the lock file (it must not be a symlink)",
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StateLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(LockError::Io {
                path,
                action: "lock",
                source,
            }),
        }
    }
}

/// Refuses a state directory that is not owned by the running user, or that group or others may
/// write, or that is a symlink someone else planted. Checked before any request is made.
pub fn check_private(state_dir: &Path) -> Result<(), LockError> {
    let me = rustix::process::geteuid().as_raw();
    let unsafe_dir = |reason: String, fix: String| LockError::Unsafe {
        path: state_dir.to_owned(),
        reason,
        fix,
    };
    let stat = |follow: bool| {
        if follow {
            std::fs::metadata(state_dir)
        } else {
            std::fs::symlink_metadata(state_dir)
        }
        .map_err(|source| LockError::Io {
            path: state_dir.to_owned(),
            action: "inspect the state directory",
            source,
        })
    };
    let link = stat(false)?;
    if link.file_type().is_symlink() && link.uid() != me && link.uid() != 0 {
        return Err(unsafe_dir(
            format!(
                "it is a symlink owned by uid {} (enlist runs as uid {me})",
                link.uid()
            ),
            "remove the symlink, or point state_dir at a directory of your own".into(),
        ));
    }
    let meta = stat(true)?;
    if !meta.is_dir() {
        return Err(unsafe_dir(
            "it is not a directory".into(),
            "point state_dir at a directory".into(),
        ));
    }
    if meta.uid() != me {
        return Err(unsafe_dir(
            format!(
                "it is owned by uid {}, not by uid {me} that runs enlist",
                meta.uid()
            ),
            format!(
                "run `chown {me} {}` or point state_dir at a directory of your own",
                state_dir.display()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(
            format!("group or others may write to it (mode {mode:o})"),
            format!(
                "run `chmod go-w {}` (enlist creates it 0700)",
                state_dir.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn second_lock_is_busy_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::try_acquire(dir.path()).unwrap().unwrap();
        assert!(StateLock::try_acquire(dir.path()).unwrap().is_none());
        drop(first);
        assert!(StateLock::try_acquire(dir.path()).unwrap().is_some());
    }

    #[test]
    fn created_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("a/b");
        let _lock = StateLock::try_acquire(&state).unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn group_or_world_writable_directory_is_refused_and_untouched() {
        for mode in [0o777, 0o770, 0o1777, 0o722] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let err = StateLock::try_acquire(dir.path()).unwrap_err();
            assert!(matches!(err, LockError::Unsafe { .. }), "{mode:o}: {err}");
            assert!(err.to_string().contains("chmod go-w"), "{err}");
            assert!(
                !dir.path().join(LOCK_FILE).exists(),
                "nothing is created in an unsafe directory"
            );
        }
    }

    #[test]
    fn directory_of_another_user_is_refused() {
        if rustix::process::geteuid().as_raw() != 0 {
            eprintln!("skipped: changing a directory's owner needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), None).unwrap();
        let err = StateLock::try_acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        // A symlink to a private directory is fine when it is ours (root's here)...
        let private = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(private.path(), &link).unwrap();
        assert!(check_private(&link).is_ok());
        // ...but not when someone else planted it.
        std::os::unix::fs::lchown(&link, Some(65534), None).unwrap();
        let err = check_private(&link).unwrap_err();
        assert!(
            err.to_string().contains("symlink owned by uid 65534"),
            "{err}"
        );
    }

    #[test]
    fn planted_lock_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, state.join(LOCK_FILE)).unwrap();
        let err = StateLock::try_acquire(&state).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}
