//! A hostile review of the registration path after issue 26: each test pins a defect found in
//! review (what a person did to the PR, a marker from an older enlist, a leftover branch, an
//! answer no GitHub gives, a repository fix the node cannot see) — through the real binary (or
//! the library with a virtual clock) against the fake.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use enlist::clock::Clock;
use enlist::register::planner::Outcome;
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::{FakeGitHub, Fault, FaultKind, REQUIRED_CHECK};
use enlist_e2e::node::Node;
use serde_json::{Value, json};

use crate::{assert_held_without_requests, exit_code, fake, pending, without_shas};

const DELL: &str = "node-faf6ca";

fn writes(github: &FakeGitHub) -> Vec<String> {
    github.state().writes().iter().map(|r| r.line()).collect()
}

/// The paths PR `number`'s branch changes against the base branch.
fn changed_paths(github: &FakeGitHub, number: u64) -> Vec<String> {
    let s = github.state();
    let pull = s.pull(number).expect("pull request");
    let base = s.tree(&pull.base).cloned().unwrap_or_default();
    let head = s.tree(&pull.head).cloned().unwrap_or_default();
    let changed: BTreeSet<String> = head
        .keys()
        .chain(base.keys())
        .filter(|k| base.get(*k) != head.get(*k))
        .cloned()
        .collect();
    changed.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_merge_a_person_turned_off_stays_off_and_status_says_so() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(
        github.state().pulls[0].auto_merge.as_deref(),
        Some("squash")
    );
    // A person turns auto-merge off on the PR (to look at it first).
    github.state().pulls[0].auto_merge = None;
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(without_shas(&github.state().lines()), pending(1));
    assert_eq!(
        node.marker().unwrap()["auto_merge"],
        json!({"state": "turned_off"})
    );
    let status = node.status(&[]);
    assert!(
        status.stdout.contains("turned off on GitHub"),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("GitHub merges"),
        "status must not promise a merge: {}",
        status.stdout
    );
    // The facts change while the PR is open: the branch gets the new file, auto-merge stays off.
    node.set_hostname("r640-b");
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let w = writes(&github);
    assert!(w.iter().any(|l| l.starts_with("PUT ")), "{w:?}");
    assert!(!w.iter().any(|l| l == "POST /graphql"), "{w:?}");
    assert_eq!(github.state().pulls[0].auto_merge, None);
    assert_eq!(
        node.marker().unwrap()["auto_merge"],
        json!({"state": "turned_off"})
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_a_person_removed_are_not_added_back_on_every_run() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("labels", "[enlist]");
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().pulls[0].labels, ["enlist"]);
    // A person (or a triage bot) removes the label.
    github.state().pulls[0].labels.clear();
    for reboot in [false, false, true, false] {
        if reboot {
            node.reboot();
        }
        github.state().requests.clear();
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(writes(&github).is_empty(), "{:?}", github.state().lines());
    }
    assert!(github.state().pulls[0].labels.is_empty());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_update_recorded_by_an_enlist_before_auto_merge_is_never_auto_merged() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    assert!(github.state().pulls[0].merged);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");
    // A hardware event: an update PR, left for a person.
    node.set_hostname("r640-b");
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().pulls.len(), 2);
    assert_eq!(github.state().pulls[1].auto_merge, None);
    // The same marker as an enlist from before auto-merge wrote it (no auto_merge, boot_id,
    // written_sha, checks), then enlist is upgraded and the node reboots.
    let mut marker = node.marker().unwrap();
    let fields = marker.as_object_mut().unwrap();
    for key in ["auto_merge", "boot_id", "written_sha", "checks", "warnings"] {
        fields.remove(key);
    }
    std::fs::write(
        node.state.join("registered.json"),
        serde_json::to_vec_pretty(&marker).unwrap(),
    )
    .unwrap();
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(writes(&github).is_empty(), "{:?}", github.state().lines());
    assert_eq!(github.state().pulls[1].auto_merge, None);
    assert_eq!(
        node.marker().unwrap()["auto_merge"],
        json!({"state": "not_for_updates"})
    );
    // Recorded: the next run is a pending boot's reads.
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(without_shas(&github.state().lines()), pending(2));
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_registration_recorded_by_an_enlist_before_auto_merge_gets_it() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    node.unset("auto_merge");
    let mut marker = node.marker().unwrap();
    let fields = marker.as_object_mut().unwrap();
    for key in ["auto_merge", "boot_id", "written_sha", "checks", "warnings"] {
        fields.remove(key);
    }
    std::fs::write(
        node.state.join("registered.json"),
        serde_json::to_vec_pretty(&marker).unwrap(),
    )
    .unwrap();
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Once: the repository and the upstream file say it is a registration (two reads more
    // than a pending boot), then the mutation.
    assert_eq!(
        without_shas(&github.state().lines()),
        [
            "GET /repos/acme/fleet/pulls/1",
            "GET /repos/acme/fleet",
            &format!("GET /repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml"),
            "POST /graphql",
            "GET /repos/acme/fleet/commits/{sha}/check-runs",
            "GET /repos/acme/fleet/commits/{sha}/status",
        ]
    );
    assert_eq!(
        github.state().pulls[0].auto_merge.as_deref(),
        Some("squash")
    );
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(without_shas(&github.state().lines()), pending(1));
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_pr_after_a_closed_one_changes_only_the_nodes_file() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    node.set("path_template", "cluster-nodes/{hostname}/{node_id}.yaml");
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().close(1);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    // Renamed: new facts at a new path; the rejected PR's branch still holds the old file.
    node.set_hostname("r640-b");
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().pulls.len(), 2);
    assert_eq!(
        changed_paths(&github, 2),
        [format!("cluster-nodes/r640-b/{DELL}.yaml")]
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_head_that_is_not_a_commit_id_never_reaches_the_terminal() {
    let github = fake().await;
    let hostile = "\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}";
    github.state().faults.push(Fault {
        method: "GET".into(),
        path_contains: "/git/ref/heads/main".into(),
        times: 10,
        kind: FaultKind::Status {
            status: 200,
            body: json!({"ref": "refs/heads/main", "node_id": "REF_x", "url": "https://api.github.com/repos/acme/fleet/git/refs/heads/main", "object": {"sha": hostile, "type": "commit", "url": "https://api.github.com/repos/acme/fleet/git/commits/x"}}),
            headers: Vec::new(),
        },
    });
    let node = Node::new("dell-r640", &github);
    let run = node.run(&["--dry-run"]);
    for c in ['\u{1b}', '\u{7}'] {
        assert!(
            !run.stdout.contains(c) && !run.stderr.contains(c),
            "{c:?} reached the terminal: {}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(run.code, Some(76), "{}\n{}", run.stdout, run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_upstream_file_fixed_in_the_repository_is_retried_about_a_day_later() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let path = format!("cluster-nodes/{DELL}/node.yaml");
    github
        .state()
        .put_file("main", &path, "schema: [not a node.yaml\n");
    let clock = Arc::new(VirtualClock::new());
    assert_eq!(exit_code(&node.run_lib(clock.clone()).await), 65);
    let attempts: Value = node.attempts().unwrap();
    assert_eq!(attempts["kind"], "on_github", "{attempts}");
    // The timer's runs that day: held, no request.
    let hour = Duration::from_secs(3600);
    assert_held_without_requests(&node, &clock, &github, 21).await;
    // A person fixes the file in the repository; about a day later the node sees it, same boot.
    github.state().put_file("main", &path, &node.facts_yaml());
    clock.sleep(hour * 5).await;
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::UpstreamMatches)),
        "{result:?}"
    );
    assert_eq!(node.marker().unwrap()["state"], "registered");
}

