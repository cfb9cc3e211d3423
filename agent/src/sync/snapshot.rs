//! What one sync (or export) sees in the checkout: the node.yaml files and inventory rows, read by
//! reconcile's own [`scan`] and [`inventory`] modules, flattened into the rows the database (and
//! `enlist export`) hold, plus the [`Selection`] they were read under.
//!
//! Pure apart from [`Checkout::read`], which only reads files. Everything is sorted (nodes by path,
//! inventory items by key), so the same checkout always yields the same rows in the same order;
//! the upserts rely on that order to take row locks in one order (no deadlocks between two syncs
//! of overlapping selections on PostgreSQL).
//!
//! Decisions where the issue is silent (also in the README):
//! - **Paths** in the database are relative to the repository root: the nearest ancestor of
//!   `--nodes` holding `.git` (`--nodes` itself when there is none). So `--nodes .` and
//!   `--nodes maintainers/alice` name one file the same way. Findings keep reconcile's JSON as is
//!   (paths relative to `--nodes`), so `detail` is exactly what `enlist reconcile --format json`
//!   prints for the same arguments.
//! - **Operator** of a file: the document's `operator`; for a file that does not parse, the
//!   directory just above `cluster-nodes/` (the `maintainers/<operator>/cluster-nodes/` layout).
//!   `--operator` keeps the files of those operators; an unreadable *directory* is kept by every
//!   selection (what is below it is unknown), which makes the run partial.
//! - **Inventory item key**: `serial:<serial, trimmed, lowercased>`, else `mac:<lowest MAC>`, the
//!   same identity reconcile matches on; the parser already refuses rows with neither, and drops
//!   rows repeating an earlier row's serial or MAC (reconcile's `duplicate_inventory_row`
//!   findings, not items).
//! - **Matching** a node to its item (`nodes.inventory_key`, the join `enlist export` makes) is
//!   reconcile's own [matching](crate::reconcile::matching) rule (SPEC §5), over the same rows.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::hash::{canonical_json, sha256_hex};
use crate::reconcile::inventory::{self, Inventory, InventoryRow};
use crate::reconcile::matching::{Matcher, NodeKeys};
use crate::reconcile::report::{InvalidKind, Report};
use crate::reconcile::{ReconcileError, analyse, scan, shown};

/// What a sync covers: its hash keys runs, sightings and leases (SPEC issue 7: "SHA-256 of the
/// canonical JSON of what was synced (operators, paths; order-independent)").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// `--operator` values, sorted and de-duplicated; empty = every operator.
    pub operators: Vec<String>,
    /// The scanned directories, relative to the repository root (`.` = the root).
    pub paths: Vec<String>,
    /// The inventory file, relative to the repository root when inside it, else as an absolute path.
    pub inventory: String,
}

impl Selection {
    /// The selection as JSON (stored in `sync_runs.selection`).
    pub fn to_json(&self) -> Value {
        json!({
            "operators": self.operators,
            "paths": self.paths,
            "inventory": self.inventory,
        })
    }

    /// Hex SHA-256 of the canonical JSON: independent of the order operators were given in.
    pub fn hash(&self) -> String {
        sha256_hex(canonical_json(&self.to_json()).as_bytes())
    }
}

/// One `nodes` row: a node.yaml file, valid or not.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeRow {
    /// Path relative to the repository root (primary key).
    pub path: String,
    /// `nodeId` of the document, else the directory name.
    pub node_id: String,
    /// See the module docs.
    pub operator: Option<String>,
    /// Static hostname.
    pub hostname: Option<String>,
    /// System serial as written.
    pub serial: Option<String>,
    /// System vendor.
    pub vendor: Option<String>,
    /// System model.
    pub model: Option<String>,
    /// CPU model.
    pub cpu_model: Option<String>,
    /// Physical cores.
    pub cores: Option<i32>,
    /// Hardware threads.
    pub threads: Option<i32>,
    /// `memory.totalBytes`.
    pub memory_bytes: Option<i64>,
    /// Σ disk sizes, bytes.
    pub storage_bytes: Option<i64>,
    /// Disks.
    pub disks: Option<i32>,
    /// NIC MACs, normalised and sorted.
    pub macs: Vec<String>,
    /// GPUs.
    pub gpus: Option<i32>,
    /// `factsHash` as written.
    pub facts_hash: Option<String>,
    /// The whole document as JSON.
    pub facts: Option<Value>,
    /// Parsed and passed every check (schema, `nodeId` = directory, `factsHash`).
    pub valid: bool,
    /// The matched inventory item, if any.
    pub inventory_key: Option<String>,
}

