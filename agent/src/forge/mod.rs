//! The forge: the few GitHub operations registration needs, behind a trait so the planner loop
//! can run against the real API ([`GitHub`]) and tests can count what it asked for.
//!
//! Every method is one HTTP request (plus transparent waits on rate limits and retries of reads).
//! Writes are never retried blindly here: a write that failed ambiguously (5xx, timeout) returns
//! an error and the registration loop re-reads state before deciding to write again.

pub mod app;
mod github;
pub mod ratelimit;

use std::time::Duration;

pub use app::{AppError, GitHubApp};
pub use github::trust::{
    Access, Account, Blob, BranchRules, ChangedFile, GatePull, Installation, MAX_PR_FILES,
    Protection, Readable, RepoSettings, RequiredCheck, Review,
};
pub use github::{
    Credentials, GitHub, GitHubOptions, MAX_PAGES, MAX_RESPONSE_BYTES, PER_PAGE, RequestCounts,
    graphql_path,
};

/// The first 12 characters of a commit sha, for messages (the whole of anything shorter, or of
/// anything whose 12th character is not where a sha's would be).
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Whether `sha` is a git commit id as GitHub writes it: 40 hex digits (SHA-1 object format, the
/// only one GitHub serves).
pub fn is_commit_sha(sha: &str) -> bool {
    sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Repository facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoInfo {
    /// The default branch.
    pub default_branch: String,
}

/// A file at a ref.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// Blob sha (needed to update it).
    pub sha: String,
    /// Decoded content.
    pub content: String,
}

/// A pull request as far as registration cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Number.
    pub number: u64,
    /// Open (else closed).
    pub open: bool,
    /// Merged (`merged_at` set).
    pub merged: bool,
    /// `head.ref`: the branch name, checked by the caller.
    pub head_ref: String,
    /// `base.ref`: the branch it would merge into.
    pub base_ref: String,
    /// Body (holds the enlist trailer).
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Web URL.
    pub html_url: String,
    /// GraphQL node id (`pullRequestId` of the auto-merge mutation).
    pub node_id: String,
    /// `head.sha`: the commit whose checks decide the merge.
    pub head_sha: String,
    /// Auto-merge's merge method when it is on (`auto_merge.merge_method`), else `None`.
    pub auto_merge: Option<String>,
}

/// One check on a commit: a check run (GitHub Actions, apps), or a commit status (older CI).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// The check's name (a job's name) or the status's context.
    pub name: String,
    /// `queued`, `in_progress`, `completed`, … (a status: `completed`, or `pending`).
    pub status: String,
    /// `success`, `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`, `action_required`
    /// (a status: `success`, `failure`, `error`); `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<String>,
    /// Where to read it.
    pub url: String,
    /// Its one-line summary (`output.title`, a status's description), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[cfg(test)]
impl Check {
    /// A check run of the tests' repository: `completed` with `conclusion`, running without.
    pub fn of_test(name: &str, conclusion: Option<&str>) -> Check {
        Check {
            name: name.into(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .into(),
            conclusion: conclusion.map(str::to_owned),
            url: format!("https://github.com/acme/fleet/runs/{name}"),
            title: None,
        }
    }
}

/// Why GitHub would not turn auto-merge on (a GraphQL `UNPROCESSABLE` error). None is a failure
/// of the registration: the PR stays open for review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// "Auto merge is not allowed for this repository": the repository setting is off.
    NotAllowed,
    /// "Protected branch rules not configured for this branch": nothing would gate the merge.
    NoRules,
    /// "Pull request is in clean status": mergeable now, no required check pending.
    Clean,
    /// "Pull request is in unstable status": a check that is not required failed or runs.
    Unstable,
    /// The credential may not do it (GraphQL `FORBIDDEN`, or a 403 that is not a rate limit).
    Forbidden,
    /// Anything else GitHub says ("Can't enable auto-merge for this pull request", …).
    Other,
}

