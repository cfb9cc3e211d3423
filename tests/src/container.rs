//! Real systemd in a container: a minimal Debian root filesystem built once with `mmdebstrap` and
//! cached under the target directory, and throw-away machines unpacked from it and booted with
//! `systemd-nspawn --boot`. Used by the opt-in boot test (`ENLIST_BOOT_TEST=1`, root only).
//!
//! The cache is a tarball named after a hash of everything that shapes it (suite, variant,
//! packages, mirror), so a changed package list builds a new one. It is never booted: every
//! [`Machine`] is a fresh extraction, so boots of one test cannot leak into another.
//!
//! A machine's root is a tmpfs of its own, mounted by the test and unmounted when the machine is
//! removed. On disk, deleting a few hundred MB that were already written back took ~30 s here
//! (the root filesystem is mounted with `discard`); in memory it is instant and touches no disk.
//!
//! The container shares the host's network (no `--private-network`), so a service in it reaches a
//! fake server the test runs on 127.0.0.1. `--register=no` because no `systemd-machined` runs
//! here; `--keep-unit` because without it nspawn asks the (absent) system bus for a scope.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The Debian suite of the rootfs: the one this project's machines and CI run (glibc 2.36, the
/// glibc the binary is built against, and systemd 252).
pub const SUITE: &str = "bookworm";

/// The mirror the machines' own apt uses (`/etc/apt/sources.list.d/debian.sources`);
/// `ENLIST_BOOT_MIRROR` overrides it.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// Upper bound of a machine's tmpfs (a minbase rootfs is ~210 MB, a debug `enlist` ~130 MB);
/// memory is only used for what is written.
const MACHINE_SIZE: &str = "2g";

/// Upper bound of the tmpfs mmdebstrap builds in (the tree plus the downloaded packages).
const BUILD_SIZE: &str = "2g";

/// How long nspawn gets to shut the container down after SIGTERM before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Where nspawn keeps per-machine state on the host; a boot must leave nothing there.
const NSPAWN_RUN_DIR: &str = "/run/systemd/nspawn";

