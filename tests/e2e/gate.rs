//! The trust gate (issue 24): a compromised node holds the fleet's credential and tries every
//! move it has against the real `enlist gate` binary and the fake GitHub; each fails the gate
//! naming what needs a person. A clean registration (≤ 6 requests) and a person-approved change
//! pass; the gate never writes. Then `enlist doctor` on well- and badly-set repositories.

use std::path::Path;
use std::process::Command;

use enlist::document::NodeDocument;
use enlist_e2e::fake::trust::Who;
use enlist_e2e::fake::{FakeGitHub, REQUIRED_CHECK, TOKEN};
use enlist_e2e::node::{Node, Run, assert_no_token, binary};
use serde_json::Value;

use crate::fake;

const DELL: &str = "node-faf6ca";
const GATE_CHECK: &str = "enlist gate";

fn dell_path() -> String {
    format!("cluster-nodes/{DELL}/node.yaml")
}

/// `enlist gate --repo acme/fleet --api-url … --format json ARGS` with GITHUB_TOKEN, as a CI
/// job runs it (plus `env`).
fn gate(github: &FakeGitHub, args: &[&str], env: &[(&str, &str)]) -> (Run, Value) {
    let mut cmd = Command::new(binary());
    cmd.args(["gate", "--repo", "acme/fleet", "--api-url"])
        .arg(github.url())
        .args(["--format", "json"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_TOKEN", TOKEN);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run enlist gate");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_token(&run.stdout);
    assert_no_token(&run.stderr);
    let verdict = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run, verdict)
}

/// The gate on pull request `pr`; asserts it made no write.
fn gate_pr(github: &FakeGitHub, pr: u64, extra: &[&str]) -> (Run, Value) {
    let before = github.state().requests.len();
    let pr = pr.to_string();
    let mut args = vec!["--pr", pr.as_str()];
    args.extend_from_slice(extra);
    let (run, verdict) = gate(github, &args, &[]);
    let s = github.state();
    let writes: Vec<String> = s.requests[before..]
        .iter()
        .filter(|r| r.is_write())
        .map(|r| r.line())
        .collect();
    assert!(writes.is_empty(), "the gate wrote: {writes:?}");
    (run, verdict)
}

/// Every file's `path: reason` and the review notes, for messages.
fn said(verdict: &Value) -> String {
    let files: Vec<String> = verdict["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| format!("{}: {}", f["path"], f["reason"]))
        .collect();
    format!("{} | {}", files.join(" / "), verdict["reviews"])
}

/// Asserts the gate failed (exit 1) naming `path` with a reason containing `why`.
fn assert_needs_person(run: &Run, verdict: &Value, path: &str, why: &str) {
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(verdict["verdict"], "fail", "{verdict}");
    assert_eq!(verdict["kind"], "needs_person", "{verdict}");
    let file = verdict["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not named: {}", said(verdict)));
    let reason = file["reason"].as_str().unwrap();
    assert!(reason.contains(why), "{path}: {reason}");
    assert!(run.stderr.contains("needs a person"), "{}", run.stderr);
}

/// A node registered (PR #1 from `enlist/node-faf6ca`, one file), as the first boot leaves it.
fn registered_dell(github: &FakeGitHub) -> Node {
    let node = Node::new("dell-r640", github);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.pulls.last().unwrap().head, format!("enlist/{DELL}"));
    drop(s);
    node
}

/// A second machine's registration merged upstream; returns its node id.
fn merged_supermicro(github: &FakeGitHub) -> String {
    let node = Node::new("supermicro-x11", github);
    assert_eq!(node.run(&[]).code, Some(0));
    let (number, id) = {
        let s = github.state();
        let pull = s.pulls.last().unwrap();
        (
            pull.number,
            pull.head.trim_start_matches("enlist/").to_owned(),
        )
    };
    github.state().merge(number);
    id
}

