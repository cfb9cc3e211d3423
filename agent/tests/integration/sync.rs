//! `enlist sync` against a real PostgreSQL (issue 7), and `enlist export` (with DuckDB).
//!
//! One throwaway server per test process (`postgres.rs`), one database
//! per test. Without PostgreSQL these tests print why and pass, unless `ENLIST_DB_TEST=1` (CI),
//! which turns that into a failure. The DuckDB test likewise needs `ENLIST_DUCKDB_TEST=1` and the
//! `duckdb` Python package.
//!
//! Everything goes through the real binary: exit codes, stderr and `--show-missing` are the
//! contract; the database is inspected with `psql`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Disk, Facts, Memory, Nic, System};
use enlist::identity::{Candidates, Identity};

use crate::support::{enlist, stderr, stdout};

#[path = "postgres.rs"]
pub(crate) mod postgres;

use postgres::Postgres;

// ---------------------------------------------------------------------------------------------
// A database per test

pub(crate) struct Db {
    pub(crate) pg: &'static Postgres,
    pub(crate) name: String,
}

impl Db {
    /// A fresh database named after the test, or `None` when PostgreSQL is unavailable (and not
    /// required).
    pub(crate) fn new(test: &str) -> Option<Db> {
        let pg = postgres::shared_or_skip(test)?;
        let name = format!("t_{test}");
        pg.create_database(&name)
            .unwrap_or_else(|e| panic!("{test}: {e}\n{}", pg.log()));
        Some(Db { pg, name })
    }

    pub(crate) fn url(&self) -> String {
        self.pg.url(&self.name)
    }

    /// Rows of `sql` as JSON objects.
    pub(crate) fn rows(&self, sql: &str) -> Vec<Value> {
        let text = self.scalar(&format!(
            "SELECT coalesce(json_agg(t), '[]'::json) FROM ({sql}) AS t"
        ));
        match serde_json::from_str(&text) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("{sql}: {other:?} from {text:?}"),
        }
    }

    pub(crate) fn scalar(&self, sql: &str) -> String {
        self.pg
            .psql(&self.name, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    }

    pub(crate) fn exec(&self, sql: &str) {
        self.scalar(sql);
    }

    /// Runs `enlist sync` on `tree` with the URL in the environment.
    pub(crate) fn sync(&self, tree: &Path, args: &[&str]) -> Output {
        self.sync_env(tree, args, &[])
    }

    pub(crate) fn sync_env(&self, tree: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let url = self.url();
        let mut all_env: Vec<(&str, &str)> = vec![("ENLIST_DATABASE_URL", url.as_str())];
        all_env.extend_from_slice(env);
        enlist(&sync_args(tree, args), &all_env)
    }

    /// Nodes of a selection missing now (sorted paths) and the confidence.
    pub(crate) fn missing(&self, operators: &[&str]) -> (Vec<String>, Option<String>) {
        let hash = self.selection_hash(operators);
        let rows = self.rows(&format!(
            "SELECT path, confidence FROM missing_nodes WHERE selection_hash = '{hash}' \
             ORDER BY path"
        ));
        let confidence = self
            .rows(&format!(
                "SELECT confidence FROM latest_runs WHERE selection_hash = '{hash}'"
            ))
            .first()
            .and_then(|r| r["confidence"].as_str().map(str::to_owned));
        let paths = rows
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect();
        (paths, confidence)
    }

    /// The hash of the selection whose `selection.operators` is `operators` (sorted).
    pub(crate) fn selection_hash(&self, operators: &[&str]) -> String {
        let mut ops: Vec<&str> = operators.to_vec();
        ops.sort();
        let wanted = json!(ops).to_string();
        self.scalar(&format!(
            "SELECT selection_hash FROM selections WHERE selection->'operators' = '{wanted}'::jsonb"
        ))
    }
}

pub(crate) fn sync_args<'a>(tree: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sync",
        "--nodes",
        tree.to_str().unwrap(),
        "--inventory",
        inventory_path(tree),
    ];
    args.extend_from_slice(extra);
    args
}

pub(crate) fn inventory_path(tree: &Path) -> &'static str {
    // Leaked once per call: the tests are short-lived and this keeps the argument lists simple.
    Box::leak(
        tree.join("inventory.csv")
            .to_str()
            .unwrap()
            .to_owned()
            .into_boxed_str(),
    )
}

pub(crate) fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

// ---------------------------------------------------------------------------------------------
// Trees

const GIB: u64 = 1024 * 1024 * 1024;

/// A plausible machine, varied by `n`.
pub(crate) fn machine(n: u32) -> Facts {
    let r650 = n.is_multiple_of(3);
    Facts {
        hostname: format!("rack{:02}-n{:02}", n / 20, n % 20),
        identity: Identity::choose(&Candidates {
            product_uuid: Some(format!("4c4c4544-{:04x}-4810-8056-{:012x}", n % 0xffff, n)),
            ..Candidates::default()
        })
        .unwrap(),
        system: System {
            vendor: Some("Dell Inc.".into()),
            model: Some(
                if r650 {
                    "PowerEdge R650"
                } else {
                    "PowerEdge R640"
                }
                .into(),
            ),
            serial: Some(format!("ST{n:05}")),
            board_vendor: Some("Dell Inc.".into()),
            board_model: Some("0H28RR".into()),
        },
        cpu: Cpu {
            model: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".into(),
            arch: "x86_64".into(),
            sockets: 2,
            cores: if r650 { 64 } else { 40 },
            threads: if r650 { 128 } else { 80 },
        },
        memory: Memory {
            total_bytes: 377 * GIB,
        },
        disks: vec![Disk {
            model: Some("Dell Ent NVMe v2 AGN RI U.2 1.92TB".into()),
            serial: Some(format!("S4YN{n:08}")),
            size_bytes: 1_920_383_410_176,
            rotational: false,
            transport: "nvme".into(),
        }],
        network: (0..2u32)
            .map(|i| Nic {
                name: format!("eno{}", i + 1),
                mac: mac(n, i),
                driver: Some("bnxt_en".into()),
            })
            .collect(),
        gpus: vec![],
        ssh_host_keys: vec![],
    }
}

