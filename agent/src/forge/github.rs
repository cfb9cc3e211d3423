//! [`Forge`] on the GitHub REST API through `octocrab`.
//!
//! We use octocrab's raw verbs (`_get`, `_post`, …) rather than its typed builders because rate
//! limiting needs the response *headers* (`retry-after`, `x-ratelimit-*`) and the exact 422/409
//! bodies, which the typed API folds into an error without them. octocrab still provides the
//! HTTP stack, TLS (rustls, native roots), auth, base URI (GitHub Enterprise `…/api/v3` keeps its
//! path) and the `X-GitHub-Api-Version: 2022-11-28` header. Its built-in retry layer is compiled
//! out (feature `retry` off): it retried POSTs blindly and ignored `retry-after`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use base64::Engine;
use http::{HeaderMap, Method};
use octocrab::Octocrab;
use serde_json::{Value, json};

pub mod trust;

use super::app::{self, AppError, GitHubApp};
use super::ratelimit::{self, LimitSignals};
use super::{
    AutoMerge, AutoMergeOff, Check, Created, FileWrite, Forge, ForgeError, PullRequest, Refusal,
    RemoteFile, RepoInfo, is_commit_sha, short_sha,
};
use crate::clock::Clock;
use crate::config::MergeMethod;
use crate::config::RepoName;
use crate::secret::Token;

/// The most jitter added to one rate-limit wait (a quarter of the wait, up to this).
const MAX_RATE_LIMIT_JITTER: Duration = Duration::from_secs(60);

/// Longest wait a 5xx `retry-after` may impose on one read retry.
const MAX_SERVER_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Most pages read of one list (PRs of the node's branch, comments of its PR): 50 pages of 100
/// is 5,000 items. A PR cannot have that many of either in normal use; a pathological one must
/// not make a run endless.
pub const MAX_PAGES: usize = 50;

/// Items per page asked for (GitHub's maximum; its default is 30).
pub const PER_PAGE: usize = 100;

/// The largest answer read from GitHub, in bytes (8 MiB). The largest answers enlist asks for:
/// the contents API inlining a node.yaml of the 1 MiB cap ([`crate::input::MAX_NODE_YAML_BYTES`])
/// as base64 in JSON, about 1.4 MB; a page of 100 pull requests (about 30 KB each with their
/// repository objects), about 3 MB; a page of 100 comments at GitHub's 65,536-character maximum,
/// about 6.6 MB. A `content-length` above it is refused before the body is read, and a body
/// without one is read frame by frame up to it: a server (or proxy) that sends more never makes
/// enlist buffer it (exit 76; for the upstream node.yaml, an invalid upstream file: 65).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// How much of an answer that is not JSON (an HTML error page) goes into a message, in characters.
const MAX_MESSAGE_BODY_CHARS: usize = 200;

/// The one GraphQL document enlist sends: turn on auto-merge. The fields asked back say whether
/// it is on (and how), which is all the registration records.
const ENABLE_AUTO_MERGE: &str =
    "mutation EnlistEnableAutoMerge($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest {
      number
      autoMergeRequest {
        mergeMethod
      }
    }
  }
}";

/// Turning auto-merge off (foreign commits on the node's branch, SPEC §4): same endpoint and
/// rights as turning it on.
const DISABLE_AUTO_MERGE: &str = "mutation EnlistDisableAutoMerge($pullRequestId: ID!) {
  disablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId}) {
    pullRequest {
      number
      autoMergeRequest {
        mergeMethod
      }
    }
  }
}";

/// The GraphQL endpoint's path for an API path: GitHub Enterprise serves REST under `/api/v3`
/// and GraphQL at `/api/graphql`; api.github.com (and anything else) at `<path>/graphql`.
pub fn graphql_path(api_path: &str) -> String {
    match api_path.strip_suffix("/api/v3") {
        Some(host_path) => format!("{host_path}/api/graphql"),
        None => format!("{api_path}/graphql"),
    }
}

/// Settings of the client.
#[derive(Clone, Debug)]
pub struct GitHubOptions {
    /// API base URL.
    pub api_url: String,
    /// Repository.
    pub repo: RepoName,
    /// How requests authenticate.
    pub credentials: Credentials,
    /// Per-request timeout of the HTTP stack: connecting, and each read or write (a stalled
    /// connection). An answer that keeps trickling is bounded by the deadline. Revoking the
    /// installation token at the end of a run is bounded by it alone (the run may be past its
    /// deadline then).
    pub request_timeout: Duration,
    /// The run's deadline, as a [`Clock::elapsed`] value: no request, retry or rate-limit wait
    /// goes past it.
    pub deadline: Duration,
    /// The configured `run_timeout_secs` (for messages).
    pub run_timeout: Duration,
    /// How long this run may wait on rate limits in total.
    pub rate_limit_wait: Duration,
    /// How many times a failed read (5xx, transport) is retried.
    pub read_retries: usize,
    /// Seed for backoff jitter (tests); `None` = random.
    pub jitter_seed: Option<u64>,
}

/// What the client authenticates with.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A token (fine-grained or classic PAT, or an installation token made elsewhere) on every
    /// request.
    Token(Token),
    /// A GitHub App: its JWT on the App endpoints only, and the installation token this run
    /// mints ([`GitHub::mint_installation_token`]) on every other request.
    App(GitHubApp),
}

/// Which credential a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    /// The token, or in App mode the installation token: every repository and GraphQL request.
    Repository,
    /// A freshly signed App JWT: only `GET …/installation` and `POST …/access_tokens`.
    AppJwt,
}

/// Requests sent so far (every attempt counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// All HTTP requests.
    pub requests: u32,
    /// POST/PUT/PATCH/DELETE requests.
    pub writes: u32,
    /// Time spent waiting on rate limits.
    pub rate_limit_waited: Duration,
}

/// The GitHub client.
pub struct GitHub {
    client: Octocrab,
    /// The path of `api_url` (`""` for api.github.com, `/api/v3` for GitHub Enterprise): the client's
    /// base is the origin alone, so REST paths, pagination links and the GraphQL endpoint (which
    /// on GitHub Enterprise is *not* under `/api/v3`) are all absolute paths on it.
    api_path: String,
    /// `scheme://host[:port]` of `api_url`: pagination links must stay on it.
    origin: String,
    repo: RepoName,
    clock: Arc<dyn Clock>,
    options: GitHubOptions,
    counts: Mutex<RequestCounts>,
    /// App mode: the installation token minted for this run (until it is revoked).
    installation_token: Mutex<Option<Token>>,
    /// App mode: the installation's permissions, as the installation lookup read them.
    granted: Mutex<Option<serde_json::Map<String, Value>>>,
    /// GitHub has answered once. Until then a failed read is returned at once, because the
    /// readiness wait (with its own deadline) is doing the retrying.
    reached: AtomicBool,
}

