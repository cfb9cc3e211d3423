//! `enlist export --format nix` and `--check` (issue 14): the registered fleet as Nix for the
//! GitOps flake, through the real binary. The Nix evaluation needs `nix-instantiate` (Debian:
//! nix-bin; `.ci/run` installs it); without it those assertions are skipped with a message.

use std::fs;
use std::path::{Path, PathBuf};

use enlist::document::NodeDocument;
use enlist::identity::NodeId;
use serde_json::Value;

use crate::support::{enlist, stderr, stdout};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops")
}

/// A copy of the example repository's node.yaml files and inventory in a temp dir.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let nodes = example().join("cluster-nodes");
    for entry in fs::read_dir(&nodes).unwrap() {
        let entry = entry.unwrap();
        let file = entry.path().join("node.yaml");
        if file.is_file() {
            let target = dir.path().join("cluster-nodes").join(entry.file_name());
            fs::create_dir_all(&target).unwrap();
            fs::copy(&file, target.join("node.yaml")).unwrap();
        }
    }
    fs::copy(
        example().join("inventory.csv"),
        dir.path().join("inventory.csv"),
    )
    .unwrap();
    dir
}

/// A valid document derived from one of the example's, under a new id and hostname.
fn variant(dir: &Path, from: &str, id: &str, hostname: &str) -> NodeDocument {
    let text = fs::read_to_string(dir.join(format!("cluster-nodes/{from}/node.yaml"))).unwrap();
    let mut doc = NodeDocument::parse(&text, from).unwrap();
    doc.hostname = hostname.to_owned();
    let mut doc = doc.with_node_id(NodeId::parse(id).unwrap());
    doc.facts_hash = doc.compute_facts_hash();
    let path = dir.join(format!("cluster-nodes/{id}/node.yaml"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, doc.to_yaml()).unwrap();
    doc
}

fn export(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--nodes",
        dir.to_str().unwrap(),
        "--format",
        "nix",
    ];
    args.extend_from_slice(extra);
    enlist(&args, &[])
}

