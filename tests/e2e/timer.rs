//! Until it is final (issue 19): the runs `enlist.timer` makes — a pending node learns of the
//! merge without a reboot, a final marker costs nothing — and the back-off that spaces unattended
//! attempts out while GitHub stays unreachable or rate-limited. (The real timer under systemd is
//! in `boot.rs`.)

use std::sync::Arc;
use std::time::Duration;

use enlist::clock::Clock;
use enlist::register::planner::Outcome;
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::{Fault, FaultKind, REQUIRED_CHECK};
use enlist_e2e::node::Node;
use serde_json::Value;

use crate::{exit_code, fake, pending, without_shas};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread")]
async fn timer_runs_see_the_merge_without_a_reboot_then_cost_nothing() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    // The timer's runs in the same boot while CI runs: the PR and its checks, nothing written.
    for _ in 0..2 {
        github.state().requests.clear();
        assert_eq!(node.run(&[]).code, Some(0));
        let s = github.state();
        assert_eq!(without_shas(&s.lines()), pending(1));
        assert!(s.writes().is_empty());
    }
    // CI passes, GitHub merges; the next timer run (same boot) records it.
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    assert!(
        run.stderr.contains("[registration.completed]"),
        "{}",
        run.stderr
    );
    // From then on the timer's runs make no request at all.
    github.state().requests.clear();
    for _ in 0..3 {
        assert_eq!(node.run(&[]).code, Some(0));
    }
    assert!(github.state().requests.is_empty());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_github_spaces_unattended_attempts_out_and_a_success_forgets_it() {
    let github = fake().await;
    // GitHub never answers the probe (503 before any answer: readiness, then 69).
    github.state().faults.push(Fault {
        method: "GET".into(),
        path_contains: "/repos/acme/fleet".into(),
        times: 10_000,
        kind: FaultKind::Status {
            status: 503,
            body: Value::Null,
            headers: vec![],
        },
    });
    let node = Node::new("dell-r640", &github);
    let clock = Arc::new(VirtualClock::new());
    // The boot run and the unit's two restarts: each tries (and fails with 69).
    for n in 1..=3 {
        let result = node.run_lib(clock.clone()).await;
        assert_eq!(exit_code(&result), 69, "{result:?}");
        assert_eq!(node.attempts().unwrap()["failures"], n);
        clock.sleep(Duration::from_secs(300)).await;
    }
    // The timer an hour after the third failure minus a bit: held back, no request.
    let before = github.state().requests.len();
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::BackingOff)),
        "{result:?}"
    );
    assert_eq!(
        github.state().requests.len(),
        before,
        "no request while held back"
    );
    // An hour (plus its jitter, up to a quarter) after the failure: it tries again (and fails:
    // the gap doubles to 2 h).
    clock.sleep(HOUR + HOUR / 4).await;
    let result = node.run_lib(clock.clone()).await;
    assert_eq!(exit_code(&result), 69);
    assert!(github.state().requests.len() > before);
    let a = node.attempts().unwrap();
    assert_eq!(a["failures"], 4);
    clock.sleep(HOUR + Duration::from_secs(60)).await;
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::BackingOff)),
        "1 h after the 4th failure it still waits (2 h and up to 30 min): {result:?}"
    );
    let status = node.status(&[]);
    assert!(
        status
            .stdout
            .contains("4 transient failure(s) in a row this boot"),
        "{}",
        status.stdout
    );
    // GitHub is back: the next attempt after the gap registers, and forgets the failures.
    github.state().faults.clear();
    clock.sleep(HOUR + HOUR / 2).await;
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::PrOpened)),
        "{result:?}"
    );
    assert_eq!(node.attempts(), None);
    assert_eq!(github.state().pulls.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_at_a_terminal_or_a_reboot_is_never_held_back() {
    let github = fake().await;
    github.state().faults.push(Fault {
        method: "GET".into(),
        path_contains: "/repos/acme/fleet".into(),
        times: 10_000,
        kind: FaultKind::Status {
            status: 503,
            body: Value::Null,
            headers: vec![],
        },
    });
    let mut node = Node::new("dell-r640", &github);
    node.set("readiness_timeout_secs", "1");
    // The boot run and the unit's two restarts, through the binary (the real clock).
    for _ in 0..3 {
        assert_eq!(node.run(&[]).code, Some(69));
    }
    assert_eq!(node.attempts().unwrap()["failures"], 3);
    // The binary (stderr not a terminal, like the unit): held back, exit 0, no request.
    let before = github.state().requests.len();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("not asked again before"),
        "{}",
        run.stderr
    );
    assert_eq!(github.state().requests.len(), before);
    // A person at a terminal tries now (and fails: GitHub is still down), unlike the unit.
    let clock = Arc::new(enlist::clock::SystemClock::default());
    let result = node.run_lib_attended(clock).await;
    assert_eq!(
        result
            .as_ref()
            .map_or_else(enlist::exit::of_register, |_| 0),
        69
    );
    assert!(github.state().requests.len() > before);
    // A new boot starts afresh: it tries.
    node.reboot();
    github.state().faults.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().pulls.len(), 1);
    assert_eq!(node.attempts(), None);
}

