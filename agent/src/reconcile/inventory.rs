//! The hardware inventory CSV: what the operator bought, as a spreadsheet exports it.
//!
//! Header names are matched case-insensitively after trimming, with spaces and `-` read as `_`
//! (`Service Tag` = `service_tag`), through the aliases of SPEC §5:
//! `serial`|`serial_number`|`service_tag`, `asset_tag`, `hostname`, `make`|`vendor`|`manufacturer`,
//! `model`, `cores`, `memory_gb`|`ram_gb`, `storage_gb`, `status`, `location`, `mac`|`mac_address`,
//! `cost`. Unknown columns are ignored. When two columns mean the same thing (`serial` and
//! `service_tag`), the first non-empty one in header order wins.
//!
//! Spreadsheet habits are accepted: a UTF-8 byte-order mark, CRLF line ends, quoted fields
//! (with commas, quotes and newlines inside), blank lines, rows that are all empty cells (skipped,
//! not counted), rows shorter than the header (missing cells are empty), numbers with thousands
//! separators (`"1,536"`), and a currency sign on `cost`. `status` defaults to `active`. A `mac`
//! cell may hold several MACs separated by spaces, `;`, `|` or `,`.
//!
//! A bad row is one `invalid` entry with its line number; the other rows are still read: a row
//! with more cells than the header (empty trailing cells, as `A1,Dell,` under `serial,make`, are
//! fine), a cell holding a NUL byte (not text; no database column takes it), a number above
//! [`MAX_AMOUNT`], a row repeating an earlier row's serial or MAC ([`dedupe`]). Only a file that
//! cannot be an inventory at all (no `serial` and no `mac` column) is an error.

use serde::Serialize;

use crate::identity::{is_placeholder, normalise_mac};

use super::ReconcileError;
use super::demand::MAX_AMOUNT;
use super::report::{Invalid, InvalidKind};

/// Inventory status of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In service: expected to be registered, counted as capacity.
    Active,
    /// Bought but not in service (on the shelf or a cold standby).
    Spare,
    /// Gone for good.
    Retired,
    /// Out of service until repaired.
    Broken,
}

impl Status {
    /// The CSV/JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Spare => "spare",
            Status::Retired => "retired",
            Status::Broken => "broken",
        }
    }

    fn parse(raw: &str) -> Option<Status> {
        match raw.trim().to_lowercase().as_str() {
            "" | "active" => Some(Status::Active),
            "spare" => Some(Status::Spare),
            "retired" => Some(Status::Retired),
            "broken" => Some(Status::Broken),
            _ => None,
        }
    }
}

/// One usable inventory row.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryRow {
    /// Line the row starts on (1-based, the header is line 1 or later).
    pub line: u64,
    /// Serial as written (trimmed); `None` when empty or a placeholder (`N/A`).
    pub serial: Option<String>,
    /// MACs, normalised (`aa:bb:cc:dd:ee:ff`).
    pub macs: Vec<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Make (vendor).
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Physical cores.
    pub cores: Option<u32>,
    /// Memory as sold, GB (= GiB: RAM is sold in binary units).
    pub memory_gb: Option<f64>,
    /// Storage as sold, GB (decimal).
    pub storage_gb: Option<f64>,
    /// Status (`active` when the cell is empty).
    pub status: Status,
    /// Location.
    pub location: Option<String>,
    /// Price.
    pub cost: Option<f64>,
}

impl InventoryRow {
    /// The serial as matched: trimmed and lowercased.
    pub fn serial_key(&self) -> Option<String> {
        self.serial.as_deref().map(serial_key)
    }
}

/// How serials are compared: trimmed, case-insensitive.
pub fn serial_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// A parsed inventory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    /// The file, as shown in findings.
    pub file: String,
    /// Usable rows, in file order, each machine once (see [`dedupe`]).
    pub rows: Vec<InventoryRow>,
    /// Rows that could not be used, duplicates included, by line.
    pub invalid: Vec<Invalid>,
    /// Data rows read (usable or not).
    pub data_rows: usize,
}

/// What a header cell means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Serial,
    AssetTag,
    Hostname,
    Make,
    Model,
    Cores,
    MemoryGb,
    StorageGb,
    Status,
    Location,
    Mac,
    Cost,
}

