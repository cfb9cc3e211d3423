//! What reconcile found: the findings of SPEC §5, each with what to do about it.
//!
//! The serialized shape is the `--format json` contract: one object with exactly the keys
//! `missing_registration`, `phantom_nodes`, `mismatches`, `duplicates`, `invalid`,
//! `recommendations`, `nodes`, `inventory`, and `columns` (which inventory column fed each field,
//! which were ignored: [`ColumnReport`]). Every list is sorted, every entry has the same keys
//! whether a value is known or not (`null`), so consumers can rely on the shape. Fields marked
//! `#[serde(skip)]` only feed the human formats (fleet table, capacity plan, annotation lines).

use serde::Serialize;

use super::demand::CatalogEntry;
pub use super::inventory::header::ColumnReport;
pub use super::prose::Prose;

/// The outcome of one reconcile run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Inventory rows that should have registered but no node.yaml matches them.
    pub missing_registration: Vec<MissingRegistration>,
    /// Registered nodes the inventory does not know.
    pub phantom_nodes: Vec<PhantomNode>,
    /// Registered and inventoried, but the facts disagree.
    pub mismatches: Vec<Mismatch>,
    /// Nodes that share a serial, identity fingerprint, MAC or SSH host key.
    pub duplicates: Vec<Duplicate>,
    /// node.yaml files and inventory rows that could not be used.
    pub invalid: Vec<Invalid>,
    /// What to buy (only with `--demand`, and only when there is a deficit).
    pub recommendations: Vec<Recommendation>,
    /// node.yaml files found (valid or not).
    pub nodes: usize,
    /// Data rows in the inventory (valid or not; the header and blank lines are not rows).
    pub inventory: usize,
    /// Which inventory column fed each field, which columns were ignored, the map file.
    pub columns: ColumnReport,
    /// The inventory file as shown in findings.
    #[serde(skip)]
    pub inventory_file: String,
    /// Registered fleet by make/model (valid node.yaml files only).
    #[serde(skip)]
    pub fleet: Vec<FleetRow>,
    /// The capacity computation behind `recommendations` (with `--demand`).
    #[serde(skip)]
    pub plan: Option<CapacityPlan>,
}

impl Report {
    /// Findings that fail CI whatever the flags: invalid files/rows and duplicate identities.
    pub fn errors(&self) -> usize {
        self.invalid.len() + self.duplicates.len()
    }

    /// Gaps between the repository and the inventory: they fail CI only with `--strict`.
    pub fn gaps(&self) -> usize {
        self.missing_registration.len() + self.phantom_nodes.len() + self.mismatches.len()
    }

    /// Whether the run should fail (exit 1).
    pub fn failed(&self, strict: bool) -> bool {
        self.errors() > 0 || (strict && self.gaps() > 0)
    }
}

/// An inventory row without a registration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissingRegistration {
    /// The inventory file.
    pub file: String,
    /// Line of the row.
    pub line: u64,
    /// Serial (service tag) as written.
    pub serial: Option<String>,
    /// MACs of the row, normalised.
    pub macs: Vec<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Make as written.
    pub make: Option<String>,
    /// Model as written.
    pub model: Option<String>,
    /// Inventory status: `active`, `spare` or `broken` (retired rows are never missing).
    pub status: String,
    /// Location.
    pub location: Option<String>,
    /// What to do.
    pub hint: Prose,
}

/// A registered node that no inventory row matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhantomNode {
    /// Node id from the file.
    pub node_id: String,
    /// node.yaml path relative to `--nodes`.
    pub path: String,
    /// Hostname.
    pub hostname: String,
    /// System serial.
    pub serial: Option<String>,
    /// System vendor.
    pub make: Option<String>,
    /// System model.
    pub model: Option<String>,
    /// What to do.
    pub hint: Prose,
    /// Line worth pointing an annotation at (the serial), when known.
    #[serde(skip)]
    pub line: Option<u64>,
}

/// Which fact disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchField {
    /// Matched by MAC, but the serials differ.
    Serial,
    /// Make (vendor).
    Make,
    /// Model.
    Model,
    /// Physical cores.
    Cores,
    /// Memory, more than 10 % apart.
    Memory,
    /// The inventory says `retired` but the node is registered.
    Status,
    /// The node's inventory row is invalid (unusable): it names the machine, nothing else can
    /// be compared.
    InventoryRow,
}

impl MismatchField {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchField::Serial => "serial",
            MismatchField::Make => "make",
            MismatchField::Model => "model",
            MismatchField::Cores => "cores",
            MismatchField::Memory => "memory",
            MismatchField::Status => "status",
            MismatchField::InventoryRow => "inventory_row",
        }
    }
}

/// A registered, inventoried machine whose facts disagree with its row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    /// Node id.
    pub node_id: String,
    /// node.yaml path relative to `--nodes`.
    pub path: String,
    /// The inventory file.
    pub file: String,
    /// Line of the inventory row.
    pub line: u64,
    /// The serial they were matched on (the node's, else the row's).
    pub serial: Option<String>,
    /// Which fact.
    pub field: MismatchField,
    /// What the inventory says.
    pub inventory: String,
    /// What the node reports.
    pub node: String,
    /// What to do.
    pub hint: Prose,
}