/// SIGTERM at every await point of a fresh registration in App mode (each request's answer
/// held back, the signal sent while the node waits for it): exit 75 within seconds, the
/// installation token revoked, the attempt recorded, and the next run converges to one PR.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_any_request_is_in_flight_stops_revokes_and_converges() {
    // The requests of a fresh App-mode registration: lookup, mint, the seven, the mutation.
    let steps = {
        let github = fake().await;
        github.with_app();
        let mut node = Node::new("dell-r640", &github);
        node.use_app("app-key.pkcs1.pem");
        assert_eq!(node.run(&[]).code, Some(0));
        let lines = github.state().lines();
        assert_eq!(
            lines.last().map(String::as_str),
            Some("DELETE /installation/token")
        );
        lines.len() - 1
    };
    assert_eq!(steps, 10);
    for k in 1..=steps {
        let github = fake().await;
        github.with_app();
        github.state().hang_at = Some((k, Duration::from_secs(60)));
        let mut node = Node::new("dell-r640", &github);
        node.use_app("app-key.pkcs1.pem");
        node.set("request_timeout_secs", "120");
        let child = node.spawn(&[]);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while github.state().requests.len() < k {
            assert!(
                std::time::Instant::now() < deadline,
                "k={k}: request never sent"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let signalled = std::time::Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(75), "k={k}: {stderr}");
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "k={k}: stopped in {:?}",
            signalled.elapsed()
        );
        enlist_e2e::node::assert_no_token(&stderr);
        {
            let s = github.state();
            // Once the node holds the token (the mint's answer arrived), it dies with the run.
            // Stopped while the mint is in flight, the node never saw the token: nothing to
            // revoke (GitHub expires it within the hour).
            if k >= 3 {
                assert_eq!(
                    s.lines().last().map(String::as_str),
                    Some("DELETE /installation/token"),
                    "k={k}: {:?}",
                    s.lines()
                );
            }
        }
        let attempts: Value = node.attempts().unwrap();
        assert_eq!(attempts["last_exit"], 75, "k={k}");
        github.state().hang_at = None;
        // The unit's restart (same boot, a person would run it the same way).
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "k={k}: {}", run.stderr);
        let s = github.state();
        assert_eq!(s.pulls.len(), 1, "k={k}: {:?}", s.lines());
        assert_eq!(s.pulls[0].auto_merge.as_deref(), Some("squash"), "k={k}");
        drop(s);
        assert_eq!(node.marker().unwrap()["state"], "pending", "k={k}");
        assert!(!node.state.join("attempts.json").exists(), "k={k}");
        github.assert_contract();
    }
}