const COLUMNS: &[(&str, Column)] = &[
    ("serial", Column::Serial),
    ("serial_number", Column::Serial),
    ("service_tag", Column::Serial),
    ("asset_tag", Column::AssetTag),
    ("hostname", Column::Hostname),
    ("make", Column::Make),
    ("vendor", Column::Make),
    ("manufacturer", Column::Make),
    ("model", Column::Model),
    ("cores", Column::Cores),
    ("memory_gb", Column::MemoryGb),
    ("ram_gb", Column::MemoryGb),
    ("storage_gb", Column::StorageGb),
    ("status", Column::Status),
    ("location", Column::Location),
    ("mac", Column::Mac),
    ("mac_address", Column::Mac),
    ("cost", Column::Cost),
];

fn column(header: &str) -> Option<Column> {
    let name: String = header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    COLUMNS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Parses the inventory and drops repeated machines ([`dedupe`]); `file` names it in findings and
/// errors.
pub fn parse(bytes: &[u8], file: &str) -> Result<Inventory, ReconcileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut inventory = Inventory {
        file: file.to_owned(),
        ..Inventory::default()
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut header: Option<Vec<Option<Column>>> = None;
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let start = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // Reading from memory, the only errors are malformed records: report, go on.
                inventory.data_rows += 1;
                let line = lines.line_at(bytes, start);
                inventory
                    .invalid
                    .push(row_problem(file, line, format!("unreadable row: {e}")));
                continue;
            }
        }
        // csv's own line numbers count from where the reader stood (before blank lines, and
        // CRLF confuses them); count newlines up to the record's first byte instead.
        let start = record.position().map_or(start, csv::Position::byte);
        let line = lines.line_at(bytes, start);
        if record
            .iter()
            .all(|field| field.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        let Some(columns) = &header else {
            header = Some(read_header(&record, file)?);
            continue;
        };
        inventory.data_rows += 1;
        match read_row(&record, columns, line) {
            Ok(row) => inventory.rows.push(row),
            Err(message) => inventory.invalid.push(row_problem(file, line, message)),
        }
    }
    let duplicates = dedupe(&mut inventory.rows, file);
    inventory.invalid.extend(duplicates);
    inventory.invalid.sort_by_key(|i| i.line);
    Ok(inventory)
}

/// Line numbers from byte offsets, counting incrementally (offsets only grow).
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: u64,
}

impl LineCounter {
    /// The 1-based line of the first content byte at or after `offset` (blank lines skipped).
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let mut target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while target < bytes.len() && matches!(bytes[target], b'\r' | b'\n') {
            target += 1;
        }
        if target >= self.offset {
            self.newlines += bytes[self.offset..target]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = target;
        }
        self.newlines + 1
    }
}

fn row_problem(file: &str, line: u64, message: String) -> Invalid {
    Invalid {
        file: file.to_owned(),
        line: Some(line),
        kind: InvalidKind::InventoryRow,
        message,
        hint: "fix this row of the inventory; the other rows were still checked".to_owned(),
    }
}

fn read_header(
    record: &csv::ByteRecord,
    file: &str,
) -> Result<Vec<Option<Column>>, ReconcileError> {
    let names: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    let columns: Vec<Option<Column>> = names.iter().map(|n| column(n)).collect();
    let has = |c: Column| columns.contains(&Some(c));
    if !has(Column::Serial) && !has(Column::Mac) {
        return Err(ReconcileError::InventoryHeader {
            path: file.to_owned(),
            message: format!(
                "no serial column (serial, serial_number or service_tag) and no mac column; \
                 the header has: {}",
                names.join(", ")
            ),
        });
    }
    Ok(columns)
}