fn mac(n: u32, nic: u32) -> String {
    let b = n.to_be_bytes();
    format!("b0:26:{:02x}:{:02x}:{:02x}:{:02x}", nic, b[1], b[2], b[3])
}

/// A GitOps checkout in a temporary directory.
pub(crate) struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `facts` as `maintainers/<operator>/cluster-nodes/<id>/node.yaml`; returns that path.
    pub(crate) fn node(&self, operator: &str, facts: &Facts) -> String {
        let doc = NodeDocument::new(facts, facts.identity.node_id(6), Some(operator.to_owned()));
        let rel = format!(
            "maintainers/{operator}/cluster-nodes/{}/node.yaml",
            doc.node_id.as_str()
        );
        self.write(&rel, &doc.to_yaml());
        rel
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    pub(crate) fn remove_node(&self, rel: &str) {
        fs::remove_dir_all(self.path().join(rel).parent().unwrap()).unwrap();
    }

    pub(crate) fn inventory(&self, csv: &str) {
        fs::write(self.path().join("inventory.csv"), csv).unwrap();
    }

    /// `enlist reconcile --format json` on this tree.
    pub(crate) fn reconcile(&self) -> Value {
        let out = enlist(
            &[
                "reconcile",
                "--nodes",
                self.path().to_str().unwrap(),
                "--inventory",
                inventory_path(self.path()),
                "--format",
                "json",
            ],
            &[],
        );
        let mut report: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("reconcile json: {e}\n{}", stderr(&out)));
        // The findings and counts, as sync stores them: `columns` describes the CSV's header,
        // it is not a finding.
        if let Some(report) = report.as_object_mut() {
            report.remove("columns");
        }
        report
    }
}

/// `n` nodes (operators alice and bob, alternating) and an inventory: row per node by serial,
/// plus one machine nobody registered.
pub(crate) fn fleet(tree: &Tree, n: u32) -> Vec<String> {
    let mut csv = String::from("serial,hostname,make,model,cores,memory_gb,status,notes\n");
    let mut paths = Vec::new();
    for i in 0..n {
        let f = machine(i);
        paths.push(tree.node(if i % 2 == 0 { "alice" } else { "bob" }, &f));
        csv.push_str(&format!(
            "st{i:05},{},Dell,{},{},384,active,unknown column\n",
            f.hostname,
            f.system.model.as_deref().unwrap(),
            f.cpu.cores
        ));
    }
    csv.push_str("NEVER01,ghost,Dell,R640,40,384,active,\n");
    tree.inventory(&csv);
    paths
}

/// `nodes` and `inventory_items` without the columns a resync may change.
fn stable_rows(db: &Db) -> (Vec<Value>, Vec<Value>) {
    (
        db.rows(
            "SELECT path, node_id, operator, hostname, serial, vendor, model, cpu_model, cores, \
             threads, memory_bytes, storage_bytes, facts_hash, facts, valid, inventory_key, \
             first_seen_at FROM nodes ORDER BY path",
        ),
        db.rows(
            "SELECT item_key, line, serial, macs, asset_tag, hostname, make, model, cores, \
             memory_gb, storage_gb, status, location, cost, \"row\", first_seen_at \
             FROM inventory_items ORDER BY item_key",
        ),
    )
}

/// Drops `first_seen_at` too: for comparing databases with different histories.
fn content(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter()
        .map(|mut r| {
            if let Some(map) = r.as_object_mut() {
                map.remove("first_seen_at");
            }
            r
        })
        .collect()
}

/// The latest run's findings of the selection, rebuilt into reconcile's JSON shape.
pub(crate) fn findings_as_report(db: &Db, selection_hash: &str) -> Value {
    let kinds = [
        ("missing_registration", "missing_registration"),
        ("phantom_node", "phantom_nodes"),
        ("mismatch", "mismatches"),
        ("duplicate", "duplicates"),
        ("invalid", "invalid"),
        ("recommendation", "recommendations"),
    ];
    let mut report = serde_json::Map::new();
    for (kind, key) in kinds {
        let rows = db.rows(&format!(
            "SELECT detail FROM latest_findings WHERE selection_hash = '{selection_hash}' \
             AND kind = '{kind}' ORDER BY ordinal"
        ));
        report.insert(
            key.to_owned(),
            Value::Array(rows.into_iter().map(|r| r["detail"].clone()).collect()),
        );
    }
    let counts = db.rows(&format!(
        "SELECT counts FROM latest_runs WHERE selection_hash = '{selection_hash}'"
    ));
    let counts = &counts[0]["counts"];
    report.insert("nodes".into(), counts["nodes"].clone());
    report.insert("inventory".into(), counts["inventory"].clone());
    Value::Object(report)
}

// ---------------------------------------------------------------------------------------------
// The issue's list

