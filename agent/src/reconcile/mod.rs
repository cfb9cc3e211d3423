//! `enlist reconcile`: runs in the GitOps repository's CI (SPEC §5) and compares what registered
//! itself (`**/cluster-nodes/*/node.yaml`) with what was bought (the inventory CSV).
//!
//! The shape is a functional core with a thin shell:
//!
//! | step | module | I/O |
//! |---|---|---|
//! | find and check node.yaml files | [`scan`] | reads files |
//! | read the inventory CSV (and the `--inventory-map`) | [`inventory`] | none (bytes in) |
//! | read the demand file, the buying model | [`demand`] | none (text in) |
//! | the matching rule (also for `sync` and `export`) | [`matching`] | none |
//! | match, find gaps and duplicates, plan | [`analyse`] | none |
//! | messages: enlist's words apart from the values quoted from files | [`prose`] | none |
//! | print text / JSON / Markdown / annotations | [`mod@render`] | none (string out) |
//! | the self-contained HTML fleet report | [`html`] | none (string out) |
//!
//! [`reconcile`] ties them together; it is deterministic: the same files give the same report,
//! whatever order the file system lists them in. Usage problems (an unreadable `--nodes` dir,
//! inventory or demand file, an inventory without a serial or mac column, a malformed demand file)
//! are [`ReconcileError`]s; everything wrong *inside* the data is a finding in the [`Report`].

pub mod analyse;
pub mod demand;
pub mod html;
pub mod inventory;
pub mod matching;
pub mod names;
pub mod prose;
pub mod render;
pub mod report;
pub mod scan;

use std::path::{Path, PathBuf};

use crate::input;

pub use inventory::map::InventoryMap;
pub use render::{Format, render};
pub use report::Report;

/// What to reconcile.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root of the GitOps checkout.
    pub nodes: PathBuf,
    /// The inventory CSV.
    pub inventory: PathBuf,
    /// The demand file, for buying recommendations.
    pub demand: Option<PathBuf>,
    /// The `--inventory-map` file (house column names and status words).
    pub inventory_map: Option<PathBuf>,
}

/// Reconcile could not run at all (as opposed to findings, which are in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// `--nodes` cannot be read.
    #[error(
        "cannot read the --nodes directory {}: {source}; pass the root of the GitOps checkout",
        path.display()
    )]
    NodesDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--nodes` is a file.
    #[error("--nodes {} is not a directory; pass the root of the GitOps checkout", path.display())]
    NodesNotDir {
        /// The path.
        path: PathBuf,
    },
    /// The inventory cannot be read.
    #[error("cannot read the inventory {}: {source}; check the --inventory path", path.display())]
    Inventory {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The inventory's header makes matching impossible.
    #[error(
        "{path}: not a usable inventory CSV: {message}; add a serial or mac column to the header \
         (the first line)"
    )]
    InventoryHeader {
        /// The file, as shown.
        path: String,
        /// What is wrong with the header.
        message: String,
    },
    /// The inventory's text cannot be read as a CSV: its encoding or its delimiter.
    #[error("{path}: cannot read the inventory: {message}")]
    InventoryText {
        /// The file, as shown.
        path: String,
        /// What is wrong (naming the encoding, the line, or the delimiters seen) and what to do.
        message: String,
    },
    /// The `--inventory-map` file cannot be read.
    #[error(
        "cannot read the inventory map {}: {source}; check the --inventory-map path",
        path.display()
    )]
    InventoryMapRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--inventory-map` file is malformed, or names a column the inventory lacks.
    #[error(
        "{path}: invalid inventory map: {message}; expected `columns: {{serial: \"S/N\", …}}` \
         (enlist field: header as in the CSV) and `statuses: {{\"in service\": active, …}}` (word: \
         active, spare, broken or retired)"
    )]
    InventoryMap {
        /// The file, as shown.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The demand file cannot be read.
    #[error("cannot read the demand file {}: {source}; check the --demand path", path.display())]
    DemandRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The demand file is malformed.
    #[error(
        "{path}: invalid demand file: {message}; expected `headroom: 0.2`, `workloads: [{{name, \
         cores, memory_gb, storage_gb}}]` and optionally `catalog: [{{make, model, cores, \
         memory_gb, storage_gb, cost}}]`"
    )]
    Demand {
        /// The file, as shown.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ReconcileError {
    /// Stable kind for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ReconcileError::NodesDir { .. } | ReconcileError::NodesNotDir { .. } => "nodes_dir",
            ReconcileError::Inventory { .. } => "inventory",
            ReconcileError::InventoryHeader { .. } => "inventory_header",
            ReconcileError::InventoryText { .. } => "inventory_text",
            ReconcileError::InventoryMapRead { .. } | ReconcileError::InventoryMap { .. } => {
                "inventory_map"
            }
            ReconcileError::DemandRead { .. } | ReconcileError::Demand { .. } => "demand",
        }
    }
}

/// Reads everything `options` names and reconciles it. Input files are read before the scan, so
/// a wrong path fails fast.
pub fn reconcile(options: &Options) -> Result<Report, ReconcileError> {
    let inventory_shown = shown(&options.nodes, &options.inventory);
    let map = options
        .inventory_map
        .as_deref()
        .map(|path| InventoryMap::read(path, &shown(&options.nodes, path)))
        .transpose()?;
    let inventory = inventory::read(&options.inventory, &inventory_shown, map.as_ref())?;
    let demand = match &options.demand {
        None => None,
        Some(path) => {
            let text = input::read_text_capped(path, input::MAX_DEMAND_BYTES, "demand file")
                .map_err(|source| ReconcileError::DemandRead {
                    path: path.clone(),
                    source,
                })?;
            Some(demand::parse(&text, &shown(&options.nodes, path))?)
        }
    };
    log::debug!(
        "inventory {}: {} data rows; demand file: {}",
        options.inventory.display(),
        inventory.data_rows,
        options
            .demand
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
    );
    // One document at a time per core: only its summary is kept (bounded memory at fleet scale).
    let tree = scan::Tree::find(&options.nodes)?;
    log::debug!(
        "{} node.yaml files under {}",
        tree.files(),
        options.nodes.display()
    );
    let mut nodes: Vec<analyse::NodeSummary> = tree.read_parallel(analyse::NodeSummary::from);
    nodes.extend(
        tree.unreadable_directories()
            .iter()
            .map(analyse::NodeSummary::of),
    );
    Ok(analyse::analyse_summaries(
        &nodes,
        &inventory,
        demand.as_ref(),
    ))
}

/// How a file is named in findings: relative to the `--nodes` root when it is inside it (so
/// GitHub annotations point at the right file when `--nodes` is the checkout), else as given.
/// `enlist sync` and `enlist export` name the inventory the same way.
pub(crate) fn shown(root: &Path, file: &Path) -> String {
    if let (Ok(root), Ok(full)) = (root.canonicalize(), file.canonicalize())
        && full.starts_with(&root)
    {
        return scan::relative(&root, &full);
    }
    file.display().to_string()
}