/// A refused optional step is tried again once in a later boot — once, even when a read after
/// it fails (GitHub's check runs answering 502 all day): the unit's restarts and the timer's
/// runs do not repeat the write.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_step_is_retried_once_per_boot_even_when_a_later_read_fails() {
    let github = fake().await;
    github.state().allow_auto_merge = false;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(
        node.marker().unwrap()["auto_merge"]["reason"],
        "not_allowed"
    );
    node.reboot();
    github.state().faults.push(Fault {
        method: "GET".into(),
        path_contains: "/check-runs".into(),
        times: 10_000,
        kind: FaultKind::Status {
            status: 502,
            body: json!({"message": "Server Error"}),
            headers: Vec::new(),
        },
    });
    github.state().requests.clear();
    let clock = Arc::new(VirtualClock::new());
    for _ in 0..4 {
        let result = node.run_lib_attended(clock.clone()).await;
        assert_eq!(exit_code(&result), 75, "{result:?}");
        clock.sleep(Duration::from_secs(3600)).await;
    }
    assert_eq!(writes(&github), ["POST /graphql"]);
    // Recorded with this boot: `enlist status` shows GitHub's answer.
    let marker = node.marker().unwrap();
    assert_eq!(marker["auto_merge"]["reason"], "not_allowed");
    assert_eq!(marker["boot_id"], "b0071002-0000-4000-8000-000000000000");
}