impl Refusal {
    /// Classifies GitHub's message.
    pub fn classify(message: &str) -> Refusal {
        let m = message.to_lowercase();
        if m.contains("auto merge is not allowed") || m.contains("auto-merge is not allowed") {
            Refusal::NotAllowed
        } else if m.contains("protected branch rules not configured") {
            Refusal::NoRules
        } else if m.contains("clean status") {
            Refusal::Clean
        } else if m.contains("unstable status") {
            Refusal::Unstable
        } else {
            Refusal::Other
        }
    }

    /// Stable name (marker, `enlist status --json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "not_allowed",
            Refusal::NoRules => "no_protection_rules",
            Refusal::Clean => "clean_status",
            Refusal::Unstable => "unstable_status",
            Refusal::Forbidden => "forbidden",
            Refusal::Other => "refused",
        }
    }

    /// What the repository's owner should change.
    pub fn advice(self) -> &'static str {
        match self {
            Refusal::NotAllowed => {
                "allow auto-merge in the repository (Settings → General → Pull Requests → \
                 Allow auto-merge)"
            }
            Refusal::NoRules | Refusal::Clean => {
                "require the reconcile check on the base branch (branch protection or a ruleset: \
                 Require status checks to pass → the `enlist reconcile` job), so that it gates \
                 the merge; enlist never merges before reconciliation"
            }
            Refusal::Unstable => {
                "a check that is not required failed or is still running; fix it or merge by hand"
            }
            Refusal::Forbidden => {
                "give the node's credential Pull requests: write on the repository (token: \
                 fine-grained permission; App: its permissions, then accept them on the \
                 installation)"
            }
            Refusal::Other => "see GitHub's message; the pull request waits for a review",
        }
    }
}

/// GitHub's answer to turning auto-merge on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoMerge {
    /// On, with this merge method (lowercase).
    Enabled(String),
    /// Refused (see [`Refusal`]), with GitHub's message.
    Refused(Refusal, String),
}

/// GitHub's answer to turning auto-merge off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoMergeOff {
    /// Off.
    Off,
    /// Refused (see [`Refusal`]), with GitHub's message.
    Refused(Refusal, String),
}

/// Result of a create call that GitHub may answer with 422 "already exists".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created<T> {
    /// Created now.
    Created(T),
    /// It already existed: a concurrent or earlier (crashed, retried) write made it. Adopt it.
    AlreadyExists,
}

/// Outcome of a contents write that GitHub may reject because the file changed under us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileWrite {
    /// Committed; the commit's sha when GitHub said it (40 hex digits).
    Written(Option<String>),
    /// 409 `does not match` / 422 `"sha" wasn't supplied`: the file's sha was not what we sent.
    /// Re-read the file and try again.
    Stale,
}

