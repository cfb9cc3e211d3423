//! Registration hardening (issue 15): PR text a hostile machine cannot make live, lists read to
//! their end, a state directory nobody else can touch, one deadline over the whole run, no
//! credentials in `api_url`, and the unit's restart policy.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use enlist_e2e::fake::{Fault, FaultKind, HeadFilter};
use enlist_e2e::markdown::{assert_inert, assert_plain_title};
use enlist_e2e::node::Node;

use crate::{fake, fresh_without_auto_merge};

const DELL: &str = "node-faf6ca";

/// A hostname as a compromised installer or a careless operator could set it.
const HOSTILE_HOST: &str = "n1[click](https://evil.example)@acme/admins<img src=x>";
/// DMI strings as a tampered BIOS could report them.
const HOSTILE_VENDOR: &str = "Dell\r# HEADING @acme/security <!-- <details>";
const HOSTILE_MODEL: &str =
    "R640 | injected | cells |\n\n@acme/everyone ![x](https://evil.example/p.png)";

fn make_hostile(node: &Node, hostname: &str) {
    node.set_hostname(hostname);
    let dmi = node.root.join("sys/class/dmi/id");
    std::fs::write(dmi.join("sys_vendor"), format!("{HOSTILE_VENDOR}\n")).unwrap();
    std::fs::write(dmi.join("product_name"), format!("{HOSTILE_MODEL}\n")).unwrap();
}

fn hostile_values(hostname: &str) -> Vec<&str> {
    vec![hostname, HOSTILE_VENDOR, HOSTILE_MODEL]
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_hostname_and_dmi_strings_stay_inert_in_every_pr_text() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    make_hostile(&node, HOSTILE_HOST);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        let pr = &s.pulls[0];
        assert_plain_title(&pr.title);
        assert_eq!(
            pr.title,
            format!("Register {DELL}"),
            "an invalid host name is left out"
        );
        let r = assert_inert(&pr.body, &hostile_values(HOSTILE_HOST));
        // The facts table is whole: a header and nine facts (the ninth: the SSH host keys, issue 27), whatever the values held.
        assert_eq!(r.table_rows, 10, "{}", pr.body);
        // ...and the values are there, literally, for the reviewer.
        assert!(r.code.iter().any(|c| c == HOSTILE_HOST), "{:?}", r.code);
        assert!(
            r.code.iter().any(|c| c.contains("@acme/security")),
            "{:?}",
            r.code
        );
        // The commit message carries no machine value either.
        let put = s.requests.iter().find(|q| q.method == "PUT").unwrap();
        assert!(
            !put.body.as_ref().unwrap()["message"]
                .as_str()
                .unwrap()
                .contains('@')
        );
    }

    // Reinstalled while the PR is open: the "came up again" comment.
    node.reinstall();
    assert_eq!(node.run(&[]).code, Some(0));
    // The facts change (another hostile hostname): a new commit, the PR body refreshed, and a
    // comment saying what changed.
    let other = "evil2 <!-- x --> @acme/ops [y](javascript:alert(1))";
    node.set_hostname(other);
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.pulls.len(), 1);
    assert_eq!(s.comments.len(), 2, "{:?}", s.lines());
    let mut values = hostile_values(HOSTILE_HOST);
    values.push(other);
    for comment in &s.comments {
        assert_inert(&comment.body, &values);
    }
    assert!(
        s.comments[1].body.contains("What changed"),
        "{}",
        s.comments[1].body
    );
    assert_plain_title(&s.pulls[0].title);
    let r = assert_inert(&s.pulls[0].body, &values);
    assert!(r.code.iter().any(|c| c == other), "{:?}", r.code);
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_update_pr_starts_with_what_changed_and_stays_inert() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge", "off");
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().merge(1);
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");
    // A "hardware event": the hostname and a DMI string change after registration.
    make_hostile(&node, "r640-a1");
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    let update = s.open_pulls()[0].clone();
    assert_eq!(update.title, format!("Update {DELL} (r640-a1) facts"));
    assert!(
        update.body.starts_with("**This machine's facts changed**"),
        "{}",
        update.body
    );
    let r = assert_inert(&update.body, &hostile_values("r640-a1"));
    // old → new for the vendor, as code spans.
    assert!(r.code.iter().any(|c| c == "system.vendor"), "{:?}", r.code);
    assert!(r.code.iter().any(|c| c == "Dell Inc."), "{:?}", r.code);
}

