//! Which inventory column feeds which field: the header row, read as people's tools write it.
//!
//! Header names are compared **case-, space- and punctuation-insensitively** (`Serial number` =
//! `serial_number` = `SERIAL-NUMBER`), against these names by default — enlist's own, and the
//! default export columns of NetBox (the table export's display headers *and* the "all data"
//! CSV's field names) and Snipe-IT's asset export:
//!
//! | field | columns (first non-empty cell wins, in this order) |
//! |---|---|
//! | `serial` | `serial`, `Serial number` (NetBox), `service_tag`, `serial_no` |
//! | `asset_tag` | `asset_tag`, `Asset tag` (NetBox), `Asset Tag` (Snipe-IT) |
//! | `hostname` | `hostname`, `Name` (NetBox), `Asset Name` (Snipe-IT) |
//! | `make` | `make`, `vendor`, `Manufacturer` |
//! | `model` | `model` (Snipe-IT), `device_type` (NetBox all data), `Type` (NetBox table) |
//! | `cores` | `cores`, `cpu_cores` |
//! | `memory_gb` | `memory_gb`, `ram_gb`, `memory`, `ram` |
//! | `storage_gb` | `storage_gb`, `storage` |
//! | `status` | `status` |
//! | `location` | `location`, `Site` (NetBox) |
//! | `mac` | `mac`, `mac_address` |
//! | `cost` | `cost`, `Purchase Cost` (Snipe-IT), `price` |
//!
//! An `--inventory-map` names the column of a field outright (`columns: {serial: "S/N"}`); then
//! that column alone feeds it. Every other column is ignored — and listed as such in the report,
//! next to the column each field came from, so a wrong guess is visible at once.

use std::collections::BTreeMap;

use serde::Serialize;

use super::map::InventoryMap;

/// A field enlist reads from the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Serial number (service tag): the first matching key.
    Serial,
    /// Asset tag.
    AssetTag,
    /// Hostname.
    Hostname,
    /// Make (vendor, manufacturer).
    Make,
    /// Model.
    Model,
    /// Physical cores.
    Cores,
    /// Memory as sold, GB (= GiB).
    MemoryGb,
    /// Storage as sold, GB (decimal).
    StorageGb,
    /// Status word.
    Status,
    /// Location.
    Location,
    /// MAC address(es): the second matching key.
    Mac,
    /// Price.
    Cost,
}

impl Field {
    /// Every field, in report order.
    pub const ALL: [Field; 12] = [
        Field::Serial,
        Field::Mac,
        Field::AssetTag,
        Field::Hostname,
        Field::Make,
        Field::Model,
        Field::Cores,
        Field::MemoryGb,
        Field::StorageGb,
        Field::Status,
        Field::Location,
        Field::Cost,
    ];

    /// The name in the map file, the JSON report and messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Serial => "serial",
            Field::AssetTag => "asset_tag",
            Field::Hostname => "hostname",
            Field::Make => "make",
            Field::Model => "model",
            Field::Cores => "cores",
            Field::MemoryGb => "memory_gb",
            Field::StorageGb => "storage_gb",
            Field::Status => "status",
            Field::Location => "location",
            Field::Mac => "mac",
            Field::Cost => "cost",
        }
    }

    /// Default column names, [normalised](normalise), best first.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Serial => &["serial", "serialnumber", "servicetag", "serialno"],
            Field::AssetTag => &["assettag"],
            Field::Hostname => &["hostname", "name", "assetname"],
            Field::Make => &["make", "vendor", "manufacturer"],
            Field::Model => &["model", "devicetype", "type"],
            Field::Cores => &["cores", "cpucores"],
            Field::MemoryGb => &["memorygb", "ramgb", "memory", "ram"],
            Field::StorageGb => &["storagegb", "storage"],
            Field::Status => &["status"],
            Field::Location => &["location", "site"],
            Field::Mac => &["mac", "macaddress"],
            Field::Cost => &["cost", "purchasecost", "price"],
        }
    }
}

/// How header names (and status words) are compared: lowercase letters and digits only.
pub fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Longest header name shown in messages and reports (a header cell may be up to 64 KiB).
const MAX_NAME_SHOWN: usize = 60;

/// A header name for messages and reports: trimmed, on one line without control or invisible
/// characters (a quoted CSV cell may hold a line break, and these names reach a CI log on stderr),
/// at most [`MAX_NAME_SHOWN`] characters.
pub fn shown_name(name: &str) -> String {
    crate::markdown::one_line_max(name.trim(), MAX_NAME_SHOWN)
}