/// `yaml` (a node.yaml) with `edit` applied and its factsHash recomputed: still valid.
fn revalidated(yaml: &str, edit: impl Fn(&mut NodeDocument)) -> String {
    let mut doc = NodeDocument::parse(yaml, "test").expect("valid node.yaml");
    edit(&mut doc);
    doc.facts_hash = doc.compute_facts_hash();
    doc.to_yaml()
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_registration_passes_with_five_reads_and_no_write() {
    let github = fake().await;
    registered_dell(&github);
    github.state().requests.clear();
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(verdict["verdict"], "pass");
    assert_eq!(verdict["kind"], "registration");
    assert_eq!(verdict["node_id"], DELL);
    let head = github.state().head_sha(1).unwrap();
    assert_eq!(verdict["head_sha"], head);
    assert_eq!(verdict["files"][0]["path"], dell_path());
    assert_eq!(verdict["files"][0]["status"], "added");
    let s = github.state();
    let base = s.branches["main"].clone();
    // ≤ 6: the PR, its files, the comparison of its pinned base and head, the file at the head,
    // the PR again (the head did not move).
    assert_eq!(
        s.lines(),
        [
            "GET /repos/acme/fleet/pulls/1".to_owned(),
            "GET /repos/acme/fleet/pulls/1/files".to_owned(),
            format!("GET /repos/acme/fleet/compare/{base}...{head}"),
            format!("GET /repos/acme/fleet/contents/{}", dell_path()),
            "GET /repos/acme/fleet/pulls/1".to_owned(),
        ]
    );
    assert_eq!(
        s.requests[2].query,
        [("per_page".to_owned(), "1".to_owned())],
        "one commit in the answer, not 250"
    );
    let contents = &s.requests[3];
    assert_eq!(
        contents.query,
        [("ref".to_owned(), head.clone())],
        "read at the pinned head"
    );
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extra_file_on_the_registration_branch_needs_a_person() {
    let github = fake().await;
    registered_dell(&github);
    // The compromised node pushes the flake (which builds every node) onto its own PR.
    github.state().put_file(
        &format!("enlist/{DELL}"),
        "flake.nix",
        "{ outputs = _: { }; }\n",
    );
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_needs_person(&run, &verdict, "flake.nix", "is not a registration");
    assert_needs_person(&run, &verdict, &dell_path(), "changes 2 files");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_nodes_file_needs_a_person_added_or_modified() {
    let github = fake().await;
    let other = merged_supermicro(&github);
    let other_path = format!("cluster-nodes/{other}/node.yaml");
    let node = registered_dell(&github);
    let branch = format!("enlist/{DELL}");
    let mine = node.facts_yaml();

    // Its own valid document under another node's id: the nodeId is not the path's.
    {
        let mut s = github.state();
        s.delete_file(&branch, &dell_path());
        s.put_file(&branch, "cluster-nodes/node-0badf0/node.yaml", &mine);
    }
    let (run, verdict) = gate_pr(&github, 2, &[]);
    assert_needs_person(
        &run,
        &verdict,
        "cluster-nodes/node-0badf0/node.yaml",
        "does not match its directory",
    );

    // The other node's registered file, rewritten with a valid hash (its hostname): an update of
    // someone else's registration from this node's branch.
    let theirs = github.state().file("main", &other_path).unwrap();
    let rewritten = revalidated(&theirs, |doc| doc.hostname = "pwned".into());
    {
        let mut s = github.state();
        s.delete_file(&branch, "cluster-nodes/node-0badf0/node.yaml");
        s.put_file(&branch, &other_path, &rewritten);
    }
    let (run, verdict) = gate_pr(&github, 2, &[]);
    assert_needs_person(&run, &verdict, &other_path, "--allow-updates");
    let (run, verdict) = gate_pr(&github, 2, &["--allow-updates"]);
    assert_needs_person(
        &run,
        &verdict,
        &other_path,
        &format!("comes from branch {branch}, not from node {other}'s own branch"),
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_a_workflow_and_two_registrations_need_a_person() {
    let github = fake().await;
    let other = merged_supermicro(&github);
    let other_path = format!("cluster-nodes/{other}/node.yaml");
    let node = registered_dell(&github);
    let branch = format!("enlist/{DELL}");

    // Deleting another node's registration (its own file reverted: one file in the PR).
    {
        let mut s = github.state();
        s.delete_file(&branch, &dell_path());
        s.delete_file(&branch, &other_path);
    }
    let (run, verdict) = gate_pr(&github, 2, &["--allow-updates"]);
    assert_needs_person(
        &run,
        &verdict,
        &other_path,
        &format!("deletes node {other}'s registration"),
    );

    // A workflow file (node credentials never hold `workflows`; the gate says why anyway).
    {
        let mut s = github.state();
        let upstream = s.file("main", &other_path).unwrap();
        s.put_file(&branch, &other_path, &upstream);
        s.put_file(
            &branch,
            ".github/workflows/enlist-gate.yml",
            "on: pull_request\njobs: {}\n",
        );
    }
    let (run, verdict) = gate_pr(&github, 2, &[]);
    assert_needs_person(
        &run,
        &verdict,
        ".github/workflows/enlist-gate.yml",
        "automation",
    );

    // Two registrations in one PR: its own and a made-up machine's.
    let invented = revalidated(&node.facts_yaml(), |doc| {
        doc.node_id = enlist::identity::NodeId::parse("node-abcdef").unwrap();
        doc.identity.fingerprint = format!("sha256:{}", "ab".repeat(32));
    });
    {
        let mut s = github.state();
        s.delete_file(&branch, ".github/workflows/enlist-gate.yml");
        s.put_file(&branch, &dell_path(), &node.facts_yaml());
        s.put_file(&branch, "cluster-nodes/node-abcdef/node.yaml", &invented);
    }
    let (run, verdict) = gate_pr(&github, 2, &[]);
    assert_needs_person(
        &run,
        &verdict,
        "cluster-nodes/node-abcdef/node.yaml",
        "changes 2 files",
    );
    assert_needs_person(&run, &verdict, &dell_path(), "changes 2 files");
    github.assert_contract();
}

/// A person's pull request the compromised node pushed to, and the approvals it can muster.
#[tokio::test(flavor = "multi_thread")]
async fn approvals_that_do_not_count_and_one_that_does() {
    let github = fake().await;
    let pr = {
        let mut s = github.state();
        s.create_branch("alice/bump");
        s.put_file(
            "alice/bump",
            "flake.nix",
            "{ inputs.nixpkgs.url = \"x\"; }\n",
        );
        let pr = s.open_pull("alice/bump", "Bump nixpkgs", "");
        s.trust.authors.insert(pr, Who::user("alice"));
        s.trust.grant("alice", "write");
        s.trust.grant("bob", "maintain");
        s.trust.grant("carol", "triage");
        pr
    };
    let head_by_alice = github.state().head_sha(pr).unwrap();
    github
        .state()
        .trust
        .review(pr, Who::user("bob"), "APPROVED", &head_by_alice);
    // Bob approved; then the node's token pushes to the branch: an approval of an older head.
    github.state().put_file(
        "alice/bump",
        "flake.nix",
        "{ inputs.nixpkgs.url = \"evil\"; }\n",
    );
    let head = github.state().head_sha(pr).unwrap();
    let (run, verdict) = gate_pr(&github, pr, &["--machine-login", "fleet-bot"]);
    assert_needs_person(&run, &verdict, "flake.nix", "is not a registration");
    assert!(
        said(&verdict).contains("bob approved an older commit"),
        "{}",
        said(&verdict)
    );

    // The machine user (the token's user, write access) approves the new head.
    github
        .state()
        .trust
        .review(pr, Who::user("fleet-bot"), "APPROVED", &head);
    let (run, verdict) = gate_pr(&github, pr, &["--machine-login", "fleet-bot"]);
    assert_needs_person(&run, &verdict, "flake.nix", "is not a registration");
    assert!(
        said(&verdict).contains("fleet-bot is one of the fleet's machine identities"),
        "{}",
        said(&verdict)
    );
    // Without --machine-login that approval would count: why doctor names the token's user.
    let (run, verdict) = gate_pr(&github, pr, &[]);
    assert_eq!(run.code, Some(0), "{}", said(&verdict));
    assert_eq!(verdict["approved_by"], "fleet-bot");

    // A bot (an App's installation token) and a triager do not count either.
    github
        .state()
        .trust
        .review(pr, Who::bot("enlist-nodes[bot]"), "APPROVED", &head);
    github
        .state()
        .trust
        .review(pr, Who::user("carol"), "APPROVED", &head);
    let (run, verdict) = gate_pr(&github, pr, &["--machine-login", "fleet-bot"]);
    assert_eq!(run.code, Some(1));
    let notes = said(&verdict);
    assert!(notes.contains("enlist-nodes[bot] is a bot"), "{notes}");
    assert!(notes.contains("carol has triage access"), "{notes}");

    // A person with write access approves the current head: it passes, as `approved`.
    github.state().requests.clear();
    github
        .state()
        .trust
        .review(pr, Who::user("bob"), "APPROVED", &head);
    let (run, verdict) = gate_pr(&github, pr, &["--machine-login", "fleet-bot"]);
    assert_eq!(run.code, Some(0), "{}", said(&verdict));
    assert_eq!(verdict["verdict"], "pass");
    assert_eq!(verdict["kind"], "approved");
    assert_eq!(verdict["approved_by"], "bob");
    assert_eq!(verdict["files"][0]["path"], "flake.nix");
    let lines = github.state().lines();
    assert!(
        lines.contains(&format!("GET /repos/acme/fleet/pulls/{pr}/reviews")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with("GET ")),
        "reads only: {lines:?}"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn self_approval_by_the_author_needs_a_person() {
    let github = fake().await;
    registered_dell(&github);
    github
        .state()
        .put_file(&format!("enlist/{DELL}"), "hosts.nix", "{ }\n");
    let head = github.state().head_sha(1).unwrap();
    // The PR's author (the nodes' machine user) approves its own PR: GitHub refuses that, a
    // crafted answer or a future API might not; the gate checks anyway.
    github
        .state()
        .trust
        .review(1, Who::user("fleet-bot"), "APPROVED", &head);
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_needs_person(&run, &verdict, "hosts.nix", "is not a registration");
    assert!(
        said(&verdict).contains("fleet-bot opened the pull request"),
        "{}",
        said(&verdict)
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_may_not_swap_the_identity() {
    let github = fake().await;
    registered_dell(&github);
    github.state().merge(1);
    let upstream = github.state().file("main", &dell_path()).unwrap();
    let swapped = revalidated(&upstream, |doc| {
        doc.identity.fingerprint = format!("sha256:{}", "cd".repeat(32));
    });
    let branch = format!("enlist/{DELL}");
    {
        let mut s = github.state();
        s.create_branch(&branch);
        s.put_file(&branch, &dell_path(), &swapped);
        s.open_pull(&branch, "enlist: update", "");
    }
    let (run, verdict) = gate_pr(&github, 2, &["--allow-updates"]);
    assert_needs_person(&run, &verdict, &dell_path(), "identity fingerprint");

    // The same file with more memory (hardware drift) is an update a machine may make.
    let grown = revalidated(&upstream, |doc| doc.memory.total_bytes *= 2);
    github.state().put_file(&branch, &dell_path(), &grown);
    github.state().requests.clear();
    let (run, verdict) = gate_pr(&github, 2, &["--allow-updates"]);
    assert_eq!(run.code, Some(0), "{}", said(&verdict));
    assert_eq!(verdict["kind"], "update");
    // ≤ 6: the PR, its files, their pinned comparison, the file at the head and at the base,
    // the PR again.
    assert_eq!(
        github.state().requests.len(),
        6,
        "{:?}",
        github.state().lines()
    );
    github.assert_contract();
}

/// With `--allow-updates`, the node's credential renames another node from a branch of its own:
/// the fleet's configurations are keyed by hostname (enlist.lib's default), so the rename would
/// hand that machine another configuration, or (a name already taken) break every node's.
#[tokio::test(flavor = "multi_thread")]
async fn an_update_may_not_rename_another_node_or_move_it_to_another_operator() {
    let github = fake().await;
    let other = merged_supermicro(&github);
    let other_path = format!("cluster-nodes/{other}/node.yaml");
    let theirs = github.state().file("main", &other_path).unwrap();
    let pr = {
        let mut s = github.state();
        s.create_branch("fix-inventory");
        s.put_file(
            "fix-inventory",
            &other_path,
            &revalidated(&theirs, |doc| doc.hostname = "r640-a01".into()),
        );
        s.open_pull("fix-inventory", "Fix a typo", "")
    };
    let (run, verdict) = gate_pr(&github, pr, &["--allow-updates"]);
    assert_needs_person(&run, &verdict, &other_path, "it changes the hostname");

    github.state().put_file(
        "fix-inventory",
        &other_path,
        &revalidated(&theirs, |doc| doc.operator = Some("mallory".into())),
    );
    let (run, verdict) = gate_pr(&github, pr, &["--allow-updates"]);
    assert_needs_person(&run, &verdict, &other_path, "it changes the operator");
    github.assert_contract();
}

/// The PR's file list is not pinned to the head the gate read: the node's token pushes a second
/// file, and while the gate runs the list still shows the registration alone (GitHub computed it
/// late, or the head was pushed away and back). The comparison of the pinned shas shows both.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_list_behind_the_head_cannot_pass_a_second_file() {
    let github = fake().await;
    registered_dell(&github);
    let branch = format!("enlist/{DELL}");
    let clean = github.state().head_sha(1).unwrap();
    {
        let mut s = github.state();
        s.put_file(&branch, "flake.nix", "{ outputs = _: { }; }\n");
        s.trust.files_from = Some(clean);
    }
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_needs_person(
        &run,
        &verdict,
        &dell_path(),
        "the comparison of the gated head",
    );
    assert!(
        said(&verdict).contains("changes 2 files"),
        "{}",
        said(&verdict)
    );
    github.assert_contract();
}

/// A registration that reconcile's parser accepts but no node wrote: YAML tags and comments are
/// read differently (or acted on) by other tools; the gate passes only enlist's own bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_hand_written_registration_needs_a_person() {
    let github = fake().await;
    let node = registered_dell(&github);
    let tagged = node
        .facts_yaml()
        .replacen("hostname: ", "hostname: !!str ", 1);
    github
        .state()
        .put_file(&format!("enlist/{DELL}"), &dell_path(), &tagged);
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_needs_person(
        &run,
        &verdict,
        &dell_path(),
        "not byte for byte the file enlist writes",
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_may_not_change_the_ssh_host_keys() {
    let github = fake().await;
    registered_dell(&github);
    github.state().merge(1);
    let upstream = github.state().file("main", &dell_path()).unwrap();
    // The same node.yaml with another SSH host key: what a stolen node credential would push to
    // redirect who can read the node's secrets. Two real ed25519 keys (node.yaml refuses
    // anything else).
    let with_key = |key: &str| -> String {
        let mut doc = NodeDocument::parse_unverified(&upstream, "test").expect("node.yaml");
        doc.ssh_host_keys = vec![enlist::hostkey::HostKey::parse(key).expect("a valid key")];
        doc.facts_hash = doc.compute_facts_hash();
        doc.to_yaml()
    };
    let before = with_key(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkEBwiWd+QVpAX7U70Q8DJrD8coVZ1dLKsdnGqWebZA",
    );
    let after = with_key(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+IOnQmmN0O95G9JY9vbHDbkdtTCsgLOSrqITztMG/r",
    );
    assert_ne!(before, after);
    let branch = format!("enlist/{DELL}");
    {
        let mut s = github.state();
        s.put_file("main", &dell_path(), &before);
        s.create_branch(&branch);
        s.put_file(&branch, &dell_path(), &after);
        s.open_pull(&branch, "enlist: update", "");
    }
    let (run, verdict) = gate_pr(&github, 2, &["--allow-updates"]);
    assert_needs_person(&run, &verdict, &dell_path(), "SSH host keys");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_that_moves_while_gating_fails_the_run_with_75() {
    let github = fake().await;
    registered_dell(&github);
    // The node's token pushes the moment the gate reads the files: the run read one head and
    // would answer for another.
    github.state().trust.push_when_files_are_read =
        Some(("flake.nix".to_owned(), "{ }\n".to_owned()));
    let (run, verdict) = gate_pr(&github, 1, &[]);
    assert_eq!(run.code, Some(75), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(verdict, Value::Null, "no verdict: {}", run.stdout);
    assert!(run.stderr.contains("moved from"), "{}", run.stderr);

    // In GitHub Actions the event names the head its check is for: a PR already elsewhere is not
    // gated at all (one read).
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"action": "synchronize", "pull_request": {{"number": 1, "head": {{"sha": "{}"}}}}}}"#,
            "9".repeat(40)
        ),
    )
    .unwrap();
    github.state().requests.clear();
    let (run, _) = gate(
        &github,
        &[],
        &[("GITHUB_EVENT_PATH", event.to_str().unwrap())],
    );
    assert_eq!(run.code, Some(75), "{}", run.stderr);
    assert_eq!(github.state().lines(), ["GET /repos/acme/fleet/pulls/1"]);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn in_github_actions_the_event_names_the_pr_and_the_summary_gets_the_report() {
    let github = fake().await;
    registered_dell(&github);
    let head = github.state().head_sha(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"action": "submitted", "review": {{"state": "approved"}}, "pull_request": {{"number": 1, "head": {{"sha": "{head}"}}}}}}"#
        ),
    )
    .unwrap();
    let summary = dir.path().join("summary.md");
    let inventory = dir.path().join("inventory.csv");
    std::fs::write(&inventory, "serial,mac\nOTHER1,aa:bb:cc:dd:ee:ff\n").unwrap();
    let mut cmd = Command::new(binary());
    cmd.args(["gate", "--format", "github", "--inventory"])
        .arg(&inventory)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_REPOSITORY", "acme/fleet")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_API_URL", github.url())
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_STEP_SUMMARY", &summary);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_no_token(&stdout);
    // The machine is not in the inventory: a machine nobody bought needs a person.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "::error file={},title=enlist gate%3A needs a person::",
            dell_path()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("not in the inventory"), "{stdout}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### ❌ enlist gate: needs a person"), "{md}");
    assert!(md.contains(&format!("`{}`", dell_path())), "{md}");

    // With the machine in the inventory (by its serial), the registration passes.
    std::fs::write(&inventory, "serial,mac\n5H8VXC3,\n").unwrap();
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains(&format!(
            "### ✅ enlist gate: registration of node `{DELL}`"
        )),
        "{md}"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_cannot_read_the_pr_exits_77_and_a_missing_pr_too() {
    let github = fake().await;
    let (run, _) = gate(&github, &["--pr", "41"], &[]);
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    assert!(run.stderr.contains("pull request #41"), "{}", run.stderr);
    let (run, _) = gate(
        &github,
        &["--pr", "1"],
        &[("GITHUB_TOKEN", "ghp_notTheTokenTheFakeAccepts000000000")],
    );
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    let (run, _) = gate(&github, &[], &[]);
    assert_eq!(run.code, Some(64), "no PR: {}", run.stderr);
}

// ---- enlist doctor ----

/// `enlist doctor --config <node's config> --json`.
fn doctor(github: &FakeGitHub, node: &Node, extra: &[&str]) -> (Run, Value) {
    let before = github.state().requests.len();
    let out = Command::new(binary())
        .args(["doctor", "--json", "--config"])
        .arg(&node.config)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run enlist doctor");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_token(&run.stdout);
    assert_no_token(&run.stderr);
    let s = github.state();
    let writes: Vec<String> = s.requests[before..]
        .iter()
        .filter(|r| r.is_write())
        .map(|r| r.line())
        .filter(|l| !l.ends_with("/access_tokens") && l != "DELETE /installation/token")
        .collect();
    assert!(writes.is_empty(), "doctor wrote: {writes:?}");
    let report = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run, report)
}

fn line<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["check"] == check)
        .unwrap_or_else(|| panic!("no {check} line: {report}"))
}

