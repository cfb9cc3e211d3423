//! Across the finish line (issue 17): the node turns on GitHub auto-merge for its registration
//! PR with one GraphQL mutation (validated by the fake against GitHub's schema), GitHub (the fake)
//! merges once the required reconcile check is green, and pending runs read the checks and say
//! which one failed — through the real binary.

use enlist_e2e::fake::{Fault, FaultKind, REQUIRED_CHECK};
use enlist_e2e::node::Node;
use serde_json::{Value, json};

use crate::{AUTO_MERGE, events, fake, fresh, pending, without_shas};

const DELL: &str = "node-faf6ca";

#[tokio::test(flavor = "multi_thread")]
async fn green_check_merges_through_auto_merge_then_one_read_then_zero_requests() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        // ≤ 8 requests, ≤ 4 writes: the mutation is the one request auto-merge adds.
        assert_eq!(s.lines(), fresh(DELL));
        assert_eq!(s.writes().len(), 4);
        assert_eq!(s.graphql.len(), 1, "one mutation");
        let request = &s.graphql[0];
        assert!(
            request["query"]
                .as_str()
                .unwrap()
                .contains("enablePullRequestAutoMerge"),
            "{request}"
        );
        assert_eq!(request["variables"]["pullRequestId"], s.pulls[0].node_id());
        assert_eq!(request["variables"]["mergeMethod"], "SQUASH");
        assert_eq!(s.pulls[0].auto_merge.as_deref(), Some("squash"));
        assert_eq!(s.open_pulls().len(), 1, "enlist never merges itself");
        // No merge endpoint was ever called.
        assert!(!s.lines().iter().any(|l| l.ends_with("/merge")));
    }
    let marker = node.marker().unwrap();
    assert_eq!(marker["state"], "pending");
    assert_eq!(
        marker["auto_merge"],
        json!({"state": "enabled", "method": "squash"})
    );

    // CI runs reconcile on the PR and it passes: GitHub (the fake) merges.
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    {
        let s = github.state();
        assert!(s.pulls[0].merged, "auto-merge merged the green PR");
        assert!(
            s.file("main", &format!("cluster-nodes/{DELL}/node.yaml"))
                .is_some()
        );
    }
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    github.state().requests.clear();
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert!(github.state().requests.is_empty(), "registered: 0 requests");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn red_check_keeps_the_pr_open_and_status_names_the_failing_check() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().set_check_titled(
        1,
        REQUIRED_CHECK,
        Some("failure"),
        Some("1 duplicate identity"),
    );
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        // The PR and its check runs (there are some: no combined status): 2 reads, 0 writes.
        assert_eq!(without_shas(&s.lines()), pending(1)[..2].to_vec());
        assert!(s.writes().is_empty());
        assert_eq!(s.open_pulls().len(), 1, "no merge on red");
    }
    assert!(
        events(&run.stderr).contains(&"registration.checks_failed"),
        "{}",
        run.stderr
    );
    assert_eq!(node.marker().unwrap()["state"], "pending");

    let status = node.status(&["--json"]);
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    let json: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["checks"]["state"], "failed");
    assert_eq!(json["checks"]["checks"][0]["name"], REQUIRED_CHECK);
    assert_eq!(json["checks"]["checks"][0]["conclusion"], "failure");
    assert_eq!(json["checks"]["checks"][0]["title"], "1 duplicate identity");
    let url = json["checks"]["checks"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("https://github.com/acme/fleet/actions/runs/"),
        "{url}"
    );
    let human = node.status(&[]);
    assert!(
        human
            .stdout
            .contains(&format!("the {REQUIRED_CHECK} check failed: open {url}")),
        "{}",
        human.stdout
    );

    // The next run sees the same red check: 2 reads, and no event (nothing changed).
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().requests.len(), 2);
    assert!(
        !events(&run.stderr).contains(&"registration.checks_failed"),
        "{}",
        run.stderr
    );

    // Fixed upstream (the inventory): the check is re-run green and GitHub merges.
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_statuses_are_read_only_without_check_runs() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().set_status(1, "ci/reconcile", "error");
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(without_shas(&github.state().lines()), pending(1));
    let marker = node.marker().unwrap();
    assert_eq!(marker["checks"]["source"], "statuses");
    assert_eq!(marker["checks"]["state"], "failed");
    assert_eq!(marker["checks"]["checks"][0]["name"], "ci/reconcile");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_leave_the_pr_open_with_a_warning_naming_the_setting() {
    for (arrange, reason, says) in [
        (
            (|s: &mut enlist_e2e::fake::State| s.allow_auto_merge = false)
                as fn(&mut enlist_e2e::fake::State),
            "not_allowed",
            "Allow auto-merge",
        ),
        (
            |s: &mut enlist_e2e::fake::State| s.required_checks.clear(),
            "no_protection_rules",
            "require the reconcile check",
        ),
    ] {
        let github = fake().await;
        arrange(&mut github.state());
        let mut node = Node::new("dell-r640", &github);
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{reason}: {}", run.stderr);
        assert!(run.stderr.contains("warning"), "{}", run.stderr);
        assert!(run.stderr.contains(says), "{reason}: {}", run.stderr);
        let marker = node.marker().unwrap();
        assert_eq!(marker["state"], "pending");
        assert_eq!(marker["auto_merge"]["state"], "refused");
        assert_eq!(marker["auto_merge"]["reason"], reason);
        {
            let s = github.state();
            assert_eq!(
                s.writes().len(),
                4,
                "one attempt, never repeated in the run"
            );
            assert_eq!(s.pulls[0].auto_merge, None);
        }
        // A green check does not merge: nothing turned auto-merge on, and enlist never merges.
        github.state().set_check(1, REQUIRED_CHECK, Some("success"));
        assert_eq!(github.state().open_pulls().len(), 1, "{reason}: no merge");
        let human = node.status(&[]);
        assert!(
            human.stdout.contains("off: GitHub refused"),
            "{}",
            human.stdout
        );
        assert!(human.stdout.contains(says), "{}", human.stdout);
        // Pending runs in the same boot do not retry it (0 writes); a later boot asks once more
        // (the owner may have changed the setting), then not again in that boot.
        github.state().requests.clear();
        assert_eq!(node.run(&[]).code, Some(0));
        assert!(github.state().writes().is_empty());
        node.reboot();
        assert_eq!(node.run(&[]).code, Some(0));
        let writes: Vec<String> = github.state().writes().iter().map(|r| r.line()).collect();
        assert_eq!(writes, ["POST /graphql"], "{reason}");
        assert_eq!(node.marker().unwrap()["auto_merge"]["reason"], reason);
        github.state().requests.clear();
        assert_eq!(node.run(&[]).code, Some(0));
        assert!(github.state().writes().is_empty());
        github.assert_contract();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_update_waits_for_a_person_unless_auto_merge_updates() {
    for updates in [false, true] {
        let github = fake().await;
        let mut node = Node::new("dell-r640", &github);
        if updates {
            node.set("auto_merge_updates", "true");
        }
        assert_eq!(node.run(&[]).code, Some(0));
        github.state().set_check(1, REQUIRED_CHECK, Some("success"));
        node.reboot();
        assert_eq!(node.run(&[]).code, Some(0));
        assert_eq!(node.marker().unwrap()["state"], "registered");
        // A DIMM died (here: the hostname changed): an update PR.
        node.set_hostname("r640-a1-renamed");
        node.reboot();
        github.state().requests.clear();
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let s = github.state();
        let update = s.open_pulls()[0].clone();
        assert!(update.title.starts_with("Update "), "{}", update.title);
        assert!(update.body.starts_with("**This machine's facts changed**"));
        let mutations = s.lines().iter().filter(|l| *l == AUTO_MERGE).count();
        assert_eq!(mutations, usize::from(updates), "{:?}", s.lines());
        drop(s);
        let expected = if updates {
            json!({"state": "enabled", "method": "squash"})
        } else {
            json!({"state": "not_for_updates"})
        };
        assert_eq!(node.marker().unwrap()["auto_merge"], expected);
        github.assert_contract();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reinstalled_node_turns_on_auto_merge_for_its_open_pr_once() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    assert!(github.state().graphql.is_empty());
    node.unset("auto_merge");
    node.reinstall();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().graphql.len(), 1, "the adopted PR lacked it");
    assert_eq!(
        github.state().pulls[0].auto_merge.as_deref(),
        Some("squash")
    );
    node.reinstall();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(
        github.state().graphql.len(),
        1,
        "already on: not asked again"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn mutation_that_landed_before_a_502_is_read_back_not_repeated() {
    for (kind, mutations) in [
        (FaultKind::ApplyThenStatus(502), 1),
        (
            FaultKind::Status {
                status: 502,
                body: Value::Null,
                headers: vec![],
            },
            2,
        ),
    ] {
        let github = fake().await;
        github.state().faults.push(Fault {
            method: "POST".into(),
            path_contains: "/graphql".into(),
            times: 1,
            kind,
        });
        let node = Node::new("dell-r640", &github);
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let s = github.state();
        let lines = s.lines();
        let at = lines.iter().position(|l| l == AUTO_MERGE).unwrap();
        // After the ambiguous answer: the PR is read (is auto-merge on?) before any retry.
        assert_eq!(lines[at + 1], "GET /repos/acme/fleet/pulls/1", "{lines:?}");
        assert_eq!(
            lines.iter().filter(|l| *l == AUTO_MERGE).count(),
            mutations,
            "{lines:?}"
        );
        assert_eq!(s.pulls[0].auto_merge.as_deref(), Some("squash"));
        drop(s);
        assert_eq!(node.marker().unwrap()["auto_merge"]["state"], "enabled");
    }
}

#[test]
fn example_workflow_reports_the_check_the_fake_requires_and_never_merges_directly() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/gitops/.github/workflows/enlist-reconcile.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    // The required check is the job's name on the PR: the name the README tells owners to require.
    assert_eq!(
        workflow["jobs"]["reconcile"]["name"].as_str(),
        Some(REQUIRED_CHECK)
    );
    let job = &workflow["jobs"]["auto-merge"];
    let condition = job["if"].as_str().unwrap();
    assert!(
        condition.contains("vars.ENLIST_AUTO_MERGE != ''"),
        "opt-in: {condition}"
    );
    assert!(
        condition.contains("startsWith(github.head_ref, 'enlist/')"),
        "{condition}"
    );
    let script = job["steps"][0]["run"].as_str().unwrap();
    assert!(
        script.contains("gh pr merge \"$PR\" --repo \"$GITHUB_REPOSITORY\" --auto"),
        "{script}"
    );
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops/README.md"),
    )
    .unwrap();
    assert!(
        readme.contains(&format!("`{REQUIRED_CHECK}`")),
        "the README names the check"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_without_checks_read_still_gets_through_a_pending_run() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().faults.push(Fault {
        method: "GET".into(),
        path_contains: "/check-runs".into(),
        times: 10,
        kind: FaultKind::Status {
            status: 403,
            body: json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest"}),
            headers: vec![("x-ratelimit-remaining".into(), "4999".into())],
        },
    });
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("Checks: read"), "{}", run.stderr);
    assert_eq!(
        github.state().requests.len(),
        2,
        "no status read after a 403"
    );
    assert_eq!(node.marker().unwrap()["checks"]["state"], "unreadable");
    assert!(node.status(&[]).stdout.contains("give it Checks: read"));
}