fn read_row(
    record: &csv::ByteRecord,
    columns: &[Option<Column>],
    line: u64,
) -> Result<InventoryRow, String> {
    // PostgreSQL refuses NUL in text (SQLSTATE 22021): a row with one is not data enlist can keep.
    if let Some(index) = record.iter().position(|field| field.contains(&0)) {
        return Err(format!(
            "cell {} contains a NUL byte: save the inventory as a plain-text UTF-8 CSV",
            index + 1
        ));
    }
    // Spreadsheets write trailing separators (`A1,Dell,`): only values past the header count.
    let beyond = record
        .iter()
        .skip(columns.len())
        .any(|field| !field.iter().all(u8::is_ascii_whitespace));
    if beyond {
        return Err(format!(
            "{} cells but the header has {}: quote values that contain a comma",
            record.len(),
            columns.len()
        ));
    }
    let mut cells: Vec<(Column, &str)> = Vec::new();
    for (index, field) in record.iter().enumerate() {
        let Some(Some(column)) = columns.get(index) else {
            continue;
        };
        let text = std::str::from_utf8(field).map_err(|_| {
            format!(
                "cell {} is not UTF-8: save the inventory as UTF-8 CSV",
                index + 1
            )
        })?;
        cells.push((*column, text.trim()));
    }
    // First non-empty cell in header order, for columns that appear more than once.
    let get = |wanted: Column| -> Option<&str> {
        cells
            .iter()
            .find(|(c, v)| *c == wanted && !v.is_empty())
            .map(|(_, v)| *v)
    };
    let text = |wanted: Column| get(wanted).map(str::to_owned);
    let serial = get(Column::Serial)
        .filter(|s| !is_placeholder(s))
        .map(str::to_owned);
    let mut macs = Vec::new();
    if let Some(cell) = get(Column::Mac) {
        for raw in cell.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | ',')) {
            if raw.is_empty() {
                continue;
            }
            let mac =
                normalise_mac(raw).ok_or_else(|| format!("mac {raw:?} is not a MAC address"))?;
            if !macs.contains(&mac) {
                macs.push(mac);
            }
        }
    }
    macs.sort();
    if serial.is_none() && macs.is_empty() {
        return Err("no serial and no mac: the row cannot be matched to a node".into());
    }
    let status = match get(Column::Status) {
        None => Status::Active,
        Some(raw) => Status::parse(raw).ok_or_else(|| {
            format!("status {raw:?} is not one of active, spare, retired, broken")
        })?,
    };
    let cores = match get(Column::Cores) {
        None => None,
        Some(raw) => Some(
            raw.parse::<u32>()
                .map_err(|_| format!("cores {raw:?} is not a whole number"))?,
        ),
    };
    Ok(InventoryRow {
        line,
        serial,
        macs,
        asset_tag: text(Column::AssetTag),
        hostname: text(Column::Hostname),
        make: text(Column::Make),
        model: text(Column::Model),
        cores,
        memory_gb: number(get(Column::MemoryGb), "memory_gb")?,
        storage_gb: number(get(Column::StorageGb), "storage_gb")?,
        status,
        location: text(Column::Location),
        cost: number(
            get(Column::Cost).map(|c| c.trim_matches(|ch: char| "$€£¥ ".contains(ch))),
            "cost",
        )?,
    })
}

/// A number from 0 to [`MAX_AMOUNT`]; `1,536.5` style thousands separators are accepted, `1,5`
/// is not.
fn number(raw: Option<&str>, name: &str) -> Result<Option<f64>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || format!("{name} {raw:?} is not a number ≥ 0 (digits and a decimal point)");
    let (integer, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let groups: Vec<&str> = integer.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups.iter().skip(1).all(|g| g.len() == 3));
    if !grouped_ok {
        return Err(bad());
    }
    let plain = format!("{}.{}", groups.concat(), fraction);
    let plain = plain.trim_end_matches('.');
    match plain.parse::<f64>() {
        Ok(value) if value > MAX_AMOUNT && value.is_finite() => Err(format!(
            "{name} {raw:?} is larger than 10^12: not an amount of one machine; check the cell"
        )),
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(Some(value)),
        _ => Err(bad()),
    }
}

