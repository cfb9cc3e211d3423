//! The hardware inventory CSV: what the operator bought, as their tools export it.
//!
//! - **Which column is which** — [`header`]: case-, space- and punctuation-insensitive names,
//!   enlist's own and the default exports of NetBox (table and "all data") and Snipe-IT, or the
//!   columns an `--inventory-map` names ([`map`]). Unknown columns are ignored, and the report
//!   says which column fed each field and which were ignored.
//! - **Cells as people type them** — [`cells`]: `$8,200.00`, `0.5 TB`, `3.84 TB`, `1 TiB`, and
//!   NetBox's and Snipe-IT's status words (`Planned`, `Ready to Deploy`, `Decommissioning`, …).
//!
//! - **The file as spreadsheets write it** — [`text`]: UTF-8 with or without a byte order mark,
//!   UTF-16 with one, another encoding when the map names it; `,`, `;` or tab as the delimiter
//!   (sniffed from the header); LF, CRLF or CR line ends; HTML markup in cells read as its text.
//!
//! Spreadsheet habits are accepted: quoted fields (with delimiters, quotes and newlines inside),
//! blank lines, rows that are all empty cells (skipped, not counted), rows shorter than the header
//! (missing cells are empty). `status` defaults to `active`. A `mac` cell may hold several MACs
//! separated by spaces, `;`, `|` or `,`.
//!
//! A bad row is one `invalid` entry with its line number, naming the column and the value; the
//! other rows are still read: an unknown status word (the entry shows the two map lines that
//! would map it), a value that is not an amount, a row with more cells than the header (empty
//! trailing cells, as `A1,Dell,` under `serial,make`, are fine), a cell holding a NUL byte (no
//! database column takes it), a row past the CSV caps ([`crate::input::MAX_CSV_COLUMNS`],
//! [`crate::input::MAX_CSV_FIELD_BYTES`]), a row repeating an earlier row's serial or MAC
//! ([`dedupe`]). A row that cannot be used still names its machine: its serial and MACs are kept
//! as a [`Claim`], so reconcile never calls that machine a phantom. Only a file that cannot be an
//! inventory at all (no serial and no mac column, a header past the caps, a column the map names
//! but the header lacks, an ambiguous delimiter, text that is not what its encoding says) is an
//! error.

pub mod cells;
pub mod header;
pub mod map;
pub mod text;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::identity::{is_placeholder, normalise_mac};
use crate::input;

use self::cells::{Bad, Quantity};
use self::header::{ColumnReport, Columns, Field, listed};
use self::map::InventoryMap;
use super::ReconcileError;
use super::report::{Invalid, InvalidKind, Prose};

/// Inventory status of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// An inventory row that could not be used but names a machine (its serial or MACs could be
/// read): reconcile matches nodes against it so the machine is not reported as a phantom, and
/// says the row is the problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    /// The row's serial and MACs, and its line (every other field empty).
    pub row: InventoryRow,
    /// Why the row cannot be used (the message of its `invalid` entry).
    pub problem: Prose,
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
    /// Rows that could not be used but name a machine (not repeats of an earlier row), by line.
    pub claims: Vec<Claim>,
    /// Data rows read (usable or not).
    pub data_rows: usize,
    /// Which column fed each field, which were ignored.
    pub columns: ColumnReport,
}

/// Reads the inventory at `path` (at most [`input::MAX_INVENTORY_BYTES`]) and [`parse`]s it with
/// `map`; `shown` names it in findings. `reconcile`, `sync` and `export` all read it here.
pub fn read(
    path: &Path,
    shown: &str,
    map: Option<&InventoryMap>,
) -> Result<Inventory, ReconcileError> {
    let bytes =
        input::read_capped(path, input::MAX_INVENTORY_BYTES, "inventory").map_err(|source| {
            ReconcileError::Inventory {
                path: path.to_path_buf(),
                source,
            }
        })?;
    parse(&bytes, shown, map)
}