#[test]
fn first_sync_creates_the_schema_and_mirrors_the_checkout() {
    let Some(db) = Db::new("first_sync") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 6);
    let out = db.sync(tree.path(), &[]);
    assert_exit(&out, 0, "first sync");
    assert!(
        stderr(&out).contains("sync run 1 completed"),
        "{}",
        stderr(&out)
    );

    assert_eq!(
        db.scalar("SELECT max(version) FROM schema_migrations"),
        enlist::sync::schema::LATEST.to_string()
    );
    let nodes = db.rows(
        "SELECT path, node_id, operator, valid, inventory_key, cores FROM nodes ORDER BY path",
    );
    let got: Vec<&str> = nodes.iter().map(|n| n["path"].as_str().unwrap()).collect();
    let mut want = paths.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(nodes.iter().all(|n| n["valid"] == json!(true)));
    assert_eq!(
        nodes[0]["inventory_key"]
            .as_str()
            .map(|k| k.starts_with("serial:st")),
        Some(true)
    );
    assert_eq!(db.scalar("SELECT count(*) FROM inventory_items"), "7");
    // Unknown CSV columns are dropped, never stored.
    assert_eq!(
        db.scalar("SELECT count(*) FROM inventory_items WHERE \"row\" ? 'notes'"),
        "0"
    );
    let runs = db.rows("SELECT id, status, had_errors, error_codes, counts, error FROM sync_runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["had_errors"], false);
    assert_eq!(runs[0]["counts"]["node_rows"], 6);
    assert_eq!(runs[0]["counts"]["findings"]["missing_registration"], 1);
    // Findings are reconcile's JSON, entry for entry.
    let hash = db.selection_hash(&[]);
    assert_eq!(findings_as_report(&db, &hash), tree.reconcile());
    assert_eq!(db.missing(&[]), (vec![], Some("high".into())));
    assert_eq!(
        db.scalar("SELECT count(*) FROM sync_leases"),
        "0",
        "lease released"
    );
}

#[test]
fn nul_bytes_are_invalid_entries_in_reconcile_export_and_sync_alike() {
    // PostgreSQL refuses NUL in TEXT and JSONB (SQLSTATE 22021): a NUL in a CSV cell or a
    // node.yaml string used to abort the sync with exit 70.
    let tree = Tree::new();
    let paths = fleet(&tree, 3);
    let mut escaped = machine(7);
    escaped.hostname = "rack\0evil".into();
    let nul_node = tree.node("bob", &escaped);
    let text = fs::read_to_string(tree.path().join(&nul_node)).unwrap();
    assert!(text.contains("\\0"), "YAML escapes the NUL: {text}");
    let csv = fs::read_to_string(tree.path().join("inventory.csv")).unwrap();
    tree.inventory(&format!("{csv}NUL01,bad\0host,Dell,R640,40,384,active,\n"));

    let report = tree.reconcile();
    let invalid: Vec<(&str, &str)> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["file"].as_str().unwrap(), i["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        invalid,
        [
            ("inventory.csv", "inventory_row"),
            (nul_node.as_str(), "parse")
        ]
    );
    // Export: the file is a record (not valid), the bad row is not an item.
    let jsonl: Vec<Value> = export(&tree, "jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let record = jsonl
        .iter()
        .find(|r| r["path"] == nul_node.as_str())
        .unwrap();
    assert_eq!(
        (&record["valid"], &record["hostname"]),
        (&json!(false), &Value::Null)
    );
    assert!(!jsonl.iter().any(|r| r["serial"] == "NUL01"));
    assert_eq!(
        jsonl.len(),
        paths.len() + 1 + 1,
        "4 files and the unregistered NEVER01"
    );

    let Some(db) = Db::new("nul_bytes") else {
        return;
    };
    let out = db.sync(tree.path(), &[]);
    assert_exit(&out, 0, "sync with NUL bytes");
    let run = &db.rows("SELECT status, had_errors, error_codes FROM sync_runs")[0];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["error_codes"], json!(["inventory_row", "parse"]));
    assert_eq!(findings_as_report(&db, &db.selection_hash(&[])), report);
    assert_eq!(
        db.scalar(&format!(
            "SELECT valid FROM nodes WHERE path = '{nul_node}'"
        )),
        "f"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM inventory_items WHERE serial = 'NUL01'"),
        "0"
    );
}

#[test]
fn resync_of_an_unchanged_tree_changes_only_last_seen() {
    let Some(db) = Db::new("resync") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 5);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    let before = stable_rows(&db);
    let seen_before = db.rows("SELECT path, last_seen_run_id FROM nodes ORDER BY path");
    assert_exit(&db.sync(tree.path(), &[]), 0, "resync");
    assert_eq!(stable_rows(&db), before, "only last_seen_* may change");
    let seen_after = db.rows("SELECT path, last_seen_run_id FROM nodes ORDER BY path");
    assert!(seen_before.iter().all(|r| r["last_seen_run_id"] == 1));
    assert!(seen_after.iter().all(|r| r["last_seen_run_id"] == 2));
    // Nothing was sent again but the keys: unchanged rows only had last_seen_* set.
    let written = db.rows(
        "SELECT id, counts->'node_rows_written' AS nodes, \
         counts->'inventory_items_written' AS items FROM sync_runs ORDER BY id",
    );
    assert_eq!(written[0]["nodes"], 5);
    assert_eq!(written[0]["items"], 6);
    assert_eq!(written[1]["nodes"], 0);
    assert_eq!(written[1]["items"], 0);
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM nodes n JOIN sync_runs r ON r.id = 1 \
             WHERE n.last_seen_at > r.started_at"
        ),
        "5"
    );
    // Same findings, under the new run.
    let per_run =
        db.rows("SELECT run_id, count(*) AS n FROM findings GROUP BY run_id ORDER BY run_id");
    assert_eq!(per_run.len(), 2);
    assert_eq!(per_run[0]["n"], per_run[1]["n"]);
}

