//! Issue 18: the installer's preview (`--target DIR`) and symlinks resolved inside a root as under
//! `chroot` (NixOS's `/etc/hostname → /etc/static/hostname → /nix/store/…-etc-hostname`).

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::support::{enlist, fixture, stderr, stdout};

/// A NixOS system as `nixos-install` leaves it under `/mnt` before its first boot: `/etc` built in
/// the store and linked in with absolute links, enlist's config among the files.
fn nixos_target(hostname: &str, config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let etc = "nix/store/1f7wfsv2hsn2rmxs80qm1n7yiwfk5a1d-etc/etc";
    let files = [
        (
            "hostname",
            "nix/store/2kcrbyb8wjsx5n0z6xkgvfhdd0m9qf1y-etc-hostname",
            format!("{hostname}\n"),
        ),
        (
            "enlist/config.yaml",
            "nix/store/6zv1j4w9q3m0r2x7c8b5n1k4d3f2g0h9-enlist.yaml",
            config.to_owned(),
        ),
    ];
    for (name, store_file, content) in files {
        std::fs::create_dir_all(root.join(store_file).parent().unwrap()).unwrap();
        std::fs::write(root.join(store_file), content).unwrap();
        let in_etc = root.join(etc).join(name);
        std::fs::create_dir_all(in_etc.parent().unwrap()).unwrap();
        symlink(format!("/{store_file}"), &in_etc).unwrap();
        let link = root.join("etc").join(name);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(format!("/etc/static/{name}"), &link).unwrap();
    }
    symlink(format!("/{etc}"), root.join("etc/static")).unwrap();
    dir
}

/// Every entry under `dir` with its type, size and modification time: "nothing written" is this
/// staying the same.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let kind = format!("{:?}", meta.file_type());
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                todo.push(entry.unwrap().path());
            }
        }
        out.insert(path, (kind, meta.len(), meta.modified().ok()));
    }
    out
}

/// `enlist facts --format json` of this machine, or `None` when it has no usable identity.
fn host_facts() -> Option<Value> {
    let out = enlist(&["facts", "--format", "json"], &[]);
    match out.status.code() {
        Some(0) => Some(serde_json::from_slice(&out.stdout).unwrap()),
        Some(78) if stderr(&out).contains("no usable machine identity") => None,
        other => panic!("facts on this machine: {other:?}: {}", stderr(&out)),
    }
}

#[test]
fn issue_18_facts_root_follows_nixos_etc_links_inside_the_fixture() {
    for (name, hostname) in [
        ("dell-r640", "r640-a1"),
        ("supermicro-x11", "sm-b07"),
        ("placeholder-board", "lab-07"),
    ] {
        let root = fixture(name);
        // The fixture really has NixOS's layout: absolute links, which the host cannot follow.
        assert_eq!(
            std::fs::read_link(root.join("etc/hostname")).unwrap(),
            Path::new("/etc/static/hostname"),
            "{name}"
        );
        assert!(
            std::fs::read_link(root.join("etc/static"))
                .unwrap()
                .starts_with("/nix/store"),
            "{name}"
        );
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
        assert_eq!(json["hostname"], hostname, "{name}");
    }
}

#[test]
fn issue_18_an_absolute_link_is_never_followed_on_the_host() {
    // The fixture's /etc/hostname names a file every Linux host has (the kernel's hostname);
    // the fixture holds its own copy. Followed on the host it would give the host's name.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixture("dell-r640"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::remove_file(root.join("etc/hostname")).unwrap();
    symlink("/proc/sys/kernel/hostname", root.join("etc/hostname")).unwrap();
    std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
    std::fs::write(root.join("proc/sys/kernel/hostname"), "inside-the-root\n").unwrap();
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
    assert_eq!(json["hostname"], "inside-the-root");

    // A link loop is a warning and a missing fact (then the kernel's name), never a hang.
    std::fs::remove_file(root.join("etc/hostname")).unwrap();
    symlink("/etc/hostname", root.join("etc/hostname")).unwrap();
    let out = enlist(&["facts", "--root", root.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("etc/hostname"),
        "the unreadable file is named: {}",
        stderr(&out)
    );
}

#[test]
fn issue_18_facts_target_takes_the_system_from_dir_and_the_hardware_from_here() {
    let target = nixos_target("rack1-n7", "operator: alice\n");
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--target",
            target.path().to_str().unwrap(),
        ],
        &[],
    );
    let Some(host) = host_facts() else {
        assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["hostname"], "rack1-n7", "the target's hostname");
    assert_eq!(json["operator"], "alice", "the target's config");
    for key in [
        "nodeId", "identity", "system", "disks", "network", "gpus", "cpu",
    ] {
        assert_eq!(json[key], host[key], "{key} comes from this machine");
    }
    assert_ne!(
        json["factsHash"], host["factsHash"],
        "the hostname is hashed"
    );
}

