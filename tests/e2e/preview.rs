//! Issue 18: the installer's preview (`enlist register --target DIR`) against the fake GitHub. The
//! target is a system mounted at DIR whose config names a fixture inside it (`root: /fixture`),
//! so the preview and the "earlier install" (a [`Node`] with the same Dell hardware) see the same
//! facts; each test arranges what GitHub already holds and checks what the preview says about it
//! (`--json`), that it only read, and that nothing was written under DIR.

use std::path::Path;
use std::process::Command;

use enlist_e2e::fake::FakeGitHub;
use enlist_e2e::node::{self, Node, assert_no_token};
use serde_json::Value;

use crate::fake;

const DELL: &str = "node-faf6ca";

/// An installed system at a temporary DIR: the Dell fixture at `DIR/fixture`, enlist's config at
/// `DIR/etc/enlist/config.yaml` (the same settings as [`Node`]'s, `root: /fixture`).
fn target(github: &FakeGitHub) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(node::fixture("dell-r640"))
        .arg(dir.path().join("fixture"))
        .status()
        .expect("cp");
    assert!(cp.success());
    std::fs::create_dir_all(dir.path().join("etc/enlist")).expect("mkdir");
    std::fs::write(
        dir.path().join("etc/enlist/config.yaml"),
        format!(
            "repo: acme/fleet\napi_url: {}\noperator: alice\nroot: /fixture\n\
             readiness_timeout_secs: 5\nrequest_timeout_secs: 5\n",
            github.url()
        ),
    )
    .expect("config");
    dir
}