fn well_set(github: &FakeGitHub) {
    let mut s = github.state();
    s.required_checks.insert(
        "main".into(),
        vec![REQUIRED_CHECK.to_owned(), GATE_CHECK.to_owned()],
    );
    s.allow_auto_merge = true;
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_a_well_set_repository_and_names_the_machine_login() {
    let github = fake().await;
    well_set(&github);
    let node = Node::new("dell-r640", &github);
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(report["healthy"], true);
    for check in [
        "credential",
        "base_branch",
        "auto_merge",
        "requires_reconcile",
        "requires_gate",
        "fork_workflows",
        "stale_approvals",
        "machine_access",
        "machine_login",
    ] {
        assert_eq!(line(&report, check)["status"], "ok", "{check}: {report}");
    }
    assert!(
        line(&report, "requires_gate")["detail"]
            .as_str()
            .unwrap()
            .ends_with("from GitHub Actions"),
        "{report}"
    );
    assert!(
        line(&report, "machine_login")["fix"]
            .as_str()
            .unwrap()
            .contains("--machine-login fleet-bot")
    );
    assert_eq!(
        github.state().lines(),
        [
            "GET /repos/acme/fleet",
            "GET /repos/acme/fleet/git/ref/heads/main",
            "GET /repos/acme/fleet/rules/branches/main",
            "GET /repos/acme/fleet/branches/main/protection",
            "GET /user",
            "GET /repos/acme/fleet/collaborators/fleet-bot/permission",
        ]
    );
    // The text form: one line per check, a mark first.
    let out = Command::new(binary())
        .args(["doctor", "--config"])
        .arg(&node.config)
        .env_clear()
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("✔ base branch main exists")),
        "{text}"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_flags_disallowed_auto_merge_a_missing_gate_and_a_classic_token() {
    let github = fake().await;
    {
        let mut s = github.state();
        s.allow_auto_merge = false;
        // Only the reconcile check is required (the fake's default), by a ruleset.
        s.trust.oauth_scopes = Some("repo, workflow".into());
    }
    let node = Node::new("dell-r640", &github);
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert_eq!(report["healthy"], false);
    assert_eq!(line(&report, "auto_merge")["status"], "fail");
    assert!(
        line(&report, "auto_merge")["fix"]
            .as_str()
            .unwrap()
            .contains("Allow auto-merge")
    );
    assert_eq!(line(&report, "requires_reconcile")["status"], "ok");
    let gate_line = line(&report, "requires_gate");
    assert_eq!(gate_line["status"], "fail", "{report}");
    assert!(
        gate_line["detail"]
            .as_str()
            .unwrap()
            .contains("`enlist gate`"),
        "{gate_line}"
    );
    let classic = line(&report, "classic_token");
    assert_eq!(classic["status"], "fail");
    assert!(
        classic["detail"]
            .as_str()
            .unwrap()
            .contains("every repository its owner can")
    );
    github.assert_contract();
}

/// What a stolen node credential could use that the first doctor did not flag: a required check
/// that any commit status satisfies, a machine user that administers the repository (it bypasses
/// and edits the rules), and a public repository whose forks bring their own workflows.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_flags_checks_from_any_source_an_admin_machine_user_and_forks_own_workflows() {
    let github = fake().await;
    well_set(&github);
    {
        let mut s = github.state();
        s.trust.check_source = None;
        s.trust.grant("fleet-bot", "admin");
        s.trust.public = true;
        s.trust.code_owner_review = false;
        s.trust.dismiss_stale_reviews = false;
    }
    let node = Node::new("dell-r640", &github);
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    for check in ["requires_reconcile", "requires_gate"] {
        let l = line(&report, check);
        assert_eq!(l["status"], "fail", "{check}: {report}");
        assert!(
            l["detail"].as_str().unwrap().contains("from any source"),
            "{l}"
        );
        assert!(
            l["fix"]
                .as_str()
                .unwrap()
                .contains("source to GitHub Actions"),
            "{l}"
        );
    }
    let admin = line(&report, "machine_access");
    assert_eq!(admin["status"], "fail", "{report}");
    assert!(
        admin["detail"]
            .as_str()
            .unwrap()
            .contains("fleet-bot is an administrator"),
        "{admin}"
    );
    assert_eq!(
        line(&report, "stale_approvals")["status"],
        "fail",
        "{report}"
    );
    let forks = line(&report, "fork_workflows");
    assert_eq!(forks["status"], "fail", "{report}");
    assert!(
        forks["fix"].as_str().unwrap().contains("CODEOWNERS"),
        "{forks}"
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_cannot_tell_without_administration_read_and_says_so() {
    let github = fake().await;
    github.state().trust.classic_readable = false;
    let node = Node::new("dell-r640", &github);
    let (run, report) = doctor(&github, &node, &[]);
    // The ruleset lacks `enlist gate`; classic protection might have it: "?", not "✘".
    assert_eq!(
        line(&report, "requires_gate")["status"],
        "unknown",
        "{report}"
    );
    assert_eq!(run.code, Some(0), "nothing is ✘: {}", run.stdout);

    // Classic protection requiring both, readable: ✔.
    {
        let mut s = github.state();
        s.trust.classic_readable = true;
        s.trust.classic.insert(
            "main".into(),
            vec![REQUIRED_CHECK.to_owned(), GATE_CHECK.to_owned()],
        );
    }
    let (_, report) = doctor(&github, &node, &[]);
    assert_eq!(line(&report, "requires_gate")["status"], "ok", "{report}");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_with_a_rejected_token_is_one_cross() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    std::fs::write(&node.token_file, "ghp_rotatedAwayLongAgo0000000000000000\n").unwrap();
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(line(&report, "credential")["status"], "fail");
    assert!(
        line(&report, "credential")["detail"]
            .as_str()
            .unwrap()
            .contains("Bad credentials")
    );
    assert_eq!(report["checks"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_as_a_github_app_flags_an_installation_on_all_repositories() {
    let github = fake().await;
    github.with_app();
    well_set(&github);
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(line(&report, "app_installation")["status"], "ok");
    // Administration read is not among registration's permissions: "?" from classic protection
    // does not matter, the ruleset requires both.
    assert_eq!(line(&report, "requires_gate")["status"], "ok");
    {
        let s = github.state();
        let app = s.app.as_ref().unwrap();
        assert_eq!(app.tokens.len(), 1, "one installation token");
        assert!(app.tokens[0].revoked, "revoked at the end");
        let writes: Vec<String> = s.writes().iter().map(|r| r.line()).collect();
        assert_eq!(
            writes,
            [
                format!(
                    "POST /app/installations/{}/access_tokens",
                    enlist_e2e::fake::app::INSTALLATION_ID
                ),
                "DELETE /installation/token".to_owned(),
            ],
            "only the token's mint and revoke"
        );
    }
    assert_eq!(line(&report, "app_permissions")["status"], "ok");

    // Workflows granted to the App: a stolen key mints a token that edits the gate's workflow.
    github
        .state()
        .app
        .as_mut()
        .unwrap()
        .granted
        .insert("workflows".into(), "write".into());
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let permissions = line(&report, "app_permissions");
    assert_eq!(permissions["status"], "fail");
    assert!(
        permissions["detail"]
            .as_str()
            .unwrap()
            .contains("workflows: write"),
        "{permissions}"
    );
    github
        .state()
        .app
        .as_mut()
        .unwrap()
        .granted
        .remove("workflows");

    github.state().app.as_mut().unwrap().repository_selection = "all".into();
    let (run, report) = doctor(&github, &node, &[]);
    assert_eq!(run.code, Some(1));
    let installation = line(&report, "app_installation");
    assert_eq!(installation["status"], "fail");
    assert!(
        installation["fix"]
            .as_str()
            .unwrap()
            .contains("Only select repositories")
    );
    github.assert_contract();
}

/// The example workflow runs the gate as its own job named `enlist gate`, on every pull request
/// and review, with no path filter on a required check.
#[test]
fn example_workflows_run_the_required_checks_on_every_pull_request() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops/.github/workflows");
    let gate: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("enlist-gate.yml")).unwrap())
            .unwrap();
    let jobs = gate["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 1, "the gate is its own job");
    let job = jobs.values().next().unwrap();
    assert_eq!(job["name"].as_str(), Some(GATE_CHECK));
    let on = &gate["on"];
    assert!(on.get("pull_request").is_some() && on.get("pull_request_review").is_some());
    let script = serde_yaml::to_string(&job["steps"]).unwrap();
    assert!(script.contains("enlist gate"), "{script}");
    for file in [
        "enlist-gate.yml",
        "enlist-reconcile.yml",
        "enlist-fleet-nix.yml",
    ] {
        let workflow: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        for event in ["pull_request", "pull_request_review"] {
            let trigger = &workflow["on"][event];
            assert!(
                trigger.get("paths").is_none() && trigger.get("paths-ignore").is_none(),
                "{file}: a path filter on {event} leaves a required check pending forever"
            );
        }
    }
}

/// A job that checks out a pull request's merge commit runs what the pull request brings (its
/// files, and for a fork its workflows): it holds no `contents: write`, so nothing a PR carries
/// can push to the repository. Writing jobs run only where no pull request is checked out.
#[test]
fn example_workflows_give_no_write_token_to_a_checkout_of_a_pull_request() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops/.github/workflows");
    for file in [
        "enlist-gate.yml",
        "enlist-reconcile.yml",
        "enlist-fleet-nix.yml",
    ] {
        let workflow: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let on_pull_requests = ["pull_request", "pull_request_review", "pull_request_target"]
            .iter()
            .any(|event| workflow["on"].get(*event).is_some());
        if !on_pull_requests {
            continue;
        }
        assert!(
            workflow["on"].get("pull_request_target").is_none(),
            "{file}: pull_request_target runs with a write token and secrets"
        );
        for (name, job) in workflow["jobs"].as_mapping().unwrap() {
            let checks_out = job["steps"].as_sequence().is_some_and(|steps| {
                steps.iter().any(|step| {
                    step["uses"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("actions/checkout"))
                })
            });
            let only_outside_prs = job["if"]
                .as_str()
                .is_some_and(|c| c.contains("github.event_name != 'pull_request'"));
            if !checks_out || only_outside_prs {
                continue;
            }
            let contents = job["permissions"]["contents"]
                .as_str()
                .or(workflow["permissions"]["contents"].as_str());
            assert_ne!(
                contents,
                Some("write"),
                "{file}: job {name:?} checks out a pull request with contents: write"
            );
        }
    }
    // The gate re-runs when a PR is moved to another base: its head stays, its files do not.
    let gate: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("enlist-gate.yml")).unwrap())
            .unwrap();
    let types = gate["on"]["pull_request"]["types"].as_sequence().unwrap();
    assert!(
        types.iter().any(|t| t.as_str() == Some("edited")),
        "{types:?}"
    );
}
