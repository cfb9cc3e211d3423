//! The registration lifecycle through the real binary: fresh, reboot, merge, reinstall, close,
//! leftover branch, concurrency, collisions, changed facts, dry runs, bad tokens.

use enlist_e2e::fake::HeadFilter;
use enlist_e2e::node::Node;
use serde_json::Value;

use crate::{AUTO_MERGE, fake, fresh_without_auto_merge, pending, without_shas};

const DELL: &str = "node-faf6ca";

#[tokio::test(flavor = "multi_thread")]
async fn fresh_registration_opens_exactly_one_pr_in_seven_requests() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    // Without auto-merge: SPEC §4's base budget (≤ 7 requests, ≤ 3 writes), no GraphQL at all.
    node.set("auto_merge", "off");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.lines(), fresh_without_auto_merge(DELL));
    assert_eq!(s.writes().len(), 3);
    assert!(s.graphql.is_empty());
    // head filter with the owner prefix, state=all.
    let list = &s.requests[3];
    assert!(
        list.query
            .contains(&("head".into(), format!("acme:enlist/{DELL}"))),
        "{:?}",
        list.query
    );
    assert!(list.query.contains(&("state".into(), "all".into())));
    // The branch is created at the base head, the file committed there, the PR from it.
    let base_sha = s.requests[1].status;
    assert_eq!(base_sha, 200);
    let create_ref = s.requests[4].body.as_ref().unwrap();
    assert_eq!(create_ref["ref"], format!("refs/heads/enlist/{DELL}"));
    let put = s.requests[5].body.as_ref().unwrap();
    assert_eq!(put["branch"], format!("enlist/{DELL}"));
    assert!(put.get("sha").is_none());
    let pr = s.requests[6].body.as_ref().unwrap();
    assert_eq!(pr["head"], format!("enlist/{DELL}"));
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["title"], format!("Register {DELL} (r640-a1)"));
    assert!(
        pr["body"]
            .as_str()
            .unwrap()
            .contains(&format!("<!-- enlist node_id={DELL} facts_hash=sha256:"))
    );
    // The branch holds exactly what `enlist facts` prints.
    let path = format!("cluster-nodes/{DELL}/node.yaml");
    assert_eq!(
        s.file(&format!("enlist/{DELL}"), &path).unwrap(),
        node.facts_yaml()
    );
    assert_eq!(
        s.file("main", &path),
        None,
        "nothing lands on the base branch without review"
    );
    assert_eq!(s.open_pulls().len(), 1);
    // API version header on every request.
    assert!(s.requests.iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "x-github-api-version" && v == "2022-11-28")
    }));
    drop(s);
    let marker = node.marker().expect("marker written");
    assert_eq!(marker["state"], "pending");
    assert_eq!(marker["node_id"], DELL);
    assert_eq!(marker["pr_number"], 1);
    assert_eq!(marker["pr_url"], "https://github.com/acme/fleet/pull/1");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn reboot_with_pending_marker_reads_the_pr_and_its_checks_and_writes_nothing() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The PR, its head commit's check runs and (there are none) its combined status: ≤ 3 reads.
    assert_eq!(without_shas(&github.state().lines()), pending(1));
    assert_eq!(node.marker().unwrap()["state"], "pending");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn merged_pr_flips_to_registered_then_reboots_make_zero_requests() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().merge(1);
    github.state().requests.clear();
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    assert_eq!(node.marker().unwrap()["state"], "registered");
    github.state().requests.clear();
    for _ in 0..3 {
        node.reboot();
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0));
    }
    assert!(
        github.state().requests.is_empty(),
        "a registered node asks nothing"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn reinstall_with_pr_open_comments_once_per_boot_never_a_second_pr() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().requests.clear();
    node.reinstall();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        assert_eq!(
            s.lines(),
            [
                "GET /repos/acme/fleet",
                "GET /repos/acme/fleet/git/ref/heads/main",
                &format!("GET /repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml"),
                "GET /repos/acme/fleet/pulls",
                &format!("GET /repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml"),
                "GET /repos/acme/fleet/issues/1/comments",
                "POST /repos/acme/fleet/issues/1/comments",
            ]
        );
        assert_eq!(s.pulls.len(), 1);
        assert_eq!(s.comments.len(), 1);
        assert!(s.comments[0].body.contains("came up again"));
        assert!(s.comments[0].body.contains("boot_id=b0071002"));
    }
    assert_eq!(node.marker().unwrap()["state"], "pending");
    // Same boot, marker lost again (e.g. the state dir was wiped by hand): no second comment.
    let _ = std::fs::remove_dir_all(&node.state);
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().comments.len(), 1);
    // Next boot after another reinstall: one more comment.
    node.reinstall();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(github.state().comments.len(), 2);
    assert_eq!(github.state().pulls.len(), 1);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn pr_closed_unmerged_is_a_rejection_never_reopened() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().close(1);
    node.reboot();
    github.state().requests.clear();
    assert_eq!(node.run(&[]).code, Some(0));
    // The request table (docs/src/first-boot.md): the pending marker's PR, closed, then the base branch's file (it may have
    // got there another way): four reads, once, no write.
    assert_eq!(
        github.state().lines(),
        [
            "GET /repos/acme/fleet/pulls/1",
            "GET /repos/acme/fleet",
            "GET /repos/acme/fleet/git/ref/heads/main",
            "GET /repos/acme/fleet/contents/cluster-nodes/node-faf6ca/node.yaml",
        ]
    );
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    // Then a rejected marker: no request at all.
    github.state().requests.clear();
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert!(github.state().requests.is_empty());
    // Even after a reinstall (no marker), the closed PR with the same facts is respected.
    node.reinstall();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // The request table (docs/src/first-boot.md): 4 requests, 0 writes.
    assert_eq!(s.requests.len(), 4, "{:?}", s.lines());
    assert!(s.writes().is_empty(), "{:?}", s.lines());
    assert_eq!(s.pulls.len(), 1);
    assert_eq!(s.pulls[0].state, "closed");
    drop(s);
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn leftover_branch_from_a_crash_is_completed() {
    let github = fake().await;
    // A previous run died after creating the branch (before the commit).
    github.state().create_branch(&format!("enlist/{DELL}"));
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // The request table (docs/src/first-boot.md): 9 requests, 4 writes (one answered 422).
    let file = format!("/repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml");
    assert_eq!(
        s.lines(),
        [
            "GET /repos/acme/fleet".to_owned(),
            "GET /repos/acme/fleet/git/ref/heads/main".to_owned(),
            format!("GET {file}"),
            "GET /repos/acme/fleet/pulls".to_owned(),
            "POST /repos/acme/fleet/git/refs".to_owned(),
            format!("GET {file}"),
            format!("PUT {file}"),
            "POST /repos/acme/fleet/pulls".to_owned(),
            AUTO_MERGE.to_owned(),
        ]
    );
    assert_eq!(
        s.requests[4].status, 422,
        "Reference already exists is adopted"
    );
    assert_eq!(s.writes().len(), 4);
    assert_eq!(s.open_pulls().len(), 1);
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn leftover_branch_with_file_only_needs_the_pr() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let branch = format!("enlist/{DELL}");
    {
        let mut s = github.state();
        s.create_branch(&branch);
        s.put_file(
            &branch,
            &format!("cluster-nodes/{DELL}/node.yaml"),
            &node.facts_yaml(),
        );
    }
    assert_eq!(node.run(&[]).code, Some(0));
    let s = github.state();
    assert!(
        !s.lines().iter().any(|l| l.starts_with("PUT")),
        "the file was already right: {:?}",
        s.lines()
    );
    // The adopted branch ("Reference already exists"), the PR, auto-merge.
    let writes: Vec<String> = s.writes().iter().map(|r| r.line()).collect();
    assert_eq!(
        writes,
        [
            "POST /repos/acme/fleet/git/refs",
            "POST /repos/acme/fleet/pulls",
            AUTO_MERGE
        ]
    );
    assert_eq!(s.open_pulls().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_runs_on_one_node_give_one_pr() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let a = node.spawn(&[]);
    let b = node.spawn(&[]);
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let s = github.state();
    assert_eq!(s.pulls.len(), 1);
    // The second run waited for the lock, then saw the pending marker: the pending reads, no
    // write.
    assert_eq!(s.writes().len(), 4, "{:?}", s.lines());
    assert_eq!(s.requests.len(), 8 + 3, "{:?}", s.lines());
    assert_eq!(without_shas(&s.lines()[8..]), pending(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn collision_with_another_machine_extends_the_id() {
    let github = fake().await;
    // Another machine already owns node-faf6ca (a 6-hex collision).
    let other = Node::new("supermicro-x11", &github);
    let foreign = other.facts_yaml().replace("node-8a753f", DELL);
    github
        .state()
        .put_file("main", &format!("cluster-nodes/{DELL}/node.yaml"), &foreign);
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    let long = "node-faf6ca57";
    assert_eq!(
        s.file("main", &format!("cluster-nodes/{DELL}/node.yaml"))
            .unwrap(),
        foreign,
        "never overwritten"
    );
    let written = s
        .file(
            &format!("enlist/{long}"),
            &format!("cluster-nodes/{long}/node.yaml"),
        )
        .unwrap();
    assert!(written.contains(&format!("nodeId: {long}")));
    assert_eq!(s.pulls.len(), 1);
    drop(s);
    assert_eq!(node.marker().unwrap()["node_id"], long);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn unresolvable_collision_exits_65_without_writing() {
    let github = fake().await;
    let other = Node::new("supermicro-x11", &github);
    for id in [
        "node-faf6ca",
        "node-faf6ca57",
        "node-faf6ca57ba",
        "node-faf6ca57baeb",
    ] {
        let foreign = other.facts_yaml().replace("node-8a753f", id);
        github
            .state()
            .put_file("main", &format!("cluster-nodes/{id}/node.yaml"), &foreign);
    }
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(65), "{}", run.stderr);
    assert!(run.stderr.contains("collision"), "{}", run.stderr);
    assert!(github.state().writes().is_empty());
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn already_upstream_is_registered_without_a_pr() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    github.state().put_file(
        "main",
        &format!("cluster-nodes/{DELL}/node.yaml"),
        &node.facts_yaml(),
    );
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // The request table (docs/src/first-boot.md): 3 requests, 0 writes.
    assert_eq!(s.requests.len(), 3);
    assert!(s.writes().is_empty());
    drop(s);
    assert_eq!(node.marker().unwrap()["state"], "registered");
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_facts_update_the_open_pr_never_a_second_one() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    node.set_hostname("r640-renamed");
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // The request table (docs/src/first-boot.md): 9 requests, 3 writes.
    let file = format!("/repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml");
    assert_eq!(
        s.lines(),
        [
            "GET /repos/acme/fleet".to_owned(),
            "GET /repos/acme/fleet/git/ref/heads/main".to_owned(),
            format!("GET {file}"),
            "GET /repos/acme/fleet/pulls".to_owned(),
            format!("GET {file}"),
            format!("PUT {file}"),
            "PATCH /repos/acme/fleet/pulls/1".to_owned(),
            "GET /repos/acme/fleet/issues/1/comments".to_owned(),
            "POST /repos/acme/fleet/issues/1/comments".to_owned(),
        ]
    );
    let writes: Vec<String> = s.writes().iter().map(|r| r.line()).collect();
    assert_eq!(
        writes,
        [
            format!("PUT /repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml"),
            "PATCH /repos/acme/fleet/pulls/1".to_owned(),
            "POST /repos/acme/fleet/issues/1/comments".to_owned(),
        ]
    );
    let put = s.writes()[0].body.clone().unwrap();
    assert!(put.get("sha").is_some(), "an update carries the blob sha");
    assert_eq!(s.pulls.len(), 1);
    assert!(s.pulls[0].body.contains("r640-renamed"));
    assert!(s.comments[0].body.contains("facts"));
    let file = s
        .file(
            &format!("enlist/{DELL}"),
            &format!("cluster-nodes/{DELL}/node.yaml"),
        )
        .unwrap();
    assert!(file.contains("hostname: r640-renamed"));
    drop(s);
    assert_eq!(file, node.facts_yaml());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn changed_facts_after_merge_open_an_update_pr() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().merge(1);
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    node.set_hostname("r640-b2");
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // The request table (docs/src/first-boot.md): 8 requests, 4 writes (the branch exists: 422, adopted, then reset to the
    // base); no auto-merge for an update.
    let file = format!("/repos/acme/fleet/contents/cluster-nodes/{DELL}/node.yaml");
    assert_eq!(
        s.lines(),
        [
            "GET /repos/acme/fleet".to_owned(),
            "GET /repos/acme/fleet/git/ref/heads/main".to_owned(),
            format!("GET {file}"),
            "GET /repos/acme/fleet/pulls".to_owned(),
            "POST /repos/acme/fleet/git/refs".to_owned(),
            format!("PATCH /repos/acme/fleet/git/refs/heads/enlist/{DELL}"),
            format!("PUT {file}"),
            "POST /repos/acme/fleet/pulls".to_owned(),
        ]
    );
    assert_eq!(s.requests[4].status, 422);
    assert_eq!(s.writes().len(), 4);
    assert_eq!(s.pulls.len(), 2);
    assert_eq!(s.open_pulls().len(), 1);
    let update = s.open_pulls()[0].clone();
    assert_eq!(update.title, format!("Update {DELL} (r640-b2) facts"));
    // The merged PR's branch was reset to main before reuse.
    assert!(
        s.lines()
            .iter()
            .any(|l| l == &format!("PATCH /repos/acme/fleet/git/refs/heads/enlist/{DELL}"))
    );
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_with_token_reads_only_and_leaves_no_file() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let run = node.run(&["--dry-run"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.requests.len(), 4, "{:?}", s.lines());
    assert!(s.writes().is_empty());
    assert!(
        run.stderr.contains("would open a pull request"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("would create branch"), "{}", run.stderr);
    assert_eq!(run.stdout, node.facts_yaml());
    assert!(!node.state.exists(), "no state dir, lock or marker");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_without_token_makes_no_request() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    std::fs::remove_file(&node.token_file).unwrap();
    let mut node = node;
    node.unset("token_file");
    let run = node.run(&["--dry-run"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("remote checks skipped"));
    assert!(github.state().requests.is_empty());
    assert!(!node.state.exists());
    // Without --dry-run the missing token is a configuration error.
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78));
    assert!(github.state().requests.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_token_exits_77_with_no_write_and_no_marker() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    std::fs::write(&node.token_file, "ghp_revokedToken000000000000000\n").unwrap();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert!(!run.stderr.contains("ghp_revokedToken"));
    assert_eq!(github.state().requests.len(), 1);
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_repo_exits_78() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("repo", "acme/does-not-exist");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(run.stderr.contains("acme/does-not-exist"));
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_are_applied_as_a_fourth_write() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("labels", "[enlist, hardware]");
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    let s = github.state();
    assert_eq!(s.writes().len(), 4);
    assert_eq!(
        s.writes()[3].line(),
        "POST /repos/acme/fleet/issues/1/labels"
    );
    assert_eq!(s.pulls[0].labels, ["enlist", "hardware"]);
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_nodes_pr_returned_by_a_sloppy_filter_is_ignored() {
    let github = fake().await;
    {
        let mut s = github.state();
        s.create_branch("enlist/node-8a753f");
        s.put_file(
            "enlist/node-8a753f",
            "cluster-nodes/node-8a753f/node.yaml",
            "x",
        );
        s.open_pull(
            "enlist/node-8a753f",
            "Register node-8a753f (sm-b07)",
            "<!-- enlist node_id=node-8a753f facts_hash=sha256:00 boot_id=x -->",
        );
        s.head_filter = HeadFilter::AllPulls;
    }
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(
        s.open_pulls().len(),
        2,
        "our own PR was opened, the other node's was not adopted"
    );
    assert!(s.comments.is_empty());
}

/// A PR of the node's branch into another branch (opened by a person by mistake, or by a stolen
/// node credential aiming at a branch nothing protects) is not the node's registration: the node
/// asks GitHub for its PRs into the base branch, opens its own there, and never comments on or
/// turns on auto-merge for the other — also when GitHub's filter misbehaves (the client checks
/// `base.ref` itself). Before, it adopted the other PR and took its merge for a registration.
#[tokio::test(flavor = "multi_thread")]
async fn a_pr_of_the_nodes_branch_into_another_branch_is_never_adopted() {
    for filter in [HeadFilter::GitHub, HeadFilter::AllPulls] {
        let github = fake().await;
        let node = Node::new("dell-r640", &github);
        let branch = format!("enlist/{DELL}");
        let other = {
            let mut s = github.state();
            s.create_branch("release");
            s.create_branch(&branch);
            s.put_file(
                &branch,
                &format!("cluster-nodes/{DELL}/node.yaml"),
                &node.facts_yaml(),
            );
            let other = s.open_pull_into(&branch, "release", "Register it", "");
            s.head_filter = filter;
            other
        };
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "{filter:?}: {}", run.stderr);
        let s = github.state();
        let listed = s
            .requests
            .iter()
            .find(|r| r.method == "GET" && r.path == "/repos/acme/fleet/pulls")
            .expect("the node lists its PRs");
        assert!(
            listed
                .query
                .contains(&("base".to_owned(), "main".to_owned())),
            "{:?}",
            listed.query
        );
        let ours: Vec<u64> = s
            .open_pulls()
            .iter()
            .filter(|p| p.head == branch && p.base == "main")
            .map(|p| p.number)
            .collect();
        assert_eq!(ours.len(), 1, "{filter:?}: {:?}", s.lines());
        assert_ne!(ours[0], other);
        let theirs = s.pull(other).unwrap();
        assert!(theirs.auto_merge.is_none(), "{filter:?}");
        assert_eq!(theirs.base, "release");
        assert!(s.comments.iter().all(|c| c.issue != other), "{filter:?}");
        drop(s);
        assert_eq!(node.marker().unwrap()["pr_number"], ours[0], "{filter:?}");
        github.assert_contract();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_upstream_file_exits_65() {
    let github = fake().await;
    github.state().put_file(
        "main",
        &format!("cluster-nodes/{DELL}/node.yaml"),
        "this: [is not\n",
    );
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(65), "{}", run.stderr);
    assert!(github.state().writes().is_empty());
}

/// Issue 13: a 200 KB upstream node.yaml of nested flow sequences used to hang `register` (the
/// parse time grows with the square of the nesting: 72 s at this size). Now: exit 65 within
/// seconds, no write, no PR, no marker.
#[tokio::test(flavor = "multi_thread")]
async fn deeply_nested_upstream_node_yaml_exits_65_within_seconds_without_a_pr() {
    let github = fake().await;
    let depth = 100_000;
    let hostile = format!("schema: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    github
        .state()
        .put_file("main", &format!("cluster-nodes/{DELL}/node.yaml"), &hostile);
    let node = Node::new("dell-r640", &github);
    let started = std::time::Instant::now();
    let run = node.run(&[]);
    let took = started.elapsed();
    assert_eq!(run.code, Some(65), "{}", run.stderr);
    assert!(
        took < std::time::Duration::from_secs(10),
        "register took {took:?}"
    );
    assert!(
        run.stderr.contains("nested more than 64 levels deep"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("cluster-nodes/{DELL}/node.yaml")),
        "{}",
        run.stderr
    );
    let s = github.state();
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    assert!(s.pulls.is_empty());
    drop(s);
    assert!(node.marker().is_none());
}

/// Issue 25: a 30 KB upstream node.yaml of anchors and aliases (`a: &a [x ×10,000]`, `b: &b
/// [*a ×50]`, `c: [*b ×49]`) made `register` build 25 million values (2.5 GB) before exit 65.
/// A node.yaml has no anchors: refused at the first, exit 65, no write, no PR, no marker.
#[tokio::test(flavor = "multi_thread")]
async fn upstream_node_yaml_with_alias_amplification_exits_65_without_a_pr() {
    let github = fake().await;
    let hostile = format!(
        "a: &a [{}]\nb: &b [{}]\nc: [{}]\n",
        vec!["x"; 10_000].join(", "),
        vec!["*a"; 50].join(", "),
        vec!["*b"; 49].join(", ")
    );
    assert!(hostile.len() > 30_000);
    github
        .state()
        .put_file("main", &format!("cluster-nodes/{DELL}/node.yaml"), &hostile);
    let node = Node::new("dell-r640", &github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(65), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("an anchor or alias (`&name`, `*name`) at line 1 column 4"),
        "{}",
        run.stderr
    );
    let s = github.state();
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    assert!(s.pulls.is_empty());
    drop(s);
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_node_id_and_operator_path_template() {
    let github = fake().await;
    let mut node = Node::new("supermicro-x11", &github);
    node.set("node_id", "rack4-n07");
    node.set(
        "path_template",
        "maintainers/{operator}/cluster-nodes/{node_id}/node.yaml",
    );
    node.set("base_branch", "main");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    let file = s
        .file(
            "enlist/rack4-n07",
            "maintainers/alice/cluster-nodes/rack4-n07/node.yaml",
        )
        .unwrap();
    let doc: Value = serde_yaml::from_str(&file).unwrap();
    assert_eq!(doc["nodeId"], "rack4-n07");
    assert_eq!(doc["operator"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn marker_garbage_is_treated_as_absent() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    std::fs::write(node.state.join("registered.json"), "{\"state\": \"regis").unwrap();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("marker is not valid"), "{}", run.stderr);
    assert_eq!(github.state().pulls.len(), 1);
    assert_eq!(node.marker().unwrap()["state"], "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn colliding_machine_never_takes_over_another_machines_open_pr() {
    let github = fake().await;
    // Machine A's PR sits on the branch machine B would use (their short ids collide).
    let a = Node::new("dell-r640", &github);
    let b_id = "node-8a753f";
    let a_file = a.facts_yaml().replace(DELL, b_id);
    let a_body = format!("<!-- enlist node_id={b_id} facts_hash=sha256:aa boot_id=x -->");
    {
        let mut s = github.state();
        s.create_branch(&format!("enlist/{b_id}"));
        s.put_file(
            &format!("enlist/{b_id}"),
            &format!("cluster-nodes/{b_id}/node.yaml"),
            &a_file,
        );
        s.open_pull(&format!("enlist/{b_id}"), "Register (machine A)", &a_body);
    }
    let b = Node::new("supermicro-x11", &github);
    let run = b.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(
        s.file(
            &format!("enlist/{b_id}"),
            &format!("cluster-nodes/{b_id}/node.yaml")
        ),
        Some(a_file),
        "A's file untouched"
    );
    assert_eq!(s.pulls[0].body, a_body, "A's PR untouched");
    assert!(s.comments.is_empty(), "no comment on A's PR");
    assert_eq!(s.pulls.len(), 2);
    assert_eq!(s.pulls[1].head, "enlist/node-8a753ff3", "B extended its id");
    drop(s);
    assert_eq!(b.marker().unwrap()["node_id"], "node-8a753ff3");
    github.assert_contract();
}

/// A `head.sha` that is not a commit id (here with a two-byte character where a short sha ends)
/// used to panic ("byte index 12 is not a char boundary"; the release build aborts, and the timer
/// repeated it). Now GitHub's answer is refused: exit 76, nothing written, the marker kept.
#[tokio::test(flavor = "multi_thread")]
async fn head_sha_that_is_not_a_commit_id_exits_76_without_a_panic() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github
        .state()
        .branches
        .insert(format!("enlist/{DELL}"), format!("a{}", "ü".repeat(20)));
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(76), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stderr.contains("pull request #1"), "{}", run.stderr);
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    assert_eq!(node.marker().unwrap()["state"], "pending");
}