impl NodeRow {
    /// SHA-256 of the JSON of every field: equal hashes, equal rows.
    pub fn content_hash(&self) -> String {
        content_hash(self)
    }
}

impl ItemRow {
    /// SHA-256 of the JSON of every field: equal hashes, equal rows.
    pub fn content_hash(&self) -> String {
        content_hash(self)
    }
}

/// Fields in declaration order, JSON objects with sorted keys (serde_json's map), arrays as they
/// are: deterministic, and a reordered array counts as a change (it is stored as is).
fn content_hash(row: &impl Serialize) -> String {
    // Plain data with string keys: serializing cannot fail.
    sha256_hex(&serde_json::to_vec(row).unwrap_or_default())
}

/// One `inventory_items` row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ItemRow {
    /// `serial:<key>` or `mac:<mac>` (primary key).
    pub key: String,
    /// Line of the row in the CSV.
    pub line: i64,
    /// Serial as written.
    pub serial: Option<String>,
    /// MACs, normalised and sorted.
    pub macs: Vec<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Make.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Physical cores.
    pub cores: Option<i32>,
    /// Memory as sold, GB.
    pub memory_gb: Option<f64>,
    /// Storage as sold, GB.
    pub storage_gb: Option<f64>,
    /// `active`, `spare`, `retired` or `broken`.
    pub status: &'static str,
    /// Location.
    pub location: Option<String>,
    /// Price.
    pub cost: Option<f64>,
    /// The known (whitelisted) columns that had a value, by their canonical names; unknown CSV
    /// columns never get here (the parser drops them).
    pub row: Value,
}

/// The checkout as one sync sees it.
#[derive(Clone, Debug)]
pub struct Checkout {
    /// What was read.
    pub selection: Selection,
    /// node.yaml files (and unreadable directories) of the selection, sorted by path.
    pub scanned: Vec<scan::ScannedNode>,
    /// The parsed inventory (empty when none was given), each machine once.
    pub inventory: Inventory,
    /// `--nodes` relative to the repository root, `""` for the root itself.
    prefix: String,
}

impl Checkout {
    /// Reads `nodes` (and `inventory`) the way `enlist reconcile` does, keeping the files of
    /// `operators` (all when empty). Input files are read before the scan, so a wrong path fails
    /// fast.
    pub fn read(
        nodes: &Path,
        inventory_path: Option<&Path>,
        operators: &[String],
    ) -> Result<Checkout, ReconcileError> {
        let mut inventory = Inventory::default();
        let mut inventory_shown = String::new();
        if let Some(path) = inventory_path {
            let bytes = fs::read(path).map_err(|source| ReconcileError::Inventory {
                path: path.to_path_buf(),
                source,
            })?;
            inventory = inventory::parse(&bytes, &shown(nodes, path))?;
            inventory_shown = inventory.file.clone();
        }
        let scanned = scan::scan(nodes)?;
        // scan() succeeded, so the directory exists and canonicalises.
        let root = nodes
            .canonicalize()
            .map_err(|source| ReconcileError::NodesDir {
                path: nodes.to_path_buf(),
                source,
            })?;
        let repo = repository_root(&root);
        let prefix = match scan::relative(&repo, &root).as_str() {
            "." => String::new(),
            other => other.to_owned(),
        };
        let mut wanted: Vec<String> = operators
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        wanted.sort();
        wanted.dedup();
        let scanned: Vec<scan::ScannedNode> = scanned
            .into_iter()
            .filter(|node| wanted.is_empty() || selected(node, &wanted))
            .collect();
        let inventory_in_repo = inventory_path
            .and_then(|p| p.canonicalize().ok())
            .map(|full| {
                if full.starts_with(&repo) {
                    scan::relative(&repo, &full)
                } else {
                    full.display().to_string()
                }
            })
            .unwrap_or(inventory_shown);
        Ok(Checkout {
            selection: Selection {
                operators: wanted,
                paths: vec![if prefix.is_empty() {
                    ".".to_owned()
                } else {
                    prefix.clone()
                }],
                inventory: inventory_in_repo,
            },
            scanned,
            inventory,
            prefix,
        })
    }