/// Foreign commits, then this machine's facts change while the PR is still open: the node adds a
/// commit with its new node.yaml on top (never a force-push, reset or rewrite: the foreign commit
/// stays), keeps auto-merge off — and what it told the reviewers (the PR comment, `enlist
/// status`) says exactly that, not that it never touches the branch again.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_commits_then_new_facts_a_commit_on_top_and_what_the_node_said_holds() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    let foreign = github
        .state()
        .push_foreign_commit(1, "flake.nix", "{ outputs = _: { }; }\n");
    assert_eq!(node.run(&[]).code, Some(0));
    node.set_hostname("r640-b");
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert!(!writes_of(&s).iter().any(|l| l == "POST /graphql"));
    assert_eq!(s.pulls[0].auto_merge, None);
    let head = s.head_sha(1).unwrap();
    assert_ne!(head, foreign, "the node's commit is on top");
    assert!(
        s.tree(&head).unwrap().contains_key("flake.nix"),
        "never rewritten"
    );
    let noted = &s.comments[0].body;
    assert!(noted.contains("commits this node did not write"), "{noted}");
    assert!(!noted.contains("will not touch this branch"), "{noted}");
    drop(s);
    let status = node.status(&[]);
    assert!(
        !status.stdout.contains("never touches the branch"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("auto-merge off"),
        "{}",
        status.stdout
    );
    github.assert_contract();
}

fn writes_of(s: &enlist_e2e::fake::State) -> Vec<String> {
    s.writes().iter().map(|r| r.line()).collect()
}

/// A node renamed twice (`{hostname}` in the template): while its first update PR is open, and
/// again after that one merged. One file, at the path it was first registered at, updated each
/// time; never a second registration.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_renamed_twice_keeps_one_file_at_its_first_path() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("path_template", "cluster-nodes/{hostname}/{node_id}.yaml");
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    assert_eq!(node.run(&[]).code, Some(0));
    let first = node.marker().unwrap()["path"].as_str().unwrap().to_owned();
    for (n, (hostname, pulls)) in [("r640-b", 2), ("r640-c", 2), ("r640-d", 3)]
        .into_iter()
        .enumerate()
    {
        node.set_hostname(hostname);
        node.reboot();
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{hostname}: {}", run.stderr);
        assert_eq!(github.state().pulls.len(), pulls, "{hostname}");
        assert_eq!(
            changed_paths(&github, pulls as u64),
            std::slice::from_ref(&first),
            "{hostname}"
        );
        let s = github.state();
        let head = s.tree(&s.pulls[pulls - 1].head).unwrap().clone();
        assert!(head[&first].contains(&format!("hostname: {hostname}")));
        drop(s);
        assert_eq!(node.marker().unwrap()["path"], first.as_str());
        if n == 1 {
            // A person merges the update.
            github.state().merge(2);
            assert_eq!(node.run(&[]).code, Some(0));
            assert_eq!(node.marker().unwrap()["state"], "registered");
        }
    }
    let main = github.state().tree("main").unwrap().clone();
    let registrations: Vec<&String> = main.keys().filter(|k| k.contains(DELL)).collect();
    assert_eq!(registrations, [&first]);
    github.assert_contract();
}

/// The facts change while the PR is open and GitHub applies the node's commit but answers 502:
/// the commit is the node's own, so the next run must not take it for someone else's (no
/// auto-merge off, no "commits this node did not write" comment).
#[tokio::test(flavor = "multi_thread")]
async fn the_nodes_own_commit_after_an_ambiguous_answer_is_not_foreign() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    // The first commit too: its sha is known (read from the branch), so commits pushed later by
    // someone else are seen.
    github.state().faults.push(Fault {
        method: "PUT".into(),
        path_contains: "/contents/".into(),
        times: 1,
        kind: FaultKind::ApplyThenStatus(502),
    });
    assert_eq!(node.run(&[]).code, Some(0));
    let head = github.state().head_sha(1).unwrap();
    assert_eq!(node.marker().unwrap()["written_sha"], head.as_str());
    node.set_hostname("r640-b");
    github.state().faults.push(Fault {
        method: "PUT".into(),
        path_contains: "/contents/".into(),
        times: 1,
        kind: FaultKind::ApplyThenStatus(502),
    });
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(
        s.pulls[0].auto_merge.as_deref(),
        Some("squash"),
        "{:?}",
        s.lines()
    );
    assert!(
        s.comments.iter().all(|c| !c.body.contains("did not write")),
        "{:?}",
        s.comments
    );
    let head = s.head_sha(1).unwrap();
    drop(s);
    let marker = node.marker().unwrap();
    assert!(marker.get("foreign_head").is_none(), "{marker}");
    assert_eq!(marker["written_sha"], head.as_str());
}