/// Which columns feed which field, and which are ignored: the `columns` object of the JSON
/// report (and one line or section in the other formats).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ColumnReport {
    /// enlist field → the header names that feed it, best first (fields no column feeds are
    /// absent).
    pub fields: BTreeMap<String, Vec<String>>,
    /// Header names no field reads.
    pub ignored: Vec<String>,
    /// The `--inventory-map` file, as shown, when one was given.
    pub map: Option<String>,
}

impl ColumnReport {
    /// `(field, columns)` in report order ([`Field::ALL`]).
    pub fn in_order(&self) -> Vec<(&'static str, &[String])> {
        Field::ALL
            .iter()
            .filter_map(|f| {
                self.fields
                    .get(f.name())
                    .map(|columns| (f.name(), columns.as_slice()))
            })
            .collect()
    }

    /// One line for humans: `serial ← "Serial number", status ← "Status"; ignored: "Tenant"`.
    pub fn summary(&self) -> String {
        let used: Vec<String> = self
            .in_order()
            .iter()
            .map(|(field, columns)| {
                let columns: Vec<String> = columns.iter().map(|c| format!("{c:?}")).collect();
                format!("{field} ← {}", columns.join(" or "))
            })
            .collect();
        let ignored = if self.ignored.is_empty() {
            "none".to_owned()
        } else {
            let names: Vec<String> = self.ignored.iter().map(|c| format!("{c:?}")).collect();
            names.join(", ")
        };
        format!("{}; ignored: {ignored}", used.join(", "))
    }
}

/// The header, resolved: for each field the column indexes that feed it, best first.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    feeds: Vec<(Field, Vec<usize>)>,
    /// What the report says about it.
    pub report: ColumnReport,
}

impl Columns {
    /// Resolves `names` (the header cells) with the default aliases and `map`. `Err` names a
    /// column the map wants that the header does not have.
    pub fn resolve(names: &[String], map: Option<&InventoryMap>) -> Result<Columns, String> {
        let normalised: Vec<String> = names.iter().map(|n| normalise(n)).collect();
        // Which field each column feeds, once claimed.
        let mut owner: Vec<Option<Field>> = vec![None; names.len()];
        let mut feeds: Vec<(Field, Vec<usize>)> = Vec::new();
        // Explicit columns first: they beat any default guess.
        for field in Field::ALL {
            let Some(wanted) = map.and_then(|m| m.column(field)) else {
                continue;
            };
            let key = normalise(wanted);
            let matching: Vec<usize> = (0..names.len()).filter(|i| normalised[*i] == key).collect();
            let found: Vec<usize> = matching
                .iter()
                .copied()
                .filter(|i| owner[*i].is_none())
                .collect();
            if found.is_empty() {
                // The map names it for an earlier field already: say which.
                if let Some(other) = matching.iter().find_map(|i| owner[*i]) {
                    return Err(format!(
                        "columns.{}: {:?} is already the column of {} (columns.{}): a column \
                         feeds one field; name another column for {}, or leave it out",
                        field.name(),
                        wanted,
                        other.name(),
                        other.name(),
                        field.name()
                    ));
                }
                return Err(format!(
                    "columns.{}: {:?} is not a column of the inventory (its header has: {})",
                    field.name(),
                    wanted,
                    listed(names)
                ));
            }
            for i in &found {
                owner[*i] = Some(field);
            }
            feeds.push((field, found));
        }
        for field in Field::ALL {
            if feeds.iter().any(|(f, _)| *f == field) {
                continue;
            }
            let mut found = Vec::new();
            for alias in field.aliases() {
                for i in 0..names.len() {
                    if owner[i].is_none() && normalised[i] == *alias {
                        owner[i] = Some(field);
                        found.push(i);
                    }
                }
            }
            if !found.is_empty() {
                feeds.push((field, found));
            }
        }
        let report = ColumnReport {
            fields: feeds
                .iter()
                .map(|(field, columns)| {
                    (
                        field.name().to_owned(),
                        columns.iter().map(|i| shown_name(&names[*i])).collect(),
                    )
                })
                .collect(),
            ignored: (0..names.len())
                .filter(|i| owner[*i].is_none() && !names[*i].trim().is_empty())
                .map(|i| shown_name(&names[i]))
                .collect(),
            map: map.map(|m| m.file.clone()),
        };
        Ok(Columns { feeds, report })
    }

    /// Whether some column feeds `field`.
    pub fn has(&self, field: Field) -> bool {
        self.feeds.iter().any(|(f, _)| *f == field)
    }