#[test]
fn node_removed_from_git_is_missing_with_high_confidence() {
    let Some(db) = Db::new("removed") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 4);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    tree.remove_node(&paths[1]);
    let out = db.sync(tree.path(), &["--show-missing"]);
    assert_exit(&out, 0, "sync after removal");
    let table = stdout(&out);
    let node_id = paths[1].split('/').nth(3).unwrap();
    assert!(table.contains("1 node(s) missing"), "{table}");
    assert!(
        table.contains(node_id) && table.contains("rack00-n01"),
        "{table}"
    );
    assert!(table.contains("confidence high"), "{table}");
    assert_eq!(
        db.missing(&[]),
        (vec![paths[1].clone()], Some("high".into()))
    );
    // Derived, not stored: the node row is still the one last seen by run 1.
    assert_eq!(
        db.scalar(&format!(
            "SELECT last_seen_run_id FROM nodes WHERE path = '{}'",
            paths[1]
        )),
        "1"
    );
    // It comes back when the file does.
    tree.node("bob", &machine(1));
    assert_exit(&db.sync(tree.path(), &[]), 0, "file restored");
    assert_eq!(db.missing(&[]).0, Vec::<String>::new());
}

#[test]
fn partial_run_or_errors_make_missing_low_confidence() {
    let Some(db) = Db::new("partial") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 4);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    tree.remove_node(&paths[0]);
    // An unreadable node.yaml (a dangling symlink: root reads everything else): the run is partial.
    let broken = tree
        .path()
        .join("maintainers/bob/cluster-nodes/node-zzzzzz");
    fs::create_dir_all(&broken).unwrap();
    std::os::unix::fs::symlink("/nonexistent/node.yaml", broken.join("node.yaml")).unwrap();
    let out = db.sync(tree.path(), &["--show-missing"]);
    assert_exit(&out, 0, "partial sync");
    assert!(stdout(&out).contains("confidence low"), "{}", stdout(&out));
    assert_eq!(
        db.missing(&[]),
        (vec![paths[0].clone()], Some("low".into()))
    );
    let run = &db.rows("SELECT status, had_errors, error_codes FROM sync_runs WHERE id = 2")[0];
    assert_eq!(run["status"], "partial");
    assert_eq!(run["error_codes"], json!(["unreadable"]));

    // The broken file goes (and is missing from now on, like any removed file); a bad inventory
    // row instead: completed with errors, still low.
    fs::remove_dir_all(&broken).unwrap();
    let gone = vec![
        paths[0].clone(),
        "maintainers/bob/cluster-nodes/node-zzzzzz/node.yaml".to_owned(),
    ];
    let csv = fs::read_to_string(tree.path().join("inventory.csv")).unwrap();
    tree.inventory(&format!("{csv}BAD01,x,Dell,R640,forty,384,active,\n"));
    assert_exit(&db.sync(tree.path(), &[]), 0, "sync with a bad row");
    let run = &db.rows("SELECT status, had_errors, error_codes FROM sync_runs WHERE id = 3")[0];
    assert_eq!(run["status"], "completed");
    assert_eq!(run["had_errors"], true);
    assert_eq!(run["error_codes"], json!(["inventory_row"]));
    assert_eq!(db.missing(&[]), (gone.clone(), Some("low".into())));

    // Clean again: high.
    tree.inventory(&csv);
    assert_exit(&db.sync(tree.path(), &[]), 0, "clean sync");
    assert_eq!(db.missing(&[]), (gone, Some("high".into())));
}

#[test]
fn selections_never_affect_each_others_missing() {
    let Some(db) = Db::new("isolation") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 6); // even: alice, odd: bob
    assert_exit(&db.sync(tree.path(), &["--operator", "alice"]), 0, "alice");
    assert_exit(&db.sync(tree.path(), &["--operator", "bob"]), 0, "bob");
    assert_exit(&db.sync(tree.path(), &[]), 0, "everyone");
    assert_eq!(
        db.scalar("SELECT count(*) FROM node_sightings WHERE selection_hash IN \
                   (SELECT selection_hash FROM selections WHERE selection->'operators' = '[\"alice\"]')"),
        "3"
    );
    tree.remove_node(&paths[1]); // bob's
    assert_exit(
        &db.sync(tree.path(), &["--operator", "bob"]),
        0,
        "bob again",
    );
    assert_eq!(db.missing(&["bob"]).0, vec![paths[1].clone()]);
    assert_eq!(db.missing(&["alice"]).0, Vec::<String>::new());
    // The unfiltered selection has not run since: nothing missing for it yet.
    assert_eq!(db.missing(&[]).0, Vec::<String>::new());
    // Alice syncing again changes nothing for bob, and the order of --operator is irrelevant.
    assert_exit(
        &db.sync(tree.path(), &["--operator", "alice", "--operator", "alice"]),
        0,
        "alice again",
    );
    assert_eq!(db.missing(&["bob"]).0, vec![paths[1].clone()]);
    assert_exit(
        &db.sync(tree.path(), &["--operator", "bob", "--operator", "alice"]),
        0,
        "both",
    );
    assert_eq!(db.missing(&["alice", "bob"]).0, Vec::<String>::new());
    assert_eq!(db.scalar("SELECT count(*) FROM selections"), "4");
}

