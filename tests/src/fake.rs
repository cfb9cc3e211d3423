//! A stateful fake GitHub on `wiremock`: one repository with branches, commits, files, pull
//! requests, comments and labels, answering with GitHub's real status codes and bodies (the ones
//! REFERENCE.md lists: 404 for missing refs/content, 422 "Reference already exists", 422 "A pull
//! request already exists for …", 422 `"sha" wasn't supplied`, 409 `does not match`, 401 "Bad
//! credentials", the head filter ignored without an `owner:` prefix, 403/429 rate limits).
//!
//! Every request and response is checked against GitHub's OpenAPI description
//! ([`crate::openapi`]); violations are collected and tests assert there are none. Responses are
//! built from minimal instances of its schemas (`Spec::skeleton`), with the fields that matter filled in.
//!
//! Faults (status codes, delays, "apply the write and then fail") and a secondary rate limit
//! (content-creating requests per window) can be injected to test the client's behaviour.
//!
//! Auto-merge as GitHub does it: `POST /graphql` (GitHub Enterprise: `/api/graphql`) validates
//! every document against GitHub's GraphQL schema ([`crate::graphql`]) and executes
//! `enablePullRequestAutoMerge` — refusing as GitHub does when the repository does not allow
//! auto-merge, the base branch has no required check, or the PR is already mergeable — and the
//! fake then merges the PR itself once every required check of its head commit has passed
//! ([`State::set_check`], [`State::set_status`]): the merge GitHub performs, never the client.
//! `disablePullRequestAutoMerge` turns it off again (refused when it is not on); a test pushes
//! someone else's commit to a PR's branch with [`State::push_foreign_commit`].
//!
//! Lists paginate like GitHub's: `per_page` defaults to 30 and is capped at 100, and a `Link`
//! header names the `next`/`last` (and `first`/`prev`) pages — by repository id
//! (`/repositories/{id}/…`), as GitHub writes them, so a client that only reads page one, or that
//! rebuilds the next URL itself from the path it asked for, is caught. The API also answers under
//! GitHub Enterprise's `/api/v3` prefix.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::graphql;
use crate::openapi::Spec;

pub mod app;
pub mod trust;

/// One request as the fake saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query, as the operation's (`/repos/{owner}/{repo}/…`; a GitHub
    /// Enterprise `/api/v3` prefix and a `/repositories/{id}` pagination link resolved).
    pub path: String,
    /// The path exactly as the client sent it.
    pub raw_path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Status answered.
    pub status: u16,
    /// The raw headers (for checks like API version and no token in the URL).
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// `METHOD path` (for readable assertions).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether this request writes.
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// A pull request in the fake.
#[derive(Clone, Debug, PartialEq)]
pub struct Pull {
    /// Number (shared sequence with nothing else: issues are not modelled).
    pub number: u64,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// "open" or "closed".
    pub state: String,
    /// Merged.
    pub merged: bool,
    /// Labels.
    pub labels: Vec<String>,
    /// Auto-merge's method (`squash`, `merge`, `rebase`) while it is on.
    pub auto_merge: Option<String>,
}

impl Pull {
    /// Its GraphQL node id.
    pub fn node_id(&self) -> String {
        format!("PR_kwDOKuxs{:08}", self.number)
    }
}

/// A check run (GitHub Actions job, app) on a commit.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRun {
    /// Id.
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// The job's name, which a branch rule requires.
    pub name: String,
    /// `queued`, `in_progress`, `completed`.
    pub status: String,
    /// When completed: `success`, `failure`, …
    pub conclusion: Option<String>,
    /// Its summary line (`output.title`).
    pub title: Option<String>,
}

/// A commit status (older CI).
#[derive(Clone, Debug, PartialEq)]
pub struct CommitStatus {
    /// Id.
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// Its context (what a branch rule requires).
    pub context: String,
    /// `success`, `failure`, `error`, `pending`.
    pub state: String,
}

/// A comment on a pull request.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// Id.
    pub id: u64,
    /// PR number.
    pub issue: u64,
    /// Body.
    pub body: String,
}

/// What an injected fault does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer this status and body (the request has no effect). Headers as given.
    Status {
        /// Status.
        status: u16,
        /// Body.
        body: Value,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// Process the request normally, then answer this status instead (a write that happened
    /// although the client saw an error: the ambiguous case).
    ApplyThenStatus(u16),
    /// Process the request normally, then answer this status and body instead (GraphQL: an
    /// error answer for a mutation that was applied).
    ApplyThenAnswer {
        /// Status.
        status: u16,
        /// Body.
        body: Value,
    },
    /// Delay the (unprocessed) answer, so the client times out.
    Delay(Duration),
    /// Process the request, then delay the answer (it happened; the client timed out).
    ApplyThenDelay(Duration),
    /// Reset the connection (TCP RST) before the request reaches GitHub.
    Reset,
    /// Let GitHub process the request, then reset the connection instead of answering.
    ApplyThenReset,
    /// Let GitHub process the request, then send its answer one byte per this interval (a
    /// server, proxy or link that never quite delivers).
    Trickle(Duration),
    /// Let GitHub process the request, then answer `200` with a body of `bytes` bytes instead
    /// (generated as it is sent, never held in memory), declaring its length in
    /// `content-length` or sending it chunked. How much the client read is in
    /// [`State::flooded_bytes`].
    Flood {
        /// The body's size.
        bytes: u64,
        /// Send `content-length: <bytes>` (else `transfer-encoding: chunked`).
        declare_length: bool,
    },
}

/// A fault for requests matching `method` and a path suffix/infix.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP method to match.
    pub method: String,
    /// Substring of the path to match.
    pub path_contains: String,
    /// How many matching requests it affects.
    pub times: usize,
    /// What happens.
    pub kind: FaultKind,
}

/// GitHub's secondary limits, optionally scaled in time: at most `max_writes` content-creating
/// requests per `window`, and at most `max_concurrent` requests in flight (every answer is held
/// for `latency`, so "in flight" = arrived within the last `latency`).
#[derive(Clone, Debug)]
pub struct WriteLimit {
    /// Writes allowed per window.
    pub max_writes: usize,
    /// Window length (real time).
    pub window: Duration,
    /// Send `retry-after` (else the client must apply the ≥ 60 s rule).
    pub send_retry_after: bool,
    /// Virtual seconds per real second: `retry-after` is given in the client's (virtual) time.
    pub time_scale: f64,
    /// Concurrent requests allowed (`None`: unlimited).
    pub max_concurrent: Option<usize>,
    /// Latency added to every answer (real time).
    pub latency: Duration,
}

impl WriteLimit {
    /// GitHub's documented limits (80 content-creating requests per minute, 100 concurrent),
    /// with time running `scale` times faster.
    pub fn github(scale: f64) -> WriteLimit {
        WriteLimit {
            max_writes: 80,
            window: Duration::from_secs_f64(60.0 / scale),
            send_retry_after: true,
            time_scale: scale,
            max_concurrent: Some(100),
            latency: Duration::from_secs_f64(0.05 / scale),
        }
    }
}