/// What the boot test needs and is missing (empty: all there): root, and the host tools.
pub fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if effective_uid() != Some(0) {
        missing.push("root (systemd-nspawn and mmdebstrap's root mode need it)".to_owned());
    }
    for (tool, package) in [
        ("systemd-nspawn", "systemd-container"),
        ("mmdebstrap", "mmdebstrap"),
        ("systemctl", "systemd"),
        ("tar", "tar"),
    ] {
        if !on_path(tool) {
            missing.push(format!("{tool} (apt-get install {package})"));
        }
    }
    missing
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The target directory this test executable runs from (`target/<profile>/deps/e2e-…` → `target`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// A cached Debian root filesystem (a tarball).
#[derive(Debug)]
pub struct Rootfs {
    /// The tarball (read-only).
    pub tar: PathBuf,
    /// How long `mmdebstrap` took, when this call built it (`None`: taken from the cache).
    pub built_in: Option<Duration>,
}

/// Serialises cache look-ups within one test process (two tests asking at once build it once).
static CACHE: Mutex<()> = Mutex::new(());

impl Rootfs {
    /// The `minbase` rootfs of [`SUITE`] with `include` packages, from the cache in `cache_dir`
    /// or built now (`mmdebstrap`, ~20–30 s). Panics, with mmdebstrap's log, if the build fails.
    pub fn debian(cache_dir: &Path, include: &[&str]) -> Rootfs {
        let mirror =
            std::env::var("ENLIST_BOOT_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.to_owned());
        let options = [
            "--variant=minbase".to_owned(),
            format!("--include={}", include.join(",")),
        ];
        // Everything that changes the result is in the key (the tar layout too, should it change).
        let key_text = format!("tar/v1\n{}\n{SUITE}\n{mirror}\n", options.join("\n"));
        let key = &enlist::hash::sha256_hex(key_text.as_bytes())[..16];
        let tar = cache_dir.join(format!("rootfs-{SUITE}-{key}.tar"));

        let _guard = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if tar.is_file() {
            return Rootfs {
                tar,
                built_in: None,
            };
        }
        std::fs::create_dir_all(cache_dir).expect("create the rootfs cache directory");
        // Built under a temporary name and renamed: a concurrent or interrupted build never
        // leaves a half-written cache behind. mmdebstrap picks the format from the extension.
        let partial = cache_dir.join(format!(
            "rootfs-{SUITE}-{key}.partial-{}.tar",
            std::process::id()
        ));
        let log_path = cache_dir.join(format!("rootfs-{SUITE}-{key}.log"));
        let log = File::create(&log_path).expect("create the mmdebstrap log");
        // mmdebstrap assembles the tree in $TMPDIR. On a tmpfs: on this disk, dpkg's fsyncs and
        // deleting the tree afterwards (the root filesystem discards) made a 25 s build take 100 s.
        let workspace = BuildTmpfs::mount(
            cache_dir.join(format!("build-{}", std::process::id())),
            BUILD_SIZE,
        );
        let started = Instant::now();
        let status = Command::new("mmdebstrap")
            .env("TMPDIR", &workspace.0)
            .args(&options)
            .arg(SUITE)
            .arg(&partial)
            .arg(&mirror)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .status()
            .expect("run mmdebstrap");
        let built_in = started.elapsed();
        drop(workspace);
        if !status.success() {
            let _ = std::fs::remove_file(&partial);
            panic!(
                "mmdebstrap {} {SUITE} … {mirror} failed ({status}); its log ({}):\n{}",
                options.join(" "),
                log_path.display(),
                tail(&std::fs::read_to_string(&log_path).unwrap_or_default(), 40)
            );
        }
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o444))
            .expect("make the cached rootfs read-only");
        std::fs::rename(&partial, &tar).expect("move the rootfs into the cache");
        Rootfs {
            tar,
            built_in: Some(built_in),
        }
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One finished boot.
#[derive(Debug)]
pub struct Boot {
    /// From starting nspawn to its exit (the container powered itself off).
    pub duration: Duration,
    /// What nspawn and the container's console printed.
    pub console: String,
}

static MACHINES: AtomicU32 = AtomicU32::new(0);

/// A throw-away container: a scratch directory holding the root filesystem (`root/`, a tmpfs)
/// and the console logs. [`Machine::remove`] checks nothing is left behind, unmounts the root and
/// deletes the scratch directory. Dropped while the test panics, its journal and state are saved
/// to `kept/` beside the console logs first, and the path is printed.
pub struct Machine {
    name: String,
    scratch: PathBuf,
    root: PathBuf,
    mounted: bool,
    boots: u32,
    removed: bool,
}

impl Machine {
    /// Unpacks `rootfs` into a new tmpfs mounted in a new scratch directory under `runs_dir`.
    pub fn unpack(rootfs: &Rootfs, runs_dir: &Path) -> Machine {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        // Also the container's hostname and nspawn's key under /run/systemd/nspawn: unique.
        let name = format!(
            "enlist-boot-{}-{}-{nanos:x}",
            std::process::id(),
            MACHINES.fetch_add(1, Ordering::Relaxed)
        );
        let scratch = runs_dir.join(&name);
        let root = scratch.join("root");
        std::fs::create_dir_all(runs_dir).expect("create the runs directory");
        std::fs::create_dir(&scratch).expect("create the machine's scratch directory");
        std::fs::create_dir(&root).expect("create the machine's root");
        mount_tmpfs(&root, MACHINE_SIZE);
        // From here on, Drop unmounts it whatever happens.
        let machine = Machine {
            name,
            scratch,
            root,
            mounted: true,
            boots: 0,
            removed: false,
        };
        let status = Command::new("tar")
            .arg("--extract")
            .arg("--numeric-owner")
            .arg("--preserve-permissions")
            .arg("--file")
            .arg(&rootfs.tar)
            .arg("--directory")
            .arg(&machine.root)
            .status()
            .expect("run tar");
        assert!(
            status.success(),
            "unpack {} ({status})",
            rootfs.tar.display()
        );
        machine
    }

    /// The container's root directory on the host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of the container's absolute path `path`.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Writes `contents` to the container's `path` (parents created) with `mode`.
    pub fn write(&self, path: &str, contents: &str, mode: u32) {
        let target = self.path(path);
        std::fs::create_dir_all(target.parent().expect("a file path has a parent"))
            .expect("create parent directories");
        std::fs::write(&target, contents).expect("write into the container");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// Copies the host file or directory `from` to the container's `path`, keeping modes and
    /// ownership (`cp -a`).
    pub fn copy_in(&self, from: &Path, path: &str) {
        let target = self.path(path);
        std::fs::create_dir_all(target.parent().expect("a path has a parent"))
            .expect("create parent directories");
        let status = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(&target)
            .status()
            .expect("run cp");
        assert!(
            status.success(),
            "cp -a {} {}",
            from.display(),
            target.display()
        );
    }

    /// `systemctl --root=<root> enable <unit>`: the unit's own `[Install]` section decides.
    pub fn enable(&self, unit: &str) {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", self.root.display()))
            .args(["enable", unit])
            .output()
            .expect("run systemctl");
        assert!(
            out.status.success(),
            "systemctl --root enable {unit}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a program inside the container's root without booting it (`chroot`).
    pub fn chroot(&self, program: &str, args: &[&str]) -> std::process::Output {
        Command::new("chroot")
            .arg(&self.root)
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .expect("run chroot")
    }

    /// Boots the container and waits until it powers itself off. Panics, with the console
    /// output, if nspawn fails or the container is still running after `timeout` (it is then
    /// stopped: SIGTERM, which nspawn turns into an orderly shutdown, then SIGKILL). Also panics
    /// if the boot left anything behind (mounts, processes, nspawn state on the host).
    pub async fn boot(&mut self, timeout: Duration) -> Boot {
        self.boots += 1;
        let console_path = self.scratch.join(format!("console-{}.log", self.boots));
        let console = File::create(&console_path).expect("create the console log");
        let started = Instant::now();
        let mut child = tokio::process::Command::new("systemd-nspawn")
            .args(["--boot", "--console=pipe", "--register=no", "--keep-unit"])
            .arg(format!("--machine={}", self.name))
            .arg(format!("--directory={}", self.root.display()))
            // A test run under a service manager must not have nspawn report to it.
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("console handle"))
            .stderr(console)
            .kill_on_drop(true)
            .spawn()
            .expect("start systemd-nspawn");
        let status = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => status.expect("wait for systemd-nspawn"),
            Err(_) => {
                if let Some(pid) = child.id() {
                    let _ = Command::new("kill")
                        .args(["-TERM", &pid.to_string()])
                        .status();
                }
                if tokio::time::timeout(SHUTDOWN_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
                let leftovers = self.leftovers();
                self.clean_nspawn_state();
                panic!(
                    "the container did not power off within {timeout:?} (stopped; leftovers: \
                     {leftovers:?}); console:\n{}",
                    tail(&read(&console_path), 60)
                );
            }
        };
        let duration = started.elapsed();
        let console = read(&console_path);
        assert!(
            status.success(),
            "systemd-nspawn exited with {status}; console:\n{}",
            tail(&console, 60)
        );
        let leftovers = self.leftovers();
        assert!(
            leftovers.is_empty(),
            "the boot left {leftovers:?} behind; console:\n{}",
            tail(&console, 60)
        );
        Boot { duration, console }
    }

    /// What a finished boot must not leave behind: mounts under the root (or over our tmpfs),
    /// processes whose root is inside it, nspawn's propagation directory and image lock for this
    /// machine.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        let root = self.root.to_string_lossy().into_owned();
        let inside = |path: &str| path == root || path.starts_with(&format!("{root}/"));
        // Our own tmpfs is the one expected mount at the root itself.
        let mut expected = usize::from(self.mounted);
        for mount_point in mount_points() {
            if mount_point == root && expected > 0 {
                expected -= 1;
            } else if inside(&mount_point) {
                found.push(format!("mount {mount_point}"));
            }
        }
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(proc_root) = std::fs::read_link(entry.path().join("root"))
                && inside(&proc_root.to_string_lossy())
            {
                let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                found.push(format!("process {pid} ({})", comm.trim()));
            }
        }
        for path in self.nspawn_state() {
            if path.exists() {
                found.push(path.display().to_string());
            }
        }
        found
    }

    /// nspawn's host-side state for this machine: `propagate/<machine>` and the image lock
    /// `locks/inode-<dev>:<ino>`. Both are removed by nspawn on a clean exit, not when killed.
    fn nspawn_state(&self) -> Vec<PathBuf> {
        let run = Path::new(NSPAWN_RUN_DIR);
        let mut paths = vec![run.join("propagate").join(&self.name)];
        if let Ok(meta) = std::fs::metadata(&self.root) {
            paths.push(
                run.join("locks")
                    .join(format!("inode-{}:{}", meta.dev(), meta.ino())),
            );
        }
        paths
    }

    fn clean_nspawn_state(&self) {
        for path in self.nspawn_state() {
            let _ = std::fs::remove_dir(&path);
            let _ = std::fs::remove_file(&path);
        }
    }

    /// Unmounts the root's tmpfs (which frees it).
    fn unmount(&mut self) -> Result<(), String> {
        if !self.mounted {
            return Ok(());
        }
        unmount(&self.root)?;
        self.mounted = false;
        Ok(())
    }

    /// Asserts the machine left nothing behind, unmounts its root and deletes its scratch
    /// directory.
    pub fn remove(mut self) {
        let leftovers = self.leftovers();
        assert!(leftovers.is_empty(), "leftovers: {leftovers:?}");
        self.unmount().expect("unmount the machine's root");
        let root = self.root.to_string_lossy().into_owned();
        assert!(!mount_points().contains(&root), "{root} is still mounted");
        std::fs::remove_dir_all(&self.scratch).expect("remove the machine");
        assert!(!self.scratch.exists());
        self.removed = true;
    }

    /// Saves what a post-mortem needs from the tmpfs (the journal, the unit's state, the boot
    /// test's report, the config) to `kept/` in the scratch directory.
    fn keep_evidence(&self) {
        let kept = self.scratch.join("kept");
        for path in [
            "/var/log/journal",
            "/var/lib/enlist",
            "/var/lib/enlist-boot-test",
            "/etc/enlist",
        ] {
            let from = self.path(path);
            if from.exists() {
                let to = kept.join(path.trim_start_matches('/'));
                if let Some(parent) = to.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = Command::new("cp").arg("-a").arg(&from).arg(&to).status();
            }
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let mut err = std::io::stderr();
        // Never unmount or delete under something still mounted or running in it: keep it all
        // and say so.
        let leftovers = self.leftovers();
        if !leftovers.is_empty() {
            let _ = writeln!(
                err,
                "left as it is (still in use: {leftovers:?}): {}",
                self.scratch.display()
            );
            return;
        }
        if std::thread::panicking() {
            self.keep_evidence();
            let _ = writeln!(
                err,
                "kept for inspection (journal: `journalctl -D {}/kept/var/log/journal`): {}",
                self.scratch.display(),
                self.scratch.display()
            );
            if let Err(e) = self.unmount() {
                let _ = writeln!(err, "{e}");
            }
            return;
        }
        if self.unmount().is_ok() {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// Mounts a tmpfs of at most `size` on the existing directory `path`.
fn mount_tmpfs(path: &Path, size: &str) {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o"])
        .arg(format!("mode=0755,size={size}"))
        .arg("enlist-boot-test")
        .arg(path)
        .status()
        .expect("run mount");
    assert!(
        status.success(),
        "mount a tmpfs on {} ({status})",
        path.display()
    );
}

/// Unmounts `path` (never lazily: a busy mount stays, and says so).
fn unmount(path: &Path) -> Result<(), String> {
    let out = Command::new("umount")
        .arg(path)
        .output()
        .map_err(|e| format!("run umount: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "umount {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// A tmpfs directory for the duration of a build: unmounted and removed when dropped.
struct BuildTmpfs(PathBuf);

impl BuildTmpfs {
    fn mount(path: PathBuf, size: &str) -> BuildTmpfs {
        std::fs::create_dir(&path).expect("create the build directory");
        mount_tmpfs(&path, size);
        BuildTmpfs(path)
    }
}

impl Drop for BuildTmpfs {
    fn drop(&mut self) {
        match unmount(&self.0) {
            Ok(()) => {
                let _ = std::fs::remove_dir(&self.0);
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "{e}");
            }
        }
    }
}

/// Mount points of the host's mount table (`/proc/self/mountinfo`, field 5, octal escapes
/// undone for the space, tab, newline and backslash the kernel escapes).
fn mount_points() -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .map(|p| {
            p.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\012", "\n")
                .replace("\\134", "\\")
        })
        .collect()
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}
