//! The pure core of reconcile: scanned node.yaml files + inventory rows (+ demand) → [`Report`].
//!
//! No I/O and no dependence on input order: nodes are taken in path order and rows in line order
//! whatever order they arrive in, and every list in the report is sorted, so shuffled inputs give
//! byte-identical JSON.
//!
//! SPEC §5 rules, as applied:
//! - **Matching**: [`super::matching`] (serial, then MACs). Several nodes may match one row (that
//!   is a duplicate, reported as such).
//! - **Missing registration**: every unmatched row except `retired` ones. `spare` and `broken`
//!   rows are expected to register too (a spare is installed when it goes into service, a broken
//!   machine when it is repaired); their hint says so, and that `retired` is the status for a
//!   machine that will never run in the cluster.
//! - **Capacity**: registered nodes whose inventory status is `active`.
//!
//! Decisions where SPEC §5 is silent (also in the README):
//! - **Registered but retired**: a `status` mismatch (the node directory should go).
//! - **Mismatches**: compared only when both sides state the fact. Memory: the CSV's `memory_gb`
//!   is GB as sold, which for RAM means GiB; the node's `memory.totalBytes` is the memory the
//!   kernel sees (online memory blocks, else `MemTotal`) rounded up to a GiB, which can be a little
//!   under the installed size. Both are compared in GiB and more than 10 %
//!   apart (relative to the inventory figure) is a mismatch. Make/model: see [`super::names`].
//!   Matched by MAC with a different serial on both sides: a `serial` mismatch.
//! - **Nodes that parse but fail verification** (hash mismatch, `nodeId` ≠ directory) still take
//!   part in matching, duplicates and mismatches, but not in capacity, catalog or fleet.
//! - **Capacity** per `active` row: the facts of its first valid node by path (a machine
//!   registered twice counts once). Cores from `cpu.cores`, memory GiB from `memory.totalBytes`,
//!   storage GB (decimal, as disks are sold) from the sum of disk sizes.
//! - **Default catalog**: make/models of `active` and `spare` rows (a model seen only on retired
//!   or broken rows is not one to buy; `R650` and `PowerEdge R650` are one model). Per unit, the
//!   lower median of the registered nodes of that model (a conservative typical unit), leaving out
//!   nodes whose cores or memory disagree with their row (a failed DIMM says nothing about a new
//!   unit) unless that leaves none; when none is registered, the lower median of the rows' own
//!   `cores`, `memory_gb`, `storage_gb`. Cost: the lower median of the rows' `cost`. The name shown
//!   is the most frequent spelling, then the shortest.
//! - **`nodes`** counts node.yaml files, valid or not; an unreadable directory is an `invalid`
//!   entry but no file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::document::NodeDocument;
use crate::hostkey;

use super::demand::{self, Amounts, CatalogEntry, Demand};
use super::inventory::{self, Inventory, InventoryRow, Status};
use super::matching::{MatchedBy, Matcher, NodeKeys};
use super::names::{canonical_make, canonical_model, same_make, same_model};
use super::report::{
    Duplicate, DuplicateKind, FleetRow, Invalid, Mismatch, MismatchField, MissingRegistration,
    PhantomNode, Prose, Report, Shared, SharedKind,
};
use super::scan::{KeyLines, ScannedNode};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Storage is sold in decimal units.
const GB: f64 = 1_000_000_000.0;
/// Memory more than this fraction away from the inventory figure is a mismatch (SPEC §5).
const MEMORY_TOLERANCE: f64 = 0.10;

/// What reconcile keeps of one scanned node.yaml (or unreadable directory): its findings so far
/// and the few facts that matching, gaps, duplicates, capacity and the fleet table read — a few
/// hundred bytes instead of the whole document, so a fleet of 100,000 fits in tens of MiB while
/// the files are read one at a time ([`super::scan::Tree::read`]; issue 16).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSummary {
    /// Path relative to `--nodes`.
    pub path: String,
    /// An unreadable directory, not a file.
    pub directory: bool,
    /// What is wrong with it (empty: valid).
    pub problems: Vec<Invalid>,
    /// Lines of the values findings point at.
    pub lines: Lines,
    /// The facts, when the file parsed (even if a check failed).
    pub facts: Option<NodeFacts>,
}