    /// Reconcile's findings for this selection (no demand file: no recommendations).
    pub fn report(&self) -> Report {
        analyse::analyse(&self.scanned, &self.inventory, None)
    }

    /// Whether part of the tree could not be read: absence is then no evidence of removal.
    pub fn partial(&self) -> bool {
        self.scanned
            .iter()
            .flat_map(|n| &n.problems)
            .any(|p| p.kind == InvalidKind::Unreadable)
    }

    /// Inventory items, sorted by key.
    pub fn item_rows(&self) -> Vec<ItemRow> {
        // The parser dropped repeated machines already: every row is an item.
        let mut items: Vec<ItemRow> = self.inventory.rows.iter().filter_map(item_row).collect();
        items.sort_by(|a, b| a.key.cmp(&b.key));
        items
    }

    /// node.yaml files as rows, sorted by path, each with its matched inventory item.
    pub fn node_rows(&self) -> Vec<NodeRow> {
        let rows = &self.inventory.rows;
        let matcher = Matcher::new(rows);
        let mut out: Vec<NodeRow> = self
            .scanned
            .iter()
            // Unreadable directories are findings, not nodes.
            .filter(|n| n.is_file())
            .map(|n| {
                let keys = n.doc.as_ref().map(NodeKeys::of);
                let inventory_key = keys
                    .as_ref()
                    .and_then(|k| matcher.find(k))
                    .and_then(|(i, _)| item_key(&rows[i]));
                NodeRow {
                    inventory_key,
                    ..node_row(&self.prefix, n, keys)
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Node rows with their matched inventory row, and the inventory rows nothing matched (for
    /// `enlist export`).
    pub fn joined(&self) -> (Vec<(NodeRow, Option<ItemRow>)>, Vec<ItemRow>) {
        let items = self.item_rows();
        let by_key: HashMap<&str, &ItemRow> = items.iter().map(|i| (i.key.as_str(), i)).collect();
        let nodes: Vec<(NodeRow, Option<ItemRow>)> = self
            .node_rows()
            .into_iter()
            .map(|n| {
                let item = n
                    .inventory_key
                    .as_deref()
                    .and_then(|k| by_key.get(k))
                    .map(|i| (*i).clone());
                (n, item)
            })
            .collect();
        let matched: HashSet<&str> = nodes
            .iter()
            .filter_map(|(n, _)| n.inventory_key.as_deref())
            .collect();
        let mut unmatched: Vec<ItemRow> = items
            .iter()
            .filter(|i| !matched.contains(i.key.as_str()))
            .cloned()
            .collect();
        unmatched.sort_by_key(|i| i.line);
        (nodes, unmatched)
    }
}

/// The nearest ancestor of `dir` (itself included) holding `.git`, else `dir`.
fn repository_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

/// The operator a scanned file belongs to (see the module docs).
pub fn operator_of(node: &scan::ScannedNode) -> Option<String> {
    if let Some(doc) = &node.doc {
        return doc.operator.clone();
    }
    let parts: Vec<&str> = node.path.split('/').collect();
    let at = parts.iter().position(|p| *p == "cluster-nodes")?;
    at.checked_sub(1).map(|i| parts[i].to_owned())
}

fn selected(node: &scan::ScannedNode, operators: &[String]) -> bool {
    // An unreadable directory may hold anyone's files.
    node.directory || operator_of(node).is_some_and(|op| operators.contains(&op))
}

/// The row of a scanned file; `keys` are its document's ([`NodeKeys::of`]).
fn node_row(prefix: &str, node: &scan::ScannedNode, keys: Option<NodeKeys>) -> NodeRow {
    let path = if prefix.is_empty() {
        node.path.clone()
    } else {
        format!("{prefix}/{}", node.path)
    };
    let dir_name = node.path.rsplit('/').nth(1).unwrap_or_default().to_owned();
    let operator = operator_of(node);
    let valid = node.is_valid();
    let (Some(doc), Some(keys)) = (&node.doc, keys) else {
        return NodeRow {
            path,
            node_id: dir_name,
            operator,
            hostname: None,
            serial: None,
            vendor: None,
            model: None,
            cpu_model: None,
            cores: None,
            threads: None,
            memory_bytes: None,
            storage_bytes: None,
            disks: None,
            macs: Vec::new(),
            gpus: None,
            facts_hash: None,
            facts: None,
            valid,
            inventory_key: None,
        };
    };
    let storage: u64 = doc.disks.iter().map(|d| d.size_bytes).sum();
    NodeRow {
        path,
        node_id: doc.node_id.as_str().to_owned(),
        operator,
        hostname: Some(doc.hostname.clone()),
        serial: doc.system.serial.clone(),
        vendor: doc.system.vendor.clone(),
        model: doc.system.model.clone(),
        cpu_model: Some(doc.cpu.model.clone()),
        cores: Some(saturate_i32(u64::from(doc.cpu.cores))),
        threads: Some(saturate_i32(u64::from(doc.cpu.threads))),
        memory_bytes: Some(saturate_i64(doc.memory.total_bytes)),
        storage_bytes: Some(saturate_i64(storage)),
        disks: Some(saturate_i32(doc.disks.len() as u64)),
        macs: keys.macs,
        gpus: Some(saturate_i32(doc.gpus.len() as u64)),
        facts_hash: Some(doc.facts_hash.clone()),
        // Plain data with string keys: serializing to a Value cannot fail.
        facts: serde_json::to_value(doc).ok(),
        valid,
        inventory_key: None,
    }
}

fn saturate_i32(x: u64) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

fn saturate_i64(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// The key of an inventory row (`None` only for rows the parser would have refused).
pub fn item_key(row: &InventoryRow) -> Option<String> {
    row.serial_key()
        .map(|k| format!("serial:{k}"))
        .or_else(|| row.macs.first().map(|m| format!("mac:{m}")))
}

fn item_row(row: &InventoryRow) -> Option<ItemRow> {
    let key = item_key(row)?;
    let mut fields = serde_json::Map::new();
    let mut put = |name: &str, value: Value| {
        if !value.is_null() {
            fields.insert(name.to_owned(), value);
        }
    };
    put("serial", json!(row.serial));
    if !row.macs.is_empty() {
        put("mac", json!(row.macs));
    }
    put("asset_tag", json!(row.asset_tag));
    put("hostname", json!(row.hostname));
    put("make", json!(row.make));
    put("model", json!(row.model));
    put("cores", json!(row.cores));
    put("memory_gb", json!(row.memory_gb));
    put("storage_gb", json!(row.storage_gb));
    put("status", json!(row.status.as_str()));
    put("location", json!(row.location));
    put("cost", json!(row.cost));
    Some(ItemRow {
        key,
        line: i64::try_from(row.line).unwrap_or(i64::MAX),
        serial: row.serial.clone(),
        macs: row.macs.clone(),
        asset_tag: row.asset_tag.clone(),
        hostname: row.hostname.clone(),
        make: row.make.clone(),
        model: row.model.clone(),
        cores: row.cores.map(|c| saturate_i32(u64::from(c))),
        memory_gb: row.memory_gb,
        storage_gb: row.storage_gb,
        status: row.status.as_str(),
        location: row.location.clone(),
        cost: row.cost,
        row: Value::Object(fields),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_hash_ignores_operator_order_and_repeats() {
        let a = Selection {
            operators: vec!["alice".into(), "bob".into()],
            paths: vec![".".into()],
            inventory: "inventory.csv".into(),
        };
        let b = Selection {
            operators: vec!["bob".into(), "alice".into()],
            ..a.clone()
        };
        assert_eq!(a.hash(), b.hash());
        let c = Selection {
            operators: vec!["alice".into()],
            ..a.clone()
        };
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn operator_of_an_unparsed_file_comes_from_its_directory() {
        let node = scan::check(
            "maintainers/alice/cluster-nodes/node-1/node.yaml",
            "node-1",
            "not: [yaml",
        );
        assert_eq!(operator_of(&node).as_deref(), Some("alice"));
        let top = scan::check("cluster-nodes/node-1/node.yaml", "node-1", "not: [yaml");
        assert_eq!(operator_of(&top), None);
    }
}
