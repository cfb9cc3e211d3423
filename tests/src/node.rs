//! A simulated node: a copy of a fixture root (so tests can change its hardware, hostname or boot
//! id), a state directory, a config file and a token file, pointed at a [`FakeGitHub`]. Runs the
//! real `enlist` binary ([`Node::run`]) or the library entry point with a virtual clock
//! ([`Node::run_lib`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use enlist::clock::Clock;
use enlist::config::{Env, Overrides, RegisterConfig};
use enlist::facts::HostKernel;
use enlist::register::{Deps, RegisterError, Report};
use serde_json::Value;

use crate::fake::{FakeGitHub, TOKEN};

/// Path of the built binary (cargo builds it for this crate's tests since `enlist` is a
/// dependency; the path is resolved from the target directory).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("ENLIST_BIN") {
        return PathBuf::from(path);
    }
    // tests/ → target/<profile>/enlist, next to this test executable's directory.
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    profile_dir.join("enlist")
}

/// A fixture root tree from the agent's test fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/fixtures")
        .join(name)
}

/// Output of one binary run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

/// A simulated machine.
pub struct Node {
    dir: tempfile::TempDir,
    /// The root facts are read under.
    pub root: PathBuf,
    /// State directory.
    pub state: PathBuf,
    /// Config file.
    pub config: PathBuf,
    /// Token file.
    pub token_file: PathBuf,
    settings: Vec<(String, String)>,
    boots: u32,
}

impl Node {
    /// A node with the hardware of `fixture`, registering against `fake`.
    pub fn new(fixture_name: &str, fake: &FakeGitHub) -> Node {
        Node::with_api(fixture_name, &fake.url())
    }

