//! Configuration for `register` (and `status`), layered exactly as SPEC §2:
//! flag > `ENLIST_<KEY>` environment variable > YAML file > default.
//!
//! The file defaults to `/etc/enlist/config.yaml` (missing is fine there; a file named with
//! `--config`/`ENLIST_CONFIG` must exist). Unknown keys are an error naming the key and the file:
//! a typo such as `reop:` must not silently fall back to a default.
//!
//! Under `--target DIR` (the installer's preview of the system mounted at DIR) the file is
//! `DIR/etc/enlist/config.yaml` unless `--config` names one, and the paths *in the file*
//! (`state_dir`, `root`, `token_file`) are the installed system's: they are resolved inside DIR,
//! symlinks as under `chroot`. Paths given as flags or environment variables are this machine's.
//!
//! The token is never a config value or a flag: it comes from `--token-file`/`token_file`, else
//! `$CREDENTIALS_DIRECTORY/github-token` (systemd `LoadCredential=`), else `GITHUB_TOKEN`. With
//! `github_app_id` set, no token is read: the GitHub App's private key comes from
//! `github_app_key_file`, else `$CREDENTIALS_DIRECTORY/github-app-key`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::forge::GitHubApp;
use crate::forge::app::valid_app_id;
use crate::identity::NodeId;
use crate::markdown::is_rfc1123_hostname;
use crate::secret::{AppKey, MAX_APP_KEY_BYTES, Token};
use crate::sysroot::{Roots, SysRoot};

/// Where the config file is looked for when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/enlist/config.yaml";
/// Default GitHub API endpoint.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Default location of node.yaml in the GitOps repo.
pub const DEFAULT_PATH_TEMPLATE: &str = "cluster-nodes/{node_id}/node.yaml";
/// Default prefix of the fixed per-node branch.
pub const DEFAULT_BRANCH_PREFIX: &str = "enlist/";
/// Default state directory outside systemd.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/enlist";
/// How long to wait for GitHub to become reachable (network-online is not internet-online).
pub const DEFAULT_READINESS_TIMEOUT_SECS: u64 = 600;
/// How long one run may spend waiting on rate limits before giving up with exit 75 (systemd
/// then retries later, by which time the window has moved on).
pub const DEFAULT_RATE_LIMIT_WAIT_SECS: u64 = 900;
/// Per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// One deadline over a whole run (readiness, every request including its body, rate-limit
/// waits, each of which keeps its own budget inside it): 14 min; it starts after the start
/// jitter, and the unit's 20 min start timeout covers both, so systemd never kills a run before
/// it reports its exit code.
pub const DEFAULT_RUN_TIMEOUT_SECS: u64 = 840;
/// What the unit's start timeout counts beyond the start jitter, the run's deadline and one
/// request timeout (an App token revoked after the deadline): facts and marker. The NixOS module's
/// `startTimeoutBaseSecs` and the plain unit's arithmetic use the same 30 s.
pub const UNIT_START_MARGIN_SECS: u64 = 30;
/// The start jitter of a run systemd started (the unit, the timer) when `start_jitter_secs` is
/// not configured: up to 5 min. A rack powered on together then spreads its first requests over
/// minutes instead of hitting GitHub's 80-per-minute content-creation limit in one second. The
/// run's deadline (`run_timeout_secs`) starts after it, so runs that started apart also end
/// apart (a run that meets the rate limits exits 75 for systemd to restart: if they all ended in
/// one minute, their restarts would land in one minute too). A run at a terminal starts at once.
pub const UNATTENDED_START_JITTER_SECS: u64 = 300;
/// The credential name the unit's `LoadCredential=` uses.
pub const CREDENTIAL_NAME: &str = "github-token";
/// The credential name of the GitHub App's private key (`LoadCredential=github-app-key:…`).
pub const APP_KEY_CREDENTIAL_NAME: &str = "github-app-key";

/// A setting's default as the reference shows it: `None` when there is none.
macro_rules! setting_default {
    () => {
        None
    };
    ($default:expr) => {
        Some(($default).to_string())
    };
}

/// One setting as the configuration reference documents it ([`settings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingDoc {
    /// The config file's key.
    pub key: &'static str,
    /// Its environment variable, `ENLIST_<KEY>`.
    pub env: String,
    /// Its flag (without `--`), if it has one.
    pub flag: Option<String>,
    /// Its default, as Markdown (a value in backticks, or words).
    pub default: Option<String>,
    /// What it means (the declaration's doc comment).
    pub doc: String,
}

/// A default value shown as code.
fn code(value: impl std::fmt::Display) -> String {
    format!("`{value}`")
}

/// Declares every `register` setting once. Each entry is a YAML key of the config file, which is
/// also the environment variable `ENLIST_<KEY>`; its `#[arg(...)]` makes it a command-line flag
/// (`#[arg(skip)]`: file and environment only). From the list come the config file's shape
/// ([`FileConfig`], unknown keys rejected), the flags ([`Flags`], flattened into `enlist
/// register`), the list of valid keys ([`KEYS`]), the layering ([`Layers`]: flag > env > file)
/// and the configuration reference ([`settings`]: the doc comment is the key's meaning, the
/// `= default` after its type how the reference shows its default, written with the same
/// constants [`RegisterConfig::resolve`] applies). Validation stays in `resolve`.
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        #[arg($($arg:tt)*)]
        $name:ident: $ty:ty $(= $default:expr)?,
    )*) => {
        /// The config file's shape: every key optional, unknown keys rejected.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( $(#[doc = $doc])* pub $name: Option<$ty>, )*
        }

        /// The settings given as flags (absent: not given). `enlist register` flattens it into
        /// its arguments; `enlist facts` fills the few it has.
        #[derive(Debug, Default, Clone, clap::Args)]
        pub struct Flags {
            $( $(#[doc = $doc])* #[arg($($arg)*)] pub $name: Option<$ty>, )*
        }

        /// Every valid key of the config file, in declaration order.
        pub const KEYS: &[&str] = &[$(stringify!($name)),*];

        /// Every setting as the configuration reference documents it, in declaration order.
        pub fn settings() -> Vec<SettingDoc> {
            let flags = <Flags as clap::Args>::augment_args(clap::Command::new("enlist"));
            vec![$(
                SettingDoc {
                    key: stringify!($name),
                    env: format!("ENLIST_{}", stringify!($name).to_uppercase()),
                    flag: flags
                        .get_arguments()
                        .find(|a| a.get_id() == stringify!($name))
                        .and_then(|a| a.get_long())
                        .map(str::to_owned),
                    default: setting_default!($($default)?),
                    doc: [$($doc),*].iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
                },
            )*]
        }

        /// Each setting from the highest layer that has it, or why its environment variable is
        /// unusable (reported only when the setting is used: `enlist facts` does not trip over
        /// a malformed `ENLIST_RUN_TIMEOUT_SECS`).
        struct Layers {
            $( $name: Result<Option<Layered<$ty>>, ConfigError>, )*
        }

        impl Layers {
            fn collect(flags: &Flags, env: &Env, file: FileConfig, file_name: &str) -> Layers {
                Layers {
                    $( $name: layer(stringify!($name), flags.$name.clone(), env, file.$name, file_name), )*
                }
            }
        }
    };
}