/// [`KeyLines`] without the text: the lines findings point at, `0` when unknown, MAC lines in
/// the order of the node's [`NodeKeys::macs`]. A few bytes per node instead of a hundred.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    serial: u32,
    node_id: u32,
    fingerprint: u32,
    host_keys: u32,
    macs: Box<[u32]>,
}

impl Lines {
    fn of(lines: &KeyLines, facts: Option<&NodeFacts>) -> Lines {
        // A node.yaml is at most a few MiB: its line numbers fit in 32 bits.
        let compact = |line: Option<u64>| line.and_then(|l| u32::try_from(l).ok()).unwrap_or(0);
        Lines {
            serial: compact(lines.serial),
            node_id: compact(lines.node_id),
            fingerprint: compact(lines.fingerprint),
            host_keys: compact(lines.ssh_host_keys),
            macs: facts
                .map(|f| f.keys.macs.iter().map(|m| compact(lines.mac(m))).collect())
                .unwrap_or_default(),
        }
    }

    fn get(line: u32) -> Option<u64> {
        (line > 0).then_some(u64::from(line))
    }

    /// `system.serial:`.
    pub fn serial(&self) -> Option<u64> {
        Lines::get(self.serial)
    }

    /// `nodeId:`.
    pub fn node_id(&self) -> Option<u64> {
        Lines::get(self.node_id)
    }

    /// `identity.fingerprint:`.
    pub fn fingerprint(&self) -> Option<u64> {
        Lines::get(self.fingerprint)
    }

    /// `sshHostKeys:`.
    pub fn host_keys(&self) -> Option<u64> {
        Lines::get(self.host_keys)
    }

    /// The line of `mac`, one of `keys.macs`.
    pub fn mac(&self, keys: &NodeKeys, mac: &str) -> Option<u64> {
        let at = keys.macs.iter().position(|m| m == mac)?;
        self.macs.get(at).copied().and_then(Lines::get)
    }
}

/// The facts of a parsed node.yaml that reconcile compares.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeFacts {
    /// `nodeId`.
    pub node_id: String,
    /// `hostname`.
    pub hostname: String,
    /// `system.serial` as written.
    pub serial: Option<String>,
    /// `system.vendor`.
    pub vendor: Option<String>,
    /// `system.model`.
    pub model: Option<String>,
    /// `identity.fingerprint`.
    pub fingerprint: String,
    /// `cpu.cores`.
    pub cores: u32,
    /// `memory.totalBytes`.
    pub memory_bytes: u64,
    /// Σ `disks[].sizeBytes`.
    pub storage_bytes: u64,
    /// What the node is matched by.
    pub keys: NodeKeys,
    /// SHA-256 fingerprints of `sshHostKeys` (32 bytes each, not the keys: a few hundred bytes
    /// less per node at fleet scale).
    pub host_keys: Box<[[u8; 32]]>,
}

impl NodeFacts {
    /// The facts of `doc`.
    pub fn of(doc: &NodeDocument) -> NodeFacts {
        NodeFacts {
            node_id: doc.node_id.as_str().to_owned(),
            hostname: doc.hostname.clone(),
            serial: doc.system.serial.clone(),
            vendor: doc.system.vendor.clone(),
            model: doc.system.model.clone(),
            fingerprint: doc.identity.fingerprint.clone(),
            cores: doc.cpu.cores,
            memory_bytes: doc.memory.total_bytes,
            storage_bytes: doc
                .disks
                .iter()
                .fold(0u64, |sum, d| sum.saturating_add(d.size_bytes)),
            keys: NodeKeys::of(doc),
            host_keys: doc
                .ssh_host_keys
                .iter()
                .map(hostkey::HostKey::fingerprint_bytes)
                .collect(),
        }
    }
}

impl NodeSummary {
    /// The summary of a scanned entry.
    pub fn of(node: &ScannedNode) -> NodeSummary {
        let facts = node.doc.as_ref().map(NodeFacts::of);
        NodeSummary {
            path: node.path.clone(),
            directory: node.directory,
            problems: node.problems.clone(),
            lines: Lines::of(&node.lines, facts.as_ref()),
            facts,
        }
    }

