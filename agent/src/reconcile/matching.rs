//! The matching rule of SPEC §5, once, for `reconcile`, `enlist sync` (`nodes.inventory_key`) and
//! `enlist export` (the join): a node's system serial (trimmed, case-insensitive, firmware
//! placeholders ignored) against the row serials; failing that, the node's NIC MACs in sorted
//! order against the row MACs.
//!
//! Rows are expected de-duplicated ([`super::inventory::parse`] does it), so a serial or MAC names
//! at most one row; should two rows share one anyway, the first by position wins. Several nodes
//! may match one row: that is a duplicate registration, which reconcile reports as such.

use std::collections::HashMap;

use crate::document::NodeDocument;
use crate::identity::{is_placeholder, normalise_mac};

use super::inventory::{InventoryRow, serial_key};

/// How a node found its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedBy {
    /// The system serial.
    Serial,
    /// A NIC's MAC (the node has no usable serial, or no row has it).
    Mac,
}

/// What a node is matched by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeKeys {
    /// The system serial as matched (trimmed, lowercased); `None` when absent or a placeholder.
    pub serial: Option<String>,
    /// NIC MACs, normalised (`aa:bb:cc:dd:ee:ff`), sorted, without repeats.
    pub macs: Vec<String>,
}

impl NodeKeys {
    /// The keys of `doc`.
    pub fn of(doc: &NodeDocument) -> NodeKeys {
        let mut macs: Vec<String> = doc
            .network
            .iter()
            .filter_map(|nic| normalise_mac(&nic.mac))
            .collect();
        macs.sort();
        macs.dedup();
        NodeKeys {
            serial: doc
                .system
                .serial
                .as_deref()
                .filter(|s| !is_placeholder(s))
                .map(serial_key),
            macs,
        }
    }
}

/// Inventory rows indexed by serial and MAC.
pub struct Matcher<'a> {
    by_serial: HashMap<String, usize>,
    by_mac: HashMap<&'a str, usize>,
}

impl<'a> Matcher<'a> {
    /// Indexes `rows`; [`Matcher::find`] returns positions in it.
    pub fn new(rows: &'a [InventoryRow]) -> Matcher<'a> {
        let mut by_serial = HashMap::with_capacity(rows.len());
        let mut by_mac = HashMap::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            if let Some(key) = row.serial_key() {
                by_serial.entry(key).or_insert(index);
            }
            for mac in &row.macs {
                by_mac.entry(mac.as_str()).or_insert(index);
            }
        }
        Matcher { by_serial, by_mac }
    }

    /// The row of a node with `keys`, and how it was found.
    pub fn find(&self, keys: &NodeKeys) -> Option<(usize, MatchedBy)> {
        keys.serial
            .as_ref()
            .and_then(|key| self.by_serial.get(key))
            .map(|&row| (row, MatchedBy::Serial))
            .or_else(|| {
                keys.macs
                    .iter()
                    .find_map(|mac| self.by_mac.get(mac.as_str()))
                    .map(|&row| (row, MatchedBy::Mac))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::inventory;

    fn keys(serial: Option<&str>, macs: &[&str]) -> NodeKeys {
        NodeKeys {
            serial: serial.map(serial_key),
            macs: macs.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn serial_first_then_macs_in_order() {
        let rows = inventory::parse(
            b"serial,mac\nAB1 ,\n,aa:bb:cc:dd:ee:02\n,aa:bb:cc:dd:ee:01\n",
            "inventory.csv",
            None,
        )
        .unwrap()
        .rows;
        let matcher = Matcher::new(&rows);
        assert_eq!(
            matcher.find(&keys(Some(" ab1"), &["aa:bb:cc:dd:ee:01"])),
            Some((0, MatchedBy::Serial))
        );
        // An unknown serial falls back to the MACs, the lowest first.
        assert_eq!(
            matcher.find(&keys(
                Some("zz9"),
                &["aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"]
            )),
            Some((2, MatchedBy::Mac))
        );
        assert_eq!(matcher.find(&keys(None, &["aa:bb:cc:dd:ee:ff"])), None);
    }
}