/// The fake's state. Public so tests can arrange and inspect it.
#[derive(Debug)]
pub struct State {
    /// Owner login.
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Default branch.
    pub default_branch: String,
    /// Accepted token.
    pub token: String,
    /// branch → commit sha.
    pub branches: BTreeMap<String, String>,
    /// commit sha → full tree (path → content).
    pub commits: BTreeMap<String, BTreeMap<String, String>>,
    /// Pull requests.
    pub pulls: Vec<Pull>,
    /// Comments.
    pub comments: Vec<Comment>,
    /// Every request, in order.
    pub requests: Vec<Recorded>,
    /// Contract violations (requests or responses not matching the OpenAPI description).
    pub violations: Vec<String>,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Secondary limit, if enforced.
    pub write_limit: Option<WriteLimit>,
    /// Times of recent content-creating requests (for the limit).
    pub recent_writes: Vec<Instant>,
    /// Arrival times of recent requests (for the concurrency limit).
    pub recent_arrivals: Vec<Instant>,
    /// When the limit let each content-creating request through (the fleet simulation's
    /// timeline of how much of the window was used).
    pub accepted_writes: Vec<Instant>,
    /// Return every PR when a `head` filter is malformed (what GitHub does). Also, when set to
    /// `AllPulls`, return every PR for any filter (a wrong PR for another branch).
    pub head_filter: HeadFilter,
    /// Count of 403/429 rate-limit answers given.
    pub rate_limited: usize,
    /// Process the n-th request (1-based) normally but hold its answer this long (crash tests
    /// kill the client while it waits).
    pub hang_at: Option<(usize, Duration)>,
    /// The repository's numeric id (GitHub's pagination links use it).
    pub repo_id: u64,
    /// The repository setting "Allow auto-merge".
    pub allow_auto_merge: bool,
    /// Branch → the checks its protection requires (by name: a job name or a status context).
    /// A branch without an entry has no rules.
    pub required_checks: BTreeMap<String, Vec<String>>,
    /// Check runs.
    pub check_runs: Vec<CheckRun>,
    /// Commit statuses.
    pub statuses: Vec<CommitStatus>,
    /// GraphQL requests, in order (the REST ones are in `requests` too).
    pub graphql: Vec<Value>,
    /// `http://host[:port][/api/v3]` of the request being answered, for `Link` headers.
    link_base: String,
    /// The GitHub App, when the test uses one ([`FakeGitHub::with_app`]).
    pub app: Option<app::App>,
    /// Bytes of [`FaultKind::Flood`] bodies the client accepted before it stopped reading.
    pub flooded_bytes: u64,
    /// What `enlist gate` and `enlist doctor` read: reviews, access, protection ([`trust`]).
    pub trust: trust::Trust,
    next_number: u64,
    next_id: u64,
    commit_counter: u64,
}

/// How the fake applies `GET /pulls?head=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadFilter {
    /// Like GitHub: `owner:branch` filters, anything else is ignored.
    GitHub,
    /// Misbehaving: return every PR whatever the filter (the client must check `head.ref`).
    AllPulls,
}

impl State {
    fn new(owner: &str, name: &str, token: &str) -> State {
        let mut state = State {
            owner: owner.to_owned(),
            name: name.to_owned(),
            default_branch: "main".to_owned(),
            token: token.to_owned(),
            branches: BTreeMap::new(),
            commits: BTreeMap::new(),
            pulls: Vec::new(),
            comments: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            faults: Vec::new(),
            write_limit: None,
            recent_writes: Vec::new(),
            recent_arrivals: Vec::new(),
            accepted_writes: Vec::new(),
            head_filter: HeadFilter::GitHub,
            rate_limited: 0,
            hang_at: None,
            repo_id: 702_312,
            allow_auto_merge: true,
            required_checks: BTreeMap::from([("main".to_owned(), vec![REQUIRED_CHECK.to_owned()])]),
            check_runs: Vec::new(),
            statuses: Vec::new(),
            graphql: Vec::new(),
            link_base: String::new(),
            app: None,
            flooded_bytes: 0,
            trust: trust::Trust::default(),
            next_number: 1,
            next_id: 1000,
            commit_counter: 0,
        };
        let mut tree = BTreeMap::new();
        tree.insert("README.md".to_owned(), "# cluster\n".to_owned());
        let sha = state.commit(tree);
        state.branches.insert("main".to_owned(), sha);
        state
    }

    fn commit(&mut self, tree: BTreeMap<String, String>) -> String {
        self.commit_counter += 1;
        let mut material = format!("commit {}\n", self.commit_counter);
        for (path, content) in &tree {
            material.push_str(&format!("{path}\0{content}\0"));
        }
        let sha = sha40(material.as_bytes());
        self.commits.insert(sha.clone(), tree);
        sha
    }

    /// The tree at a branch head (or commit sha).
    pub fn tree(&self, git_ref: &str) -> Option<&BTreeMap<String, String>> {
        let sha = self
            .branches
            .get(git_ref)
            .map(String::as_str)
            .unwrap_or(git_ref);
        self.commits.get(sha)
    }

    /// A file's content on a branch.
    pub fn file(&self, branch: &str, path: &str) -> Option<String> {
        self.tree(branch).and_then(|t| t.get(path).cloned())
    }

    /// Commits `content` at `path` on `branch` (test arrangement).
    pub fn put_file(&mut self, branch: &str, path: &str, content: &str) {
        let mut tree = self.tree(branch).cloned().unwrap_or_default();
        tree.insert(path.to_owned(), content.to_owned());
        let sha = self.commit(tree);
        self.branches.insert(branch.to_owned(), sha);
    }

    /// Creates a branch at the default branch head (test arrangement).
    pub fn create_branch(&mut self, branch: &str) {
        let head = self.branches[&self.default_branch].clone();
        self.trust.forked(branch, &head);
        self.branches.insert(branch.to_owned(), head);
    }

    /// Opens a PR directly (test arrangement).
    pub fn open_pull(&mut self, head: &str, title: &str, body: &str) -> u64 {
        let base = self.default_branch.clone();
        self.open_pull_into(head, &base, title, body)
    }

    /// Opens a PR from `head` into `base` directly (test arrangement).
    pub fn open_pull_into(&mut self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        self.pulls.push(Pull {
            number,
            head: head.to_owned(),
            base: base.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            state: "open".to_owned(),
            merged: false,
            labels: Vec::new(),
            auto_merge: None,
        });
        number
    }

    /// Someone other than the node pushes a commit to PR `number`'s branch (a person, or a
    /// stolen node credential): `path` set to `content` on top of its head. Auto-merge stays as
    /// it was (GitHub keeps it on for a push by someone with write access). Returns the new head.
    pub fn push_foreign_commit(&mut self, number: u64, path: &str, content: &str) -> String {
        let branch = self.pull(number).expect("pull request").head.clone();
        self.put_file(&branch, path, content);
        self.branches[&branch].clone()
    }

    /// A PR by number.
    pub fn pull(&self, number: u64) -> Option<&Pull> {
        self.pulls.iter().find(|p| p.number == number)
    }

    /// The head commit of PR `number`.
    pub fn head_sha(&self, number: u64) -> Option<String> {
        let pull = self.pull(number)?;
        self.branches.get(&pull.head).cloned()
    }