/// What two or more nodes share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Shared {
    /// `serial`, `fingerprint`, `mac` or `host_key`.
    pub kind: SharedKind,
    /// The shared value (for a host key, its fingerprint as `ssh-keygen -l` prints it:
    /// `SHA256:…`).
    pub value: String,
}

/// Kinds of identity two nodes can share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedKind {
    /// System serial (trimmed, case-insensitive).
    Serial,
    /// `identity.fingerprint`.
    Fingerprint,
    /// A NIC's permanent MAC.
    Mac,
    /// An SSH host key (`sshHostKeys`), by its SHA-256 fingerprint.
    HostKey,
}

/// What kind of duplicate: one machine registered twice, or two machines sharing a host key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum DuplicateKind {
    /// The same machine (or cloned firmware values): a serial, identity fingerprint or MAC.
    #[serde(rename = "duplicate_identity")]
    Identity,
    /// Different machines with one SSH host key: a disk image (keys included) installed on
    /// both — a cloned image. Whoever holds one machine's key reads the other's secrets.
    #[serde(rename = "duplicate_host_key")]
    HostKey,
}

/// Two or more node.yaml files that are (or claim to be) the same machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Duplicate {
    /// `duplicate_identity` or `duplicate_host_key`.
    pub kind: DuplicateKind,
    /// Node ids, in path order.
    pub nodes: Vec<String>,
    /// node.yaml paths relative to `--nodes`, sorted.
    pub paths: Vec<String>,
    /// What they share.
    pub shared: Vec<Shared>,
    /// What to do.
    pub hint: Prose,
    /// Per path, a line worth pointing an annotation at.
    #[serde(skip)]
    pub lines: Vec<Option<u64>>,
}

/// Why a file or row could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidKind {
    /// A node.yaml (or a directory on the way) could not be read.
    Unreadable,
    /// Not YAML or not the node.yaml shape.
    Parse,
    /// Unknown `schema`.
    Schema,
    /// `factsHash` does not match the content (hand edit).
    HashMismatch,
    /// `nodeId` differs from the directory name.
    NodeIdMismatch,
    /// An inventory row with a bad value.
    InventoryRow,
    /// An inventory row whose serial or MAC an earlier row already has.
    DuplicateInventoryRow,
}

/// A node.yaml or inventory row that could not be used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Invalid {
    /// The file (node.yaml relative to `--nodes`, or the inventory).
    pub file: String,
    /// Line, when known.
    pub line: Option<u64>,
    /// What kind of problem.
    pub kind: InvalidKind,
    /// What is wrong.
    pub message: Prose,
    /// What to do.
    pub hint: Prose,
}

/// A resource of the buying model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Physical cores.
    Cores,
    /// Memory, GiB (RAM is sold in binary units).
    Memory,
    /// Storage, GB (disks are sold in decimal units).
    Storage,
}

impl Resource {
    /// All resources, in report order.
    pub const ALL: [Resource; 3] = [Resource::Cores, Resource::Memory, Resource::Storage];

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Cores => "cores",
            Resource::Memory => "memory",
            Resource::Storage => "storage",
        }
    }

    /// The unit the amounts are in.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Cores => "cores",
            Resource::Memory => "GiB",
            Resource::Storage => "GB",
        }
    }
}

/// One purchase recommendation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// Make to buy.
    pub make: String,
    /// Model to buy.
    pub model: String,
    /// How many.
    pub count: u64,
    /// The resource that needs the most units.
    pub limiting: Resource,
    /// Workloads that demand the limiting resource, largest first.
    pub workloads: Vec<String>,
    /// Cost per unit, when the catalog knows it.
    pub unit_cost: Option<f64>,
    /// `count × unit_cost`.
    pub total_cost: Option<f64>,
    /// `buy N more of <make> <model>; memory is the limit`.
    pub message: Prose,
}

/// One line of the capacity computation.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceLine {
    /// Which resource.
    pub resource: Resource,
    /// Σ workload demand.
    pub demand: f64,
    /// Each workload's share of `demand`, in demand-file order (the HTML report stacks them).
    pub workloads: Vec<(String, f64)>,
    /// demand × (1 + headroom).
    pub required: f64,
    /// What active, registered nodes provide.
    pub capacity: f64,
    /// required − capacity (negative: surplus).
    pub deficit: f64,
}

/// The buying computation, for the human formats.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityPlan {
    /// Headroom fraction.
    pub headroom: f64,
    /// Active, registered nodes counted as capacity.
    pub active_nodes: usize,
    /// Per resource.
    pub lines: Vec<ResourceLine>,
    /// Catalog entries considered.
    pub catalog: Vec<CatalogEntry>,
    /// Every catalog model that covers the deficit, best first (the first is the recommendation).
    pub options: Vec<Recommendation>,
    /// Why there is no recommendation, when there is none.
    pub note: Option<String>,
}

/// Registered nodes of one make/model.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetRow {
    /// Make as the nodes report it.
    pub make: String,
    /// Model as the nodes report it.
    pub model: String,
    /// Nodes.
    pub count: usize,
    /// Σ physical cores.
    pub cores: u64,
    /// Σ memory, GiB.
    pub memory_gib: u64,
    /// Σ storage, GB.
    pub storage_gb: f64,
}
