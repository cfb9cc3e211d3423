//! Faults and rate limits through the library entry point with a virtual clock: the waits the
//! client would take are recorded, not slept. Each case asserts the outcome (or the documented
//! exit code), the requests the fake received, and that there is never a second PR.

use std::sync::Arc;
use std::time::Duration;

use enlist::exit;
use enlist::forge::ForgeError;
use enlist::register::planner::Outcome;
use enlist::register::{RegisterError, Report};
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::{FakeGitHub, FaultKind};
use enlist_e2e::node::Node;
use serde_json::{Value, json};

use crate::{exit_code, fake, fault, fresh, status};

const DELL: &str = "node-faf6ca";

async fn run(node: &Node) -> (Result<Report, RegisterError>, Arc<VirtualClock>) {
    let clock = Arc::new(VirtualClock::new());
    let result = node.run_lib(clock.clone()).await;
    (result, clock)
}

fn one_pr(github: &FakeGitHub) {
    let s = github.state();
    assert_eq!(s.pulls.len(), 1, "exactly one PR: {:?}", s.lines());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_5xx_burst_is_retried_with_backoff() {
    let github = fake().await;
    github
        .state()
        .faults
        .push(fault("GET", "/contents/", 2, status(500, Value::Null, &[])));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let s = github.state();
    let contents_reads = s
        .requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/contents/"))
        .count();
    assert_eq!(contents_reads, 3);
    assert_eq!(s.pulls.len(), 1);
    drop(s);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(
        sleeps[1] >= sleeps[0] && sleeps[1] <= Duration::from_secs(4),
        "exponential, capped: {sleeps:?}"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_5xx_exits_75_without_writing() {
    let github = fake().await;
    github
        .state()
        .faults
        .push(fault("GET", "/pulls", 100, status(502, Value::Null, &[])));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert!(
        matches!(
            result,
            Err(RegisterError::Forge(ForgeError::Server { status: 502, .. }))
        ),
        "{result:?}"
    );
    assert_eq!(exit_code(&result), exit::TEMPFAIL);
    assert!(github.state().writes().is_empty());
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_waits_through_a_starting_network() {
    let github = fake().await;
    github.state().faults.push(fault(
        "GET",
        "/repos/acme/fleet",
        3,
        status(503, Value::Null, &[]),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("readiness_timeout_secs", "60");
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    assert_eq!(clock.sleeps().len(), 3);
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_api_exits_69_after_the_readiness_timeout() {
    // Nothing listens on port 9 (discard) on loopback here.
    let node = Node::with_api("dell-r640", "http://127.0.0.1:9");
    let (result, clock) = run(&node).await;
    assert_eq!(exit_code(&result), exit::UNAVAILABLE, "{result:?}");
    // readiness_timeout_secs is 5 in the node config: capped exponential backoff within it.
    let slept = clock.slept();
    assert!(
        slept <= Duration::from_secs(5) && slept >= Duration::from_secs(1),
        "{:?}",
        clock.sleeps()
    );
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_before_the_release_waits_for_time_sync_then_exits_69() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let clock = Arc::new(VirtualClock::at(
        std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800),
    ));
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(
            result,
            Err(RegisterError::NotReady(
                enlist::register::readiness::NotReady::ClockNotSynced { .. }
            ))
        ),
        "{result:?}"
    );
    assert_eq!(exit_code(&result), exit::UNAVAILABLE);
    assert!(
        github.state().requests.is_empty(),
        "no TLS attempt with a wrong clock"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_pr_creation_is_adopted_not_repeated() {
    let github = fake().await;
    // The PR is created, but the client sees a 502.
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        FaultKind::ApplyThenStatus(502),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    let report = result.unwrap();
    assert_eq!(report.outcome, Some(Outcome::PrOpened));
    assert_eq!(
        report.pr_url.as_deref(),
        Some("https://github.com/acme/fleet/pull/1")
    );
    let s = github.state();
    let posts = s
        .requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pulls"))
        .count();
    assert_eq!(
        posts,
        1,
        "re-listed instead of posting again: {:?}",
        s.lines()
    );
    assert_eq!(s.pulls.len(), 1);
    assert!(s.comments.is_empty(), "no comment on our own new PR");
    drop(s);
    assert_eq!(node.marker().unwrap()["pr_number"], 1);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_commit_is_rechecked_before_writing_again() {
    let github = fake().await;
    github.state().faults.push(fault(
        "PUT",
        "/contents/",
        1,
        FaultKind::ApplyThenStatus(500),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let s = github.state();
    let puts = s.requests.iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1, "the file was there on re-read: {:?}", s.lines());
    assert_eq!(s.pulls.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_branch_creation_is_retried_safely() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/git/refs",
        1,
        FaultKind::ApplyThenStatus(502),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let s = github.state();
    let refs: Vec<u16> = s
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/git/refs"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        refs,
        [502, 422],
        "the retry found the branch: 422 Reference already exists, adopted"
    );
    assert_eq!(s.pulls.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_comment_is_not_duplicated() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    node.reinstall();
    github.state().faults.push(fault(
        "POST",
        "/comments",
        1,
        FaultKind::ApplyThenStatus(500),
    ));
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrInFlight));
    assert_eq!(github.state().comments.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn secondary_limit_with_retry_after_is_honoured() {
    let github = fake().await;
    let body = json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"});
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        status(403, body, &[("retry-after", "30")]),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(
        // retry-after plus up to a quarter of it (jitter spreads a fleet limited together).
        sleeps[0] >= Duration::from_secs(30) && sleeps[0] <= Duration::from_millis(37_500),
        "{sleeps:?}"
    );
    one_pr(&github);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn secondary_limit_without_headers_waits_at_least_a_minute() {
    let github = fake().await;
    let body = json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."});
    github.state().faults.push(fault(
        "PUT",
        "/contents/",
        1,
        status(403, body, &[("x-ratelimit-remaining", "4980")]),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    assert!(
        clock.sleeps()[0] >= Duration::from_secs(60),
        "{:?}",
        clock.sleeps()
    );
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_requests_429_is_a_rate_limit() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/git/refs",
        1,
        status(
            429,
            json!({"message": "Too Many Requests"}),
            &[("retry-after", "5")],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    assert!(clock.sleeps()[0] >= Duration::from_secs(5));
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn primary_limit_waits_until_the_reset() {
    let github = fake().await;
    let clock = Arc::new(VirtualClock::new());
    let now = enlist::clock::Clock::now(clock.as_ref())
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = (now + 120).to_string();
    github.state().faults.push(fault(
        "GET",
        "/git/ref/heads/main",
        1,
        status(
            403,
            json!({"message": "API rate limit exceeded for user ID 1."}),
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let result = node.run_lib(clock.clone()).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let wait = clock.sleeps()[0];
    assert!(
        wait >= Duration::from_secs(121) && wait <= Duration::from_secs(134),
        "{wait:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_beyond_the_budget_exits_75_without_a_pr() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        status(
            429,
            json!({"message": "slow down"}),
            &[("retry-after", "3600")],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert!(
        matches!(
            result,
            Err(RegisterError::Forge(ForgeError::RateLimited { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(exit_code(&result), exit::TEMPFAIL);
    assert!(
        clock.sleeps().is_empty(),
        "no point waiting an hour inside one run"
    );
    assert!(github.state().pulls.is_empty());
    assert!(node.marker().is_none(), "no marker without a PR");
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_403_exits_77() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/git/refs",
        1,
        status(403, json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference"}), &[("x-ratelimit-remaining", "4999")]),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(exit_code(&result), exit::NOPERM, "{result:?}");
    assert!(clock.sleeps().is_empty());
    assert!(github.state().pulls.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unexpected_422_exits_76_and_never_opens_a_second_pr() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        status(422, json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "base branch is protected in a way we do not model"}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}), &[]),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert_eq!(exit_code(&result), exit::PROTOCOL, "{result:?}");
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("base branch is protected")
    );
    assert!(github.state().pulls.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_timeout_is_retried() {
    let github = fake().await;
    github.state().faults.push(fault(
        "GET",
        "/pulls",
        1,
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("request_timeout_secs", "1");
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn write_that_times_out_but_happened_is_adopted() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        FaultKind::ApplyThenDelay(Duration::from_secs(3)),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("request_timeout_secs", "1");
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn library_logs_never_contain_the_token() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert!(result.is_ok());
    let lines = enlist_e2e::logs::lines();
    assert!(!lines.is_empty());
    for line in lines {
        enlist_e2e::node::assert_no_token(&line);
    }
    assert_eq!(github.state().lines(), fresh(DELL));
}

#[tokio::test(flavor = "multi_thread")]
async fn adopted_pr_still_gets_the_configured_labels() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        FaultKind::ApplyThenStatus(502),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("labels", "[registration]");
    let (result, _) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let s = github.state();
    assert_eq!(s.pulls.len(), 1);
    assert_eq!(s.pulls[0].labels, ["registration"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_zero_does_not_hammer() {
    let github = fake().await;
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        3,
        status(
            403,
            json!({"message": "You have exceeded a secondary rate limit."}),
            &[("retry-after", "0")],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3, "{sleeps:?}");
    assert!(sleeps[0] >= Duration::from_secs(1), "{sleeps:?}");
    assert!(
        sleeps[1] >= Duration::from_secs(60) && sleeps[2] >= Duration::from_secs(60),
        "{sleeps:?}"
    );
    one_pr(&github);
}

#[tokio::test(flavor = "multi_thread")]
async fn conflict_that_is_not_a_stale_sha_stops_at_once() {
    let github = fake().await;
    github.state().faults.push(fault(
        "PUT",
        "/contents/",
        100,
        status(409, json!({"message": "Repository rule violations found", "documentation_url": "https://docs.github.com/rest"}), &[]),
    ));
    let node = Node::new("dell-r640", &github);
    let (result, _) = run(&node).await;
    assert_eq!(exit_code(&result), exit::PROTOCOL, "{result:?}");
    assert_eq!(
        github
            .state()
            .requests
            .iter()
            .filter(|r| r.method == "PUT")
            .count(),
        1
    );
    assert!(github.state().pulls.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn start_jitter_does_not_eat_the_run_deadline() {
    // The deadline starts after the start jitter: a run that waited most of run_timeout_secs
    // before its first request still has all of it for GitHub (here: a rate-limit wait). With
    // the jitter inside the deadline, runs started apart would still all end together.
    let github = fake().await;
    let body = json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."});
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/pulls",
        1,
        status(403, body, &[("retry-after", "420")]),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("start_jitter_secs", "599");
    node.set("run_timeout_secs", "600");
    let (result, clock) = run(&node).await;
    let sleeps = clock.sleeps();
    assert_eq!(
        sleeps.len(),
        2,
        "the jitter, then the rate-limit wait: {sleeps:?}"
    );
    assert!(
        sleeps[0] + sleeps[1] > Duration::from_secs(600),
        "the seeded jitter is long enough that jitter + wait exceed run_timeout_secs: {sleeps:?}"
    );
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    one_pr(&github);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn start_jitter_does_not_eat_the_readiness_budget() {
    let github = fake().await;
    github.state().faults.push(fault(
        "GET",
        "/repos/acme/fleet",
        1,
        status(502, Value::Null, &[]),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("start_jitter_secs", "600");
    node.set("readiness_timeout_secs", "30");
    let (result, clock) = run(&node).await;
    assert_eq!(result.unwrap().outcome, Some(Outcome::PrOpened));
    assert!(
        clock.sleeps().len() >= 2,
        "jitter, then one readiness retry: {:?}",
        clock.sleeps()
    );
    one_pr(&github);
}
