//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary directory as
//! an unprivileged user, start on a free loopback port, stop and delete it when the process ends.
//!
//! Lives with the agent's integration tests (the `enlist` crate tests from its own directory
//! alone); the end-to-end crate's benchmarks include it as source (`#[path]`), so it depends on
//! `std` only.
//!
//! - **Binaries**: `$ENLIST_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` (Debian's
//!   `postgresql` package), else `initdb`/`pg_ctl` on `PATH` (NixOS, Homebrew).
//! - **Root**: PostgreSQL refuses to run as root, and tests run as root in CI. Then the server
//!   runs as `postgres` (the Debian package creates that user) or else `nobody`, through
//!   `runuser` (util-linux, in every Debian) or `su`; its directory is handed to that user.
//! - **Port**: asked from the kernel (bind port 0), then given to the server; a lost race (another
//!   process took it) is retried with a new port.
//! - **Auth**: `scram-sha-256` over TCP with a random superuser password, so the wrong-password
//!   test means something; Unix sockets live in the temporary directory only.
//! - **Teardown** cannot rely on destructors (a `static` is never dropped), so a watchdog shell
//!   holds the read end of a pipe whose write end only this process has: when the process exits —
//!   normally, by panic, or killed — the pipe closes, and the watchdog stops the server
//!   (`pg_ctl stop -m immediate`) and deletes the directory. It ignores SIGINT/SIGHUP so a Ctrl-C
//!   on `cargo test` reaches the cleanup too.
//! - **Durability** is off (`fsync`, `synchronous_commit`, `full_page_writes`): this data dies
//!   with the test.
//!
//! [`shared_or_skip`] is the entry point: one server per process, started on first use. Without
//! PostgreSQL it returns `None` after printing why (so `cargo test` passes on a laptop without
//! it), unless `ENLIST_DB_TEST=1`, which CI sets: then it panics with the reason and the server
//! log.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The superuser the server is initialised with.
pub const SUPERUSER: &str = "postgres";

/// A running server.
pub struct Postgres {
    port: u16,
    password: String,
    base: PathBuf,
    bin: PathBuf,
    run_as: Option<RunAs>,
    /// The watchdog and the write end of its pipe: kept open until the process exits.
    _watchdog: Mutex<(Child, ChildStdin)>,
}

/// The unprivileged user the server runs as when we are root.
#[derive(Clone, Debug)]
struct RunAs {
    user: String,
    uid: u32,
    gid: u32,
}

static SHARED: OnceLock<Result<Postgres, String>> = OnceLock::new();

/// The process-wide server, or `None` (with a message on stderr) when PostgreSQL cannot be started
/// and `ENLIST_DB_TEST` is not `1`. Panics with the reason when it is.
pub fn shared_or_skip(what: &str) -> Option<&'static Postgres> {
    match SHARED.get_or_init(Postgres::start) {
        Ok(pg) => Some(pg),
        Err(reason) if required() => panic!(
            "{what}: ENLIST_DB_TEST=1 but PostgreSQL could not be started: {reason}\n(install \
             Debian's `postgresql` package, or set ENLIST_PG_BIN to a directory with initdb and \
             pg_ctl)"
        ),
        Err(reason) => {
            eprintln!(
                "skipping {what}: PostgreSQL unavailable ({reason}); set ENLIST_DB_TEST=1 to make \
                 this a failure"
            );
            None
        }
    }
}

/// Whether the database tests must run (`ENLIST_DB_TEST=1`, set by CI).
pub fn required() -> bool {
    std::env::var("ENLIST_DB_TEST").as_deref() == Ok("1")
}

impl Postgres {
    /// Initialises and starts a new server (see the module docs).
    pub fn start() -> Result<Postgres, String> {
        let bin = find_bin()?;
        let run_as = if effective_uid()? == 0 {
            Some(unprivileged_user()?)
        } else {
            None
        };
        let base = std::env::temp_dir().join(format!(
            "enlist-pg-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        fs::create_dir(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let result = Self::start_in(&base, bin, run_as);
        if result.is_err() && std::env::var_os("ENLIST_PG_KEEP").is_none() {
            let _ = fs::remove_dir_all(&base);
        }
        result
    }

    fn start_in(base: &Path, bin: PathBuf, run_as: Option<RunAs>) -> Result<Postgres, String> {
        let password = format!("pw-{:016x}", random_u64());
        let pwfile = base.join("pwfile");
        fs::write(&pwfile, &password).map_err(|e| format!("{}: {e}", pwfile.display()))?;
        let sockets = base.join("sockets");
        fs::create_dir(&sockets).map_err(|e| format!("{}: {e}", sockets.display()))?;
        if let Some(user) = &run_as {
            for path in [base, pwfile.as_path(), sockets.as_path()] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                    .map_err(|e| format!("chown {} to {}: {e}", path.display(), user.user))?;
            }
        }
        fs::set_permissions(base, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", base.display()))?;
        let data = base.join("data");
        let initdb_log = base.join("initdb.log");
        let status = as_user(&run_as, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .stdin(Stdio::null())
            .stdout(log_file(&initdb_log)?)
            .stderr(log_file(&initdb_log)?)
            .status()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !status.success() {
            return Err(format!(
                "initdb failed ({status}):\n{}",
                fs::read_to_string(&initdb_log).unwrap_or_default()
            ));
        }
        let server_log = base.join("postgres.log");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                sockets.display()
            );
            let ctl_log = base.join("pg_ctl.log");
            // Output into files, never pipes: the server would inherit a pipe and keep it open.
            let status = as_user(&run_as, &bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&server_log)
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .stdin(Stdio::null())
                .stdout(log_file(&ctl_log)?)
                .stderr(log_file(&ctl_log)?)
                .status()
                .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
            if status.success() {
                let watchdog = watchdog(base, &bin, &data, &run_as)?;
                return Ok(Postgres {
                    port,
                    password,
                    base: base.to_path_buf(),
                    bin,
                    run_as,
                    _watchdog: Mutex::new(watchdog),
                });
            }
            last_error = format!(
                "pg_ctl start failed ({status}):\n{}\n{}",
                fs::read_to_string(&ctl_log).unwrap_or_default(),
                fs::read_to_string(&server_log).unwrap_or_default()
            );
            if !last_error.contains("could not bind") && !last_error.contains("already in use") {
                break;
            }
        }
        Err(last_error)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A URL for `database` as the superuser, without TLS.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.base.join("data")
    }

    /// The server log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.base.join("postgres.log")).unwrap_or_default()
    }