    /// CI reports check `name` on PR `number`'s head commit: `None` while it runs, else its
    /// conclusion (`success`, `failure`, …). Then GitHub merges whatever auto-merge may merge.
    pub fn set_check(&mut self, number: u64, name: &str, conclusion: Option<&str>) {
        self.set_check_titled(number, name, conclusion, None);
    }

    /// [`State::set_check`] with a summary line (`output.title`).
    pub fn set_check_titled(
        &mut self,
        number: u64,
        name: &str,
        conclusion: Option<&str>,
        title: Option<&str>,
    ) {
        let Some(sha) = self.head_sha(number) else {
            return;
        };
        self.next_id += 1;
        let run = CheckRun {
            id: self.next_id,
            sha: sha.clone(),
            name: name.to_owned(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .to_owned(),
            conclusion: conclusion.map(str::to_owned),
            title: title.map(str::to_owned),
        };
        // GitHub lists the latest run of each name.
        self.check_runs
            .retain(|r| !(r.sha == sha && r.name == name));
        self.check_runs.push(run);
        self.auto_merge_what_may_merge();
    }

    /// A commit status on PR `number`'s head commit (`success`, `failure`, `error`, `pending`).
    pub fn set_status(&mut self, number: u64, context: &str, state: &str) {
        let Some(sha) = self.head_sha(number) else {
            return;
        };
        self.next_id += 1;
        self.statuses
            .retain(|s| !(s.sha == sha && s.context == context));
        self.statuses.push(CommitStatus {
            id: self.next_id,
            sha,
            context: context.to_owned(),
            state: state.to_owned(),
        });
        self.auto_merge_what_may_merge();
    }

    /// Whether every check the base branch requires passed on `sha` (a check run that succeeded,
    /// was skipped or neutral, or a successful commit status of that context). `None`: the base
    /// branch has no rules.
    fn required_checks_pass(&self, base: &str, sha: &str) -> Option<bool> {
        let required = self.required_checks.get(base).filter(|r| !r.is_empty())?;
        Some(required.iter().all(|name| {
            self.check_runs.iter().any(|r| {
                r.sha == sha
                    && &r.name == name
                    && matches!(
                        r.conclusion.as_deref(),
                        Some("success" | "skipped" | "neutral")
                    )
            }) || self
                .statuses
                .iter()
                .any(|s| s.sha == sha && &s.context == name && s.state == "success")
        }))
    }

    /// What GitHub does when a check completes: every open PR with auto-merge on whose required
    /// checks all passed is merged.
    fn auto_merge_what_may_merge(&mut self) {
        let ready: Vec<u64> = self
            .pulls
            .iter()
            .filter(|p| p.state == "open" && p.auto_merge.is_some())
            .filter(|p| {
                self.branches
                    .get(&p.head)
                    .and_then(|sha| self.required_checks_pass(&p.base, sha))
                    == Some(true)
            })
            .map(|p| p.number)
            .collect();
        for number in ready {
            self.merge(number);
        }
    }

    /// Merges PR `number` into its base: the head's files land on the base branch.
    pub fn merge(&mut self, number: u64) {
        let pull = self
            .pulls
            .iter()
            .find(|p| p.number == number)
            .cloned()
            .expect("PR exists");
        let mut tree = self.tree(&pull.base).cloned().unwrap_or_default();
        for (path, content) in self.tree(&pull.head).cloned().unwrap_or_default() {
            tree.insert(path, content);
        }
        let sha = self.commit(tree);
        self.branches.insert(pull.base.clone(), sha);
        let p = self
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("PR exists");
        p.state = "closed".to_owned();
        p.merged = true;
    }

    /// Closes PR `number` without merging.
    pub fn close(&mut self, number: u64) {
        let p = self
            .pulls
            .iter_mut()
            .find(|p| p.number == number)
            .expect("PR exists");
        p.state = "closed".to_owned();
    }

    /// Consumes a connection-level fault (reset, trickle) matching this request, for the proxy.
    pub fn take_connection_fault(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let fault = self.faults.iter_mut().find(|f| {
            f.times > 0
                && f.method == method
                && path.contains(&f.path_contains)
                && is_connection_fault(&f.kind)
        })?;
        fault.times -= 1;
        Some(fault.kind.clone())
    }

    /// Adds a comment to PR `number` as someone else (test arrangement).
    pub fn add_comment(&mut self, number: u64, body: &str) {
        self.next_id += 1;
        self.comments.push(Comment {
            id: self.next_id,
            issue: number,
            body: body.to_owned(),
        });
    }

    /// Requests that wrote.
    pub fn writes(&self) -> Vec<&Recorded> {
        self.requests.iter().filter(|r| r.is_write()).collect()
    }

    /// `METHOD path` of every request.
    pub fn lines(&self) -> Vec<String> {
        self.requests.iter().map(Recorded::line).collect()
    }

    /// Open PRs.
    pub fn open_pulls(&self) -> Vec<&Pull> {
        self.pulls.iter().filter(|p| p.state == "open").collect()
    }

    /// `/repositories/{id}/rest` → `/repos/{owner}/{name}/rest`.
    fn canonical(&self, path: &str) -> String {
        let by_id = format!("/repositories/{}", self.repo_id);
        match path.strip_prefix(&by_id) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("/repos/{}/{}{rest}", self.owner, self.name)
            }
            _ => path.to_owned(),
        }
    }

    /// One page of `items` as GitHub answers a list: `per_page` (default 30, at most 100) items
    /// of page `page` (default 1), and a `Link` header for the other pages, which repeats the
    /// request's other query parameters.
    fn page(&self, rest: &str, query: &[(String, String)], items: Vec<Value>) -> Answer {
        let number = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = number("per_page").unwrap_or(30).clamp(1, 100);
        let page = number("page").unwrap_or(1).max(1);
        let last = items.len().div_ceil(per_page).max(1);
        let shown: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut answer = Answer::json(200, json!(shown));
        if last > 1 {
            let others: String = query
                .iter()
                .filter(|(k, _)| k != "page" && k != "per_page")
                .map(|(k, v)| format!("&{k}={}", encode_query(v)))
                .collect();
            let url = |n: usize| {
                format!(
                    "{}/repositories/{}{rest}?per_page={per_page}{others}&page={n}",
                    self.link_base, self.repo_id
                )
            };
            let mut links = Vec::new();
            if page < last {
                links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
                links.push(format!("<{}>; rel=\"last\"", url(last)));
            }
            if page > 1 {
                links.push(format!("<{}>; rel=\"first\"", url(1)));
                links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
            }
            answer.headers.push(("link".to_owned(), links.join(", ")));
        }
        answer
    }

    fn base_url(&self) -> String {
        format!("https://api.github.com/repos/{}/{}", self.owner, self.name)
    }

    fn html_url(&self) -> String {
        format!("https://github.com/{}/{}", self.owner, self.name)
    }
}

/// GitHub's GraphQL endpoint (GitHub Enterprise: `/api/graphql`, beside `/api/v3`).
fn is_graphql(path: &str) -> bool {
    path == "/graphql" || path == "/api/graphql"
}