struct Preview {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

/// `enlist register --target DIR --json` with the node's token file (as an installer passes it).
fn preview(dir: &Path, token_file: &Path, extra: &[&str]) -> Preview {
    let out = Command::new(node::binary())
        .arg("register")
        .arg("--target")
        .arg(dir)
        .arg("--token-file")
        .arg(token_file)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run enlist");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_no_token(&stdout);
    assert_no_token(&stderr);
    let json = if extra.contains(&"--json") && out.status.success() {
        serde_json::from_str(&stdout).expect("--json prints one JSON object")
    } else {
        Value::String(stdout)
    };
    Preview {
        code: out.status.code(),
        json,
        stderr,
    }
}

/// Asserts the preview exited 0, made only reads, and wrote nothing under DIR.
fn assert_read_only(p: &Preview, github: &FakeGitHub, dir: &Path) {
    assert_eq!(p.code, Some(0), "{}", p.stderr);
    let s = github.state();
    assert!(s.writes().is_empty(), "{:?}", s.lines());
    assert!(!s.requests.is_empty(), "with a token GitHub is asked");
    assert!(!dir.join("var").exists(), "nothing written under DIR");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_of_a_fresh_install_is_the_node_yaml_its_first_boot_writes() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(github.state().requests.len(), 4);
    assert_eq!(p.json["node_id"], DELL);
    assert_eq!(p.json["github"], "nothing");
    assert_eq!(p.json["first_boot"], "open_pr");
    assert_eq!(p.json["checked"], true);
    assert_eq!(p.json["base_branch"], "main");
    assert_eq!(p.json["branch"], format!("enlist/{DELL}"));
    assert_eq!(p.json["path"], format!("cluster-nodes/{DELL}/node.yaml"));
    let summary = p.json["summary"].as_str().unwrap();
    assert!(summary.contains("opens one pull request"), "{summary}");
    // The same machine's real registration commits exactly that file.
    assert_eq!(node.run(&[]).code, Some(0));
    let written = github
        .state()
        .file(
            &format!("enlist/{DELL}"),
            &format!("cluster-nodes/{DELL}/node.yaml"),
        )
        .unwrap();
    assert_eq!(p.json["node_yaml"].as_str().unwrap(), written);
    assert_eq!(p.json["facts_hash"], node.marker().unwrap()["facts_hash"]);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_text_says_what_the_first_boot_does_and_prints_the_node_yaml() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &[]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(
        p.json.as_str().unwrap(),
        node.facts_yaml(),
        "stdout: node.yaml"
    );
    let shown = dir.path().display().to_string();
    for expected in [
        format!("preview of the installed system at {shown}"),
        format!("node id:    {DELL}"),
        "repository: acme/fleet".to_owned(),
        "first boot: nothing on GitHub for this machine yet".to_owned(),
        "would open a pull request".to_owned(),
    ] {
        assert!(
            p.stderr.contains(&expected),
            "{expected:?} in\n{}",
            p.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_finds_the_pr_an_earlier_install_left_open() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().requests.clear();
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(p.json["github"], "pr_open");
    assert_eq!(p.json["first_boot"], "comment");
    assert!(
        p.json["pr_url"].as_str().unwrap().ends_with("/pull/1"),
        "{}",
        p.json
    );
    let summary = p.json["summary"].as_str().unwrap();
    assert!(summary.contains("#1"), "{summary}");
    assert!(summary.contains("earlier install"), "{summary}");
    assert!(summary.contains("no second"), "{summary}");
    assert_eq!(github.state().pulls.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_reports_a_rejection_and_that_the_first_boot_respects_it() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().close(1);
    github.state().requests.clear();
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(p.json["github"], "rejected");
    assert_eq!(p.json["first_boot"], "record_rejected");
    let summary = p.json["summary"].as_str().unwrap();
    assert!(summary.contains("closed without merging"), "{summary}");
    assert!(summary.contains("reopen #1"), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_of_a_machine_registered_before_says_nothing_will_be_written() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().merge(1);
    github.state().requests.clear();
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(p.json["github"], "registered");
    assert_eq!(p.json["first_boot"], "record_registered");
    assert_eq!(
        github.state().requests.len(),
        3,
        "{:?}",
        github.state().lines()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_names_an_id_collision_and_the_longer_id_the_first_boot_takes() {
    let github = fake().await;
    let other = Node::new("supermicro-x11", &github);
    let foreign = other.facts_yaml().replace("node-8a753f", DELL);
    github
        .state()
        .put_file("main", &format!("cluster-nodes/{DELL}/node.yaml"), &foreign);
    let node = Node::new("dell-r640", &github);
    let dir = target(&github);
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_read_only(&p, &github, dir.path());
    assert_eq!(p.json["collisions"], serde_json::json!([DELL]));
    assert_eq!(p.json["node_id"], "node-faf6ca57");
    assert_eq!(p.json["path"], "cluster-nodes/node-faf6ca57/node.yaml");
    assert_eq!(p.json["first_boot"], "open_pr");
    let summary = p.json["summary"].as_str().unwrap();
    assert!(summary.contains("id collision"), "{summary}");
    let doc: Value = serde_yaml::from_str(p.json["node_yaml"].as_str().unwrap()).unwrap();
    assert_eq!(doc["nodeId"], "node-faf6ca57");

    // Every longer id taken too: the first boot could not register; the preview says so (65).
    for id in ["node-faf6ca57", "node-faf6ca57ba", "node-faf6ca57baeb"] {
        let foreign = other.facts_yaml().replace("node-8a753f", id);
        github
            .state()
            .put_file("main", &format!("cluster-nodes/{id}/node.yaml"), &foreign);
    }
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_eq!(p.code, Some(65), "{}", p.stderr);
    assert!(p.stderr.contains("collision"), "{}", p.stderr);
    assert!(github.state().writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_reads_the_targets_marker_as_its_first_boot_will() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    // The installed system kept the state of an earlier install (a marker, PR #1 pending).
    let dir = target(&github);
    let state = dir.path().join("var/lib/enlist");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::copy(
        node.state.join("registered.json"),
        state.join("registered.json"),
    )
    .unwrap();
    github.state().merge(1);
    github.state().requests.clear();
    let p = preview(dir.path(), &node.token_file, &["--json"]);
    assert_eq!(p.code, Some(0), "{}", p.stderr);
    assert_eq!(
        github.state().lines(),
        ["GET /repos/acme/fleet/pulls/1"],
        "the one read of a pending boot"
    );
    assert_eq!(p.json["marker"], "pending");
    assert_eq!(p.json["first_boot"], "read_pr");
    assert_eq!(p.json["github"], "registered");
    let summary = p.json["summary"].as_str().unwrap();
    assert!(summary.contains("merged"), "{summary}");
    // Read, never rewritten.
    assert_eq!(
        std::fs::read(state.join("registered.json")).unwrap(),
        std::fs::read(node.state.join("registered.json")).unwrap()
    );
}

/// The flake's `apps.default` (what `nix run github:enlist-dev/enlist -- register --target /mnt`
/// runs on a live ISO) evaluates on every system and runs bin/enlist: `nix/tests/flake-apps.nix`
/// with nixpkgs' lib (opt-in like the module evaluation: `ENLIST_NIXPKGS_LIB`).
#[test]
fn flake_offers_nix_run_for_the_installer() {
    let Some(lib) = std::env::var_os("ENLIST_NIXPKGS_LIB") else {
        eprintln!(
            "skipped: set ENLIST_NIXPKGS_LIB to nixpkgs' lib/ directory to evaluate the flake"
        );
        return;
    };
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix/tests/flake-apps.nix");
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(&harness)
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", Path::new(&lib).display()))
        .output()
        .expect("run nix-instantiate (Debian: nix-bin)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "true");
}

/// A system configured for a GitHub App: its key is handed to the unit at boot
/// (`LoadCredential=github-app-key`), so the live ISO has none. The preview keeps the App id,
/// asks GitHub nothing, says so, and exits 0 — as without a token (it used to exit 78).
#[tokio::test(flavor = "multi_thread")]
async fn preview_of_a_github_app_system_without_its_key_exits_0_and_says_github_was_not_asked() {
    let github = fake().await;
    github.with_app();
    let dir = target(&github);
    let config = dir.path().join("etc/enlist/config.yaml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("github_app_id: 424242\ngithub_app_key_file: /run/keys/github-app-key.pem\n");
    std::fs::write(&config, text).unwrap();
    for json in [true, false] {
        let mut cmd = Command::new(node::binary());
        cmd.arg("register").arg("--target").arg(dir.path());
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run enlist");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(github.state().requests.is_empty(), "GitHub is not asked");
        if json {
            let p: Value = serde_json::from_str(&stdout).expect("JSON");
            assert_eq!(p["credential"], "github_app_without_key");
            assert_eq!(p["github_app_id"], "424242");
            assert_eq!(p["checked"], false);
            assert_eq!(p["node_id"], DELL);
            let summary = p["summary"].as_str().unwrap();
            assert!(
                summary.contains("GitHub App 424242, whose private key is not here"),
                "{summary}"
            );
            assert!(!summary.contains("no token"), "{summary}");
        } else {
            for expected in [
                "github:     not checked (the GitHub App's private key is not here)",
                "remote checks skipped: GitHub App 424242 is configured but its private key is not here",
            ] {
                assert!(stderr.contains(expected), "{expected:?} in\n{stderr}");
            }
            assert!(!stderr.contains("GITHUB_TOKEN"), "{stderr}");
        }
    }
    assert!(
        !dir.path().join("var").exists(),
        "nothing written under DIR"
    );
}
