//! A node always knows where it stands (issue 26, and the node side of issue 24): once its PR
//! exists a refused optional step is a warning, not a failure; SIGTERM stops a run cleanly; a
//! renamed host updates its file; a closed PR whose file reached the base branch is a
//! registration; someone else's commit on the node's branch turns auto-merge off, once; state
//! files and GitHub's text are bounded and inert — through the real binary against the fake.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlist::clock::Clock;
use enlist::register::planner::Outcome;
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::REQUIRED_CHECK;
use enlist_e2e::node::Node;
use serde_json::{Value, json};

use crate::{
    assert_held_without_requests, events, exit_code, fake, fault, fresh, pending, status,
    without_shas,
};

const DELL: &str = "node-faf6ca";

/// The `ENLIST_EVENT` of each event line on stderr (`… [registration.pr_opened]`).
/// Sends SIGTERM to `child` and waits for it to end: its output (the pipes still attached) and
/// how long it took to stop.
async fn terminate(child: std::process::Child) -> (std::process::Output, Duration) {
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("wait");
    (out, signalled.elapsed())
}

fn writes(github: &enlist_e2e::fake::FakeGitHub) -> Vec<String> {
    github.state().writes().iter().map(|r| r.line()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_labels_and_auto_merge_leave_a_pending_marker_exit_0_and_merge_is_seen() {
    let github = fake().await;
    // Labels: 403 (the token may not label); auto-merge: GraphQL FORBIDDEN.
    github.state().faults.push(fault(
        "POST",
        "/labels",
        1,
        status(
            403,
            json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue", "status": "403"}),
            &[],
        ),
    ));
    github.state().faults.push(fault(
        "POST",
        "/graphql",
        1,
        status(
            200,
            json!({"data": {"enablePullRequestAutoMerge": null}, "errors": [{"type": "FORBIDDEN", "path": ["enablePullRequestAutoMerge"], "message": "Resource not accessible by personal access token"}]}),
            &[],
        ),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.set("labels", "[enlist, hardware]");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("labels not added to #1"),
        "{}",
        run.stderr
    );
    assert!(events(&run.stderr).contains(&"registration.pr_opened"));
    // Labels are counted honestly: one more write than a fresh registration without them.
    let mut expected = fresh(DELL);
    expected.insert(7, "POST /repos/acme/fleet/issues/1/labels".into());
    assert_eq!(github.state().lines(), expected);
    let marker = node.marker().unwrap();
    assert_eq!(marker["state"], "pending");
    assert_eq!(marker["pr_number"], 1);
    assert_eq!(marker["warnings"][0]["step"], "labels");
    assert_eq!(marker["auto_merge"]["state"], "refused");
    assert_eq!(marker["auto_merge"]["reason"], "forbidden");
    let written = github.state().head_sha(1).unwrap();
    assert_eq!(marker["written_sha"], written.as_str());
    let status = node.status(&[]);
    assert!(
        status.stdout.contains("warning       labels refused"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("Pull requests: write"),
        "{}",
        status.stdout
    );

    // The timer's runs in the same boot: reads only, no retry of the refused steps.
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(without_shas(&github.state().lines()), pending(1));
    // A person merges it; the next run (same boot) records the registration.
    github.state().merge(1);
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    let status = node.status(&[]);
    assert!(status.stdout.contains(": registered"), "{}", status.stdout);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_optional_step_is_retried_once_in_each_later_boot() {
    let github = fake().await;
    github.state().allow_auto_merge = false;
    let mut node = Node::new("dell-r640", &github);
    node.set("labels", "[enlist]");
    github.state().faults.push(fault(
        "POST",
        "/labels",
        1,
        status(422, json!({"message": "Validation Failed", "errors": [{"resource": "Label", "code": "invalid", "field": "name"}], "documentation_url": "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue", "status": "422"}), &[]),
    ));
    assert_eq!(node.run(&[]).code, Some(0));
    let marker = node.marker().unwrap();
    assert_eq!(marker["auto_merge"]["reason"], "not_allowed");
    assert_eq!(marker["warnings"][0]["step"], "labels");
    // The owner fixes both; a new boot asks once for each, and records the answers.
    github.state().allow_auto_merge = true;
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        writes(&github),
        ["POST /repos/acme/fleet/issues/1/labels", "POST /graphql"]
    );
    let marker = node.marker().unwrap();
    assert_eq!(
        marker["auto_merge"],
        json!({"state": "enabled", "method": "squash"})
    );
    assert!(marker.get("warnings").is_none(), "{marker}");
    assert_eq!(github.state().pull(1).unwrap().labels, ["enlist"]);
    // The same boot again: reads only.
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    assert!(writes(&github).is_empty(), "{:?}", github.state().lines());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_before_auto_merge_turns_it_on_at_the_restart() {
    let github = fake().await;
    // The mutation is rate limited for an hour: past the run's budget, exit 75 after the PR.
    github.state().faults.push(fault(
        "POST",
        "/graphql",
        1,
        status(
            403,
            json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
            &[("retry-after", "3600")],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(75), "{}", run.stderr);
    let marker = node.marker().expect("pending before the optional step");
    assert_eq!(marker["state"], "pending");
    assert!(marker.get("auto_merge").is_none(), "{marker}");
    // systemd's restart (same boot): the PR is found with one read, auto-merge turned on.
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut expected = vec![
        "GET /repos/acme/fleet/pulls/1".to_owned(),
        "POST /graphql".to_owned(),
    ];
    expected.extend(pending(1).into_iter().skip(1));
    assert_eq!(without_shas(&github.state().lines()), expected);
    assert_eq!(
        github.state().pulls[0].auto_merge.as_deref(),
        Some("squash")
    );
    assert_eq!(
        node.marker().unwrap()["auto_merge"],
        json!({"state": "enabled", "method": "squash"})
    );
    assert_eq!(github.state().pulls.len(), 1);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_rate_limit_wait_in_app_mode_revokes_the_token_and_exits_75() {
    let github = fake().await;
    github.with_app();
    // The first repository read after minting is rate limited for ten minutes.
    github.state().faults.push(fault(
        "GET",
        "/repos/acme/fleet/git/ref",
        1,
        status(
            403,
            json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}),
            &[("retry-after", "600")],
        ),
    ));
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let child = node.spawn(&[]);
    // Wait (bounded) until the run is inside the rate-limit wait.
    let limited = Instant::now();
    while !github
        .state()
        .requests
        .iter()
        .any(|r| r.status == 403 && r.path.contains("/git/ref/"))
    {
        assert!(limited.elapsed() < Duration::from_secs(20), "never limited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (out, took) = terminate(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert!(events(&stderr).contains(&"registration.failed"), "{stderr}");
    let s = github.state();
    assert_eq!(
        s.lines().last().map(String::as_str),
        Some("DELETE /installation/token"),
        "{:?}",
        s.lines()
    );
    assert_eq!(
        s.requests.last().unwrap().status,
        204,
        "the token was revoked"
    );
    assert!(s.writes().iter().all(|r| !r.path.contains("/repos/")));
    drop(s);
    // The attempt is recorded (transient: the unit restarts it).
    let attempts: Value = node.attempts().unwrap();
    assert_eq!(attempts["last_exit"], 75);
    assert_eq!(attempts["kind"], "transient");
    enlist_e2e::node::assert_no_token(&stderr);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_the_start_jitter_exits_75_before_any_request() {
    use std::io::BufRead;
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    // A jitter of up to 50 minutes (the deadline starts after it): the run is certainly still
    // waiting when the signal comes.
    node.set("start_jitter_secs", "3000");
    node.set("run_timeout_secs", "3600");
    let mut child = node.spawn(&[]);
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("start jitter") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the run announces its start jitter");
    let (out, took) = terminate(child).await;
    let stderr = reader.join().expect("reader");
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert!(events(&stderr).contains(&"registration.failed"), "{stderr}");
    assert!(
        github.state().requests.is_empty(),
        "nothing reached GitHub: {:?}",
        github.state().lines()
    );
    let attempts: Value = node.attempts().unwrap();
    assert_eq!(attempts["last_exit"], 75);
    assert_eq!(attempts["kind"], "transient");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_jitter_extends_the_units_start_timeout_and_says_so_in_status() {
    // systemd's notification socket, as the unit gives it (NotifyAccess=main).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = done.clone();
    // Read while the run goes: a full socket queue would block the sender.
    let reader = std::thread::spawn(move || {
        let mut messages = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => messages.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(_) if reading.load(std::sync::atomic::Ordering::SeqCst) => return messages,
                Err(_) => {}
            }
        }
    });
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("start_jitter_secs", "1");
    let run = node.run_with_env(&[], &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let messages = reader.join().unwrap();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(github.state().pulls.len(), 1);
    // The rest of the run from the jitter on: the jitter (≤ 1 s), the whole deadline (840 s, it
    // starts after the jitter), one request timeout (the fixture's 5 s) and the unit's margin
    // (30 s).
    let extend: Vec<u64> = messages
        .iter()
        .filter_map(|m| m.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .map(|v| v.trim().parse().expect("microseconds"))
        .collect();
    assert_eq!(extend.len(), 1, "{messages:?}");
    assert!(
        (874_000_000..=876_000_000).contains(&extend[0]),
        "{} µs: {messages:?}",
        extend[0]
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("STATUS=waiting") && m.contains("start jitter")),
        "{messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_systemd_starts_wait_a_default_start_jitter_first() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    // Started by the unit (or the timer): up to 300 s before the first request.
    let clock = Arc::new(VirtualClock::new());
    let result = node.run_lib_as_unit(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::PrOpened)),
        "{result:?}"
    );
    let first = clock.sleeps()[0];
    assert!(
        first > Duration::ZERO
            && first <= Duration::from_secs(enlist::config::UNATTENDED_START_JITTER_SECS),
        "{:?}",
        clock.sleeps()
    );
    // A run at a terminal (or `start_jitter_secs: 0`) starts at once.
    node.reinstall();
    let clock = Arc::new(VirtualClock::new());
    node.run_lib_attended(clock.clone()).await.unwrap();
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
    node.set("start_jitter_secs", "0");
    node.reinstall();
    let clock = Arc::new(VirtualClock::new());
    node.run_lib_as_unit(clock.clone()).await.unwrap();
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_wait_counts_toward_run_timeout() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("run_timeout_secs", "2");
    std::fs::create_dir_all(&node.state).unwrap();
    let mut perms = std::fs::metadata(&node.state).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(&node.state, perms).unwrap();
    // Another run holds the lock for longer than this run may last.
    let held = std::fs::File::create(node.state.join("lock")).unwrap();
    held.lock().unwrap();
    let started = Instant::now();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(73), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(run.stderr.contains("held the lock"), "{}", run.stderr);
    assert!(github.state().requests.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_host_updates_its_file_and_never_registers_twice() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("path_template", "cluster-nodes/{hostname}/{node_id}.yaml");
    assert_eq!(node.run(&[]).code, Some(0));
    let old_path = node.marker().unwrap()["path"].as_str().unwrap().to_owned();
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    assert!(github.state().pulls[0].merged);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");

    node.set_hostname("r640-renamed");
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(
        s.pulls.len(),
        2,
        "one update PR, never a second registration"
    );
    let update = &s.pulls[1];
    assert!(update.title.starts_with("Update"), "{}", update.title);
    assert!(update.body.contains("r640-renamed"), "{}", update.body);
    assert_eq!(update.auto_merge, None, "a drift update waits for a person");
    // Its branch changes exactly the registered file.
    let base = s.tree("main").unwrap().clone();
    let head = s.tree(&update.head).unwrap().clone();
    let changed: std::collections::BTreeSet<&String> = head
        .keys()
        .chain(base.keys())
        .filter(|k| base.get(*k) != head.get(*k))
        .collect();
    assert_eq!(changed.into_iter().collect::<Vec<_>>(), [&old_path]);
    assert!(
        head[&old_path].contains("hostname: r640-renamed"),
        "{}",
        head[&old_path]
    );
    drop(s);
    assert_eq!(node.marker().unwrap()["path"], old_path.as_str());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pr_whose_file_reached_the_base_branch_is_registered() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    let path = format!("cluster-nodes/{DELL}/node.yaml");
    {
        // A batch PR brought the file to main; the node's own PR was closed unmerged.
        let mut s = github.state();
        let content = s.file(&format!("enlist/{DELL}"), &path).unwrap();
        s.put_file("main", &path, &content);
        s.close(1);
        s.requests.clear();
    }
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    assert!(writes(&github).is_empty(), "{:?}", github.state().lines());
    // Closed without its file upstream: rejected, as before.
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().close(1);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    assert!(writes(&github).len() == 3, "{:?}", github.state().lines());
}

/// A person merges the node's PR although someone else's commit changed its node.yaml: the node
/// does not take the merge for its registration. It reads what reached the base branch and, the
/// facts there not being its own, proposes its own as an update (a new PR, auto-merge off as for
/// any update). Before, it recorded `registered` and never looked again.
#[tokio::test(flavor = "multi_thread")]
async fn a_merged_pr_with_foreign_commits_is_checked_against_the_base_branch() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    let path = format!(
        "cluster-nodes/{}/node.yaml",
        node.marker().unwrap()["node_id"].as_str().unwrap()
    );
    let own = node.facts_yaml();
    // Someone with the fleet's credential rewrites the node's file (a valid node.yaml of this
    // machine with another hostname), and a person merges the PR.
    let hostname = own
        .lines()
        .find_map(|l| l.strip_prefix("hostname: "))
        .expect("a hostname")
        .to_owned();
    node.set_hostname("not-this-machine");
    let rewritten = node.facts_yaml();
    node.set_hostname(&hostname);
    assert_eq!(node.facts_yaml(), own);
    {
        let mut s = github.state();
        s.push_foreign_commit(1, &path, &rewritten);
        s.merge(1);
        assert_eq!(s.file("main", &path).as_deref(), Some(rewritten.as_str()));
        s.requests.clear();
    }
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.pulls.len(), 2, "{:?}", s.lines());
    let update = &s.pulls[1];
    assert_eq!(update.state, "open");
    assert_eq!(update.auto_merge, None, "an update is for a person");
    assert_eq!(s.file(&update.head, &path).as_deref(), Some(own.as_str()));
    drop(s);
    let marker = node.marker().unwrap();
    assert_eq!(marker["state"], "pending", "{marker}");
    assert_eq!(marker["pr_number"], 2, "{marker}");

    // Merged without foreign commits: one read, registered.
    github.state().merge(2);
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/2"]);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    github.assert_contract();
}

/// Someone with the fleet's credential moves the node's PR to a branch nothing protects (where
/// auto-merge would merge it at once): the node turns auto-merge off and says so on the PR, once;
/// when the PR is merged there, the node reads the base branch, finds no registration and records
/// `rejected` for a person, instead of believing it is registered.
#[tokio::test(flavor = "multi_thread")]
async fn a_pr_moved_to_another_base_branch_is_never_taken_for_a_registration() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["base"], "main");
    {
        let mut s = github.state();
        s.create_branch("release");
        s.pulls[0].base = "release".into();
        s.requests.clear();
    }
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        assert_eq!(
            s.lines(),
            [
                "GET /repos/acme/fleet/pulls/1",
                "POST /graphql",
                "GET /repos/acme/fleet/issues/1/comments",
                "POST /repos/acme/fleet/issues/1/comments",
            ]
        );
        assert_eq!(s.pulls[0].auto_merge, None, "auto-merge is off");
        assert!(
            s.comments[0]
                .body
                .contains("moved from base branch `main` to `release`"),
            "{}",
            s.comments[0].body
        );
    }
    let status = node.status(&[]);
    assert!(
        status
            .stdout
            .contains("someone else changed the pull request")
            || status
                .stderr
                .contains("someone else changed the pull request"),
        "{}{}",
        status.stdout,
        status.stderr
    );
    // Merged where it was moved: nothing reached main.
    github.state().merge(1);
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert!(s.writes().is_empty(), "{:?}", s.lines());
    assert_eq!(s.lines()[0], "GET /repos/acme/fleet/pulls/1");
    drop(s);
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_commit_turns_auto_merge_off_with_one_comment_across_runs() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(
        github.state().pulls[0].auto_merge.as_deref(),
        Some("squash")
    );
    // Someone with the fleet's credential pushes to the node's branch.
    let foreign = github
        .state()
        .push_foreign_commit(1, "flake.nix", "{ outputs = _: { }; }\n");
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        assert_eq!(
            s.lines(),
            [
                "GET /repos/acme/fleet/pulls/1",
                "POST /graphql",
                "GET /repos/acme/fleet/issues/1/comments",
                "POST /repos/acme/fleet/issues/1/comments",
            ]
        );
        assert!(
            s.graphql.last().unwrap()["query"]
                .as_str()
                .unwrap()
                .contains("disablePullRequestAutoMerge")
        );
        assert_eq!(s.pulls[0].auto_merge, None, "auto-merge is off");
        assert_eq!(s.comments.len(), 1);
        assert!(
            s.comments[0]
                .body
                .contains("commits this node did not write"),
            "{}",
            s.comments[0].body
        );
        // The branch is untouched: never reset, rewritten or committed to.
        assert_eq!(s.head_sha(1).unwrap(), foreign);
        assert!(s.tree(&foreign).unwrap().contains_key("flake.nix"));
    }
    let marker = node.marker().unwrap();
    assert_eq!(marker["foreign_head"], foreign.as_str());
    assert_eq!(
        marker["auto_merge"],
        json!({"state": "foreign_commits", "off": true})
    );
    let status = node.status(&[]);
    assert!(
        status.stdout.contains(
            "auto-merge off: someone else changed the pull request (commits this node did not write"
        ),
        "{}",
        status.stdout
    );
    // Later runs (the timer, a reboot): the usual reads, no write, no second comment.
    for reboot in [false, true] {
        if reboot {
            node.reboot();
        }
        github.state().requests.clear();
        assert_eq!(node.run(&[]).code, Some(0));
        assert_eq!(without_shas(&github.state().lines()), pending(1));
        assert_eq!(github.state().comments.len(), 1);
        assert_eq!(github.state().pulls[0].auto_merge, None);
    }
    // Nothing foreign: a pending boot stays at its three reads (scenarios, timer).
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversize_marker_or_a_fifo_ends_clearly_in_seconds() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    std::fs::create_dir_all(&node.state).unwrap();
    let mut perms = std::fs::metadata(&node.state).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(&node.state, perms).unwrap();
    let marker = node.state.join("registered.json");
    std::fs::File::create(&marker)
        .unwrap()
        .set_len(64 * 1024 * 1024)
        .unwrap();
    let started = Instant::now();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(run.stderr.contains("larger than 64 KiB"), "{}", run.stderr);
    // Ignored and replaced: the registration went ahead and wrote a real marker.
    assert_eq!(node.marker().unwrap()["state"], "pending");
    // A FIFO where the marker belongs: refused at once (73), naming it.
    std::fs::remove_file(&marker).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&marker)
            .status()
            .unwrap()
            .success()
    );
    github.state().requests.clear();
    let started = Instant::now();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(73), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        run.stderr.contains("registered.json") && run.stderr.contains("not a regular file"),
        "{}",
        run.stderr
    );
    assert!(github.state().requests.is_empty());
    // `enlist status` too.
    let status = node.status(&[]);
    assert_ne!(status.code, Some(0));
    assert!(
        status.stderr.contains("not a regular file"),
        "{}",
        status.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_escape_sequence_from_github_reaches_the_terminal() {
    let github = fake().await;
    let hostile = "Validation Failed\u{1b}]8;;https://evil.example\u{7}click\u{1b}[2J\r\u{9b}31m";
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/git/refs",
        1,
        status(422, json!({"message": hostile, "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "422"}), &[]),
    ));
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(76), "{}", run.stderr);
    assert!(
        run.stderr.contains("\\u{1b}]8;;https://evil.example"),
        "{}",
        run.stderr
    );
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(
            !run.stderr.contains(c),
            "{c:?} reached the terminal: {}",
            run.stderr
        );
    }
    let status = node.status(&[]);
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        assert!(
            !status.stdout.contains(c),
            "{c:?} in status: {}",
            status.stdout
        );
    }
    // A default branch with an escape sequence is not a default branch (76), and is not shown.
    let github = fake().await;
    github.state().default_branch = "main\u{1b}[2J".into();
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(76), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_to_a_remote_api_is_refused_without_a_request() {
    let github = fake().await;
    let node = Node::with_api("dell-r640", "http://api.example.invalid");
    let started = Instant::now();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no readiness wait"
    );
    assert!(
        run.stderr.contains("api_url") && run.stderr.contains("allow_insecure_http"),
        "{}",
        run.stderr
    );
    assert!(node.marker().is_none());
    // Loopback (the fake, a local proxy) is fine as it is.
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_github_must_fix_is_retried_about_a_day_later_without_a_reboot() {
    let github = fake().await;
    // The token lacks a right (a ruleset's 403 on creating the branch): exit 77.
    github.state().faults.push(fault(
        "POST",
        "/repos/acme/fleet/git/refs",
        10_000,
        status(
            403,
            json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference", "status": "403"}),
            &[],
        ),
    ));
    let node = Node::new("dell-r640", &github);
    let clock = Arc::new(VirtualClock::new());
    assert_eq!(exit_code(&node.run_lib(clock.clone()).await), 77);
    let attempts: Value = node.attempts().unwrap();
    assert_eq!(attempts["kind"], "on_github", "{attempts}");
    // The timer's runs that day: held, no request.
    let hour = Duration::from_secs(3600);
    assert_held_without_requests(&node, &clock, &github, 21).await;
    // The owner fixes the token's rights on GitHub; about a day after the failure the timer's
    // run registers, in the same boot.
    github.state().faults.clear();
    clock.sleep(hour * 5).await;
    let result = node.run_lib(clock.clone()).await;
    assert!(
        matches!(&result, Ok(r) if r.outcome == Some(Outcome::PrOpened)),
        "{result:?}"
    );
    assert!(!node.state.join("attempts.json").exists());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_without_checks_or_statuses_still_registers() {
    let github = fake().await;
    github.with_app();
    {
        let mut s = github.state();
        let app = s.app.as_mut().expect("app");
        app.granted.remove("checks");
        app.granted.remove("statuses");
    }
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        let mint = s
            .requests
            .iter()
            .find(|r| r.path.ends_with("/access_tokens"))
            .unwrap();
        assert_eq!(
            mint.body.as_ref().unwrap()["permissions"],
            json!({"contents": "write", "pull_requests": "write", "metadata": "read"})
        );
        assert_eq!(s.open_pulls().len(), 1);
    }
    // With the installation id configured (no lookup, grants unknown): asked for all, refused,
    // minted without the optional reads.
    let github = fake().await;
    github.with_app();
    {
        let mut s = github.state();
        let app = s.app.as_mut().expect("app");
        app.granted.remove("checks");
        app.granted.remove("statuses");
    }
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    node.set(
        "github_app_installation_id",
        &enlist_e2e::fake::app::INSTALLATION_ID.to_string(),
    );
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    let mints: Vec<u16> = s
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/access_tokens"))
        .map(|r| r.status)
        .collect();
    assert_eq!(mints, [422, 201]);
    assert_eq!(s.open_pulls().len(), 1);
    drop(s);
    github.assert_contract();
}