/// Parses the inventory and drops repeated machines ([`dedupe`]); `file` names it in findings and
/// errors. The bytes are decoded and the delimiter sniffed first ([`text`]).
pub fn parse(
    bytes: &[u8],
    file: &str,
    map: Option<&InventoryMap>,
) -> Result<Inventory, ReconcileError> {
    let unreadable = |message: String| ReconcileError::InventoryText {
        path: file.to_owned(),
        message,
    };
    let decoded = text::decode(bytes, map.and_then(InventoryMap::encoding)).map_err(unreadable)?;
    let bytes: &[u8] = &decoded.bytes;
    let delimiter = delimiter(bytes, file, map)?;
    let mut inventory = Inventory {
        file: file.to_owned(),
        ..Inventory::default()
    };
    let mut reader = reader(bytes, delimiter);
    let mut header: Option<Header> = None;
    let mut record = csv::ByteRecord::new();
    let mut lines = text::LineCounter::default();
    loop {
        let start = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // Reading from memory, the only errors are malformed records: report, go on.
                inventory.data_rows += 1;
                let line = lines.line_at(bytes, start);
                // The csv crate's words (positions and counts, no cell content).
                inventory.invalid.push(row_problem(
                    file,
                    line,
                    Prose::new().say(&format!("unreadable row: {e}")),
                    None,
                ));
                continue;
            }
        }
        // csv's own line numbers count from where the reader stood (before blank lines, and
        // CRLF confuses them); count line ends up to the record's first byte instead.
        let start = record.position().map_or(start, csv::Position::byte);
        let line = lines.line_at(bytes, start);
        if record
            .iter()
            .all(|field| field.iter().all(u8::is_ascii_whitespace))
        {
            continue;
        }
        let Some(header) = &header else {
            let read = read_header(&record, file, map, delimiter)?;
            inventory.columns = read.columns.report.clone();
            header = Some(read);
            continue;
        };
        inventory.data_rows += 1;
        match read_row(&record, header, map, line, &decoded) {
            Ok(row) => inventory.rows.push(row),
            Err(problem) => {
                if let Some(row) = claim(&record, header, line) {
                    inventory.claims.push(Claim {
                        row,
                        problem: problem.message.clone(),
                    });
                }
                inventory
                    .invalid
                    .push(row_problem(file, line, problem.message, problem.hint))
            }
        }
    }
    let duplicates = dedupe(&mut inventory.rows, file);
    inventory.invalid.extend(duplicates);
    inventory.invalid.sort_by_key(|i| i.line);
    Ok(inventory)
}

/// A CSV reader of `bytes` split at `delimiter`: LF, CRLF and CR end a record.
fn reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
}

/// The delimiter of the header line ([`text::sniff`]); when several occur, the one whose
/// header has a serial or mac column, else an error naming what was seen.
fn delimiter(bytes: &[u8], file: &str, map: Option<&InventoryMap>) -> Result<u8, ReconcileError> {
    let (sniffed, line) = text::sniff(bytes);
    let seen = match sniffed {
        text::Sniffed::One(delimiter) => return Ok(delimiter),
        text::Sniffed::Several(seen) => seen,
    };
    let usable: Vec<u8> = seen
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| {
            let mut record = csv::ByteRecord::new();
            let header_read = reader(bytes, *d).read_byte_record(&mut record);
            header_read.is_ok_and(|read| read)
                && read_header(&record, file, map, *d)
                    .is_ok_and(|h| h.columns.has(Field::Serial) || h.columns.has(Field::Mac))
        })
        .collect();
    match usable.as_slice() {
        [one] => Ok(*one),
        _ => Err(ReconcileError::InventoryText {
            path: file.to_owned(),
            message: format!(
                "the header (line {line}) holds {} outside quotes, and {}: enlist cannot tell \
                 which one separates the columns. Save the file with one delimiter (`,`, `;` or \
                 tab), quoting header names that contain another",
                text::shown_counts(&seen),
                if usable.is_empty() {
                    "split at none of them does it have a serial or mac column"
                } else {
                    "split at more than one of them it has a serial or mac column"
                }
            ),
        }),
    }
}

/// What an unusable row still says about its machine: the serial and MACs that can be read
/// (UTF-8, not placeholders, within the cell cap); `None` when neither can.
fn claim(record: &csv::ByteRecord, header: &Header, line: u64) -> Option<InventoryRow> {
    let cell = |field: Field| -> Option<String> {
        header.columns.of(field).iter().find_map(|i| {
            let raw = record.get(*i)?;
            if raw.len() > input::MAX_CSV_FIELD_BYTES {
                return None;
            }
            let text = std::str::from_utf8(raw).ok()?;
            let text = match text::markup_text(text) {
                Some(pieces) => pieces.join(" "),
                None => text.trim().to_owned(),
            };
            (!text.is_empty()).then_some(text)
        })
    };
    let serial = cell(Field::Serial).filter(|s| !is_placeholder(s));
    let mut macs: Vec<String> = cell(Field::Mac)
        .map(|cell| {
            cell.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | ','))
                .filter_map(normalise_mac)
                .collect()
        })
        .unwrap_or_default();
    macs.sort();
    macs.dedup();
    if serial.is_none() && macs.is_empty() {
        return None;
    }
    Some(InventoryRow {
        line,
        serial,
        macs,
        asset_tag: None,
        hostname: None,
        make: None,
        model: None,
        cores: None,
        memory_gb: None,
        storage_gb: None,
        status: Status::Active,
        location: None,
        cost: None,
    })
}

