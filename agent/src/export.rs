//! `enlist export`: the registry as one flat table, CSV or JSON lines, for DuckDB and
//! spreadsheets — the same path operators already take with the inventory CSV, without a database;
//! or as Nix for the GitOps flake ([`nix`]: `--format nix`, `--check FILE`); or as an age
//! recipients file for the fleet's secrets ([`age`]: `--format age-recipients`, `--check FILE`).
//!
//! One record per node.yaml (valid or not, sorted by path), joined with its inventory row by
//! reconcile's matching rule; with `--inventory`, then one record per inventory row no node matched
//! (by line), with `registered = false`. Both formats have the same columns ([`COLUMNS`]; CSV in
//! that order, JSON objects with sorted keys); JSON lines keep numbers, booleans and nulls typed
//! and `macs` as an array, CSV writes empty cells for nulls and joins `macs` with spaces. The rows
//! come from the same [`Checkout`] as `enlist sync`, so the export and the database agree.
//!
//! **Streaming** (issue 16): files are read one at a time and each record is written as soon as
//! it is made, so exporting 100,000 registrations holds one document, the inventory and a bit per
//! inventory row (matched or not), never the whole table. [`for_each_record`] is the per-node model
//! any output format builds on: a node row, its inventory row, or an inventory row alone.
//!
//! ```sh
//! enlist export --nodes . --inventory inventory.csv --format jsonl > nodes.jsonl
//! duckdb -c "select model, count(*), sum(cores) from read_json_auto('nodes.jsonl') \
//!            where registered group by model"
//! ```

use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::reconcile::ReconcileError;
use crate::sync::snapshot::{Checkout, ItemRow, NodeRow};

pub mod age;
pub mod nix;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One Nix attribute set of the valid registrations, by node id ([`nix`]).
    Nix,
    /// An age recipients file: one `age1…` per registered node with an ed25519 host key
    /// ([`age`]).
    AgeRecipients,
}

/// What to export.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root of the GitOps checkout.
    pub nodes: PathBuf,
    /// The inventory CSV, to join.
    pub inventory: Option<PathBuf>,
    /// The `--inventory-map` file.
    pub inventory_map: Option<PathBuf>,
    /// Output format.
    pub format: Format,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// `--nodes` or `--inventory` is unusable.
    #[error(transparent)]
    Input(#[from] ReconcileError),
    /// The output could not be written.
    #[error("cannot write the export: {0}; check that the output file or pipe is writable")]
    Output(#[from] io::Error),
    /// The file `--check` names could not be read.
    #[error(
        "{path}: cannot read the file to check: {source}; generate it first with `enlist export --format nix` (or `age-recipients`)"
    )]
    Check {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
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

/// Reads the checkout and writes it to `out`, record by record.
pub fn export(options: &Options, out: &mut dyn Write) -> Result<(), ExportError> {
    let checkout = open(options)?;
    match options.format {
        Format::Nix => return Ok(nix::write(&checkout, options.inventory.is_some(), out)?),
        Format::AgeRecipients => return Ok(age::write(&checkout, out)?),
        Format::Csv | Format::Jsonl => {}
    }
    let mut writer = Writer::new(options.format, out)?;
    for_each_record(&checkout, |node, item| writer.write(&record(node, item)))?;
    writer.finish()?;
    Ok(())
}

/// `--check FILE` (Nix and age recipients): how the committed file compares with what would be
/// written.
pub fn check(options: &Options, file: &std::path::Path) -> Result<nix::Check, ExportError> {
    let checkout = open(options)?;
    let checked = match options.format {
        Format::AgeRecipients => age::check(&checkout, file),
        _ => nix::check(&checkout, options.inventory.is_some(), file),
    };
    checked.map_err(|source| ExportError::Check {
        path: file.to_path_buf(),
        source,
    })
}

fn open(options: &Options) -> Result<Checkout, ReconcileError> {
    // An export has no selection to name: the source is never stored or compared.
    Checkout::open(
        &options.nodes,
        options.inventory.as_deref(),
        options.inventory_map.as_deref(),
        &[],
        Some("export"),
    )
}

/// Calls `f` once per record, in export order: every node.yaml file (valid or not, by path) with
/// its inventory row, then every inventory row no node matched (by line), without a node.
pub fn for_each_record(
    checkout: &Checkout,
    mut f: impl FnMut(Option<&NodeRow>, Option<&ItemRow>) -> io::Result<()>,
) -> io::Result<()> {
    let matcher = checkout.matcher();
    let mut matched = vec![false; checkout.inventory.rows.len()];
    for node in checkout.read() {
        let (row, index) = checkout.node_row(&node, &matcher);
        drop(node);
        let item = index.and_then(|i| {
            matched[i] = true;
            checkout.item_row(i)
        });
        f(Some(&row), item.as_ref())?;
    }
    let mut unmatched: Vec<(u64, usize)> = matched
        .iter()
        .enumerate()
        .filter(|(_, m)| !**m)
        .map(|(i, _)| (checkout.inventory.rows[i].line, i))
        .collect();
    unmatched.sort_unstable();
    for (_, i) in unmatched {
        if let Some(item) = checkout.item_row(i) {
            f(None, Some(&item))?;
        }
    }
    Ok(())
}

/// One JSON object per record, with every key of [`COLUMNS`] (every file read at once: small
/// trees and tests).
pub fn records(checkout: &Checkout) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    // Collecting into a Vec cannot fail.
    let _ = for_each_record(checkout, |node, item| {
        out.push(record(node, item));
        Ok(())
    });
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

/// Writes records as CSV or JSON lines, one at a time.
struct Writer<'a> {
    format: Format,
    out: io::BufWriter<&'a mut dyn Write>,
    line: Vec<u8>,
}

impl<'a> Writer<'a> {
    fn new(format: Format, out: &'a mut dyn Write) -> io::Result<Writer<'a>> {
        let mut writer = Writer {
            format,
            out: io::BufWriter::with_capacity(64 * 1024, out),
            line: Vec::new(),
        };
        if format == Format::Csv {
            writer.csv_row(COLUMNS.iter().map(|c| (*c).to_owned()))?;
        }
        Ok(writer)
    }

    fn write(&mut self, record: &Map<String, Value>) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, record)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => self.csv_row(
                COLUMNS
                    .iter()
                    .map(|k| cell(record.get(*k).unwrap_or(&Value::Null))),
            ),
            // Written whole by `export` (see [`nix`], [`age`]).
            Format::Nix | Format::AgeRecipients => Err(io::Error::other(
                "the Nix fleet and the recipients file are not written record by record",
            )),
        }
    }

    fn csv_row(&mut self, cells: impl Iterator<Item = String>) -> io::Result<()> {
        self.line.clear();
        {
            let mut csv = csv::Writer::from_writer(&mut self.line);
            csv.write_record(cells).map_err(io::Error::other)?;
            csv.flush()?;
        }
        self.out.write_all(&self.line)
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Renders records as CSV or JSON lines.
pub fn render(records: &[Map<String, Value>], format: Format) -> String {
    let mut out = Vec::new();
    let written = Writer::new(format, &mut out).and_then(|mut writer| {
        records.iter().try_for_each(|r| writer.write(r))?;
        writer.finish()
    });
    // Writing to a Vec cannot fail.
    debug_assert!(written.is_ok());
    String::from_utf8_lossy(&out).into_owned()
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