fn is_connection_fault(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Reset
            | FaultKind::ApplyThenReset
            | FaultKind::Trickle(_)
            | FaultKind::Flood { .. }
    )
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn sha40(bytes: &[u8]) -> String {
    enlist::hash::sha256_hex(bytes)[..40].to_owned()
}

/// The running fake.
pub struct FakeGitHub {
    /// Kept alive: dropping it stops the server.
    _server: MockServer,
    state: Arc<Mutex<State>>,
    proxy: std::net::SocketAddr,
}

/// The check the fake's `main` requires by default: the reconcile job's name in
/// `examples/gitops/.github/workflows/enlist-reconcile.yml`.
pub const REQUIRED_CHECK: &str = "enlist reconcile";

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "ghp_enlistTestToken0123456789abcdefXYZ";

impl FakeGitHub {
    /// Starts a fake for `acme/fleet` accepting [`TOKEN`].
    pub async fn start() -> FakeGitHub {
        FakeGitHub::start_for("acme", "fleet", TOKEN).await
    }

    /// Starts a fake for `owner/name` accepting `token`.
    pub async fn start_for(owner: &str, name: &str, token: &str) -> FakeGitHub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::new(owner, name, token)));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        let proxy = crate::proxy::start(*server.address(), state.clone()).await;
        FakeGitHub {
            _server: server,
            state,
            proxy,
        }
    }

    /// Base URL to use as `api_url`: the connection-level proxy in front of the fake (it can
    /// reset connections, which an HTTP mock cannot).
    pub fn url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// The state, locked.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Turns the GitHub App on ([`app::App::new`]: installed on the repository with the
    /// permissions the README asks for). Returns the fake for chaining.
    pub fn with_app(&self) -> &FakeGitHub {
        self.state().app = Some(app::App::new());
        self
    }

    /// Panics if any request or response broke the OpenAPI contract.
    pub fn assert_contract(&self) {
        let state = self.state();
        assert!(
            state.violations.is_empty(),
            "OpenAPI contract violations:\n{}",
            state.violations.join("\n")
        );
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
}

/// One answer before conversion to a wiremock template.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
    delay: Option<Duration>,
    /// An injected fault: GitHub surprising the client on purpose, possibly with a status the
    /// description does not list for the operation.
    injected: bool,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body,
            headers: Vec::new(),
            delay: None,
            injected: false,
        }
    }
}

fn not_found(doc: &str) -> Answer {
    Answer::json(
        404,
        json!({"message": "Not Found", "documentation_url": format!("https://docs.github.com/rest/{doc}"), "status": "404"}),
    )
}

fn validation_failed(message: &str, errors: Value, doc: &str) -> Answer {
    Answer::json(
        422,
        json!({"message": message, "errors": errors, "documentation_url": format!("https://docs.github.com/rest/{doc}"), "status": "422"}),
    )
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let method = request.method.as_str().to_owned();
        let path = request.url.path().to_owned();
        let query: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let body: Option<Value> = if request.body.is_empty() {
            None
        } else {
            serde_json::from_slice(&request.body).ok()
        };
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let host = headers
            .iter()
            .find(|(k, _)| k == "host")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        // GitHub Enterprise serves the REST API under /api/v3; pagination links name the
        // repository by id. Both are the same operations as /repos/{owner}/{repo}/….
        let raw_path = path.clone();
        let (prefix, path) = match path.strip_prefix("/api/v3") {
            Some(rest) if rest.starts_with('/') => ("/api/v3", rest.to_owned()),
            _ => ("", path),
        };
        let path = state.canonical(&path);
        state.link_base = format!("http://{host}{prefix}");
        let spec = Spec::get();
        let mut violations = spec.check_request(&method, &path, &query, body.as_ref());
        if !request.body.is_empty() && body.is_none() {
            violations.push(format!("request {method} {path}: body is not JSON"));
        }

        let is_graphql = is_graphql(&path);
        if is_graphql {
            // Checked against the GraphQL schema when it is executed (route → graphql).
            violations.retain(|v| !v.contains("not an operation of the GitHub REST description"));
        }
        let answer = answer(&mut state, &method, &path, &query, body.as_ref(), &headers);
        let scopes = trust::scopes_header(&state, &headers);
        if is_graphql || (answer.body.is_null() && answer.status >= 500) {
            // Outage bodies are not JSON on the real API either; nothing to check.
        } else {
            let problems = spec.check_response(&method, &path, answer.status, &answer.body);
            // An injected fault may use a status the operation does not document (that is the
            // point of the fault matrix); its body must still be GitHub-shaped.
            violations.extend(
                problems
                    .into_iter()
                    .filter(|p| !(answer.injected && p.contains("is not documented"))),
            );
        }
        state.violations.extend(violations);
        state.requests.push(Recorded {
            method,
            path,
            raw_path,
            query,
            body,
            status: answer.status,
            headers,
        });
        let mut template = ResponseTemplate::new(answer.status);
        if answer.body.is_null() {
            template = template.set_body_string(if answer.status >= 500 {
                "<html>upstream error</html>"
            } else {
                ""
            });
        } else {
            template = template.set_body_json(&answer.body);
        }
        template = template.insert_header("x-github-api-version-selected", "2022-11-28");
        if let Some((name, value)) = scopes {
            template = template.insert_header(name.as_str(), value.as_str());
        }
        for (k, v) in answer.headers {
            template = template.insert_header(k.as_str(), v.as_str());
        }
        if let Some(delay) = answer.delay {
            template = template.set_delay(delay);
        }
        template
    }
}

