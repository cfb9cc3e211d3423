//! `enlist gate`: the required check that bounds what a stolen node credential can get merged
//! (SPEC §5c). A pull request passes when it is a **machine change** — one node adding (or, with
//! `--allow-updates`, updating) its own valid registration — or when a person approved its current
//! head; everything else fails, naming each file that needs a person and why.
//!
//! | concern | where |
//! |---|---|
//! | which node a path belongs to (`path_template`) | [`path`] |
//! | the decision: files + contents + reviews + access → verdict (pure, table-tested) | [`verdict`] |
//! | text, JSON, annotations, the job summary | [`render`] |
//! | settings from flags and GitHub Actions' environment; reading what the decision asks for | this file |
//!
//! The gate only reads (GET), through the registration's GitHub client ([`crate::forge`]): the
//! same answer cap, pagination, rate-limit waits and error mapping. The head sha read first is
//! the one gated: the files a machine change stands on are GitHub's comparison of the pinned base
//! and head shas, every file is read at it, an approval counts only for it, and the pull request
//! is read again at the end — a head that moved meanwhile fails the run (exit 75; the run that
//! the new push started decides). In GitHub Actions the event names the head its check run is
//! attached to; a pull request whose head is already another one is not gated either.

pub mod path;
pub mod render;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{self, ConfigError, Env, PathTemplate, RepoName};
use crate::forge::{
    Credentials, ForgeError, GitHub, GitHubOptions, MAX_PR_FILES, RequestCounts, short_sha,
};
use crate::reconcile::{self, InventoryMap, ReconcileError};

pub use verdict::{Kind, Policy, Verdict};

/// The largest GitHub Actions event file read (`GITHUB_EVENT_PATH`), bytes. A `pull_request`
/// event is the pull request, its repositories and sender: tens of KiB, the PR body at most 64 K
/// characters.
pub const MAX_EVENT_BYTES: u64 = 8 * 1024 * 1024;

/// How long one gate run may take in all (every request, its retries and rate-limit waits): a
/// CI job, not a boot.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a gate run may wait on rate limits in total (inside [`RUN_TIMEOUT`]).
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(240);

/// Per-request timeout of the HTTP stack (connect, each read).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Read attempts after a failed read (5xx, transport), with backoff.
const READ_RETRIES: usize = 3;

/// The most reads one decision may ask for beyond the first: the files, their pinned
/// comparison, two file versions, the reviews and the reviewers' access
/// ([`verdict::MAX_ACCESS_READS`]). Guards against a decision that would never settle.
const MAX_READS: usize = 9 + verdict::MAX_ACCESS_READS;

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For a terminal or a CI log.
    Text,
    /// One JSON object.
    Json,
    /// GitHub Actions: annotations on stdout, the report in the job summary.
    Github,
}

/// The gate's settings (flags, then GitHub Actions' environment).
#[derive(Clone, Debug, Default)]
pub struct Args {
    /// `--repo`, else `GITHUB_REPOSITORY`.
    pub repo: Option<String>,
    /// `--pr`, else the event's pull request.
    pub pr: Option<u64>,
    /// `--api-url`, else `GITHUB_API_URL`, else api.github.com.
    pub api_url: Option<String>,
    /// `--token-file`, else `$CREDENTIALS_DIRECTORY/github-token`, else `GITHUB_TOKEN`.
    pub token_file: Option<PathBuf>,
    /// `--path-template`.
    pub path_template: Option<String>,
    /// `--branch-prefix`.
    pub branch_prefix: Option<String>,
    /// `--allow-updates`.
    pub allow_updates: bool,
    /// `--inventory`.
    pub inventory: Option<PathBuf>,
    /// `--inventory-map`.
    pub inventory_map: Option<PathBuf>,
    /// `--machine-login` (repeatable).
    pub machine_logins: Vec<String>,
}