#[test]
fn issue_18_a_target_without_a_hostname_file_is_warned_about() {
    // networking.hostName = "": the first boot takes the kernel's name then, unknown now.
    let target = nixos_target("unused", "repo: a/b\n");
    std::fs::remove_file(target.path().join("etc/hostname")).unwrap();
    let out = enlist(&["facts", "--target", target.path().to_str().unwrap()], &[]);
    if host_facts().is_none() {
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("etc/hostname is missing"), "{err}");
    assert!(err.contains("may differ"), "{err}");
}

#[test]
fn issue_18_register_target_previews_the_first_boot_and_writes_nothing() {
    // Only the target's config and its NixOS hostname link: no --config, --repo or token.
    let target = nixos_target("rack1-n7", "repo: target-org/fleet\noperator: alice\n");
    let before = snapshot(target.path());
    let out = enlist(
        &["register", "--target", target.path().to_str().unwrap()],
        &[],
    );
    let Some(host) = host_facts() else {
        assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
        assert!(stderr(&out).contains("no usable machine identity"));
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    let node_id = host["nodeId"].as_str().unwrap();
    assert_eq!(doc["nodeId"], node_id, "this machine's node id");
    assert_eq!(doc["hostname"], "rack1-n7", "the target's hostname");
    assert_eq!(doc["operator"], "alice");
    let err = stderr(&out);
    assert!(err.contains("target-org/fleet"), "the target's repo: {err}");
    assert!(
        err.contains(&format!("cluster-nodes/{node_id}/node.yaml")),
        "{err}"
    );
    assert!(err.contains("remote checks skipped"), "{err}");
    assert_eq!(snapshot(target.path()), before, "nothing written under DIR");
    assert!(!target.path().join("var").exists());

    // The node.yaml is the one `facts --target` prints: the same document the first boot
    // proposes, byte for byte.
    let facts = enlist(&["facts", "--target", target.path().to_str().unwrap()], &[]);
    assert_eq!(stdout(&facts), yaml);
}

#[test]
fn issue_18_register_target_json_is_one_object_for_installer_scripts() {
    let target = nixos_target("rack1-n7", "repo: target-org/fleet\n");
    let out = enlist(
        &[
            "register",
            "--target",
            target.path().to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    if host_facts().is_none() {
        assert_eq!(out.status.code(), Some(78));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["repo"], "target-org/fleet");
    assert_eq!(json["target"], target.path().to_str().unwrap());
    assert_eq!(json["checked"], false, "no token: nothing asked");
    assert_eq!(json["github"], "unknown");
    assert_eq!(json["first_boot"], "unknown");
    assert!(json["summary"].as_str().unwrap().contains("no token"));
    let doc: Value = serde_yaml::from_str(json["node_yaml"].as_str().unwrap()).unwrap();
    assert_eq!(doc["nodeId"], json["node_id"]);
    assert_eq!(doc["factsHash"], json["facts_hash"]);
    assert_eq!(doc["hostname"], "rack1-n7");

    // --json asks for the preview: it is a usage error on a run that writes.
    let out = enlist(&["register", "--repo", "a/b", "--json"], &[]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

#[test]
fn issue_18_target_errors_name_the_file_and_what_to_do() {
    // No config in the target: the error names the target's file.
    let empty = tempfile::tempdir().unwrap();
    let out = enlist(
        &["register", "--target", empty.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let expected = empty.path().join("etc/enlist/config.yaml");
    assert!(
        stderr(&out).contains(expected.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    // --root and --target contradict each other.
    let out = enlist(
        &[
            "register",
            "--target",
            empty.path().to_str().unwrap(),
            "--root",
            "/",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let target = nixos_target("n1", "repo: a/b\n");
    let out = enlist(
        &["register", "--target", target.path().to_str().unwrap()],
        &[("ENLIST_ROOT", "/srv/fixture")],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("ENLIST_ROOT"), "{}", stderr(&out));
    // A config link that loops is named, not followed forever.
    let looping = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(looping.path().join("etc/enlist")).unwrap();
    symlink(
        "/etc/enlist/config.yaml",
        looping.path().join("etc/enlist/config.yaml"),
    )
    .unwrap();
    let out = enlist(
        &["register", "--target", looping.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic links"), "{}", stderr(&out));
}
