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

// ---------------------------------------------------------------------------------------------
// Exports: `--format nix` (`sshHostKeys`, `ageRecipient`) and `--format age-recipients`

/// ssh-to-age's own examples (github.com/Mic92/ssh-to-age): the ed25519 host keys of
/// `eve.thalheim.io` and `eva.thalheim.io` in `cmd/ssh-to-age/test-assets/keyscan.txt`, and the
/// recipients its README shows for `ssh-keyscan eve.thalheim.io eva.thalheim.io | ssh-to-age`.
const SSH_TO_AGE: [(&str, &str); 2] = [
    (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/KPU3Z5LSjbBI6hrq25wCcseq2UpqSzUFZRr+ux6LM",
        "age1hjm3aujg9e79f5yth8a2cejzdjg5n9vnu96l05p70uvfpeltnpms7yy3pp",
    ),
    (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIL2vjdqpppuCn7yPdF2muINriAG7zBWrsELKpPWkhn5",
        "age1v8zjc47jmlqwefyu66s0d4ke98qr4vnuj3cpvs4z9npfdw833dxqwjrhzv",
    ),
];

/// Writes a valid node.yaml under `dir`: the `dell-r640` fixture's facts under `id`, with this
/// hostname and these host keys.
fn node(dir: &Path, id: &str, hostname: &str, keys: &[&str]) -> enlist::document::NodeDocument {
    let root = fixture("dell-r640");
    let out = enlist(&["facts", "--root", root.to_str().unwrap()], &[]);
    let mut doc = enlist::document::NodeDocument::parse(&stdout(&out), "dell").unwrap();
    doc.hostname = hostname.to_owned();
    doc.ssh_host_keys = keys.iter().map(|k| HostKey::parse(k).unwrap()).collect();
    let mut doc = doc.with_node_id(enlist::identity::NodeId::parse(id).unwrap());
    doc.facts_hash = doc.compute_facts_hash();
    let path = dir.join(format!("cluster-nodes/{id}/node.yaml"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, doc.to_yaml()).unwrap();
    doc
}

fn export(dir: &Path, format: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--nodes",
        dir.to_str().unwrap(),
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    enlist(&args, &[])
}

/// Three nodes: two with ssh-to-age's example keys (one hostname hostile), one without keys.
fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rsa =
        std::fs::read_to_string(fixture("dell-r640").join("etc/ssh/ssh_host_rsa_key.pub")).unwrap();
    node(
        dir.path(),
        "node-aaaaaa",
        "eve",
        &[SSH_TO_AGE[0].0, rsa.trim()],
    );
    node(
        dir.path(),
        "node-bbbbbb",
        "eva\nage1smuggledrecipient\r# x",
        &[SSH_TO_AGE[1].0],
    );
    node(dir.path(), "node-cccccc", "fresh", &[]);
    dir
}

