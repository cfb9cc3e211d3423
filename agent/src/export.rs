//! `enlist export`: the registry as one flat table, CSV or JSON lines, for DuckDB and
//! spreadsheets — the same path operators already take with the inventory CSV, without a database.
//!
//! One record per node.yaml (valid or not, sorted by path), joined with its inventory row by
//! reconcile's matching rule; with `--inventory`, then one record per inventory row no node matched
//! (by line), with `registered = false`. Both formats have the same columns ([`COLUMNS`]; CSV in
//! that order, JSON objects with sorted keys); JSON lines keep numbers, booleans and nulls typed
//! and `macs` as an array, CSV writes empty cells for nulls and joins `macs` with spaces. The rows come from the same
//! [`Checkout`] as `enlist sync`, so the export and the database agree.
//!
//! ```sh
//! enlist export --nodes . --inventory inventory.csv --format jsonl > nodes.jsonl
//! duckdb -c "select model, count(*), sum(cores) from read_json_auto('nodes.jsonl') \
//!            where registered group by model"
//! ```

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::reconcile::ReconcileError;
use crate::sync::snapshot::{Checkout, ItemRow, NodeRow};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// What to export.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root of the GitOps checkout.
    pub nodes: PathBuf,
    /// The inventory CSV, to join.
    pub inventory: Option<PathBuf>,
    /// Output format.
    pub format: Format,
}

/// The columns, in order.
pub const COLUMNS: [&str; 30] = [
    "node_id",
    "path",
    "operator",
    "hostname",
    "serial",
    "vendor",
    "model",
    "cpu_model",
    "cores",
    "threads",
    "memory_bytes",
    "memory_gib",
    "storage_bytes",
    "disks",
    "macs",
    "gpus",
    "facts_hash",
    "valid",
    "registered",
    "in_inventory",
    "inventory_line",
    "inventory_status",
    "asset_tag",
    "location",
    "inventory_hostname",
    "inventory_make",
    "inventory_model",
    "inventory_cores",
    "inventory_memory_gb",
    "cost",
];

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Reads the checkout and renders it.
pub fn export(options: &Options) -> Result<String, ReconcileError> {
    let checkout = Checkout::read(&options.nodes, options.inventory.as_deref(), &[])?;
    Ok(render(&records(&checkout), options.format))
}

/// One JSON object per record, with every key of [`COLUMNS`].
pub fn records(checkout: &Checkout) -> Vec<Map<String, Value>> {
    let (nodes, unmatched) = checkout.joined();
    let mut out: Vec<Map<String, Value>> = nodes
        .iter()
        .map(|(node, item)| record(Some(node), item.as_ref()))
        .collect();
    out.extend(unmatched.iter().map(|item| record(None, Some(item))));
    out
}

fn record(node: Option<&NodeRow>, item: Option<&ItemRow>) -> Map<String, Value> {
    let n = |f: fn(&NodeRow) -> Value| node.map_or(Value::Null, f);
    let i = |f: fn(&ItemRow) -> Value| item.map_or(Value::Null, f);
    let values = [
        n(|r| json!(r.node_id)),
        n(|r| json!(r.path)),
        n(|r| json!(r.operator)),
        n(|r| json!(r.hostname)),
        // The node's serial, else the inventory's (an unregistered row has only that).
        node.and_then(|r| r.serial.clone())
            .or_else(|| item.and_then(|r| r.serial.clone()))
            .map_or(Value::Null, Value::String),
        n(|r| json!(r.vendor)),
        n(|r| json!(r.model)),
        n(|r| json!(r.cpu_model)),
        n(|r| json!(r.cores)),
        n(|r| json!(r.threads)),
        n(|r| json!(r.memory_bytes)),
        n(|r| json!(r.memory_bytes.map(|b| b as f64 / GIB))),
        n(|r| json!(r.storage_bytes)),
        n(|r| json!(r.disks)),
        match node {
            Some(r) => json!(r.macs),
            None => i(|r| json!(r.macs)),
        },
        n(|r| json!(r.gpus)),
        n(|r| json!(r.facts_hash)),
        n(|r| json!(r.valid)),
        json!(node.is_some()),
        json!(item.is_some()),
        i(|r| json!(r.line)),
        i(|r| json!(r.status)),
        i(|r| json!(r.asset_tag)),
        i(|r| json!(r.location)),
        i(|r| json!(r.hostname)),
        i(|r| json!(r.make)),
        i(|r| json!(r.model)),
        i(|r| json!(r.cores)),
        i(|r| json!(r.memory_gb)),
        i(|r| json!(r.cost)),
    ];
    COLUMNS
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), v))
        .collect()
}

/// Renders records as CSV or JSON lines.
pub fn render(records: &[Map<String, Value>], format: Format) -> String {
    match format {
        Format::Jsonl => {
            let mut out = String::new();
            for r in records {
                out.push_str(&Value::Object(r.clone()).to_string());
                out.push('\n');
            }
            out
        }
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            // Writing to a Vec cannot fail.
            let _ = writer.write_record(COLUMNS);
            for r in records {
                let cells: Vec<String> = COLUMNS
                    .iter()
                    .map(|k| cell(r.get(*k).unwrap_or(&Value::Null)))
                    .collect();
                let _ = writer.write_record(&cells);
            }
            String::from_utf8_lossy(&writer.into_inner().unwrap_or_default()).into_owned()
        }
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_jsonl_have_the_same_columns() {
        let mut record = Map::new();
        for k in COLUMNS {
            record.insert(k.to_owned(), Value::Null);
        }
        record.insert(
            "macs".into(),
            json!(["aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:00"]),
        );
        record.insert("registered".into(), json!(true));
        record.insert("location".into(), json!("Rack 4, U12"));
        let csv = render(&[record.clone()], Format::Csv);
        let mut lines = csv.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        let row = lines.next().unwrap();
        assert!(
            row.contains(",aa:bb:cc:dd:ee:ff aa:bb:cc:dd:ee:00,"),
            "{row}"
        );
        assert!(row.contains(",\"Rack 4, U12\","), "{row}");
        let jsonl = render(&[record], Format::Jsonl);
        let parsed: Map<String, Value> = serde_json::from_str(jsonl.trim()).unwrap();
        assert_eq!(parsed.keys().count(), COLUMNS.len());
        assert_eq!(parsed["registered"], json!(true));
    }
}
