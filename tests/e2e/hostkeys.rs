//! Issue 27, register side, through the real binary against the fake GitHub: a node whose SSH
//! host keys did not exist yet registers without them (a warning and the
//! `inventory.host_keys_missing` event); once sshd made them, the next run opens one update PR
//! that says first that the host key changed, old → new fingerprint, and that is never
//! auto-merged — not even with `auto_merge_updates: true`; a reinstall with new keys does the
//! same with both fingerprints.

use enlist_e2e::fake::REQUIRED_CHECK;
use enlist_e2e::node::Node;
use serde_json::json;

use crate::{AUTO_MERGE, fake};

const DELL: &str = "node-faf6ca";
const PATH: &str = "cluster-nodes/node-faf6ca/node.yaml";
/// The dell-r640 fixture's ed25519 host key, as `ssh-keygen -l` printed it.
const DELL_ED25519: &str = "SHA256:CqLq4+oKKWCUkXpwLiEqu7sMZ9zFK+OWShONoAIjXcw";
/// Its RSA host key.
const DELL_RSA: &str = "SHA256:3PQPe0yc2T/pldVmbHakHKZJymLmKv8SZNVWq5if6fc";
/// The vm-no-dmi fixture's ed25519 key (the "reinstall" below puts it on the Dell).
const VM_ED25519: &str = "SHA256:04NrpnzVKZdU2Tb8zi+wfoH9NQ3/3GGQ8lgzPj1/kpI";

#[tokio::test(flavor = "multi_thread")]
async fn host_keys_made_after_registration_are_one_update_pr_for_a_person() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.set("auto_merge_updates", "true");
    // The first boot runs before sshd made its keys.
    let ssh = node.root.join("etc/ssh");
    let later = node.root.join("etc/ssh.later");
    std::fs::rename(&ssh, &later).unwrap();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("[inventory.host_keys_missing]"),
        "{}",
        run.stderr
    );
    let registered = github
        .state()
        .file(&format!("enlist/{DELL}"), PATH)
        .unwrap();
    assert!(!registered.contains("sshHostKeys"), "{registered}");
    github.state().set_check(1, REQUIRED_CHECK, Some("success"));
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");

    // sshd started and made its keys: the next run (boot or timer) proposes them.
    std::fs::rename(&later, &ssh).unwrap();
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stderr.contains("host_keys_missing"));
    {
        let s = github.state();
        let open = s.open_pulls();
        assert_eq!(open.len(), 1, "one update PR");
        let update = open[0].clone();
        assert!(update.title.starts_with("Update "), "{}", update.title);
        assert!(
            update.body.starts_with(
                "**Host key changed: secrets must be re-encrypted for this node**; old → new \
                 fingerprint:\n\n"
            ),
            "{}",
            update.body
        );
        for (kind, new) in [("ssh-ed25519", DELL_ED25519), ("ssh-rsa", DELL_RSA)] {
            let line = format!("- `{kind}`: none → `{new}`\n");
            assert!(update.body.contains(&line), "{line}: {}", update.body);
        }
        assert_eq!(
            s.lines().iter().filter(|l| *l == AUTO_MERGE).count(),
            0,
            "never auto-merged, even with auto_merge_updates: true: {:?}",
            s.lines()
        );
        assert_eq!(update.auto_merge, None);
        let proposed = s.file(&update.head, PATH).unwrap();
        assert!(
            proposed.contains("sshHostKeys:\n- ssh-ed25519 "),
            "{proposed}"
        );
        assert!(proposed.contains("\n- ssh-rsa "), "{proposed}");
    }
    assert_eq!(
        node.marker().unwrap()["auto_merge"],
        json!({"state": "host_key_changed"})
    );
    let status = node.status(&[]);
    assert!(
        status.stdout.contains("the SSH host key changed"),
        "{}",
        status.stdout
    );

    // A person merges it. Later the machine is reinstalled and sshd makes a new ed25519 key.
    let number = github.state().open_pulls()[0].number;
    github.state().merge(number);
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert_eq!(node.marker().unwrap()["state"], "registered");
    let vm = enlist_e2e::node::fixture("vm-no-dmi").join("etc/ssh/ssh_host_ed25519_key.pub");
    std::fs::copy(vm, ssh.join("ssh_host_ed25519_key.pub")).unwrap();
    node.reboot();
    github.state().requests.clear();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    {
        let s = github.state();
        let open = s.open_pulls();
        assert_eq!(open.len(), 1);
        let body = &open[0].body;
        assert!(body.starts_with("**Host key changed"), "{body}");
        let line = format!("- `ssh-ed25519`: `{DELL_ED25519}` → `{VM_ED25519}`\n");
        assert!(body.contains(&line), "{body}");
        assert!(
            !body.contains("`ssh-rsa`:"),
            "the RSA key did not change: {body}"
        );
        assert!(!s.lines().iter().any(|l| l == AUTO_MERGE));
    }
    github.assert_contract();
}
