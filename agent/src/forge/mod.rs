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
pub use github::{Credentials, GitHub, GitHubOptions, RequestCounts};

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
    /// Body (holds the enlist trailer).
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Web URL.
    pub html_url: String,
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
    /// Committed.
    Written,
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
    /// `GET /repos/{o}/{r}/pulls?head={owner}:{branch}&state=all`, keeping only PRs whose
    /// `head.ref` really is `branch` (GitHub ignores a malformed filter and returns everything).
    async fn pulls_for_branch(&self, branch: &str) -> Result<Vec<PullRequest>, ForgeError>;
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
}