settings! {
    /// Write nothing: print the node id, the node.yaml and the plan.
    #[arg(long, num_args = 0, default_missing_value = "true")]
    dry_run: bool = code(false),
    /// The GitOps repository, `OWNER/NAME` (required).
    #[arg(long, value_name = "OWNER/NAME")]
    repo: String,
    /// GitHub API URL (GitHub Enterprise: https://HOST/api/v3). Never with `user:password@` (exit
    /// 78; the URL is not echoed); `http://` only to this machine unless `allow_insecure_http`.
    #[arg(long, value_name = "URL")]
    api_url: String = code(DEFAULT_API_URL),
    /// File holding the GitHub token (never pass the token itself); a file group or others may
    /// read gets a warning.
    #[arg(long, value_name = "PATH")]
    token_file: PathBuf = "`$CREDENTIALS_DIRECTORY/github-token`, else `$GITHUB_TOKEN`",
    /// Authenticate as this GitHub App (its App id or client id) instead of with a token: then no
    /// token is read.
    #[arg(long, value_name = "ID")]
    github_app_id: AppId,
    /// The GitHub App's private key: PEM, PKCS#1 as GitHub issues it, or PKCS#8; at most 64 KiB
    /// (`MAX_APP_KEY_BYTES`).
    #[arg(long, value_name = "PATH")]
    github_app_key_file: PathBuf = code("$CREDENTIALS_DIRECTORY/github-app-key"),
    /// The App's installation on the repository's owner (saves one request per run).
    #[arg(skip)]
    github_app_installation_id: u64 = "looked up on each run",
    /// State directory (marker, lock, attempts): must belong to the running user and be writable
    /// by nobody else, else exit 73 before any request.
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf = format!("`$STATE_DIRECTORY`, else `{DEFAULT_STATE_DIR}`"),
    /// Operator recorded in node.yaml, and `{operator}` in `path_template`.
    #[arg(long, value_name = "NAME")]
    operator: String,
    /// A fixed node id (2–63 of `a-z0-9-`), used as is and never extended on a collision.
    #[arg(long, value_name = "ID")]
    node_id: String = "derived from the hardware",
    /// Where node.yaml goes in the repository: placeholders `{operator}`, `{node_id}`, `{hostname}`
    /// (only a valid RFC 1123 host name, else exit 78); must stay inside the repository. The
    /// gate's `--path-template` must say the same.
    #[arg(long, value_name = "T")]
    path_template: String = code(DEFAULT_PATH_TEMPLATE),
    /// The pull request's base branch.
    #[arg(long = "base", value_name = "BRANCH")]
    base_branch: String = "the repository's default branch",
    /// Read file-based facts under DIR instead of / (tests, fixtures; the installer uses
    /// `--target`).
    #[arg(long, value_name = "DIR")]
    root: PathBuf = code("/"),
    /// Allow registering from a live installer (refused otherwise: a failed install must never
    /// leave a PR). An installed system with `/` on tmpfs (impermanence) looks live: set it there.
    #[arg(long, num_args = 0, default_missing_value = "true")]
    allow_live: bool = code(false),
    /// GitHub auto-merge for the registration PR, merged once the base branch's rules hold:
    /// `squash`, `merge`, `rebase`, or `off`.
    #[arg(long, value_name = "squash|merge|rebase|off")]
    auto_merge: String = code(MergeMethod::Squash.as_str()),
    /// Also auto-merge PRs that update a registered node's facts (a hardware event: by default a
    /// person merges; a changed SSH host key never auto-merges).
    #[arg(skip)]
    auto_merge_updates: bool = code(false),
    /// Prefix of the per-node branch: the branch is `<prefix><node_id>`. The gate's
    /// `--branch-prefix` must say the same.
    #[arg(skip)]
    branch_prefix: String = code(DEFAULT_BRANCH_PREFIX),
    /// Labels for the PR (one more write; comma-separated in the environment).
    #[arg(skip)]
    labels: Vec<String>,
    /// Seconds to wait for GitHub to be reachable, then exit 69.
    #[arg(skip)]
    readiness_timeout_secs: Seconds = code(DEFAULT_READINESS_TIMEOUT_SECS),
    /// Seconds one run may spend waiting on rate limits in all, then exit 75.
    #[arg(skip)]
    rate_limit_wait_secs: Seconds = code(DEFAULT_RATE_LIMIT_WAIT_SECS),
    /// Per request, in seconds: connecting, and each read of the answer (a stalled connection).
    #[arg(skip)]
    request_timeout_secs: Seconds = code(DEFAULT_REQUEST_TIMEOUT_SECS),
    /// Random delay (0..=N s) before the first request, to spread a mass bring-up (not on a
    /// marker hit). The run's deadline starts after it; keep it below run_timeout_secs.
    #[arg(skip)]
    start_jitter_secs: Seconds = format!(
        "`{UNATTENDED_START_JITTER_SECS}` when systemd started the run (the unit, the timer), else `0`"
    ),
    /// Allow a plain `http://` api_url to a host that is not this machine (the token travels
    /// unencrypted); without it: exit 78 before any request.
    #[arg(skip)]
    allow_insecure_http: bool = code(false),
    /// One deadline over the whole run, in seconds: the lock wait, readiness, every request,
    /// every rate-limit wait (not the start jitter, which comes before it); then exit 69 if GitHub
    /// never answered, else 75. The unit's start timeout sits above both.
    #[arg(skip)]
    run_timeout_secs: Seconds = code(DEFAULT_RUN_TIMEOUT_SECS),
}

/// How a setting is written in its `ENLIST_<KEY>` variable, and shown in an error.
trait Setting: Sized {
    /// Parses the variable's value.
    fn from_env(raw: &str) -> Result<Self, String>;
    /// The value as an error message quotes it.
    fn shown(&self) -> String;
}

impl Setting for String {
    fn from_env(raw: &str) -> Result<Self, String> {
        Ok(raw.to_owned())
    }
    fn shown(&self) -> String {
        self.clone()
    }
}

impl Setting for PathBuf {
    fn from_env(raw: &str) -> Result<Self, String> {
        Ok(PathBuf::from(raw))
    }
    /// A secret given where its file's path belongs is not shown ([`shown_secret_path`]).
    fn shown(&self) -> String {
        shown_secret_path(self)
    }
}

impl Setting for bool {
    fn from_env(raw: &str) -> Result<Self, String> {
        match raw.trim().to_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err("expected true or false".to_owned()),
        }
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

/// A comma-separated list in the environment, a YAML list in the file.
impl Setting for Vec<String> {
    fn from_env(raw: &str) -> Result<Self, String> {
        Ok(raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }
    fn shown(&self) -> String {
        self.join(",")
    }
}

impl Setting for u64 {
    fn from_env(raw: &str) -> Result<Self, String> {
        raw.trim()
            .parse()
            .map_err(|_| "expected a whole number".to_owned())
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

/// A `*_secs` setting: whole seconds, at most [`MAX_SECS`] (checked where it is resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Seconds(pub u64);

impl Setting for Seconds {
    fn from_env(raw: &str) -> Result<Self, String> {
        raw.trim()
            .parse()
            .map(Seconds)
            .map_err(|_| "expected a whole number of seconds".to_owned())
    }
    fn shown(&self) -> String {
        self.0.to_string()
    }
}

/// `github_app_id`: the App id, which YAML reads as a number, or its client id (`Iv23li…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppId(pub String);

impl<'de> Deserialize<'de> for AppId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Id {
            Number(u64),
            Text(String),
        }
        Ok(AppId(match Id::deserialize(d)? {
            Id::Number(n) => n.to_string(),
            Id::Text(t) => t,
        }))
    }
}

impl std::str::FromStr for AppId {
    type Err = std::convert::Infallible;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(AppId(raw.to_owned()))
    }
}

impl Setting for AppId {
    fn from_env(raw: &str) -> Result<Self, String> {
        Ok(AppId(raw.to_owned()))
    }
    fn shown(&self) -> String {
        self.0.clone()
    }
}

/// The command line of `register` (and `facts`) besides the settings: which config file, which
/// installed system to preview, and the settings given as flags.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--target`: the installed system mounted at this directory (implies a dry run).
    pub target: Option<PathBuf>,
    /// The settings given as flags.
    pub flags: Flags,
}

/// GitHub's merge methods for auto-merge (GraphQL `PullRequestMergeMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeMethod {
    /// One squashed commit (the default: one commit per registration on the base branch).
    Squash,
    /// A merge commit.
    Merge,
    /// The PR's commits rebased onto the base.
    Rebase,
}

impl MergeMethod {
    /// The GraphQL enum value.
    pub fn graphql(self) -> &'static str {
        match self {
            MergeMethod::Squash => "SQUASH",
            MergeMethod::Merge => "MERGE",
            MergeMethod::Rebase => "REBASE",
        }
    }

    /// The config value.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Squash => "squash",
            MergeMethod::Merge => "merge",
            MergeMethod::Rebase => "rebase",
        }
    }
}

/// `auto_merge`: a merge method, or `off` (`None`).
fn auto_merge_value(raw: &str) -> Result<Option<MergeMethod>, String> {
    match raw.trim().to_lowercase().as_str() {
        "squash" => Ok(Some(MergeMethod::Squash)),
        "merge" => Ok(Some(MergeMethod::Merge)),
        "rebase" => Ok(Some(MergeMethod::Rebase)),
        "off" | "false" | "no" => Ok(None),
        _ => Err("expected squash, merge, rebase or off".to_owned()),
    }
}

/// A repository name, `owner/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoName {
    /// Owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl std::fmt::Display for RepoName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The resolved configuration of one `register` run.