fn answer(
    state: &mut State,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    headers: &[(String, String)],
) -> Answer {
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let bearer = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("")
        .to_owned();
    // The token, an installation token, or on the App endpoints the App's JWT.
    if let Some(refused) = app::authenticate(state, method, path, &bearer) {
        return refused;
    }
    let bearer = bearer.as_str();

    if let Some((n, hold)) = state.hang_at
        && state.requests.len() + 1 == n
    {
        let mut real = route(state, method, path, query, body, bearer);
        real.delay = Some(hold);
        return real;
    }

    // Injected faults first.
    if let Some(index) = state.faults.iter().position(|f| {
        f.times > 0
            && f.method == method
            && path.contains(&f.path_contains)
            && !is_connection_fault(&f.kind)
    }) {
        state.faults[index].times -= 1;
        let kind = state.faults[index].kind.clone();
        match kind {
            FaultKind::Status {
                status,
                body,
                headers,
            } => {
                if matches!(status, 403 | 429) {
                    state.rate_limited += 1;
                }
                return Answer {
                    status,
                    body,
                    headers,
                    delay: None,
                    injected: true,
                };
            }
            FaultKind::Delay(d) => {
                // The client gives up before this arrives; shaped as an outage so it is not
                // checked against the operation's schema.
                return Answer {
                    status: 504,
                    body: Value::Null,
                    headers: Vec::new(),
                    delay: Some(d),
                    injected: false,
                };
            }
            FaultKind::ApplyThenStatus(status) => {
                let _ = route(state, method, path, query, body, bearer);
                return Answer::json(status, Value::Null);
            }
            FaultKind::ApplyThenAnswer {
                status,
                body: answer,
            } => {
                let _ = route(state, method, path, query, body, bearer);
                return Answer {
                    injected: true,
                    ..Answer::json(status, answer)
                };
            }
            FaultKind::ApplyThenDelay(d) => {
                let mut real = route(state, method, path, query, body, bearer);
                real.delay = Some(d);
                return real;
            }
            // Handled by the proxy before the request gets here.
            FaultKind::Reset
            | FaultKind::ApplyThenReset
            | FaultKind::Trickle(_)
            | FaultKind::Flood { .. } => {}
        }
    }

    // Secondary rate limits.
    if let Some(limit) = state.write_limit.clone() {
        let now = Instant::now();
        let virtual_secs =
            |real: Duration| ((real.as_secs_f64() * limit.time_scale).ceil() as u64).max(1);
        if let Some(max) = limit.max_concurrent {
            state
                .recent_arrivals
                .retain(|t| now.duration_since(*t) < limit.latency);
            if state.recent_arrivals.len() >= max {
                state.rate_limited += 1;
                return secondary_limit(
                    limit.send_retry_after.then(|| virtual_secs(limit.latency)),
                    limit.latency,
                );
            }
            state.recent_arrivals.push(now);
        }
        // Minting and revoking installation tokens create no content.
        let token_call =
            app::endpoint(method, path, &state.owner, &state.name) != app::Endpoint::Repository;
        if method != "GET" && !token_call {
            state
                .recent_writes
                .retain(|t| now.duration_since(*t) < limit.window);
            if state.recent_writes.len() >= limit.max_writes {
                state.rate_limited += 1;
                let oldest = state.recent_writes[0];
                let free_in = limit.window.saturating_sub(now.duration_since(oldest));
                return secondary_limit(
                    limit.send_retry_after.then(|| virtual_secs(free_in)),
                    limit.latency,
                );
            }
            state.recent_writes.push(now);
            state.accepted_writes.push(now);
        }
        let mut real = route(state, method, path, query, body, bearer);
        real.delay = Some(real.delay.unwrap_or_default().max(limit.latency));
        return real;
    }
    route(state, method, path, query, body, bearer)
}

fn secondary_limit(retry_after: Option<u64>, latency: Duration) -> Answer {
    let mut headers = vec![("x-ratelimit-remaining".to_owned(), "4000".to_owned())];
    if let Some(secs) = retry_after {
        headers.push(("retry-after".to_owned(), secs.to_string()));
    }
    Answer {
        status: 403,
        body: json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
            "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            "status": "403"
        }),
        headers,
        delay: Some(latency),
        injected: false,
    }
}

fn route(
    state: &mut State,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    bearer: &str,
) -> Answer {
    if let Some(answer) = app::route(state, method, path, body, bearer) {
        return answer;
    }
    if is_graphql(path) {
        return match method {
            "POST" => graphql_request(state, body.unwrap_or(&Value::Null)),
            _ => not_found("graphql"),
        };
    }
    if let Some(answer) = trust::route(state, method, path, query, bearer) {
        return answer;
    }
    let prefix = format!("/repos/{}/{}", state.owner, state.name);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return not_found("repos/repos#get-a-repository");
    };
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = body.cloned().unwrap_or(Value::Null);
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", [""]) => get_repo(state),
        ("GET", ["git", "ref", "heads", branch @ ..]) => get_ref(state, &branch.join("/")),
        ("POST", ["git", "refs"]) => create_ref(state, &body),
        ("PATCH", ["git", "refs", "heads", branch @ ..]) => {
            update_ref(state, &branch.join("/"), &body)
        }
        ("GET", ["contents", file @ ..]) => {
            let git_ref = q("ref").unwrap_or_else(|| state.default_branch.clone());
            get_contents(state, &file.join("/"), &git_ref)
        }
        ("PUT", ["contents", file @ ..]) => put_contents(state, &file.join("/"), &body),
        ("GET", ["pulls"]) => list_pulls(
            state,
            query,
            q("head").as_deref(),
            q("base").as_deref(),
            q("state").as_deref(),
        ),
        ("POST", ["pulls"]) => create_pull(state, &body),
        ("GET", ["pulls", n]) => {
            with_pull(state, n, |s, p| Answer::json(200, pull_json(s, p, true)))
        }
        ("PATCH", ["pulls", n]) => {
            let title = body["title"].as_str().map(str::to_owned);
            let text = body["body"].as_str().map(str::to_owned);
            with_pull_mut(state, n, |p| {
                if let Some(t) = title {
                    p.title = t;
                }
                if let Some(b) = text {
                    p.body = b;
                }
            })
        }
        ("GET", ["issues", n, "comments"]) => list_comments(state, query, n),
        ("POST", ["issues", n, "comments"]) => create_comment(state, n, &body),
        ("POST", ["issues", n, "labels"]) => add_labels(state, n, &body),
        ("GET", ["commits", git_ref @ .., "check-runs"]) => check_runs(state, &git_ref.join("/")),
        ("GET", ["commits", git_ref @ .., "status"]) => combined_status(state, &git_ref.join("/")),
        _ => not_found("rest"),
    }
}

/// A branch name or a commit sha → the commit.
fn resolve_commit(state: &State, git_ref: &str) -> Option<String> {
    match state.branches.get(git_ref) {
        Some(sha) => Some(sha.clone()),
        None => state
            .commits
            .contains_key(git_ref)
            .then(|| git_ref.to_owned()),
    }
}

fn check_runs(state: &State, git_ref: &str) -> Answer {
    let Some(sha) = resolve_commit(state, git_ref) else {
        return Answer::json(
            422,
            json!({"message": format!("No commit found for SHA: {git_ref}"), "documentation_url": "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference", "status": "422"}),
        );
    };
    let runs: Vec<Value> = state
        .check_runs
        .iter()
        .filter(|r| r.sha == sha)
        .map(|r| {
            let mut v = Spec::get().skeleton("check-run");
            v["id"] = json!(r.id);
            v["node_id"] = json!(format!("CR_kwDO{:08}", r.id));
            v["head_sha"] = json!(r.sha);
            v["name"] = json!(r.name);
            v["status"] = json!(r.status);
            v["conclusion"] = json!(r.conclusion);
            let url = format!("{}/actions/runs/{}/job/{}", state.html_url(), r.id, r.id);
            v["html_url"] = json!(url);
            v["details_url"] = json!(url);
            v["url"] = json!(format!("{}/check-runs/{}", state.base_url(), r.id));
            v["output"]["title"] = json!(r.title);
            v
        })
        .collect();
    Answer::json(200, json!({"total_count": runs.len(), "check_runs": runs}))
}

