//! Every file-based fact is read through a [`SysRoot`]: the directory that stands for `/`. With
//! `--root DIR` the whole gathering points at a fixture tree (a copy of a real server's `/sys` and
//! `/etc`); with `--target DIR` the installed system's own files (`/etc`) come from DIR while the
//! hardware comes from the running kernel ([`Roots`]).
//!
//! Paths are resolved inside the root as `chroot(2)` would ([`SysRoot::locate`]): an absolute
//! symlink target starts again at the root, `..` stops at it, and a lookup follows at most
//! [`MAX_SYMLINK_HOPS`] links. This matters on NixOS, where `/etc/hostname` is an absolute link
//! (`/etc/hostname → /etc/static/hostname → /nix/store/…-etc/etc/hostname`): followed by the host's
//! kernel it would name the *host's* file, and a preview of `/mnt` would propose the live system's
//! hostname. The walk is done in user space with `lstat`/`readlink`, one component at a time, so
//! the host is never consulted for a path inside the root. It is not a security boundary (a tree
//! changed while it is walked can race it); the trees read here are fixtures and a mounted disk.
//!
//! CPU and memory are *not* read through it: they come from the running kernel (SPEC §2).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks one lookup may follow before it is a loop: Linux's own limit (`MAXSYMLINKS`, 40), so
/// a tree that works under `chroot` works here and a cycle ends quickly.
pub const MAX_SYMLINK_HOPS: u32 = 40;

/// The directory that stands for `/` when reading facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysRoot {
    root: PathBuf,
}

/// Where facts come from: the installed system's files (`/etc`: hostname, machine-id, os-release;
/// and enlist's config and state) and the running machine (`/sys`, `/proc`: DMI, disks, NICs,
/// GPUs, boot id, mounts). The same directory for both, except under `--target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    /// The system whose identity and config are read: `/`, a fixture, or the target.
    pub system: SysRoot,
    /// The machine whose hardware is read: `/`, or a fixture.
    pub machine: SysRoot,
}

impl Roots {
    /// This machine, as it runs.
    pub fn host() -> Roots {
        Roots {
            system: SysRoot::host(),
            machine: SysRoot::host(),
        }
    }

    /// `--root DIR`: everything under DIR (fixtures and tests).
    pub fn fixture(dir: impl Into<PathBuf>) -> Roots {
        let root = SysRoot::new(dir);
        Roots {
            system: root.clone(),
            machine: root,
        }
    }

    /// `--target DIR`: the installed system mounted at DIR, on this machine's hardware.
    pub fn target(dir: impl Into<PathBuf>) -> Roots {
        Roots {
            system: SysRoot::new(dir),
            machine: SysRoot::host(),
        }
    }
}

/// What reading a fact file found. Unreadable is kept apart from absent because a root-only DMI
/// file read as a normal user changes the node's identity: the caller warns about it.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The file holds this (trimmed, non-empty) text.
    Value(String),
    /// No such file, or it is empty after trimming.
    Absent,
    /// The file exists but could not be read (usually: permission denied; or a symlink loop).
    Unreadable {
        /// The error's kind (permission denied gets a hint).
        kind: io::ErrorKind,
        /// The error, for the warning.
        reason: String,
    },
}

impl Read {
    /// The value, if any.
    pub fn value(self) -> Option<String> {
        match self {
            Read::Value(v) => Some(v),
            Read::Absent | Read::Unreadable { .. } => None,
        }
    }
}