#[tokio::test(flavor = "multi_thread")]
async fn pr_with_120_other_comments_still_gets_exactly_one_comment_per_boot() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    {
        let mut s = github.state();
        for i in 0..120 {
            s.add_comment(1, &format!("review note {i}"));
        }
    }
    node.reinstall();
    assert_eq!(node.run(&[]).code, Some(0));
    let ours = |s: &enlist_e2e::fake::State| {
        s.comments
            .iter()
            .filter(|c| c.body.contains("<!-- enlist "))
            .count()
    };
    assert_eq!(ours(&github.state()), 1);
    // Same boot, marker lost again: enlist must find its comment (number 121, on page 2).
    github.state().requests.clear();
    let _ = std::fs::remove_dir_all(&node.state);
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(
        ours(&s),
        1,
        "a second comment in the same boot: {:?}",
        s.lines()
    );
    let pages: Vec<&str> = s
        .requests
        .iter()
        .filter(|r| r.path == "/repos/acme/fleet/issues/1/comments")
        .map(|r| r.raw_path.as_str())
        .collect();
    assert_eq!(
        pages.len(),
        2,
        "page 1 and, by the Link header, page 2: {pages:?}"
    );
    assert!(pages[1].starts_with("/repositories/"), "{pages:?}");
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn rejection_on_a_later_page_of_pull_requests_is_still_respected() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().close(1);
    {
        // 120 newer PRs of other branches, and a GitHub that ignores the head filter: the closed
        // PR of this node is on the second page of 100.
        let mut s = github.state();
        for i in 0..120 {
            let branch = format!("feature/{i}");
            s.create_branch(&branch);
            s.open_pull(&branch, "unrelated", "");
        }
        s.head_filter = HeadFilter::AllPulls;
        s.requests.clear();
    }
    node.reinstall();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(node.marker().unwrap()["state"], "rejected");
    let s = github.state();
    assert!(s.writes().is_empty(), "{:?}", s.lines());
    assert_eq!(s.pulls.len(), 121);
    let pages = s
        .lines()
        .iter()
        .filter(|l| *l == "GET /repos/acme/fleet/pulls")
        .count();
    assert_eq!(pages, 2, "{:?}", s.lines());
}

