//! Crash matrix: the process is SIGKILLed after each distinct request of a fresh registration
//! (the request reached GitHub and took effect; the answer never arrived), and at each step of
//! the marker write; the next run must converge to exactly one PR, with the branch holding the
//! file and the marker valid JSON (or absent) — never corrupt.

use std::time::{Duration, Instant};

use enlist_e2e::node::Node;

use crate::{fake, fresh, pending, without_shas};

const DELL: &str = "node-faf6ca";

async fn wait_for_requests(github: &enlist_e2e::fake::FakeGitHub, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while github.state().requests.len() < n {
        assert!(
            Instant::now() < deadline,
            "the client never sent request {n}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn assert_converged(github: &enlist_e2e::fake::FakeGitHub, node: &Node) {
    let s = github.state();
    assert_eq!(s.pulls.len(), 1, "exactly one PR: {:?}", s.lines());
    assert_eq!(s.open_pulls().len(), 1);
    let branch = format!("enlist/{DELL}");
    let file = s.file(&branch, &format!("cluster-nodes/{DELL}/node.yaml"));
    drop(s);
    assert_eq!(file, Some(node.facts_yaml()), "the branch holds the file");
    let marker = node.marker().expect("marker written by the converging run");
    assert_eq!(marker["state"], "pending");
    assert_eq!(marker["pr_number"], 1);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_each_request_the_next_run_converges_to_one_pr() {
    let steps = fresh(DELL);
    for k in 1..=steps.len() {
        let github = fake().await;
        github.state().hang_at = Some((k, Duration::from_secs(60)));
        let mut node = Node::new("dell-r640", &github);
        node.set("request_timeout_secs", "120");
        let mut child = node.spawn(&[]);
        wait_for_requests(&github, k).await;
        // Request k has been processed by GitHub; its answer is held back. Kill -9 now.
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert_eq!(
            github.state().lines()[k - 1],
            steps[k - 1],
            "killed after {}",
            steps[k - 1]
        );
        github.state().hang_at = None;
        // No marker before the PR is confirmed; once it is (the last request, the auto-merge
        // mutation, comes after it), the marker already says pending before that optional step.
        let marker_after_kill: Option<serde_json::Value> =
            std::fs::read(node.state.join("registered.json"))
                .ok()
                .map(|b| serde_json::from_slice(&b).expect("marker is JSON"));
        if steps[k - 1] == crate::AUTO_MERGE {
            let marker = marker_after_kill.expect("pending before the optional step");
            assert_eq!(marker["state"], "pending", "k={k}");
            assert_eq!(marker["pr_number"], 1, "k={k}");
        } else {
            assert!(
                marker_after_kill.is_none(),
                "no marker before the PR is confirmed (k={k})"
            );
        }
        let run = node.run(&[]);
        assert_eq!(run.code, Some(0), "k={k}: {}", run.stderr);
        assert_converged(&github, &node);
        // A comment only if the killed run had opened the PR in an earlier *boot*: here it is
        // the same boot, so the PR body carries this boot's id and no comment is added.
        assert!(github.state().comments.is_empty(), "k={k}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn torn_marker_write_is_recovered() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    let marker = std::fs::read(node.state.join("registered.json")).unwrap();
    // Killed after writing half of the temporary file, before the rename: the old state (no
    // marker) plus a torn temporary.
    std::fs::remove_file(node.state.join("registered.json")).unwrap();
    let torn = node.state.join(".registered.json.tmp-424242");
    std::fs::write(&torn, &marker[..marker.len() / 2]).unwrap();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_converged(&github, &node);
    assert!(!torn.exists(), "the torn temporary is cleaned up");
    // Killed after the rename, before the directory fsync: the marker is complete.
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0));
    assert_eq!(without_shas(&github.state().lines()), pending(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_state_dir_exits_73_before_any_request() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    // A state directory that cannot exist (its parent is a file): like a read-only or full
    // disk, the lock cannot be taken, so nothing is sent.
    let blocker = node.dir().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    node.set("state_dir", &blocker.join("state").display().to_string());
    let run = node.run(&[]);
    assert_eq!(run.code, Some(73), "{}", run.stderr);
    assert!(run.stderr.contains("state"), "{}", run.stderr);
    assert!(github.state().requests.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn full_disk_exits_73_before_any_request() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    let mnt = node.dir().join("full");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k,mode=0700", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); unusable_state_dir_exits_73_before_any_request covers the logic"
        );
        return;
    }
    // Fill it: the lock file (empty) still fits, a marker would not.
    let _ = std::fs::write(mnt.join("filler"), vec![0u8; 4096]);
    node.set("state_dir", &mnt.display().to_string());
    let run = node.run(&[]);
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    assert_eq!(run.code, Some(73), "{}", run.stderr);
    assert!(
        run.stderr.contains("disk full or read-only"),
        "{}",
        run.stderr
    );
    assert!(
        github.state().requests.is_empty(),
        "no PR without a place for its marker"
    );
}
