//! Every file-based fact is read through a [`SysRoot`], so `--root DIR` can point the whole
//! gathering at a fixture tree (a copy of a real server's `/sys` and `/etc`) instead of `/`.
//!
//! CPU and memory are *not* read through it: they come from the running kernel (SPEC §2).

use std::io;
use std::path::{Path, PathBuf};

/// The directory that stands for `/` when reading facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysRoot {
    root: PathBuf,
}

/// What reading a fact file found. Unreadable is kept apart from absent because a root-only DMI
/// file read as a normal user changes the node's identity: the caller warns about it.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The file holds this (trimmed, non-empty) text.
    Value(String),
    /// No such file, or it is empty after trimming.
    Absent,
    /// The file exists but could not be read (usually: permission denied).
    Unreadable(io::ErrorKind),
}

impl Read {
    /// The value, if any.
    pub fn value(self) -> Option<String> {
        match self {
            Read::Value(v) => Some(v),
            Read::Absent | Read::Unreadable(_) => None,
        }
    }
}

impl SysRoot {
    /// The real root of this machine.
    pub fn host() -> SysRoot {
        SysRoot {
            root: PathBuf::from("/"),
        }
    }

    /// A fixture or mounted tree standing for `/`.
    pub fn new(root: impl Into<PathBuf>) -> SysRoot {
        SysRoot { root: root.into() }
    }

    /// Whether this is the real `/`.
    pub fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The directory standing for `/`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Maps an absolute system path (`/sys/class/dmi/id/product_uuid`) under the root.
    pub fn path(&self, absolute: impl AsRef<Path>) -> PathBuf {
        let absolute = absolute.as_ref();
        self.root
            .join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

    /// Reads a small text file, trimmed. Missing or empty files are [`Read::Absent`]: containers and
    /// VMs lack whole classes of facts and that is not an error.
    pub fn read(&self, absolute: impl AsRef<Path>) -> Read {
        read_text(&self.path(absolute))
    }

    /// Like [`SysRoot::read`] for a path that is already mapped under the root.
    pub fn read_mapped(&self, mapped: &Path) -> Read {
        read_text(mapped)
    }

    /// Lists the entry names of a directory under the root, sorted; a missing directory is empty.
    pub fn list(&self, absolute: impl AsRef<Path>) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(self.path(absolute)) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// The path a mapped path names relative to the root, after following every symlink. Used to
    /// tell a disk's transport from where the kernel placed it (`…/ata1/…`, `…/usb2/…`).
    pub fn resolve(&self, mapped: &Path) -> Option<String> {
        let canonical = std::fs::canonicalize(mapped).ok()?;
        let root = std::fs::canonicalize(&self.root).ok()?;
        let relative = canonical.strip_prefix(&root).ok()?;
        Some(format!("/{}", relative.display()))
    }
}

fn read_text(path: &Path) -> Read {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
            if trimmed.is_empty() {
                Read::Absent
            } else {
                Read::Value(trimmed.to_owned())
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Read::Absent,
        Err(e) => Read::Unreadable(e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_under_the_root() {
        let root = SysRoot::new("/fixtures/dell");
        assert_eq!(
            root.path("/sys/class/dmi/id/product_uuid"),
            PathBuf::from("/fixtures/dell/sys/class/dmi/id/product_uuid")
        );
        assert!(SysRoot::host().is_host());
        assert!(!root.is_host());
    }

    #[test]
    fn missing_and_empty_files_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty"), "  \n").unwrap();
        std::fs::write(dir.path().join("value"), " Dell Inc.\n").unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(root.read("/empty"), Read::Absent);
        assert_eq!(root.read("/missing"), Read::Absent);
        assert_eq!(root.read("/value"), Read::Value("Dell Inc.".into()));
    }
}