/// Drops rows whose serial or a MAC an earlier row (by line) already has, returning them as
/// `invalid`: the inventory must list a machine once, or matching would be a guess. [`parse`] does
/// it; the rows come out sorted by line whatever order they came in.
pub fn dedupe(rows: &mut Vec<InventoryRow>, file: &str) -> Vec<Invalid> {
    rows.sort_by_key(|r| r.line);
    let mut serials: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut macs: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut invalid = Vec::new();
    rows.retain(|row| {
        let clash = row
            .serial_key()
            .and_then(|key| {
                serials.get(&key).map(|l| {
                    (
                        format!("serial {:?}", row.serial.as_deref().unwrap_or("")),
                        *l,
                    )
                })
            })
            .or_else(|| {
                row.macs
                    .iter()
                    .find_map(|m| macs.get(m).map(|l| (format!("mac {m}"), *l)))
            });
        if let Some((what, first)) = clash {
            invalid.push(Invalid {
                file: file.to_owned(),
                line: Some(row.line),
                kind: InvalidKind::DuplicateInventoryRow,
                message: format!("{what} is already on line {first}"),
                hint: "list each machine once: delete the duplicate row, or correct its serial/MAC"
                    .to_owned(),
            });
            return false;
        }
        if let Some(key) = row.serial_key() {
            serials.insert(key, row.line);
        }
        for m in &row.macs {
            macs.insert(m.clone(), row.line);
        }
        true
    });
    invalid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Inventory {
        parse(text.as_bytes(), "inventory.csv").unwrap()
    }

    #[test]
    fn aliases_case_and_spaces_in_the_header() {
        let inv = parse_str(
            "Service Tag,VENDOR,Model,RAM_GB,Mac-Address,Whatever\n5H8VXC3,Dell,R640,384,AA-BB-CC-DD-EE-01,x\n",
        );
        assert!(inv.invalid.is_empty(), "{:?}", inv.invalid);
        let row = &inv.rows[0];
        assert_eq!(row.serial.as_deref(), Some("5H8VXC3"));
        assert_eq!(row.make.as_deref(), Some("Dell"));
        assert_eq!(row.memory_gb, Some(384.0));
        assert_eq!(row.macs, vec!["aa:bb:cc:dd:ee:01".to_owned()]);
        assert_eq!(row.line, 2);
        assert_eq!(row.status, Status::Active);
    }

    #[test]
    fn bom_crlf_quotes_and_blank_lines() {
        let text = "\u{feff}serial,location,cost\r\n\r\nA1,\"Rack 4, U12\",\"$7,800.50\"\r\n\"B\"\"2\",\"line\r\nbreak\",\r\nC3,,\r\n";
        let inv = parse_str(text);
        assert!(inv.invalid.is_empty(), "{:?}", inv.invalid);
        assert_eq!(inv.rows.len(), 3);
        assert_eq!(inv.rows[0].line, 3);
        assert_eq!(inv.rows[0].location.as_deref(), Some("Rack 4, U12"));
        assert_eq!(inv.rows[0].cost, Some(7800.5));
        assert_eq!(inv.rows[1].serial.as_deref(), Some("B\"2"));
        assert_eq!(inv.rows[2].line, 6);
    }

    #[test]
    fn bad_rows_are_reported_with_lines_and_do_not_stop_the_rest() {
        let text = "serial,cores,status,memory_gb,mac\nSA,forty,,,\nSB,40,dead,,\nSC,40,,1,536,aa:bb:cc:dd:ee:ff\n,,,,\nSD,40,spare,,\n,,,,zz\nSE,8,,,\nSF,,,-3,\n";
        let inv = parse_str(text);
        let lines: Vec<u64> = inv.invalid.iter().filter_map(|i| i.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 7, 9], "{:?}", inv.invalid);
        assert!(inv.invalid[0].message.contains("forty"));
        assert!(inv.invalid[1].message.contains("dead"));
        assert!(inv.invalid[2].message.contains("header has 5"));
        let serials: Vec<_> = inv.rows.iter().filter_map(|r| r.serial.clone()).collect();
        assert_eq!(serials, vec!["SD", "SE"]);
        assert_eq!(inv.data_rows, 7);
    }

    #[test]
    fn header_without_serial_or_mac_is_an_error_naming_the_file() {
        let err = parse(b"name,model\nx,y\n", "inv.csv").unwrap_err();
        assert!(err.to_string().contains("inv.csv"), "{err}");
        assert!(err.to_string().contains("name, model"), "{err}");
    }

    #[test]
    fn empty_file_and_header_only_are_empty_inventories() {
        for text in ["", "\u{feff}", "serial,model\n", "\n\n"] {
            let inv = parse_str(text);
            assert!(inv.rows.is_empty() && inv.invalid.is_empty());
            assert_eq!(inv.data_rows, 0);
        }
    }

    #[test]
    fn placeholder_serial_falls_back_to_mac() {
        let inv = parse_str("serial,mac\nN/A,aa:bb:cc:dd:ee:ff\nNot Specified,\n");
        assert_eq!(inv.rows.len(), 1);
        assert_eq!(inv.rows[0].serial, None);
        assert_eq!(inv.invalid.len(), 1);
    }

    #[test]
    fn first_non_empty_alias_wins() {
        let inv = parse_str("serial,service_tag\n,ABC\nXYZ,UVW\n");
        assert_eq!(inv.rows[0].serial.as_deref(), Some("ABC"));
        assert_eq!(inv.rows[1].serial.as_deref(), Some("XYZ"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(Some("1,536"), "x"), Ok(Some(1536.0)));
        assert_eq!(number(Some("12.5"), "x"), Ok(Some(12.5)));
        assert_eq!(number(Some("7"), "x"), Ok(Some(7.0)));
        assert!(number(Some("1,5"), "x").is_err());
        assert!(number(Some("-1"), "x").is_err());
        assert!(number(Some("1e400"), "x").is_err());
        assert!(number(Some("NaN"), "x").is_err());
    }

    #[test]
    fn numbers_above_the_bound_are_bad_rows_not_infinities() {
        assert!(number(Some("1000000000000"), "x").is_ok());
        let err = number(Some("1e308"), "memory_gb").unwrap_err();
        assert!(
            err.contains("memory_gb \"1e308\" is larger than 10^12"),
            "{err}"
        );
        let inv = parse_str("serial,memory_gb,cost\nA1,1e308,\nA2,,1e13\nA3,384,7000\n");
        let lines: Vec<u64> = inv.invalid.iter().filter_map(|i| i.line).collect();
        assert_eq!(lines, vec![2, 3], "{:?}", inv.invalid);
        assert_eq!(inv.rows.len(), 1);
    }

    #[test]
    fn a_nul_byte_makes_the_row_invalid_with_its_line() {
        let inv = parse(
            b"serial,make,notes\nA1,Dell,ok\nA2,De\0ll,\nA3,Dell,x\0\nA4,Dell,\n",
            "inventory.csv",
        )
        .unwrap();
        let problems: Vec<(Option<u64>, &str)> = inv
            .invalid
            .iter()
            .map(|i| (i.line, i.message.as_str()))
            .collect();
        assert_eq!(
            problems,
            vec![
                (
                    Some(3),
                    "cell 2 contains a NUL byte: save the inventory as a plain-text UTF-8 CSV"
                ),
                (
                    Some(4),
                    "cell 3 contains a NUL byte: save the inventory as a plain-text UTF-8 CSV"
                ),
            ]
        );
        let serials: Vec<_> = inv.rows.iter().filter_map(|r| r.serial.clone()).collect();
        assert_eq!(serials, vec!["A1", "A4"]);
    }

    #[test]
    fn empty_cells_past_the_header_are_fine_values_are_not() {
        let inv = parse_str("serial,make\nA1,Dell,\nA2,Dell,, \nA3,Dell,x\n");
        let serials: Vec<_> = inv.rows.iter().filter_map(|r| r.serial.clone()).collect();
        assert_eq!(serials, vec!["A1", "A2"]);
        assert_eq!(inv.rows[0].make.as_deref(), Some("Dell"));
        assert_eq!(inv.invalid.len(), 1);
        assert_eq!(inv.invalid[0].line, Some(4));
        assert!(
            inv.invalid[0]
                .message
                .contains("3 cells but the header has 2")
        );
    }

    #[test]
    fn duplicate_rows_keep_the_first_by_line() {
        let inv =
            parse_str("serial,mac\nSA1,\nsa1 ,\nSB2,aa:bb:cc:dd:ee:ff\nSC3,AA-BB-CC-DD-EE-FF\n");
        let kept: Vec<u64> = inv.rows.iter().map(|r| r.line).collect();
        assert_eq!(kept, vec![2, 4]);
        assert_eq!(inv.invalid.len(), 2);
        assert_eq!(inv.invalid[0].kind, InvalidKind::DuplicateInventoryRow);
        assert!(
            inv.invalid[0].message.contains("already on line 2"),
            "{:?}",
            inv.invalid[0]
        );
        assert!(inv.invalid[1].message.contains("mac aa:bb:cc:dd:ee:ff"));

        // Whatever order the rows come in, the first by line stays.
        let all = parse_str("serial\nSA1\nSB2\n").rows;
        let mut rows = vec![all[1].clone(), all[0].clone()];
        rows[0].serial = Some("sa1".into());
        let invalid = dedupe(&mut rows, "inventory.csv");
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2]);
        assert!(invalid[0].message.contains("already on line 2"));
        assert_eq!(invalid[0].line, Some(3));
    }
}