#[test]
fn issue_27_export_age_recipients_gives_what_ssh_to_age_gives() {
    let dir = fleet();
    let out = export(dir.path(), "age-recipients", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let recipients: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(recipients, [SSH_TO_AGE[0].1, SSH_TO_AGE[1].1], "{text}");
    let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(comments.len(), 3, "the header and one per node: {text}");
    assert!(comments[0].starts_with("# Generated by `enlist export --format age-recipients`"));
    assert_eq!(comments[1], "# node-aaaaaa eve");
    // The hostile hostname stays inside its comment: no line of its own.
    assert_eq!(
        comments[2],
        "# node-bbbbbb eva\u{FFFD}age1smuggledrecipient\u{FFFD}# x"
    );
    // The node without keys is left out, and named.
    assert!(!text.contains("node-cccccc"));
    assert!(
        stderr(&out).contains(
            "have no SSH ed25519 host key and are not in the recipients file: node-cccccc"
        ),
        "{}",
        stderr(&out)
    );

    // --check: fresh, then stale naming the node.
    let file = dir.path().join("recipients.txt");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = export(
        dir.path(),
        "age-recipients",
        &["--check", file.to_str().unwrap()],
    );
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    node(dir.path(), "node-cccccc", "fresh", &[SSH_TO_AGE[1].0]);
    let check = export(
        dir.path(),
        "age-recipients",
        &["--check", file.to_str().unwrap()],
    );
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    let err = stderr(&check);
    assert!(err.contains("not in the file yet: node-cccccc"), "{err}");
    assert!(err.contains("--format age-recipients >"), "{err}");
}

#[test]
fn issue_27_export_nix_gives_each_node_its_host_keys_and_recipient() {
    let dir = fleet();
    let out = export(dir.path(), "nix", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("ageRecipient = \"{}\";", SSH_TO_AGE[0].1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("ageRecipient = \"{}\";", SSH_TO_AGE[1].1)),
        "{text}"
    );
    assert!(text.contains("ageRecipient = null;"), "{text}");
    assert!(text.contains("sshHostKeys = [ ];"), "{text}");
    let Ok(probe) = std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
    else {
        eprintln!(
            "nix-instantiate not on PATH: skipping the evaluation (.ci/run installs nix-bin)"
        );
        return;
    };
    assert!(probe.status.success());
    let file = dir.path().join("fleet.nix");
    std::fs::write(&file, &out.stdout).unwrap();
    let eval = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let fleet: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(fleet["node-aaaaaa"]["ageRecipient"], SSH_TO_AGE[0].1);
    assert_eq!(
        fleet["node-aaaaaa"]["sshHostKeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(fleet["node-bbbbbb"]["ageRecipient"], SSH_TO_AGE[1].1);
    assert_eq!(
        fleet["node-bbbbbb"]["sshHostKeys"],
        serde_json::json!([SSH_TO_AGE[1].0])
    );
    assert_eq!(fleet["node-cccccc"]["ageRecipient"], Value::Null);
    assert_eq!(fleet["node-cccccc"]["sshHostKeys"], serde_json::json!([]));
}

/// The OpenSSH private key file's ed25519 seed (unencrypted `openssh-key-v1`, PROTOCOL.key).
fn ed25519_seed(private_key: &str) -> [u8; 32] {
    use base64::Engine as _;
    use ssh_encoding::Decode;
    let body: String = private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let mut reader: &[u8] = bytes.strip_prefix(b"openssh-key-v1\0").unwrap();
    for expected in ["none", "none", ""] {
        assert_eq!(
            String::decode(&mut reader).unwrap(),
            expected,
            "unencrypted"
        );
    }
    assert_eq!(u32::decode(&mut reader).unwrap(), 1, "one key");
    let _public = Vec::<u8>::decode(&mut reader).unwrap();
    let private = Vec::<u8>::decode(&mut reader).unwrap();
    let mut reader: &[u8] = &private;
    let (check1, check2) = (
        u32::decode(&mut reader).unwrap(),
        u32::decode(&mut reader).unwrap(),
    );
    assert_eq!(check1, check2);
    assert_eq!(String::decode(&mut reader).unwrap(), "ssh-ed25519");
    let _point = Vec::<u8>::decode(&mut reader).unwrap();
    let secret = Vec::<u8>::decode(&mut reader).unwrap();
    secret[..32].try_into().unwrap()
}

/// The cross-check with the age tool itself (Debian's `age`, if installed; `.ci/run` installs
/// it): what `age -R` encrypts to the exported recipients file, the host's own key decrypts —
/// as the X25519 identity ssh-to-age derives from the private key (SHA-512 of the seed, first
/// 32 bytes), which is what sops-nix does with `sops.age.sshKeyPaths` on the node.
#[test]
fn issue_27_age_encrypts_to_the_exported_recipient_and_the_host_key_decrypts() {
    let Ok(probe) = std::process::Command::new("age").arg("--version").output() else {
        eprintln!("age not on PATH: skipping the cross-check with age (.ci/run installs it)");
        return;
    };
    assert!(probe.status.success());
    let root = fixture("dell-r640");
    let dir = tempfile::tempdir().unwrap();
    let out = enlist(&["facts", "--root", root.to_str().unwrap()], &[]);
    let doc = enlist::document::NodeDocument::parse(&stdout(&out), "dell").unwrap();
    let path = dir
        .path()
        .join(format!("cluster-nodes/{}/node.yaml", doc.node_id));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, stdout(&out)).unwrap();
    let recipients = dir.path().join("recipients.txt");
    let exported = export(dir.path(), "age-recipients", &[]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    std::fs::write(&recipients, &exported.stdout).unwrap();

    let private = std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key")).unwrap();
    let seed = ed25519_seed(&private);
    let scalar = ring::digest::digest(&ring::digest::SHA512, &seed);
    let identity = bech32::encode::<bech32::Bech32>(
        bech32::Hrp::parse("age-secret-key-").unwrap(),
        &scalar.as_ref()[..32],
    )
    .unwrap()
    .to_uppercase();
    let identity_file = dir.path().join("identity.txt");
    std::fs::write(&identity_file, format!("{identity}\n")).unwrap();
    // age-keygen -y: the recipient of that identity is the one exported.
    let derived = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(&identity_file)
        .output()
        .unwrap();
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let exported = stdout(&exported);
    let line = exported.lines().find(|l| l.starts_with("age1")).unwrap();
    assert_eq!(String::from_utf8_lossy(&derived.stdout).trim(), line);

    let plain = dir.path().join("secret.txt");
    std::fs::write(&plain, "the cluster's secret\n").unwrap();
    let sealed = dir.path().join("secret.age");
    let enc = std::process::Command::new("age")
        .arg("-R")
        .arg(&recipients)
        .arg("-o")
        .arg(&sealed)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let dec = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity_file)
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, b"the cluster's secret\n");
}