/// Why a row cannot be used, and what to do when it is not the generic "fix this row".
struct RowProblem {
    message: Prose,
    hint: Option<Prose>,
}

impl From<Prose> for RowProblem {
    fn from(message: Prose) -> RowProblem {
        RowProblem {
            message,
            hint: None,
        }
    }
}

fn row_problem(file: &str, line: u64, message: Prose, hint: Option<Prose>) -> Invalid {
    Invalid {
        file: file.to_owned(),
        line: Some(line),
        kind: InvalidKind::InventoryRow,
        message,
        hint: hint.unwrap_or_else(|| {
            Prose::from("fix this row of the inventory; the other rows were still checked")
        }),
    }
}

/// A record past [`input::MAX_CSV_COLUMNS`] or with a cell past [`input::MAX_CSV_FIELD_BYTES`]:
/// what is wrong, to follow "the header"/"the row".
fn oversize(record: &csv::ByteRecord) -> Option<String> {
    if record.len() > input::MAX_CSV_COLUMNS {
        return Some(format!(
            "has {} cells; an inventory has at most {} columns: is this the right file?",
            record.len(),
            input::MAX_CSV_COLUMNS
        ));
    }
    let (index, field) = record
        .iter()
        .enumerate()
        .find(|(_, field)| field.len() > input::MAX_CSV_FIELD_BYTES)?;
    Some(format!(
        "has a cell (number {}) of {} bytes; a cell holds at most {}: is a quote missing its \
         closing quote?",
        index + 1,
        field.len(),
        input::human(input::MAX_CSV_FIELD_BYTES as u64)
    ))
}

/// The header row, resolved.
struct Header {
    /// The header cells as written (trimmed).
    names: Vec<String>,
    columns: Columns,
}

fn read_header(
    record: &csv::ByteRecord,
    file: &str,
    map: Option<&InventoryMap>,
    delimiter: u8,
) -> Result<Header, ReconcileError> {
    let unusable = |message: String| ReconcileError::InventoryHeader {
        path: file.to_owned(),
        message,
    };
    if let Some(problem) = oversize(record) {
        return Err(unusable(format!("the header (the first line) {problem}")));
    }
    let names: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    let columns = Columns::resolve(&names, map).map_err(|message| match map {
        Some(map) => ReconcileError::InventoryMap {
            path: map.file.clone(),
            message: format!("{message} — in {file}"),
        },
        None => unusable(message),
    })?;
    if !columns.has(Field::Serial) && !columns.has(Field::Mac) {
        return Err(unusable(format!(
            "no serial column (serial, serial number, service tag) and no mac column; the header, \
             split at {}, has: {}. If one of these is the serial, name it in an --inventory-map \
             file (`columns: {{serial: \"S/N\"}}`)",
            text::shown_delimiter(delimiter),
            listed(&names)
        )));
    }
    Ok(Header { names, columns })
}