/// Why a forge call failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// 401: the token is wrong, expired or revoked.
    #[error(
        "GitHub rejected the token (401 {message}); replace it with a valid fine-grained token"
    )]
    Unauthorized {
        /// GitHub's message.
        message: String,
    },
    /// 403 that is not a rate limit: the token lacks a permission.
    #[error(
        "GitHub refused {what} (403 {message}); give the token contents: write and pull requests: write on the repository"
    )]
    Forbidden {
        /// The operation.
        what: String,
        /// GitHub's message.
        message: String,
    },
    /// 404 where a resource must exist.
    #[error(
        "{what} not found (404); check `repo`, `base_branch` and that the token can see the repository"
    )]
    NotFound {
        /// The resource.
        what: String,
    },
    /// Rate limited for longer than this run may wait.
    #[error(
        "rate limited by GitHub ({message}); the next wait ({wait:?}) exceeds the run's budget, retry later"
    )]
    RateLimited {
        /// The wait GitHub asked for.
        wait: Duration,
        /// GitHub's message.
        message: String,
    },
    /// 5xx that persisted through the retries (or one on a write).
    #[error("GitHub answered {status} to {what}{detail}")]
    Server {
        /// The operation.
        what: String,
        /// HTTP status.
        status: u16,
        /// Extra detail.
        detail: String,
    },
    /// No HTTP answer (connect, DNS, TLS, timeout).
    #[error("cannot reach GitHub for {what}: {message}")]
    Transport {
        /// The operation.
        what: String,
        /// What failed.
        message: String,
    },
    /// An answer registration does not know how to handle.
    #[error("unexpected answer from GitHub to {what}: {status} {message}")]
    Unexpected {
        /// The operation.
        what: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message or the decode error.
        message: String,
    },
    /// An answer larger than enlist reads ([`github::MAX_RESPONSE_BYTES`]).
    #[error(
        "GitHub's answer to {what} is larger than {limit} bytes{declared_text} (MAX_RESPONSE_BYTES); \
         enlist does not read it",
        declared_text = match declared {
            Some(n) => format!(" (content-length {n})"),
            None => String::new(),
        }
    )]
    TooLarge {
        /// The operation.
        what: String,
        /// The limit, bytes.
        limit: u64,
        /// The answer's `content-length`, if it declared one.
        declared: Option<u64>,
    },
    /// The run's deadline (`run_timeout_secs`) passed before this request was answered.
    #[error("the run's deadline ({secs} s, run_timeout_secs) passed during {what}")]
    RunTimeout {
        /// The operation.
        what: String,
        /// The configured deadline.
        secs: u64,
    },
    /// The client could not be built (bad URL, no TLS roots).
    #[error("cannot set up the GitHub client: {0}")]
    Client(String),
    /// GitHub App authentication failed (JWT rejected, App not installed, token refused).
    #[error(transparent)]
    App(#[from] AppError),
}

impl ForgeError {
    /// Stable kind for logs and events.
    pub fn kind(&self) -> &'static str {
        match self {
            ForgeError::Unauthorized { .. } => "unauthorized",
            ForgeError::Forbidden { .. } => "forbidden",
            ForgeError::NotFound { .. } => "not_found",
            ForgeError::RateLimited { .. } => "rate_limited",
            ForgeError::Server { .. } => "server_error",
            ForgeError::Transport { .. } => "unreachable",
            ForgeError::Unexpected { .. } => "unexpected_response",
            ForgeError::TooLarge { .. } => "response_too_large",
            ForgeError::RunTimeout { .. } => "run_timeout",
            ForgeError::Client(_) => "client",
            ForgeError::App(e) => e.kind(),
        }
    }

    /// What to do about it, for the final error message (`""` when the message already says so;
    /// not part of `Display`, which also appears inside retry and readiness log lines).
    pub fn next_step(&self) -> &'static str {
        match self {
            ForgeError::Unauthorized { .. }
            | ForgeError::Forbidden { .. }
            | ForgeError::NotFound { .. }
            | ForgeError::RateLimited { .. }
            | ForgeError::App(_) => "",
            ForgeError::Server { .. } => {
                "; GitHub is having trouble: the enlist unit retries later on its own (exit 75), \
                 or run `enlist register` again later"
            }
            ForgeError::Transport { .. } => {
                "; check the network, DNS, proxy and `api_url`; the enlist unit retries later on \
                 its own (exit 75)"
            }
            ForgeError::Unexpected { .. } => {
                "; check that `api_url` is the GitHub REST API (GitHub Enterprise: \
                 https://HOST/api/v3); if it is, please report this with the log"
            }
            ForgeError::TooLarge { .. } => {
                "; check that `api_url` is the GitHub REST API (GitHub Enterprise: \
                 https://HOST/api/v3) and that no proxy in between rewrites its answers"
            }
            ForgeError::RunTimeout { .. } => {
                "; GitHub answers too slowly: the enlist unit retries later on its own (exit 75), \
                 or raise run_timeout_secs"
            }
            ForgeError::Client(_) => "; check `api_url` (an http(s) URL) and the CA certificates",
        }
    }

    /// A failure after which the state of a write is unknown (it may or may not have happened).
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            ForgeError::Server { .. } | ForgeError::Transport { .. }
        )
    }
}