fn combined_status(state: &State, git_ref: &str) -> Answer {
    let Some(sha) = resolve_commit(state, git_ref) else {
        return not_found("commits/statuses#get-the-combined-status-for-a-specific-reference");
    };
    let statuses: Vec<&CommitStatus> = state.statuses.iter().filter(|s| s.sha == sha).collect();
    // GitHub: failure if any failed or errored, pending if any is pending (or there are none),
    // else success.
    let combined = if statuses
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if statuses.is_empty() || statuses.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let items: Vec<Value> = statuses
        .iter()
        .map(|st| {
            let mut v = Spec::get().skeleton("simple-commit-status");
            v["id"] = json!(st.id);
            v["node_id"] = json!(format!("SC_kwDO{:08}", st.id));
            v["state"] = json!(st.state);
            v["context"] = json!(st.context);
            v["target_url"] = json!(format!("https://ci.example/{}", st.id));
            v["url"] = json!(format!("{}/statuses/{sha}", state.base_url()));
            v
        })
        .collect();
    let mut out = Spec::get().skeleton("combined-commit-status");
    out["state"] = json!(combined);
    out["sha"] = json!(sha);
    out["total_count"] = json!(items.len());
    out["statuses"] = json!(items);
    out["commit_url"] = json!(format!("{}/commits/{sha}", state.base_url()));
    out["url"] = json!(format!("{}/commits/{sha}/status", state.base_url()));
    Answer::json(200, out)
}

/// `POST /graphql`: validated against GitHub's schema, then executed. GitHub answers errors with
/// HTTP 200 and an `errors` list; a document that does not validate is a contract violation of
/// the client's.
fn graphql_request(state: &mut State, body: &Value) -> Answer {
    state.graphql.push(body.clone());
    let request = match graphql::validate(body) {
        Ok(request) => request,
        Err(errors) => {
            for e in &errors {
                state.violations.push(format!("GraphQL request: {e}"));
            }
            let errors: Vec<Value> = errors.iter().map(|m| json!({"message": m})).collect();
            return Answer::json(200, json!({ "errors": errors }));
        }
    };
    let mut data = serde_json::Map::new();
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    for field in request.root_fields() {
        let key = field
            .alias
            .as_ref()
            .unwrap_or(&field.name)
            .as_str()
            .to_owned();
        let result = match field.name.as_str() {
            "enablePullRequestAutoMerge" => {
                enable_auto_merge(state, &request.argument(&field, "input"))
            }
            "disablePullRequestAutoMerge" => {
                disable_auto_merge(state, &request.argument(&field, "input"))
            }
            other => {
                state
                    .violations
                    .push(format!("GraphQL: the fake does not implement {other}"));
                Err((
                    "INTERNAL",
                    format!("{other} is not implemented by the fake"),
                ))
            }
        };
        match result {
            Ok(payload) => {
                data.insert(
                    key,
                    request.select(&field.selection_set, &payload, &mut missing),
                );
            }
            Err((kind, message)) => {
                data.insert(key.clone(), Value::Null);
                errors.push(json!({"type": kind, "path": [key], "message": message}));
            }
        }
    }
    for m in missing {
        state.violations.push(format!(
            "GraphQL: the fake cannot answer {m} (extend fake.rs)"
        ));
    }
    let mut out = json!({ "data": data });
    if !errors.is_empty() {
        out["errors"] = json!(errors);
    }
    Answer::json(200, out)
}

/// `enablePullRequestAutoMerge`, with GitHub's refusals (REFERENCE.md, "Auto-merge").
fn enable_auto_merge(state: &mut State, input: &Value) -> Result<Value, (&'static str, String)> {
    let id = input["pullRequestId"].as_str().unwrap_or("");
    let method = input["mergeMethod"]
        .as_str()
        .unwrap_or("MERGE")
        .to_lowercase();
    let Some(pull) = state.pulls.iter().find(|p| p.node_id() == id).cloned() else {
        return Err((
            "NOT_FOUND",
            format!("Could not resolve to a node with the global id of '{id}'"),
        ));
    };
    let unprocessable = |m: &str| Err(("UNPROCESSABLE", m.to_owned()));
    if pull.state != "open" {
        return unprocessable("Pull request Pull request is closed");
    }
    if !state.allow_auto_merge {
        return unprocessable("Pull request Auto merge is not allowed for this repository");
    }
    let head = state.branches.get(&pull.head).cloned().unwrap_or_default();
    match state.required_checks_pass(&pull.base, &head) {
        None => {
            return unprocessable(
                "Pull request Protected branch rules not configured for this branch",
            );
        }
        Some(true) => return unprocessable("Pull request Pull request is in clean status"),
        Some(false) => {}
    }
    if let Some(p) = state.pulls.iter_mut().find(|p| p.number == pull.number) {
        p.auto_merge = Some(method);
    }
    let pull = state.pull(pull.number).cloned().expect("present");
    Ok(json!({
        "clientMutationId": null,
        "actor": {"login": state.owner},
        "pullRequest": pull_graphql(state, &pull),
    }))
}

/// `disablePullRequestAutoMerge`: the same rights as enabling it; GitHub refuses when auto-merge
/// is not on ("Pull request Auto merge is not enabled") or the PR is closed.
fn disable_auto_merge(state: &mut State, input: &Value) -> Result<Value, (&'static str, String)> {
    let id = input["pullRequestId"].as_str().unwrap_or("");
    let Some(pull) = state.pulls.iter().find(|p| p.node_id() == id).cloned() else {
        return Err((
            "NOT_FOUND",
            format!("Could not resolve to a node with the global id of '{id}'"),
        ));
    };
    if pull.state != "open" {
        return Err((
            "UNPROCESSABLE",
            "Pull request Pull request is closed".to_owned(),
        ));
    }
    if pull.auto_merge.is_none() {
        return Err((
            "UNPROCESSABLE",
            "Pull request Auto merge is not enabled".to_owned(),
        ));
    }
    if let Some(p) = state.pulls.iter_mut().find(|p| p.number == pull.number) {
        p.auto_merge = None;
    }
    let pull = state.pull(pull.number).cloned().expect("present");
    Ok(json!({
        "clientMutationId": null,
        "actor": {"login": state.owner},
        "pullRequest": pull_graphql(state, &pull),
    }))
}

/// A PR as GraphQL objects show it (the fields enlist and its tests ask for).
fn pull_graphql(state: &State, pull: &Pull) -> Value {
    json!({
        "id": pull.node_id(),
        "number": pull.number,
        "title": pull.title,
        "url": format!("{}/pull/{}", state.html_url(), pull.number),
        "state": if pull.merged { "MERGED" } else if pull.state == "open" { "OPEN" } else { "CLOSED" },
        "merged": pull.merged,
        "autoMergeRequest": pull.auto_merge.as_ref().map(|m| json!({
            "mergeMethod": m.to_uppercase(),
            "enabledAt": "2026-11-21T12:00:00Z",
            "enabledBy": {"login": state.owner},
        })),
    })
}

fn get_repo(state: &State) -> Answer {
    let mut repo = Spec::get().skeleton("full-repository");
    let full = format!("{}/{}", state.owner, state.name);
    repo["name"] = json!(state.name);
    repo["full_name"] = json!(full);
    repo["default_branch"] = json!(state.default_branch);
    repo["owner"]["login"] = json!(state.owner);
    repo["html_url"] = json!(state.html_url());
    repo["url"] = json!(state.base_url());
    repo["private"] = json!(!state.trust.public);
    repo["allow_forking"] = json!(true);
    repo["id"] = json!(state.repo_id);
    repo["language"] = json!("Nix");
    repo["allow_auto_merge"] = json!(state.allow_auto_merge);
    Answer::json(200, repo)
}