/// A resolved gate run.
#[derive(Debug)]
pub struct Options {
    /// The repository.
    pub repo: RepoName,
    /// The pull request.
    pub pr: u64,
    /// The head the event's check run is for (GitHub Actions), if known.
    pub event_head: Option<String>,
    /// API base URL.
    pub api_url: String,
    /// The token.
    pub token: crate::secret::Token,
    /// What makes a machine change.
    pub policy: Policy,
}

/// Why the gate could not decide. `main` maps each to an exit code ([`crate::exit::of_gate`]).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Options missing or wrong (exit 64).
    #[error("{0}")]
    Usage(String),
    /// The inventory or its map cannot be used (exit 64).
    #[error(transparent)]
    Inventory(#[from] ReconcileError),
    /// No token, or an unusable one (exit 78).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The pull request cannot be read: it does not exist, or the token cannot see it (exit 77).
    #[error(
        "pull request #{pr} of {repo} not found (404): check --pr/--repo, and that the token can read \
         pull requests (in GitHub Actions: `permissions: pull-requests: read`)"
    )]
    PullNotFound {
        /// The repository.
        repo: String,
        /// The number.
        pr: u64,
    },
    /// The head moved while gating (exit 75): this run decides nothing.
    #[error(
        "the head of pull request #{pr} moved from {from} to {to} while gating; this run decides \
         nothing: the run for the new head does"
    )]
    HeadMoved {
        /// The number.
        pr: u64,
        /// The head gated (short).
        from: String,
        /// The head now (short).
        to: String,
    },
    /// A GitHub error.
    #[error("{0}{next}", next = gate_next_step(.0))]
    Forge(#[from] ForgeError),
    /// The decision asked for more reads than it can need (a bug).
    #[error("internal error: the gate asked for more than {MAX_READS} reads; please report this")]
    NoProgress,
}

/// [`ForgeError::next_step`] in a CI job's words (registration's mention the enlist unit).
fn gate_next_step(error: &ForgeError) -> &'static str {
    match error {
        ForgeError::Server { .. } | ForgeError::RunTimeout { .. } => {
            "; GitHub is having trouble: re-run the job later"
        }
        ForgeError::Transport { .. } => "; check the runner's network and GITHUB_API_URL",
        ForgeError::Forbidden { .. } => {
            "; the gate needs `pull-requests: read` and `contents: read` (a workflow's \
             `permissions:`)"
        }
        other => other.next_step(),
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    /// The decision.
    pub verdict: Verdict,
    /// Requests made (all reads).
    pub counts: RequestCounts,
}