/// `nix-instantiate --eval --strict --json` of a file, or None without nix-instantiate.
fn evaluate(file: &Path) -> Option<Value> {
    let Ok(out) = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(file)
        .output()
    else {
        eprintln!(
            "nix-instantiate not on PATH: skipping the evaluation (.ci/run installs nix-bin)"
        );
        return None;
    };
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn export_nix_holds_exactly_the_valid_nodes_and_evaluates() {
    let repo = checkout();
    let dir = repo.path();
    // Invalid: garbage, and a hand-edited file (its factsHash no longer matches).
    fs::create_dir_all(dir.join("cluster-nodes/node-bad001")).unwrap();
    fs::write(dir.join("cluster-nodes/node-bad001/node.yaml"), "schema: [").unwrap();
    let edited = variant(dir, "node-7cd468", "node-bad002", "edited");
    let text = edited
        .to_yaml()
        .replace("hostname: edited", "hostname: edited-by-hand");
    fs::write(dir.join("cluster-nodes/node-bad002/node.yaml"), text).unwrap();
    // Valid, with text Nix must not interpret: quotes, `${…}`, a backslash, a newline escape.
    let hostile = "x\"${builtins.abort \"pwned\"}\\n'';";
    variant(dir, "node-41af85", "node-c0ffee", hostile);

    let out = export(
        dir,
        &["--inventory", dir.join("inventory.csv").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cluster-nodes/node-bad001/node.yaml: left out"),
        "{err}"
    );
    assert!(
        err.contains("cluster-nodes/node-bad002/node.yaml: left out"),
        "{err}"
    );
    let text = stdout(&out);
    assert!(!text.contains("node-bad00"), "{text}");

    // Deterministic: the same tree gives the same bytes.
    let again = export(
        dir,
        &["--inventory", dir.join("inventory.csv").to_str().unwrap()],
    );
    assert_eq!(stdout(&again), text);

    let file = dir.join("fleet.nix");
    fs::write(&file, &text).unwrap();
    let Some(fleet) = evaluate(&file) else {
        return;
    };
    let ids: Vec<&String> = fleet.as_object().unwrap().keys().collect();
    assert_eq!(
        ids,
        [
            "node-3a8f90",
            "node-41af85",
            "node-7cd468",
            "node-a8f1b6",
            "node-b381b4",
            "node-c0ffee",
            "node-f7bfde"
        ]
    );
    // Each node's facts are its node.yaml's, read back through Nix.
    for id in ids {
        let yaml = fs::read_to_string(dir.join(format!("cluster-nodes/{id}/node.yaml"))).unwrap();
        let doc = NodeDocument::parse(&yaml, id).unwrap();
        let node = &fleet[id];
        assert_eq!(node["hostname"], doc.hostname.as_str(), "{id}");
        assert_eq!(node["cpu"]["threads"], doc.cpu.threads, "{id}");
        assert_eq!(node["memory"]["totalBytes"], doc.memory.total_bytes, "{id}");
        assert_eq!(node["factsHash"], doc.facts_hash.as_str(), "{id}");
        assert_eq!(
            node["path"],
            format!("cluster-nodes/{id}/node.yaml"),
            "{id}"
        );
        assert!(node.get("schema").is_none(), "{id}");
    }
    assert_eq!(fleet["node-c0ffee"]["hostname"], hostile);
    // The inventory row's fields, or null for a node the inventory does not know.
    assert_eq!(fleet["node-3a8f90"]["inventory"]["status"], "active");
    assert_eq!(fleet["node-3a8f90"]["inventory"]["assetTag"], "AT-1002");
    assert_eq!(fleet["node-b381b4"]["inventory"], Value::Null);
}

#[test]
fn export_nix_check_is_0_when_fresh_and_1_naming_the_nodes_when_stale() {
    let repo = checkout();
    let dir = repo.path();
    let file = dir.join("cluster-nodes/fleet.nix");
    let generated = export(dir, &[]);
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    fs::write(&file, &generated.stdout).unwrap();
    let check = ["--check", file.to_str().unwrap()];

    let fresh = export(dir, &check);
    assert_eq!(fresh.status.code(), Some(0), "{}", stderr(&fresh));
    assert!(
        stdout(&fresh).is_empty(),
        "--check prints nothing on stdout"
    );

    // A node's facts change (a DIMM died), another registers, a third goes.
    variant(dir, "node-a8f1b6", "node-a8f1b6", "r650-b02-renamed");
    variant(dir, "node-41af85", "node-0a0b0c", "new-node");
    fs::remove_dir_all(dir.join("cluster-nodes/node-b381b4")).unwrap();
    let stale = export(dir, &check);
    assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
    let err = stderr(&stale);
    assert!(err.contains("is stale"), "{err}");
    assert!(err.contains("changed: node-a8f1b6"), "{err}");
    assert!(err.contains("not in the file yet: node-0a0b0c"), "{err}");
    assert!(
        err.contains("no longer registered (or now invalid): node-b381b4"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "enlist export --nodes {} --format nix > {}",
            dir.display(),
            file.display()
        )),
        "{err}"
    );
    // The file itself is untouched by --check.
    assert_eq!(fs::read(&file).unwrap(), generated.stdout);

    // Regenerated, it is fresh again.
    fs::write(&file, export(dir, &[]).stdout).unwrap();
    assert_eq!(export(dir, &check).status.code(), Some(0));
}

#[test]
fn export_nix_leaves_out_a_node_id_two_files_claim() {
    let repo = checkout();
    let dir = repo.path();
    // The same node.yaml under a second operator's tree.
    let source = dir.join("cluster-nodes/node-7cd468/node.yaml");
    let twin = dir.join("maintainers/bob/cluster-nodes/node-7cd468/node.yaml");
    fs::create_dir_all(twin.parent().unwrap()).unwrap();
    fs::copy(&source, &twin).unwrap();
    let out = export(dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("node-7cd468"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("node id node-7cd468: left out: claimed by 2 files"),
        "{err}"
    );
}

#[test]
fn export_check_needs_nix_and_an_existing_file() {
    let repo = checkout();
    let dir = repo.path();
    let out = enlist(
        &[
            "export",
            "--nodes",
            dir.to_str().unwrap(),
            "--format",
            "csv",
            "--check",
            "x.csv",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--check compares a fleet file"),
        "{}",
        stderr(&out)
    );
    let missing = dir.join("nowhere/fleet.nix");
    let out = export(dir, &["--check", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nowhere/fleet.nix"),
        "{}",
        stderr(&out)
    );
}

/// The example repository's committed fleet file is what `export` generates from its node.yaml
/// files, inventory and inventory map (the example workflow keeps it so) — there, and in a copy of
/// the example outside any git checkout (paths in it are relative to `--nodes`).
/// `ENLIST_UPDATE_GOLDEN=1` rewrites it.
#[test]
fn example_fleet_nix_is_current() {
    fn args(dir: &Path) -> Vec<String> {
        [
            "export",
            "--nodes",
            dir.to_str().unwrap(),
            "--inventory",
            dir.join("inventory.csv").to_str().unwrap(),
            "--inventory-map",
            dir.join("inventory-map.yaml").to_str().unwrap(),
            "--format",
            "nix",
        ]
        .map(str::to_owned)
        .to_vec()
    }
    fn run(args: &[String]) -> std::process::Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        enlist(&args, &[])
    }
    let dir = example();
    let file = dir.join("cluster-nodes/fleet.nix");
    if std::env::var("ENLIST_UPDATE_GOLDEN").as_deref() == Ok("1") {
        let out = run(&args(&dir));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        fs::write(&file, &out.stdout).unwrap();
    }
    let copy = tempfile::tempdir().unwrap();
    for name in ["inventory.csv", "inventory-map.yaml"] {
        fs::copy(dir.join(name), copy.path().join(name)).unwrap();
    }
    for entry in fs::read_dir(dir.join("cluster-nodes")).unwrap() {
        let entry = entry.unwrap();
        let target = copy.path().join("cluster-nodes").join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&target).unwrap();
            fs::copy(entry.path().join("node.yaml"), target.join("node.yaml")).unwrap();
        } else {
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::copy(entry.path(), &target).unwrap();
        }
    }
    for root in [dir.as_path(), copy.path()] {
        let mut check = args(root);
        check.push("--check".into());
        check.push(root.join("cluster-nodes/fleet.nix").display().to_string());
        let out = run(&check);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            root.display(),
            stderr(&out)
        );
    }
}