#[derive(Clone, Debug)]
pub struct RegisterConfig {
    /// GitOps repository.
    pub repo: RepoName,
    /// API base URL without trailing slash.
    pub api_url: String,
    /// Operator, if configured.
    pub operator: Option<String>,
    /// Path template.
    pub path_template: PathTemplate,
    /// Configured base branch (else the repository default).
    pub base_branch: Option<String>,
    /// State directory.
    pub state_dir: PathBuf,
    /// Configured node id.
    pub node_id: Option<NodeId>,
    /// Branch prefix.
    pub branch_prefix: String,
    /// PR labels.
    pub labels: Vec<String>,
    /// Readiness timeout.
    pub readiness_timeout: Duration,
    /// Rate-limit wait budget.
    pub rate_limit_wait: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Upper bound of the random delay before the first request, when configured (else
    /// [`UNATTENDED_START_JITTER_SECS`] for a run systemd started, none at a terminal).
    pub start_jitter: Option<Duration>,
    /// Where facts, the marker's system and the config come from.
    pub roots: Roots,
    /// `--target`: the installed system being previewed (then `dry_run` is set).
    pub target: Option<SysRoot>,
    /// The run's deadline.
    pub run_timeout: Duration,
    /// How GitHub should merge the PR once its rules hold (`None`: auto-merge off).
    pub auto_merge: Option<MergeMethod>,
    /// Auto-merge update PRs too.
    pub auto_merge_updates: bool,
    /// Allow live installer.
    pub allow_live: bool,
    /// Dry run.
    pub dry_run: bool,
    /// The token, if any source had one (never with a GitHub App).
    pub token: Option<Token>,
    /// The GitHub App, if `github_app_id` is set.
    pub github_app: Option<GitHubApp>,
    /// A dry run configured for a GitHub App whose private key is not here (the installer's
    /// preview: the key is restored at boot): the App id. GitHub is not asked.
    pub github_app_id_without_key: Option<String>,
}

/// Configuration problems (exit 78).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error(
        "{path}: cannot read config file: {source}; create it or point --config/ENLIST_CONFIG at the right file"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A path inside the target could not be resolved (a symlink loop, an unreadable directory).
    #[error(
        "{path}: cannot resolve inside the target {target}: {source}; fix the link or the mount"
    )]
    Target {
        /// The path as the installed system names it.
        path: PathBuf,
        /// The target directory.
        target: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `root` given in a way that cannot be combined with `--target`.
    #[error(
        "{origin} cannot be combined with --target: --target reads the installed system's files \
         under its directory and the hardware from this machine, --root reads everything from a \
         fixture; unset {origin}"
    )]
    RootWithTarget {
        /// Where the root came from.
        origin: String,
    },
    /// YAML syntax error, unknown key or wrong type.
    #[error("{path}: {message}; fix the file (valid keys: {valid})", valid = KEYS.join(", "))]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde's message (names the key, line and column).
        message: String,
    },
    /// A value that is not acceptable.
    #[error("{origin}: invalid {key} {value:?}: {reason}")]
    Invalid {
        /// Where it came from (flag, variable or file).
        origin: String,
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// A required key with no value anywhere.
    #[error("no {key} configured: set `{key}:` in {file}, ENLIST_{env}, or --{flag}")]
    Missing {
        /// The key.
        key: &'static str,
        /// Its env suffix.
        env: String,
        /// Its flag.
        flag: &'static str,
        /// The config file consulted.
        file: String,
    },
    /// The token file could not be read.
    #[error(
        "{path}: cannot read token file: {reason}; put the token on one line in that file \
         (mode 0600, owned by root), or point token_file/--token-file at the right one"
    )]
    TokenFile {
        /// The file, as [`shown_secret_path`] shows it.
        path: String,
        /// Why.
        reason: String,
    },
    /// The GitHub App key file cannot be read or is not a key.
    #[error(
        "{path}: cannot use it as the GitHub App private key: {reason}; generate a private key in \
         the App's settings (Private keys → Generate a private key) and point \
         github_app_key_file/--github-app-key-file (or LoadCredential={APP_KEY_CREDENTIAL_NAME}:…) \
         at the downloaded .pem file"
    )]
    AppKeyFile {
        /// The file, as [`shown_secret_path`] shows it.
        path: String,
        /// Why (never the content).
        reason: String,
    },
    /// An App id without a key.
    #[error(
        "github_app_id is set but there is no GitHub App private key: point \
         github_app_key_file/--github-app-key-file at the App's .pem file, or hand it to the \
         unit with LoadCredential={APP_KEY_CREDENTIAL_NAME}:<file>"
    )]
    NoAppKey,
    /// No token anywhere.
    #[error(
        "no GitHub token: put a fine-grained token (contents + pull requests: write, on {repo}) in \
         a file and pass --token-file / token_file, or LoadCredential={CREDENTIAL_NAME}:<file> \
         in the unit, or set GITHUB_TOKEN"
    )]
    NoToken {
        /// The repository the token needs access to.
        repo: String,
    },
}

/// The process environment, injectable for tests.
pub type Env = BTreeMap<String, String>;

/// Reads the process environment.
pub fn process_env() -> Env {
    std::env::vars().collect()
}

/// Loads the config file named by `--config`, `ENLIST_CONFIG`, or the default (missing is fine
/// only for the default). Under `--target DIR` the default is the target's
/// `DIR/etc/enlist/config.yaml` (on NixOS a link into the target's store, followed inside DIR) and
/// `ENLIST_CONFIG`, a setting of this machine's environment, is not used.
pub fn load_file(overrides: &Overrides, env: &Env) -> Result<(FileConfig, String), ConfigError> {
    let named = env
        .get("ENLIST_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let (path, shown, must_exist) = match (&overrides.config, &overrides.target, named) {
        (Some(p), _, _) => (p.clone(), p.clone(), true),
        (None, Some(target), named) => {
            let target = SysRoot::new(target);
            let shown = target.path(DEFAULT_CONFIG_FILE);
            if let Some(named) = named {
                log::warn!(
                    "ENLIST_CONFIG={} is not used with --target: the installed system's config \
                     is {}; name another file with --config",
                    named.display(),
                    shown.display()
                );
            }
            let path = in_target(&target, Path::new(DEFAULT_CONFIG_FILE))?;
            (path, shown, false)
        }
        (None, None, Some(p)) => (p.clone(), p, true),
        (None, None, None) => (
            PathBuf::from(DEFAULT_CONFIG_FILE),
            PathBuf::from(DEFAULT_CONFIG_FILE),
            false,
        ),
    };
    let text = match crate::input::read_text_capped(
        &path,
        crate::input::MAX_CONFIG_BYTES,
        "config file",
    ) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok((FileConfig::default(), shown.display().to_string()));
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: shown,
                source,
            });
        }
    };
    if text.trim().is_empty() {
        return Ok((FileConfig::default(), shown.display().to_string()));
    }
    let file = parse_file(&text, &shown)?;
    Ok((file, shown.display().to_string()))
}

/// Where the installed system's `path` is on this machine (see [`SysRoot::place`]).
fn in_target(target: &SysRoot, path: &Path) -> Result<PathBuf, ConfigError> {
    target.place(path).map_err(|source| ConfigError::Target {
        path: path.to_owned(),
        target: target.dir().to_owned(),
        source,
    })
}

/// Parses config file text (a fuzz target: any input gives a config or an error naming `path`).
pub fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    crate::input::yaml::from_str(text, crate::input::MAX_CONFIG_BYTES).map_err(|e| {
        ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        }
    })
}

/// One resolved value and where it came from, for error messages.
struct Layered<T> {
    value: T,
    /// The key.
    key: &'static str,
    /// The flag, variable or file (and key) it came from.
    origin: String,
    /// It came from the config file (whose paths, under `--target`, are the target's).
    from_file: bool,
}

impl<T: Setting> Layered<T> {
    /// The value through `check`, or an error naming the key, the value and where it came from.
    fn check<U>(self, check: impl FnOnce(&T) -> Result<U, String>) -> Result<U, ConfigError> {
        check(&self.value).map_err(|reason| ConfigError::Invalid {
            value: self.value.shown(),
            origin: self.origin,
            key: self.key,
            reason,
        })
    }
}

/// One setting from the highest layer that has it: flag > `ENLIST_<KEY>` > file.
fn layer<T: Setting>(
    key: &'static str,
    flag: Option<T>,
    env: &Env,
    file: Option<T>,
    file_name: &str,
) -> Result<Option<Layered<T>>, ConfigError> {
    if let Some(value) = flag {
        return Ok(Some(Layered {
            value,
            key,
            origin: flag_name(key),
            from_file: false,
        }));
    }
    let var = format!("ENLIST_{}", key.to_uppercase());
    if let Some(raw) = env.get(&var).filter(|v| !v.is_empty()) {
        let value = T::from_env(raw).map_err(|reason| ConfigError::Invalid {
            origin: var.clone(),
            key,
            value: raw.clone(),
            reason,
        })?;
        return Ok(Some(Layered {
            value,
            key,
            origin: var,
            from_file: false,
        }));
    }
    Ok(file.map(|value| Layered {
        value,
        key,
        origin: format!("{file_name} (key {key})"),
        from_file: true,
    }))
}