    /// The summary of a scanned entry whose document (`doc`) the caller took out of it.
    pub fn with_doc(node: ScannedNode, doc: Option<&NodeDocument>) -> NodeSummary {
        let facts = doc.map(NodeFacts::of);
        NodeSummary {
            lines: Lines::of(&node.lines, facts.as_ref()),
            facts,
            path: node.path,
            directory: node.directory,
            problems: node.problems,
        }
    }

    /// Parsed and passed every check.
    pub fn is_valid(&self) -> bool {
        self.facts.is_some() && self.problems.is_empty()
    }

    /// A node.yaml file (valid or not), as opposed to an unreadable directory.
    pub fn is_file(&self) -> bool {
        !self.directory
    }
}

impl From<ScannedNode> for NodeSummary {
    fn from(mut node: ScannedNode) -> NodeSummary {
        let doc = node.doc.take();
        NodeSummary::with_doc(node, doc.as_ref())
    }
}

/// A node that parsed, with what matching needs.
struct Node<'a> {
    summary: &'a NodeSummary,
    facts: &'a NodeFacts,
}

impl Node<'_> {
    fn amounts(&self) -> Amounts {
        Amounts {
            cores: f64::from(self.facts.cores),
            memory_gib: self.facts.memory_bytes as f64 / GIB,
            storage_gb: self.facts.storage_bytes as f64 / GB,
        }
    }
}

/// Reconciles `nodes` against `inventory` (as [`inventory::parse`] returns it: each machine once,
/// repeats among `invalid`); with `demand`, also plans purchases. Holds every document: a fleet
/// is better summarised file by file and given to [`analyse_summaries`].
pub fn analyse(nodes: &[ScannedNode], inventory: &Inventory, demand: Option<&Demand>) -> Report {
    let summaries: Vec<NodeSummary> = nodes.iter().map(NodeSummary::of).collect();
    analyse_summaries(&summaries, inventory, demand)
}