impl Options {
    /// Resolves the settings: flags first, then GitHub Actions' variables (`GITHUB_REPOSITORY`,
    /// the pull request of the event at `GITHUB_EVENT_PATH`, `GITHUB_API_URL`, `GITHUB_TOKEN`).
    pub fn resolve(args: &Args, env: &Env) -> Result<Options, GateError> {
        let repo_text = args
            .repo
            .clone()
            .or_else(|| env.get("GITHUB_REPOSITORY").cloned())
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                GateError::Usage(
                    "gate: no repository: pass --repo OWNER/NAME (GitHub Actions sets \
                     GITHUB_REPOSITORY)"
                        .to_owned(),
                )
            })?;
        let repo = config::parse_repo(&repo_text)
            .map_err(|reason| GateError::Usage(format!("gate: --repo {repo_text:?}: {reason}")))?;
        let event = match env.get("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
            Some(path) => Some(read_event(Path::new(path))?),
            None => None,
        };
        let (pr, event_head) = match (args.pr, &event) {
            (Some(pr), Some(event)) if event.number == pr => (pr, event.head_sha.clone()),
            (Some(pr), _) => (pr, None),
            (None, Some(event)) => (event.number, event.head_sha.clone()),
            (None, None) => {
                return Err(GateError::Usage(
                    "gate: no pull request: pass --pr N (in GitHub Actions, run it on \
                     pull_request and pull_request_review events, whose event file names it)"
                        .to_owned(),
                ));
            }
        };
        let api_url = match args
            .api_url
            .clone()
            .or_else(|| env.get("GITHUB_API_URL").cloned())
            .filter(|u| !u.is_empty())
        {
            Some(raw) => config::validate_api_url(&raw).map_err(|reason| {
                let shown = if raw.contains('@') {
                    "<not shown>"
                } else {
                    raw.as_str()
                };
                GateError::Usage(format!("gate: --api-url {shown}: {reason}"))
            })?,
            None => config::DEFAULT_API_URL.to_owned(),
        };
        let token = config::resolve_token(args.token_file.as_deref(), env)?.ok_or_else(|| {
            ConfigError::NoToken {
                repo: repo.to_string(),
            }
        })?;
        let template_text = args
            .path_template
            .as_deref()
            .unwrap_or(config::DEFAULT_PATH_TEMPLATE);
        let path_template = PathTemplate::parse(template_text, true).map_err(|reason| {
            GateError::Usage(format!("gate: --path-template {template_text:?}: {reason}"))
        })?;
        let prefix_text = args
            .branch_prefix
            .as_deref()
            .unwrap_or(config::DEFAULT_BRANCH_PREFIX);
        let branch_prefix = config::validate_branch(prefix_text).map_err(|reason| {
            GateError::Usage(format!("gate: --branch-prefix {prefix_text:?}: {reason}"))
        })?;
        let mut machine_logins = Vec::new();
        for login in &args.machine_logins {
            let login = login.trim();
            if !valid_login(login) {
                return Err(GateError::Usage(format!(
                    "gate: --machine-login {login:?}: a GitHub login is 1–39 letters, digits and \
                     '-' (a bot's ends in [bot])"
                )));
            }
            machine_logins.push(login.to_lowercase());
        }
        let inventory = match &args.inventory {
            None => None,
            Some(path) => {
                let shown = path.display().to_string();
                let map = args
                    .inventory_map
                    .as_deref()
                    .map(|m| InventoryMap::read(m, &m.display().to_string()))
                    .transpose()?;
                Some(reconcile::inventory::read(path, &shown, map.as_ref())?)
            }
        };
        if args.inventory_map.is_some() && args.inventory.is_none() {
            return Err(GateError::Usage(
                "gate: --inventory-map goes with --inventory".to_owned(),
            ));
        }
        Ok(Options {
            repo,
            pr,
            event_head,
            api_url,
            token,
            policy: Policy {
                path_template,
                branch_prefix,
                allow_updates: args.allow_updates,
                machine_logins,
                inventory,
            },
        })
    }
}

/// A GitHub login (`alice`, `fleet-bot`, `enlist-nodes[bot]`).
fn valid_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= 39
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The pull request a GitHub Actions event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    number: u64,
    /// `pull_request.head.sha`: the commit the workflow's check run is reported on.
    head_sha: Option<String>,
}

/// Reads `GITHUB_EVENT_PATH` (a `pull_request` or `pull_request_review` event).
fn read_event(path: &Path) -> Result<Event, GateError> {
    let fail = |why: String| {
        GateError::Usage(format!(
            "gate: GITHUB_EVENT_PATH {}: {why}; run the gate on pull_request and \
             pull_request_review events, or pass --pr N",
            path.display()
        ))
    };
    let bytes = crate::input::read_capped(path, MAX_EVENT_BYTES, "GitHub event file")
        .map_err(|e| fail(e.to_string()))?;
    let event: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("not JSON: {e}")))?;
    let pull = &event["pull_request"];
    let number = pull["number"]
        .as_u64()
        .ok_or_else(|| fail("not a pull request event (no pull_request.number)".to_owned()))?;
    let head_sha = pull["head"]["sha"]
        .as_str()
        .filter(|s| crate::forge::is_commit_sha(s))
        .map(str::to_lowercase);
    Ok(Event { number, head_sha })
}