/// A setting's flag as clap spells it (`--base` for `base_branch`).
fn flag_name(key: &str) -> String {
    use clap::Args;
    let command = Flags::augment_args(clap::Command::new("enlist"));
    let long = command
        .get_arguments()
        .find(|arg| arg.get_id() == key)
        .and_then(|arg| arg.get_long())
        .map(str::to_owned);
    format!("--{}", long.unwrap_or_else(|| key.replace('_', "-")))
}

/// The longest duration any `*_secs` key may take: a week. Larger values are typos, and would
/// overflow time arithmetic.
pub const MAX_SECS: u64 = 7 * 24 * 3600;

/// A `*_secs` setting, at most [`MAX_SECS`], else `default`.
fn seconds(
    layered: Result<Option<Layered<Seconds>>, ConfigError>,
    default: u64,
) -> Result<u64, ConfigError> {
    match layered? {
        None => Ok(default),
        Some(l) => l.check(|secs| {
            if secs.0 > MAX_SECS {
                Err(format!("at most {MAX_SECS} (a week)"))
            } else {
                Ok(secs.0)
            }
        }),
    }
}

fn operator(
    layered: Result<Option<Layered<String>>, ConfigError>,
) -> Result<Option<String>, ConfigError> {
    layered?
        .map(|l| l.check(|v| validate_operator(v)))
        .transpose()
}

fn node_id(
    layered: Result<Option<Layered<String>>, ConfigError>,
) -> Result<Option<NodeId>, ConfigError> {
    layered?
        .map(|l| l.check(|v| NodeId::parse(v).map_err(|e| e.to_string())))
        .transpose()
}