/// One answer, its body parsed once.
struct Reply {
    status: u16,
    headers: HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    json: Value,
    /// The start of a body that is not JSON (an HTML error page), one line, for messages.
    /// `None` on the App endpoints, whose answers carry tokens: never shown.
    text: Option<String>,
}

/// Why an exchange brought no answer.
enum ExchangeError {
    /// No HTTP answer (connect, DNS, TLS, reset, a broken body).
    Transport(String),
    /// The answer is larger than [`MAX_RESPONSE_BYTES`] (`declared`: its `content-length`).
    TooLarge { declared: Option<u64> },
}

impl Reply {
    /// Parses `body` (which may hold a secret when `secret_body`: an App endpoint's answer).
    fn new(status: u16, headers: HeaderMap, body: &[u8], secret_body: bool) -> Reply {
        let json = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = (!secret_body && json.is_null()).then(|| {
            let start = &body[..body.len().min(MAX_MESSAGE_BODY_CHARS * 4)];
            let text: String = String::from_utf8_lossy(start)
                .chars()
                .take(MAX_MESSAGE_BODY_CHARS)
                .collect();
            crate::terminal::escape(&text)
        });
        Reply {
            status,
            headers,
            json,
            text,
        }
    }

    /// GitHub's `message`, plus every `errors[].message` (where 422 details live), through the
    /// one sanitiser for GitHub's text on a terminal ([`crate::terminal::escape`]); for a body that is not JSON, its start (never on the App
    /// endpoints).
    fn message(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(m) = self.json.get("message").and_then(Value::as_str) {
            parts.push(m);
        }
        if let Some(errors) = self.json.get("errors").and_then(Value::as_array) {
            parts.extend(
                errors
                    .iter()
                    .filter_map(|e| e.get("message").and_then(Value::as_str)),
            );
        }
        if !parts.is_empty() {
            return crate::terminal::escape(&parts.join(": "));
        }
        match &self.text {
            Some(text) if !text.is_empty() => text.clone(),
            Some(_) => "(empty answer)".to_owned(),
            None => "(no message; the answer is not shown)".to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl GitHub {
    /// Builds the client.
    pub fn new(options: GitHubOptions, clock: Arc<dyn Clock>) -> Result<GitHub, ForgeError> {
        let uri: http::Uri = options
            .api_url
            .parse()
            .map_err(|e| ForgeError::Client(format!("api_url {}: {e}", options.api_url)))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(ForgeError::Client(format!(
                "api_url {} is not an absolute http(s) URL",
                options.api_url
            )));
        };
        let origin = format!("{scheme}://{authority}");
        let api_path = uri.path().trim_end_matches('/').to_owned();
        // No credential in the client itself: each request sets its own `Authorization` (the
        // token, the installation token, or an App JWT), see `authorization`.
        let client = Octocrab::builder()
            .base_uri(origin.as_str())
            .map_err(|e| ForgeError::Client(format!("api_url {}: {e}", options.api_url)))?
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json".to_owned(),
            )
            .set_connect_timeout(Some(options.request_timeout))
            .set_read_timeout(Some(options.request_timeout))
            .set_write_timeout(Some(options.request_timeout))
            .build()
            .map_err(|e| ForgeError::Client(e.to_string()))?;
        Ok(GitHub {
            client,
            api_path,
            origin,
            repo: options.repo.clone(),
            clock,
            options,
            counts: Mutex::new(RequestCounts::default()),
            installation_token: Mutex::new(None),
            granted: Mutex::new(None),
            reached: AtomicBool::new(false),
        })
    }

    /// The GitHub App, in App mode.
    pub fn app(&self) -> Option<&GitHubApp> {
        match &self.options.credentials {
            Credentials::App(app) => Some(app),
            Credentials::Token(_) => None,
        }
    }

    /// The `Authorization` header for a request. A JWT is signed per request: the readiness wait
    /// before the first answer can outlast a JWT's lifetime.
    fn authorization(&self, auth: Auth) -> Result<http::HeaderValue, ForgeError> {
        let bearer = match (auth, &self.options.credentials) {
            (Auth::Repository, Credentials::Token(token)) => token.expose().to_owned(),
            (Auth::Repository, Credentials::App(_)) => self
                .installation_token
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|t| t.expose().to_owned())
                .ok_or_else(|| {
                    ForgeError::Client(
                        "internal: a repository request before the GitHub App token was minted"
                            .to_owned(),
                    )
                })?,
            (Auth::AppJwt, Credentials::App(app)) => app::jwt(app, self.clock.now())
                .map_err(AppError::Sign)?
                .expose()
                .to_owned(),
            (Auth::AppJwt, Credentials::Token(_)) => {
                return Err(ForgeError::Client(
                    "internal: an App endpoint without a GitHub App configured".to_owned(),
                ));
            }
        };
        let mut value = http::HeaderValue::from_str(&format!("Bearer {bearer}")).map_err(|_| {
            ForgeError::Client("the credential is not a valid HTTP header value".to_owned())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Records that GitHub answered (the readiness wait is over).
    pub fn mark_reached(&self) {
        self.reached.store(true, Ordering::Relaxed);
    }

    /// Requests sent so far.
    pub fn counts(&self) -> RequestCounts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn repo_path(&self, rest: &str) -> String {
        format!(
            "{}/repos/{}/{}{rest}",
            self.api_path, self.repo.owner, self.repo.name
        )
    }

    /// `GET /repos/{o}/{r}/pulls/{n}`, read with `parse` (the registration's view, or the gate's).
    /// 404: the PR does not exist, or the token cannot see it.
    async fn read_pull<T>(
        &self,
        number: u64,
        parse: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, ForgeError> {
        let what = format!("pull request #{number}");
        let reply = self
            .request(
                Method::GET,
                &self.repo_path(&format!("/pulls/{number}")),
                None,
                &what,
            )
            .await?;
        match reply.status {
            200 => parse(&reply.json).ok_or_else(|| Self::unexpected(&what, &reply)),
            404 => Err(ForgeError::NotFound { what }),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// Moves the run's deadline later by `by` (the start jitter, waited after the client was
    /// built and before its first request).
    pub fn extend_deadline(&mut self, by: Duration) {
        self.options.deadline = self.options.deadline.saturating_add(by);
    }

    /// Time left before the run's deadline.
    fn remaining(&self) -> Duration {
        self.options.deadline.saturating_sub(self.clock.elapsed())
    }

    fn past_deadline(&self, what: &str) -> ForgeError {
        ForgeError::RunTimeout {
            what: what.to_owned(),
            secs: self.options.run_timeout.as_secs(),
        }
    }

    /// One HTTP exchange, bounded as a whole — connecting, sending, and reading the answer's
    /// body to its end — by the run's deadline. (The HTTP stack's `request_timeout_secs` is per
    /// connect and per read: a server trickling one byte a second never trips it.)
    async fn send_once(
        &self,
        authorization: http::HeaderValue,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
        secret_body: bool,
    ) -> Result<Reply, ForgeError> {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(self.past_deadline(what));
        }
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.requests += 1;
            if *method != Method::GET {
                counts.writes += 1;
            }
        }
        let exchange = self.exchange(authorization, method, path, body, secret_body);
        match tokio::time::timeout(remaining, exchange).await {
            Ok(result) => result.map_err(|e| exchange_failure(e, what)),
            Err(_) => Err(self.past_deadline(what)),
        }
    }

    /// One request and its answer, the body read frame by frame up to [`MAX_RESPONSE_BYTES`]
    /// (a larger `content-length` is refused before reading) and parsed once.
    async fn exchange(
        &self,
        authorization: http::HeaderValue,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        secret_body: bool,
    ) -> Result<Reply, ExchangeError> {
        use http_body_util::BodyExt;
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::AUTHORIZATION, authorization);
        let response = match self.client.build_request(builder, body) {
            Ok(request) => self.client.execute(request).await,
            Err(e) => Err(e),
        }
        .map_err(|e| ExchangeError::Transport(describe_transport(&e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(ExchangeError::TooLarge { declared });
        }
        let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0));
        let mut bytes = Vec::with_capacity(capacity);
        let mut stream = response.into_body();
        while let Some(frame) = stream.frame().await {
            let frame = frame.map_err(|e| ExchangeError::Transport(describe_transport(&e)))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len().saturating_add(data.len()) > MAX_RESPONSE_BYTES {
                    return Err(ExchangeError::TooLarge { declared });
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Reply::new(status, headers, &bytes, secret_body))
    }

    /// Sends one logical request: waits out rate limits (bounded by the run's budget), retries
    /// reads on 5xx/transport errors with exponential backoff and jitter, and never retries a
    /// write on an ambiguous failure. Returns any non-error status (2xx, 404, 409, 422, …) for
    /// the caller to interpret.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, ForgeError> {
        let repeatable = method == Method::GET;
        self.request_as(Auth::Repository, method, path, body, what, repeatable)
            .await
    }

    /// [`GitHub::request`] with a chosen credential; `repeatable` says whether an ambiguous
    /// failure may simply be retried (reads; minting a token, which changes no repository state).
    async fn request_as(
        &self,
        auth: Auth,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
        repeatable: bool,
    ) -> Result<Reply, ForgeError> {
        let mut builder = ExponentialBuilder::default()
            .with_min_delay(Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(30))
            .with_factor(2.0)
            .with_max_times(self.options.read_retries)
            .with_jitter();
        if let Some(seed) = self.options.jitter_seed {
            builder = builder.with_jitter_seed(seed);
        }
        let mut backoff = builder.build();
        let mut limited = 0u32;
        let mut server_retry_after = None;
        loop {
            let authorization = self.authorization(auth)?;
            // The App endpoints answer with tokens: their bodies are never shown.
            let secret_body = auth == Auth::AppJwt;
            let failure = match self
                .send_once(authorization, &method, path, body, what, secret_body)
                .await
            {
                // Asking again would only bring the same flood.
                Err(e @ (ForgeError::RunTimeout { .. } | ForgeError::TooLarge { .. })) => {
                    return Err(e);
                }
                Err(e) => e,
                Ok(reply) => {
                    if let Some(wait) = self.rate_limit_wait(&reply) {
                        limited += 1;
                        // Never hammer: at least 1 s, and if this very request is limited again
                        // (a `retry-after: 0`, or a reset already "past" by our clock), at least
                        // the secondary-limit minute.
                        let floor = if limited == 1 {
                            Duration::from_secs(1)
                        } else {
                            ratelimit::SECONDARY_LIMIT_WAIT
                        };
                        self.wait_rate_limit(wait.max(floor), &reply, what).await?;
                        continue;
                    }
                    server_retry_after = reply
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match reply.status {
                        200..=299 => return Ok(reply),
                        401 => {
                            return Err(ForgeError::Unauthorized {
                                message: reply.message(),
                            });
                        }
                        403 => {
                            return Err(ForgeError::Forbidden {
                                what: what.to_owned(),
                                message: reply.message(),
                            });
                        }
                        status @ 500..=599 => ForgeError::Server {
                            what: what.to_owned(),
                            status,
                            detail: String::new(),
                        },
                        _ => return Ok(reply),
                    }
                }
            };
            if !repeatable || !self.reached.load(Ordering::Relaxed) {
                return Err(failure);
            }
            match backoff.next() {
                Some(delay) => {
                    // A 503 with retry-after says when to come back; honour it (bounded like the
                    // backoff itself).
                    let delay = server_retry_after
                        .map_or(delay, |after| after.clamp(delay, MAX_SERVER_RETRY_AFTER));
                    if delay >= self.remaining() {
                        return Err(failure);
                    }
                    log::warn!("{failure}; retrying in {:.1}s", delay.as_secs_f64());
                    self.clock.sleep(delay).await;
                }
                None => return Err(failure),
            }
        }
    }

    fn rate_limit_wait(&self, reply: &Reply) -> Option<Duration> {
        let message = reply.message();
        let signals = LimitSignals {
            status: reply.status,
            retry_after: reply.header("retry-after"),
            remaining: reply.header("x-ratelimit-remaining"),
            reset: reply.header("x-ratelimit-reset"),
            message: &message,
        };
        ratelimit::wait_for(&signals, self.clock.now())
    }

    async fn wait_rate_limit(
        &self,
        wait: Duration,
        reply: &Reply,
        what: &str,
    ) -> Result<(), ForgeError> {
        // Jitter spreads a fleet that was limited at the same moment: up to a quarter of the wait
        // (at most a minute) on top, so nodes told "come back in 60 s" come back over 15 s
        // rather than in one burst. A header can say anything: clamp before adding.
        let wait = wait.min(self.options.rate_limit_wait + Duration::from_secs(1));
        let wait = wait.saturating_add(self.clock.jitter((wait / 4).min(MAX_RATE_LIMIT_JITTER)));
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            if counts.rate_limit_waited.saturating_add(wait) > self.options.rate_limit_wait
                || wait >= self.remaining()
            {
                return Err(ForgeError::RateLimited {
                    wait,
                    message: reply.message(),
                });
            }
            counts.rate_limit_waited += wait;
        }
        log::warn!(
            "rate limited by GitHub on {what} ({} {}); waiting {:.1}s",
            reply.status,
            reply.message(),
            wait.as_secs_f64()
        );
        crate::logging::status(&format!(
            "rate limited by GitHub; waiting {}s",
            wait.as_secs()
        ));
        self.clock.sleep(wait).await;
        Ok(())
    }

    /// `GET /repos/{o}/{r}/installation` (App JWT) → the id of the App's installation that covers
    /// the repository. 404: the App is not installed there (exit 78).
    pub async fn installation_id(&self) -> Result<u64, ForgeError> {
        let app_id = self.app().map(|a| a.id.clone()).unwrap_or_default();
        let what = format!("the GitHub App installation on {}", self.repo);
        let reply = self
            .request_as(
                Auth::AppJwt,
                Method::GET,
                &self.repo_path("/installation"),
                None,
                &what,
                true,
            )
            .await
            .map_err(|e| self.jwt_rejected(e))?;
        match reply.status {
            200 => {
                // What the installation grants decides which optional reads the token asks for.
                *self.granted.lock().unwrap_or_else(|p| p.into_inner()) = reply
                    .json
                    .get("permissions")
                    .and_then(Value::as_object)
                    .cloned();
                reply
                    .json
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Self::unexpected(&what, &reply))
            }
            404 => Err(AppError::NotInstalled {
                app_id,
                repo: self.repo.to_string(),
            }
            .into()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `POST /app/installations/{id}/access_tokens` (App JWT): mints this run's installation
    /// token, narrowed to the repository and to [`app::requested`] permissions, and keeps it for every
    /// further request. Minting changes nothing in the repository, so an ambiguous failure is
    /// retried like a read (a token minted by a lost attempt expires on its own within the hour).
    pub async fn mint_installation_token(&self, installation_id: u64) -> Result<(), ForgeError> {
        let what = format!("an installation token for {}", self.repo);
        let path = format!(
            "{}/app/installations/{installation_id}/access_tokens",
            self.api_path
        );
        let granted = self
            .granted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut permissions = app::requested(granted.as_ref());
        let reply = loop {
            let body = app::token_request(&self.repo.name, &permissions);
            let refused = |status: u16, message: String| AppError::MintRefused {
                repo: self.repo.to_string(),
                permissions: app::permissions_text(&permissions),
                status,
                message,
            };
            let reply = match self
                .request_as(Auth::AppJwt, Method::POST, &path, Some(&body), &what, true)
                .await
            {
                // Not a rate limit (those were waited out): the installation lacks a permission.
                Err(ForgeError::Forbidden { message, .. }) => {
                    return Err(refused(403, message).into());
                }
                other => other.map_err(|e| self.jwt_rejected(e))?,
            };
            // Grants unknown (the installation id is configured, so it was not looked up): the
            // optional reads may be what is missing. Once more without them.
            if reply.status == 422
                && granted.is_none()
                && permissions.len() > app::PERMISSIONS.len()
            {
                log::info!(
                    "the App's installation may not grant {}; minting without them (enlist \
                     status then cannot show the pull request's checks)",
                    app::permissions_text(&app::OPTIONAL_READS)
                );
                permissions = app::PERMISSIONS.to_vec();
                continue;
            }
            if reply.status == 422 {
                return Err(refused(422, reply.message()).into());
            }
            break reply;
        };
        match reply.status {
            201 => {
                let json = &reply.json;
                let token = json
                    .get("token")
                    .and_then(Value::as_str)
                    .and_then(Token::new)
                    .ok_or_else(|| Self::unexpected(&what, &reply))?;
                log::debug!(
                    "minted an installation token for {} (installation {installation_id}, \
                     expires {}, {})",
                    self.repo,
                    crate::terminal::escape(
                        json.get("expires_at")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                    ),
                    app::permissions_text(&permissions)
                );
                *self
                    .installation_token
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(token);
                Ok(())
            }
            404 => Err(AppError::InstallationNotFound { installation_id }.into()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `DELETE /installation/token`: revokes this run's installation token. Best effort, once:
    /// no retry and no rate-limit wait, bounded by the request timeout. `Ok(false)` when there
    /// was no token to revoke.
    pub async fn revoke_installation_token(&self) -> Result<bool, ForgeError> {
        let what = "revoking the installation token";
        if self
            .installation_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            return Ok(false);
        }
        let authorization = self.authorization(Auth::Repository)?;
        // Forget it whatever the answer: a second attempt would not fare better.
        let _ = self
            .installation_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            counts.requests += 1;
            counts.writes += 1;
        }
        // Bounded by the request timeout, not by the run's deadline: a run that failed because it
        // ran out of time still revokes.
        let path = format!("{}/installation/token", self.api_path);
        let exchange = self.exchange(authorization, &Method::DELETE, &path, None, true);
        match tokio::time::timeout(self.options.request_timeout, exchange).await {
            Ok(Ok(reply)) if reply.status == 204 => Ok(true),
            Ok(Ok(reply)) => Err(Self::unexpected(what, &reply)),
            Ok(Err(e)) => Err(exchange_failure(e, what)),
            Err(_) => Err(ForgeError::Transport {
                what: what.to_owned(),
                message: format!(
                    "no answer within request_timeout_secs ({}s)",
                    self.options.request_timeout.as_secs()
                ),
            }),
        }
    }

    /// A 401 on an App endpoint rejects the JWT, not a token.
    fn jwt_rejected(&self, error: ForgeError) -> ForgeError {
        match (error, self.app()) {
            (ForgeError::Unauthorized { message }, Some(app)) => AppError::JwtRejected {
                app_id: app.id.clone(),
                key_file: app.key_file.display().to_string(),
                message,
            }
            .into(),
            (other, _) => other,
        }
    }

    fn unexpected(what: &str, reply: &Reply) -> ForgeError {
        ForgeError::Unexpected {
            what: what.to_owned(),
            status: reply.status,
            message: reply.message(),
        }
    }

    /// GETs a list to its end: every page of `path`, following `Link: <…>; rel="next"` (GitHub's
    /// pagination; the link's path may differ from ours, e.g. `/repositories/{id}/…`), at most
    /// [`MAX_PAGES`] pages. A link to another host is refused: the token goes wherever the
    /// request goes.
    async fn list(&self, path: &str, what: &str) -> Result<Vec<Value>, ForgeError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(page) = next.take() {
            if pages == MAX_PAGES {
                return Err(ForgeError::Unexpected {
                    what: what.to_owned(),
                    status: 200,
                    message: format!(
                        "more than {MAX_PAGES} pages of {PER_PAGE} (MAX_PAGES); a list that long \
                         is not a registration's"
                    ),
                });
            }
            pages += 1;
            let mut reply = self.request(Method::GET, &page, None, what).await?;
            if reply.status != 200 || !reply.json.is_array() {
                return Err(Self::unexpected(what, &reply));
            }
            if let Some(link) = reply.header("link").and_then(next_link) {
                next = Some(self.same_origin_path(&link, what)?);
            }
            if let Value::Array(page_items) = std::mem::take(&mut reply.json) {
                items.extend(page_items);
            }
        }
        Ok(items)
    }

    /// The path and query of a pagination link, if it points at our API (same scheme, host and
    /// port, under the API path).
    fn same_origin_path(&self, link: &str, what: &str) -> Result<String, ForgeError> {
        let refuse = || ForgeError::Unexpected {
            what: what.to_owned(),
            status: 200,
            message: "the pagination link points outside api_url; refusing to send the token there"
                .to_owned(),
        };
        let rest = link.strip_prefix(self.origin.as_str()).ok_or_else(refuse)?;
        if !rest.starts_with(&format!("{}/", self.api_path)) {
            return Err(refuse());
        }
        Ok(rest.to_owned())
    }
}

/// The `rel="next"` URL of a `Link` header (RFC 8288, as GitHub writes it:
/// `<https://…?page=2>; rel="next", <https://…?page=5>; rel="last"`).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

fn describe_transport(error: &octocrab::Error) -> String {
    // Walk the source chain: the useful part ("connection refused", "deadline has elapsed") is
    // usually a few levels down.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

/// The error of an exchange that brought no usable answer.
fn exchange_failure(error: ExchangeError, what: &str) -> ForgeError {
    match error {
        ExchangeError::Transport(message) => ForgeError::Transport {
            what: what.to_owned(),
            message,
        },
        ExchangeError::TooLarge { declared } => ForgeError::TooLarge {
            what: what.to_owned(),
            limit: MAX_RESPONSE_BYTES as u64,
            declared,
        },
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn query_value(raw: &str) -> String {
    encode(raw, false)
}

/// Percent-encodes each segment of a path (a branch or file path); `/` separates segments. The
/// default branch name comes from GitHub and git allows `#` or `?` in it.
fn path_value(raw: &str) -> String {
    encode(raw, true)
}

fn encode(raw: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && byte == b'/')
        {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A pull request as GitHub describes it, or `None` when a field registration relies on is
/// missing or malformed (`head.sha` must be a commit id: it goes into request paths and messages).
fn parse_pull(value: &Value) -> Option<PullRequest> {
    let head_sha = value.get("head")?.get("sha")?.as_str()?;
    if !is_commit_sha(head_sha) {
        return None;
    }
    Some(PullRequest {
        number: value.get("number")?.as_u64()?,
        open: value.get("state")?.as_str()? == "open",
        merged: value.get("merged_at").is_some_and(|m| !m.is_null()),
        head_ref: value.get("head")?.get("ref")?.as_str()?.to_owned(),
        base_ref: value.get("base")?.get("ref")?.as_str()?.to_owned(),
        labels: value
            .get("labels")
            .and_then(Value::as_array)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        body: value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        // Shown on the terminal, in the journal and in `enlist status`: inert from here on.
        html_url: crate::terminal::escape(
            value.get("html_url").and_then(Value::as_str).unwrap_or(""),
        ),
        node_id: value
            .get("node_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        head_sha: head_sha.to_owned(),
        // Recorded in the marker and shown (the plan, `-v`, `enlist status`): inert too.
        auto_merge: value.get("auto_merge").filter(|a| !a.is_null()).map(|a| {
            crate::terminal::escape(
                a.get("merge_method")
                    .and_then(Value::as_str)
                    .unwrap_or("on"),
            )
        }),
    })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Forge for GitHub {
    async fn repo(&self) -> Result<RepoInfo, ForgeError> {
        let what = format!("repository {}", self.repo);
        let reply = self
            .request(Method::GET, &self.repo_path(""), None, &what)
            .await?;
        match reply.status {
            200 => reply
                .json
                .get("default_branch")
                .and_then(Value::as_str)
                // git refuses control characters in a ref name: one there is not GitHub's answer
                // (and it would reach the terminal).
                .filter(|b| !b.is_empty() && crate::terminal::is_inert(b))
                .map(|b| RepoInfo {
                    default_branch: b.to_owned(),
                })
                .ok_or_else(|| Self::unexpected(&what, &reply)),
            404 => Err(ForgeError::NotFound { what }),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn branch_sha(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        let what = format!("branch {branch}");
        let path = self.repo_path(&format!("/git/ref/heads/{}", path_value(branch)));
        let reply = self.request(Method::GET, &path, None, &what).await?;
        match reply.status {
            // A commit id: it goes into the branch enlist creates and into messages on the
            // terminal; anything else is not GitHub's answer.
            200 => reply
                .json
                .get("object")
                .and_then(|o| o.get("sha"))
                .and_then(Value::as_str)
                .filter(|sha| is_commit_sha(sha))
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| Self::unexpected(&what, &reply)),
            404 => Ok(None),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn file(&self, path: &str, git_ref: &str) -> Result<Option<RemoteFile>, ForgeError> {
        let what = format!("{path} at {git_ref}");
        let url = self.repo_path(&format!(
            "/contents/{}?ref={}",
            path_value(path),
            query_value(git_ref)
        ));
        let reply = self.request(Method::GET, &url, None, &what).await?;
        match reply.status {
            200 => {
                let json = &reply.json;
                let sha = json.get("sha").and_then(Value::as_str);
                let encoded = json.get("content").and_then(Value::as_str);
                let (Some(sha), Some(encoded)) = (sha, encoded) else {
                    return Err(Self::unexpected(&what, &reply));
                };
                let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| ForgeError::Unexpected {
                        what: what.clone(),
                        status: 200,
                        message: format!("content is not base64: {e}"),
                    })?;
                Ok(Some(RemoteFile {
                    sha: sha.to_owned(),
                    content: String::from_utf8_lossy(&bytes).into_owned(),
                }))
            }
            404 => Ok(None),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn pulls_for_branch(
        &self,
        branch: &str,
        base: &str,
    ) -> Result<Vec<PullRequest>, ForgeError> {
        let what = format!("pull requests for {branch} into {base}");
        let head = format!("{}:{branch}", self.repo.owner);
        let url = self.repo_path(&format!(
            "/pulls?head={}&base={}&state=all&per_page={PER_PAGE}",
            query_value(&head),
            query_value(base)
        ));
        let items = self.list(&url, &what).await?;
        // GitHub ignores a head filter it cannot parse and can return a PR of another branch on
        // the same commit: only PRs whose head.ref is our branch count. One that cannot be read
        // is an error, not skipped: skipping our own PR would lead to a second one.
        let mut pulls = Vec::with_capacity(items.len());
        for item in &items {
            let pr = parse_pull(item).ok_or_else(|| ForgeError::Unexpected {
                what: what.clone(),
                status: 200,
                message: format!(
                    "pull request {} is not as GitHub describes one (number, state, head.ref, \
                     head.sha as 40 hex digits)",
                    item.get("number").and_then(Value::as_u64).unwrap_or(0)
                ),
            })?;
            if pr.head_ref == branch && pr.base_ref == base {
                pulls.push(pr);
            }
        }
        Ok(pulls)
    }

    async fn pull(&self, number: u64) -> Result<PullRequest, ForgeError> {
        self.read_pull(number, parse_pull).await
    }

    async fn comments(&self, number: u64) -> Result<Vec<String>, ForgeError> {
        let what = format!("comments of #{number}");
        let url = self.repo_path(&format!("/issues/{number}/comments?per_page={PER_PAGE}"));
        let items = self.list(&url, &what).await?;
        Ok(items
            .iter()
            .filter_map(|c| c.get("body").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    async fn create_branch(&self, branch: &str, sha: &str) -> Result<Created<()>, ForgeError> {
        let what = format!("creating branch {branch}");
        let body = json!({ "ref": format!("refs/heads/{branch}"), "sha": sha });
        let reply = self
            .request(
                Method::POST,
                &self.repo_path("/git/refs"),
                Some(&body),
                &what,
            )
            .await?;
        match reply.status {
            201 => Ok(Created::Created(())),
            // 422 {"message":"Reference already exists"}: a crashed or concurrent run made it.
            422 if reply.message().contains("already exists") => Ok(Created::AlreadyExists),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn reset_branch(&self, branch: &str, sha: &str) -> Result<(), ForgeError> {
        let what = format!("resetting branch {branch}");
        let body = json!({ "sha": sha, "force": true });
        let path = self.repo_path(&format!("/git/refs/heads/{}", path_value(branch)));
        let reply = self
            .request(Method::PATCH, &path, Some(&body), &what)
            .await?;
        match reply.status {
            200 => Ok(()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn write_file(
        &self,
        path: &str,
        branch: &str,
        content: &str,
        message: &str,
        sha: Option<&str>,
    ) -> Result<FileWrite, ForgeError> {
        let what = format!("writing {path} on {branch}");
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(content),
            "branch": branch,
        });
        if let (Some(sha), Some(map)) = (sha, body.as_object_mut()) {
            map.insert("sha".into(), Value::String(sha.to_owned()));
        }
        let reply = self
            .request(
                Method::PUT,
                &self.repo_path(&format!("/contents/{}", path_value(path))),
                Some(&body),
                &what,
            )
            .await?;
        match reply.status {
            // The commit it made is the branch's new head: the marker records it, and a later
            // head that differs means someone else pushed (foreign commits).
            200 | 201 => Ok(FileWrite::Written(
                reply
                    .json
                    .get("commit")
                    .and_then(|c| c.get("sha"))
                    .and_then(Value::as_str)
                    .filter(|sha| is_commit_sha(sha))
                    .map(str::to_owned),
            )),
            // 409 "{path} does not match {sha}" / "is at X but expected Y", or
            // 422 "Invalid request.\n\n\"sha\" wasn't supplied.": the file moved under us.
            // Other 409s (a ruleset, "Git Repository is empty") are not a stale sha.
            409 if reply.message().contains("does not match")
                || reply.message().contains("expected") =>
            {
                Ok(FileWrite::Stale)
            }
            422 if reply.message().contains("sha") => Ok(FileWrite::Stale),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn open_pull(
        &self,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
    ) -> Result<Created<PullRequest>, ForgeError> {
        let what = format!("opening a pull request from {head}");
        let payload = json!({ "title": title, "head": head, "base": base, "body": body });
        let reply = self
            .request(
                Method::POST,
                &self.repo_path("/pulls"),
                Some(&payload),
                &what,
            )
            .await?;
        match reply.status {
            201 => parse_pull(&reply.json)
                .map(Created::Created)
                .ok_or_else(|| Self::unexpected(&what, &reply)),
            // 422 "Validation Failed" with errors[].message "A pull request already exists for
            // owner:branch.": adopt it.
            422 if reply.message().contains("A pull request already exists") => {
                Ok(Created::AlreadyExists)
            }
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<(), ForgeError> {
        let what = format!("updating pull request #{number}");
        let payload = json!({ "title": title, "body": body });
        let reply = self
            .request(
                Method::PATCH,
                &self.repo_path(&format!("/pulls/{number}")),
                Some(&payload),
                &what,
            )
            .await?;
        match reply.status {
            200 => Ok(()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), ForgeError> {
        let what = format!("labelling #{number}");
        let payload = json!({ "labels": labels });
        let path = self.repo_path(&format!("/issues/{number}/labels"));
        let reply = self
            .request(Method::POST, &path, Some(&payload), &what)
            .await?;
        match reply.status {
            200 => Ok(()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn comment(&self, number: u64, body: &str) -> Result<(), ForgeError> {
        let what = format!("commenting on #{number}");
        let payload = json!({ "body": body });
        let path = self.repo_path(&format!("/issues/{number}/comments"));
        let reply = self
            .request(Method::POST, &path, Some(&payload), &what)
            .await?;
        match reply.status {
            201 => Ok(()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    async fn check_runs(&self, sha: &str) -> Result<Vec<Check>, ForgeError> {
        let what = format!("check runs of {}", short_sha(sha));
        let path = self.repo_path(&format!(
            "/commits/{}/check-runs?per_page={PER_PAGE}",
            path_value(sha)
        ));
        let reply = self.request(Method::GET, &path, None, &what).await?;
        if reply.status != 200 {
            return Err(Self::unexpected(&what, &reply));
        }
        let json = &reply.json;
        let runs = json
            .get("check_runs")
            .and_then(Value::as_array)
            .ok_or_else(|| Self::unexpected(&what, &reply))?;
        Ok(runs
            .iter()
            .filter_map(|run| {
                Some(Check {
                    name: text(run, "name")?,
                    status: text(run, "status").unwrap_or_else(|| "queued".into()),
                    conclusion: text(run, "conclusion"),
                    url: text(run, "html_url")
                        .or_else(|| text(run, "details_url"))
                        .unwrap_or_default(),
                    title: run.get("output").and_then(|o| text(o, "title")),
                })
            })
            .collect())
    }

    async fn combined_status(&self, sha: &str) -> Result<Vec<Check>, ForgeError> {
        let what = format!("commit status of {}", short_sha(sha));
        let path = self.repo_path(&format!(
            "/commits/{}/status?per_page={PER_PAGE}",
            path_value(sha)
        ));
        let reply = self.request(Method::GET, &path, None, &what).await?;
        if reply.status != 200 {
            return Err(Self::unexpected(&what, &reply));
        }
        let json = &reply.json;
        let statuses = json
            .get("statuses")
            .and_then(Value::as_array)
            .ok_or_else(|| Self::unexpected(&what, &reply))?;
        Ok(statuses
            .iter()
            .filter_map(|status| {
                let state = text(status, "state")?;
                let pending = state == "pending";
                Some(Check {
                    name: text(status, "context")?,
                    status: if pending { "pending" } else { "completed" }.to_owned(),
                    conclusion: (!pending).then_some(state),
                    url: text(status, "target_url").unwrap_or_default(),
                    title: text(status, "description"),
                })
            })
            .collect())
    }

    async fn enable_auto_merge(
        &self,
        pr_node_id: &str,
        method: MergeMethod,
    ) -> Result<AutoMerge, ForgeError> {
        let what = "turning on auto-merge (GraphQL enablePullRequestAutoMerge)";
        let payload = json!({
            "query": ENABLE_AUTO_MERGE,
            "variables": { "pullRequestId": pr_node_id, "mergeMethod": method.graphql() },
        });
        let (reply, data) = match self.mutation(&payload, what).await? {
            Ok(answer) => answer,
            Err((refusal, message)) => return Ok(AutoMerge::Refused(refusal, message)),
        };
        let request = &data["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"];
        match request.get("mergeMethod").and_then(Value::as_str) {
            Some(m) => Ok(AutoMerge::Enabled(crate::terminal::escape(
                &m.to_lowercase(),
            ))),
            None => Err(Self::unexpected(what, &reply)),
        }
    }

    async fn disable_auto_merge(&self, pr_node_id: &str) -> Result<AutoMergeOff, ForgeError> {
        let what = "turning off auto-merge (GraphQL disablePullRequestAutoMerge)";
        let payload = json!({
            "query": DISABLE_AUTO_MERGE,
            "variables": { "pullRequestId": pr_node_id },
        });
        let (reply, data) = match self.mutation(&payload, what).await? {
            Ok(answer) => answer,
            Err((refusal, message)) => return Ok(AutoMergeOff::Refused(refusal, message)),
        };
        let pull = &data["disablePullRequestAutoMerge"]["pullRequest"];
        if !pull.is_object() {
            return Err(Self::unexpected(what, &reply));
        }
        Ok(if pull["autoMergeRequest"].is_null() {
            AutoMergeOff::Off
        } else {
            AutoMergeOff::Refused(
                Refusal::Other,
                "GitHub answered, but auto-merge is still on".to_owned(),
            )
        })
    }
}

impl GitHub {
    /// Sends a GraphQL mutation. GitHub reports errors with HTTP 200 (`{"data": {...: null},
    /// "errors": [{"type", …}]}`): a refusal (`UNPROCESSABLE`, `FORBIDDEN`, `NOT_FOUND`) comes
    /// back as `Ok(Err(..))` for the caller to record; GitHub's own trouble is an ambiguous
    /// [`ForgeError::Server`] (the mutation may have been applied); a GraphQL rate limit is
    /// waited out like a secondary limit. Returns the reply and its `data`.
    async fn mutation(
        &self,
        payload: &Value,
        what: &str,
    ) -> Result<Result<(Reply, Value), (Refusal, String)>, ForgeError> {
        let path = graphql_path(&self.api_path);
        let mut limited = 0u32;
        loop {
            let reply = match self.request(Method::POST, &path, Some(payload), what).await {
                // A 403 that is not a rate limit: the credential may not do this (an optional
                // step; the caller records it).
                Err(ForgeError::Forbidden { message, .. }) => {
                    return Ok(Err((Refusal::Forbidden, message)));
                }
                other => other?,
            };
            if reply.status != 200 {
                return Err(Self::unexpected(what, &reply));
            }
            let json = &reply.json;
            let errors = json.get("errors").and_then(Value::as_array);
            if let Some(first) = errors.and_then(|e| e.first()) {
                let kind = first.get("type").and_then(Value::as_str).unwrap_or("");
                let message = crate::terminal::escape(
                    first.get("message").and_then(Value::as_str).unwrap_or(""),
                );
                match kind {
                    "UNPROCESSABLE" => return Ok(Err((Refusal::classify(&message), message))),
                    // "Resource not accessible by integration": the credential lacks a right.
                    "FORBIDDEN" => return Ok(Err((Refusal::Forbidden, message))),
                    "NOT_FOUND" => return Ok(Err((Refusal::Other, message))),
                    // GitHub's "Something went wrong while executing your query. This may be the
                    // result of a timeout…" carries no type; SERVICE_UNAVAILABLE and TIMEOUT say
                    // the same. The mutation may have been applied: ambiguous like a 5xx, so the
                    // PR is read again before asking again.
                    "" | "SERVICE_UNAVAILABLE" | "TIMEOUT" => {
                        let kind = if kind.is_empty() { "(no type)" } else { kind };
                        return Err(ForgeError::Server {
                            what: what.to_owned(),
                            status: 200,
                            detail: format!(" with GraphQL error {kind}: {message}"),
                        });
                    }
                    // A GraphQL rate limit: nothing was done; wait like a secondary limit.
                    "RATE_LIMITED" => {
                        limited += 1;
                        let wait = if limited == 1 {
                            ratelimit::SECONDARY_LIMIT_WAIT
                        } else {
                            ratelimit::SECONDARY_LIMIT_WAIT * 2
                        };
                        self.wait_rate_limit(wait, &reply, what).await?;
                        continue;
                    }
                    _ => {
                        return Err(ForgeError::Unexpected {
                            what: what.to_owned(),
                            status: 200,
                            message: format!("{} {message}", crate::terminal::escape(kind)),
                        });
                    }
                }
            }
            let data = json.get("data").cloned().unwrap_or(Value::Null);
            return Ok(Ok((reply, data)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_value("release#1/x?y"), "release%231/x%3Fy");
        assert_eq!(
            path_value("cluster-nodes/node-abc/node.yaml"),
            "cluster-nodes/node-abc/node.yaml"
        );
    }

    #[test]
    fn next_links_are_found_in_githubs_link_header() {
        let header = "<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2")
        );
        let last_page = "<https://api.github.com/x?page=1>; rel=\"first\", <https://api.github.com/x?page=2>; rel=\"prev\"";
        assert_eq!(next_link(last_page), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn graphql_endpoint_follows_the_api_url() {
        assert_eq!(graphql_path(""), "/graphql");
        assert_eq!(graphql_path("/api/v3"), "/api/graphql");
        assert_eq!(graphql_path("/ghe/api/v3"), "/ghe/api/graphql");
        assert_eq!(graphql_path("/custom"), "/custom/graphql");
    }

    #[test]
    fn refusals_are_classified_by_githubs_message() {
        for (message, kind) in [
            (
                "Pull request Auto merge is not allowed for this repository",
                Refusal::NotAllowed,
            ),
            (
                "Pull request Protected branch rules not configured for this branch",
                Refusal::NoRules,
            ),
            (
                "Pull request Pull request is in clean status",
                Refusal::Clean,
            ),
            (
                "Pull request Pull request is in unstable status",
                Refusal::Unstable,
            ),
            (
                "Can't enable auto-merge for this pull request",
                Refusal::Other,
            ),
        ] {
            assert_eq!(Refusal::classify(message), kind, "{message}");
        }
    }

    #[test]
    fn messages_are_one_line_and_app_answers_are_never_shown() {
        let headers = HeaderMap::new();
        let json = br#"{"message": "Validation Failed\n\u001b[2J", "errors": [{"message": "A pull request already exists for acme:enlist/x."}]}"#;
        let reply = Reply::new(422, headers.clone(), json, false);
        assert_eq!(
            reply.message(),
            "Validation Failed\\n\\u{1b}[2J: A pull request already exists for acme:enlist/x.",
            "control characters shown escaped, one line"
        );
        // An HTML error page: its start, on one line.
        let html = format!("<html>\n<body>{}</body>", "x".repeat(1000));
        let reply = Reply::new(502, headers.clone(), html.as_bytes(), false);
        let message = reply.message();
        assert!(message.starts_with("<html>\\n<body>xxx"), "{message}");
        assert!(
            message.chars().count() <= MAX_MESSAGE_BODY_CHARS + 1,
            "{message}"
        );
        // An App endpoint's answer (JSON without a message, or not JSON): never its body.
        for body in [
            &br#"{"token": "ghs_secret0123456789"}"#[..],
            b"token=ghs_secret0123456789",
        ] {
            let message = Reply::new(200, headers.clone(), body, true).message();
            assert!(!message.contains("ghs_"), "{message}");
        }
        // Nor a JSON answer without a message elsewhere: only GitHub's messages are quoted.
        let reply = Reply::new(200, headers, br#"{"token": "ghs_secret0123456789"}"#, false);
        assert!(!reply.message().contains("ghs_"));
    }

    #[test]
    fn pull_requests_need_a_commit_sha_and_short_shas_never_split_a_character() {
        let pr = |sha: &str| json!({"number": 1, "state": "open", "head": {"ref": "enlist/x", "sha": sha}, "base": {"ref": "main"}});
        let good = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(parse_pull(&pr(good)).unwrap().head_sha, good);
        // Byte 12 inside a two-byte character used to panic in the message.
        let hostile = format!("a{}", "ü".repeat(20));
        for bad in [hostile.as_str(), "", "0123", &good.replace('0', "g")] {
            assert_eq!(parse_pull(&pr(bad)), None, "{bad:?}");
        }
        assert_eq!(short_sha(good), "0123456789ab");
        assert_eq!(short_sha(&hostile), hostile);
        assert_eq!(short_sha("abc"), "abc");
    }

    /// Review of issue 26: what GitHub says about a PR's auto-merge is shown (dry-run plan,
    /// `-v`, `enlist status`): inert like its `html_url`.
    #[test]
    fn a_pull_requests_auto_merge_method_is_inert() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let pr = json!({"number": 1, "state": "open", "head": {"ref": "enlist/x", "sha": sha},
            "base": {"ref": "main"},
            "auto_merge": {"merge_method": "squash\u{1b}]8;;https://evil.example\u{7}"}});
        let parsed = parse_pull(&pr).unwrap();
        assert_eq!(
            parsed.auto_merge.as_deref(),
            Some("squash\\u{1b}]8;;https://evil.example\\u{7}")
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            query_value("acme:enlist/node-abc"),
            "acme%3Aenlist%2Fnode-abc"
        );
    }
}