/// Gates the pull request: reads what the decision asks for, then the pull request again.
pub async fn run(options: &Options, clock: Arc<dyn Clock>) -> Result<Outcome, GateError> {
    let deadline = clock.elapsed().saturating_add(RUN_TIMEOUT);
    let github = GitHub::new(
        GitHubOptions {
            api_url: options.api_url.clone(),
            repo: options.repo.clone(),
            credentials: Credentials::Token(options.token.clone()),
            request_timeout: REQUEST_TIMEOUT,
            deadline,
            run_timeout: RUN_TIMEOUT,
            rate_limit_wait: RATE_LIMIT_WAIT,
            read_retries: READ_RETRIES,
            jitter_seed: None,
        },
        clock,
    )?;
    // A CI job has no readiness wait: failed reads are retried (with backoff) from the first.
    github.mark_reached();
    let pull = read_pull(&github, options).await?;
    if let Some(expected) = &options.event_head
        && *expected != pull.head_sha
    {
        return Err(GateError::HeadMoved {
            pr: options.pr,
            from: short_sha(expected).to_owned(),
            to: short_sha(&pull.head_sha).to_owned(),
        });
    }
    log::debug!(
        "gating #{} at {} ({} → {})",
        pull.number,
        short_sha(&pull.head_sha),
        crate::markdown::one_line(&pull.head_ref),
        crate::markdown::one_line(&pull.base_ref)
    );
    let mut seen = verdict::Seen::new(pull);
    let mut reads = 0;
    let verdict = loop {
        let need = match verdict::next(&options.policy, &seen) {
            verdict::Step::Decide(verdict) => break verdict,
            verdict::Step::Read(need) => need,
        };
        reads += 1;
        if reads > MAX_READS {
            return Err(GateError::NoProgress);
        }
        log::debug!("gate reads {need:?}");
        match need {
            verdict::Need::Files => {
                let mut files = github.pull_files(options.pr).await?;
                files.truncate(MAX_PR_FILES);
                seen.files = Some(files);
            }
            verdict::Need::Compare { base, head } => {
                seen.pinned = Some(github.compare_files(&base, &head).await?);
            }
            verdict::Need::Blob { path, sha, head } => {
                let blob = github.blob_at(&path, &sha).await?;
                if head {
                    seen.head = Some(blob);
                } else {
                    seen.base = Some(blob);
                }
            }
            verdict::Need::Reviews => seen.reviews = Some(github.pull_reviews(options.pr).await?),
            verdict::Need::Access(login) => {
                let access = github.collaborator_access(&login).await?;
                seen.access.insert(login.to_lowercase(), access);
            }
        }
    };
    // The head read first is the one gated; if it moved, a newer run decides.
    let again = read_pull(&github, options).await?;
    if again.head_sha != seen.pull.head_sha {
        return Err(GateError::HeadMoved {
            pr: options.pr,
            from: short_sha(&seen.pull.head_sha).to_owned(),
            to: short_sha(&again.head_sha).to_owned(),
        });
    }
    Ok(Outcome {
        verdict,
        counts: github.counts(),
    })
}