/// [`analyse`] over summaries ([`NodeSummary`]).
pub fn analyse_summaries(
    nodes: &[NodeSummary],
    inventory: &Inventory,
    demand: Option<&Demand>,
) -> Report {
    let mut scanned: Vec<&NodeSummary> = nodes.iter().collect();
    scanned.sort_by(|a, b| a.path.cmp(&b.path));
    // The parser already dropped repeated machines and keeps file order; line order makes the
    // rest order-free (copied only when the caller shuffled them).
    let rows: Cow<'_, [InventoryRow]> = if inventory.rows.is_sorted_by_key(|r| r.line) {
        Cow::Borrowed(&inventory.rows)
    } else {
        let mut rows = inventory.rows.clone();
        rows.sort_by_key(|r| r.line);
        Cow::Owned(rows)
    };

    let mut invalid: Vec<Invalid> = scanned
        .iter()
        .flat_map(|n| n.problems.iter().cloned())
        .chain(inventory.invalid.iter().cloned())
        .collect();
    invalid.sort_by(|a, b| {
        (&a.file, a.line, a.kind, &a.message).cmp(&(&b.file, b.line, b.kind, &b.message))
    });

    let parsed: Vec<Node> = scanned
        .iter()
        .filter_map(|s| {
            Some(Node {
                summary: s,
                facts: s.facts.as_ref()?,
            })
        })
        .collect();

    let matcher = Matcher::new(&rows);
    let matches: Vec<Option<(usize, MatchedBy)>> =
        parsed.iter().map(|n| matcher.find(&n.facts.keys)).collect();
    let mut nodes_of_row: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for (node, m) in matches.iter().enumerate() {
        if let Some((row, _)) = m {
            nodes_of_row[*row].push(node);
        }
    }

    let mut mismatches = mismatches(&parsed, &matches, &rows, &inventory.file);
    // A node no usable row matches may be named by a row that could not be used: its machine
    // is in the inventory (not a phantom), its row is the problem.
    let claimed = claimed(&parsed, &matches, inventory);
    mismatches.extend(claimed.iter().filter_map(|c| c.clone()));
    mismatches.sort_by(|a, b| (&a.path, a.field).cmp(&(&b.path, b.field)));
    let degraded: HashSet<&str> = mismatches
        .iter()
        .filter(|m| matches!(m.field, MismatchField::Cores | MismatchField::Memory))
        .map(|m| m.path.as_str())
        .collect();
    let mut report = Report {
        missing_registration: missing_registrations(&rows, &nodes_of_row, &inventory.file),
        phantom_nodes: phantoms(&parsed, &matches, &claimed),
        mismatches: Vec::new(),
        duplicates: duplicates(&parsed),
        invalid,
        recommendations: Vec::new(),
        nodes: nodes.iter().filter(|n| n.is_file()).count(),
        inventory: inventory.data_rows,
        columns: inventory.columns.clone(),
        inventory_file: inventory.file.clone(),
        fleet: fleet(&parsed),
        plan: None,
    };
    if let Some(demand) = demand {
        // Per row, its first valid node by path: a machine registered twice counts once.
        let valid_node_of_row: Vec<Option<&Node>> = nodes_of_row
            .iter()
            .map(|ns| {
                ns.iter()
                    .map(|&n| &parsed[n])
                    .find(|n| n.summary.is_valid())
            })
            .collect();
        let mut capacity = Amounts::default();
        let mut active_nodes = 0;
        for (row, node) in rows.iter().zip(&valid_node_of_row) {
            if let (Status::Active, Some(node)) = (row.status, node) {
                let a = node.amounts();
                capacity.cores += a.cores;
                capacity.memory_gib += a.memory_gib;
                capacity.storage_gb += a.storage_gb;
                active_nodes += 1;
            }
        }
        let catalog = match &demand.catalog {
            Some(catalog) => catalog.clone(),
            None => default_catalog(&rows, &valid_node_of_row, &degraded),
        };
        let (plan, recommendation) = demand::plan(demand, capacity, active_nodes, catalog);
        report.recommendations.extend(recommendation);
        report.plan = Some(plan);
    }
    report.mismatches = mismatches;
    report
}

fn missing_registrations(
    rows: &[InventoryRow],
    nodes_of_row: &[Vec<usize>],
    file: &str,
) -> Vec<MissingRegistration> {
    let mut missing: Vec<MissingRegistration> = rows
        .iter()
        .zip(nodes_of_row)
        .filter(|(row, nodes)| nodes.is_empty() && row.status != Status::Retired)
        .map(|(row, _)| MissingRegistration {
            file: file.to_owned(),
            line: row.line,
            serial: row.serial.clone(),
            macs: row.macs.clone(),
            asset_tag: row.asset_tag.clone(),
            hostname: row.hostname.clone(),
            make: row.make.clone(),
            model: row.model.clone(),
            status: row.status.as_str().to_owned(),
            location: row.location.clone(),
            hint: Prose::from(missing_hint(row.status)),
        })
        .collect();
    missing.sort_by(|a, b| {
        let key = |m: &MissingRegistration| {
            (
                m.serial.as_deref().map(inventory::serial_key),
                m.macs.clone(),
                m.asset_tag.clone(),
                m.hostname.clone(),
                m.line,
            )
        };
        key(a).cmp(&key(b))
    });
    missing
}

/// What to do about an unregistered row, by its status (never `retired`: those are not missing).
fn missing_hint(status: Status) -> &'static str {
    match status {
        Status::Spare => {
            "no node.yaml matches this spare machine: a spare registers too once it is installed \
             with enlist (`enlist register`, then set its status to active); if it will never run \
             in the cluster, set its status to retired"
        }
        Status::Broken => {
            "no node.yaml matches this broken machine: once it is repaired and installed, `enlist \
             register` adds it; if it will not be repaired, set its status to retired"
        }
        Status::Active | Status::Retired => {
            "no node.yaml matches this active machine: check that it is installed and that \
             `enlist register` ran on it (`enlist status` on the machine, or an open \
             `enlist/<node-id>` PR); if it is gone for good, set its status to retired"
        }
    }
}