    /// The column indexes feeding `field`, best first.
    pub fn of(&self, field: Field) -> &[usize] {
        self.feeds
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(&[], |(_, columns)| columns.as_slice())
    }
}

/// The first few header names, for a message.
pub fn listed(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut shown: Vec<String> = names.iter().take(SHOWN).map(|n| shown_name(n)).collect();
    if names.len() > SHOWN {
        shown.push(format!("… {} more", names.len() - SHOWN));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(header: &str) -> Vec<String> {
        header.split(',').map(str::to_owned).collect()
    }

    fn fed(columns: &Columns, field: Field) -> Vec<String> {
        columns
            .report
            .fields
            .get(field.name())
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn names_compare_without_case_space_or_punctuation() {
        assert_eq!(normalise("Serial number"), "serialnumber");
        assert_eq!(normalise(" SERIAL_NUMBER "), "serialnumber");
        assert_eq!(normalise("Mac-Address"), "macaddress");
        assert_eq!(normalise("Model No."), "modelno");
    }

    #[test]
    fn netbox_table_export_headers() {
        let header = names(
            "Name,Status,Tenant,Site,Location,Rack,Position,Role,Manufacturer,Type,Platform,Serial number,Asset tag",
        );
        let columns = Columns::resolve(&header, None).unwrap();
        assert_eq!(fed(&columns, Field::Serial), ["Serial number"]);
        assert_eq!(fed(&columns, Field::Hostname), ["Name"]);
        assert_eq!(fed(&columns, Field::Model), ["Type"]);
        assert_eq!(fed(&columns, Field::Make), ["Manufacturer"]);
        assert_eq!(fed(&columns, Field::AssetTag), ["Asset tag"]);
        // Location before Site, whatever their order in the header.
        assert_eq!(fed(&columns, Field::Location), ["Location", "Site"]);
        assert_eq!(
            columns.report.ignored,
            ["Tenant", "Rack", "Position", "Role", "Platform"]
        );
    }

    #[test]
    fn netbox_all_data_and_snipe_it_headers() {
        let netbox = names(
            "name,status,tenant,site,location,rack,manufacturer,device_type,serial,asset_tag",
        );
        let columns = Columns::resolve(&netbox, None).unwrap();
        assert_eq!(fed(&columns, Field::Model), ["device_type"]);
        assert_eq!(fed(&columns, Field::Serial), ["serial"]);
        let snipe = names(
            "Asset Tag,Asset Name,Serial,Model,Model No.,Category,Manufacturer,Status,Location,Purchase Date,Purchase Cost",
        );
        let columns = Columns::resolve(&snipe, None).unwrap();
        assert_eq!(fed(&columns, Field::Hostname), ["Asset Name"]);
        assert_eq!(fed(&columns, Field::Cost), ["Purchase Cost"]);
        assert_eq!(fed(&columns, Field::Model), ["Model"]);
        assert_eq!(
            columns.report.ignored,
            ["Model No.", "Category", "Purchase Date"]
        );
        assert!(
            columns
                .report
                .summary()
                .starts_with("serial ← \"Serial\", asset_tag ← \"Asset Tag\"")
        );
    }

    #[test]
    fn a_column_mapped_twice_names_the_field_that_has_it() {
        let map = InventoryMap::parse(
            "columns:\n  hostname: Name\n  location: \"NAME\"\n",
            "house.yaml",
        )
        .unwrap();
        let err = Columns::resolve(&names("Serial,Name,Site"), Some(&map)).unwrap_err();
        assert_eq!(
            err,
            "columns.location: \"NAME\" is already the column of hostname (columns.hostname): a \
             column feeds one field; name another column for location, or leave it out"
        );
        // A column the header lacks is still said so.
        let map = InventoryMap::parse("columns:\n  location: Rack\n", "house.yaml").unwrap();
        let err = Columns::resolve(&names("Serial,Name"), Some(&map)).unwrap_err();
        assert!(err.contains("\"Rack\" is not a column"), "{err}");
    }

    #[test]
    fn long_header_names_are_cut_for_display() {
        let long = "x".repeat(1000);
        assert_eq!(shown_name(&long).chars().count(), MAX_NAME_SHOWN + 1);
        assert_eq!(
            shown_name(" S/N\n::error::x\u{202E} "),
            "S/N\u{FFFD}::error::x\u{FFFD}"
        );
        let many: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        assert!(listed(&many).ends_with("c19, … 10 more"));
    }
}