fn ref_json(state: &State, branch: &str, sha: &str) -> Value {
    let mut r = Spec::get().skeleton("git-ref");
    r["ref"] = json!(format!("refs/heads/{branch}"));
    r["url"] = json!(format!("{}/git/refs/heads/{branch}", state.base_url()));
    r["object"]["sha"] = json!(sha);
    r["object"]["url"] = json!(format!("{}/git/commits/{sha}", state.base_url()));
    r
}

fn get_ref(state: &State, branch: &str) -> Answer {
    match state.branches.get(branch) {
        Some(sha) => Answer::json(200, ref_json(state, branch, sha)),
        None => not_found("git/refs#get-a-reference"),
    }
}

fn create_ref(state: &mut State, body: &Value) -> Answer {
    let full = body["ref"].as_str().unwrap_or("");
    let sha = body["sha"].as_str().unwrap_or("");
    let Some(branch) = full.strip_prefix("refs/heads/").filter(|b| !b.is_empty()) else {
        return validation_failed(
            "Reference name must start with 'refs/' and have at least two slashes.",
            json!([]),
            "git/refs#create-a-reference",
        );
    };
    if state.branches.contains_key(branch) {
        return Answer::json(
            422,
            json!({"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"}),
        );
    }
    if !state.commits.contains_key(sha) {
        return Answer::json(
            422,
            json!({"message": "Object does not exist", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"}),
        );
    }
    state.branches.insert(branch.to_owned(), sha.to_owned());
    state.trust.forked(branch, sha);
    Answer::json(201, ref_json(state, branch, sha))
}

fn update_ref(state: &mut State, branch: &str, body: &Value) -> Answer {
    let sha = body["sha"].as_str().unwrap_or("");
    if !state.branches.contains_key(branch) {
        return validation_failed(
            "Reference does not exist",
            json!([]),
            "git/refs#update-a-reference",
        );
    }
    if !state.commits.contains_key(sha) {
        return validation_failed(
            "Object does not exist",
            json!([]),
            "git/refs#update-a-reference",
        );
    }
    // The fake has no history, so a non-forced update cannot be checked for fast-forward; enlist
    // always forces.
    if body["force"] != true {
        return validation_failed(
            "Update is not a fast forward",
            json!([]),
            "git/refs#update-a-reference",
        );
    }
    state.branches.insert(branch.to_owned(), sha.to_owned());
    state.trust.forked(branch, sha);
    Answer::json(200, ref_json(state, branch, sha))
}

fn blob_sha(content: &str) -> String {
    sha40(format!("blob {}\0{content}", content.len()).as_bytes())
}

fn get_contents(state: &State, file: &str, git_ref: &str) -> Answer {
    let Some(tree) = state.tree(git_ref) else {
        return Answer::json(
            404,
            json!({"message": format!("No commit found for the ref {git_ref}"), "documentation_url": "https://docs.github.com/rest/repos/contents#get-repository-content", "status": "404"}),
        );
    };
    let Some(content) = tree.get(file) else {
        return not_found("repos/contents#get-repository-content");
    };
    let mut item = Spec::get().skeleton("content-file");
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    // GitHub wraps base64 content at 60 characters with "\n".
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let sha = blob_sha(content);
    let name = file.rsplit('/').next().unwrap_or(file);
    item["type"] = json!("file");
    item["encoding"] = json!("base64");
    item["size"] = json!(content.len());
    item["name"] = json!(name);
    item["path"] = json!(file);
    item["content"] = json!(format!("{}\n", wrapped.join("\n")));
    item["sha"] = json!(sha);
    item["url"] = json!(format!(
        "{}/contents/{file}?ref={git_ref}",
        state.base_url()
    ));
    Answer::json(200, item)
}

fn put_contents(state: &mut State, file: &str, body: &Value) -> Answer {
    let branch = body["branch"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| state.default_branch.clone());
    let Some(tree) = state.tree(&branch).cloned() else {
        return Answer::json(
            404,
            json!({"message": format!("Branch {branch} not found"), "documentation_url": "https://docs.github.com/rest/repos/contents#create-or-update-file-contents", "status": "404"}),
        );
    };
    let Some(content) = body["content"]
        .as_str()
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
    else {
        return validation_failed(
            "Invalid request.\n\ncontent is not valid Base64",
            json!([]),
            "repos/contents#create-or-update-file-contents",
        );
    };
    let existing = tree.get(file);
    match (existing, body["sha"].as_str()) {
        (Some(_), None) => {
            return validation_failed(
                "Invalid request.\n\n\"sha\" wasn't supplied.",
                json!([]),
                "repos/contents#create-or-update-file-contents",
            );
        }
        (Some(current), Some(sha)) if blob_sha(current) != sha => {
            return Answer::json(
                409,
                json!({"message": format!("{file} does not match {sha}"), "documentation_url": "https://docs.github.com/rest/repos/contents#create-or-update-file-contents", "status": "409"}),
            );
        }
        (None, Some(sha)) => {
            return Answer::json(
                409,
                json!({"message": format!("{file} does not match {sha}"), "documentation_url": "https://docs.github.com/rest/repos/contents#create-or-update-file-contents", "status": "409"}),
            );
        }
        _ => {}
    }
    let created = existing.is_none();
    let mut new_tree = tree;
    new_tree.insert(file.to_owned(), content.clone());
    let sha = state.commit(new_tree);
    state.branches.insert(branch.clone(), sha.clone());
    let mut out = Spec::get().skeleton("file-commit");
    out["content"]["path"] = json!(file);
    out["content"]["name"] = json!(file.rsplit('/').next().unwrap_or(file));
    out["content"]["sha"] = json!(blob_sha(&content));
    out["content"]["size"] = json!(content.len());
    out["commit"]["sha"] = json!(sha);
    out["commit"]["message"] = body["message"].clone();
    Answer::json(if created { 201 } else { 200 }, out)
}

fn pull_json(state: &State, pull: &Pull, full: bool) -> Value {
    let mut p = if full {
        Spec::get().skeleton("pull-request")
    } else {
        Spec::get().skeleton("pull-request-simple")
    };
    p["number"] = json!(pull.number);
    p["id"] = json!(1_000_000 + pull.number);
    p["state"] = json!(pull.state);
    p["title"] = json!(pull.title);
    p["body"] = json!(pull.body);
    p["html_url"] = json!(format!("{}/pull/{}", state.html_url(), pull.number));
    p["url"] = json!(format!("{}/pulls/{}", state.base_url(), pull.number));
    p["head"]["ref"] = json!(pull.head);
    p["head"]["label"] = json!(format!("{}:{}", state.owner, pull.head));
    // A PR whose branch was deleted (or never created by a test) keeps the head sha it had.
    p["head"]["sha"] = json!(
        state
            .branches
            .get(&pull.head)
            .cloned()
            .unwrap_or_else(|| sha40(pull.head.as_bytes()))
    );
    p["base"]["ref"] = json!(pull.base);
    p["base"]["label"] = json!(format!("{}:{}", state.owner, pull.base));
    p["merged_at"] = if pull.merged {
        json!("2026-11-21T12:00:00Z")
    } else {
        Value::Null
    };
    p["closed_at"] = if pull.state == "closed" {
        json!("2026-11-21T12:00:00Z")
    } else {
        Value::Null
    };
    if full {
        p["merged"] = json!(pull.merged);
    }
    p["requested_teams"] = json!([]);
    p["requested_reviewers"] = json!([]);
    let labels: Vec<Value> = pull.labels.iter().map(|l| label_json(l)).collect();
    p["labels"] = json!(labels);
    p["node_id"] = json!(pull.node_id());
    p["auto_merge"] = match &pull.auto_merge {
        None => Value::Null,
        Some(method) => {
            let mut user = Spec::get().skeleton("simple-user");
            user["login"] = json!(state.owner);
            json!({
                "enabled_by": user,
                "merge_method": method,
                "commit_title": format!("{} (#{})", pull.title, pull.number),
                "commit_message": "",
            })
        }
    };
    trust::decorate_pull(state, pull, &mut p);
    p
}

fn label_json(name: &str) -> Value {
    let mut l = Spec::get().skeleton("label");
    l["name"] = json!(name);
    l
}

fn list_pulls(
    state: &State,
    query: &[(String, String)],
    head: Option<&str>,
    base: Option<&str>,
    filter_state: Option<&str>,
) -> Answer {
    let wanted = filter_state.unwrap_or("open");
    let head_branch = match (state.head_filter, head) {
        // GitHub needs `owner:branch`; without the owner the filter is silently ignored.
        (HeadFilter::GitHub, Some(h)) => h
            .split_once(':')
            .filter(|(o, _)| o.eq_ignore_ascii_case(&state.owner))
            .map(|(_, b)| b.to_owned())
            .or_else(|| {
                if h.contains(':') {
                    Some(String::from("\0no-such-branch"))
                } else {
                    None
                }
            }),
        _ => None,
    };
    let items: Vec<Value> = state
        .pulls
        .iter()
        .rev()
        .filter(|p| wanted == "all" || p.state == wanted)
        .filter(|p| head_branch.as_ref().is_none_or(|b| &p.head == b))
        .filter(|p| state.head_filter != HeadFilter::GitHub || base.is_none_or(|b| p.base == b))
        .map(|p| pull_json(state, p, false))
        .collect();
    state.page("/pulls", query, items)
}

fn create_pull(state: &mut State, body: &Value) -> Answer {
    let head_raw = body["head"].as_str().unwrap_or("");
    let head = head_raw
        .split_once(':')
        .map_or(head_raw, |(_, b)| b)
        .to_owned();
    let base = body["base"].as_str().unwrap_or("").to_owned();
    if !state.branches.contains_key(&head) {
        return validation_failed(
            "Validation Failed",
            json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
            "pulls/pulls#create-a-pull-request",
        );
    }
    if !state.branches.contains_key(&base) {
        return validation_failed(
            "Validation Failed",
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
            "pulls/pulls#create-a-pull-request",
        );
    }
    if state
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == head && p.base == base)
    {
        return validation_failed(
            "Validation Failed",
            json!([{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {}:{head}.", state.owner)}]),
            "pulls/pulls#create-a-pull-request",
        );
    }
    if state.tree(&head) == state.tree(&base) {
        return validation_failed(
            "Validation Failed",
            json!([{"resource": "PullRequest", "code": "custom", "message": format!("No commits between {base} and {head}")}]),
            "pulls/pulls#create-a-pull-request",
        );
    }
    let number = state.next_number;
    state.next_number += 1;
    let pull = Pull {
        number,
        head,
        base,
        title: body["title"].as_str().unwrap_or("").to_owned(),
        body: body["body"].as_str().unwrap_or("").to_owned(),
        state: "open".to_owned(),
        merged: false,
        labels: Vec::new(),
        auto_merge: None,
    };
    let json = pull_json(state, &pull, true);
    state.pulls.push(pull);
    Answer::json(201, json)
}

fn with_pull(state: &State, n: &str, f: impl FnOnce(&State, &Pull) -> Answer) -> Answer {
    match n
        .parse::<u64>()
        .ok()
        .and_then(|n| state.pulls.iter().find(|p| p.number == n))
    {
        Some(p) => f(state, p),
        None => not_found("pulls/pulls#get-a-pull-request"),
    }
}

fn with_pull_mut(state: &mut State, n: &str, f: impl FnOnce(&mut Pull)) -> Answer {
    let Some(number) = n
        .parse::<u64>()
        .ok()
        .filter(|n| state.pulls.iter().any(|p| p.number == *n))
    else {
        return not_found("pulls/pulls#update-a-pull-request");
    };
    if let Some(p) = state.pulls.iter_mut().find(|p| p.number == number) {
        f(p);
    }
    let pull = state
        .pulls
        .iter()
        .find(|p| p.number == number)
        .cloned()
        .expect("present");
    Answer::json(200, pull_json(state, &pull, true))
}

fn comment_json(state: &State, c: &Comment) -> Value {
    let mut v = Spec::get().skeleton("issue-comment");
    v["id"] = json!(c.id);
    v["body"] = json!(c.body);
    v["issue_url"] = json!(format!("{}/issues/{}", state.base_url(), c.issue));
    v["html_url"] = json!(format!(
        "{}/pull/{}#issuecomment-{}",
        state.html_url(),
        c.issue,
        c.id
    ));
    v
}

fn list_comments(state: &State, query: &[(String, String)], n: &str) -> Answer {
    let Some(number) = n
        .parse::<u64>()
        .ok()
        .filter(|n| state.pulls.iter().any(|p| p.number == *n))
    else {
        return not_found("issues/comments#list-issue-comments");
    };
    let items: Vec<Value> = state
        .comments
        .iter()
        .filter(|c| c.issue == number)
        .map(|c| comment_json(state, c))
        .collect();
    state.page(&format!("/issues/{number}/comments"), query, items)
}

fn create_comment(state: &mut State, n: &str, body: &Value) -> Answer {
    let Some(number) = n
        .parse::<u64>()
        .ok()
        .filter(|n| state.pulls.iter().any(|p| p.number == *n))
    else {
        return not_found("issues/comments#create-an-issue-comment");
    };
    state.next_id += 1;
    let comment = Comment {
        id: state.next_id,
        issue: number,
        body: body["body"].as_str().unwrap_or("").to_owned(),
    };
    let json = comment_json(state, &comment);
    state.comments.push(comment);
    Answer::json(201, json)
}

fn add_labels(state: &mut State, n: &str, body: &Value) -> Answer {
    let Some(number) = n
        .parse::<u64>()
        .ok()
        .filter(|n| state.pulls.iter().any(|p| p.number == *n))
    else {
        return not_found("issues/labels#add-labels-to-an-issue");
    };
    let names: Vec<String> = body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_owned))
        .collect();
    let pull = state
        .pulls
        .iter_mut()
        .find(|p| p.number == number)
        .expect("present");
    for name in names {
        if !pull.labels.contains(&name) {
            pull.labels.push(name);
        }
    }
    let labels: Vec<Value> = pull.labels.iter().map(|l| label_json(l)).collect();
    Answer::json(200, json!(labels))
}