/// Per node, when no usable row matches it but an unusable one names it ([`inventory::Claim`]):
/// the `inventory_row` mismatch that says so.
fn claimed(
    nodes: &[Node],
    matches: &[Option<(usize, MatchedBy)>],
    inventory: &Inventory,
) -> Vec<Option<Mismatch>> {
    if inventory.claims.is_empty() {
        return vec![None; nodes.len()];
    }
    let rows: Vec<InventoryRow> = inventory.claims.iter().map(|c| c.row.clone()).collect();
    let matcher = Matcher::new(&rows);
    nodes
        .iter()
        .zip(matches)
        .map(|(node, m)| {
            if m.is_some() {
                return None;
            }
            let (index, _) = matcher.find(&node.facts.keys)?;
            let claim = &inventory.claims[index];
            let line = claim.row.line;
            Some(Mismatch {
                node_id: node.facts.node_id.clone(),
                path: node.summary.path.clone(),
                file: inventory.file.clone(),
                line,
                serial: node
                    .facts
                    .serial
                    .clone()
                    .or_else(|| claim.row.serial.clone()),
                field: MismatchField::InventoryRow,
                inventory: "invalid row".to_owned(),
                node: "registered".to_owned(),
                hint: Prose::new()
                    .say(&format!("its inventory row (line {line}) is invalid: "))
                    .then(&claim.problem)
                    .say("; fix that row and the machine is matched as usual"),
            })
        })
        .collect()
}

fn phantoms(
    nodes: &[Node],
    matches: &[Option<(usize, MatchedBy)>],
    claimed: &[Option<Mismatch>],
) -> Vec<PhantomNode> {
    nodes
        .iter()
        .zip(matches)
        .zip(claimed)
        .filter(|((_, m), c)| m.is_none() && c.is_none())
        .map(|((node, m), _)| (node, m))
        .map(|(node, _)| {
            let facts = node.facts;
            let serial = facts.serial.clone();
            let identified = match (&serial, facts.keys.macs.first()) {
                (Some(s), _) => Prose::from("serial ").value(s),
                (None, Some(mac)) => Prose::from("MAC ").value(mac),
                (None, None) => Prose::from("its serial or MAC"),
            };
            PhantomNode {
                node_id: facts.node_id.clone(),
                path: node.summary.path.clone(),
                hostname: facts.hostname.clone(),
                serial,
                make: facts.vendor.clone(),
                model: facts.model.clone(),
                hint: Prose::from(
                    "stale inventory or an unknown machine registered: add the machine (",
                )
                .then(&identified)
                .say(") to the inventory, or remove ")
                .value(&parent_dir(&node.summary.path))
                .say(" if it does not belong in the cluster"),
                line: node.summary.lines.serial().or(node.summary.lines.node_id()),
            }
        })
        .collect()
}

fn parent_dir(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/"),
        None => path.to_owned(),
    }
}