fn read_row(
    record: &csv::ByteRecord,
    header: &Header,
    map: Option<&InventoryMap>,
    line: u64,
    decoded: &text::Decoded<'_>,
) -> Result<InventoryRow, RowProblem> {
    if let Some(problem) = oversize(record) {
        return Err(Prose::from("the row ").say(&problem).into());
    }
    // PostgreSQL refuses NUL in text (SQLSTATE 22021): a row with one is not data enlist can keep.
    if let Some(index) = record.iter().position(|field| field.contains(&0)) {
        return Err(Prose::new()
            .say(&format!(
                "cell {} contains a NUL byte: save the inventory as a plain-text UTF-8 CSV",
                index + 1
            ))
            .into());
    }
    // Spreadsheets write trailing separators (`A1,Dell,`): only values past the header count.
    let width = header.names.len();
    let beyond = record
        .iter()
        .skip(width)
        .any(|field| !field.iter().all(u8::is_ascii_whitespace));
    if beyond {
        return Err(Prose::new()
            .say(&format!(
                "{} cells but the header has {width}: quote values that contain the delimiter",
                record.len(),
            ))
            .into());
    }
    let mut cells: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(width);
    // Per cell, its text pieces when it held HTML markup (a status word may be one of them).
    let mut pieces: Vec<Option<Vec<String>>> = Vec::with_capacity(width);
    for (index, field) in record.iter().take(width).enumerate() {
        let text = std::str::from_utf8(field).map_err(|_| {
            let what = if decoded.declared {
                // Decoded text is UTF-8: only an undeclared file gets here.
                String::new()
            } else {
                text::undeclared_hint(field)
            };
            Prose::new()
                .say(&format!("cell {} (", index + 1))
                .quoted(&header::shown_name(&header.names[index]))
                .say(&format!(") is not UTF-8: {what}"))
        })?;
        match text::markup_text(text) {
            Some(parts) => {
                cells.push(std::borrow::Cow::Owned(parts.join(" ")));
                pieces.push(Some(parts));
            }
            None => {
                cells.push(std::borrow::Cow::Borrowed(text.trim()));
                pieces.push(None);
            }
        }
    }
    // The first non-empty cell among the columns feeding `field`, best first, with its column.
    let get = |field: Field| -> Option<(&str, &str)> {
        header.columns.of(field).iter().find_map(|i| {
            cells
                .get(*i)
                .filter(|v| !v.is_empty())
                .map(|v| (v.as_ref(), header.names[*i].as_str()))
        })
    };
    let text = |field: Field| get(field).map(|(v, _)| v.to_owned());
    let serial = get(Field::Serial)
        .map(|(v, _)| v)
        .filter(|s| !is_placeholder(s))
        .map(str::to_owned);
    let mut macs = Vec::new();
    if let Some((cell, column)) = get(Field::Mac) {
        for raw in cell.split(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | ',')) {
            if raw.is_empty() {
                continue;
            }
            let mac = normalise_mac(raw).ok_or_else(|| {
                Prose::from("mac ")
                    .quoted(raw)
                    .say(" (column ")
                    .quoted(&header::shown_name(column))
                    .say(") is not a MAC address")
            })?;
            if !macs.contains(&mac) {
                macs.push(mac);
            }
        }
    }
    macs.sort();
    if serial.is_none() && macs.is_empty() {
        return Err(
            Prose::from("no serial and no mac: the row cannot be matched to a node").into(),
        );
    }
    let status = match get(Field::Status) {
        None => Status::Active,
        Some((raw, column)) => cells::status(raw, map)
            .or_else(|| {
                // A Snipe-IT cell with markup: `Ready to Deploy <label>Deployed</label>` names
                // the label and, last, the meta status of a checked-out asset.
                let index = header
                    .columns
                    .of(Field::Status)
                    .iter()
                    .find(|i| cells.get(**i).is_some_and(|c| c.as_ref() == raw))?;
                pieces
                    .get(*index)?
                    .as_ref()?
                    .iter()
                    .rev()
                    .find_map(|piece| cells::status(piece, map))
            })
            .ok_or_else(|| unknown_status(raw, column, map))?,
    };
    let cores = match get(Field::Cores) {
        None => None,
        Some((raw, column)) => Some(cells::count(raw).map_err(|_| {
            Prose::from("cores ")
                .quoted(raw)
                .say(" (column ")
                .quoted(&header::shown_name(column))
                .say(") is not a whole number")
        })?),
    };
    let amount = |field: Field, quantity: Quantity, expected: &str| {
        get(field)
            .map(|(raw, column)| {
                cells::amount(raw, quantity)
                    .map_err(|bad| bad_amount(field, raw, column, bad, expected))
            })
            .transpose()
    };
    Ok(InventoryRow {
        line,
        serial,
        macs,
        asset_tag: text(Field::AssetTag),
        hostname: text(Field::Hostname),
        make: text(Field::Make),
        model: text(Field::Model),
        cores,
        memory_gb: amount(
            Field::MemoryGb,
            Quantity::Memory,
            "an amount of memory: 512, 512 GB, 0.5 TB or 1 TiB",
        )?,
        storage_gb: amount(
            Field::StorageGb,
            Quantity::Storage,
            "an amount of storage: 3840, 3.84 TB, 960 GB or 1 TiB",
        )?,
        status,
        location: text(Field::Location),
        cost: get(Field::Cost)
            .map(|(raw, column)| {
                cells::cost(raw).map_err(|bad| {
                    bad_amount(
                        Field::Cost,
                        raw,
                        column,
                        bad,
                        "a price: 8200, $8,200.00 or 8200 USD",
                    )
                })
            })
            .transpose()?,
    })
}