#[test]
fn rebuild_gives_the_same_rows_as_an_incremental_sync() {
    let (Some(incremental), Some(fresh)) = (Db::new("rebuild_a"), Db::new("rebuild_b")) else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 6);
    assert_exit(&incremental.sync(tree.path(), &[]), 0, "v1");
    // v2: a node removed, a node changed (new hostname), one added, the inventory edited.
    tree.remove_node(&paths[2]);
    let mut changed = machine(3);
    changed.hostname = "renamed".into();
    tree.node("bob", &changed);
    tree.node("carol", &machine(40));
    let csv = fs::read_to_string(tree.path().join("inventory.csv")).unwrap();
    tree.inventory(&csv.replace("st00004,", "st00004-typo,"));
    assert_exit(&incremental.sync(tree.path(), &[]), 0, "v2 incremental");
    let written = &incremental.rows(
        "SELECT counts->'node_rows_written' AS nodes, counts->'inventory_items_written' AS items \
         FROM sync_runs WHERE id = 2",
    )[0];
    // The renamed node, carol's new one, and node 4 (its row's serial was edited: no longer
    // matched, so its inventory_key changed); the edited row (a new key).
    assert_eq!(
        (&written["nodes"], &written["items"]),
        (&json!(3), &json!(1))
    );
    assert_exit(&fresh.sync(tree.path(), &[]), 0, "v2 from scratch");

    let seen_by_latest = |db: &Db| {
        (
            content(db.rows(
                "SELECT path, node_id, operator, hostname, serial, facts_hash, facts, valid, \
                 inventory_key, cores, memory_bytes FROM nodes n WHERE last_seen_run_id = \
                 (SELECT max(id) FROM sync_runs) ORDER BY path",
            )),
            content(db.rows(
                "SELECT item_key, line, serial, make, model, status, \"row\" FROM inventory_items \
                 WHERE last_seen_run_id = (SELECT max(id) FROM sync_runs) ORDER BY item_key",
            )),
            db.rows(
                "SELECT kind, ordinal, key, detail FROM latest_findings ORDER BY kind, ordinal",
            ),
        )
    };
    let want = seen_by_latest(&fresh);
    assert_eq!(
        seen_by_latest(&incremental),
        want,
        "incremental = from scratch"
    );
    assert_eq!(incremental.missing(&[]).0, vec![paths[2].clone()]);

    let out = incremental.sync(tree.path(), &["--rebuild"]);
    assert_exit(&out, 0, "rebuild");
    assert_eq!(seen_by_latest(&incremental), want, "rebuild = from scratch");
    // The rebuild forgot what git no longer has, and the selection's older runs.
    assert_eq!(incremental.missing(&[]).0, Vec::<String>::new());
    assert_eq!(
        content(stable_rows(&incremental).0),
        content(stable_rows(&fresh).0)
    );
    assert_eq!(incremental.scalar("SELECT count(*) FROM sync_runs"), "1");
}

#[test]
fn concurrent_syncs_of_one_selection_wait_for_each_other() {
    let Some(db) = Db::new("concurrent") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 30);
    let url = db.url();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_enlist"))
                .args(sync_args(tree.path(), &[]))
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("ENLIST_CONFIG", "/dev/null")
                .env("ENLIST_DATABASE_URL", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0, "concurrent sync");
    }
    let runs = db.rows("SELECT id, status FROM sync_runs ORDER BY id");
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["status"] == "completed"), "{runs:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM nodes"), "30");
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
    assert_eq!(db.missing(&[]).0, Vec::<String>::new());
}

#[test]
fn a_held_lease_is_waited_for_then_refused_and_an_expired_one_taken_over() {
    let Some(db) = Db::new("lease") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 2);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    let hash = db.selection_hash(&[]);
    let hold = |seconds: i64| {
        db.exec(&format!(
            "INSERT INTO sync_leases VALUES ('{hash}', 'ci-runner-7 pid 4242 #cafe', now(), \
             now() + interval '{seconds} seconds') ON CONFLICT (selection_hash) DO UPDATE SET \
             holder = excluded.holder, expires_at = excluded.expires_at"
        ));
    };

    // A live holder and no patience: refused, temporary failure.
    hold(3600);
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_WAIT_SECS", "0")]);
    assert_exit(&out, 75, "lease held");
    let err = stderr(&out);
    assert!(
        err.contains("another `enlist sync` of this selection is running"),
        "{err}"
    );
    assert!(err.contains("ci-runner-7 pid 4242"), "{err}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM sync_runs"),
        "1",
        "no run started"
    );

    // A holder that finishes (its lease runs out) while we wait: we go ahead.
    hold(1);
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_WAIT_SECS", "30")]);
    assert_exit(&out, 0, "waited");
    assert!(
        stderr(&out).contains("waiting up to 30s"),
        "{}",
        stderr(&out)
    );

    // A crashed holder (expired lease): taken over at once.
    hold(-10);
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_WAIT_SECS", "0")]);
    assert_exit(&out, 0, "expired lease taken over");
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
}