fn mismatches(
    nodes: &[Node],
    matches: &[Option<(usize, MatchedBy)>],
    rows: &[InventoryRow],
    file: &str,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (node, m) in nodes.iter().zip(matches) {
        let Some((row_index, by)) = m else {
            continue;
        };
        let row = &rows[*row_index];
        let facts = node.facts;
        let mut push =
            |field: MismatchField, inventory: String, node_value: String, hint: Prose| {
                out.push(Mismatch {
                    node_id: facts.node_id.clone(),
                    path: node.summary.path.clone(),
                    file: file.to_owned(),
                    line: row.line,
                    serial: facts.serial.clone().or_else(|| row.serial.clone()),
                    field,
                    inventory,
                    node: node_value,
                    hint,
                });
            };
        if let (MatchedBy::Mac, Some(node_key), Some(row_key)) =
            (by, &facts.keys.serial, row.serial_key())
            && *node_key != row_key
        {
            push(
                MismatchField::Serial,
                row.serial.clone().unwrap_or_default(),
                facts.serial.clone().unwrap_or_default(),
                Prose::from(
                    "matched by MAC, but the serials differ: the mainboard was replaced or the \
                     serial is mistyped; correct the inventory row",
                ),
            );
        }
        let wrong_row = "correct the inventory row; if the row's serial/MAC belongs to another \
                         machine, fix that instead";
        if let (Some(inv), Some(fact)) = (&row.make, &facts.vendor)
            && !same_make(inv, fact)
        {
            push(
                MismatchField::Make,
                inv.clone(),
                fact.clone(),
                Prose::from(wrong_row),
            );
        }
        if let (Some(inv), Some(fact)) = (&row.model, &facts.model)
            && !same_model(inv, fact)
        {
            push(
                MismatchField::Model,
                inv.clone(),
                fact.clone(),
                Prose::from(wrong_row),
            );
        }
        if let Some(cores) = row.cores
            && cores != facts.cores
        {
            push(
                MismatchField::Cores,
                cores.to_string(),
                facts.cores.to_string(),
                Prose::from(
                    "a different CPU is fitted or cores are disabled in the firmware: check the \
                     machine, or correct the inventory row",
                ),
            );
        }
        if let Some(sold) = row.memory_gb {
            let gib = facts.memory_bytes as f64 / GIB;
            if (gib - sold).abs() > MEMORY_TOLERANCE * sold {
                push(
                    MismatchField::Memory,
                    format!("{} GB", trim_number(sold)),
                    format!("{} GiB", trim_number(gib)),
                    Prose::from(
                        "more than 10 % apart (RAM sold as GB is GiB; the node reports the \
                         memory its kernel sees, at most a little under the installed size): a \
                         DIMM may have failed or be missing; check the machine, or correct the \
                         inventory row",
                    ),
                );
            }
        }
        if row.status == Status::Retired {
            push(
                MismatchField::Status,
                "retired".to_owned(),
                "registered".to_owned(),
                Prose::from("the inventory says retired but the machine is registered: remove ")
                    .value(&parent_dir(&node.summary.path))
                    .say(" from the repository, or correct the status"),
            );
        }
    }
    // Nodes come in path order and fields in declaration order: already sorted.
    out
}

/// `384.0` → `384`, `251.5` → `251.5`.
pub fn trim_number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round())
    } else {
        format!("{x:.1}")
    }
}