    /// Runs SQL with `psql` as the superuser; returns unaligned, tuples-only output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .args(["-d", database, "-c", sql])
            .env("PGPASSWORD", &self.password)
            .env("PGSSLMODE", "disable")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Creates a fresh database named `name` (dropping one left over).
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\""))?;
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(())
    }

    /// Hands `path` to the server's user when running as root (a TLS key the server must read
    /// and own, for instance).
    pub fn give_to_server(&self, path: &Path) -> Result<(), String> {
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// A new directory inside the server's private directory, owned by the server's user.
    pub fn private_dir(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.base.join(name);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        self.give_to_server(&dir)?;
        Ok(dir)
    }

    /// Runs `pg_ctl` with `args` against this server's data directory, as the server's user.
    pub fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let log = self.base.join("pg_ctl.log");
        let status = as_user(&self.run_as, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(args)
            .stdin(Stdio::null())
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .status()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {args:?} failed: {}",
                fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }
}

fn log_file(path: &Path) -> Result<fs::File, String> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `program`, run as `run_as` when set.
fn as_user(run_as: &Option<RunAs>, program: &Path) -> Command {
    match (run_as, runuser()) {
        (None, _) => Command::new(program),
        (Some(user), Some(runuser)) => {
            let mut cmd = Command::new(runuser);
            cmd.args(["-u", &user.user, "--"]).arg(program);
            cmd
        }
        (Some(user), None) => {
            // `su USER -s /bin/sh -c 'exec "$0" "$@"' program args…`: no quoting of paths needed.
            let mut cmd = Command::new("su");
            cmd.args([&user.user, "-s", "/bin/sh", "-c", "exec \"$0\" \"$@\""])
                .arg(program);
            cmd
        }
    }
}

/// util-linux's `runuser` (in /usr/sbin, which a non-login PATH may lack).
fn runuser() -> Option<PathBuf> {
    ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("runuser"))
                    .find(|p| p.is_file())
            })
        })
}

fn find_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("ENLIST_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("ENLIST_PG_BIN={} has no initdb", dir.display()))
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        })
        .ok_or_else(|| "no initdb in /usr/lib/postgresql/*/bin or on PATH".to_owned())
}

/// The effective uid: the owner of `/proc/self` (std has no `geteuid`, and this crate stays free
/// of unsafe code).
fn effective_uid() -> Result<u32, String> {
    fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("/proc/self: {e}"))
}

fn unprivileged_user() -> Result<RunAs, String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 4
                && fields[0] == wanted
                && let (Ok(uid), Ok(gid)) = (fields[2].parse(), fields[3].parse())
            {
                return Ok(RunAs {
                    user: wanted.to_owned(),
                    uid,
                    gid,
                });
            }
        }
    }
    Err("running as root and there is no `postgres` or `nobody` user to run the server as".into())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Starts the process that stops the server when this process is gone (see the module docs).
fn watchdog(
    base: &Path,
    bin: &Path,
    data: &Path,
    run_as: &Option<RunAs>,
) -> Result<(Child, ChildStdin), String> {
    let stop = as_user(run_as, &bin.join("pg_ctl"));
    let mut words: Vec<String> = vec![stop.get_program().to_string_lossy().into_owned()];
    words.extend(stop.get_args().map(|a| a.to_string_lossy().into_owned()));
    // The paths are ours (temp dir + pid + nanos, and the binary directory): no quotes in them.
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "trap '' INT HUP; cat >/dev/null; {} -D '{}' stop -m immediate; rm -rf '{}'",
        quoted.join(" "),
        data.display(),
        base.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the watchdog: {e}"))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| "watchdog has no stdin".to_owned())?;
    // Nothing is ever written; a flush proves the pipe is open.
    stdin.flush().map_err(|e| format!("watchdog pipe: {e}"))?;
    Ok((child, stdin))
}