impl RegisterConfig {
    /// Resolves the configuration from flags, environment and file.
    pub fn resolve(overrides: &Overrides, env: &Env) -> Result<RegisterConfig, ConfigError> {
        let (file, file_name) = load_file(overrides, env)?;
        let l = Layers::collect(&overrides.flags, env, file, &file_name);

        let repo = l
            .repo?
            .ok_or_else(|| ConfigError::Missing {
                key: "repo",
                env: "REPO".into(),
                flag: "repo",
                file: file_name.clone(),
            })?
            .check(|v| parse_repo(v))?;
        let api_url = match l.api_url? {
            Some(l) => validate_api_url(&l.value).map_err(|reason| ConfigError::Invalid {
                // A URL with `user:password@` carries a secret: never echo it, not even in part.
                value: if l.value.contains('@') {
                    "<not shown>".to_owned()
                } else {
                    l.value.clone()
                },
                origin: l.origin,
                key: l.key,
                reason,
            })?,
            None => DEFAULT_API_URL.to_owned(),
        };
        let allow_insecure_http = l.allow_insecure_http?.is_some_and(|l| l.value);
        if is_insecure_api_url(&api_url) {
            if !allow_insecure_http {
                return Err(ConfigError::Invalid {
                    origin: "config".into(),
                    key: "api_url",
                    value: api_url,
                    reason: "plain http to a host that is not this machine: the token (or the \
                             GitHub App's installation token) would travel unencrypted; use \
                             https, or set allow_insecure_http: true if a trusted proxy on that \
                             path adds TLS"
                        .into(),
                });
            }
            log::warn!(
                "api_url {api_url} is plain http (allow_insecure_http: true): the token travels \
                 unencrypted"
            );
        }
        let operator = operator(l.operator)?;
        let path_template = match l.path_template? {
            Some(l) => l.check(|v| PathTemplate::parse(v, operator.is_some()))?,
            None => PathTemplate::parse(DEFAULT_PATH_TEMPLATE, operator.is_some()).map_err(
                |reason| ConfigError::Invalid {
                    origin: "default".into(),
                    key: "path_template",
                    value: DEFAULT_PATH_TEMPLATE.into(),
                    reason,
                },
            )?,
        };
        let base_branch = l
            .base_branch?
            .map(|l| l.check(|v| validate_branch(v)))
            .transpose()?;

        let target = overrides.target.as_ref().map(SysRoot::new);
        let state_dir = match (&target, l.state_dir?) {
            // The installed system's state (a marker left by an earlier install, say) is what its
            // first boot will see; $STATE_DIRECTORY belongs to this machine's environment.
            (Some(target), None) => in_target(target, Path::new(DEFAULT_STATE_DIR))?,
            (Some(target), Some(l)) if l.from_file => in_target(target, &l.value)?,
            (_, Some(l)) => l.value,
            (None, None) => default_state_dir(env),
        };
        let node_id = node_id(l.node_id)?;
        let branch_prefix = match l.branch_prefix? {
            Some(l) => l.check(|v| validate_branch(v))?,
            None => DEFAULT_BRANCH_PREFIX.to_owned(),
        };
        let labels = l.labels?.map(|l| l.value).unwrap_or_default();

        let readiness = seconds(l.readiness_timeout_secs, DEFAULT_READINESS_TIMEOUT_SECS)?;
        let rate_wait = seconds(l.rate_limit_wait_secs, DEFAULT_RATE_LIMIT_WAIT_SECS)?;
        let request_timeout = seconds(l.request_timeout_secs, DEFAULT_REQUEST_TIMEOUT_SECS)?;
        let start_jitter = match l.start_jitter_secs? {
            None => None,
            Some(layered) => Some(seconds(Ok(Some(layered)), 0)?),
        };
        let run_timeout = seconds(l.run_timeout_secs, DEFAULT_RUN_TIMEOUT_SECS)?;
        for (key, value) in [
            ("request_timeout_secs", request_timeout),
            ("run_timeout_secs", run_timeout),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    origin: "config".into(),
                    key,
                    value: "0".into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if let Some(start_jitter) = start_jitter.filter(|j| *j >= run_timeout) {
            return Err(ConfigError::Invalid {
                origin: "config".into(),
                key: "start_jitter_secs",
                value: start_jitter.to_string(),
                reason: format!(
                    "keep the start jitter below run_timeout_secs ({run_timeout}): it only \
                     spreads when a fleet's runs start, and a longer one delays every \
                     registration (enlist extends the unit's start timeout by the jitter it \
                     draws)"
                ),
            });
        }
        let auto_merge = match l.auto_merge? {
            Some(l) => l.check(|v| auto_merge_value(v))?,
            None => Some(MergeMethod::Squash),
        };
        let auto_merge_updates = l.auto_merge_updates?.is_some_and(|l| l.value);

        let roots = resolve_roots(overrides.target.as_deref(), l.root?)?;
        let allow_live = l.allow_live?.is_some_and(|l| l.value);
        let dry_run = target.is_some() || l.dry_run?.is_some_and(|l| l.value);

        // GitHub App settings without an App id are a mistake to name, not to ignore.
        let app_id = l.github_app_id?;
        let key_setting = l.github_app_key_file?;
        let installation_setting = l.github_app_installation_id?;
        if app_id.is_none() {
            if let Some(l) = key_setting {
                return Err(app_without_id(l));
            }
            if let Some(l) = installation_setting {
                return Err(app_without_id(l));
            }
        }
        let token_file = secret_file(
            target.as_ref(),
            l.token_file?,
            "--token-file, $CREDENTIALS_DIRECTORY or GITHUB_TOKEN",
        )?
        .map(|l| l.value);
        let (token, github_app, github_app_id_without_key) = match app_id {
            None => (resolve_token(token_file.as_deref(), env)?, None, None),
            Some(id) => {
                let id = app_id_value(id)?;
                let installation_id = installation_id_value(installation_setting)?;
                if let Some(source) = token_source(token_file.as_deref(), env) {
                    log::debug!(
                        "github_app_id is set: authenticating as GitHub App {id}; the token in {} \
                         is not read",
                        source.describe()
                    );
                }
                let key_file = secret_file(
                    target.as_ref(),
                    key_setting,
                    "--github-app-key-file or $CREDENTIALS_DIRECTORY",
                )?
                .map(|l| l.value)
                .or_else(|| credential(env, APP_KEY_CREDENTIAL_NAME));
                match key_file {
                    Some(path) => {
                        let key = read_app_key(&path)?;
                        let app = GitHubApp {
                            id,
                            key,
                            key_file: path,
                            installation_id,
                        };
                        (None, Some(app), None)
                    }
                    // A preview from the installer, whose key is restored only at boot: the
                    // App id still says how the first boot authenticates; GitHub is not asked.
                    None if dry_run => {
                        log::warn!(
                            "GitHub App {id}: no private key here (github_app_key_file, \
                             --github-app-key-file or $CREDENTIALS_DIRECTORY/\
                             {APP_KEY_CREDENTIAL_NAME}); the dry run does not ask GitHub"
                        );
                        (None, None, Some(id))
                    }
                    None => return Err(ConfigError::NoAppKey),
                }
            }
        };

        Ok(RegisterConfig {
            repo,
            api_url,
            operator,
            path_template,
            base_branch,
            state_dir,
            node_id,
            branch_prefix,
            labels,
            readiness_timeout: Duration::from_secs(readiness),
            rate_limit_wait: Duration::from_secs(rate_wait),
            request_timeout: Duration::from_secs(request_timeout),
            start_jitter: start_jitter.map(Duration::from_secs),
            roots,
            target,
            run_timeout: Duration::from_secs(run_timeout),
            auto_merge,
            auto_merge_updates,
            allow_live,
            dry_run,
            token,
            github_app,
            github_app_id_without_key,
        })
    }

    /// The fixed branch for `node_id`.
    pub fn branch(&self, node_id: &NodeId) -> String {
        format!("{}{}", self.branch_prefix, node_id)
    }

    /// A hash of every setting that decides what a run asks of GitHub, credentials included
    /// (as one-way fingerprints: another token or App key is another configuration). A failure
    /// that a retry would repeat is not retried unattended while it stays the same
    /// ([`crate::register::backoff`]).
    pub fn fingerprint(&self) -> String {
        let credential = match (&self.github_app, &self.token) {
            (Some(app), _) => serde_json::json!({
                "app_id": app.id,
                "app_key": app.key.fingerprint(),
                "installation_id": app.installation_id,
            }),
            (None, Some(token)) => serde_json::json!({ "token": token.fingerprint() }),
            (None, None) => serde_json::Value::Null,
        };
        let settings = serde_json::json!({
            "repo": self.repo.to_string(),
            "api_url": self.api_url,
            "operator": self.operator,
            "path_template": self.path_template.as_str(),
            "base_branch": self.base_branch,
            "node_id": self.node_id.as_ref().map(NodeId::as_str),
            "branch_prefix": self.branch_prefix,
            "labels": self.labels,
            "readiness_timeout_secs": self.readiness_timeout.as_secs(),
            "rate_limit_wait_secs": self.rate_limit_wait.as_secs(),
            "request_timeout_secs": self.request_timeout.as_secs(),
            "start_jitter_secs": self.start_jitter.map(|j| j.as_secs()),
            "run_timeout_secs": self.run_timeout.as_secs(),
            "roots": format!("{:?}", self.roots),
            "auto_merge": self.auto_merge.map(MergeMethod::as_str),
            "auto_merge_updates": self.auto_merge_updates,
            "allow_live": self.allow_live,
            "api_url_insecure": is_insecure_api_url(&self.api_url),
            "credential": credential,
        });
        crate::hash::sha256_hex(crate::hash::canonical_json(&settings).as_bytes())
    }
}

/// Where facts come from: `--root` (flag > `ENLIST_ROOT` > file `root:`) reads everything under
/// a fixture; `--target DIR` the installed system's files under DIR and the hardware here, unless
/// the target's own config names a `root:` (then its first boot reads that fixture, inside DIR).
fn resolve_roots(
    target: Option<&Path>,
    root: Option<Layered<PathBuf>>,
) -> Result<Roots, ConfigError> {
    let Some(target) = target else {
        return Ok(root.map_or_else(Roots::host, |l| Roots::fixture(l.value)));
    };
    match root {
        None => Ok(Roots::target(target)),
        // `root: /` in the installed system's config is its own root: the same as no root.
        Some(l) if l.from_file && l.value == Path::new("/") => Ok(Roots::target(target)),
        Some(l) if l.from_file => Ok(Roots::fixture(in_target(&SysRoot::new(target), &l.value)?)),
        Some(l) => Err(ConfigError::RootWithTarget { origin: l.origin }),
    }
}

/// Options `enlist facts` shares with `register` (operator, node id, root), layered the same
/// way, so `facts` prints exactly the node.yaml `register` would propose.
#[derive(Clone, Debug)]
pub struct FactsOptions {
    /// Operator.
    pub operator: Option<String>,
    /// Fixed node id.
    pub node_id: Option<NodeId>,
    /// Where facts come from.
    pub roots: Roots,
}

/// Resolves [`FactsOptions`]: flag > env > config file (if present) > default.
pub fn resolve_facts_options(
    overrides: &Overrides,
    env: &Env,
) -> Result<FactsOptions, ConfigError> {
    let (file, file_name) = load_file(overrides, env)?;
    let l = Layers::collect(&overrides.flags, env, file, &file_name);
    Ok(FactsOptions {
        operator: operator(l.operator)?,
        node_id: node_id(l.node_id)?,
        roots: resolve_roots(overrides.target.as_deref(), l.root?)?,
    })
}

/// The state directory: `$STATE_DIRECTORY` (systemd `StateDirectory=`) else `/var/lib/enlist`.
pub fn default_state_dir(env: &Env) -> PathBuf {
    env.get("STATE_DIRECTORY")
        // systemd passes a colon-separated list when several StateDirectory= are set.
        .and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// Resolves only the state directory (for `status`): flag > env > file > default. The config
/// file is read only when neither flag nor variable names the directory.
pub fn resolve_state_dir(flag: Option<PathBuf>, env: &Env) -> Result<PathBuf, ConfigError> {
    if let Some(l) = layer("state_dir", flag, env, None, "")? {
        return Ok(l.value);
    }
    let (file, _) = load_file(&Overrides::default(), env)?;
    Ok(file.state_dir.unwrap_or_else(|| default_state_dir(env)))
}

fn app_without_id<T: Setting>(setting: Layered<T>) -> ConfigError {
    ConfigError::Invalid {
        value: setting.value.shown(),
        origin: setting.origin,
        key: setting.key,
        reason: "it only applies to a GitHub App: set github_app_id (--github-app-id, \
                 ENLIST_GITHUB_APP_ID) too, or remove it"
            .into(),
    }
}

/// `github_app_id`, checked: what goes into the JWT's `iss`.
fn app_id_value(id: Layered<AppId>) -> Result<String, ConfigError> {
    id.check(|id| {
        let id = id.0.trim();
        if valid_app_id(id) {
            Ok(id.to_owned())
        } else {
            Err(
                "expected the App id (digits) or its client id (Iv…), from the App's settings page"
                    .into(),
            )
        }
    })
}

/// `github_app_installation_id`, checked (0 is nobody's installation).
fn installation_id_value(setting: Option<Layered<u64>>) -> Result<Option<u64>, ConfigError> {
    setting
        .map(|l| {
            l.check(|&n| {
                if n == 0 {
                    Err(
                        "expected the installation's number (from its settings URL), or leave \
                         it out"
                            .into(),
                    )
                } else {
                    Ok(n)
                }
            })
        })
        .transpose()
}

/// The systemd credential `name` (`$CREDENTIALS_DIRECTORY/name`), if the unit handed it over.
fn credential(env: &Env, name: &str) -> Option<PathBuf> {
    env.get("CREDENTIALS_DIRECTORY")
        .filter(|v| !v.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .filter(|p| p.exists())
}

/// A secret file setting (`token_file`, `github_app_key_file`). Under `--target`, one named by
/// the installed system's config file is that system's: its place inside the target, or `None`
/// when it is not there (yet) — a secret manager usually restores it at boot — with a warning
/// naming what the preview uses `instead`. Otherwise (a flag, a variable, no target): as given.
fn secret_file(
    target: Option<&SysRoot>,
    setting: Option<Layered<PathBuf>>,
    instead: &str,
) -> Result<Option<Layered<PathBuf>>, ConfigError> {
    match (target, setting) {
        (Some(target), Some(l)) if l.from_file => {
            let path = in_target(target, &l.value)?;
            if path.exists() {
                return Ok(Some(Layered { value: path, ..l }));
            }
            log::warn!(
                "{} {} of the installed system is not in {} (yet); the preview uses {instead} \
                 instead",
                l.key,
                shown_secret_path(&l.value),
                target.dir().display()
            );
            Ok(None)
        }
        (_, l) => Ok(l),
    }
}

/// A path that should name a secret's file, for messages. Given the secret itself by mistake
/// (`--token-file ghp_…`, `ENLIST_GITHUB_APP_KEY_FILE="$(cat key.pem)"`), the "path" does not
/// exist and looks like a token or a key: then it is not shown.
pub fn shown_secret_path(path: &Path) -> String {
    const NOT_SHOWN: &str = "<not shown: this looks like the secret itself, not a file path>";
    let text = path.to_string_lossy();
    let trimmed = text.trim();
    let token_like = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]
        .iter()
        .any(|prefix| trimmed.starts_with(prefix));
    // No directory and as long as a token (classic: 40 characters) in a token's alphabet.
    let bare_secret = !trimmed.contains('/')
        && trimmed.len() >= 36
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    let secret_like =
        text.contains('\n') || text.contains("-----BEGIN") || token_like || bare_secret;
    if secret_like && !path.exists() {
        NOT_SHOWN.to_owned()
    } else {
        path.display().to_string()
    }
}

/// Reads and parses the App's private key. Errors name the file and never quote it.
fn read_app_key(path: &Path) -> Result<AppKey, ConfigError> {
    use std::io::Read;
    let fail = |reason: String| ConfigError::AppKeyFile {
        path: shown_secret_path(path),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_APP_KEY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_APP_KEY_BYTES {
        return Err(fail(format!(
            "it is larger than {} KiB, which no private key is",
            MAX_APP_KEY_BYTES / 1024
        )));
    }
    warn_if_shared(path, "GitHub App key");
    let text = String::from_utf8(bytes).map_err(|_| fail("it is not a text (PEM) file".into()))?;
    AppKey::from_pem(&text).map_err(|e| fail(e.to_string()))
}

/// Where the token comes from: SPEC §2's order, in this one place.
enum TokenSource {
    /// `--token-file` / `token_file`.
    File(PathBuf),
    /// `$CREDENTIALS_DIRECTORY/github-token` (systemd `LoadCredential=`).
    Credential(PathBuf),
    /// `GITHUB_TOKEN`.
    Environment,
}

impl TokenSource {
    fn describe(&self) -> String {
        match self {
            TokenSource::File(path) | TokenSource::Credential(path) => shown_secret_path(path),
            TokenSource::Environment => "GITHUB_TOKEN".to_owned(),
        }
    }
}

/// The first source that has a token, without reading it.
fn token_source(token_file: Option<&Path>, env: &Env) -> Option<TokenSource> {
    if let Some(path) = token_file {
        return Some(TokenSource::File(path.to_owned()));
    }
    if let Some(path) = credential(env, CREDENTIAL_NAME) {
        return Some(TokenSource::Credential(path));
    }
    env.get("GITHUB_TOKEN")
        .filter(|t| !t.trim().is_empty())
        .map(|_| TokenSource::Environment)
}

/// The token from its [`token_source`], if any.
pub(crate) fn resolve_token(
    token_file: Option<&Path>,
    env: &Env,
) -> Result<Option<Token>, ConfigError> {
    let raw = match token_source(token_file, env) {
        None => return Ok(None),
        Some(TokenSource::File(path) | TokenSource::Credential(path)) => {
            return read_token_file(&path).map(Some);
        }
        Some(TokenSource::Environment) => env.get("GITHUB_TOKEN").map_or("", String::as_str),
    };
    match Token::new(raw) {
        Some(token) if !well_formed(&token) => Err(ConfigError::Invalid {
            origin: "GITHUB_TOKEN".into(),
            key: "token",
            // Never the value itself, not even a malformed one.
            value: "<redacted>".into(),
            reason: "a token is one word of visible ASCII characters; set GITHUB_TOKEN to the \
                     token alone"
                .into(),
        }),
        token => Ok(token),
    }
}

/// Whether the token can go into an `Authorization` header: one word of visible ASCII. (A file
/// holding a second line or a `KEY=value` pair used to make the HTTP client panic.)
fn well_formed(token: &Token) -> bool {
    token.expose().bytes().all(|b| b.is_ascii_graphic())
}

fn read_token_file(path: &Path) -> Result<Token, ConfigError> {
    let fail = |reason: String| ConfigError::TokenFile {
        path: shown_secret_path(path),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    warn_if_shared(path, "token");
    let token = Token::new(&text).ok_or_else(|| fail("the file is empty".into()))?;
    if !well_formed(&token) {
        return Err(ConfigError::TokenFile {
            path: shown_secret_path(path),
            reason: "it holds more than the token (spaces, several lines or non-ASCII characters)"
                .into(),
        });
    }
    Ok(token)
}

fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o044 != 0 {
            log::warn!(
                "{}: {what} file is readable by group or others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
}

pub(crate) fn parse_repo(raw: &str) -> Result<RepoName, String> {
    let reason = || "expected OWNER/NAME (letters, digits, '.', '_', '-')".to_owned();
    let (owner, name) = raw.trim().split_once('/').ok_or_else(reason)?;
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if ok(owner) && ok(name) {
        Ok(RepoName {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    } else {
        Err(reason())
    }
}

/// Whether `api_url` is plain `http://` to a host other than this machine (loopback:
/// `localhost`, 127.0.0.0/8, `::1`): the token would cross a network unencrypted.
pub fn is_insecure_api_url(api_url: &str) -> bool {
    let Ok(uri) = api_url.parse::<http::Uri>() else {
        return false;
    };
    if uri.scheme_str() != Some("http") {
        return false;
    }
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

pub(crate) fn validate_api_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| "expected an http(s) URL such as https://api.github.com".to_owned())?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        // http::Uri keeps `user:password@` in the authority; the client would ignore it for
        // authentication and every error would echo it.
        return Err(
            "it carries credentials (user:password@host): remove them; enlist authenticates with \
             the token (token_file, LoadCredential=github-token or GITHUB_TOKEN), and the URL \
             appears in errors and logs"
                .to_owned(),
        );
    }
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) if uri.query().is_none() => Ok(trimmed.to_owned()),
        (Some("http"), Some(_)) if uri.query().is_none() => Ok(trimmed.to_owned()),
        _ => Err("expected an http(s) URL such as https://api.github.com".to_owned()),
    }
}

fn validate_operator(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 63
        && !raw.starts_with(['.', '-'])
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !raw.contains("..");
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("use a GitHub-style name: letters, digits, '-', '_', '.'".to_owned())
    }
}

pub(crate) fn validate_branch(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && !raw.starts_with(['/', '-', '.'])
        && !raw.contains("..")
        && !raw.contains("//")
        && !raw.ends_with(".lock")
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("use letters, digits, '.', '_', '-', '/' (no '..', no leading '/')".to_owned())
    }
}

/// A validated path template: only the three placeholders, `{node_id}` required, and every
/// expansion a relative path with no `..`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTemplate(String);

/// A hostname that cannot be used in a path.
#[derive(Debug, thiserror::Error)]
#[error(
    "hostname {0:?} is not a valid RFC 1123 host name (dot-separated labels of 1-63 letters, \
     digits and '-', not starting or ending with '-'), so it cannot be used in path_template: fix \
     /etc/hostname, or use {{node_id}} instead of {{hostname}}"
)]
pub struct UnsafeHostname(pub String);