#[tokio::test(flavor = "multi_thread")]
async fn world_writable_state_dir_exits_73_before_any_request() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    std::fs::create_dir_all(&node.state).unwrap();
    std::fs::set_permissions(&node.state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(73), "{}", run.stderr);
    assert!(run.stderr.contains("chmod go-w"), "{}", run.stderr);
    assert!(github.state().requests.is_empty());
    assert!(!node.state.join("lock").exists());
    assert!(node.marker().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_url_with_credentials_exits_78_without_echoing_them_or_asking_anything() {
    let github = fake().await;
    let node = Node::new("dell-r640", &github);
    let with_secret = github
        .url()
        .replace("http://", "http://enlist:hunter2secret@");
    for args in [
        vec!["--api-url", with_secret.as_str()],
        vec!["--dry-run", "--api-url", with_secret.as_str()],
    ] {
        let run = node.run(&args);
        assert_eq!(run.code, Some(78), "{}", run.stderr);
        assert!(run.stderr.contains("credentials"), "{}", run.stderr);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
        assert!(!run.stderr.contains("//enlist"), "{}", run.stderr);
    }
    let run = node.run_with_env(&[], &[("ENLIST_API_URL", &with_secret)]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(github.state().requests.is_empty());
}

/// Runs the binary with an 8 s run deadline and the default request (30 s) and readiness
/// (600 s) timeouts, against a fake whose answer to `path` arrives one byte a second.
async fn trickled(method: &str, path: &str) -> (Option<i32>, Duration, String) {
    let github = fake().await;
    github.state().faults.push(Fault {
        method: method.into(),
        path_contains: path.into(),
        times: 100,
        kind: FaultKind::Trickle(Duration::from_secs(1)),
    });
    let mut node = Node::new("dell-r640", &github);
    node.unset("readiness_timeout_secs");
    node.unset("request_timeout_secs");
    node.set("run_timeout_secs", "8");
    node.set("auto_merge", "off");
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || node.run(&[]))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(github.state().pulls.is_empty());
    (run.code, took, run.stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn run_deadline_ends_a_trickling_probe_with_69_well_under_30_seconds() {
    let (code, took, stderr) = trickled("GET", "/repos/acme/fleet").await;
    eprintln!(
        "trickling probe: exit {code:?} after {:.1} s",
        took.as_secs_f64()
    );
    assert_eq!(code, Some(69), "{stderr}");
    assert!(took < Duration::from_secs(15), "{took:?}: {stderr}");
    assert!(stderr.contains("run_timeout_secs"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_deadline_ends_a_trickling_read_after_github_answered_with_75() {
    let (code, took, stderr) = trickled("GET", "/pulls").await;
    eprintln!(
        "trickling list: exit {code:?} after {:.1} s",
        took.as_secs_f64()
    );
    assert_eq!(code, Some(75), "{stderr}");
    assert!(took < Duration::from_secs(15), "{took:?}: {stderr}");
}

#[test]
fn unit_restarts_only_on_69_73_75() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd/enlist.service"),
    )
    .unwrap();
    let unit = crate::nixos_module::parse_unit(&unit);
    let service = &unit["Service"];
    assert_eq!(service["Restart"], ["on-failure"]);
    let prevent = &service["RestartPreventExitStatus"];
    for final_code in [
        "1", "2", "64", "65", "70", "71", "76", "77", "78", "243", "SIGABRT",
    ] {
        assert!(
            prevent.iter().any(|c| c == final_code),
            "{final_code}: {prevent:?}"
        );
    }
    for transient in ["69", "73", "75"] {
        assert!(
            !prevent.iter().any(|c| c == transient),
            "{transient}: {prevent:?}"
        );
    }
    // The start timeout sits above the start jitter and the run's deadline (300 + 840 s by
    // default).
    assert_eq!(service["TimeoutStartSec"], ["20min"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_enterprise_api_url_keeps_its_prefix_everywhere() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("api_url", &format!("{}/api/v3", github.url()));
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // REST under /api/v3, GraphQL at GitHub Enterprise's /api/graphql (not /api/v3/graphql).
    let mut expected = fresh_without_auto_merge(DELL);
    expected.push("POST /api/graphql".into());
    assert_eq!(s.lines(), expected);
    let raw: Vec<&str> = s.requests.iter().map(|r| r.raw_path.as_str()).collect();
    assert!(
        raw[..7].iter().all(|p| p.starts_with("/api/v3/")),
        "{raw:?}"
    );
    assert_eq!(raw[7], "/api/graphql");
    assert_eq!(s.pulls[0].auto_merge.as_deref(), Some("squash"));
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn comment_after_an_interrupted_update_says_the_facts_changed() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    assert_eq!(node.run(&[]).code, Some(0));
    let old_hash = node.marker().unwrap()["facts_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    node.set_hostname("r640-renamed");
    node.reboot();
    // The new file is committed, then updating the PR keeps failing: the run gives up (75).
    github.state().faults.push(Fault {
        method: "PATCH".into(),
        path_contains: "/pulls/1".into(),
        times: 100,
        kind: FaultKind::Status {
            status: 500,
            body: serde_json::Value::Null,
            headers: vec![],
        },
    });
    let run = node.run(&[]);
    assert_eq!(run.code, Some(75), "{}", run.stderr);
    assert!(github.state().comments.is_empty());
    // GitHub recovers; the next run finds the branch already right but the PR still showing the
    // old facts: it updates the PR and says what changed — never "unchanged".
    github.state().faults.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    assert_eq!(s.comments.len(), 1);
    let comment = &s.comments[0].body;
    assert!(!comment.contains("unchanged"), "{comment}");
    assert!(comment.contains("What changed"), "{comment}");
    assert!(comment.contains(&format!("`{old_hash}` →")), "{comment}");
    assert!(
        s.pulls[0]
            .body
            .starts_with("**This machine's facts changed**"),
        "{}",
        s.pulls[0].body
    );
    assert!(s.pulls[0].body.contains("r640-renamed"));
    drop(s);
    github.assert_contract();
}

/// A server (or proxy) that answers with hundreds of MiB: enlist reads at most
/// `MAX_RESPONSE_BYTES` of any answer (a larger `content-length` is refused before reading), so
/// its memory stays flat. The reviewer measured 1.24 GB peak RSS against two 400 MiB bodies.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_answers_are_refused_at_the_cap_without_buffering_them() {
    const FLOOD: u64 = 400 * 1024 * 1024;
    let cap = enlist::forge::MAX_RESPONSE_BYTES as u64;
    // (the request answered with the flood, its exit code)
    let cases = [
        ("/repos/acme/fleet", 76),
        (&*format!("/contents/cluster-nodes/{DELL}/node.yaml"), 65),
    ];
    for (path, exit) in cases {
        for declare_length in [true, false] {
            let github = fake().await;
            github.state().faults.push(Fault {
                method: "GET".into(),
                path_contains: path.into(),
                times: 1,
                kind: FaultKind::Flood {
                    bytes: FLOOD,
                    declare_length,
                },
            });
            let node = Node::new("dell-r640", &github);
            let config = node.config.display().to_string();
            let run = enlist_e2e::measure::run(
                &enlist_e2e::node::binary(),
                &["register", "--config", &config],
                &[],
            );
            let case = format!("{path}, content-length declared: {declare_length}");
            assert_eq!(run.code, Some(exit), "{case}: {}", run.stderr);
            assert!(
                run.stderr.contains(&format!("larger than {cap} bytes")),
                "{case}: {}",
                run.stderr
            );
            enlist_e2e::node::assert_no_token(&run.stderr);
            let s = github.state();
            assert!(s.writes().is_empty(), "{case}: {:?}", s.lines());
            // What the client took off the wire: nothing past the headers when the length was
            // declared, else the cap plus what the sockets buffer.
            let read = s.flooded_bytes;
            let bound = if declare_length {
                16 << 20
            } else {
                cap + (16 << 20)
            };
            assert!(read < bound, "{case}: {read} bytes read");
            drop(s);
            if let Some(kib) = run.peak_rss_kib {
                eprintln!("{case}: peak RSS {}, {read} bytes read", run.rss_mib());
                assert!(kib < 96 * 1024, "{case}: peak RSS {}", run.rss_mib());
            }
            assert!(node.marker().is_none());
        }
    }
}
