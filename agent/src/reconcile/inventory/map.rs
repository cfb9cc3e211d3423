//! `--inventory-map FILE`: a house vocabulary, for `reconcile`, `sync` and `export`.
//!
//! ```yaml
//! # Which column holds which field (enlist field: header as written in the CSV).
//! columns:
//!   serial: "S/N"
//!   status: "State"
//!   memory_gb: "RAM (GB)"
//! # Status words of your own (matched case- and punctuation-insensitively).
//! statuses:
//!   "in service": active
//!   "on the shelf": spare
//!   RMA: broken
//!   "sold": retired
//! # The file's encoding, when it is not UTF-8 or UTF-16 with a byte order mark.
//! encoding: windows-1252
//! ```
//!
//! A mapped column is the only one that feeds its field; a mapped word beats the default
//! NetBox/Snipe-IT vocabulary. The file is read like every YAML input ([`crate::input::yaml`],
//! at most [`crate::input::MAX_CONFIG_BYTES`]). A missing or malformed file, an unknown key, a
//! status that is not one of `active`, `spare`, `broken`, `retired` — each is a usage error (exit
//! 64) naming the file and the key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Status;
use super::header::{Field, normalise};
use crate::input;
use crate::reconcile::ReconcileError;

/// A parsed map file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InventoryMap {
    /// The file, as shown in messages and the report.
    pub file: String,
    columns: BTreeMap<Field, String>,
    /// Normalised word → status.
    statuses: BTreeMap<String, Status>,
    /// `encoding:` — the inventory's encoding when it is not UTF-8 (e.g. `windows-1252`).
    encoding: Option<&'static encoding_rs::Encoding>,
}

/// The file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    columns: ColumnsFile,
    #[serde(default)]
    statuses: BTreeMap<String, Status>,
    #[serde(default)]
    encoding: Option<String>,
}

/// `columns:`; one key per [`Field`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnsFile {
    serial: Option<String>,
    asset_tag: Option<String>,
    hostname: Option<String>,
    make: Option<String>,
    model: Option<String>,
    cores: Option<String>,
    memory_gb: Option<String>,
    storage_gb: Option<String>,
    status: Option<String>,
    location: Option<String>,
    mac: Option<String>,
    cost: Option<String>,
}

impl ColumnsFile {
    fn get(&self, field: Field) -> Option<&String> {
        match field {
            Field::Serial => self.serial.as_ref(),
            Field::AssetTag => self.asset_tag.as_ref(),
            Field::Hostname => self.hostname.as_ref(),
            Field::Make => self.make.as_ref(),
            Field::Model => self.model.as_ref(),
            Field::Cores => self.cores.as_ref(),
            Field::MemoryGb => self.memory_gb.as_ref(),
            Field::StorageGb => self.storage_gb.as_ref(),
            Field::Status => self.status.as_ref(),
            Field::Location => self.location.as_ref(),
            Field::Mac => self.mac.as_ref(),
            Field::Cost => self.cost.as_ref(),
        }
    }
}

impl InventoryMap {
    /// Reads and checks the map at `path`; `shown` names it.
    pub fn read(path: &Path, shown: &str) -> Result<InventoryMap, ReconcileError> {
        let text = input::read_text_capped(path, input::MAX_CONFIG_BYTES, "inventory map")
            .map_err(|source| ReconcileError::InventoryMapRead {
                path: path.to_path_buf(),
                source,
            })?;
        InventoryMap::parse(&text, shown)
    }

    /// Parses map text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<InventoryMap, ReconcileError> {
        let invalid = |message: String| ReconcileError::InventoryMap {
            path: file.to_owned(),
            message,
        };
        if text.trim().is_empty() {
            return Err(invalid(
                "the file is empty; it needs `columns:`, `statuses:` or `encoding:`".into(),
            ));
        }
        let parsed: MapFile = input::yaml::from_str(text, input::MAX_CONFIG_BYTES)
            .map_err(|e| invalid(e.to_string()))?;
        let mut columns = BTreeMap::new();
        for field in Field::ALL {
            if let Some(header) = parsed.columns.get(field) {
                if normalise(header).is_empty() {
                    return Err(invalid(format!(
                        "columns.{}: {header:?} names no column; write the header as it is in the \
                         CSV's first line",
                        field.name()
                    )));
                }
                columns.insert(field, header.clone());
            }
        }
        let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
        for (word, status) in parsed.statuses {
            let key = normalise(&word);
            if key.is_empty() {
                return Err(invalid(format!(
                    "statuses: {word:?} has no letter or digit; map the word as the inventory \
                     writes it"
                )));
            }
            if let Some(earlier) = statuses.insert(key, status)
                && earlier != status
            {
                return Err(invalid(format!(
                    "statuses.{word}: the same word (ignoring case and punctuation) is mapped to \
                     both {} and {}",
                    earlier.as_str(),
                    status.as_str()
                )));
            }
        }
        let encoding = match &parsed.encoding {
            None => None,
            Some(label) => Some(super::text::encoding(label).ok_or_else(|| {
                invalid(format!(
                    "encoding: {label:?} is not an encoding enlist knows; name it as the WHATWG \
                     Encoding Standard does: windows-1252, iso-8859-15, utf-16le, shift_jis, …"
                ))
            })?),
        };
        Ok(InventoryMap {
            file: file.to_owned(),
            columns,
            statuses,
            encoding,
        })
    }

    /// The header the map names for `field`.
    pub fn column(&self, field: Field) -> Option<&str> {
        self.columns.get(&field).map(String::as_str)
    }

    /// The inventory's encoding, when the map names one.
    pub fn encoding(&self) -> Option<&'static encoding_rs::Encoding> {
        self.encoding
    }

    /// The status the map gives a [normalised](normalise) word.
    pub fn status(&self, normalised: &str) -> Option<Status> {
        self.statuses.get(normalised).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_words() {
        let map = InventoryMap::parse(
            "columns:\n  serial: S/N\n  status: State\nstatuses:\n  In Service: active\n  RMA: broken\n",
            "map.yaml",
        )
        .unwrap();
        assert_eq!(map.column(Field::Serial), Some("S/N"));
        assert_eq!(map.column(Field::Model), None);
        assert_eq!(map.status("inservice"), Some(Status::Active));
        assert_eq!(map.status("rma"), Some(Status::Broken));
        assert_eq!(map.encoding(), None);
        let map = InventoryMap::parse("encoding: Latin1\n", "map.yaml").unwrap();
        assert_eq!(map.encoding(), Some(encoding_rs::WINDOWS_1252));
    }

    #[test]
    fn unknown_keys_and_statuses_name_the_file_and_key() {
        for (text, needle) in [
            ("colums:\n  serial: x\n", "colums"),
            ("columns:\n  serail: x\n", "serail"),
            ("statuses:\n  RMA: borken\n", "borken"),
            ("statuses:\n  RMA: broken\n  rma: spare\n", "statuses.rma"),
            ("columns:\n  serial: \"--\"\n", "columns.serial"),
            ("columns: [serial]\n", "columns"),
            ("", "empty"),
            ("encoding: klingon\n", "encoding: \"klingon\""),
            (
                "columns: {serial: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n",
                "nested more than 64",
            ),
        ] {
            let err = InventoryMap::parse(text, "maps/house.yaml").unwrap_err();
            let message = err.to_string();
            assert!(message.contains("maps/house.yaml"), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
            assert_eq!(err.kind(), "inventory_map");
        }
    }
}
