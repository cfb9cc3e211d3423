//! The fault matrix: every GitHub call of a fresh registration — auto-merge's GraphQL mutation
//! included — × every fault class, with the documented exit code for each cell, and never a
//! second PR. In GitHub App mode the three token calls (installation lookup, mint, revoke) get
//! the same treatment. Then GitHub's GraphQL answers to the mutation: each refusal, a GraphQL
//! rate limit, a permission error. Runs through the library entry
//! point with a virtual clock (waits are recorded, not slept); timeouts and connection resets are
//! real (2 s request timeout, TCP RST from the fake's proxy). Cells run concurrently, 8 at a time.

use std::sync::Arc;
use std::time::Duration;

use enlist::exit;
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::{FakeGitHub, Fault, FaultKind};
use enlist_e2e::node::Node;
use serde_json::{Value, json};

/// (name, method, path fragment) in the order a fresh registration makes them.
const CALLS: [(&str, &str, &str); 8] = [
    ("read repository (probe)", "GET", "/repos/acme/fleet"),
    ("read base ref", "GET", "/git/ref/heads/main"),
    ("read upstream node.yaml", "GET", "/contents/"),
    ("list PRs", "GET", "/repos/acme/fleet/pulls"),
    ("create branch", "POST", "/git/refs"),
    ("commit node.yaml", "PUT", "/contents/"),
    ("open PR", "POST", "/repos/acme/fleet/pulls"),
    ("turn on auto-merge (GraphQL)", "POST", "/graphql"),
];

/// Cells in flight at once (see the test).
const MAX_CONCURRENT_CELLS: usize = 8;

/// The GitHub App's token calls, in App mode: before the first repository request, and after the
/// last.
const APP_CALLS: [(&str, &str, &str); 3] = [
    (
        "App installation lookup (probe)",
        "GET",
        "/repos/acme/fleet/installation",
    ),
    ("App token mint", "POST", "/access_tokens"),
    ("App token revoke", "DELETE", "/installation/token"),
];

/// The mutation's index in [`CALLS`]: when it fails, the PR it was for is already open.
const MUTATION: usize = 7;

#[derive(Clone, Copy, Debug)]
enum Class {
    Timeout,
    TimeoutAfterApply,
    ResetBefore,
    ResetAfterApply,
    Status500,
    Status502,
    Status503,
    Persistent500,
    TooMany429,
    Secondary403,
    Unauthorized401,
    NotFound404,
    Unexpected422,
}

const CLASSES: [Class; 13] = [
    Class::Timeout,
    Class::TimeoutAfterApply,
    Class::ResetBefore,
    Class::ResetAfterApply,
    Class::Status500,
    Class::Status502,
    Class::Status503,
    Class::Persistent500,
    Class::TooMany429,
    Class::Secondary403,
    Class::Unauthorized401,
    Class::NotFound404,
    Class::Unexpected422,
];

fn fault(class: Class, method: &str, path: &str) -> Fault {
    let status = |code: u16, body: Value, headers: &[(&str, &str)]| FaultKind::Status {
        status: code,
        body,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    };
    let (times, kind) = match class {
        Class::Timeout => (1, FaultKind::Delay(Duration::from_secs(5))),
        Class::TimeoutAfterApply => (1, FaultKind::ApplyThenDelay(Duration::from_secs(5))),
        Class::ResetBefore => (1, FaultKind::Reset),
        Class::ResetAfterApply => (1, FaultKind::ApplyThenReset),
        Class::Status500 => (1, status(500, Value::Null, &[])),
        Class::Status502 => (1, status(502, Value::Null, &[])),
        Class::Status503 => (1, status(503, Value::Null, &[])),
        Class::Persistent500 => (1000, status(500, Value::Null, &[])),
        Class::TooMany429 => (
            1,
            status(
                429,
                json!({"message": "Too Many Requests"}),
                &[("retry-after", "7")],
            ),
        ),
        Class::Secondary403 => (
            1,
            status(
                403,
                json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
                &[],
            ),
        ),
        Class::Unauthorized401 => (
            1,
            status(
                401,
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
                &[],
            ),
        ),
        Class::NotFound404 => (
            1,
            status(
                404,
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
                &[],
            ),
        ),
        Class::Unexpected422 => (
            1,
            status(
                422,
                json!({"message": "Validation Failed", "errors": [{"resource": "Test", "code": "custom", "message": "a rule this client does not know"}], "documentation_url": "https://docs.github.com/rest"}),
                &[],
            ),
        ),
    };
    Fault {
        method: method.into(),
        path_contains: path.into(),
        times,
        kind,
    }
}