#[test]
fn unreachable_database_is_exit_69_and_the_password_is_never_printed() {
    let tree = Tree::new();
    fleet(&tree, 1);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url =
        format!("postgresql://enlist:Sup3rSecretPw@127.0.0.1:{port}/registry?sslmode=disable");
    let out = enlist(
        &sync_args(tree.path(), &[]),
        &[("ENLIST_DATABASE_URL", &url)],
    );
    assert_exit(&out, 69, "connection refused");
    let err = stderr(&out);
    assert!(
        err.contains("cannot reach the database at postgresql://enlist@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("Sup3rSecretPw"), "{err}");
    // The same URL as a flag: still never echoed (only a warning that it is visible in ps).
    let mut args = sync_args(tree.path(), &[]);
    args.extend(["--database-url", url.as_str()]);
    let out = enlist(&args, &[]);
    assert_exit(&out, 69, "flag");
    assert!(!stderr(&out).contains("Sup3rSecretPw"), "{}", stderr(&out));
    assert!(stderr(&out).contains("process list"), "{}", stderr(&out));
}

#[test]
fn usage_errors_are_exit_64() {
    let tree = Tree::new();
    fleet(&tree, 1);
    let out = enlist(&sync_args(tree.path(), &[]), &[]);
    assert_exit(&out, 64, "no URL");
    assert!(stderr(&out).contains("no database URL"), "{}", stderr(&out));
    let out = enlist(
        &sync_args(tree.path(), &[]),
        &[("ENLIST_DATABASE_URL", "postgresql://u:Pw0rd@h:notaport/db")],
    );
    assert_exit(&out, 64, "bad URL");
    assert!(!stderr(&out).contains("Pw0rd"), "{}", stderr(&out));
    let out = enlist(
        &[
            "sync",
            "--nodes",
            "/nonexistent",
            "--inventory",
            "/nonexistent.csv",
        ],
        &[("ENLIST_DATABASE_URL", "postgresql://u@127.0.0.1/db")],
    );
    assert_exit(&out, 64, "bad paths");
}

#[test]
fn wrong_password_is_exit_77_and_never_printed() {
    let Some(db) = Db::new("auth") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 1);
    let url = db.url().replace(db.pg.password(), "Wr0ngPassw0rd-xyzzy");
    let out = enlist(
        &sync_args(tree.path(), &[]),
        &[("ENLIST_DATABASE_URL", &url)],
    );
    assert_exit(&out, 77, "wrong password");
    let err = stderr(&out);
    assert!(err.contains("rejected the login"), "{err}");
    assert!(err.contains("28P01"), "{err}");
    assert!(!err.contains("Wr0ngPassw0rd-xyzzy"), "{err}");
    assert!(!err.contains(db.pg.password()), "{err}");
}

#[test]
fn errors_stored_in_sync_runs_never_contain_the_password() {
    let Some(db) = Db::new("stored_error") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 2);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // A server-side failure whose message carries the password (as a hostile or careless server
    // could): enlist must neither print nor store it.
    let password = db.pg.password().to_owned();
    db.exec(&format!(
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refusing %', '{password}'; END $$"
    ));
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON findings FOR EACH ROW EXECUTE FUNCTION boom()");
    let out = db.sync(tree.path(), &[]);
    assert_exit(&out, 70, "server error");
    assert!(!stderr(&out).contains(&password), "{}", stderr(&out));
    assert!(stderr(&out).contains("<redacted>"), "{}", stderr(&out));
    let failed = &db.rows("SELECT status, error, error_codes FROM sync_runs WHERE id = 2")[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_codes"], json!(["database"]));
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("refusing <redacted>"), "{error}");
    assert!(!error.contains(&password), "{error}");
    // The failed run wrote its node chunks (chunked runs, issue 16) but never became the
    // selection's latest run: what is missing and the latest findings still come from run 1.
    assert_eq!(db.scalar("SELECT max(last_seen_run_id) FROM nodes"), "2");
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "1");
    assert_eq!(db.missing(&[]), (vec![], Some("high".into())));
    assert_eq!(
        db.scalar("SELECT count(DISTINCT run_id) FROM latest_findings"),
        "1"
    );
}