async fn read_pull(
    github: &GitHub,
    options: &Options,
) -> Result<crate::forge::GatePull, GateError> {
    github.gate_pull(options.pr).await.map_err(|e| match e {
        ForgeError::NotFound { .. } => GateError::PullNotFound {
            repo: options.repo.to_string(),
            pr: options.pr,
        },
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn event_file(json: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, json).unwrap();
        (dir, path.display().to_string())
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn github_actions_defaults_come_from_the_environment() {
        for event in [
            // pull_request
            format!(
                r#"{{"action": "synchronize", "number": 7, "pull_request": {{"number": 7, "head": {{"sha": "{SHA}"}}}}}}"#
            ),
            // pull_request_review
            format!(
                r#"{{"action": "submitted", "review": {{"state": "approved"}}, "pull_request": {{"number": 7, "head": {{"sha": "{}"}}}}}}"#,
                SHA.to_uppercase()
            ),
        ] {
            let (_dir, path) = event_file(&event);
            let options = Options::resolve(
                &Args::default(),
                &env(&[
                    ("GITHUB_REPOSITORY", "acme/fleet"),
                    ("GITHUB_EVENT_PATH", &path),
                    ("GITHUB_API_URL", "https://ghe.example/api/v3"),
                    ("GITHUB_TOKEN", "ghs_abc"),
                ]),
            )
            .unwrap();
            assert_eq!(options.repo.to_string(), "acme/fleet");
            assert_eq!(options.pr, 7);
            assert_eq!(options.event_head.as_deref(), Some(SHA));
            assert_eq!(options.api_url, "https://ghe.example/api/v3");
            assert_eq!(options.token.expose(), "ghs_abc");
            assert_eq!(
                options.policy.path_template.as_str(),
                config::DEFAULT_PATH_TEMPLATE
            );
            assert_eq!(options.policy.branch_prefix, "enlist/");
        }
    }

    #[test]
    fn flags_win_and_another_pr_has_no_event_head() {
        let (_dir, path) = event_file(&format!(
            r#"{{"pull_request": {{"number": 7, "head": {{"sha": "{SHA}"}}}}}}"#
        ));
        let args = Args {
            repo: Some("other/repo".into()),
            pr: Some(9),
            machine_logins: vec!["Fleet-Bot".into(), "enlist-nodes[bot]".into()],
            ..Args::default()
        };
        let options = Options::resolve(
            &args,
            &env(&[
                ("GITHUB_REPOSITORY", "acme/fleet"),
                ("GITHUB_EVENT_PATH", &path),
                ("GITHUB_TOKEN", "t"),
            ]),
        )
        .unwrap();
        assert_eq!(options.repo.to_string(), "other/repo");
        assert_eq!((options.pr, options.event_head), (9, None));
        assert_eq!(
            options.policy.machine_logins,
            ["fleet-bot", "enlist-nodes[bot]"]
        );
    }

    #[test]
    fn missing_or_wrong_settings_are_usage_errors_naming_what_to_pass() {
        let usage = |args: &Args, pairs: &[(&str, &str)]| match Options::resolve(args, &env(pairs))
            .unwrap_err()
        {
            GateError::Usage(message) => message,
            other => panic!("{other:?}"),
        };
        assert!(usage(&Args::default(), &[("GITHUB_TOKEN", "t")]).contains("--repo"));
        assert!(usage(&Args::default(), &[("GITHUB_REPOSITORY", "a/b")]).contains("--pr N"));
        let (_dir, push) = event_file(r#"{"ref": "refs/heads/main"}"#);
        let message = usage(
            &Args::default(),
            &[("GITHUB_REPOSITORY", "a/b"), ("GITHUB_EVENT_PATH", &push)],
        );
        assert!(message.contains("not a pull request event"), "{message}");
        let with_pr = |extra: Args| Args {
            repo: Some("a/b".into()),
            pr: Some(1),
            ..extra
        };
        for (args, named) in [
            (
                with_pr(Args {
                    path_template: Some("nodes/x.yaml".into()),
                    ..Args::default()
                }),
                "--path-template",
            ),
            (
                with_pr(Args {
                    branch_prefix: Some("../x".into()),
                    ..Args::default()
                }),
                "--branch-prefix",
            ),
            (
                with_pr(Args {
                    machine_logins: vec!["a b".into()],
                    ..Args::default()
                }),
                "--machine-login",
            ),
            (
                with_pr(Args {
                    api_url: Some("https://user:secret@ghe.example".into()),
                    ..Args::default()
                }),
                "--api-url <not shown>",
            ),
        ] {
            let message = usage(&args, &[("GITHUB_TOKEN", "t")]);
            assert!(message.contains(named), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn no_token_is_a_configuration_error() {
        let args = Args {
            repo: Some("a/b".into()),
            pr: Some(1),
            ..Args::default()
        };
        assert!(matches!(
            Options::resolve(&args, &env(&[])).unwrap_err(),
            GateError::Config(ConfigError::NoToken { .. })
        ));
    }
}