/// The documented exit code of each cell.
fn expected(call: usize, class: Class) -> u8 {
    let write = call >= 4;
    match class {
        // Transient: retried (reads, and writes after re-checking state) → registered.
        Class::Timeout
        | Class::TimeoutAfterApply
        | Class::ResetBefore
        | Class::ResetAfterApply
        | Class::Status500
        | Class::Status502
        | Class::Status503
        | Class::TooMany429
        | Class::Secondary403 => exit::OK,
        // Before GitHub ever answered it is readiness (69); later, temporary (75).
        Class::Persistent500 if call == 0 => exit::UNAVAILABLE,
        Class::Persistent500 => exit::TEMPFAIL,
        Class::Unauthorized401 => exit::NOPERM,
        // Repository or base branch missing: configuration. A missing upstream file is the
        // normal "not registered yet". Elsewhere a 404 is not an answer enlist expects.
        Class::NotFound404 if call <= 1 => exit::CONFIG,
        Class::NotFound404 if call == 2 => exit::OK,
        // Auto-merge is optional once the PR exists: an answer enlist does not expect is a
        // refusal recorded in the marker, never a failure.
        Class::NotFound404 | Class::Unexpected422 if call == MUTATION => exit::OK,
        Class::NotFound404 => exit::PROTOCOL,
        Class::Unexpected422 => {
            let _ = write;
            exit::PROTOCOL
        }
    }
}

/// The documented exit code of each App cell.
fn expected_app(call: usize, class: Class) -> u8 {
    match (call, class) {
        // Revoking is best effort at the end of a registration that succeeded: never an error.
        (2, _) => exit::OK,
        (
            _,
            Class::Timeout
            | Class::TimeoutAfterApply
            | Class::ResetBefore
            | Class::ResetAfterApply
            | Class::Status500
            | Class::Status502
            | Class::Status503
            | Class::TooMany429
            | Class::Secondary403,
        ) => exit::OK,
        (0, Class::Persistent500) => exit::UNAVAILABLE,
        (_, Class::Persistent500) => exit::TEMPFAIL,
        // The JWT rejected: App id, key or clock.
        (_, Class::Unauthorized401) => exit::NOPERM,
        // Not installed on the repository / the installation is gone.
        (_, Class::NotFound404) => exit::CONFIG,
        // Minting refused (permissions); a 422 on the lookup is nothing GitHub documents.
        (1, Class::Unexpected422) => exit::NOPERM,
        (_, Class::Unexpected422) => exit::PROTOCOL,
    }
}

