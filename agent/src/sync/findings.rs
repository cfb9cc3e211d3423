//! Reconcile's findings as `findings` rows, and the run's counts.
//!
//! Each entry of the report's lists becomes one row: `kind` (singular: `missing_registration`,
//! `phantom_node`, `mismatch`, `duplicate`, `invalid`, `recommendation`), `ordinal` (its position
//! in reconcile's sorted list), a short `key` to find it by, and `detail`, the entry exactly as
//! `enlist reconcile --format json` prints it. So `SELECT detail FROM findings WHERE run_id = …
//! AND kind = 'mismatch' ORDER BY ordinal` is the JSON report's `mismatches` array.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::reconcile::inventory::serial_key;
use crate::reconcile::report::Report;

/// One `findings` row (without the run id).
#[derive(Clone, Debug, PartialEq)]
pub struct FindingRow {
    /// Singular kind.
    pub kind: &'static str,
    /// Position in reconcile's list.
    pub ordinal: i32,
    /// Short lookup key (serial, path, path#field, …).
    pub key: String,
    /// The entry as reconcile's JSON prints it.
    pub detail: Value,
}

/// The finding kinds (`findings.kind`), in report order.
pub const KINDS: [&str; 6] = [
    "missing_registration",
    "phantom_node",
    "mismatch",
    "duplicate",
    "invalid",
    "recommendation",
];

/// Every finding of `report`, list by list.
pub fn rows(report: &Report) -> Vec<FindingRow> {
    let mut out = Vec::new();
    let mut push = |kind: &'static str, index: usize, key: String, detail: Value| {
        out.push(FindingRow {
            kind,
            ordinal: i32::try_from(index).unwrap_or(i32::MAX),
            key,
            detail,
        });
    };
    for (i, m) in report.missing_registration.iter().enumerate() {
        let key = m
            .serial
            .as_deref()
            .map(|s| format!("serial:{}", serial_key(s)))
            .or_else(|| m.macs.first().map(|mac| format!("mac:{mac}")))
            .unwrap_or_else(|| format!("{}:{}", m.file, m.line));
        push("missing_registration", i, key, to_value(m));
    }
    for (i, p) in report.phantom_nodes.iter().enumerate() {
        push("phantom_node", i, p.path.clone(), to_value(p));
    }
    for (i, m) in report.mismatches.iter().enumerate() {
        let key = format!("{}#{}", m.path, m.field.as_str());
        push("mismatch", i, key, to_value(m));
    }
    for (i, d) in report.duplicates.iter().enumerate() {
        push("duplicate", i, d.paths.join(","), to_value(d));
    }
    for (i, v) in report.invalid.iter().enumerate() {
        let line = v.line.map(|l| format!(":{l}")).unwrap_or_default();
        push("invalid", i, format!("{}{line}", v.file), to_value(v));
    }
    for (i, r) in report.recommendations.iter().enumerate() {
        push(
            "recommendation",
            i,
            format!("{} {}", r.make, r.model),
            to_value(r),
        );
    }
    out
}

fn to_value(item: &impl Serialize) -> Value {
    // Report entries are plain data with string keys: serializing them cannot fail.
    serde_json::to_value(item).unwrap_or(Value::Null)
}

/// What a run counted, stored in `sync_runs.counts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// node.yaml files reconcile looked at (valid or not): its `nodes`.
    pub nodes: usize,
    /// Inventory data rows: reconcile's `inventory`.
    pub inventory: usize,
    /// `nodes` rows written.
    pub node_rows: usize,
    /// Of which valid.
    pub valid_nodes: usize,
    /// `inventory_items` rows written.
    pub inventory_items: usize,
    /// Findings per kind (every kind present, zero included).
    pub findings: BTreeMap<&'static str, usize>,
    /// Node rows that were new or changed (the rest only had `last_seen_*` set).
    pub node_rows_written: usize,
    /// Inventory items that were new or changed.
    pub inventory_items_written: usize,
}

impl Counts {
    /// Counts from the report and the rows written.
    pub fn new(report: &Report, node_rows: usize, valid_nodes: usize, items: usize) -> Counts {
        let mut findings: BTreeMap<&'static str, usize> =
            KINDS.iter().map(|kind| (*kind, 0)).collect();
        for row in rows(report) {
            *findings.entry(row.kind).or_default() += 1;
        }
        Counts {
            nodes: report.nodes,
            inventory: report.inventory,
            node_rows,
            valid_nodes,
            inventory_items: items,
            findings,
            node_rows_written: 0,
            inventory_items_written: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::report::{Invalid, InvalidKind, PhantomNode};

    #[test]
    fn ordinals_follow_the_report_and_detail_is_its_json() {
        let report = Report {
            phantom_nodes: vec![
                PhantomNode {
                    node_id: "node-a".into(),
                    path: "cluster-nodes/node-a/node.yaml".into(),
                    hostname: "a".into(),
                    serial: None,
                    make: None,
                    model: None,
                    hint: "h".into(),
                    line: Some(3),
                };
                2
            ],
            invalid: vec![Invalid {
                file: "inventory.csv".into(),
                line: Some(7),
                kind: InvalidKind::InventoryRow,
                message: "m".into(),
                hint: "h".into(),
            }],
            ..Report::default()
        };
        let rows = rows(&report);
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[1].kind, rows[1].ordinal), ("phantom_node", 1));
        assert_eq!(rows[2].key, "inventory.csv:7");
        assert_eq!(
            rows[0].detail,
            serde_json::to_value(&report.phantom_nodes[0]).unwrap()
        );
        assert!(rows[0].detail.get("line").is_none(), "skip fields stay out");
        let counts = Counts::new(&report, 2, 2, 0);
        assert_eq!(counts.findings["phantom_node"], 2);
        assert_eq!(counts.findings["mismatch"], 0);
    }
}