/// A path found inside a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The path to open on this machine (the root joined with [`Located::inside`]).
    pub host: PathBuf,
    /// The path inside the root with every symlink resolved (`/nix/store/…-etc/etc/hostname`).
    pub inside: PathBuf,
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

    /// Where an absolute system path would be under the root *without* following any link: for
    /// messages ("cannot read /mnt/etc/hostname") only; reads go through [`SysRoot::locate`].
    pub fn path(&self, absolute: impl AsRef<Path>) -> PathBuf {
        let absolute = absolute.as_ref();
        self.root
            .join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

    /// Resolves an absolute system path inside the root as `chroot(2)` would, following every
    /// symlink (the last component too). Errors as the kernel's lookup would: `NotFound` for a
    /// missing component, `NotADirectory` for a file in the middle, and a loop error after
    /// [`MAX_SYMLINK_HOPS`] links.
    pub fn locate(&self, absolute: impl AsRef<Path>) -> io::Result<Located> {
        self.walk(absolute.as_ref(), false)
    }

    /// Where a path that may not exist yet lives on this machine: the existing part resolved as
    /// by [`SysRoot::locate`], the missing rest appended (a missing directory holds no link, so
    /// nothing after it can lead out of the root). For the config file, the state directory and
    /// paths a target's config names. Fails only on a loop or an unreadable directory.
    pub fn place(&self, absolute: impl AsRef<Path>) -> io::Result<PathBuf> {
        Ok(self.walk(absolute.as_ref(), true)?.host)
    }

    fn walk(&self, absolute: &Path, allow_missing: bool) -> io::Result<Located> {
        let mut todo: VecDeque<OsString> = parts(absolute).collect();
        let mut inside: Vec<OsString> = Vec::new();
        let mut host = self.root.clone();
        let mut hops = 0;
        while let Some(part) = todo.pop_front() {
            if part == ".." {
                // `..` of the root is the root: a link cannot climb out of the tree.
                if inside.pop().is_some() {
                    host.pop();
                }
                continue;
            }
            host.push(&part);
            let meta = match std::fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                Err(e) if allow_missing && e.kind() == io::ErrorKind::NotFound => {
                    inside.push(part);
                    for rest in todo {
                        host.push(&rest);
                        inside.push(rest);
                    }
                    break;
                }
                Err(e) => return Err(e),
            };
            if !meta.file_type().is_symlink() {
                if !meta.is_dir() && !todo.is_empty() {
                    return Err(io::Error::from(io::ErrorKind::NotADirectory));
                }
                inside.push(part);
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(io::Error::other(format!(
                    "more than {MAX_SYMLINK_HOPS} symbolic links (a loop?) resolving {} under {}",
                    absolute.display(),
                    self.root.display()
                )));
            }
            let target = std::fs::read_link(&host)?;
            host.pop();
            if target.has_root() {
                // An absolute target starts again at the root, never at the host's `/`.
                inside.clear();
                host.clone_from(&self.root);
            }
            for part in parts(&target).collect::<Vec<_>>().into_iter().rev() {
                todo.push_front(part);
            }
        }
        let inside = Path::new("/").join(inside.iter().collect::<PathBuf>());
        Ok(Located { host, inside })
    }

    /// Whether the path exists inside the root (links followed inside it).
    pub fn exists(&self, absolute: impl AsRef<Path>) -> bool {
        self.locate(absolute).is_ok()
    }

    /// Reads a small text file, trimmed. Missing or empty files are [`Read::Absent`]: containers and
    /// VMs lack whole classes of facts and that is not an error.
    pub fn read(&self, absolute: impl AsRef<Path>) -> Read {
        match self.read_bytes(absolute) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let trimmed = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
                if trimmed.is_empty() {
                    Read::Absent
                } else {
                    Read::Value(trimmed.to_owned())
                }
            }
            Err(e) if is_absent(&e) => Read::Absent,
            Err(e) => Read::Unreadable {
                kind: e.kind(),
                reason: e.to_string(),
            },
        }
    }

    /// Reads a file's bytes, as they are.
    pub fn read_bytes(&self, absolute: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        std::fs::read(self.locate(absolute)?.host)
    }

    /// Lists the entry names of a directory under the root, sorted; a missing directory is empty.
    pub fn list(&self, absolute: impl AsRef<Path>) -> Vec<String> {
        let Ok(dir) = self.locate(absolute) else {
            return Vec::new();
        };
        let mut names: Vec<String> = match std::fs::read_dir(dir.host) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// The last component of a symlink's target, the link itself not followed (sysfs
    /// `device/driver → ../../../bus/pci/drivers/ixgbe` gives `ixgbe`).
    pub fn link_name(&self, absolute: impl AsRef<Path>) -> Option<String> {
        let absolute = absolute.as_ref();
        let parent = self.locate(absolute.parent()?).ok()?;
        let target = std::fs::read_link(parent.host.join(absolute.file_name()?)).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    /// The path inside the root a path resolves to. Used to tell a disk's transport from where
    /// the kernel placed it (`…/ata1/…`, `…/usb2/…`).
    pub fn resolve(&self, absolute: impl AsRef<Path>) -> Option<String> {
        Some(self.locate(absolute).ok()?.inside.display().to_string())
    }
}

/// Whether a lookup error means "there is no such file" (rather than "it cannot be read").
pub fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The components of a path as names and `..` (the root and `.` carry no step).
fn parts(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_owned()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

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
        assert_eq!(root.read("/value/below-a-file"), Read::Absent);
        assert_eq!(root.read("/value"), Read::Value("Dell Inc.".into()));
    }

    /// NixOS's `/etc`: `/etc/hostname → /etc/static/hostname`, `/etc/static → /nix/store/…-etc/etc`.
    fn nixos_etc(dir: &Path, hostname: &str) {
        let store = dir.join("nix/store/0a1b2c3d-etc/etc");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("hostname"), format!("{hostname}\n")).unwrap();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        symlink("/nix/store/0a1b2c3d-etc/etc", dir.join("etc/static")).unwrap();
        symlink("/etc/static/hostname", dir.join("etc/hostname")).unwrap();
    }

    #[test]
    fn absolute_links_are_followed_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        nixos_etc(dir.path(), "rack1-n7");
        let root = SysRoot::new(dir.path());
        assert_eq!(root.read("/etc/hostname"), Read::Value("rack1-n7".into()));
        let found = root.locate("/etc/hostname").unwrap();
        assert_eq!(
            found.inside,
            PathBuf::from("/nix/store/0a1b2c3d-etc/etc/hostname")
        );
        assert_eq!(
            found.host,
            dir.path().join("nix/store/0a1b2c3d-etc/etc/hostname")
        );
        assert!(root.exists("/etc/static/hostname"));
    }

    #[test]
    fn an_absolute_link_never_reads_the_host() {
        // `/etc/hostname → /etc/hostname-of-host`: the host has its own /etc/hostname, but the
        // root does not hold the target, so the answer is "absent", never the host's name.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        symlink("/etc/hostname", dir.path().join("etc/name")).unwrap();
        symlink("/etc/passwd", dir.path().join("etc/passwd-link")).unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(root.read("/etc/passwd-link"), Read::Absent);
        assert_eq!(root.read("/etc/name"), Read::Absent);
        assert!(Path::new("/etc/passwd").exists(), "the host file exists");
    }

    #[test]
    fn dot_dot_stops_at_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("secret"), "inside\n").unwrap();
        // Outside the root, one level up: a lookup must not reach it.
        std::fs::write(dir.path().join("secret"), "outside\n").unwrap();
        symlink("../../../../secret", tree.join("etc/up")).unwrap();
        symlink("../../secret", tree.join("etc/two-up")).unwrap();
        let root = SysRoot::new(&tree);
        assert_eq!(root.read("/etc/up"), Read::Value("inside".into()));
        assert_eq!(root.read("/etc/two-up"), Read::Value("inside".into()));
        assert_eq!(root.read("/../secret"), Read::Value("inside".into()));
        assert_eq!(
            root.locate("/etc/up").unwrap().inside,
            PathBuf::from("/secret")
        );
    }

    #[test]
    fn relative_links_resolve_from_their_directory() {
        // sysfs: /sys/block/sda → ../devices/pci0000:00/…/block/sda
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("sys/devices/pci0000:00/ata1/block/sda");
        std::fs::create_dir_all(&device).unwrap();
        std::fs::write(device.join("size"), "1000\n").unwrap();
        std::fs::create_dir_all(dir.path().join("sys/block")).unwrap();
        symlink(
            "../devices/pci0000:00/ata1/block/sda",
            dir.path().join("sys/block/sda"),
        )
        .unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(root.read("/sys/block/sda/size"), Read::Value("1000".into()));
        assert_eq!(
            root.resolve("/sys/block/sda").as_deref(),
            Some("/sys/devices/pci0000:00/ata1/block/sda")
        );
        assert_eq!(root.list("/sys/block"), ["sda"]);
    }

    #[test]
    fn link_loops_end_with_an_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        symlink("/etc/b", dir.path().join("etc/a")).unwrap();
        symlink("a", dir.path().join("etc/b")).unwrap();
        symlink("self/x", dir.path().join("etc/self")).unwrap();
        let root = SysRoot::new(dir.path());
        for path in ["/etc/a", "/etc/self/x"] {
            let err = root.locate(path).unwrap_err();
            assert!(err.to_string().contains("symbolic links"), "{path}: {err}");
            assert!(matches!(root.read(path), Read::Unreadable { .. }), "{path}");
        }
        // A chain of exactly MAX_SYMLINK_HOPS links still resolves, as under Linux.
        std::fs::write(dir.path().join("etc/end"), "ok").unwrap();
        let mut previous = "end".to_owned();
        for i in 0..MAX_SYMLINK_HOPS {
            let name = format!("l{i}");
            symlink(&previous, dir.path().join("etc").join(&name)).unwrap();
            previous = name;
        }
        assert_eq!(
            root.read(format!("/etc/{previous}")),
            Read::Value("ok".into())
        );
        symlink(&previous, dir.path().join("etc/one-more")).unwrap();
        assert!(matches!(
            root.read("/etc/one-more"),
            Read::Unreadable { .. }
        ));
    }

    #[test]
    fn link_names_are_read_without_following() {
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("sys/devices/pci0000:00/0000:00:03.0");
        std::fs::create_dir_all(&device).unwrap();
        symlink("../../../bus/pci/drivers/ixgbe", device.join("driver")).unwrap();
        std::fs::create_dir_all(dir.path().join("sys/class/net")).unwrap();
        symlink(
            "../../devices/pci0000:00/0000:00:03.0",
            dir.path().join("sys/class/net/eno1"),
        )
        .unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(
            root.link_name("/sys/class/net/eno1/driver").as_deref(),
            Some("ixgbe")
        );
        assert_eq!(root.link_name("/sys/class/net/eno2/driver"), None);
    }

    #[test]
    fn missing_paths_are_placed_inside_the_root() {
        // NixOS keeps state on another file system: /var → /persist/var (absolute).
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("persist/var")).unwrap();
        symlink("/persist/var", dir.path().join("var")).unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(
            root.place("/var/lib/enlist").unwrap(),
            dir.path().join("persist/var/lib/enlist")
        );
        assert!(root.locate("/var/lib/enlist").is_err());
        assert_eq!(root.place("/var").unwrap(), dir.path().join("persist/var"));
    }

    #[test]
    fn roots_split_system_and_machine_only_for_a_target() {
        let fixture = Roots::fixture("/fx");
        assert_eq!(fixture.system, fixture.machine);
        let target = Roots::target("/mnt");
        assert_eq!(target.system.dir(), Path::new("/mnt"));
        assert!(target.machine.is_host());
        assert!(Roots::host().system.is_host());
    }
}
