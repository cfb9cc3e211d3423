//! Issue 27: the machine's SSH host public keys in node.yaml (`sshHostKeys`) — the public halves
//! only, without their comments, never a byte of a private key; a machine without keys registers
//! without them (a warning and the `inventory.host_keys_missing` event); hostile `.pub` files are
//! skipped with a warning, not a crash; `--target` reads the installed system's keys.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use enlist::hostkey::HostKey;
use serde_json::Value;

use crate::support::{enlist, fixture, stderr, stdout};

/// The `.pub` files of a fixture, as `type base64` (comment dropped), sorted.
fn public_keys(root: &Path) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(root.join("etc/ssh"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pub"))
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let fields: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "type, base64, comment: {text}");
            format!("{} {}", fields[0], fields[1])
        })
        .collect();
    keys.sort();
    keys
}

/// Every line of every private key beside the public ones, except the armour lines (the same in
/// every key) and the lines that encode public data (an OpenSSH private key file holds its public
/// key too: a line of it can be part of the `.pub` file's base64).
fn private_key_lines(root: &Path) -> Vec<String> {
    let public: String = public_keys(root).join("\n");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(root.join("etc/ssh")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ssh_host_") && name.ends_with("_key") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("PRIVATE KEY"), "{name} is a private key");
            lines.extend(
                text.lines()
                    .filter(|l| !l.starts_with("-----") && !public.contains(l))
                    .map(str::to_owned),
            );
        }
    }
    assert!(!lines.is_empty());
    lines
}

#[test]
fn issue_27_facts_carry_both_public_keys_never_the_private_key_or_the_comment() {
    for (name, host) in [("dell-r640", "r640-a1"), ("supermicro-x11", "sm-b07")] {
        let root = fixture(name);
        let expected = public_keys(&root);
        assert_eq!(expected.len(), 2, "{name}: two key pairs");
        let secrets = private_key_lines(&root);
        let out = enlist(
            &[
                "facts",
                "--format",
                "json",
                "--root",
                root.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["sshHostKeys"], serde_json::json!(expected), "{name}");
        for format in ["yaml", "json", "nix"] {
            let out = enlist(
                &[
                    "facts",
                    "--format",
                    format,
                    "--root",
                    root.to_str().unwrap(),
                ],
                &[],
            );
            let both = format!("{}{}", stdout(&out), stderr(&out));
            for key in &expected {
                let data = key.split(' ').nth(1).unwrap();
                assert!(both.contains(data), "{name} {format}: {key}");
            }
            assert!(
                !both.contains(&format!("root@{host}")),
                "{name} {format}: comment"
            );
            for line in &secrets {
                assert!(
                    !both.contains(line.as_str()),
                    "{name} {format}: private key"
                );
            }
        }
        // The node.yaml register proposes: the same keys, nothing of the private ones.
        let dry = enlist(
            &[
                "register",
                "--dry-run",
                "--root",
                root.to_str().unwrap(),
                "--repo",
                "acme/fleet",
            ],
            &[],
        );
        assert!(dry.status.success(), "{}", stderr(&dry));
        let proposed = stdout(&dry);
        assert!(proposed.contains("sshHostKeys:\n- "), "{proposed}");
        for key in &expected {
            assert!(proposed.contains(&format!("- {key}\n")), "{name}: {key}");
        }
        for line in &secrets {
            assert!(!stderr(&dry).contains(line.as_str()) && !proposed.contains(line.as_str()));
        }
    }
}

#[test]
fn issue_27_without_host_keys_the_node_registers_without_them_and_says_so() {
    let root = fixture("placeholder-board");
    assert!(!root.join("etc/ssh").exists());
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("sshHostKeys").is_none(), "{json}");
    let err = stderr(&out);
    assert!(
        err.contains("warning: no SSH host public key under")
            && err.contains("[inventory.host_keys_missing]"),
        "{err}"
    );
    // A machine with keys does not raise the event.
    let dell = enlist(
        &["facts", "--root", fixture("dell-r640").to_str().unwrap()],
        &[],
    );
    assert!(!stderr(&dell).contains("host_keys_missing"));
}

/// A root with an identity (machine-id) and a hostname, and `/etc/ssh` as given.
fn bare_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    std::fs::create_dir_all(etc.join("ssh")).unwrap();
    std::fs::write(etc.join("hostname"), "k1\n").unwrap();
    std::fs::write(etc.join("machine-id"), "0f9e8d7c6b5a49382716a5b4c3d2e1f0\n").unwrap();
    dir
}