fn duplicates(nodes: &[Node<'_>]) -> Vec<Duplicate> {
    // Every (kind, key, node) of the fleet, borrowed from the summaries and sorted: equal keys
    // end up side by side, in node order. One small entry per serial, fingerprint, MAC and host
    // key, and no hash table to grow (issue 16: bounded memory).
    let mut keys: Vec<(SharedKind, &[u8], u32)> = Vec::with_capacity(nodes.len() * 6);
    for (index, node) in nodes.iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let facts = node.facts;
        if let (Some(key), Some(_)) = (&facts.keys.serial, &facts.serial) {
            keys.push((SharedKind::Serial, key.as_bytes(), index));
        }
        keys.push((SharedKind::Fingerprint, facts.fingerprint.as_bytes(), index));
        for mac in &facts.keys.macs {
            keys.push((SharedKind::Mac, mac.as_bytes(), index));
        }
        for host_key in &facts.host_keys {
            keys.push((SharedKind::HostKey, host_key, index));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    // As the first node with the key wrote it (serials compare case-insensitively); a host key
    // by its fingerprint as `ssh-keygen -l` prints it.
    let shown = |kind: SharedKind, key: &[u8], node: &Node| match (kind, &node.facts.serial) {
        (SharedKind::Serial, Some(serial)) => serial.trim().to_owned(),
        (SharedKind::HostKey, _) => <&[u8; 32]>::try_from(key)
            .map(hostkey::format_fingerprint)
            .unwrap_or_default(),
        _ => String::from_utf8_lossy(key).into_owned(),
    };
    // (kind, key) → (shown value, nodes sharing it), in (kind, key) order.
    let mut shared: Vec<(SharedKind, String, Vec<usize>)> = Vec::new();
    for run in keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if run.len() > 1 {
            let (kind, key, first) = run[0];
            let members = run.iter().map(|(_, _, i)| *i as usize).collect();
            shared.push((kind, shown(kind, key, &nodes[first as usize]), members));
        }
    }
    let mut groups: BTreeMap<Vec<usize>, Vec<Shared>> = BTreeMap::new();
    for (kind, value, members) in shared {
        groups
            .entry(members)
            .or_default()
            .push(Shared { kind, value });
    }
    groups
        .into_iter()
        .map(|(members, mut what)| {
            what.sort();
            let same_machine = what.iter().any(|s| s.kind == SharedKind::Fingerprint);
            let host_key = what.iter().any(|s| s.kind == SharedKind::HostKey);
            let first = what[0].clone();
            let (kind, hint) = if same_machine {
                (
                    DuplicateKind::Identity,
                    "the same machine is registered more than once (a copied directory, or a \
                     re-registration under another node id): keep the directory named after the \
                     node id the machine derives (`enlist facts` on it shows it) and delete the \
                     others",
                )
            } else if host_key {
                (
                    DuplicateKind::HostKey,
                    "different machines hold the same SSH host key: one disk image, its \
                     /etc/ssh keys included, was installed on each (a cloned image) — each can \
                     impersonate the other and read the secrets encrypted to it; on every clone \
                     delete /etc/ssh/ssh_host_* and restart sshd (it makes new keys; the next \
                     enlist run proposes them as a facts update), re-encrypt the secrets, and keep \
                     host keys out of images",
                )
            } else {
                (
                    DuplicateKind::Identity,
                    "different machines claim the same serial or MAC: cloned or mis-flashed \
                     firmware values, or a NIC moved between machines; check the machines and \
                     keep one registration per machine",
                )
            };
            Duplicate {
                kind,
                nodes: members
                    .iter()
                    .map(|&i| nodes[i].facts.node_id.clone())
                    .collect(),
                paths: members
                    .iter()
                    .map(|&i| nodes[i].summary.path.clone())
                    .collect(),
                lines: members
                    .iter()
                    .map(|&i| {
                        let lines = &nodes[i].summary.lines;
                        match first.kind {
                            SharedKind::Serial => lines.serial(),
                            SharedKind::Fingerprint => lines.fingerprint(),
                            SharedKind::Mac => lines.mac(&nodes[i].facts.keys, &first.value),
                            SharedKind::HostKey => lines.host_keys(),
                        }
                    })
                    .collect(),
                shared: what,
                hint: Prose::from(hint),
            }
        })
        .collect()
}

fn fleet(nodes: &[Node]) -> Vec<FleetRow> {
    let mut groups: BTreeMap<(String, String), FleetRow> = BTreeMap::new();
    for node in nodes.iter().filter(|n| n.summary.is_valid()) {
        let make = node
            .facts
            .vendor
            .clone()
            .unwrap_or_else(|| "unknown".into());
        let model = node.facts.model.clone().unwrap_or_else(|| "unknown".into());
        let row = groups
            .entry((canonical_make(&make), canonical_model(&model)))
            .or_insert_with(|| FleetRow {
                make: make.clone(),
                model: model.clone(),
                count: 0,
                cores: 0,
                memory_gib: 0,
                storage_gb: 0.0,
            });
        // Show the same spelling whatever order nodes come in.
        if (&make, &model) < (&row.make, &row.model) {
            row.make = make;
            row.model = model;
        }
        let a = node.amounts();
        row.count += 1;
        row.cores += u64::from(node.facts.cores);
        row.memory_gib += node.facts.memory_bytes / (1024 * 1024 * 1024);
        row.storage_gb += a.storage_gb;
    }
    let mut rows: Vec<FleetRow> = groups.into_values().collect();
    rows.sort_by(|a, b| (&a.make, &a.model).cmp(&(&b.make, &b.model)));
    rows
}

/// The spelling to show for a group: the most frequent, then the shortest, then the first.
fn pick_spelling(spellings: &BTreeMap<String, usize>) -> String {
    spellings
        .iter()
        .min_by(|a, b| {
            b.1.cmp(a.1)
                .then(a.0.chars().count().cmp(&b.0.chars().count()))
                .then(a.0.cmp(b.0))
        })
        .map(|(s, _)| s.clone())
        .unwrap_or_default()
}

fn default_catalog(
    rows: &[InventoryRow],
    node_of_row: &[Option<&Node>],
    degraded: &HashSet<&str>,
) -> Vec<CatalogEntry> {
    #[derive(Default)]
    struct Group<'a> {
        make_key: String,
        model: String,
        makes: BTreeMap<String, usize>,
        models: BTreeMap<String, usize>,
        rows: Vec<&'a InventoryRow>,
        /// Facts of registered nodes, and whether the node disagrees with its row on cores/memory.
        nodes: Vec<(Amounts, bool)>,
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for (row, node) in rows.iter().zip(node_of_row) {
        if !matches!(row.status, Status::Active | Status::Spare) {
            continue;
        }
        let (Some(make), Some(model)) = (&row.make, &row.model) else {
            continue;
        };
        let key = (canonical_make(make), canonical_model(model));
        // `R650` and `PowerEdge R650` are one model (see `names`): join an existing group.
        let index = match by_key.get(&key) {
            Some(&index) => index,
            None => {
                let index = groups
                    .iter()
                    .position(|g| g.make_key == key.0 && same_model(&g.model, model))
                    .unwrap_or_else(|| {
                        groups.push(Group {
                            make_key: key.0.clone(),
                            model: model.clone(),
                            ..Group::default()
                        });
                        groups.len() - 1
                    });
                by_key.insert(key, index);
                index
            }
        };
        let group = &mut groups[index];
        *group.makes.entry(make.clone()).or_default() += 1;
        *group.models.entry(model.clone()).or_default() += 1;
        group.rows.push(row);
        if let Some(node) = node {
            let is_degraded = degraded.contains(node.summary.path.as_str());
            group.nodes.push((node.amounts(), is_degraded));
        }
    }
    let mut catalog: Vec<CatalogEntry> = groups
        .into_iter()
        .map(|g| {
            // A node with a failed DIMM does not say what a new unit brings: prefer healthy ones.
            let healthy: Vec<Amounts> = g.nodes.iter().filter(|n| !n.1).map(|n| n.0).collect();
            let nodes: Vec<Amounts> = if healthy.is_empty() {
                g.nodes.iter().map(|n| n.0).collect()
            } else {
                healthy
            };
            let per_unit = |from_node: fn(&Amounts) -> f64,
                            from_row: fn(&InventoryRow) -> Option<f64>| {
                if nodes.is_empty() {
                    lower_median(g.rows.iter().filter_map(|r| from_row(r)).collect())
                } else {
                    lower_median(nodes.iter().map(from_node).collect())
                }
                .unwrap_or(0.0)
            };
            CatalogEntry {
                make: pick_spelling(&g.makes),
                model: pick_spelling(&g.models),
                cores: per_unit(|a| a.cores, |r| r.cores.map(f64::from)),
                memory_gb: per_unit(|a| a.memory_gib, |r| r.memory_gb),
                storage_gb: per_unit(|a| a.storage_gb, |r| r.storage_gb),
                cost: lower_median(g.rows.iter().filter_map(|r| r.cost).collect()),
            }
        })
        .collect();
    catalog.sort_by(|a, b| (&a.make, &a.model).cmp(&(&b.make, &b.model)));
    catalog
}

fn lower_median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_median_is_conservative_and_order_free() {
        assert_eq!(lower_median(vec![]), None);
        assert_eq!(lower_median(vec![3.0]), Some(3.0));
        assert_eq!(lower_median(vec![503.0, 251.0]), Some(251.0));
        assert_eq!(lower_median(vec![5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn nodes_counts_files_not_unreadable_directories() {
        let file = super::super::scan::check("cluster-nodes/x/node.yaml", "x", "not: [yaml");
        let directory = ScannedNode {
            path: "maintainers/bob".into(),
            directory: true,
            ..file.clone()
        };
        let report = analyse(&[file, directory], &Inventory::default(), None);
        assert_eq!(report.nodes, 1);
        assert_eq!(report.invalid.len(), 2, "both are findings");
    }

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(trim_number(384.0), "384");
        assert_eq!(trim_number(251.49), "251.5");
    }
}