fn bad_amount(field: Field, raw: &str, column: &str, bad: Bad, expected: &str) -> RowProblem {
    let quoted = Prose::from(field.name())
        .say(" ")
        .quoted(raw)
        .say(" (column ")
        .quoted(&header::shown_name(column))
        .say(")");
    match bad {
        Bad::NotANumber => quoted.say(" is not ").say(expected),
        Bad::TooLarge => {
            quoted.say(" is larger than 10^12: not an amount of one machine; check the cell")
        }
    }
    .into()
}

/// An unknown status word: the message names it, the hint shows the two map lines for it — the
/// word whole, quoted for YAML, so the line pastes as it is however long or odd the word.
fn unknown_status(raw: &str, column: &str, map: Option<&InventoryMap>) -> RowProblem {
    let file = map.map_or_else(
        || Prose::from("an --inventory-map file"),
        |m| Prose::from("the --inventory-map file ").value(&m.file),
    );
    RowProblem {
        message: Prose::from("status ")
            .quoted(&header::shown_name(raw))
            .say(" (column ")
            .quoted(&header::shown_name(column))
            .say(
                ") is not a status enlist knows (active, spare, broken, retired, or a NetBox or \
                 Snipe-IT status)",
            ),
        hint: Some(
            Prose::from("map it in ")
                .then(&file)
                .say(" with the two lines `statuses:` and ")
                .snippet(&format!("  {}: active", input::yaml::quoted(raw)))
                .say(
                    " (or spare, broken, retired: whichever it means); the other rows were still \
                     checked",
                ),
        ),
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
                        Prose::from("serial ").quoted(row.serial.as_deref().unwrap_or("")),
                        *l,
                    )
                })
            })
            .or_else(|| {
                row.macs
                    .iter()
                    .find_map(|m| macs.get(m).map(|l| (Prose::from("mac ").value(m), *l)))
            });
        if let Some((what, first)) = clash {
            invalid.push(Invalid {
                file: file.to_owned(),
                line: Some(row.line),
                kind: InvalidKind::DuplicateInventoryRow,
                message: what.say(&format!(" is already on line {first}")),
                hint: Prose::from(
                    "list each machine once: delete the duplicate row, or correct its serial/MAC",
                ),
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
        parse(text.as_bytes(), "inventory.csv", None).unwrap()
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
        let err = parse(b"name,model\nx,y\n", "inv.csv", None).unwrap_err();
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
    fn cells_as_spreadsheets_export_them() {
        let inv = parse_str(
            "serial,cores,memory_gb,cost\nA1,8.0,512,8200 usd\nA2,8.5,,\nA3,,\"0,500\",\nA4,,,\"0,500\"\n",
        );
        assert_eq!(inv.rows.len(), 1, "{:?}", inv.invalid);
        assert_eq!(inv.rows[0].cores, Some(8));
        assert_eq!(inv.rows[0].cost, Some(8200.0));
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
                    "cores \"8.5\" (column \"cores\") is not a whole number"
                ),
                (
                    Some(4),
                    "memory_gb \"0,500\" (column \"memory_gb\") is not an amount of memory: \
                     512, 512 GB, 0.5 TB or 1 TiB"
                ),
                (
                    Some(5),
                    "cost \"0,500\" (column \"cost\") is not a price: 8200, $8,200.00 or 8200 USD"
                ),
            ]
        );
    }

    #[test]
    fn numbers_above_the_bound_are_bad_rows_not_infinities() {
        let inv = parse_str("serial,memory_gb,cost\nA1,1e308,\nA2,,1e13\nA3,384,7000\n");
        let lines: Vec<u64> = inv.invalid.iter().filter_map(|i| i.line).collect();
        assert_eq!(lines, vec![2, 3], "{:?}", inv.invalid);
        assert!(
            inv.invalid[0]
                .message
                .contains("memory_gb \"1e308\" (column \"memory_gb\") is larger than 10^12"),
            "{:?}",
            inv.invalid[0]
        );
        assert_eq!(inv.rows.len(), 1);
    }

    #[test]
    fn a_nul_byte_makes_the_row_invalid_with_its_line() {
        let inv = parse(
            b"serial,make,notes\nA1,Dell,ok\nA2,De\0ll,\nA3,Dell,x\0\nA4,Dell,\n",
            "inventory.csv",
            None,
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