#[test]
fn issue_27_hostile_pub_files_are_skipped_with_a_warning_not_a_crash() {
    let dir = bare_root();
    let ssh = dir.path().join("etc/ssh");
    let dell = fixture("dell-r640").join("etc/ssh");
    // One good key, and its private key beside it.
    std::fs::copy(
        dell.join("ssh_host_ed25519_key.pub"),
        ssh.join("ssh_host_ed25519_key.pub"),
    )
    .unwrap();
    std::fs::copy(
        dell.join("ssh_host_ed25519_key"),
        ssh.join("ssh_host_ed25519_key"),
    )
    .unwrap();
    // A .pub that is a link to the private key: read, refused, never shown.
    symlink("ssh_host_ed25519_key", ssh.join("ssh_host_linked_key.pub")).unwrap();
    // A copy of the RSA private key under a .pub name.
    std::fs::copy(
        dell.join("ssh_host_rsa_key"),
        ssh.join("ssh_host_copied_key.pub"),
    )
    .unwrap();
    // A FIFO (opening it would block), a huge file, /dev/zero behind an absolute link (resolved
    // inside the root: absent), a key whose data says another type, garbage, an empty file.
    assert!(
        std::process::Command::new("mkfifo")
            .arg(ssh.join("ssh_host_fifo_key.pub"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(ssh.join("ssh_host_big_key.pub"), vec![b'A'; 1 << 20]).unwrap();
    symlink("/dev/zero", ssh.join("ssh_host_zero_key.pub")).unwrap();
    let ed = std::fs::read_to_string(dell.join("ssh_host_ed25519_key.pub")).unwrap();
    std::fs::write(
        ssh.join("ssh_host_swapped_key.pub"),
        ed.replace("ssh-ed25519", "ssh-rsa"),
    )
    .unwrap();
    std::fs::write(
        ssh.join("ssh_host_junk_key.pub"),
        "@everyone\u{202e}<img src=x> AAAA\n",
    )
    .unwrap();
    std::fs::write(ssh.join("ssh_host_empty_key.pub"), "").unwrap();

    let secrets = private_key_lines(&fixture("dell-r640"));
    let started = Instant::now();
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--root",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(started.elapsed() < Duration::from_secs(10), "bounded");
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = ed.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(json["sshHostKeys"], serde_json::json!([expected]));
    let err = stderr(&out);
    for (file, why) in [
        ("ssh_host_linked_key.pub", "holds a private key"),
        ("ssh_host_copied_key.pub", "holds a private key"),
        ("ssh_host_fifo_key.pub", "not a regular file"),
        ("ssh_host_big_key.pub", "larger than 16 KiB"),
        ("ssh_host_zero_key.pub", "cannot resolve"),
        ("ssh_host_swapped_key.pub", "but the line says ssh-rsa"),
        ("ssh_host_junk_key.pub", "(not a key type name)"),
        ("ssh_host_empty_key.pub", "empty"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file}: {err}"));
        assert!(line.contains("skipped") && line.contains(why), "{line}");
    }
    assert!(
        !err.contains("@everyone") && !err.contains('\u{202e}'),
        "{err}"
    );
    for line in &secrets {
        assert!(!err.contains(line.as_str()), "private key in the warnings");
    }
    assert!(!err.contains("host_keys_missing"), "one key was usable");
}

#[test]
fn issue_27_keys_in_a_linked_directory_resolve_inside_the_root() {
    // Impermanence layouts keep /etc/ssh on another file system: /etc/ssh → /persist/etc/ssh.
    let dir = bare_root();
    std::fs::remove_dir(dir.path().join("etc/ssh")).unwrap();
    let persist = dir.path().join("persist/etc/ssh");
    std::fs::create_dir_all(&persist).unwrap();
    let dell = fixture("dell-r640").join("etc/ssh");
    std::fs::copy(
        dell.join("ssh_host_ed25519_key.pub"),
        persist.join("ssh_host_ed25519_key.pub"),
    )
    .unwrap();
    symlink("/persist/etc/ssh", dir.path().join("etc/ssh")).unwrap();
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--root",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["sshHostKeys"].as_array().unwrap().len(), 1);
}

#[test]
fn issue_27_a_node_yaml_with_a_bad_host_key_is_invalid_naming_it() {
    let root = fixture("dell-r640");
    let out = enlist(&["facts", "--root", root.to_str().unwrap()], &[]);
    let good = stdout(&out);
    let doc = enlist::document::NodeDocument::parse(&good, "node.yaml").unwrap();
    let key = doc.ssh_host_keys[0].as_str().to_owned();
    for (edit, why) in [
        (
            format!("{key} root@r640-a1"),
            "not in the form enlist writes",
        ),
        (
            key.replacen("ssh-ed25519", "ssh-rsa", 1),
            "but the line says",
        ),
        ("ssh-dss AAAA".to_owned(), "not one enlist records"),
    ] {
        let text = good.replace(&key, &edit);
        let err = enlist::document::NodeDocument::parse(&text, "cluster-nodes/x/node.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster-nodes/x/node.yaml"), "{err}");
        assert!(err.contains("sshHostKeys") && err.contains(why), "{err}");
    }
    // The verified document's keys are the checked type.
    let _: &HostKey = &doc.ssh_host_keys[0];
}

#[test]
fn issue_27_the_installer_preview_reads_the_keys_provisioned_into_the_target() {
    // nixos-anywhere's --extra-files and similar put the host keys into the installed system
    // before its first boot: the preview proposes them, not this machine's own.
    let target = bare_root();
    std::fs::remove_file(target.path().join("etc/machine-id")).unwrap();
    std::fs::create_dir_all(target.path().join("etc/enlist")).unwrap();
    std::fs::write(
        target.path().join("etc/enlist/config.yaml"),
        "repo: target-org/fleet\n",
    )
    .unwrap();
    let vm = fixture("vm-no-dmi");
    std::fs::copy(
        vm.join("etc/ssh/ssh_host_ed25519_key.pub"),
        target.path().join("etc/ssh/ssh_host_ed25519_key.pub"),
    )
    .unwrap();
    let expected = public_keys(&vm);
    let dir = target.path().to_str().unwrap();
    let facts = enlist(&["facts", "--format", "json", "--target", dir], &[]);
    if facts.status.code() == Some(78) && stderr(&facts).contains("no usable machine identity") {
        eprintln!("this machine has no usable identity: skipping the --target preview");
        return;
    }
    assert!(facts.status.success(), "{}", stderr(&facts));
    let json: Value = serde_json::from_slice(&facts.stdout).unwrap();
    assert_eq!(json["sshHostKeys"], serde_json::json!(expected));
    let preview = enlist(&["register", "--target", dir], &[]);
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    let doc: Value = serde_yaml::from_str(&stdout(&preview)).unwrap();
    assert_eq!(doc["sshHostKeys"], serde_json::json!(expected));
}