/// The GitHub operations registration uses. Methods are async; the loop is generic over the
/// implementation and runs on a current-thread runtime, so no `Send` bound is needed.
#[allow(async_fn_in_trait)]
pub trait Forge {
    /// `GET /repos/{o}/{r}`. Also the readiness probe.
    async fn repo(&self) -> Result<RepoInfo, ForgeError>;
    /// `GET /repos/{o}/{r}/git/ref/heads/{branch}` → commit sha, or `None` on 404.
    async fn branch_sha(&self, branch: &str) -> Result<Option<String>, ForgeError>;
    /// `GET /repos/{o}/{r}/contents/{path}?ref={ref}` → file, or `None` on 404.
    async fn file(&self, path: &str, git_ref: &str) -> Result<Option<RemoteFile>, ForgeError>;
    /// `GET /repos/{o}/{r}/pulls?head={owner}:{branch}&base={base}&state=all`, keeping only PRs
    /// whose `head.ref` really is `branch` (GitHub ignores a malformed filter and returns
    /// everything) and whose `base.ref` is `base`: a PR of the node's branch into another branch
    /// (opened by someone else) is not the node's registration.
    async fn pulls_for_branch(
        &self,
        branch: &str,
        base: &str,
    ) -> Result<Vec<PullRequest>, ForgeError>;
    /// `GET /repos/{o}/{r}/pulls/{n}`.
    async fn pull(&self, number: u64) -> Result<PullRequest, ForgeError>;
    /// `GET /repos/{o}/{r}/issues/{n}/comments` → bodies.
    async fn comments(&self, number: u64) -> Result<Vec<String>, ForgeError>;
    /// `POST /repos/{o}/{r}/git/refs`.
    async fn create_branch(&self, branch: &str, sha: &str) -> Result<Created<()>, ForgeError>;
    /// `PATCH /repos/{o}/{r}/git/refs/heads/{branch}` with `force: true`.
    async fn reset_branch(&self, branch: &str, sha: &str) -> Result<(), ForgeError>;
    /// `PUT /repos/{o}/{r}/contents/{path}` on `branch`.
    async fn write_file(
        &self,
        path: &str,
        branch: &str,
        content: &str,
        message: &str,
        sha: Option<&str>,
    ) -> Result<FileWrite, ForgeError>;
    /// `POST /repos/{o}/{r}/pulls`.
    async fn open_pull(
        &self,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<Created<PullRequest>, ForgeError>;
    /// `PATCH /repos/{o}/{r}/pulls/{n}` (title and body).
    async fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<(), ForgeError>;
    /// `POST /repos/{o}/{r}/issues/{n}/labels`.
    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError>;
    /// `POST /repos/{o}/{r}/issues/{n}/comments`.
    async fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError>;
    /// `GET /repos/{o}/{r}/commits/{sha}/check-runs` (one page of 100).
    async fn check_runs(&self, sha: &str) -> Result<Vec<Check>, ForgeError>;
    /// `GET /repos/{o}/{r}/commits/{sha}/status`: the statuses of the combined status.
    async fn combined_status(&self, sha: &str) -> Result<Vec<Check>, ForgeError>;
    /// GraphQL `enablePullRequestAutoMerge` for the PR with GraphQL id `pr_node_id`. GitHub then
    /// merges once the base branch's rules hold; enlist never merges itself.
    async fn enable_auto_merge(
        &self,
        pr_node_id: &str,
        method: crate::config::MergeMethod,
    ) -> Result<AutoMerge, ForgeError>;
    /// GraphQL `disablePullRequestAutoMerge` for the PR with GraphQL id `pr_node_id`.
    async fn disable_auto_merge(&self, pr_node_id: &str) -> Result<AutoMergeOff, ForgeError>;
}