    /// A node registering against `api_url`.
    pub fn with_api(fixture_name: &str, api_url: &str) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        let status = Command::new("cp")
            .arg("-a")
            .arg(fixture(fixture_name))
            .arg(&root)
            .status()
            .expect("cp");
        assert!(status.success(), "copy fixture {fixture_name}");
        let token_file = dir.path().join("github-token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
        let mut perms = std::fs::metadata(&token_file).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&token_file, perms).expect("chmod");
        let state = dir.path().join("state");
        let settings = [
            ("repo", "acme/fleet".to_owned()),
            ("api_url", api_url.to_owned()),
            ("operator", "alice".to_owned()),
            ("token_file", token_file.display().to_string()),
            ("state_dir", state.display().to_string()),
            ("root", root.display().to_string()),
            ("readiness_timeout_secs", "5".to_owned()),
            ("request_timeout_secs", "5".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let node = Node {
            state,
            config: dir.path().join("config.yaml"),
            root,
            token_file,
            settings,
            boots: 0,
            dir,
        };
        node.write_config();
        node.reboot_to(1);
        node
    }

    fn write_config(&self) {
        let text: String = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        std::fs::write(&self.config, text).expect("config");
    }

    /// Sets a config key (YAML value), replacing an earlier value.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.settings.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.settings.push((key.to_owned(), value.to_owned())),
        }
        self.write_config();
    }

    /// Removes a config key.
    pub fn unset(&mut self, key: &str) {
        self.settings.retain(|(k, _)| k != key);
        self.write_config();
    }

    /// Authenticates as the fake's GitHub App instead of with the token: `github_app_id` (the
    /// numeric id), `github_app_key_file` (a 0600 copy of the key fixture `key`, e.g.
    /// `app-key.pkcs1.pem`), and no `token_file`. Returns the key file's path.
    pub fn use_app(&mut self, key: &str) -> PathBuf {
        let path = self.dir.path().join("github-app-key.pem");
        std::fs::copy(crate::fake::app::key_fixture(key), &path).expect("copy key");
        let mut perms = std::fs::metadata(&path).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&path, perms).expect("chmod");
        self.unset("token_file");
        self.set("github_app_id", &crate::fake::app::APP_ID.to_string());
        self.set("github_app_key_file", &path.display().to_string());
        path
    }

    /// The scratch directory of this node.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn reboot_to(&self, n: u32) {
        let path = self.root.join("proc/sys/kernel/random/boot_id");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, format!("b00710{n:02}-0000-4000-8000-000000000000\n"))
            .expect("boot id");
    }

    /// A new boot (new boot id).
    pub fn reboot(&mut self) {
        self.boots += 1;
        self.reboot_to(self.boots + 1);
    }

    /// Reinstall: the state directory is gone, and it is a new boot.
    pub fn reinstall(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
        self.reboot();
    }

    /// Changes the static hostname (a fact change). On the NixOS-style fixtures `/etc/hostname` is
    /// an absolute link into the store, which the host would follow to its own `/etc`: the link
    /// is replaced by a plain file instead of written through.
    pub fn set_hostname(&self, hostname: &str) {
        let path = self.root.join("etc/hostname");
        if path.is_symlink() {
            std::fs::remove_file(&path).expect("remove the hostname link");
        }
        std::fs::write(path, format!("{hostname}\n")).expect("hostname");
    }

    /// The marker, parsed.
    pub fn marker(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.join("registered.json")).ok()?;
        Some(serde_json::from_str(&text).expect("marker is valid JSON"))
    }

    /// `attempts.json` (the failed attempts of this boot), parsed; `None` without one.
    pub fn attempts(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.state.join("attempts.json")).ok()?;
        Some(serde_json::from_str(&text).expect("attempts.json is JSON"))
    }

    /// Runs `enlist register --config <config> <args>` with a clean environment. Asserts the
    /// token appears nowhere in the output.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Like [`Node::run`] with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(binary());
        cmd.arg("register")
            .arg("--config")
            .arg(&self.config)
            .args(args);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run enlist");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_no_token(&run.stdout);
        assert_no_token(&run.stderr);
        run
    }

    /// `enlist status --state-dir <state> <args>` (e.g. `--json`), as an operator runs it.
    pub fn status(&self, args: &[&str]) -> Run {
        let out = Command::new(binary())
            .arg("status")
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ENLIST_CONFIG", &self.config)
            .output()
            .expect("run enlist status");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts the binary without waiting (for concurrency and crash tests).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(binary())
            .arg("register")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn enlist")
    }

    /// `enlist facts --format yaml` for this node (what `register` proposes).
    pub fn facts_yaml(&self) -> String {
        let out = Command::new(binary())
            .args(["facts", "--format", "yaml", "--operator", "alice", "--root"])
            .arg(&self.root)
            .env_clear()
            .env("ENLIST_CONFIG", "/dev/null")
            .output()
            .expect("facts");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the library entry point with a virtual clock (no real sleeping), as the unit would
    /// (unattended: a back-off is honoured).
    pub async fn run_lib(&self, clock: Arc<dyn Clock>) -> Result<Report, RegisterError> {
        self.run_lib_with(clock, true).await
    }

    /// [`Node::run_lib`] as a person at a terminal runs it (`honour_backoff: false`).
    pub async fn run_lib_attended(&self, clock: Arc<dyn Clock>) -> Result<Report, RegisterError> {
        self.run_lib_with(clock, false).await
    }

    /// [`Node::run_lib`] as systemd starts it (the unit, the timer): `$INVOCATION_ID` set, so
    /// the default start jitter applies unless `start_jitter_secs` is configured.
    pub async fn run_lib_as_unit(&self, clock: Arc<dyn Clock>) -> Result<Report, RegisterError> {
        self.run_lib_deps(clock, true, true).await
    }

    async fn run_lib_with(
        &self,
        clock: Arc<dyn Clock>,
        honour_backoff: bool,
    ) -> Result<Report, RegisterError> {
        self.run_lib_deps(clock, honour_backoff, false).await
    }

    async fn run_lib_deps(
        &self,
        clock: Arc<dyn Clock>,
        honour_backoff: bool,
        started_by_systemd: bool,
    ) -> Result<Report, RegisterError> {
        crate::logs::install();
        let cfg = RegisterConfig::resolve(
            &Overrides {
                config: Some(self.config.clone()),
                ..Overrides::default()
            },
            &Env::new(),
        )?;
        let deps = Deps {
            clock,
            kernel: Arc::new(HostKernel),
            jitter_seed: Some(42),
            honour_backoff,
            started_by_systemd,
            ..Deps::default()
        };
        let result = enlist::register::register(&cfg, &deps).await;
        // Every log line and error message of every library run is checked for the token (each
        // line once: the lines logged since the last check, by this run or a concurrent one).
        for line in crate::logs::unchecked() {
            assert_no_token(&line);
        }
        if let Err(e) = &result {
            assert_no_token(&e.to_string());
            assert_no_token(&format!("{e:?}"));
        }
        result
    }
}

/// Panics if `text` contains a secret: the test token (or a recognisable part of it), an
/// installation token the fake minted or a JWT it received (or their signature part), or a line
/// of a GitHub App private key fixture.
pub fn assert_no_token(text: &str) {
    assert!(
        !text.contains(TOKEN),
        "the token leaked into output:\n{text}"
    );
    assert!(
        !text.contains(&TOKEN[4..20]),
        "part of the token leaked into output:\n{text}"
    );
    for secret in crate::fake::app::secrets() {
        // A JWT's header is the same for every JWT (and harmless): check all of it and its
        // signature; a token whole and in part.
        let part = secret.rsplit('.').next().unwrap_or(&secret);
        let fragment = &part[part.len().min(4)..part.len().min(24)];
        assert!(
            !text.contains(&secret) && !text.contains(fragment),
            "a GitHub App secret (installation token or JWT) leaked into output:\n{text}"
        );
    }
    for line in key_lines() {
        assert!(
            !text.contains(line.as_str()),
            "a line of a GitHub App private key leaked into output:\n{text}"
        );
    }
}

/// The base64 lines of the private key fixtures.
fn key_lines() -> &'static [String] {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        [
            "app-key.pkcs1.pem",
            "app-key.pkcs8.pem",
            "other-key.pkcs1.pem",
        ]
        .iter()
        .flat_map(|name| {
            std::fs::read_to_string(crate::fake::app::key_fixture(name))
                .expect("key fixture")
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                .map(|l| l[..16].to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
    })
}