impl PathTemplate {
    /// Validates a template.
    pub fn parse(raw: &str, have_operator: bool) -> Result<PathTemplate, String> {
        if !raw.contains("{node_id}") {
            return Err("must contain {node_id}".into());
        }
        if raw.contains("{operator}") && !have_operator {
            return Err("uses {operator} but no operator is configured (set `operator:`)".into());
        }
        let stripped = raw
            .replace("{operator}", "x")
            .replace("{node_id}", "x")
            .replace("{hostname}", "x");
        if stripped.contains('{') || stripped.contains('}') {
            return Err("only {operator}, {node_id} and {hostname} are placeholders".into());
        }
        if raw.starts_with('/') || raw.ends_with('/') {
            return Err("must be a relative file path inside the repository".into());
        }
        for part in stripped.split('/') {
            if part.is_empty() || part == "." || part == ".." {
                return Err("no empty, '.' or '..' path segments".into());
            }
            if !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err("use letters, digits, '.', '_', '-' and '/' only".into());
            }
        }
        if !raw.ends_with(".yaml") && !raw.ends_with(".yml") {
            return Err("must name a .yaml file".into());
        }
        Ok(PathTemplate(raw.to_owned()))
    }

    /// Expands the template. Operator and node id are validated names; the hostname is checked
    /// here because it comes from the machine.
    pub fn expand(
        &self,
        operator: Option<&str>,
        node_id: &NodeId,
        hostname: &str,
    ) -> Result<String, UnsafeHostname> {
        if self.0.contains("{hostname}") && !is_rfc1123_hostname(hostname) {
            return Err(UnsafeHostname(hostname.to_owned()));
        }
        Ok(self
            .0
            .replace("{operator}", operator.unwrap_or(""))
            .replace("{node_id}", node_id.as_str())
            .replace("{hostname}", hostname))
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn switches_left_off_do_not_hide_env_or_file() {
        use clap::Parser;
        let parse = |args: &[&str]| match crate::cli::Cli::try_parse_from(args).unwrap().command {
            crate::cli::Command::Register(args) => args.settings,
            other => panic!("{other:?}"),
        };
        let given = parse(&[
            "enlist",
            "register",
            "--dry-run",
            "--allow-live",
            "--base",
            "b",
        ]);
        assert_eq!(given.dry_run, Some(true));
        assert_eq!(given.allow_live, Some(true));
        assert_eq!(given.base_branch.as_deref(), Some("b"));
        // Absent is "not given", not `false`: the variable or the file still decides.
        let absent = parse(&["enlist", "register"]);
        assert_eq!((absent.dry_run, absent.allow_live), (None, None));
        let (_dir, path) = write_config("repo: a/b\ndry_run: true\n");
        let overrides = Overrides {
            config: Some(path),
            flags: absent,
            ..Overrides::default()
        };
        let cfg = RegisterConfig::resolve(&overrides, &env(&[("ENLIST_ALLOW_LIVE", "yes")]));
        let cfg = cfg.unwrap();
        assert!(cfg.dry_run && cfg.allow_live);
        // A flag's origin is its name as clap spells it.
        assert_eq!(flag_name("base_branch"), "--base");
        assert_eq!(flag_name("github_app_key_file"), "--github-app-key-file");
    }

    #[test]
    fn every_key_is_declared_once_for_file_env_and_flag() {
        // The file accepts every key of the declaration, the error for a typo lists them all.
        let (_dir, path) =
            write_config("repo: a/b\nrun_timeout_secs: 100\ngithub_app_installation_id: 7\n");
        assert!(
            load_file(
                &Overrides {
                    config: Some(path),
                    ..Overrides::default()
                },
                &Env::new()
            )
            .is_ok()
        );
        let err = parse_file("reop: x\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        for key in KEYS {
            assert!(err.contains(key), "{key} missing from: {err}");
        }
        // Each key's variable is ENLIST_<KEY>, typed as the file's value is.
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_RUN_TIMEOUT_SECS", "120"),
            ("ENLIST_BRANCH_PREFIX", "reg/"),
            ("ENLIST_AUTO_MERGE_UPDATES", "on"),
        ]);
        let cfg = RegisterConfig::resolve(&overrides, &e).unwrap();
        assert_eq!(cfg.run_timeout, Duration::from_secs(120));
        assert_eq!(cfg.branch_prefix, "reg/");
        assert!(cfg.auto_merge_updates);
        let bad = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_GITHUB_APP_INSTALLATION_ID", "many"),
        ]);
        let err = RegisterConfig::resolve(&overrides, &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ENLIST_GITHUB_APP_INSTALLATION_ID"), "{err}");
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let (_dir, path) =
            write_config("repo: file/repo\noperator: fileop\nbase_branch: filebase\n");
        let overrides = Overrides {
            config: Some(path),
            flags: Flags {
                repo: Some("flag/repo".into()),
                ..Flags::default()
            },
            ..Overrides::default()
        };
        let e = env(&[("ENLIST_REPO", "env/repo"), ("ENLIST_OPERATOR", "envop")]);
        let cfg = RegisterConfig::resolve(&overrides, &e).unwrap();
        assert_eq!(cfg.repo.to_string(), "flag/repo");
        assert_eq!(cfg.operator.as_deref(), Some("envop"));
        assert_eq!(cfg.base_branch.as_deref(), Some("filebase"));
        assert_eq!(cfg.api_url, DEFAULT_API_URL);
        assert_eq!(cfg.branch_prefix, "enlist/");
        assert_eq!(cfg.readiness_timeout, Duration::from_secs(600));
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let (_dir, path) = write_config("repo: a/b\nreop: typo\n");
        let overrides = Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        };
        let err = RegisterConfig::resolve(&overrides, &Env::new()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("reop"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn named_config_must_exist_default_may_not() {
        let overrides = Overrides {
            config: Some("/nonexistent/enlist.yaml".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            RegisterConfig::resolve(&overrides, &Env::new()),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn missing_repo_says_where_to_set_it() {
        let (_dir, path) = write_config("operator: alice\n");
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let err = RegisterConfig::resolve(&overrides, &Env::new()).unwrap_err();
        assert!(err.to_string().contains("ENLIST_REPO"), "{err}");
    }

    #[test]
    fn token_sources_in_spec_order() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join("github-token"), "from-credentials\n").unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file").unwrap();
        let base = Overrides {
            flags: Flags {
                repo: Some("a/b".into()),
                ..Flags::default()
            },
            config: Some(dir.path().join("none.yaml")),
            ..Overrides::default()
        };
        std::fs::write(dir.path().join("none.yaml"), "").unwrap();
        let e = env(&[
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
            ("GITHUB_TOKEN", "from-env"),
        ]);
        let with_file = Overrides {
            flags: Flags {
                token_file: Some(file),
                ..base.flags.clone()
            },
            ..base.clone()
        };
        let token = |o: &Overrides, e: &Env| {
            RegisterConfig::resolve(o, e)
                .unwrap()
                .token
                .map(|t| t.expose().to_owned())
        };
        assert_eq!(token(&with_file, &e).as_deref(), Some("from-file"));
        assert_eq!(token(&base, &e).as_deref(), Some("from-credentials"));
        assert_eq!(
            token(&base, &env(&[("GITHUB_TOKEN", "from-env")])).as_deref(),
            Some("from-env")
        );
        assert_eq!(token(&base, &Env::new()), None);
    }

    #[test]
    fn templates_cannot_escape_the_repository() {
        for bad in [
            "../{node_id}/node.yaml",
            "/abs/{node_id}/node.yaml",
            "cluster-nodes/node.yaml",
            "a/{node_id}/{serial}.yaml",
            "a//{node_id}/node.yaml",
            "a/{node_id}/node.txt",
        ] {
            assert!(PathTemplate::parse(bad, true).is_err(), "{bad}");
        }
        let t = PathTemplate::parse(
            "maintainers/{operator}/cluster-nodes/{node_id}/node.yaml",
            true,
        )
        .unwrap();
        let id = NodeId::parse("node-abc123").unwrap();
        assert_eq!(
            t.expand(Some("alice"), &id, "h").unwrap(),
            "maintainers/alice/cluster-nodes/node-abc123/node.yaml"
        );
        assert!(PathTemplate::parse("x/{operator}/{node_id}.yaml", false).is_err());
        let h = PathTemplate::parse("x/{hostname}/{node_id}.yaml", false).unwrap();
        assert!(h.expand(None, &id, "rack1-n1.example.org").is_ok());
        // Only RFC 1123 host names: no traversal, separators, control characters or empty labels.
        for bad in [
            "..",
            ".",
            "a/b",
            "a\u{1}b",
            "a..b",
            "-x",
            "x-",
            "under_score",
            "host\n",
            "",
            "a b",
        ] {
            let err = h.expand(None, &id, bad).unwrap_err();
            assert!(err.to_string().contains("RFC 1123"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn api_url_with_credentials_is_refused_without_echoing_them() {
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            flags: Flags {
                api_url: Some("https://enlist:s3cr3t-pa55@ghe.example.com/api/v3".into()),
                ..Flags::default()
            },
            ..Overrides::default()
        };
        let e = env(&[("ENLIST_REPO", "a/b")]);
        let err = RegisterConfig::resolve(&overrides, &e).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("credentials"), "{msg}");
        for secret in ["s3cr3t", "pa55", "enlist:", "ghe.example.com"] {
            assert!(!msg.contains(secret), "{msg}");
            assert!(!format!("{err:?}").contains(secret), "{err:?}");
        }
        // The same from the environment, and a malformed one.
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_API_URL", "http://u:p@ss@127.0.0.1:1"),
        ]);
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let msg = RegisterConfig::resolve(&overrides, &e)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("ENLIST_API_URL") && !msg.contains("ss@"),
            "{msg}"
        );
    }

    #[test]
    fn plain_http_to_a_remote_host_needs_allow_insecure_http() {
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let resolve = |url: &str, allow: Option<&str>| {
            let mut vars = vec![("ENLIST_REPO", "a/b"), ("ENLIST_API_URL", url)];
            if let Some(allow) = allow {
                vars.push(("ENLIST_ALLOW_INSECURE_HTTP", allow));
            }
            RegisterConfig::resolve(&overrides, &env(&vars))
        };
        let err = resolve("http://api.example.invalid", None).unwrap_err();
        assert!(
            err.to_string().contains("api_url") && err.to_string().contains("allow_insecure_http"),
            "{err}"
        );
        assert!(resolve("http://api.example.invalid", Some("true")).is_ok());
        for local in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/api/v3",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(resolve(local, None).is_ok(), "{local}");
        }
        assert!(resolve("http://10.0.0.1/api/v3", None).is_err());
        assert!(resolve("https://ghe.example.com/api/v3", None).is_ok());
    }

    #[test]
    fn run_timeout_and_auto_merge_have_defaults_and_checks() {
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let cfg = RegisterConfig::resolve(&overrides, &env(&[("ENLIST_REPO", "a/b")])).unwrap();
        assert_eq!(
            cfg.run_timeout,
            Duration::from_secs(DEFAULT_RUN_TIMEOUT_SECS)
        );
        assert_eq!(cfg.auto_merge, Some(MergeMethod::Squash));
        assert!(!cfg.auto_merge_updates);
        let cfg = RegisterConfig::resolve(
            &Overrides {
                flags: Flags {
                    auto_merge: Some("off".into()),
                    ..Flags::default()
                },
                ..overrides.clone()
            },
            &env(&[
                ("ENLIST_REPO", "a/b"),
                ("ENLIST_AUTO_MERGE", "rebase"),
                ("ENLIST_AUTO_MERGE_UPDATES", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.auto_merge, None, "the flag beats the environment");
        assert!(cfg.auto_merge_updates);
        for (key, value, names) in [
            (
                "ENLIST_AUTO_MERGE",
                "fast-forward",
                "squash, merge, rebase or off",
            ),
            ("ENLIST_RUN_TIMEOUT_SECS", "0", "at least 1"),
            ("ENLIST_START_JITTER_SECS", "900", "run_timeout_secs"),
        ] {
            let err =
                RegisterConfig::resolve(&overrides, &env(&[("ENLIST_REPO", "a/b"), (key, value)]))
                    .unwrap_err();
            assert!(err.to_string().contains(names), "{key}: {err}");
        }
    }

    #[test]
    fn durations_are_bounded() {
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_START_JITTER_SECS", "18446744073709551615"),
        ]);
        let err = RegisterConfig::resolve(&overrides, &e).unwrap_err();
        assert!(
            err.to_string().contains("ENLIST_START_JITTER_SECS"),
            "{err}"
        );
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_RATE_LIMIT_WAIT_SECS", "604800"),
        ]);
        assert!(RegisterConfig::resolve(&overrides, &e).is_ok());
    }

    /// A target as `nixos-install` leaves it: the config is a link into the store, `/var` a link
    /// to a persistent file system (absolute, as impermanence setups have it).
    fn nixos_target(config: &str) -> tempfile::TempDir {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("nix/store/abc-etc/etc/enlist")).unwrap();
        std::fs::write(root.join("nix/store/def-enlist.yaml"), config).unwrap();
        symlink(
            "/nix/store/def-enlist.yaml",
            root.join("nix/store/abc-etc/etc/enlist/config.yaml"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("etc/enlist")).unwrap();
        symlink("/nix/store/abc-etc/etc", root.join("etc/static")).unwrap();
        symlink(
            "/etc/static/enlist/config.yaml",
            root.join("etc/enlist/config.yaml"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("persist/var")).unwrap();
        symlink("/persist/var", root.join("var")).unwrap();
        dir
    }

    #[test]
    fn target_reads_its_own_config_through_links_and_is_a_dry_run() {
        let target = nixos_target("repo: target-org/fleet\noperator: alice\n");
        let overrides = Overrides {
            target: Some(target.path().to_owned()),
            ..Overrides::default()
        };
        // ENLIST_CONFIG and STATE_DIRECTORY describe this machine, not the target.
        let e = env(&[
            ("ENLIST_CONFIG", "/dev/null"),
            ("STATE_DIRECTORY", "/run/host-state"),
        ]);
        let cfg = RegisterConfig::resolve(&overrides, &e).unwrap();
        assert_eq!(cfg.repo.to_string(), "target-org/fleet");
        assert_eq!(cfg.operator.as_deref(), Some("alice"));
        assert!(cfg.dry_run, "--target implies --dry-run");
        assert_eq!(cfg.roots, Roots::target(target.path()));
        assert_eq!(
            cfg.state_dir,
            target.path().join("persist/var/lib/enlist"),
            "the target's state directory, its links followed inside it"
        );
        // --config names another file, read as given.
        let (_dir, path) = write_config("repo: flag/repo\n");
        let named = Overrides {
            config: Some(path),
            ..overrides.clone()
        };
        let cfg = RegisterConfig::resolve(&named, &e).unwrap();
        assert_eq!(cfg.repo.to_string(), "flag/repo");
    }

    #[test]
    fn paths_in_a_targets_config_are_the_targets() {
        let target = nixos_target(
            "repo: a/b\nstate_dir: /var/lib/enlist-custom\nroot: /srv/fixture\n\
             token_file: /run/keys/github-token\n",
        );
        let overrides = Overrides {
            target: Some(target.path().to_owned()),
            ..Overrides::default()
        };
        let cfg = RegisterConfig::resolve(&overrides, &Env::new()).unwrap();
        assert_eq!(
            cfg.state_dir,
            target.path().join("persist/var/lib/enlist-custom")
        );
        assert_eq!(
            cfg.roots,
            Roots::fixture(target.path().join("srv/fixture")),
            "the first boot reads that fixture: so does the preview"
        );
        // The token file is restored at boot: not there yet, so no token (and no error)...
        assert!(cfg.token.is_none());
        // ...until it is, inside the target.
        std::fs::create_dir_all(target.path().join("run/keys")).unwrap();
        std::fs::write(target.path().join("run/keys/github-token"), "tok\n").unwrap();
        let cfg = RegisterConfig::resolve(&overrides, &Env::new()).unwrap();
        assert_eq!(
            cfg.token.map(|t| t.expose().to_owned()).as_deref(),
            Some("tok")
        );
        // `root: /` is the installed system itself: hardware from this machine, as without it.
        let plain = nixos_target("repo: a/b\nroot: /\n");
        let plain_overrides = Overrides {
            target: Some(plain.path().to_owned()),
            ..Overrides::default()
        };
        let cfg = RegisterConfig::resolve(&plain_overrides, &Env::new()).unwrap();
        assert_eq!(cfg.roots, Roots::target(plain.path()));
        // A root from this machine's environment contradicts --target.
        let err = RegisterConfig::resolve(&overrides, &env(&[("ENLIST_ROOT", "/x")])).unwrap_err();
        assert!(matches!(err, ConfigError::RootWithTarget { .. }), "{err}");
    }

    #[test]
    fn secrets_given_as_paths_are_not_shown_real_paths_are() {
        const NOT_SHOWN: &str = "<not shown: this looks like the secret itself, not a file path>";
        for secret in [
            "ghp_enlistTestToken0123456789abcdefXYZ",
            "github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow…\n-----END RSA PRIVATE KEY-----\n",
            "0123456789abcdef0123456789abcdef01234567",
            "line one\nline two",
        ] {
            assert_eq!(
                shown_secret_path(Path::new(secret)),
                NOT_SHOWN,
                "{secret:?}"
            );
        }
        for path in [
            "/run/keys/github-token",
            "github-token",
            "/etc/enlist/ghp_token_file_named_like_a_token_0123456789",
            "my-github-app.2026-11-29.private-key.pem",
        ] {
            assert_eq!(shown_secret_path(Path::new(path)), path);
        }
        // A file that exists is named whatever its name looks like.
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("ghp_0123456789abcdef0123456789abcdef0123");
        std::fs::write(&odd, "x").unwrap();
        assert_eq!(shown_secret_path(&odd), odd.display().to_string());
    }

    #[test]
    fn a_dry_run_without_the_apps_key_keeps_the_app_id() {
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let e = env(&[("ENLIST_REPO", "a/b"), ("ENLIST_GITHUB_APP_ID", "424242")]);
        let err = RegisterConfig::resolve(&overrides, &e).unwrap_err();
        assert!(matches!(err, ConfigError::NoAppKey), "{err}");
        let dry = Overrides {
            flags: Flags {
                dry_run: Some(true),
                ..Flags::default()
            },
            ..overrides
        };
        let cfg = RegisterConfig::resolve(&dry, &e).unwrap();
        assert_eq!(cfg.github_app_id_without_key.as_deref(), Some("424242"));
        assert!(cfg.github_app.is_none() && cfg.token.is_none());
    }

    #[test]
    fn env_values_are_typed_with_clear_errors() {
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_READINESS_TIMEOUT_SECS", "soon"),
        ]);
        let overrides = Overrides {
            config: Some("/dev/null".into()),
            ..Overrides::default()
        };
        let err = RegisterConfig::resolve(&overrides, &e).unwrap_err();
        assert!(
            err.to_string().contains("ENLIST_READINESS_TIMEOUT_SECS"),
            "{err}"
        );
        let e = env(&[
            ("ENLIST_REPO", "a/b"),
            ("ENLIST_LABELS", "enlist, hardware"),
        ]);
        let cfg = RegisterConfig::resolve(&overrides, &e).unwrap();
        assert_eq!(cfg.labels, vec!["enlist", "hardware"]);
    }
}
