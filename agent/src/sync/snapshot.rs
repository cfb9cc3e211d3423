//! What one sync (or export) sees in the checkout: the node.yaml files and inventory rows, read by
//! reconcile's own [`scan`] and [`inventory`] modules, flattened into the rows the database (and
//! `enlist export`) hold, plus the [`Selection`] they were read under.
//!
//! **Bounded memory** (issue 16): [`Checkout::open`] parses the inventory and walks the tree, but
//! reads no node.yaml yet; [`Checkout::read`] then reads the selection's files one at a time, in
//! path order, and the caller turns each into what it keeps — a row for the current chunk, a
//! summary for reconcile's analysis, one exported record — so the whole fleet's documents are
//! never in memory at once.
//!
//! Pure apart from [`Checkout::open`] and [`Checkout::read`], which only read files. Everything
//! comes sorted (nodes by path, inventory items by key), so the same checkout always yields the
//! same rows in the same order; the chunks rely on that order to take row locks in one order (no
//! deadlocks between two syncs of overlapping selections on PostgreSQL).
//!
//! Decisions where the issue is silent (also in the README):
//! - **Paths** in the database are relative to the repository root: the nearest ancestor of
//!   `--nodes` holding `.git` (`--nodes` itself when there is none). So `--nodes .` and
//!   `--nodes maintainers/alice` name one file the same way. Findings keep reconcile's JSON as is
//!   (paths relative to `--nodes`), so `detail` is exactly what `enlist reconcile --format json`
//!   prints for the same arguments.
//! - **Source**: the repository the checkout came from ([`super::source`]), so two repositories
//!   never share a selection and one repository keeps its selection across CI workspaces.
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

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::document::NodeDocument;
use crate::hash::{canonical_json, hex, sha256_hex};
use crate::reconcile::analyse::NodeSummary;
use crate::reconcile::inventory::{self, Inventory, InventoryRow};
use crate::reconcile::matching::{Matcher, NodeKeys};
use crate::reconcile::report::{InvalidKind, Report};
use crate::reconcile::{InventoryMap, ReconcileError, analyse, scan, shown};

use super::source;

/// What a sync covers: its hash keys runs, sightings and leases (SPEC issue 7: "SHA-256 of the
/// canonical JSON of what was synced (operators, paths; order-independent)"; issue 16: and the
/// repository it came from).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// The repository ([`super::source`]): `github.com/org/cluster`, a `--source` name, or
    /// `path:/…` for a tree that is not a git checkout.
    pub source: String,
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
            "source": self.source,
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
    /// The whole document as JSON text, for the `facts` column: filled by `enlist sync` only for
    /// the rows it writes in full ([`facts_json`]), so an unchanged file is never serialized.
    #[serde(skip)]
    pub facts: Option<String>,
    /// SHA-256 of the file's bytes (when it could be read): stands for the document in
    /// [`NodeRow::content_hash`].
    #[serde(skip)]
    pub file_digest: Option<[u8; 32]>,
    /// Parsed and passed every check (schema, `nodeId` = directory, `factsHash`).
    pub valid: bool,
    /// The matched inventory item, if any.
    pub inventory_key: Option<String>,
}

/// Part of every node row hash: rows hashed by another enlist version (whose document
/// serialization may differ) are written again once.
const ROW_HASH_VERSION: &str = concat!("enlist ", env!("CARGO_PKG_VERSION"), " node row 2");

impl NodeRow {
    /// SHA-256 of the JSON of every field and of the file's bytes (the document's content, of
    /// which `facts` is a function): equal hashes, equal rows. Computed without serializing the
    /// document, which is most of what an unchanged resync would otherwise spend.
    pub fn content_hash(&self) -> String {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(ROW_HASH_VERSION.as_bytes());
        context.update(b"\n");
        // Plain data with string keys: serializing cannot fail.
        context.update(&serde_json::to_vec(self).unwrap_or_default());
        if let Some(digest) = &self.file_digest {
            context.update(b"\nfile ");
            context.update(digest);
        }
        hex(context.finish().as_ref())
    }
}

