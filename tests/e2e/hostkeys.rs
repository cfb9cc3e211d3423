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

/// The example repository's `.sops.yaml` (issue 27) is what `sops.nix` builds from its
/// `fleet.nix` — every node with an ed25519 host key gets a rule for its own secrets and reads
/// `secrets/fleet.yaml`, by the recipient enlist derives from the key it registered — and a node
/// without keys is in none. `ENLIST_UPDATE_GOLDEN=1` rewrites it (as `jq -S .` formats it).
#[test]
fn example_sops_yaml_is_built_from_the_registered_fleet() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops");
    let Ok(probe) = std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
    else {
        eprintln!("nix-instantiate not on PATH: skipping (.ci/run installs nix-bin)");
        return;
    };
    assert!(probe.status.success());
    let eval = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(example.join("sops.nix"))
        .output()
        .expect("nix-instantiate runs");
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let built: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("json");
    let file = example.join(".sops.yaml");
    let text = format!("{}\n", serde_json::to_string_pretty(&built).unwrap());
    if std::env::var("ENLIST_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&file, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        committed,
        text,
        "{} is stale: regenerate it",
        file.display()
    );
    // sops reads it as YAML.
    let as_yaml: serde_json::Value = serde_yaml::from_str(&committed).unwrap();
    assert_eq!(as_yaml, built);

    let rules = built["creation_rules"].as_array().unwrap();
    let recipients_of = |regex: &str| -> Vec<String> {
        let rule = rules
            .iter()
            .find(|r| r["path_regex"] == regex)
            .unwrap_or_else(|| panic!("no rule {regex}"));
        serde_json::from_value(rule["key_groups"][0]["age"].clone()).unwrap()
    };
    let everyone = recipients_of("^secrets/fleet\\.yaml$");
    let mut with_keys = 0;
    let mut without_keys = 0;
    let nodes = std::fs::read_dir(example.join("cluster-nodes")).unwrap();
    for entry in nodes.map(|e| e.unwrap()).filter(|e| e.path().is_dir()) {
        let text = std::fs::read_to_string(entry.path().join("node.yaml")).unwrap();
        let doc = enlist::document::NodeDocument::parse(&text, "example").unwrap();
        let regex = format!("^secrets/nodes/{}\\.yaml$", doc.node_id);
        match enlist::hostkey::age_recipient(&doc.ssh_host_keys).unwrap() {
            Some(recipient) => {
                with_keys += 1;
                let own = recipients_of(&regex);
                assert_eq!(own.len(), 2, "an admin and the node: {own:?}");
                assert_eq!(own[1], recipient, "{}", doc.node_id);
                assert!(everyone.contains(&recipient));
                assert!(everyone.contains(&own[0]), "the admin reads everything");
            }
            None => {
                without_keys += 1;
                assert!(rules.iter().all(|r| r["path_regex"] != regex.as_str()));
            }
        }
    }
    assert_eq!((with_keys, without_keys), (5, 1), "the example's fleet");
    assert_eq!(everyone.len(), 1 + with_keys);
    assert_eq!(rules.len(), with_keys + 1);
}