/// A failure a retry repeats (SPEC §2: every exit but 69/73/75 is final until the next boot): the
/// timer's runs in the same boot ask GitHub nothing, say why and what to do; a person at a
/// terminal, a changed configuration or a reboot tries again.
async fn final_failure_is_not_repeated_by_the_timer(
    fault: Fault,
    exit: i32,
    (kind, next_says): (&str, &str),
    change: impl Fn(&mut Node),
) {
    let github = fake().await;
    github.state().faults.push(fault.clone());
    let mut node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(exit), "{}", run.stderr);
    let failing = format!("{} {}", fault.method, fault.path_contains);
    let tried = |github: &enlist_e2e::fake::FakeGitHub| {
        github
            .state()
            .lines()
            .iter()
            .filter(|l| l.starts_with(&failing))
            .count()
    };
    assert_eq!(tried(&github), 1, "{:?}", github.state().lines());
    let a = node.attempts().expect("attempts.json");
    assert_eq!(a["kind"], kind, "{a}");
    assert_eq!(a["last_exit"], exit);
    // The timer's runs in this boot: exit 0 at once, no request, the reason and the way out.
    for _ in 0..3 {
        github.state().requests.clear();
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            github.state().requests.is_empty(),
            "{:?}",
            github.state().lines()
        );
        assert!(run.stderr.contains("not asking GitHub"), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("exited {exit}")) && run.stderr.contains("reboot"),
            "{}",
            run.stderr
        );
    }
    // `enlist status` (and --json) say what happened and what to do.
    let status = node.status(&["--json"]);
    let json: Value = serde_json::from_str(&status.stdout).expect("status --json");
    assert_eq!(json["state"], "unregistered");
    assert_eq!(json["attempts"]["last_exit"], exit);
    assert!(json["next"].as_str().unwrap().contains(next_says), "{json}");
    let human = node.status(&[]);
    assert!(
        human
            .stdout
            .contains(&format!("last attempt: exited {exit}")),
        "{}",
        human.stdout
    );
    // A person at a terminal is never held back (and fails the same way).
    github.state().requests.clear();
    let result = node
        .run_lib_attended(Arc::new(enlist::clock::SystemClock::default()))
        .await;
    assert_eq!(
        result
            .as_ref()
            .map_or_else(enlist::exit::of_register, |_| 0),
        exit as u8
    );
    assert_eq!(tried(&github), 1);
    // Changed inputs (configuration or facts): the next unattended run tries.
    change(&mut node);
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(exit));
    assert_eq!(tried(&github), 1);
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0), "held again for the new inputs");
    assert!(github.state().requests.is_empty());
    // Fixed on GitHub's side; the next boot registers and forgets the failure.
    github.state().faults.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().open_pulls().len(), 1);
    assert_eq!(node.attempts(), None);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn unexpected_422_on_opening_the_pr_is_not_repeated_hourly() {
    let fault = Fault {
        method: "POST".into(),
        path_contains: "/repos/acme/fleet/pulls".into(),
        times: 10_000,
        kind: FaultKind::Status {
            status: 422,
            body: serde_json::json!({
                "message": "Validation Failed",
                "errors": [{"resource": "PullRequest", "code": "custom", "message": "a rule this client does not know"}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            }),
            headers: vec![],
        },
    };
    // A changed configuration.
    final_failure_is_not_repeated_by_the_timer(fault, 76, ("final", "Fix the cause"), |node| {
        node.set("readiness_timeout_secs", "6")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ruleset_403_on_creating_the_branch_is_not_repeated_hourly() {
    let fault = Fault {
        method: "POST".into(),
        path_contains: "/repos/acme/fleet/git/refs".into(),
        times: 10_000,
        kind: FaultKind::Status {
            status: 403,
            body: serde_json::json!({
                "message": "Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n",
                "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference",
            }),
            headers: vec![],
        },
    };
    // A fix on GitHub's side (the ruleset, the token's rights): held, then tried again about a
    // day later without a reboot (standing.rs); changed facts (the hostname) try at once.
    final_failure_is_not_repeated_by_the_timer(fault, 77, ("on_github", "GitHub's side"), |node| {
        node.set_hostname("r640-a2")
    })
    .await;
}