/// The `facts` column of a document: its JSON text.
pub fn facts_json(doc: &NodeDocument) -> Option<String> {
    // Plain data with string keys: serializing cannot fail.
    serde_json::to_string(doc).ok()
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

/// The checkout as one sync (or export) sees it, before any node.yaml is read.
#[derive(Debug)]
pub struct Checkout {
    /// What is read.
    pub selection: Selection,
    /// The parsed inventory (empty when none was given), each machine once.
    pub inventory: Inventory,
    /// The node.yaml files found under `--nodes`.
    tree: scan::Tree,
    /// `--nodes` relative to the repository root, `""` for the root itself.
    prefix: String,
}

impl Checkout {
    /// Parses `inventory` and walks `nodes` the way `enlist reconcile` does, for the files of
    /// `operators` (all when empty), as the repository `source` names (else its origin, see
    /// [`super::source`]). Input files are read before the walk, so a wrong path fails fast.
    pub fn open(
        nodes: &Path,
        inventory_path: Option<&Path>,
        inventory_map: Option<&Path>,
        operators: &[String],
        source: Option<&str>,
    ) -> Result<Checkout, ReconcileError> {
        let mut inventory = Inventory::default();
        let mut inventory_shown = String::new();
        if let Some(path) = inventory_path {
            let map = inventory_map
                .map(|map| InventoryMap::read(map, &shown(nodes, map)))
                .transpose()?;
            inventory = inventory::read(path, &shown(nodes, path), map.as_ref())?;
            inventory_shown = inventory.file.clone();
        }
        let tree = scan::Tree::find(nodes)?;
        let root = tree.root().to_path_buf();
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
                source: source::resolve(&repo, source),
                operators: wanted,
                paths: vec![if prefix.is_empty() {
                    ".".to_owned()
                } else {
                    prefix.clone()
                }],
                inventory: inventory_in_repo,
            },
            inventory,
            tree,
            prefix,
        })
    }

    /// node.yaml files found under `--nodes` (of every operator).
    pub fn files_found(&self) -> usize {
        self.tree.files()
    }

    /// The selection's node.yaml files, read and checked one at a time, in path order.
    pub fn read(&self) -> impl Iterator<Item = scan::ScannedNode> + '_ {
        let wanted = &self.selection.operators;
        self.tree
            .read()
            .filter(move |node| wanted.is_empty() || selected(node, wanted))
    }

    /// [`Checkout::read`], with the SHA-256 of each file's bytes (see [`NodeRow::file_digest`]).
    pub fn read_with_digest(
        &self,
    ) -> impl Iterator<Item = (scan::ScannedNode, Option<[u8; 32]>)> + '_ {
        let wanted = &self.selection.operators;
        self.tree
            .read_with_digest()
            .filter(move |(node, _)| wanted.is_empty() || selected(node, wanted))
    }

    /// Directories that could not be listed: every selection keeps them (what is below them is
    /// unknown), and they make the run partial.
    pub fn unreadable_directories(&self) -> &[scan::ScannedNode] {
        self.tree.unreadable_directories()
    }

    /// The inventory rows indexed for matching.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher::new(&self.inventory.rows)
    }

    /// The row of a file that [`Checkout::read`] returned, with its matched inventory item (its
    /// key in the row, its index in `inventory.rows` beside it).
    pub fn node_row(
        &self,
        node: &scan::ScannedNode,
        matcher: &Matcher<'_>,
    ) -> (NodeRow, Option<usize>) {
        let keys = node.doc.as_ref().map(NodeKeys::of);
        let matched = keys.as_ref().and_then(|k| matcher.find(k)).map(|(i, _)| i);
        let inventory_key = matched.and_then(|i| item_key(&self.inventory.rows[i]));
        (
            NodeRow {
                inventory_key,
                ..node_row(&self.prefix, node, keys)
            },
            matched,
        )
    }

    /// Indices of the inventory rows, in item-key order (the order items are written in).
    pub fn item_order(&self) -> Vec<usize> {
        // The parser dropped repeated machines and rows without a key: every row is an item.
        let mut keyed: Vec<(String, usize)> = self
            .inventory
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| Some((item_key(row)?, i)))
            .collect();
        keyed.sort();
        keyed.into_iter().map(|(_, i)| i).collect()
    }

    /// The item of inventory row `index`.
    pub fn item_row(&self, index: usize) -> Option<ItemRow> {
        self.inventory.rows.get(index).and_then(item_row)
    }

    /// Reads every file and reconciles them (no demand file: no recommendations); with the run's
    /// status (partial when part of the tree could not be read). For small trees and tests: a
    /// sync keeps the summaries while it writes the rows instead.
    pub fn report(&self) -> (Report, bool) {
        let mut summaries: Vec<NodeSummary> = self.read().map(NodeSummary::from).collect();
        summaries.extend(self.unreadable_directories().iter().map(NodeSummary::of));
        let partial = summaries.iter().any(is_unreadable);
        (
            analyse::analyse_summaries(&summaries, &self.inventory, None),
            partial,
        )
    }

    /// Node rows, sorted by path (every file read at once: small trees and tests).
    pub fn node_rows(&self) -> Vec<NodeRow> {
        let matcher = self.matcher();
        self.read()
            .map(|node| self.node_row(&node, &matcher).0)
            .collect()
    }

    /// Inventory items, sorted by key.
    pub fn item_rows(&self) -> Vec<ItemRow> {
        self.item_order()
            .into_iter()
            .filter_map(|i| self.item_row(i))
            .collect()
    }
}

/// Whether an entry says part of the tree could not be read (absence is then no evidence of
/// removal).
pub fn is_unreadable(summary: &NodeSummary) -> bool {
    summary
        .problems
        .iter()
        .any(|p| p.kind == InvalidKind::Unreadable)
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
            file_digest: None,
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
        facts: None,
        file_digest: None,
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
            source: "github.com/o/r".into(),
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
        // Another repository with the same layout is another selection.
        let d = Selection {
            source: "github.com/o/other".into(),
            ..a.clone()
        };
        assert_ne!(a.hash(), d.hash());
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