async fn cell(call: usize, class: Class, app: bool) -> Result<(), String> {
    let (name, method, path) = if app { APP_CALLS[call] } else { CALLS[call] };
    let github = FakeGitHub::start().await;
    github.state().faults.push(fault(class, method, path));
    let mut node = Node::new("dell-r640", &github);
    node.set("request_timeout_secs", "2");
    let clock = Arc::new(VirtualClock::new());
    if app {
        github.with_app();
        node.use_app("app-key.pkcs1.pem");
        // The fake checks the JWT's iat/exp against the client's (virtual) time.
        github.state().app.as_mut().expect("app").clock =
            Some(clock.clone() as Arc<dyn enlist::clock::Clock>);
    }
    let result = node.run_lib(clock).await;
    let code = crate::exit_code(&result);
    let want = if app {
        expected_app(call, class)
    } else {
        expected(call, class)
    };
    let s = github.state();
    let prs = s.pulls.len();
    let mut problems = Vec::new();
    if code != want {
        problems.push(format!("exit {code}, documented {want} ({result:?})"));
    }
    if prs > 1 {
        problems.push(format!("{prs} PRs"));
    }
    let mutations = s.lines().iter().filter(|l| *l == "POST /graphql").count();
    if mutations > 3 {
        problems.push(format!("{mutations} mutations"));
    }
    let marker = node.marker();
    if code == exit::OK {
        if prs != 1 {
            problems.push(format!("exit 0 but {prs} PRs: {:?}", s.lines()));
        }
        if marker.as_ref().map(|m| m["state"].clone()) != Some(json!("pending")) {
            problems.push(format!("exit 0 but marker {marker:?}"));
        }
        let refused =
            !app && call == MUTATION && matches!(class, Class::NotFound404 | Class::Unexpected422);
        if refused {
            // GitHub's "no" to the optional step: recorded, the PR waits for a review.
            if marker.as_ref().map(|m| m["auto_merge"]["state"].clone()) != Some(json!("refused")) {
                problems.push(format!("refusal not recorded: {marker:?}"));
            }
        } else {
            // Whatever went wrong on the way, auto-merge ended up on, by one effective mutation.
            if s.pulls.first().and_then(|p| p.auto_merge.as_deref()) != Some("squash") {
                problems.push("exit 0 but auto-merge is off".into());
            }
            if marker.as_ref().map(|m| m["auto_merge"]["state"].clone()) != Some(json!("enabled")) {
                problems.push(format!("exit 0 but marker {marker:?}"));
            }
        }
    } else {
        // A failed mutation leaves the PR it was for; nothing else leaves one.
        let left = usize::from(!app && call == MUTATION);
        if prs != left {
            problems.push(format!("failed run left {prs} PR(s)"));
        }
        // Once the PR exists the marker says pending before the optional mutation; before it,
        // a failed run writes none.
        let pending = marker.as_ref().map(|m| m["state"].clone()) == Some(json!("pending"));
        if left == 1 && !pending {
            problems.push(format!("failed run after the PR left marker {marker:?}"));
        }
        if left == 0 && marker.is_some() {
            problems.push("failed run wrote a marker".into());
        }
    }
    if !s.violations.is_empty() {
        problems.push(format!("contract: {:?}", s.violations));
    }
    if let Some(app) = s.app.as_ref() {
        let deletes = s.lines().iter().filter(|l| l.starts_with("DELETE")).count();
        if call == 2 {
            // One attempt, bounded by the request timeout: no retry, no rate-limit wait. (A
            // connection reset before the request leaves no trace in the fake, only in the fault.)
            let attempts = fault(class, method, path).times - s.faults[0].times;
            if attempts != 1 || deletes > 1 {
                problems.push(format!(
                    "{attempts} revoke attempts, {deletes} received: {:?}",
                    s.lines()
                ));
            }
        } else if let Some(last) = app.tokens.last() {
            // Every token the run learnt is revoked, success or failure.
            if !last.revoked {
                problems.push(format!("token not revoked: {:?}", s.lines()));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} × {class:?}: {}", problems.join("; ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_call_times_every_fault_gives_the_documented_exit_and_at_most_one_pr() {
    // Cells run concurrently, but not all at once: with a 2 s request timeout, a loaded 2-core
    // machine would otherwise time out requests no fault was injected into (and a single-attempt
    // revoke would then never reach the fake).
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_CELLS));
    let mut set = tokio::task::JoinSet::new();
    let cells_to_run = (0..CALLS.len())
        .map(|call| (call, false))
        .chain((0..APP_CALLS.len()).map(|call| (call, true)));
    for (call, app) in cells_to_run {
        for class in CLASSES {
            let permits = permits.clone();
            set.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore");
                cell(call, class, app).await
            });
        }
    }
    let mut failures = Vec::new();
    let mut cells = 0;
    while let Some(result) = set.join_next().await {
        cells += 1;
        if let Err(e) = result.expect("cell task") {
            failures.push(e);
        }
    }
    assert_eq!(cells, (CALLS.len() + APP_CALLS.len()) * CLASSES.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// GitHub's GraphQL error answer (HTTP 200) to the mutation.
fn graphql_error(kind: &str, message: &str) -> FaultKind {
    FaultKind::Status {
        status: 200,
        body: json!({
            "data": {"enablePullRequestAutoMerge": null},
            "errors": [{"type": kind, "path": ["enablePullRequestAutoMerge"], "locations": [{"line": 2, "column": 3}], "message": message}],
        }),
        headers: vec![],
    }
}

/// GitHub's answer when a query or mutation ran into trouble on its side (HTTP 200, an error
/// without a `type`): the mutation may or may not have been applied.
fn untyped_graphql_error() -> FaultKind {
    FaultKind::Status {
        status: 200,
        body: json!({
            "data": {"enablePullRequestAutoMerge": null},
            "errors": [{"message": "Something went wrong while executing your query. This may be the result of a timeout, or it could be a GitHub bug. Please include `0400:3F1A:8E2B1C:9A2F3D:6740A1B2` when reporting this issue."}],
        }),
        headers: vec![],
    }
}

/// `answer`, after the fake applied the mutation.
fn applied_then(answer: FaultKind) -> FaultKind {
    match answer {
        FaultKind::Status { status, body, .. } => FaultKind::ApplyThenAnswer { status, body },
        other => other,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graphql_answers_to_the_mutation_refusals_limits_and_permissions() {
    // (GitHub's answer, exit code, marker's auto-merge reason or state, mutations sent)
    let cases = [
        (
            graphql_error(
                "UNPROCESSABLE",
                "Pull request Auto merge is not allowed for this repository",
            ),
            exit::OK,
            "not_allowed",
            1,
        ),
        (
            graphql_error(
                "UNPROCESSABLE",
                "Pull request Protected branch rules not configured for this branch",
            ),
            exit::OK,
            "no_protection_rules",
            1,
        ),
        (
            graphql_error(
                "UNPROCESSABLE",
                "Pull request Pull request is in clean status",
            ),
            exit::OK,
            "clean_status",
            1,
        ),
        (
            graphql_error(
                "UNPROCESSABLE",
                "Pull request Pull request is in unstable status",
            ),
            exit::OK,
            "unstable_status",
            1,
        ),
        (
            graphql_error(
                "UNPROCESSABLE",
                "Can't enable auto-merge for this pull request",
            ),
            exit::OK,
            "refused",
            1,
        ),
        // Nothing was done: wait (≥ 60 s, virtual) and ask again.
        (
            graphql_error("RATE_LIMITED", "API rate limit exceeded for user ID 1."),
            exit::OK,
            "enabled",
            2,
        ),
        (
            graphql_error(
                "FORBIDDEN",
                "Resource not accessible by personal access token",
            ),
            exit::OK,
            "forbidden",
            1,
        ),
        // GitHub's errors that may come after the mutation was applied: ambiguous, like a 5xx.
        // Not applied: the PR (re-read first) shows auto-merge off, so it is asked again.
        (untyped_graphql_error(), exit::OK, "enabled", 2),
        (
            graphql_error("SERVICE_UNAVAILABLE", "Service unavailable"),
            exit::OK,
            "enabled",
            2,
        ),
        (
            graphql_error("TIMEOUT", "Timeout on the query"),
            exit::OK,
            "enabled",
            2,
        ),
        // Applied: the re-read PR shows auto-merge on; no second mutation.
        (
            applied_then(untyped_graphql_error()),
            exit::OK,
            "enabled",
            1,
        ),
        (
            applied_then(graphql_error("TIMEOUT", "Timeout on the query")),
            exit::OK,
            "enabled",
            1,
        ),
    ];
    for (kind, want, reason, mutations) in cases {
        let github = FakeGitHub::start().await;
        github.state().faults.push(Fault {
            method: "POST".into(),
            path_contains: "/graphql".into(),
            times: 1,
            kind: kind.clone(),
        });
        let node = Node::new("dell-r640", &github);
        let clock = Arc::new(VirtualClock::new());
        let result = node.run_lib(clock.clone()).await;
        let code = result.as_ref().map_or_else(exit::of_register, |_| exit::OK);
        assert_eq!(code, want, "{kind:?}: {result:?}");
        let s = github.state();
        assert_eq!(s.pulls.len(), 1);
        let lines = s.lines();
        let sent = lines.iter().filter(|l| *l == "POST /graphql").count();
        assert_eq!(sent, mutations, "{kind:?}: {lines:?}");
        // After an ambiguous answer the PR is read before anything else.
        let (FaultKind::Status { body, .. } | FaultKind::ApplyThenAnswer { body, .. }) = &kind
        else {
            unreachable!("every case is an answer")
        };
        let ambiguous = matches!(
            body["errors"][0].get("type").and_then(Value::as_str),
            None | Some("SERVICE_UNAVAILABLE" | "TIMEOUT")
        );
        if ambiguous {
            let first = lines
                .iter()
                .position(|l| l == "POST /graphql")
                .expect("mutation");
            assert_eq!(
                lines[first + 1],
                "GET /repos/acme/fleet/pulls/1",
                "{kind:?}: {lines:?}"
            );
        }
        drop(s);
        let marker = node.marker();
        if want == exit::OK {
            let am = &marker.as_ref().expect("marker")["auto_merge"];
            let got = am.get("reason").unwrap_or(&am["state"]);
            assert_eq!(got, reason, "{kind:?}: {marker:?}");
            assert!(
                github.state().open_pulls().len() == 1,
                "never merged directly"
            );
        } else {
            assert!(marker.is_none());
        }
        // The rate limit was waited out (≥ 60 s, virtual).
        if reason == "enabled" && !ambiguous {
            assert!(
                clock.slept() >= Duration::from_secs(60),
                "{:?}",
                clock.sleeps()
            );
        }
        assert!(
            github.state().violations.is_empty(),
            "{:?}",
            github.state().violations
        );
    }
}