#[test]
fn schema_newer_than_the_binary_is_exit_78() {
    let Some(db) = Db::new("schema_newer") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 1);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // Migrations are idempotent: a second binary run re-applies nothing.
    assert_eq!(
        db.scalar("SELECT count(*) FROM schema_migrations"),
        enlist::sync::schema::LATEST.to_string()
    );
    db.exec("INSERT INTO schema_migrations (version, name) VALUES (99, 'from the future')");
    let out = db.sync(tree.path(), &[]);
    assert_exit(&out, 78, "schema too new");
    assert!(
        stderr(&out).contains("schema is at version 99, newer than this enlist understands"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tls_verify_full_against_a_tls_server_and_an_untrusted_ca_is_exit_78() {
    let Some(db) = Db::new("tls") else {
        return;
    };
    let Some(certs) = tls_certificates(db.pg) else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 2);
    let base = db.url().replace("?sslmode=disable", "");
    let ca = certs.join("ca.crt");
    let other_ca = certs.join("other-ca.crt");
    // What the log says the connection is (issue 29): only a handshake is called TLS.
    let unverified = "over TLS without verifying the server certificate";
    for (query, code, said) in [
        (
            format!("sslmode=verify-full&sslrootcert={}", ca.display()),
            0,
            "over TLS; the server certificate is trusted and names the host",
        ),
        (
            format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
            0,
            "over TLS; the server certificate chains to the trusted CA",
        ),
        ("sslmode=require".to_owned(), 0, unverified),
        ("sslmode=prefer".to_owned(), 0, unverified),
        (
            format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
            78,
            "sslrootcert",
        ),
    ] {
        let url = format!("{base}?{query}");
        let out = enlist(
            &sync_args(tree.path(), &[]),
            &[("ENLIST_DATABASE_URL", &url)],
        );
        assert_exit(&out, code, &query);
        let err = stderr(&out);
        assert!(err.contains(said), "{query}: {err}");
        assert!(!err.contains("plaintext"), "{query}: {err}");
    }
}

/// A CA and a server certificate for 127.0.0.1/localhost (and an unrelated CA), made with
/// `openssl`, and TLS switched on in the shared server (a reload; other tests use
/// `sslmode=disable` and do not notice). `None` (skipped) without `openssl`, unless
/// `ENLIST_DB_TEST=1`.
fn tls_certificates(pg: &Postgres) -> Option<PathBuf> {
    static READY: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let result = READY.get_or_init(|| {
        let dir = pg.private_dir("tls")?;
        let run = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .map_err(|e| format!("openssl: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        for name in ["ca", "other-ca"] {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=enlist test {name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ])?;
        }
        fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .map_err(|e| e.to_string())?;
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ])?;
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ])?;
        for file in ["server.key", "server.crt"] {
            let path = dir.join(file);
            pg.give_to_server(&path)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(|e| e.to_string())?;
        }
        pg.psql(
            "postgres",
            &format!(
                "ALTER SYSTEM SET ssl_cert_file = '{}'",
                dir.join("server.crt").display()
            ),
        )?;
        pg.psql(
            "postgres",
            &format!(
                "ALTER SYSTEM SET ssl_key_file = '{}'",
                dir.join("server.key").display()
            ),
        )?;
        pg.psql("postgres", "ALTER SYSTEM SET ssl = on")?;
        pg.psql("postgres", "SELECT pg_reload_conf()")?;
        // The reload is asynchronous: wait until the server reports TLS on.
        for _ in 0..100 {
            if pg.psql("postgres", "SHOW ssl")?.trim() == "on" {
                return Ok(dir);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(format!("ssl did not turn on:\n{}", pg.log()))
    });
    match result {
        Ok(dir) => Some(dir.clone()),
        Err(e) if postgres::required() => panic!("TLS test setup: {e}"),
        Err(e) => {
            eprintln!("skipping the TLS test: {e}");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property: the database equals reconcile's JSON, for random trees

/// splitmix64: small, seeded, good enough to pick test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A random checkout: nodes of three operators with random facts; inventory rows matching by
/// serial or by MAC, with wrong cores or memory, retired and spare rows, rows of machines never
/// registered, bad and duplicate rows, an unknown column; broken, hand-edited, misplaced and
/// copied node.yaml files. Returns the node.yaml paths.
fn random_tree(tree: &Tree, rng: &mut Rng) -> Vec<String> {
    let mut csv = String::from("Service Tag,mac,Vendor,model,cores,RAM_GB,status,location,junk\n");
    let mut paths = Vec::new();
    let n = 3 + rng.below(25) as u32;
    for i in 0..n {
        let id = 1000 + i + 1000 * (rng.below(50) as u32);
        let mut f = machine(id);
        f.cpu.cores = [16, 32, 40, 64][rng.below(4) as usize];
        f.memory.total_bytes = [125, 251, 377, 503][rng.below(4) as usize] * GIB;
        if rng.chance(10) {
            f.system.serial = None;
        }
        let operator = ["alice", "bob", "carol"][rng.below(3) as usize];
        if rng.chance(90) {
            let path = tree.node(operator, &f);
            if rng.chance(8) {
                // Hand edit: the factsHash no longer matches.
                let full = tree.path().join(&path);
                let text = fs::read_to_string(&full).unwrap();
                fs::write(&full, text.replace(&f.hostname, "edited")).unwrap();
            }
            if rng.chance(5) {
                // Copied into another node's directory: nodeId mismatch and a duplicate.
                let copy = path.replace("/cluster-nodes/node-", "/cluster-nodes/node-copy");
                tree.write(&copy, &fs::read_to_string(tree.path().join(&path)).unwrap());
                paths.push(copy);
            }
            paths.push(path);
        }
        if rng.chance(85) {
            let by_mac = f.system.serial.is_none() || rng.chance(15);
            let serial = if by_mac {
                String::new()
            } else {
                format!("st{id:05}")
            };
            let mac = if by_mac { mac(id, 0) } else { String::new() };
            let cores = if rng.chance(10) { 8 } else { f.cpu.cores };
            let memory = if rng.chance(10) {
                64
            } else {
                f.memory.total_bytes / GIB + 7
            };
            let status = [
                "active", "active", "active", "spare", "retired", "broken", "",
            ][rng.below(7) as usize];
            csv.push_str(&format!(
                "{serial},{mac},Dell,{},{cores},{memory},{status},\"Rack {}, U{}\",x\n",
                f.system.model.as_deref().unwrap(),
                rng.below(9),
                rng.below(42)
            ));
            if rng.chance(5) {
                csv.push_str(&format!("{serial},{mac},Dell,dup,1,1,active,,\n"));
            }
        }
    }
    for j in 0..rng.below(4) {
        csv.push_str(&format!("NEVER{j:03},,HPE,DL360,32,256,active,,\n"));
    }
    if rng.chance(40) {
        csv.push_str("BAD001,,Dell,R640,forty,384,active,,\n");
    }
    if rng.chance(30) {
        tree.write(
            "maintainers/bob/cluster-nodes/node-garbage/node.yaml",
            "schema: [unclosed\n",
        );
        paths.push("maintainers/bob/cluster-nodes/node-garbage/node.yaml".into());
    }
    tree.inventory(&csv);
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn property_database_view_equals_reconcile_json_for_random_trees() {
    let Some(db) = Db::new("property") else {
        return;
    };
    for seed in 1..=8u64 {
        let mut rng = Rng(seed);
        // A fresh schema per tree: one database, reset.
        db.exec(
            "DROP TABLE IF EXISTS schema_migrations, sync_runs, selections, sync_leases, nodes, \
             inventory_items, node_sightings, inventory_sightings, findings CASCADE; \
             DROP SEQUENCE IF EXISTS sync_run_ids",
        );
        let tree = Tree::new();
        let paths = random_tree(&tree, &mut rng);
        // Small chunks: every tree spans several transactions per table (issue 16).
        let chunks = [("ENLIST_SYNC_CHUNK_ROWS", "4")];
        let out = db.sync_env(tree.path(), &[], &chunks);
        assert_exit(&out, 0, &format!("seed {seed}"));
        let hash = db.selection_hash(&[]);
        assert_eq!(
            findings_as_report(&db, &hash),
            tree.reconcile(),
            "seed {seed}: findings"
        );
        let stored: Vec<String> = db
            .rows("SELECT path FROM nodes ORDER BY path")
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(stored, paths, "seed {seed}: one row per node.yaml");

        // Remove a random subset from git: exactly those are missing, and the findings follow.
        let removed: BTreeSet<String> = paths.iter().filter(|_| rng.chance(30)).cloned().collect();
        for path in &removed {
            fs::remove_file(tree.path().join(path)).unwrap();
        }
        assert_exit(
            &db.sync_env(tree.path(), &[], &chunks),
            0,
            &format!("seed {seed} resync"),
        );
        let (missing, _) = db.missing(&[]);
        assert_eq!(
            missing.into_iter().collect::<BTreeSet<_>>(),
            removed,
            "seed {seed}: missing"
        );
        assert_eq!(
            findings_as_report(&db, &hash),
            tree.reconcile(),
            "seed {seed}: findings after removal"
        );
        // Valid flags agree with reconcile's invalid list.
        let invalid_files: BTreeSet<String> = tree.reconcile()["invalid"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["file"].as_str().map(str::to_owned))
            .collect();
        let invalid_rows: BTreeMap<String, bool> = db
            .rows("SELECT path, valid FROM nodes WHERE last_seen_run_id = 2")
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap().to_owned(),
                    r["valid"] == json!(true),
                )
            })
            .collect();
        for (path, valid) in invalid_rows {
            assert_eq!(!valid, invalid_files.contains(&path), "seed {seed}: {path}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Export

pub(crate) fn export(tree: &Tree, format: &str) -> String {
    let out = enlist(
        &[
            "export",
            "--nodes",
            tree.path().to_str().unwrap(),
            "--inventory",
            inventory_path(tree.path()),
            "--format",
            format,
        ],
        &[],
    );
    assert_exit(&out, 0, "export");
    stdout(&out)
}

#[test]
fn export_csv_and_jsonl_hold_the_same_records() {
    let tree = Tree::new();
    fleet(&tree, 5);
    let jsonl: Vec<Value> = export(&tree, "jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Five registered nodes, then the machine nobody registered.
    assert_eq!(jsonl.len(), 6);
    assert!(
        jsonl[..5]
            .iter()
            .all(|r| r["registered"] == true && r["in_inventory"] == true)
    );
    assert_eq!(jsonl[5]["registered"], false);
    assert_eq!(jsonl[5]["serial"], "NEVER01");
    assert_eq!(jsonl[0]["inventory_status"], "active");
    let csv = export(&tree, "csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, enlist::export::COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), jsonl.len());
    for (row, record) in rows.iter().zip(&jsonl) {
        for (column, cell) in header.iter().zip(row.iter()) {
            let want = match &record[column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            };
            assert_eq!(cell, want, "{column}");
        }
    }
}

#[test]
fn export_jsonl_and_csv_load_in_duckdb() {
    if std::env::var("ENLIST_DUCKDB_TEST").as_deref() != Ok("1") {
        eprintln!(
            "skipping the DuckDB export test: set ENLIST_DUCKDB_TEST=1 (needs `pip install duckdb`)"
        );
        return;
    }
    let tree = Tree::new();
    fleet(&tree, 9);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("nodes.jsonl"), export(&tree, "jsonl")).unwrap();
    fs::write(dir.path().join("nodes.csv"), export(&tree, "csv")).unwrap();
    // The README's queries: capacity by model, and what is not registered.
    let script = r#"
import duckdb, json
out = {}
for name, reader in [("jsonl", "read_json_auto('nodes.jsonl')"), ("csv", "read_csv_auto('nodes.csv')")]:
    out[name] = {
        "by_model": duckdb.sql(f"select model, count(*)::int, sum(cores)::int from {reader} where registered group by model order by model").fetchall(),
        "unregistered": duckdb.sql(f"select serial from {reader} where not registered and inventory_status = 'active'").fetchall(),
        "macs": duckdb.sql(f"select count(*)::int from {reader} where registered and macs is not null").fetchall(),
    }
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("ENLIST_DUCKDB_TEST=1 but python3 cannot run: {e}"));
    assert!(
        out.status.success(),
        "ENLIST_DUCKDB_TEST=1 but the duckdb query failed (pip install duckdb):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    // machine(n): every third is an R650 (64 cores), the rest R640s (40).
    let want_by_model = json!([["PowerEdge R640", 6, 240], ["PowerEdge R650", 3, 192]]);
    for format in ["jsonl", "csv"] {
        assert_eq!(got[format]["by_model"], want_by_model, "{format}: {got}");
        assert_eq!(
            got[format]["unregistered"],
            json!([["NEVER01"]]),
            "{format}"
        );
        assert_eq!(got[format]["macs"], json!([[9]]), "{format}");
    }
}
